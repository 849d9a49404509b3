//! `shouwang rebuild`: recompute projections from the whole feed into fresh
//! tables, then swap them in atomically.
//!
//! Several projections are rebuilt in one pass: each batch of the feed is
//! read (and decoded) once and applied to every projection in one
//! transaction, through [`Projection::apply_batch`]. The next batch is read
//! while the current one is applied.

use std::time::{Duration, Instant};

use chrono::Utc;
use shouwang_infrastructure::store::format_instant;
use shouwang_infrastructure::{
    FeedCursor, PersonalDataMode, RecordedEvent, Store, StoreError, with_pool,
};

use crate::projector::{Projection, ProjectionError, TxHandle, apply_events, begin};
use crate::sql::TableNames;

/// Events per batch (and transaction) of a rebuild: large, because a
/// projection folds a batch in memory and writes it in a few statements, and
/// every commit of SQLite in `synchronous=FULL` waits for the disk.
const REBUILD_BATCH: u32 = 10_000;

#[derive(Debug, Clone, PartialEq)]
pub struct RebuildReport {
    pub projection: String,
    pub events: u64,
    /// Wall time of the rebuild; for one projection of a
    /// [`rebuild_all`], the time spent applying the feed to it.
    pub seconds: f64,
}

/// What a one-pass rebuild of several projections did.
#[derive(Debug, Clone, PartialEq)]
pub struct RebuildAllReport {
    pub events: u64,
    /// Wall time of the whole rebuild.
    pub seconds: f64,
    /// Time spent waiting for the feed (reading and decoding it) beyond what
    /// overlapped with applying the previous batch.
    pub feed_wait_seconds: f64,
    /// One per projection, in the order given.
    pub projections: Vec<RebuildReport>,
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
/// every batch. Tables an interrupted rebuild of the same projections left
/// are dropped first, so run one rebuild of a projection at a time.
pub async fn rebuild(
    store: &Store,
    projection: &dyn Projection,
    progress: impl FnMut(u64, u64),
) -> Result<RebuildReport, ProjectionError> {
    let report = rebuild_all(store, &[projection], progress).await?;
    Ok(RebuildReport {
        projection: projection.name().to_owned(),
        events: report.events,
        seconds: report.seconds,
    })
}

/// [`rebuild`] of several projections in one pass over the feed: every
/// batch is read once and applied to each projection in one transaction; at
/// the end all of them are swapped in together, in one transaction.
pub async fn rebuild_all(
    store: &Store,
    projections: &[&dyn Projection],
    mut progress: impl FnMut(u64, u64),
) -> Result<RebuildAllReport, ProjectionError> {
    let started = Instant::now();
    let db = store.database();
    let fresh: Vec<TableNames> = projections
        .iter()
        .map(|p| TableNames::fresh(p.tables()))
        .collect();
    let mut spent = vec![Duration::ZERO; projections.len()];
    let mut feed_wait = Duration::ZERO;
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
        // A rebuild that was stopped (killed, or failed) left its fresh
        // tables behind; at province scale they hold gigabytes.
        let leftovers: Vec<String> = tx
            .table_names()
            .await?
            .into_iter()
            .filter(|name| {
                projections
                    .iter()
                    .any(|p| TableNames::is_fresh_name(p.tables(), name))
            })
            .collect();
        if !leftovers.is_empty() {
            tracing::info!(tables = ?leftovers, "删除上次中断的重建留下的表");
        }
        let drops: Vec<String> = leftovers
            .iter()
            .map(|name| format!("DROP TABLE {name}"))
            .collect();
        tx.execute_all(&drops).await?;
        for (projection, names) in projections.iter().zip(&fresh) {
            tx.execute_all(&projection.create_tables(db.backend(), names))
                .await?;
        }
        tx.commit().await?;
    }

    let mut cursor = FeedCursor::START;
    let mut applied: u64 = 0;
    let mut next = read_ahead(store, cursor);
    loop {
        let waiting = Instant::now();
        let events = next
            .await
            .map_err(|e| ProjectionError::Decode(e.to_string()))??;
        feed_wait += waiting.elapsed();
        let Some(last) = events.last().map(RecordedEvent::cursor) else {
            break;
        };
        // Reading the next batch overlaps with applying this one.
        next = read_ahead(store, last);
        let _guard = match &lock {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        let mut tx = begin(db).await?;
        for ((projection, names), spent) in projections.iter().zip(&fresh).zip(&mut spent) {
            let applying = Instant::now();
            apply_events(*projection, &mut tx, names, &events).await?;
            *spent += applying.elapsed();
        }
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
    let mut existing = Vec::with_capacity(projections.len());
    for projection in projections {
        existing.push(tx.lock_checkpoint(projection.name()).await?);
    }
    // Events committed since the last batch: few, applied under the lock.
    loop {
        let events = store
            .read_all(cursor, REBUILD_BATCH, PersonalDataMode::Withhold)
            .await?;
        let Some(last) = events.last().map(RecordedEvent::cursor) else {
            break;
        };
        for (projection, names) in projections.iter().zip(&fresh) {
            apply_events(*projection, &mut tx, names, &events).await?;
        }
        cursor = last;
        applied += events.len() as u64;
    }
    let now = format_instant(Utc::now());
    for ((projection, names), existing) in projections.iter().zip(&fresh).zip(&existing) {
        let mut swap = Vec::new();
        for (base, actual) in names.iter() {
            if existing.is_some() {
                swap.push(format!("DROP TABLE IF EXISTS {base}"));
            }
            swap.push(format!("ALTER TABLE {actual} RENAME TO {base}"));
        }
        tx.execute_all(&swap).await?;
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
    }
    tx.commit().await?;
    progress(applied, total.max(applied));
    Ok(RebuildAllReport {
        events: applied,
        seconds: started.elapsed().as_secs_f64(),
        feed_wait_seconds: feed_wait.as_secs_f64(),
        projections: projections
            .iter()
            .zip(spent)
            .map(|(projection, spent)| RebuildReport {
                projection: projection.name().to_owned(),
                events: applied,
                seconds: spent.as_secs_f64(),
            })
            .collect(),
    })
}

/// Reads the batch after `cursor` on another task.
fn read_ahead(
    store: &Store,
    cursor: FeedCursor,
) -> tokio::task::JoinHandle<Result<Vec<RecordedEvent>, StoreError>> {
    let store = store.clone();
    tokio::spawn(async move {
        store
            .read_all(cursor, REBUILD_BATCH, PersonalDataMode::Withhold)
            .await
    })
}
