//! The event store: one behaviour on SQLite and PostgreSQL.
//!
//! [`Store`] is the untyped core (append, load, feed, snapshots, as-of);
//! [`crate::SqlEventStore`] adapts it to cqrs-es for one aggregate type.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use tokio::sync::Notify;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use crate::append::{GroupCommit, PendingAppend, WriteOutcome};
use crate::db::{Backend, Database};
use crate::error::StoreError;
use crate::upcast::Upcasters;
use crate::vault::{DataKey, MasterKey};
use crate::with_pool;

/// Stored in place of a sealed field inside the clear payload, so the stored
/// text says honestly that a value exists and is sealed.
const SEALED_MARKER: &str = "sealed";

/// How reads treat sealed personal fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonalDataMode {
    /// Decrypt them (or mark them erased when the key is gone).
    Reveal,
    /// Leave them closed: they read as erased. Aggregates decide without
    /// personal data, so loading them for a command never decrypts anything.
    Withhold,
}

/// Position in the global feed. On PostgreSQL the feed is ordered by the
/// writing transaction id, then position (docs/adr/0001); on SQLite `txid` is
/// always 0 and position alone orders it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeedCursor {
    pub txid: i64,
    pub position: i64,
}

impl FeedCursor {
    pub const START: FeedCursor = FeedCursor {
        txid: 0,
        position: 0,
    };
}

/// One event as read back: unsealed (per the mode) and upcast.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    pub position: i64,
    pub txid: i64,
    pub stream_type: String,
    pub stream_id: String,
    pub stream_version: u64,
    pub event_type: String,
    /// Schema version after upcasting.
    pub schema_version: i32,
    /// The variant's fields (`null` for a variant without fields).
    pub payload: Value,
    pub metadata: BTreeMap<String, String>,
    pub recorded_at: DateTime<Utc>,
}

impl RecordedEvent {
    pub fn cursor(&self) -> FeedCursor {
        FeedCursor {
            txid: self.txid,
            position: self.position,
        }
    }

    /// Decodes into the typed (externally tagged) event enum.
    pub fn decode<E: serde::de::DeserializeOwned>(&self) -> Result<E, StoreError> {
        let tagged = match &self.payload {
            Value::Null => Value::String(self.event_type.clone()),
            inner => {
                let mut map = Map::with_capacity(1);
                map.insert(self.event_type.clone(), inner.clone());
                Value::Object(map)
            }
        };
        serde_json::from_value(tagged).map_err(|e| {
            StoreError::serialization(
                format!(
                    "{} {} v{}",
                    self.event_type, self.stream_id, self.stream_version
                ),
                e,
            )
        })
    }
}

/// An event about to be appended, already serialized.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_type: String,
    pub schema_version: i32,
    /// The variant's fields (`null` for a variant without fields).
    pub payload: Value,
    pub sealed_fields: &'static [&'static str],
    pub blind_index_terms: Vec<(&'static str, String)>,
    pub erases_personal_data: bool,
}

/// What the idempotency table remembers about a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRecord {
    pub command_id: String,
    pub stream_type: String,
    pub stream_id: String,
    pub fingerprint: String,
    pub first_version: Option<u64>,
    pub last_version: Option<u64>,
    pub first_position: Option<i64>,
    pub last_position: Option<i64>,
}

/// An append request for one stream.
#[derive(Debug, Clone)]
pub struct Append<'a> {
    pub stream_type: &'a str,
    pub stream_id: &'a str,
    /// The version the writer decided on; the append fails with a conflict if
    /// the stream has moved on since.
    pub expected_version: u64,
    pub events: Vec<NewEvent>,
    pub metadata: BTreeMap<String, String>,
    /// `(command id, fingerprint)` for the idempotency table.
    pub command: Option<(String, String)>,
    /// The aggregate state after these events, when a snapshot is due.
    pub snapshot: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendedEvent {
    pub position: i64,
    pub txid: i64,
    pub stream_version: u64,
    pub recorded_at: String,
    /// The event's link in its stream's hash chain; the next append chains
    /// from it.
    pub hash: [u8; 32],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendOutcome {
    Appended(Vec<AppendedEvent>),
    /// The command id was already recorded (by an earlier try or a concurrent
    /// retry); nothing was written.
    DuplicateCommand,
}

/// A stored snapshot of an aggregate.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub stream_version: u64,
    pub state: String,
}

/// A point in a stream's history for as-of loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    Version(u64),
    Time(DateTime<Utc>),
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct StoredRow {
    pub position: i64,
    pub txid: i64,
    pub stream_type: String,
    pub stream_id: String,
    pub stream_version: i64,
    pub event_type: String,
    pub schema_version: i32,
    pub payload: String,
    pub sealed: Option<Vec<u8>>,
    pub metadata: String,
    pub recorded_at: String,
}

/// A stream's latest snapshot and the events from it on.
#[derive(Debug, Clone)]
pub struct LatestState {
    pub snapshot: Option<Snapshot>,
    /// Events after the snapshot (all of them without one).
    pub tail: Vec<RecordedEvent>,
    /// The hash of the stream's last event, `None` for an empty stream.
    pub last_hash: Option<Vec<u8>>,
}

/// A row of [`SELECT_LATEST`]: the snapshot (repeated) beside each event
/// from the snapshot's version on; no rows for an empty stream.
#[derive(Debug, sqlx::FromRow)]
struct LatestRow {
    snapshot_version: Option<i64>,
    snapshot_state: Option<String>,
    position: Option<i64>,
    txid: Option<i64>,
    stream_type: Option<String>,
    stream_id: Option<String>,
    stream_version: Option<i64>,
    event_type: Option<String>,
    schema_version: Option<i32>,
    payload: Option<String>,
    sealed: Option<Vec<u8>>,
    metadata: Option<String>,
    recorded_at: Option<String>,
    hash: Option<Vec<u8>>,
}

impl LatestRow {
    fn into_event(self) -> Option<StoredRow> {
        Some(StoredRow {
            position: self.position?,
            txid: self.txid?,
            stream_type: self.stream_type?,
            stream_id: self.stream_id?,
            stream_version: self.stream_version?,
            event_type: self.event_type?,
            schema_version: self.schema_version?,
            payload: self.payload?,
            sealed: self.sealed,
            metadata: self.metadata?,
            recorded_at: self.recorded_at?,
        })
    }
}

// The event at the snapshot's version comes along for its hash only (so a
// stream with a snapshot always has a row). The snapshot's columns are
// uncorrelated subqueries, evaluated once, which keeps the events' index
// range scan from the snapshot's version on.
const SELECT_LATEST: &str = "SELECT \
       (SELECT stream_version FROM snapshots WHERE stream_id = $1) AS snapshot_version, \
       (SELECT state FROM snapshots WHERE stream_id = $1) AS snapshot_state, \
       e.position, e.txid, e.stream_type, e.stream_id, e.stream_version, e.event_type, \
       e.schema_version, e.payload, e.sealed, e.metadata, e.recorded_at, e.hash \
     FROM events e \
     WHERE e.stream_id = $1 AND e.stream_version >= \
       COALESCE((SELECT stream_version FROM snapshots WHERE stream_id = $1), 0) \
     ORDER BY e.stream_version";

macro_rules! event_columns {
    () => {
        "position, txid, stream_type, stream_id, stream_version, event_type, schema_version, \
         payload, sealed, metadata, recorded_at"
    };
}

const SELECT_STREAM_AFTER: &str = concat!(
    "SELECT ",
    event_columns!(),
    " FROM events WHERE stream_id = $1 AND stream_version > $2 ORDER BY stream_version"
);
const SELECT_STREAM_UNTIL_VERSION: &str = concat!(
    "SELECT ",
    event_columns!(),
    " FROM events WHERE stream_id = $1 AND stream_version <= $2 ORDER BY stream_version"
);
const SELECT_STREAM_UNTIL_TIME: &str = concat!(
    "SELECT ",
    event_columns!(),
    " FROM events WHERE stream_id = $1 AND recorded_at <= $2 ORDER BY stream_version"
);
const SELECT_FEED_SQLITE: &str = concat!(
    "SELECT ",
    event_columns!(),
    " FROM events WHERE position > $1 ORDER BY position LIMIT $2"
);
// Only transactions older than every running one are visible to the feed, so
// a reader can never pass an event that commits later (docs/adr/0001).
const SELECT_FEED_POSTGRES: &str = concat!(
    "SELECT ",
    event_columns!(),
    " FROM events WHERE (txid, position) > ($1, $2) \
       AND txid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint \
     ORDER BY txid, position LIMIT $3"
);
// Committed events the fence still hides because an older transaction is
// running somewhere in the cluster.
const SELECT_FEED_HELD_BACK: &str = "SELECT EXISTS (SELECT 1 FROM events \
     WHERE (txid, position) > ($1, $2) \
       AND txid >= pg_snapshot_xmin(pg_current_snapshot())::text::bigint)";
const SELECT_DATA_KEY: &str = "SELECT wrapped_key FROM data_keys WHERE stream_id = $1";
const SELECT_BLIND_INDEX: &str =
    "SELECT stream_id FROM blind_index WHERE kind = $1 AND digest = $2 ORDER BY stream_id";
const SELECT_SNAPSHOT: &str = "SELECT stream_version, state FROM snapshots WHERE stream_id = $1";
const SELECT_COMMAND: &str = "SELECT command_id, stream_type, stream_id, fingerprint, first_version, \
     last_version, first_position, last_position FROM commands WHERE command_id = $1";
const SELECT_STREAM_TYPE: &str =
    "SELECT stream_type FROM events WHERE stream_id = $1 AND stream_version = 1";
const SELECT_STREAM_VERSION: &str =
    "SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream_id = $1";

/// The untyped event store shared by every aggregate type.
#[derive(Debug, Clone)]
pub struct Store {
    db: Database,
    master: MasterKey,
    upcasters: Upcasters,
    snapshot_every: u64,
    /// Wakes in-process feed readers (projectors) after every commit; other
    /// processes on PostgreSQL are woken by `NOTIFY shouwang_events`.
    appended: Arc<Notify>,
    /// Started with the first append (it needs the tokio runtime).
    group: Arc<OnceLock<GroupCommit>>,
    writers: usize,
}

/// Transactions PostgreSQL may have in flight from the group committer: one
/// fills while others flush.
const DEFAULT_POSTGRES_WRITERS: usize = 4;

/// Formats an instant the way it is stored: fixed width, so text order is
/// time order.
pub fn format_instant(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn parse_instant(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Configuration(format!("存储的时间 {text} 无法解析：{e}")))
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}

pub(crate) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn pending(append: Append<'_>, previous_hash: Option<Vec<u8>>) -> PendingAppend {
    PendingAppend {
        stream_type: append.stream_type.to_owned(),
        stream_id: append.stream_id.to_owned(),
        expected_version: append.expected_version,
        events: append.events,
        metadata: append.metadata,
        command: append.command,
        snapshot: append.snapshot,
        previous_hash,
        data_key: None,
    }
}

impl Store {
    pub fn new(db: Database, master: MasterKey) -> Self {
        let writers = match db.backend() {
            Backend::Sqlite => 1,
            Backend::Postgres => DEFAULT_POSTGRES_WRITERS,
        };
        Self {
            db,
            master,
            upcasters: Upcasters::new(),
            snapshot_every: 100,
            appended: Arc::new(Notify::new()),
            group: Arc::new(OnceLock::new()),
            writers,
        }
    }

    /// Takes a snapshot whenever a stream crosses a multiple of `every`
    /// events; 0 disables snapshots.
    pub fn with_snapshot_every(mut self, every: u64) -> Self {
        self.snapshot_every = every;
        self
    }

    pub fn with_upcasters(mut self, upcasters: Upcasters) -> Self {
        self.upcasters = upcasters;
        self
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    pub fn master_key(&self) -> &MasterKey {
        &self.master
    }

    /// Resolves after the next append in this process commits.
    pub fn appended(&self) -> Arc<Notify> {
        self.appended.clone()
    }

    pub fn snapshot_every(&self) -> u64 {
        self.snapshot_every
    }

    /// True when appending `count` events after `from_version` crosses a
    /// snapshot boundary.
    pub fn snapshot_due(&self, from_version: u64, count: u64) -> bool {
        self.snapshot_every > 0
            && count > 0
            && from_version / self.snapshot_every != (from_version + count) / self.snapshot_every
    }

    /// Appends events to one stream: optimistic version check, sealing, hash
    /// chain, blind index, erasure, snapshot and the idempotency record all
    /// commit together or not at all. Concurrent appends share transactions
    /// (group commit, see [`crate::append`]), each keeping its own outcome.
    pub async fn append(&self, append: Append<'_>) -> Result<AppendOutcome, StoreError> {
        self.append_after(append, None).await
    }

    /// Like [`Store::append`], for a writer that already knows the hash of
    /// the stream's event at `expected_version` (it loaded the stream to
    /// decide), which saves looking it up. A stale hash cannot slip through:
    /// the stream has then moved past `expected_version` and the append
    /// conflicts.
    pub async fn append_after(
        &self,
        append: Append<'_>,
        previous_hash: Option<Vec<u8>>,
    ) -> Result<AppendOutcome, StoreError> {
        self.append_pending(pending(append, previous_hash))
            .await
            .map(|(outcome, _)| outcome)
    }

    /// Queues an append for the group committer; returns the outcome and
    /// the data key it sealed with.
    pub(crate) async fn append_pending(&self, pending: PendingAppend) -> WriteOutcome {
        let group = self.group();
        match group.append(pending.clone()).await {
            Some(outcome) => outcome,
            None => group.writer().write_one(&pending).await,
        }
    }

    /// Appends to many streams, in one transaction when none of them fails
    /// (bulk loading); each append keeps its own outcome, in order.
    pub async fn append_batch(
        &self,
        appends: Vec<Append<'_>>,
    ) -> Vec<Result<AppendOutcome, StoreError>> {
        let pending: Vec<PendingAppend> = appends.into_iter().map(|a| pending(a, None)).collect();
        self.group()
            .writer()
            .write_each(&pending)
            .await
            .into_iter()
            .map(|outcome| outcome.map(|(outcome, _)| outcome))
            .collect()
    }

    fn group(&self) -> &GroupCommit {
        self.group.get_or_init(|| {
            GroupCommit::start(
                self.db.clone(),
                self.master.clone(),
                self.appended.clone(),
                self.writers,
            )
        })
    }

    /// The idempotency record of a command id, if any.
    pub async fn command_record(
        &self,
        command_id: &str,
    ) -> Result<Option<CommandRecord>, StoreError> {
        type Row = (
            String,
            String,
            String,
            String,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
        );
        let row: Option<Row> = with_pool!(&self.db, pool => {
            sqlx::query_as(SELECT_COMMAND).bind(command_id).fetch_optional(pool).await?
        });
        Ok(row.map(|r| CommandRecord {
            command_id: r.0,
            stream_type: r.1,
            stream_id: r.2,
            fingerprint: r.3,
            first_version: r.4.map(to_u64),
            last_version: r.5.map(to_u64),
            first_position: r.6,
            last_position: r.7,
        }))
    }

    /// The stream's current version (0 when it has no events).
    pub async fn stream_version(&self, stream_id: &str) -> Result<u64, StoreError> {
        let version: i64 = with_pool!(&self.db, pool => {
            sqlx::query_scalar(SELECT_STREAM_VERSION).bind(stream_id).fetch_one(pool).await?
        });
        Ok(to_u64(version))
    }

    /// The feed cursor of the event at a global position, `None` when there
    /// is none (read-your-writes compares it with projection checkpoints).
    pub async fn cursor_at(&self, position: i64) -> Result<Option<FeedCursor>, StoreError> {
        let txid: Option<i64> = with_pool!(&self.db, pool => {
            sqlx::query_scalar("SELECT txid FROM events WHERE position = $1")
                .bind(position)
                .fetch_optional(pool)
                .await?
        });
        Ok(txid.map(|txid| FeedCursor { txid, position }))
    }

    /// The latest global position (0 when there are no events).
    pub async fn last_position(&self) -> Result<i64, StoreError> {
        Ok(with_pool!(&self.db, pool => {
            sqlx::query_scalar("SELECT COALESCE(MAX(position), 0) FROM events").fetch_one(pool).await?
        }))
    }

    /// The aggregate type of a stream, `None` when the stream has no events.
    pub async fn stream_type(&self, stream_id: &str) -> Result<Option<String>, StoreError> {
        Ok(with_pool!(&self.db, pool => {
            sqlx::query_scalar(SELECT_STREAM_TYPE).bind(stream_id).fetch_optional(pool).await?
        }))
    }

    pub async fn load_snapshot(&self, stream_id: &str) -> Result<Option<Snapshot>, StoreError> {
        let row: Option<(i64, String)> = with_pool!(&self.db, pool => {
            sqlx::query_as(SELECT_SNAPSHOT).bind(stream_id).fetch_optional(pool).await?
        });
        Ok(row.map(|(version, state)| Snapshot {
            stream_version: to_u64(version),
            state,
        }))
    }

    /// Events of one stream after `after_version`, in version order.
    pub async fn load_stream(
        &self,
        stream_id: &str,
        after_version: u64,
        mode: PersonalDataMode,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows: Vec<StoredRow> = with_pool!(&self.db, pool => {
            sqlx::query_as(SELECT_STREAM_AFTER)
                .bind(stream_id)
                .bind(to_i64(after_version))
                .fetch_all(pool)
                .await?
        });
        self.decode_rows(rows, mode).await
    }

    /// What deciding on a stream needs, in one round trip: the latest
    /// snapshot, the events after it (personal data withheld), and the hash
    /// of the stream's last event, to chain the next append from.
    pub async fn load_latest(&self, stream_id: &str) -> Result<LatestState, StoreError> {
        let rows: Vec<LatestRow> = with_pool!(&self.db, pool => {
            sqlx::query_as(SELECT_LATEST).bind(stream_id).fetch_all(pool).await?
        });
        let snapshot = rows.first().and_then(|row| {
            Some(Snapshot {
                stream_version: to_u64(row.snapshot_version?),
                state: row.snapshot_state.clone()?,
            })
        });
        let after = snapshot.as_ref().map_or(0, |s| s.stream_version);
        let last_hash = rows.iter().rev().find_map(|row| row.hash.clone());
        let tail: Vec<StoredRow> = rows
            .into_iter()
            .filter_map(LatestRow::into_event)
            .filter(|row| to_u64(row.stream_version) > after)
            .collect();
        let tail = self.decode_rows(tail, PersonalDataMode::Withhold).await?;
        Ok(LatestState {
            snapshot,
            tail,
            last_hash,
        })
    }

    /// Events of one stream up to a version or a recorded time.
    pub async fn load_stream_as_of(
        &self,
        stream_id: &str,
        as_of: AsOf,
        mode: PersonalDataMode,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows: Vec<StoredRow> = with_pool!(&self.db, pool => {
            match as_of {
                AsOf::Version(version) => {
                    sqlx::query_as(SELECT_STREAM_UNTIL_VERSION)
                        .bind(stream_id)
                        .bind(to_i64(version))
                        .fetch_all(pool)
                        .await?
                }
                AsOf::Time(time) => {
                    sqlx::query_as(SELECT_STREAM_UNTIL_TIME)
                        .bind(stream_id)
                        .bind(format_instant(time))
                        .fetch_all(pool)
                        .await?
                }
            }
        });
        self.decode_rows(rows, mode).await
    }

    /// The global feed after `after`, in commit order, at most `limit` events.
    /// A reader that has seen up to a cursor never later finds an event
    /// before it.
    pub async fn read_all(
        &self,
        after: FeedCursor,
        limit: u32,
        mode: PersonalDataMode,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows: Vec<StoredRow> = with_pool!(&self.db, pool => {
            let query = match self.db.backend() {
                Backend::Sqlite => sqlx::query_as(SELECT_FEED_SQLITE),
                Backend::Postgres => sqlx::query_as(SELECT_FEED_POSTGRES).bind(after.txid),
            };
            query.bind(after.position).bind(i64::from(limit)).fetch_all(pool).await?
        });
        self.decode_rows(rows, mode).await
    }

    /// True when committed events after `after` exist but the feed does not
    /// yet hand them out, because an older transaction is still running
    /// (docs/adr/0001). A reader that found nothing new should then look
    /// again soon instead of waiting for the next notification, which may
    /// never come. Always false on SQLite, whose feed has no fence.
    pub async fn feed_held_back(&self, after: FeedCursor) -> Result<bool, StoreError> {
        match &self.db {
            Database::Sqlite { .. } => Ok(false),
            Database::Postgres { pool } => Ok(sqlx::query_scalar(SELECT_FEED_HELD_BACK)
                .bind(after.txid)
                .bind(after.position)
                .fetch_one(pool)
                .await?),
        }
    }

    /// Streams whose blind index holds `value` under `kind` (e.g. the people
    /// with a given ID number), without the value ever being stored.
    pub async fn find_by_blind_index(
        &self,
        kind: &str,
        value: &str,
    ) -> Result<Vec<String>, StoreError> {
        let digest = self.master.blind_index(kind, value);
        Ok(with_pool!(&self.db, pool => {
            sqlx::query_scalar(SELECT_BLIND_INDEX).bind(kind).bind(&digest).fetch_all(pool).await?
        }))
    }

    /// True when the stream's personal data has been erased.
    pub async fn is_erased(&self, stream_id: &str) -> Result<bool, StoreError> {
        let wrapped: Option<Option<Vec<u8>>> = with_pool!(&self.db, pool => {
            sqlx::query_scalar(SELECT_DATA_KEY).bind(stream_id).fetch_optional(pool).await?
        });
        Ok(matches!(wrapped, Some(None)))
    }

    async fn data_key(&self, stream_id: &str) -> Result<Option<DataKey>, StoreError> {
        let wrapped: Option<Option<Vec<u8>>> = with_pool!(&self.db, pool => {
            sqlx::query_scalar(SELECT_DATA_KEY).bind(stream_id).fetch_optional(pool).await?
        });
        match wrapped.flatten() {
            Some(wrapped) => Ok(Some(self.master.unwrap_key(stream_id, &wrapped)?)),
            None => Ok(None),
        }
    }

    async fn decode_rows(
        &self,
        rows: Vec<StoredRow>,
        mode: PersonalDataMode,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let mut keys: HashMap<String, Option<DataKey>> = HashMap::new();
        let mut events = Vec::with_capacity(rows.len());
        for row in rows {
            let key = match (&row.sealed, mode) {
                (Some(_), PersonalDataMode::Reveal) => {
                    if !keys.contains_key(&row.stream_id) {
                        let key = self.data_key(&row.stream_id).await?;
                        keys.insert(row.stream_id.clone(), key);
                    }
                    keys.get(&row.stream_id).cloned().flatten()
                }
                _ => None,
            };
            events.push(self.decode_row(row, key.as_ref())?);
        }
        Ok(events)
    }

    fn decode_row(
        &self,
        row: StoredRow,
        key: Option<&DataKey>,
    ) -> Result<RecordedEvent, StoreError> {
        let context = || {
            format!(
                "{} {} v{}",
                row.event_type, row.stream_id, row.stream_version
            )
        };
        let mut payload: Value = serde_json::from_str(&row.payload)
            .map_err(|e| StoreError::serialization(context(), e))?;
        if let Some(sealed) = &row.sealed {
            let revealed: Option<Map<String, Value>> = match key {
                Some(key) => {
                    let plain = key.open(
                        &associated_data(&row.stream_id, to_u64(row.stream_version)),
                        sealed,
                    )?;
                    Some(
                        serde_json::from_slice(&plain)
                            .map_err(|e| StoreError::serialization(context(), e))?,
                    )
                }
                None => None,
            };
            unseal_payload(&mut payload, revealed);
        }
        let (payload, schema_version) =
            self.upcasters
                .upcast(&row.event_type, row.schema_version, payload)?;
        let metadata: BTreeMap<String, String> = serde_json::from_str(&row.metadata)
            .map_err(|e| StoreError::serialization(context(), e))?;
        Ok(RecordedEvent {
            position: row.position,
            txid: row.txid,
            recorded_at: parse_instant(&row.recorded_at)?,
            stream_type: row.stream_type,
            stream_id: row.stream_id,
            stream_version: to_u64(row.stream_version),
            event_type: row.event_type,
            schema_version,
            payload,
            metadata,
        })
    }
}

fn associated_data(stream_id: &str, version: u64) -> Vec<u8> {
    format!("{stream_id}/{version}").into_bytes()
}

/// Moves the event's personal fields out of the clear payload into one sealed
/// blob, leaving `{"sealed": true}` in their place.
pub(crate) fn seal_payload(
    stream_id: &str,
    version: u64,
    event: &NewEvent,
    key: Option<&DataKey>,
) -> Result<(String, Option<Vec<u8>>), StoreError> {
    let mut payload = event.payload.clone();
    let mut sealed = Map::new();
    if let (Value::Object(fields), Some(key)) = (&mut payload, key) {
        for name in event.sealed_fields {
            if let Some(value) = fields.get_mut(*name) {
                let mut marker = Map::with_capacity(1);
                marker.insert(SEALED_MARKER.to_owned(), Value::Bool(true));
                sealed.insert(
                    (*name).to_owned(),
                    std::mem::replace(value, Value::Object(marker)),
                );
            }
        }
        let text = serde_json::to_string(&payload)
            .map_err(|e| StoreError::serialization(&event.event_type, e))?;
        if sealed.is_empty() {
            return Ok((text, None));
        }
        let plain = serde_json::to_vec(&sealed)
            .map_err(|e| StoreError::serialization(&event.event_type, e))?;
        let blob = key.seal(&associated_data(stream_id, version), &plain)?;
        return Ok((text, Some(blob)));
    }
    let text = serde_json::to_string(&payload)
        .map_err(|e| StoreError::serialization(&event.event_type, e))?;
    Ok((text, None))
}

/// Puts revealed values back in place of the sealed markers, or the erased
/// marker when they cannot (or must not) be revealed.
fn unseal_payload(payload: &mut Value, mut revealed: Option<Map<String, Value>>) {
    let Value::Object(fields) = payload else {
        return;
    };
    for (name, value) in fields.iter_mut() {
        let is_sealed = matches!(value, Value::Object(m) if m.len() == 1 && m.get(SEALED_MARKER) == Some(&Value::Bool(true)));
        if !is_sealed {
            continue;
        }
        *value = match revealed.as_mut().and_then(|r| r.remove(name)) {
            Some(plain) => plain,
            None => serde_json::json!({ "erased": true }),
        };
    }
}
