//! Writing appends: the appends of many streams in one transaction, and the
//! group committer that gathers concurrent appends into such transactions.
//!
//! A durable commit costs one flush of the log, whatever it holds. Writers
//! that arrive while a flush is under way wait for the next one together, so
//! under load one flush carries many commands (group commit). Each append
//! keeps its own outcome: when a transaction of several fails (a version
//! conflict, a repeated command id, an erased stream), it is rolled back and
//! every append in it is written again alone, so one refusal never takes
//! another command down with it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::Utc;
use sqlx::{AssertSqlSafe, PgConnection, PgPool, SqliteConnection};
use tokio::sync::{Mutex, Notify, mpsc, oneshot};

use crate::chain::{ChainedFields, GENESIS, link_hash};
use crate::db::Database;
use crate::error::{StoreError, is_unique_violation};
use crate::store::{AppendOutcome, AppendedEvent, NewEvent, format_instant, seal_payload, to_i64};
use crate::vault::{DataKey, MasterKey};

const ERASE_DATA_KEY: &str = "INSERT INTO data_keys (stream_id, wrapped_key, created_at, erased_at) \
     VALUES ($1, NULL, $2, $2) \
     ON CONFLICT (stream_id) DO UPDATE SET wrapped_key = NULL, erased_at = excluded.erased_at";
const DELETE_BLIND_INDEX: &str = "DELETE FROM blind_index WHERE stream_id = $1";
// A snapshot never replaces a later one.
macro_rules! upsert_snapshot_on_conflict {
    () => {
        "ON CONFLICT (stream_id) DO UPDATE SET stream_version = excluded.stream_version, \
         state = excluded.state, taken_at = excluded.taken_at \
         WHERE snapshots.stream_version < excluded.stream_version"
    };
}
const UPSERT_SNAPSHOT: &str = concat!(
    "INSERT INTO snapshots (stream_id, stream_type, stream_version, state, taken_at) \
     VALUES ($1, $2, $3, $4, $5) ",
    upsert_snapshot_on_conflict!()
);

// PostgreSQL takes a whole batch in one statement: arrays in, one round
// trip, and (without erasures or snapshots) its own implicit transaction,
// like the single-row INSERT of the ceiling. The inserts have no ON CONFLICT:
// a version taken, a key created or a command id recorded by someone else
// fails the statement, and the constraint's name says which.
const PG_SELECT_HASHES: &str = "SELECT e.stream_id, e.hash FROM events e \
     JOIN UNNEST($1::text[], $2::int8[]) AS w(stream_id, stream_version) \
       ON e.stream_id = w.stream_id AND e.stream_version = w.stream_version";
const PG_SELECT_DATA_KEYS: &str =
    "SELECT stream_id, wrapped_key FROM data_keys WHERE stream_id = ANY($1::text[])";
const PG_WRITE_BATCH: &str = "WITH new_keys AS ( \
       INSERT INTO data_keys (stream_id, wrapped_key, created_at) \
       SELECT * FROM UNNEST($1::text[], $2::bytea[], $3::text[])), \
     appended AS ( \
       INSERT INTO events (stream_type, stream_id, stream_version, event_type, schema_version, \
         payload, sealed, metadata, recorded_at, hash) \
       SELECT * FROM UNNEST($4::text[], $5::text[], $6::int8[], $7::text[], $8::int4[], \
         $9::text[], $10::bytea[], $11::text[], $12::text[], $13::bytea[]) \
       RETURNING position, txid, stream_id, stream_version), \
     indexed AS ( \
       INSERT INTO blind_index (kind, digest, stream_id) \
       SELECT * FROM UNNEST($14::text[], $15::text[], $16::text[]) ON CONFLICT DO NOTHING), \
     recorded AS ( \
       INSERT INTO commands (command_id, stream_type, stream_id, fingerprint, first_version, \
         last_version, first_position, last_position, recorded_at) \
       SELECT c.command_id, c.stream_type, c.stream_id, c.fingerprint, c.first_version, \
         c.last_version, \
         (SELECT min(a.position) FROM appended a WHERE a.stream_id = c.stream_id), \
         (SELECT max(a.position) FROM appended a WHERE a.stream_id = c.stream_id), \
         c.recorded_at \
       FROM UNNEST($17::text[], $18::text[], $19::text[], $20::text[], $21::int8[], \
         $22::int8[], $23::text[]) \
         AS c(command_id, stream_type, stream_id, fingerprint, first_version, last_version, \
           recorded_at)) \
     SELECT position, txid, stream_id, stream_version FROM appended";
const EVENTS_VERSION_KEY: &str = "events_stream_version_unique";
const COMMANDS_KEY: &str = "commands_pkey";

/// Most appends one transaction carries; more would only lengthen the wait
/// of the first writer in it.
const MAX_BATCH: usize = 256;

/// An append that owns its data, so it can wait in the group committer's
/// queue.
#[derive(Debug, Clone)]
pub(crate) struct PendingAppend {
    pub stream_type: String,
    pub stream_id: String,
    pub expected_version: u64,
    pub events: Vec<NewEvent>,
    pub metadata: BTreeMap<String, String>,
    pub command: Option<(String, String)>,
    pub snapshot: Option<String>,
    /// The hash of the event at `expected_version` when the writer already
    /// knows it (it loaded the stream to decide); looked up otherwise.
    pub previous_hash: Option<Vec<u8>>,
    /// The stream's data key when the writer already holds it, or a fresh
    /// one for a new stream; looked up (or created) otherwise. A key held
    /// from an older version cannot be stale unnoticed: erasure is an event
    /// of the stream, so the append would conflict.
    pub data_key: Option<DataKey>,
}

/// What one append wrote, with the data key it sealed with (for the caller
/// to keep along with the state).
#[derive(Debug, Clone, Default)]
pub(crate) struct Written {
    pub events: Vec<AppendedEvent>,
    pub data_key: Option<DataKey>,
}

pub(crate) type WriteOutcome = Result<(AppendOutcome, Option<DataKey>), StoreError>;

/// Why a transaction did not commit.
#[derive(Debug)]
enum Failure {
    /// A command id in it was recorded before: not an error for that
    /// command's caller, who gets the first result.
    Duplicate,
    Store(StoreError),
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Failure::Store(error)
    }
}

impl From<sqlx::Error> for Failure {
    fn from(error: sqlx::Error) -> Self {
        Failure::Store(error.into())
    }
}

fn conflict(append: &PendingAppend, version: u64) -> Failure {
    Failure::Store(StoreError::Conflict {
        stream_id: append.stream_id.clone(),
        version,
    })
}

fn needs_key(append: &PendingAppend) -> bool {
    append.events.iter().any(|e| !e.sealed_fields.is_empty())
}

/// One event ready to insert: sealed and chained.
struct Row<'a> {
    /// Which append of the batch the event belongs to.
    index: usize,
    append: &'a PendingAppend,
    version: u64,
    event: &'a NewEvent,
    payload: String,
    sealed: Option<Vec<u8>>,
    metadata: Arc<String>,
    hash: [u8; 32],
}

/// Each stream's previous hash and data key, and the keys to create.
#[derive(Default)]
struct Resolved<'a> {
    previous: HashMap<&'a str, Vec<u8>>,
    keys: HashMap<&'a str, DataKey>,
    new_keys: Vec<&'a str>,
}

impl<'a> Resolved<'a> {
    /// Settles what the appends brought along; returns the streams whose
    /// previous hash and whose key must be looked up.
    fn from_appends(appends: &'a [PendingAppend]) -> (Self, Vec<&'a PendingAppend>, Vec<&'a str>) {
        let mut resolved = Resolved::default();
        let (mut hash_lookups, mut key_lookups) = (Vec::new(), Vec::new());
        for append in appends {
            let stream_id = append.stream_id.as_str();
            if append.expected_version > 0 {
                match &append.previous_hash {
                    Some(hash) => {
                        resolved.previous.insert(stream_id, hash.clone());
                    }
                    None => hash_lookups.push(append),
                }
            }
            if !needs_key(append) {
                continue;
            }
            match (&append.data_key, append.expected_version) {
                (Some(key), 0) => {
                    resolved.keys.insert(stream_id, key.clone());
                    resolved.new_keys.push(stream_id);
                }
                (Some(key), _) => {
                    resolved.keys.insert(stream_id, key.clone());
                }
                // A new stream has no key yet.
                (None, 0) => {
                    resolved.keys.insert(stream_id, DataKey::generate());
                    resolved.new_keys.push(stream_id);
                }
                (None, _) => key_lookups.push(stream_id),
            }
        }
        (resolved, hash_lookups, key_lookups)
    }

    /// Takes a looked-up key: unwrapped, erased, or missing (earlier events
    /// had nothing to seal) and then created.
    fn found_key(
        &mut self,
        master: &MasterKey,
        stream_id: &'a str,
        stored: Option<Option<Vec<u8>>>,
    ) -> Result<(), Failure> {
        match stored {
            Some(Some(wrapped)) => {
                self.keys
                    .insert(stream_id, master.unwrap_key(stream_id, &wrapped)?);
            }
            Some(None) => {
                return Err(Failure::Store(StoreError::PersonalDataErased {
                    stream_id: stream_id.to_owned(),
                }));
            }
            None => {
                self.keys.insert(stream_id, DataKey::generate());
                self.new_keys.push(stream_id);
            }
        }
        Ok(())
    }
}

/// Rows per SQLite statement: at 10 values a row, well below its limit of
/// 32,766 bound values.
const SQLITE_ROWS_PER_STATEMENT: usize = 1_000;

/// `(?, ?, …), (?, ?, …)`: `rows` rows of `width` values.
fn sqlite_values(rows: usize, width: usize) -> String {
    let row = format!("({})", vec!["?"; width].join(", "));
    vec![row; rows].join(", ")
}

/// What the writers share; deliberately not the [`crate::Store`], so queued
/// writers never keep a store alive after its last user dropped it.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    pub db: Database,
    pub master: MasterKey,
    pub appended: Arc<Notify>,
    /// Asks the notifier task to wake projectors in other processes.
    pub wake_others: Option<mpsc::Sender<()>>,
}

impl Writer {
    /// Writes one append in its own transaction.
    pub async fn write_one(&self, append: &PendingAppend) -> WriteOutcome {
        match self.write(std::slice::from_ref(append)).await {
            Ok(mut written) => {
                let written = written.pop().unwrap_or_default();
                Ok((AppendOutcome::Appended(written.events), written.data_key))
            }
            Err(Failure::Duplicate) => Ok((AppendOutcome::DuplicateCommand, None)),
            Err(Failure::Store(error)) => Err(error),
        }
    }

    /// Writes appends in one transaction when they all succeed, else each
    /// alone; one outcome per append, in order.
    pub async fn write_each(&self, appends: &[PendingAppend]) -> Vec<WriteOutcome> {
        if appends.len() == 1 {
            return vec![self.write_one(&appends[0]).await];
        }
        match self.write(appends).await {
            Ok(written) => written
                .into_iter()
                .map(|w| Ok((AppendOutcome::Appended(w.events), w.data_key)))
                .collect(),
            Err(_) => {
                let mut outcomes = Vec::with_capacity(appends.len());
                for append in appends {
                    outcomes.push(self.write_one(append).await);
                }
                outcomes
            }
        }
    }

    /// All appends in one transaction, or none.
    async fn write(&self, appends: &[PendingAppend]) -> Result<Vec<Written>, Failure> {
        let now = format_instant(Utc::now());
        let written = match &self.db {
            Database::Sqlite { pool, write_lock } => {
                let _guard = write_lock.lock().await;
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let written = self.write_sqlite(&mut tx, appends, &now).await?;
                tx.commit().await?;
                written
            }
            Database::Postgres { pool } => self.write_postgres(pool, appends, &now).await?,
        };
        self.appended.notify_waiters();
        if let Some(wake_others) = &self.wake_others {
            // Full means a wake-up is already pending: it covers this one.
            let _ = wake_others.try_send(());
        }
        Ok(written)
    }

    /// Seals and chains every event of the batch.
    fn prepare<'a>(
        &self,
        appends: &'a [PendingAppend],
        resolved: &Resolved<'_>,
        now: &str,
    ) -> Result<Vec<Row<'a>>, Failure> {
        let mut rows = Vec::with_capacity(appends.iter().map(|a| a.events.len()).sum());
        for (index, append) in appends.iter().enumerate() {
            let stream_id = append.stream_id.as_str();
            let mut previous_hash: [u8; 32] = match append.expected_version {
                0 => GENESIS,
                _ => resolved
                    .previous
                    .get(stream_id)
                    .and_then(|hash| <[u8; 32]>::try_from(hash.as_slice()).ok())
                    .ok_or_else(|| conflict(append, append.expected_version))?,
            };
            let metadata = Arc::new(
                serde_json::to_string(&append.metadata)
                    .map_err(|e| StoreError::serialization("metadata", e))?,
            );
            for (offset, event) in append.events.iter().enumerate() {
                let version = append.expected_version + offset as u64 + 1;
                let (payload, sealed) =
                    seal_payload(stream_id, version, event, resolved.keys.get(stream_id))?;
                let hash = link_hash(
                    &previous_hash,
                    &ChainedFields {
                        stream_type: &append.stream_type,
                        stream_id,
                        stream_version: to_i64(version),
                        event_type: &event.event_type,
                        schema_version: event.schema_version,
                        payload: &payload,
                        sealed: sealed.as_deref(),
                        metadata: &metadata,
                        recorded_at: now,
                    },
                );
                previous_hash = hash;
                rows.push(Row {
                    index,
                    append,
                    version,
                    event,
                    payload,
                    sealed,
                    metadata: metadata.clone(),
                    hash,
                });
            }
        }
        Ok(rows)
    }

    /// Pairs the positions the database gave with the prepared rows.
    fn written(
        appends: &[PendingAppend],
        rows: &[Row<'_>],
        resolved: &Resolved<'_>,
        ids: &HashMap<(&str, u64), (i64, i64)>,
        now: &str,
    ) -> Result<Vec<Written>, Failure> {
        let mut written: Vec<Written> = appends
            .iter()
            .map(|a| Written {
                events: Vec::with_capacity(a.events.len()),
                data_key: resolved.keys.get(a.stream_id.as_str()).cloned(),
            })
            .collect();
        for row in rows {
            let (position, txid) = ids
                .get(&(row.append.stream_id.as_str(), row.version))
                .copied()
                .ok_or_else(|| conflict(row.append, row.version))?;
            written[row.index].events.push(AppendedEvent {
                position,
                txid,
                stream_version: row.version,
                recorded_at: now.to_owned(),
                hash: row.hash,
            });
        }
        Ok(written)
    }

    /// SQLite runs in-process behind one worker thread, so what costs is the
    /// number of statements (each a hand-off to that thread and back), not
    /// their size: every step writes all rows of the batch in one statement.
    async fn write_sqlite(
        &self,
        tx: &mut SqliteConnection,
        appends: &[PendingAppend],
        now: &str,
    ) -> Result<Vec<Written>, Failure> {
        let (mut resolved, hash_lookups, key_lookups) = Resolved::from_appends(appends);
        for chunk in hash_lookups.chunks(SQLITE_ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT stream_id, hash FROM events WHERE (stream_id, stream_version) IN (VALUES {})",
                sqlite_values(chunk.len(), 2)
            );
            let mut query = sqlx::query_as::<_, (String, Vec<u8>)>(AssertSqlSafe(sql))
                .persistent(chunk.len() == 1);
            for append in chunk {
                query = query
                    .bind(&append.stream_id)
                    .bind(to_i64(append.expected_version));
            }
            let found: HashMap<String, Vec<u8>> =
                query.fetch_all(&mut *tx).await?.into_iter().collect();
            for append in chunk {
                let hash = found
                    .get(&append.stream_id)
                    .ok_or_else(|| conflict(append, append.expected_version))?;
                resolved
                    .previous
                    .insert(append.stream_id.as_str(), hash.clone());
            }
        }
        for chunk in key_lookups.chunks(SQLITE_ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT stream_id, wrapped_key FROM data_keys WHERE stream_id IN ({})",
                vec!["?"; chunk.len()].join(", ")
            );
            let mut query = sqlx::query_as::<_, (String, Option<Vec<u8>>)>(AssertSqlSafe(sql))
                .persistent(chunk.len() == 1);
            for stream_id in chunk {
                query = query.bind(*stream_id);
            }
            let mut stored: HashMap<String, Option<Vec<u8>>> =
                query.fetch_all(&mut *tx).await?.into_iter().collect();
            for &stream_id in chunk {
                resolved.found_key(&self.master, stream_id, stored.remove(stream_id))?;
            }
        }
        let new_keys = resolved.new_keys.clone();
        for chunk in new_keys.chunks(SQLITE_ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO data_keys (stream_id, wrapped_key, created_at) VALUES {} \
                 ON CONFLICT (stream_id) DO NOTHING RETURNING stream_id",
                sqlite_values(chunk.len(), 3)
            );
            let mut query =
                sqlx::query_scalar::<_, String>(AssertSqlSafe(sql)).persistent(chunk.len() == 1);
            for &stream_id in chunk {
                query = query
                    .bind(stream_id)
                    .bind(self.master.wrap(stream_id, &resolved.keys[stream_id])?)
                    .bind(now);
            }
            let created: HashSet<String> = query.fetch_all(&mut *tx).await?.into_iter().collect();
            // A key already there means another writer created the stream.
            if let Some(taken) = chunk.iter().find(|id| !created.contains(**id)) {
                let append = appends
                    .iter()
                    .find(|a| a.stream_id == *taken)
                    .unwrap_or(&appends[0]);
                return Err(conflict(append, append.expected_version + 1));
            }
        }

        let rows = self.prepare(appends, &resolved, now)?;
        let mut ids = HashMap::with_capacity(rows.len());
        for chunk in rows.chunks(SQLITE_ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO events (stream_type, stream_id, stream_version, event_type, \
                 schema_version, payload, sealed, metadata, recorded_at, hash) VALUES {} \
                 RETURNING stream_id, stream_version, position, txid",
                sqlite_values(chunk.len(), 10)
            );
            let mut query = sqlx::query_as::<_, (String, i64, i64, i64)>(AssertSqlSafe(sql))
                .persistent(chunk.len() == 1);
            for row in chunk {
                query = query
                    .bind(&row.append.stream_type)
                    .bind(&row.append.stream_id)
                    .bind(to_i64(row.version))
                    .bind(&row.event.event_type)
                    .bind(row.event.schema_version)
                    .bind(&row.payload)
                    .bind(row.sealed.as_deref())
                    .bind(row.metadata.as_str())
                    .bind(now)
                    .bind(row.hash.as_slice());
            }
            match query.fetch_all(&mut *tx).await {
                Ok(inserted) => {
                    // RETURNING promises no order: match rows by their key.
                    let sent: HashMap<(&str, i64), &Row<'_>> = chunk
                        .iter()
                        .map(|row| ((row.append.stream_id.as_str(), to_i64(row.version)), row))
                        .collect();
                    for (stream_id, version, position, txid) in inserted {
                        let row = sent.get(&(stream_id.as_str(), version)).ok_or_else(|| {
                            StoreError::Configuration(format!(
                                "数据库返回了未写入的事件 {stream_id} v{version}"
                            ))
                        })?;
                        ids.insert(
                            (row.append.stream_id.as_str(), row.version),
                            (position, txid),
                        );
                    }
                }
                // Which row took a version is the lone append's first: a
                // batch of several is written again one append at a time.
                Err(error) if is_unique_violation(&error) => {
                    return Err(conflict(chunk[0].append, chunk[0].version));
                }
                Err(error) => return Err(error.into()),
            }
        }
        let terms: Vec<(&str, String, &str)> = rows
            .iter()
            .flat_map(|row| {
                row.event.blind_index_terms.iter().map(|(kind, value)| {
                    (
                        *kind,
                        self.master.blind_index(kind, value),
                        row.append.stream_id.as_str(),
                    )
                })
            })
            .collect();
        for chunk in terms.chunks(SQLITE_ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO blind_index (kind, digest, stream_id) VALUES {} ON CONFLICT DO NOTHING",
                sqlite_values(chunk.len(), 3)
            );
            let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(chunk.len() == 1);
            for (kind, digest, stream_id) in chunk {
                query = query.bind(*kind).bind(digest).bind(*stream_id);
            }
            query.execute(&mut *tx).await?;
        }
        let written = Self::written(appends, &rows, &resolved, &ids, now)?;

        for append in appends {
            if append.events.iter().any(|e| e.erases_personal_data) {
                sqlx::query(ERASE_DATA_KEY)
                    .bind(&append.stream_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(DELETE_BLIND_INDEX)
                    .bind(&append.stream_id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let snapshots: Vec<(&PendingAppend, &String, u64)> = appends
            .iter()
            .zip(&written)
            .filter_map(|(append, written)| {
                Some((
                    append,
                    append.snapshot.as_ref()?,
                    written.events.last()?.stream_version,
                ))
            })
            .collect();
        for chunk in snapshots.chunks(SQLITE_ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO snapshots (stream_id, stream_type, stream_version, state, taken_at) \
                 VALUES {} {}",
                sqlite_values(chunk.len(), 5),
                upsert_snapshot_on_conflict!()
            );
            let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(chunk.len() == 1);
            for (append, state, version) in chunk {
                query = query
                    .bind(&append.stream_id)
                    .bind(&append.stream_type)
                    .bind(to_i64(*version))
                    .bind(*state)
                    .bind(now);
            }
            query.execute(&mut *tx).await?;
        }
        let commands: Vec<(&PendingAppend, &(String, String), &Written)> = appends
            .iter()
            .zip(&written)
            .filter_map(|(append, written)| Some((append, append.command.as_ref()?, written)))
            .collect();
        for chunk in commands.chunks(SQLITE_ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO commands (command_id, stream_type, stream_id, fingerprint, \
                 first_version, last_version, first_position, last_position, recorded_at) \
                 VALUES {} ON CONFLICT (command_id) DO NOTHING RETURNING command_id",
                sqlite_values(chunk.len(), 9)
            );
            let mut query =
                sqlx::query_scalar::<_, String>(AssertSqlSafe(sql)).persistent(chunk.len() == 1);
            for (append, (command_id, fingerprint), written) in chunk {
                let events = &written.events;
                query = query
                    .bind(command_id)
                    .bind(&append.stream_type)
                    .bind(&append.stream_id)
                    .bind(fingerprint)
                    .bind(events.first().map(|e| to_i64(e.stream_version)))
                    .bind(events.last().map(|e| to_i64(e.stream_version)))
                    .bind(events.first().map(|e| e.position))
                    .bind(events.last().map(|e| e.position))
                    .bind(now);
            }
            let recorded = query.fetch_all(&mut *tx).await?;
            if recorded.len() < chunk.len() {
                return Err(Failure::Duplicate);
            }
        }
        Ok(written)
    }

    async fn write_postgres(
        &self,
        pool: &PgPool,
        appends: &[PendingAppend],
        now: &str,
    ) -> Result<Vec<Written>, Failure> {
        // Look-ups first, outside any transaction: a hash, once written,
        // never changes, and a key read here that is erased before the
        // write comes with an event that makes the write conflict.
        let (mut resolved, hash_lookups, key_lookups) = Resolved::from_appends(appends);
        if !hash_lookups.is_empty() {
            let ids: Vec<&str> = hash_lookups.iter().map(|a| a.stream_id.as_str()).collect();
            let versions: Vec<i64> = hash_lookups
                .iter()
                .map(|a| to_i64(a.expected_version))
                .collect();
            let found: Vec<(String, Vec<u8>)> = sqlx::query_as(PG_SELECT_HASHES)
                .bind(&ids)
                .bind(&versions)
                .fetch_all(pool)
                .await?;
            for (stream_id, hash) in found {
                if let Some(append) = hash_lookups.iter().find(|a| a.stream_id == stream_id) {
                    resolved.previous.insert(append.stream_id.as_str(), hash);
                }
            }
        }
        if !key_lookups.is_empty() {
            let stored: Vec<(String, Option<Vec<u8>>)> = sqlx::query_as(PG_SELECT_DATA_KEYS)
                .bind(&key_lookups)
                .fetch_all(pool)
                .await?;
            let mut stored: HashMap<String, Option<Vec<u8>>> = stored.into_iter().collect();
            for stream_id in key_lookups {
                resolved.found_key(&self.master, stream_id, stored.remove(stream_id))?;
            }
        }

        let rows = self.prepare(appends, &resolved, now)?;
        let mut events = EventColumns::with_capacity(rows.len());
        let mut index = IndexColumns::default();
        for row in &rows {
            events.push(row, now);
            for (kind, value) in &row.event.blind_index_terms {
                index.kind.push(*kind);
                index.digest.push(self.master.blind_index(kind, value));
                index.stream_id.push(&row.append.stream_id);
            }
        }
        let mut keys = KeyColumns::default();
        for &stream_id in &resolved.new_keys {
            keys.stream_id.push(stream_id);
            keys.wrapped
                .push(self.master.wrap(stream_id, &resolved.keys[stream_id])?);
            keys.created_at.push(now);
        }
        let mut commands = CommandColumns::default();
        for append in appends {
            if let Some((command_id, fingerprint)) = &append.command {
                commands.push(append, command_id, fingerprint, now);
            }
        }

        let statement = sqlx::query_as(PG_WRITE_BATCH)
            .bind(&keys.stream_id)
            .bind(&keys.wrapped)
            .bind(&keys.created_at)
            .bind(&events.stream_type)
            .bind(&events.stream_id)
            .bind(&events.stream_version)
            .bind(&events.event_type)
            .bind(&events.schema_version)
            .bind(&events.payload)
            .bind(&events.sealed)
            .bind(&events.metadata)
            .bind(&events.recorded_at)
            .bind(&events.hash)
            .bind(&index.kind)
            .bind(&index.digest)
            .bind(&index.stream_id)
            .bind(&commands.command_id)
            .bind(&commands.stream_type)
            .bind(&commands.stream_id)
            .bind(&commands.fingerprint)
            .bind(&commands.first_version)
            .bind(&commands.last_version)
            .bind(&commands.recorded_at);
        let needs_transaction = appends
            .iter()
            .any(|a| a.snapshot.is_some() || a.events.iter().any(|e| e.erases_personal_data));
        let inserted: Vec<(i64, i64, String, i64)> = if needs_transaction {
            let mut tx = pool.begin().await?;
            let inserted = statement
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| Self::pg_failure(appends, e))?;
            self.erase_and_snapshot_postgres(&mut tx, appends, &inserted, now)
                .await?;
            tx.commit().await?;
            inserted
        } else {
            // One statement is one transaction: no BEGIN, no COMMIT.
            statement
                .fetch_all(pool)
                .await
                .map_err(|e| Self::pg_failure(appends, e))?
        };
        let ids: HashMap<(&str, u64), (i64, i64)> = inserted
            .iter()
            .filter_map(|(position, txid, stream_id, version)| {
                let append = appends.iter().find(|a| a.stream_id == *stream_id)?;
                Some((
                    (append.stream_id.as_str(), u64::try_from(*version).ok()?),
                    (*position, *txid),
                ))
            })
            .collect();
        Self::written(appends, &rows, &resolved, &ids, now)
    }

    /// Names what failed a batch statement: the constraint says whether a
    /// stream moved on, a key was created, or a command id was recorded.
    fn pg_failure(appends: &[PendingAppend], error: sqlx::Error) -> Failure {
        let constraint = match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                db.constraint().map(str::to_owned)
            }
            _ => return error.into(),
        };
        match constraint.as_deref() {
            Some(COMMANDS_KEY) => Failure::Duplicate,
            // Which stream lost is found when a batch is retried append by
            // append; for one append it is that one.
            Some(EVENTS_VERSION_KEY) | Some(_) | None => {
                conflict(&appends[0], appends[0].expected_version + 1)
            }
        }
    }

    async fn erase_and_snapshot_postgres(
        &self,
        tx: &mut PgConnection,
        appends: &[PendingAppend],
        inserted: &[(i64, i64, String, i64)],
        now: &str,
    ) -> Result<(), Failure> {
        for append in appends {
            if append.events.iter().any(|e| e.erases_personal_data) {
                sqlx::query(ERASE_DATA_KEY)
                    .bind(&append.stream_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(DELETE_BLIND_INDEX)
                    .bind(&append.stream_id)
                    .execute(&mut *tx)
                    .await?;
            }
            let last = inserted
                .iter()
                .filter(|(_, _, stream_id, _)| *stream_id == append.stream_id)
                .map(|(_, _, _, version)| *version)
                .max();
            if let (Some(state), Some(last)) = (&append.snapshot, last) {
                sqlx::query(UPSERT_SNAPSHOT)
                    .bind(&append.stream_id)
                    .bind(&append.stream_type)
                    .bind(last)
                    .bind(state)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        Ok(())
    }
}

/// The events of a batch as one array per column.
struct EventColumns<'a> {
    stream_type: Vec<&'a str>,
    stream_id: Vec<&'a str>,
    stream_version: Vec<i64>,
    event_type: Vec<&'a str>,
    schema_version: Vec<i32>,
    payload: Vec<&'a str>,
    sealed: Vec<Option<&'a [u8]>>,
    metadata: Vec<&'a str>,
    recorded_at: Vec<&'a str>,
    hash: Vec<&'a [u8]>,
}

impl<'a> EventColumns<'a> {
    fn with_capacity(n: usize) -> Self {
        Self {
            stream_type: Vec::with_capacity(n),
            stream_id: Vec::with_capacity(n),
            stream_version: Vec::with_capacity(n),
            event_type: Vec::with_capacity(n),
            schema_version: Vec::with_capacity(n),
            payload: Vec::with_capacity(n),
            sealed: Vec::with_capacity(n),
            metadata: Vec::with_capacity(n),
            recorded_at: Vec::with_capacity(n),
            hash: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, row: &'a Row<'a>, now: &'a str) {
        self.stream_type.push(&row.append.stream_type);
        self.stream_id.push(&row.append.stream_id);
        self.stream_version.push(to_i64(row.version));
        self.event_type.push(&row.event.event_type);
        self.schema_version.push(row.event.schema_version);
        self.payload.push(&row.payload);
        self.sealed.push(row.sealed.as_deref());
        self.metadata.push(row.metadata.as_str());
        self.recorded_at.push(now);
        self.hash.push(row.hash.as_slice());
    }
}

#[derive(Default)]
struct IndexColumns<'a> {
    kind: Vec<&'a str>,
    digest: Vec<String>,
    stream_id: Vec<&'a str>,
}

#[derive(Default)]
struct KeyColumns<'a> {
    stream_id: Vec<&'a str>,
    wrapped: Vec<Vec<u8>>,
    created_at: Vec<&'a str>,
}

#[derive(Default)]
struct CommandColumns<'a> {
    command_id: Vec<&'a str>,
    stream_type: Vec<&'a str>,
    stream_id: Vec<&'a str>,
    fingerprint: Vec<&'a str>,
    first_version: Vec<Option<i64>>,
    last_version: Vec<Option<i64>>,
    recorded_at: Vec<&'a str>,
}

impl<'a> CommandColumns<'a> {
    fn push(
        &mut self,
        append: &'a PendingAppend,
        command_id: &'a str,
        fingerprint: &'a str,
        now: &'a str,
    ) {
        let count = append.events.len() as u64;
        self.command_id.push(command_id);
        self.stream_type.push(&append.stream_type);
        self.stream_id.push(&append.stream_id);
        self.fingerprint.push(fingerprint);
        self.first_version
            .push((count > 0).then(|| to_i64(append.expected_version + 1)));
        self.last_version
            .push((count > 0).then(|| to_i64(append.expected_version + count)));
        self.recorded_at.push(now);
    }
}

type Reply = oneshot::Sender<WriteOutcome>;

/// Gathers concurrent appends into shared transactions. Writer tasks start
/// with the first append and end when the last store handle is dropped.
#[derive(Debug)]
pub(crate) struct GroupCommit {
    queue: mpsc::UnboundedSender<(PendingAppend, Reply)>,
    writer: Writer,
}

impl GroupCommit {
    /// Starts `writers` writer tasks on the current tokio runtime. More than
    /// one lets a transaction fill while another flushes (PostgreSQL); SQLite
    /// has one writer at a time anyway. On PostgreSQL a notifier task wakes
    /// projectors in other processes.
    pub fn start(db: Database, master: MasterKey, appended: Arc<Notify>, writers: usize) -> Self {
        let wake_others = match &db {
            Database::Postgres { pool } => {
                let (wake, wakes) = mpsc::channel(1);
                tokio::spawn(notify_other_processes(pool.clone(), wakes));
                Some(wake)
            }
            Database::Sqlite { .. } => None,
        };
        let writer = Writer {
            db,
            master,
            appended,
            wake_others,
        };
        let (queue, receiver) = mpsc::unbounded_channel();
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..writers.max(1) {
            tokio::spawn(run_writer(writer.clone(), receiver.clone()));
        }
        Self { queue, writer }
    }

    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// Queues the append and waits for its transaction to commit. `None`
    /// when the writer tasks are gone (their runtime shut down): the caller
    /// then writes the append itself.
    pub async fn append(&self, append: PendingAppend) -> Option<WriteOutcome> {
        let (reply, outcome) = oneshot::channel();
        self.queue.send((append, reply)).ok()?;
        outcome.await.ok()
    }
}

async fn run_writer(
    writer: Writer,
    receiver: Arc<Mutex<mpsc::UnboundedReceiver<(PendingAppend, Reply)>>>,
) {
    loop {
        let mut batch = Vec::new();
        {
            let mut receiver = receiver.lock().await;
            let Some(first) = receiver.recv().await else {
                return;
            };
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
        }
        let (appends, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        let outcomes = writer.write_each(&appends).await;
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            // The caller may have gone (request cancelled); its append stands.
            let _ = reply.send(outcome);
        }
    }
}

/// Sends `NOTIFY shouwang_events` after commits, one for all the commits
/// since the last. Apart from the writers, and after the commit rather than
/// in it: a NOTIFY in a transaction takes a global lock held through the
/// commit's flush, which would serialize every writer. A lost notification
/// only delays other processes until they poll.
async fn notify_other_processes(pool: PgPool, mut wakes: mpsc::Receiver<()>) {
    while wakes.recv().await.is_some() {
        if let Err(error) = sqlx::query("SELECT pg_notify('shouwang_events', '')")
            .execute(&pool)
            .await
        {
            tracing::warn!(%error, "could not notify other processes of new events");
        }
    }
}
