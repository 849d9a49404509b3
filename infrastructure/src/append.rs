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

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::Utc;
use sqlx::{PgConnection, SqliteConnection};
use tokio::sync::{Mutex, Notify, mpsc, oneshot};

use crate::chain::{ChainedFields, GENESIS, link_hash};
use crate::db::Database;
use crate::error::{StoreError, is_unique_violation};
use crate::store::{AppendOutcome, AppendedEvent, NewEvent, format_instant, seal_payload};
use crate::vault::{DataKey, MasterKey};

const SELECT_HASH_AT: &str = "SELECT hash FROM events WHERE stream_id = $1 AND stream_version = $2";
const SELECT_DATA_KEY: &str = "SELECT wrapped_key FROM data_keys WHERE stream_id = $1";
const INSERT_DATA_KEY: &str = "INSERT INTO data_keys (stream_id, wrapped_key, created_at) VALUES ($1, $2, $3) \
     ON CONFLICT (stream_id) DO NOTHING";
const INSERT_EVENT: &str = "INSERT INTO events (stream_type, stream_id, stream_version, event_type, \
     schema_version, payload, sealed, metadata, recorded_at, hash) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING position, txid";
const INSERT_BLIND_INDEX: &str = "INSERT INTO blind_index (kind, digest, stream_id) VALUES ($1, $2, $3) \
     ON CONFLICT DO NOTHING";
const ERASE_DATA_KEY: &str = "INSERT INTO data_keys (stream_id, wrapped_key, created_at, erased_at) \
     VALUES ($1, NULL, $2, $2) \
     ON CONFLICT (stream_id) DO UPDATE SET wrapped_key = NULL, erased_at = excluded.erased_at";
const DELETE_BLIND_INDEX: &str = "DELETE FROM blind_index WHERE stream_id = $1";
const UPSERT_SNAPSHOT: &str = "INSERT INTO snapshots (stream_id, stream_type, stream_version, state, taken_at) \
     VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (stream_id) DO UPDATE SET stream_version = excluded.stream_version, \
       state = excluded.state, taken_at = excluded.taken_at \
     WHERE snapshots.stream_version < excluded.stream_version";
const INSERT_COMMAND: &str = "INSERT INTO commands (command_id, stream_type, stream_id, fingerprint, \
     first_version, last_version, first_position, last_position, recorded_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (command_id) DO NOTHING";

// PostgreSQL takes a whole batch in one statement per table: arrays in,
// one round trip out, whatever the batch size.
const PG_SELECT_HASHES: &str = "SELECT e.stream_id, e.hash FROM events e \
     JOIN UNNEST($1::text[], $2::int8[]) AS w(stream_id, stream_version) \
       ON e.stream_id = w.stream_id AND e.stream_version = w.stream_version";
const PG_SELECT_DATA_KEYS: &str =
    "SELECT stream_id, wrapped_key FROM data_keys WHERE stream_id = ANY($1::text[])";
const PG_INSERT_DATA_KEYS: &str = "INSERT INTO data_keys (stream_id, wrapped_key, created_at) \
     SELECT * FROM UNNEST($1::text[], $2::bytea[], $3::text[]) \
     ON CONFLICT (stream_id) DO NOTHING RETURNING stream_id";
const PG_INSERT_EVENTS: &str = "INSERT INTO events (stream_type, stream_id, stream_version, event_type, \
     schema_version, payload, sealed, metadata, recorded_at, hash) \
     SELECT * FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::text[], $5::int4[], $6::text[], \
       $7::bytea[], $8::text[], $9::text[], $10::bytea[]) \
     RETURNING position, txid, stream_id, stream_version";
const PG_INSERT_BLIND_INDEX: &str = "INSERT INTO blind_index (kind, digest, stream_id) \
     SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING";
const PG_INSERT_COMMANDS: &str = "INSERT INTO commands (command_id, stream_type, stream_id, fingerprint, \
     first_version, last_version, first_position, last_position, recorded_at) \
     SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::int8[], \
       $7::int8[], $8::int8[], $9::text[]) \
     ON CONFLICT (command_id) DO NOTHING RETURNING command_id";

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
}

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

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn conflict(append: &PendingAppend, version: u64) -> Failure {
    Failure::Store(StoreError::Conflict {
        stream_id: append.stream_id.clone(),
        version,
    })
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

/// What the writers share; deliberately not the [`crate::Store`], so queued
/// writers never keep a store alive after its last user dropped it.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    pub db: Database,
    pub master: MasterKey,
    pub appended: Arc<Notify>,
}

impl Writer {
    /// Writes one append in its own transaction.
    pub async fn write_one(&self, append: &PendingAppend) -> Result<AppendOutcome, StoreError> {
        match self.write(std::slice::from_ref(append)).await {
            Ok(mut written) => Ok(AppendOutcome::Appended(written.pop().unwrap_or_default())),
            Err(Failure::Duplicate) => Ok(AppendOutcome::DuplicateCommand),
            Err(Failure::Store(error)) => Err(error),
        }
    }

    /// Writes appends in one transaction when they all succeed, else each
    /// alone; one outcome per append, in order.
    pub async fn write_each(
        &self,
        appends: &[PendingAppend],
    ) -> Vec<Result<AppendOutcome, StoreError>> {
        if appends.len() == 1 {
            return vec![self.write_one(&appends[0]).await];
        }
        match self.write(appends).await {
            Ok(written) => written
                .into_iter()
                .map(|events| Ok(AppendOutcome::Appended(events)))
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
    async fn write(&self, appends: &[PendingAppend]) -> Result<Vec<Vec<AppendedEvent>>, Failure> {
        let now = format_instant(Utc::now());
        let written = match &self.db {
            Database::Sqlite { pool, write_lock } => {
                let _guard = write_lock.lock().await;
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let written = self.write_sqlite(&mut tx, appends, &now).await?;
                tx.commit().await?;
                written
            }
            Database::Postgres { pool } => {
                let mut tx = pool.begin().await?;
                let written = self.write_postgres(&mut tx, appends, &now).await?;
                tx.commit().await?;
                written
            }
        };
        self.appended.notify_waiters();
        if let Database::Postgres { pool } = &self.db {
            // Wakes projectors in other processes. Sent after the commit,
            // not inside it: a NOTIFY in the transaction takes a global lock
            // held through the commit's flush, which serializes every
            // writer. A lost notification only delays them until they poll.
            if let Err(error) = sqlx::query("SELECT pg_notify('shouwang_events', '')")
                .execute(pool)
                .await
            {
                tracing::warn!(%error, "could not notify other processes of new events");
            }
        }
        Ok(written)
    }

    /// Seals and chains every event of the batch, given each stream's
    /// previous hash and data key.
    fn prepare<'a>(
        &self,
        appends: &'a [PendingAppend],
        previous: &HashMap<&str, Vec<u8>>,
        keys: &HashMap<&str, DataKey>,
        now: &str,
    ) -> Result<Vec<Row<'a>>, Failure> {
        let mut rows = Vec::with_capacity(appends.iter().map(|a| a.events.len()).sum());
        for (index, append) in appends.iter().enumerate() {
            let stream_id = append.stream_id.as_str();
            let mut previous_hash: [u8; 32] = match append.expected_version {
                0 => GENESIS,
                _ => previous
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
                    seal_payload(stream_id, version, event, keys.get(stream_id))?;
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

    fn unwrap_key(&self, stream_id: &str, wrapped: Option<Vec<u8>>) -> Result<DataKey, Failure> {
        match wrapped {
            Some(wrapped) => Ok(self.master.unwrap_key(stream_id, &wrapped)?),
            None => Err(Failure::Store(StoreError::PersonalDataErased {
                stream_id: stream_id.to_owned(),
            })),
        }
    }

    async fn write_sqlite(
        &self,
        tx: &mut SqliteConnection,
        appends: &[PendingAppend],
        now: &str,
    ) -> Result<Vec<Vec<AppendedEvent>>, Failure> {
        let mut previous = HashMap::new();
        let mut keys = HashMap::new();
        for append in appends {
            let stream_id = append.stream_id.as_str();
            if append.expected_version > 0 {
                let hash = match &append.previous_hash {
                    Some(hash) => Some(hash.clone()),
                    None => {
                        sqlx::query_scalar(SELECT_HASH_AT)
                            .bind(stream_id)
                            .bind(to_i64(append.expected_version))
                            .fetch_optional(&mut *tx)
                            .await?
                    }
                };
                let hash = hash.ok_or_else(|| conflict(append, append.expected_version))?;
                previous.insert(stream_id, hash);
            }
            if needs_key(append) {
                let wrapped: Option<Option<Vec<u8>>> = sqlx::query_scalar(SELECT_DATA_KEY)
                    .bind(stream_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let key = match wrapped {
                    Some(wrapped) => self.unwrap_key(stream_id, wrapped)?,
                    None => {
                        let key = DataKey::generate();
                        let inserted = sqlx::query(INSERT_DATA_KEY)
                            .bind(stream_id)
                            .bind(self.master.wrap(stream_id, &key)?)
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                        if inserted.rows_affected() == 0 {
                            return Err(conflict(append, append.expected_version + 1));
                        }
                        key
                    }
                };
                keys.insert(stream_id, key);
            }
        }

        let rows = self.prepare(appends, &previous, &keys, now)?;
        let mut written: Vec<Vec<AppendedEvent>> = vec![Vec::new(); appends.len()];
        for row in &rows {
            let inserted: Result<(i64, i64), sqlx::Error> = sqlx::query_as(INSERT_EVENT)
                .bind(&row.append.stream_type)
                .bind(&row.append.stream_id)
                .bind(to_i64(row.version))
                .bind(&row.event.event_type)
                .bind(row.event.schema_version)
                .bind(&row.payload)
                .bind(row.sealed.as_deref())
                .bind(row.metadata.as_str())
                .bind(now)
                .bind(row.hash.as_slice())
                .fetch_one(&mut *tx)
                .await;
            let (position, txid) = match inserted {
                Ok(ids) => ids,
                Err(error) if is_unique_violation(&error) => {
                    return Err(conflict(row.append, row.version));
                }
                Err(error) => return Err(error.into()),
            };
            for (kind, value) in &row.event.blind_index_terms {
                sqlx::query(INSERT_BLIND_INDEX)
                    .bind(*kind)
                    .bind(self.master.blind_index(kind, value))
                    .bind(&row.append.stream_id)
                    .execute(&mut *tx)
                    .await?;
            }
            written[row.index].push(AppendedEvent {
                position,
                txid,
                stream_version: row.version,
                recorded_at: now.to_owned(),
                hash: row.hash,
            });
        }

        for (append, events) in appends.iter().zip(&written) {
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
            if let (Some(state), Some(last)) = (&append.snapshot, events.last()) {
                sqlx::query(UPSERT_SNAPSHOT)
                    .bind(&append.stream_id)
                    .bind(&append.stream_type)
                    .bind(to_i64(last.stream_version))
                    .bind(state)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some((command_id, fingerprint)) = &append.command {
                let recorded = sqlx::query(INSERT_COMMAND)
                    .bind(command_id)
                    .bind(&append.stream_type)
                    .bind(&append.stream_id)
                    .bind(fingerprint)
                    .bind(events.first().map(|e| to_i64(e.stream_version)))
                    .bind(events.last().map(|e| to_i64(e.stream_version)))
                    .bind(events.first().map(|e| e.position))
                    .bind(events.last().map(|e| e.position))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                if recorded.rows_affected() == 0 {
                    return Err(Failure::Duplicate);
                }
            }
        }
        Ok(written)
    }

    async fn write_postgres(
        &self,
        tx: &mut PgConnection,
        appends: &[PendingAppend],
        now: &str,
    ) -> Result<Vec<Vec<AppendedEvent>>, Failure> {
        // Previous hashes the writers did not bring along.
        let mut previous: HashMap<&str, Vec<u8>> = HashMap::new();
        let (mut lookup_ids, mut lookup_versions) = (Vec::new(), Vec::new());
        for append in appends.iter().filter(|a| a.expected_version > 0) {
            match &append.previous_hash {
                Some(hash) => {
                    previous.insert(append.stream_id.as_str(), hash.clone());
                }
                None => {
                    lookup_ids.push(append.stream_id.as_str());
                    lookup_versions.push(to_i64(append.expected_version));
                }
            }
        }
        if !lookup_ids.is_empty() {
            let found: Vec<(String, Vec<u8>)> = sqlx::query_as(PG_SELECT_HASHES)
                .bind(&lookup_ids)
                .bind(&lookup_versions)
                .fetch_all(&mut *tx)
                .await?;
            for (stream_id, hash) in found {
                if let Some(append) = appends.iter().find(|a| a.stream_id == stream_id) {
                    previous.insert(append.stream_id.as_str(), hash);
                }
            }
        }

        // Data keys: existing ones unwrapped, missing ones created.
        let mut keys: HashMap<&str, DataKey> = HashMap::new();
        let keyed: Vec<&str> = appends
            .iter()
            .filter(|a| needs_key(a))
            .map(|a| a.stream_id.as_str())
            .collect();
        if !keyed.is_empty() {
            let stored: Vec<(String, Option<Vec<u8>>)> = sqlx::query_as(PG_SELECT_DATA_KEYS)
                .bind(&keyed)
                .fetch_all(&mut *tx)
                .await?;
            let stored: HashMap<String, Option<Vec<u8>>> = stored.into_iter().collect();
            let (mut new_ids, mut new_wrapped, mut new_at) = (Vec::new(), Vec::new(), Vec::new());
            for &stream_id in &keyed {
                match stored.get(stream_id) {
                    Some(wrapped) => {
                        keys.insert(stream_id, self.unwrap_key(stream_id, wrapped.clone())?);
                    }
                    None => {
                        let key = DataKey::generate();
                        new_ids.push(stream_id);
                        new_wrapped.push(self.master.wrap(stream_id, &key)?);
                        new_at.push(now);
                        keys.insert(stream_id, key);
                    }
                }
            }
            if !new_ids.is_empty() {
                let inserted: Vec<String> = sqlx::query_scalar(PG_INSERT_DATA_KEYS)
                    .bind(&new_ids)
                    .bind(&new_wrapped)
                    .bind(&new_at)
                    .fetch_all(&mut *tx)
                    .await?;
                if inserted.len() != new_ids.len() {
                    // Another writer created the key meanwhile: it wrote first.
                    let lost = new_ids
                        .iter()
                        .find(|id| !inserted.iter().any(|i| i == *id))
                        .and_then(|id| appends.iter().find(|a| a.stream_id == *id));
                    return Err(match lost {
                        Some(append) => conflict(append, append.expected_version + 1),
                        None => conflict(&appends[0], appends[0].expected_version + 1),
                    });
                }
            }
        }

        let rows = self.prepare(appends, &previous, &keys, now)?;
        let mut columns = EventColumns::with_capacity(rows.len());
        for row in &rows {
            columns.push(row, now);
        }
        let inserted: Result<Vec<(i64, i64, String, i64)>, sqlx::Error> =
            sqlx::query_as(PG_INSERT_EVENTS)
                .bind(&columns.stream_type)
                .bind(&columns.stream_id)
                .bind(&columns.stream_version)
                .bind(&columns.event_type)
                .bind(&columns.schema_version)
                .bind(&columns.payload)
                .bind(&columns.sealed)
                .bind(&columns.metadata)
                .bind(&columns.recorded_at)
                .bind(&columns.hash)
                .fetch_all(&mut *tx)
                .await;
        let inserted = match inserted {
            Ok(inserted) => inserted,
            Err(error) if is_unique_violation(&error) => {
                // Which stream lost is found when the appends are retried
                // alone; for one append it is that one.
                return Err(conflict(&appends[0], appends[0].expected_version + 1));
            }
            Err(error) => return Err(error.into()),
        };
        let ids: HashMap<(String, i64), (i64, i64)> = inserted
            .into_iter()
            .map(|(position, txid, stream_id, version)| ((stream_id, version), (position, txid)))
            .collect();
        let mut written: Vec<Vec<AppendedEvent>> = vec![Vec::new(); appends.len()];
        for row in &rows {
            let (position, txid) = ids
                .get(&(row.append.stream_id.clone(), to_i64(row.version)))
                .copied()
                .ok_or_else(|| conflict(row.append, row.version))?;
            written[row.index].push(AppendedEvent {
                position,
                txid,
                stream_version: row.version,
                recorded_at: now.to_owned(),
                hash: row.hash,
            });
        }

        let (mut kinds, mut digests, mut indexed) = (Vec::new(), Vec::new(), Vec::new());
        for row in &rows {
            for (kind, value) in &row.event.blind_index_terms {
                kinds.push(*kind);
                digests.push(self.master.blind_index(kind, value));
                indexed.push(row.append.stream_id.as_str());
            }
        }
        if !kinds.is_empty() {
            sqlx::query(PG_INSERT_BLIND_INDEX)
                .bind(&kinds)
                .bind(&digests)
                .bind(&indexed)
                .execute(&mut *tx)
                .await?;
        }

        for (append, events) in appends.iter().zip(&written) {
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
            if let (Some(state), Some(last)) = (&append.snapshot, events.last()) {
                sqlx::query(UPSERT_SNAPSHOT)
                    .bind(&append.stream_id)
                    .bind(&append.stream_type)
                    .bind(to_i64(last.stream_version))
                    .bind(state)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
        }

        let mut commands = CommandColumns::default();
        for (append, events) in appends.iter().zip(&written) {
            if let Some((command_id, fingerprint)) = &append.command {
                commands.push(append, command_id, fingerprint, events, now);
            }
        }
        if !commands.command_id.is_empty() {
            let recorded: Vec<String> = sqlx::query_scalar(PG_INSERT_COMMANDS)
                .bind(&commands.command_id)
                .bind(&commands.stream_type)
                .bind(&commands.stream_id)
                .bind(&commands.fingerprint)
                .bind(&commands.first_version)
                .bind(&commands.last_version)
                .bind(&commands.first_position)
                .bind(&commands.last_position)
                .bind(&commands.recorded_at)
                .fetch_all(&mut *tx)
                .await?;
            if recorded.len() != commands.command_id.len() {
                return Err(Failure::Duplicate);
            }
        }
        Ok(written)
    }
}

fn needs_key(append: &PendingAppend) -> bool {
    append.events.iter().any(|e| !e.sealed_fields.is_empty())
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
struct CommandColumns<'a> {
    command_id: Vec<&'a str>,
    stream_type: Vec<&'a str>,
    stream_id: Vec<&'a str>,
    fingerprint: Vec<&'a str>,
    first_version: Vec<Option<i64>>,
    last_version: Vec<Option<i64>>,
    first_position: Vec<Option<i64>>,
    last_position: Vec<Option<i64>>,
    recorded_at: Vec<&'a str>,
}

impl<'a> CommandColumns<'a> {
    fn push(
        &mut self,
        append: &'a PendingAppend,
        command_id: &'a str,
        fingerprint: &'a str,
        events: &[AppendedEvent],
        now: &'a str,
    ) {
        self.command_id.push(command_id);
        self.stream_type.push(&append.stream_type);
        self.stream_id.push(&append.stream_id);
        self.fingerprint.push(fingerprint);
        self.first_version
            .push(events.first().map(|e| to_i64(e.stream_version)));
        self.last_version
            .push(events.last().map(|e| to_i64(e.stream_version)));
        self.first_position.push(events.first().map(|e| e.position));
        self.last_position.push(events.last().map(|e| e.position));
        self.recorded_at.push(now);
    }
}

type Reply = oneshot::Sender<Result<AppendOutcome, StoreError>>;

/// Gathers concurrent appends into shared transactions. Writer tasks start
/// with the first append and end when the last store handle is dropped.
#[derive(Debug)]
pub(crate) struct GroupCommit {
    queue: mpsc::UnboundedSender<(PendingAppend, Reply)>,
}

impl GroupCommit {
    /// Starts `writers` writer tasks on the current tokio runtime. More than
    /// one lets a transaction fill while another flushes (PostgreSQL); SQLite
    /// has one writer at a time anyway.
    pub fn start(writer: Writer, writers: usize) -> Self {
        let (queue, receiver) = mpsc::unbounded_channel();
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..writers.max(1) {
            tokio::spawn(run_writer(writer.clone(), receiver.clone()));
        }
        Self { queue }
    }

    /// Queues the append and waits for its transaction to commit. `None`
    /// when the writer tasks are gone (their runtime shut down): the caller
    /// then writes the append itself.
    pub async fn append(&self, append: PendingAppend) -> Option<Result<AppendOutcome, StoreError>> {
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
