//! The projector: catches each projection up from the global feed, applying
//! every event exactly once — the projection's tables and its checkpoint
//! change in one transaction, so a crash at any point loses or repeats
//! nothing.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use shouwang_infrastructure::store::format_instant;
use shouwang_infrastructure::{
    Backend, Database, FeedCursor, PersonalDataMode, RecordedEvent, Store, StoreError, with_pool,
};
use sqlx::AssertSqlSafe;
use thiserror::Error;
use tokio::sync::watch;

use crate::sql::{TableNames, Tx};

#[derive(Debug, Error)]
pub enum ProjectionError {
    #[error("读模型 {projection} 无法处理位置 {position} 的事件 {event_type}：{reason}")]
    CannotApply {
        projection: &'static str,
        position: i64,
        event_type: String,
        reason: String,
    },
    #[error(
        "读模型 {projection} 已因错误停止（位置 {position}）：{reason}。修复后请运行 shouwang rebuild {projection}"
    )]
    Stopped {
        projection: &'static str,
        position: i64,
        reason: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("读模型数据库操作失败：{0}")]
    Database(#[from] sqlx::Error),
    #[error("事件内容无法解析：{0}")]
    Decode(String),
}

impl ProjectionError {
    /// For `apply` implementations: an event this projection cannot make
    /// sense of.
    pub fn decode(error: impl std::fmt::Display) -> Self {
        ProjectionError::Decode(error.to_string())
    }

    /// Names the event `error` arose from (kept when it already names one).
    pub fn at(projection: &'static str, event: &RecordedEvent, error: ProjectionError) -> Self {
        match error {
            named @ (ProjectionError::CannotApply { .. } | ProjectionError::Stopped { .. }) => {
                named
            }
            other => ProjectionError::CannotApply {
                projection,
                position: event.position,
                event_type: event.event_type.clone(),
                reason: other.to_string(),
            },
        }
    }
}

/// A read model kept from the global feed.
#[async_trait]
pub trait Projection: Send + Sync {
    /// Stable name: the checkpoint key and the argument of `shouwang rebuild`.
    fn name(&self) -> &'static str;

    /// Bump when the tables or the way events are applied change: a stored
    /// version that differs makes the projector rebuild at start.
    fn version(&self) -> i32;

    /// Base names of the tables this projection owns.
    fn tables(&self) -> &'static [&'static str];

    /// Statements creating the tables (and their indexes) under `names`.
    /// Index names must be rendered from table names (`{t}_by_x`), so fresh
    /// tables never collide with live ones.
    fn create_tables(&self, backend: Backend, names: &TableNames) -> Vec<String>;

    /// Applies one event inside the batch's transaction. Must be
    /// deterministic and ignore events it does not use. Personal data is
    /// withheld from projections: sealed fields read as erased.
    async fn apply(
        &self,
        tx: &mut Tx<'_>,
        names: &TableNames,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError>;

    /// Applies a batch of consecutive events, in feed order, inside one
    /// transaction. The result must equal applying them one by one; a
    /// projection overrides this to fold the batch in memory and write a few
    /// multi-row statements instead of several statements per event, which
    /// is what makes a rebuild fast. An error should name its event
    /// ([`ProjectionError::at`]).
    async fn apply_batch(
        &self,
        tx: &mut Tx<'_>,
        names: &TableNames,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        for event in events {
            self.apply(tx, names, event)
                .await
                .map_err(|error| ProjectionError::at(self.name(), event, error))?;
        }
        Ok(())
    }
}

/// What a projection holds back over a batch, to write at its end in a few
/// multi-row statements (`case_file`, `caseload`). An event whose statements
/// read or update a held-back table writes that table first, so the result
/// is that of applying the events one by one.
#[async_trait]
pub(crate) trait BatchBuffer: Default + Send {
    /// Applies one event: held back, or written by its own statements.
    async fn apply(
        &mut self,
        tx: &mut Tx<'_>,
        names: &TableNames,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError>;

    /// Writes everything held back.
    async fn write(self, tx: &mut Tx<'_>, names: &TableNames) -> Result<(), ProjectionError>;
}

/// Applies `events` through a fresh `B` and writes it: the `apply_batch` of
/// a projection that buffers, and its `apply` as a batch of one, so
/// incremental and rebuilt tables agree by construction.
pub(crate) async fn apply_buffered<B: BatchBuffer>(
    projection: &'static str,
    tx: &mut Tx<'_>,
    names: &TableNames,
    events: &[RecordedEvent],
) -> Result<(), ProjectionError> {
    let mut buffer = B::default();
    for event in events {
        buffer
            .apply(tx, names, event)
            .await
            .map_err(|error| ProjectionError::at(projection, event, error))?;
    }
    buffer.write(tx, names).await
}

/// Where a projection stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionStatus {
    pub name: String,
    pub cursor: FeedCursor,
    pub version: i32,
    /// Set when the projection stopped on an event it could not apply.
    pub error: Option<String>,
    pub failed_position: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct ProjectorSettings {
    pub batch_size: u32,
    /// Polling interval when no wake-up arrives (the fallback).
    pub poll_interval: Duration,
}

impl Default for ProjectorSettings {
    fn default() -> Self {
        Self {
            batch_size: 500,
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// Keeps a set of projections up to date.
#[derive(Clone)]
pub struct Projector {
    store: Store,
    projections: Vec<Arc<dyn Projection>>,
    settings: ProjectorSettings,
}

impl std::fmt::Debug for Projector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Projector")
            .field(
                "projections",
                &self
                    .projections
                    .iter()
                    .map(|p| p.name())
                    .collect::<Vec<_>>(),
            )
            .field("settings", &self.settings)
            .finish()
    }
}

/// First pause before looking again at events the feed fence holds back; it
/// doubles up to the poll interval while they stay held.
const HELD_BACK_FIRST_PAUSE: Duration = Duration::from_millis(20);

const SELECT_CHECKPOINT: &str = "SELECT txid, position, projection_version, error, failed_position \
     FROM projection_checkpoints WHERE name = $1";
const LOCK_CHECKPOINT_POSTGRES: &str =
    "SELECT txid, position FROM projection_checkpoints WHERE name = $1 FOR UPDATE";
const LOCK_CHECKPOINT_SQLITE: &str =
    "SELECT txid, position FROM projection_checkpoints WHERE name = $1";
const ADVANCE_CHECKPOINT: &str =
    "UPDATE projection_checkpoints SET txid = $2, position = $3, updated_at = $4 WHERE name = $1";
const RECORD_FAILURE: &str = "UPDATE projection_checkpoints SET error = $2, failed_position = $3, failed_at = $4 \
     WHERE name = $1";
const INSERT_CHECKPOINT: &str = "INSERT INTO projection_checkpoints (name, txid, position, updated_at, projection_version) \
     VALUES ($1, 0, 0, $2, $3)";

type CheckpointRow = (i64, i64, i32, Option<String>, Option<i64>);

pub(crate) async fn begin(db: &Database) -> Result<TxHandle, ProjectionError> {
    Ok(match db {
        Database::Sqlite { pool, .. } => {
            TxHandle::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?)
        }
        Database::Postgres { pool } => TxHandle::Postgres(pool.begin().await?),
    })
}

/// An owned transaction on either backend.
pub(crate) enum TxHandle {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl TxHandle {
    pub(crate) fn as_tx(&mut self) -> Tx<'_> {
        match self {
            TxHandle::Sqlite(tx) => Tx::Sqlite(&mut *tx),
            TxHandle::Postgres(tx) => Tx::Postgres(&mut *tx),
        }
    }

    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            TxHandle::Sqlite(tx) => tx.commit().await,
            TxHandle::Postgres(tx) => tx.commit().await,
        }
    }

    /// Executes statements that take no parameters (DDL).
    pub(crate) async fn execute_all(&mut self, statements: &[String]) -> Result<(), sqlx::Error> {
        for statement in statements {
            match self {
                TxHandle::Sqlite(tx) => {
                    sqlx::raw_sql(AssertSqlSafe(statement.clone()))
                        .execute(&mut **tx)
                        .await?;
                }
                TxHandle::Postgres(tx) => {
                    sqlx::raw_sql(AssertSqlSafe(statement.clone()))
                        .execute(&mut **tx)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// The names of the tables in the database (PostgreSQL: in the current
    /// schema).
    pub(crate) async fn table_names(&mut self) -> Result<Vec<String>, sqlx::Error> {
        match self {
            TxHandle::Sqlite(tx) => {
                sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                    .fetch_all(&mut **tx)
                    .await
            }
            TxHandle::Postgres(tx) => {
                sqlx::query_scalar(
                    "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()",
                )
                .fetch_all(&mut **tx)
                .await
            }
        }
    }

    /// Locks the projection's checkpoint row (PostgreSQL: `FOR UPDATE`;
    /// SQLite: the write transaction itself is exclusive) and returns it.
    pub(crate) async fn lock_checkpoint(
        &mut self,
        name: &str,
    ) -> Result<Option<FeedCursor>, sqlx::Error> {
        let row: Option<(i64, i64)> = match self {
            TxHandle::Sqlite(tx) => {
                sqlx::query_as(LOCK_CHECKPOINT_SQLITE)
                    .bind(name)
                    .fetch_optional(&mut **tx)
                    .await?
            }
            TxHandle::Postgres(tx) => {
                sqlx::query_as(LOCK_CHECKPOINT_POSTGRES)
                    .bind(name)
                    .fetch_optional(&mut **tx)
                    .await?
            }
        };
        Ok(row.map(|(txid, position)| FeedCursor { txid, position }))
    }

    pub(crate) async fn advance_checkpoint(
        &mut self,
        name: &str,
        cursor: FeedCursor,
    ) -> Result<(), sqlx::Error> {
        let now = format_instant(Utc::now());
        match self {
            TxHandle::Sqlite(tx) => {
                sqlx::query(ADVANCE_CHECKPOINT)
                    .bind(name)
                    .bind(cursor.txid)
                    .bind(cursor.position)
                    .bind(&now)
                    .execute(&mut **tx)
                    .await?;
            }
            TxHandle::Postgres(tx) => {
                sqlx::query(ADVANCE_CHECKPOINT)
                    .bind(name)
                    .bind(cursor.txid)
                    .bind(cursor.position)
                    .bind(&now)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        Ok(())
    }
}

/// Applies `events` to `projection` inside `tx`, naming the event that fails
/// (the batch's first when the projection could not tell which).
pub(crate) async fn apply_events(
    projection: &dyn Projection,
    tx: &mut TxHandle,
    names: &TableNames,
    events: &[RecordedEvent],
) -> Result<(), ProjectionError> {
    let Some(first) = events.first() else {
        return Ok(());
    };
    let mut handle = tx.as_tx();
    projection
        .apply_batch(&mut handle, names, events)
        .await
        .map_err(|error| ProjectionError::at(projection.name(), first, error))
}

impl Projector {
    pub fn new(store: Store, projections: Vec<Arc<dyn Projection>>) -> Self {
        Self {
            store,
            projections,
            settings: ProjectorSettings::default(),
        }
    }

    pub fn with_settings(mut self, settings: ProjectorSettings) -> Self {
        self.settings = settings;
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn projections(&self) -> &[Arc<dyn Projection>] {
        &self.projections
    }

    /// Creates missing tables and checkpoints; rebuilds a projection whose
    /// stored version differs from its code.
    pub async fn prepare(&self) -> Result<(), ProjectionError> {
        for projection in &self.projections {
            match self.checkpoint(projection.name()).await? {
                None => self.create_live(projection.as_ref()).await?,
                Some((_, _, version, _, _)) if version != projection.version() => {
                    tracing::info!(projection = projection.name(), "读模型版本变化，正在重建");
                    crate::rebuild::rebuild(&self.store, projection.as_ref(), |_, _| {}).await?;
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    async fn create_live(&self, projection: &dyn Projection) -> Result<(), ProjectionError> {
        let db = self.store.database();
        let names = TableNames::live(projection.tables());
        let lock = db.sqlite_write_lock();
        let _guard = match &lock {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        let mut tx = begin(db).await?;
        // A concurrent start may have created them first.
        if tx.lock_checkpoint(projection.name()).await?.is_some() {
            return Ok(());
        }
        tx.execute_all(&projection.create_tables(db.backend(), &names))
            .await?;
        let now = format_instant(Utc::now());
        match &mut tx {
            TxHandle::Sqlite(t) => {
                sqlx::query(INSERT_CHECKPOINT)
                    .bind(projection.name())
                    .bind(&now)
                    .bind(projection.version())
                    .execute(&mut **t)
                    .await?;
            }
            TxHandle::Postgres(t) => {
                sqlx::query(INSERT_CHECKPOINT)
                    .bind(projection.name())
                    .bind(&now)
                    .bind(projection.version())
                    .execute(&mut **t)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn checkpoint(&self, name: &str) -> Result<Option<CheckpointRow>, ProjectionError> {
        Ok(with_pool!(self.store.database(), pool => {
            sqlx::query_as(SELECT_CHECKPOINT).bind(name).fetch_optional(pool).await?
        }))
    }

    /// Every projection's position and health.
    pub async fn status(&self) -> Result<Vec<ProjectionStatus>, ProjectionError> {
        let mut statuses = Vec::with_capacity(self.projections.len());
        for projection in &self.projections {
            let row = self.checkpoint(projection.name()).await?;
            let (txid, position, version, error, failed_position) =
                row.unwrap_or((0, 0, 0, None, None));
            statuses.push(ProjectionStatus {
                name: projection.name().to_owned(),
                cursor: FeedCursor { txid, position },
                version,
                error,
                failed_position,
            });
        }
        Ok(statuses)
    }

    /// Applies one batch to one projection; returns how many events it
    /// applied (0 when caught up).
    pub async fn step(&self, projection: &dyn Projection) -> Result<usize, ProjectionError> {
        let Some((txid, position, _, error, failed_position)) =
            self.checkpoint(projection.name()).await?
        else {
            return Err(ProjectionError::Decode(format!(
                "读模型 {} 尚未初始化",
                projection.name()
            )));
        };
        if let Some(reason) = error {
            return Err(ProjectionError::Stopped {
                projection: projection.name(),
                position: failed_position.unwrap_or_default(),
                reason,
            });
        }
        let cursor = FeedCursor { txid, position };
        let events = self
            .store
            .read_all(cursor, self.settings.batch_size, PersonalDataMode::Withhold)
            .await?;
        let Some(last) = events.last().map(RecordedEvent::cursor) else {
            return Ok(0);
        };
        let db = self.store.database();
        let lock = db.sqlite_write_lock();
        let _guard = match &lock {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        let mut tx = begin(db).await?;
        if tx.lock_checkpoint(projection.name()).await? != Some(cursor) {
            // Another projector instance moved it on; read again.
            return Ok(0);
        }
        let names = TableNames::live(projection.tables());
        if let Err(error) = apply_events(projection, &mut tx, &names, &events).await {
            drop(tx);
            self.record_failure(projection.name(), &error).await?;
            return Err(error);
        }
        tx.advance_checkpoint(projection.name(), last).await?;
        tx.commit().await?;
        Ok(events.len())
    }

    async fn record_failure(
        &self,
        name: &str,
        error: &ProjectionError,
    ) -> Result<(), ProjectionError> {
        let position = match error {
            ProjectionError::CannotApply { position, .. } => Some(*position),
            _ => None,
        };
        tracing::error!(projection = name, %error, "读模型停止：无法处理事件");
        let now = format_instant(Utc::now());
        with_pool!(self.store.database(), pool => {
            sqlx::query(RECORD_FAILURE)
                .bind(name)
                .bind(error.to_string())
                .bind(position)
                .bind(&now)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Applies batches until every healthy projection has caught up with the
    /// feed. A stopped projection is skipped (its error stays visible).
    pub async fn catch_up(&self) -> Result<u64, ProjectionError> {
        let mut applied = 0;
        for projection in &self.projections {
            loop {
                match self.step(projection.as_ref()).await {
                    Ok(0) => break,
                    Ok(count) => applied += count as u64,
                    Err(ProjectionError::Stopped { .. } | ProjectionError::CannotApply { .. }) => {
                        break;
                    }
                    Err(other) => return Err(other),
                }
            }
        }
        Ok(applied)
    }

    /// True when a healthy projection has caught up with everything the feed
    /// hands out while committed events behind the fence still wait for it.
    async fn held_back(&self) -> Result<bool, ProjectionError> {
        // Only PostgreSQL's feed has a fence; spare SQLite the status reads.
        if !matches!(self.store.database(), Database::Postgres { .. }) {
            return Ok(false);
        }
        let earliest = self
            .status()
            .await?
            .into_iter()
            .filter(|status| status.error.is_none())
            .map(|status| status.cursor)
            .min();
        match earliest {
            Some(cursor) => Ok(self.store.feed_held_back(cursor).await?),
            None => Ok(false),
        }
    }

    /// Runs until `shutdown` turns true, stopping only between batches (at a
    /// checkpoint). Woken by appends in this process, by PostgreSQL
    /// `NOTIFY shouwang_events` from other processes, and by polling.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) -> Result<(), ProjectionError> {
        self.prepare().await?;
        let appended = self.store.appended();
        let mut listener = match self.store.database() {
            Database::Postgres { pool } => {
                let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
                listener.listen("shouwang_events").await?;
                Some(listener)
            }
            Database::Sqlite { .. } => None,
        };
        let mut held_back_pause = HELD_BACK_FIRST_PAUSE;
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            let woken = appended.notified();
            if let Err(error) = self.catch_up().await {
                tracing::warn!(%error, "读模型追赶失败，稍后重试");
            }
            // The notification for events the fence still hides has already
            // been spent, so look again soon rather than wait for the next.
            let pause = match self.held_back().await {
                Ok(true) => {
                    let pause = held_back_pause;
                    held_back_pause = (held_back_pause * 2).min(self.settings.poll_interval);
                    pause
                }
                Ok(false) => {
                    held_back_pause = HELD_BACK_FIRST_PAUSE;
                    self.settings.poll_interval
                }
                Err(error) => {
                    tracing::warn!(%error, "读模型追赶失败，稍后重试");
                    self.settings.poll_interval
                }
            };
            let notification = async {
                match listener.as_mut() {
                    Some(listener) => {
                        let _ = listener.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = woken => {}
                _ = notification => {}
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}
