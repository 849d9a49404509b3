//! `shouwang rebuild`: recompute a projection from the whole feed into fresh
//! tables, then swap them in atomically.

use std::time::Instant;

use chrono::Utc;
use shouwang_infrastructure::store::format_instant;
use shouwang_infrastructure::{FeedCursor, PersonalDataMode, RecordedEvent, Store, with_pool};

use crate::projector::{Projection, ProjectionError, TxHandle, apply_events, begin};
use crate::sql::TableNames;

const REBUILD_BATCH: u32 = 2_000;

#[derive(Debug, Clone, PartialEq)]
pub struct RebuildReport {
    pub projection: String,
    pub events: u64,
    pub seconds: f64,
}

const SWAP_CHECKPOINT: &str = "UPDATE projection_checkpoints SET txid = $2, position = $3, updated_at = $4, \
     projection_version = $5, error = NULL, failed_position = NULL, failed_at = NULL WHERE name = $1";
const INSERT_CHECKPOINT: &str = "INSERT INTO projection_checkpoints (name, txid, position, updated_at, projection_version) \
     VALUES ($1, $2, $3, $4, $5)";

/// Rebuilds `projection` from the start of the feed into fresh tables, then —
/// in one transaction that holds the checkpoint, so the live projector waits —
/// applies what arrived meanwhile, drops the old tables, renames the fresh
/// ones into place and moves the checkpoint. Readers see either the old
/// tables or the new ones, never a mixture. A projection stopped by an error
/// restarts from the rebuilt state. `progress(done, total)` is called after
/// every batch.
pub async fn rebuild(
    store: &Store,
    projection: &dyn Projection,
    mut progress: impl FnMut(u64, u64),
) -> Result<RebuildReport, ProjectionError> {
    let started = Instant::now();
    let db = store.database();
    let fresh = TableNames::fresh(projection.tables());
    let total: i64 = with_pool!(db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM events").fetch_one(pool).await?
    });
    let total = u64::try_from(total).unwrap_or_default();

    let lock = db.sqlite_write_lock();
    {
        let _guard = match &lock {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        let mut tx = begin(db).await?;
        tx.execute_all(&projection.create_tables(db.backend(), &fresh))
            .await?;
        tx.commit().await?;
    }

    let mut cursor = FeedCursor::START;
    let mut applied: u64 = 0;
    loop {
        let events = store
            .read_all(cursor, REBUILD_BATCH, PersonalDataMode::Withhold)
            .await?;
        let Some(last) = events.last().map(RecordedEvent::cursor) else {
            break;
        };
        let _guard = match &lock {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        let mut tx = begin(db).await?;
        apply_events(projection, &mut tx, &fresh, &events).await?;
        tx.commit().await?;
        cursor = last;
        applied += events.len() as u64;
        progress(applied, total.max(applied));
    }

    let _guard = match &lock {
        Some(lock) => Some(lock.lock().await),
        None => None,
    };
    let mut tx = begin(db).await?;
    let existing = tx.lock_checkpoint(projection.name()).await?;
    // Events committed since the last batch: few, applied under the lock.
    loop {
        let events = store
            .read_all(cursor, REBUILD_BATCH, PersonalDataMode::Withhold)
            .await?;
        let Some(last) = events.last().map(RecordedEvent::cursor) else {
            break;
        };
        apply_events(projection, &mut tx, &fresh, &events).await?;
        cursor = last;
        applied += events.len() as u64;
    }
    let mut swap = Vec::new();
    for (base, actual) in fresh.iter() {
        if existing.is_some() {
            swap.push(format!("DROP TABLE IF EXISTS {base}"));
        }
        swap.push(format!("ALTER TABLE {actual} RENAME TO {base}"));
    }
    tx.execute_all(&swap).await?;
    let now = format_instant(Utc::now());
    let statement = if existing.is_some() {
        SWAP_CHECKPOINT
    } else {
        INSERT_CHECKPOINT
    };
    match &mut tx {
        TxHandle::Sqlite(t) => {
            sqlx::query(statement)
                .bind(projection.name())
                .bind(cursor.txid)
                .bind(cursor.position)
                .bind(&now)
                .bind(projection.version())
                .execute(&mut **t)
                .await?;
        }
        TxHandle::Postgres(t) => {
            sqlx::query(statement)
                .bind(projection.name())
                .bind(cursor.txid)
                .bind(cursor.position)
                .bind(&now)
                .bind(projection.version())
                .execute(&mut **t)
                .await?;
        }
    }
    tx.commit().await?;
    progress(applied, total.max(applied));
    Ok(RebuildReport {
        projection: projection.name().to_owned(),
        events: applied,
        seconds: started.elapsed().as_secs_f64(),
    })
}
