//! cqrs-es's `EventStore` for one aggregate type, over the shared [`Store`].
//!
//! Unlike cqrs-es's `PersistedEventStore`, the snapshot is taken from the
//! context's aggregate exactly as handed over: `EventSink::write` has already
//! applied the new events to it, so applying them again would double-count.
//!
//! Deciding a command needs the aggregate's current state. Rather than load
//! it again for every command, the store keeps the state each of its own
//! commits produced (with its version and last hash). A cached state is only
//! ever a guess: if another process wrote meanwhile, the append conflicts on
//! the stream version, the entry is dropped and the command bus retries on
//! state loaded afresh. Commands on one stream in this process take turns on
//! the stream's entry, so they do not conflict with each other.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use cqrs_es::{
    Aggregate, AggregateContext, AggregateError, DomainEvent, EventEnvelope, EventStore,
};
use serde_json::Value;
use shouwang_domain::PersonalData;

use crate::append::PendingAppend;
use crate::error::StoreError;
use crate::store::{
    AppendOutcome, AppendedEvent, AsOf, NewEvent, PersonalDataMode, RecordedEvent, Store,
};
use crate::vault::DataKey;

/// What the commit of the command being executed appended, handed to the
/// command bus without asking the database again (cqrs-es's `execute`
/// returns nothing).
pub(crate) mod receipts {
    use std::cell::RefCell;

    use crate::store::AppendedEvent;

    tokio::task_local! {
        static APPENDED: RefCell<Option<Vec<AppendedEvent>>>;
    }

    /// Runs `future` with a place for its commit to leave what it appended.
    pub async fn collect<F: std::future::Future>(
        future: F,
    ) -> (F::Output, Option<Vec<AppendedEvent>>) {
        APPENDED
            .scope(RefCell::new(None), async move {
                let output = future.await;
                let appended = APPENDED.with(|cell| cell.borrow_mut().take());
                (output, appended)
            })
            .await
    }

    pub(super) fn record(appended: &[AppendedEvent]) {
        // Outside `collect` (a caller using cqrs-es directly) nobody asks.
        let _ = APPENDED.try_with(|cell| *cell.borrow_mut() = Some(appended.to_vec()));
    }
}

/// Whether the command being executed opens its stream, so that a stream
/// not in the cache need not be read: it is expected to be empty. (cqrs-es
/// loads before it hands over the command, so the bus says so beside it.)
pub(crate) mod new_streams {
    tokio::task_local! {
        static ASSUMED_NEW: bool;
    }

    /// Runs `future` with its stream assumed new when `assume` is true.
    pub async fn assumed_if<F: std::future::Future>(assume: bool, future: F) -> F::Output {
        ASSUMED_NEW.scope(assume, future).await
    }

    pub(super) fn assumed() -> bool {
        ASSUMED_NEW.try_with(|assumed| *assumed).unwrap_or(false)
    }
}

/// Metadata keys the store itself interprets.
pub mod metadata_keys {
    pub const COMMAND_ID: &str = "command_id";
    pub const COMMAND_FINGERPRINT: &str = "command_fingerprint";
}

/// Streams whose latest state is kept per aggregate type by default.
const DEFAULT_CACHED_STREAMS: usize = 20_000;

/// The state one of our commits left a stream in.
#[derive(Debug)]
struct Cached<A> {
    version: u64,
    hash: Vec<u8>,
    data_key: Option<DataKey>,
    aggregate: A,
}

type Slot<A> = Arc<tokio::sync::Mutex<Option<Cached<A>>>>;

/// Latest states by stream id, bounded. Eviction drops entries no command
/// is using, in no particular order: a miss costs one load, so the bound
/// matters more than which entry goes.
#[derive(Debug)]
struct AggregateCache<A> {
    slots: Mutex<HashMap<String, Slot<A>>>,
    capacity: usize,
}

impl<A> AggregateCache<A> {
    fn slot(&self, stream_id: &str) -> Slot<A> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = slots.get(stream_id) {
            return slot.clone();
        }
        if slots.len() >= self.capacity {
            let keep = self.capacity * 3 / 4;
            let mut excess = slots.len().saturating_sub(keep);
            slots.retain(|_, slot| {
                if excess > 0 && Arc::strong_count(slot) == 1 {
                    excess -= 1;
                    false
                } else {
                    true
                }
            });
        }
        let slot: Slot<A> = Arc::new(tokio::sync::Mutex::new(None));
        slots.insert(stream_id.to_owned(), slot.clone());
        slot
    }
}

/// The event store for aggregate type `A`.
#[derive(Debug)]
pub struct SqlEventStore<A> {
    store: Store,
    cache: Arc<AggregateCache<A>>,
}

impl<A> Clone for SqlEventStore<A> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            cache: self.cache.clone(),
        }
    }
}

/// The aggregate as loaded, with the version the next append must follow.
#[derive(Debug)]
pub struct SqlAggregateContext<A> {
    pub stream_id: String,
    pub version: u64,
    pub aggregate: A,
    /// The hash of the event at `version`, when known.
    previous_hash: Option<Vec<u8>>,
    /// The stream's data key, when known.
    data_key: Option<DataKey>,
    /// This stream's cache entry, held from load to commit by the command
    /// being decided.
    slot: Option<tokio::sync::OwnedMutexGuard<Option<Cached<A>>>>,
}

impl<A: Aggregate> AggregateContext<A> for SqlAggregateContext<A> {
    fn aggregate(&mut self) -> &mut A {
        &mut self.aggregate
    }
}

pub(crate) fn to_aggregate_error<E: std::error::Error>(error: StoreError) -> AggregateError<E> {
    match error {
        StoreError::Conflict { .. } => AggregateError::AggregateConflict,
        StoreError::Connection(_) | StoreError::Database(_) => {
            AggregateError::DatabaseConnectionError(Box::new(error))
        }
        StoreError::Serialization { .. } | StoreError::Upcast(_) => {
            AggregateError::DeserializationError(Box::new(error))
        }
        other => AggregateError::UnexpectedError(Box::new(other)),
    }
}

/// Splits a serialized externally tagged event into (variant name, fields).
fn split_tagged(value: Value) -> Result<(String, Value), StoreError> {
    match value {
        Value::String(variant) => Ok((variant, Value::Null)),
        Value::Object(map) if map.len() == 1 => {
            let (variant, inner) = map.into_iter().next().expect("one entry");
            Ok((variant, inner))
        }
        other => Err(StoreError::Upcast(format!(
            "事件必须序列化为带类型标签的对象，实际为 {other}"
        ))),
    }
}

fn schema_version_of<E: DomainEvent>(event: &E) -> Result<i32, StoreError> {
    event.event_version().parse().map_err(|_| {
        StoreError::Upcast(format!(
            "{} 的版本号 {} 不是整数",
            event.event_type(),
            event.event_version()
        ))
    })
}

/// The store's form of a domain event: variant name and fields, with what
/// the domain declares personal (also used by bulk loaders that decide
/// outside cqrs-es).
pub fn new_event<E: DomainEvent + PersonalData>(event: &E) -> Result<NewEvent, StoreError> {
    let value = serde_json::to_value(event)
        .map_err(|e| StoreError::serialization(event.event_type(), e))?;
    let (event_type, payload) = split_tagged(value)?;
    Ok(NewEvent {
        event_type,
        schema_version: schema_version_of(event)?,
        payload,
        sealed_fields: event.sealed_fields(),
        blind_index_terms: event.blind_index_terms(),
        erases_personal_data: event.erases_personal_data(),
    })
}

impl<A> SqlEventStore<A>
where
    A: Aggregate + Clone,
    A::Event: PersonalData,
{
    pub fn new(store: Store) -> Self {
        Self::with_cache_capacity(store, DEFAULT_CACHED_STREAMS)
    }

    /// A store keeping the latest state of at most `streams` streams
    /// (0 turns the cache off).
    pub fn with_cache_capacity(store: Store, streams: usize) -> Self {
        Self {
            store,
            cache: Arc::new(AggregateCache {
                slots: Mutex::new(HashMap::new()),
                capacity: streams,
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    fn envelope(event: RecordedEvent) -> Result<EventEnvelope<A>, StoreError> {
        let payload: A::Event = event.decode()?;
        let mut metadata: HashMap<String, String> = event.metadata.into_iter().collect();
        metadata.insert("position".to_owned(), event.position.to_string());
        metadata.insert(
            "recorded_at".to_owned(),
            crate::store::format_instant(event.recorded_at),
        );
        Ok(EventEnvelope {
            aggregate_id: event.stream_id,
            sequence: usize::try_from(event.stream_version).unwrap_or(usize::MAX),
            payload,
            metadata,
        })
    }

    /// Loads the aggregate for deciding a command: snapshot plus tail,
    /// personal data withheld.
    pub async fn load_for_decision(
        &self,
        stream_id: &str,
    ) -> Result<SqlAggregateContext<A>, StoreError> {
        let latest = self.store.load_latest(stream_id).await?;
        let (mut aggregate, mut version) = match latest.snapshot {
            Some(snapshot) => {
                let state: A = serde_json::from_str(&snapshot.state)
                    .map_err(|e| StoreError::serialization(format!("snapshot {stream_id}"), e))?;
                (state, snapshot.stream_version)
            }
            None => (A::default(), 0),
        };
        for event in latest.tail {
            version = event.stream_version;
            aggregate.apply(event.decode()?);
        }
        let previous_hash = latest.last_hash;
        Ok(SqlAggregateContext {
            stream_id: stream_id.to_owned(),
            version,
            aggregate,
            previous_hash,
            data_key: None,
            slot: None,
        })
    }

    /// Loads for a command that will commit through this store: from the
    /// cache when this process wrote the stream last, holding the stream's
    /// entry until the commit.
    async fn load_for_command(
        &self,
        stream_id: &str,
    ) -> Result<SqlAggregateContext<A>, StoreError> {
        if self.cache.capacity == 0 {
            return self.load_for_decision(stream_id).await;
        }
        let slot = self.cache.slot(stream_id).lock_owned().await;
        let mut context = match slot.as_ref() {
            Some(cached) => SqlAggregateContext {
                stream_id: stream_id.to_owned(),
                version: cached.version,
                aggregate: cached.aggregate.clone(),
                previous_hash: Some(cached.hash.clone()),
                data_key: cached.data_key.clone(),
                slot: None,
            },
            // Version 0 makes the append fail if the stream exists after all.
            None if new_streams::assumed() => SqlAggregateContext {
                stream_id: stream_id.to_owned(),
                version: 0,
                aggregate: A::default(),
                previous_hash: None,
                data_key: None,
                slot: None,
            },
            None => self.load_for_decision(stream_id).await?,
        };
        context.slot = Some(slot);
        Ok(context)
    }

    /// The aggregate as it was at a version or time, replayed from the events
    /// alone (no snapshot), with its version.
    pub async fn load_as_of(&self, stream_id: &str, as_of: AsOf) -> Result<(A, u64), StoreError> {
        let mut aggregate = A::default();
        let mut version = 0;
        for event in self
            .store
            .load_stream_as_of(stream_id, as_of, PersonalDataMode::Withhold)
            .await?
        {
            version = event.stream_version;
            aggregate.apply(event.decode()?);
        }
        Ok((aggregate, version))
    }

    /// Every event of the stream with personal data revealed.
    pub async fn history(&self, stream_id: &str) -> Result<Vec<EventEnvelope<A>>, StoreError> {
        self.store
            .load_stream(stream_id, 0, PersonalDataMode::Reveal)
            .await?
            .into_iter()
            .map(Self::envelope)
            .collect()
    }

    async fn append_events(
        &self,
        events: Vec<A::Event>,
        mut context: SqlAggregateContext<A>,
        metadata: HashMap<String, String>,
    ) -> Result<Vec<EventEnvelope<A>>, StoreError> {
        let mut slot = context.slot.take();
        let outcome = self.write_events(events, &mut context, metadata).await;
        if let Some(slot) = slot.as_mut() {
            match &outcome {
                Ok((_, Some((last, data_key)))) => {
                    **slot = Some(Cached {
                        version: last.stream_version,
                        hash: last.hash.to_vec(),
                        data_key: data_key.clone(),
                        aggregate: context.aggregate,
                    });
                }
                // Nothing written (no events, or a repeated command): what
                // was cached still stands.
                Ok((_, None)) => {}
                // Someone else wrote first, or the write failed: load afresh.
                Err(_) => **slot = None,
            }
        }
        outcome.map(|(envelopes, _)| envelopes)
    }

    async fn write_events(
        &self,
        events: Vec<A::Event>,
        context: &mut SqlAggregateContext<A>,
        metadata: HashMap<String, String>,
    ) -> Result<
        (
            Vec<EventEnvelope<A>>,
            Option<(AppendedEvent, Option<DataKey>)>,
        ),
        StoreError,
    > {
        let new_events = events
            .iter()
            .map(new_event)
            .collect::<Result<Vec<_>, _>>()?;
        let count = new_events.len() as u64;
        let snapshot = if self.store.snapshot_due(context.version, count) {
            Some(
                serde_json::to_string(&context.aggregate)
                    .map_err(|e| StoreError::serialization("snapshot", e))?,
            )
        } else {
            None
        };
        let mut stored_metadata: BTreeMap<String, String> = metadata.into_iter().collect();
        let command_id = stored_metadata.remove(metadata_keys::COMMAND_ID);
        let fingerprint = stored_metadata
            .remove(metadata_keys::COMMAND_FINGERPRINT)
            .unwrap_or_default();
        if let Some(command_id) = &command_id {
            // Kept on every event so the audit trail names the command.
            stored_metadata.insert(metadata_keys::COMMAND_ID.to_owned(), command_id.clone());
        }
        let (outcome, data_key) = self
            .store
            .append_pending(PendingAppend {
                stream_type: A::TYPE.to_owned(),
                stream_id: context.stream_id.clone(),
                expected_version: context.version,
                events: new_events,
                metadata: stored_metadata.clone(),
                command: command_id.map(|id| (id, fingerprint)),
                snapshot,
                previous_hash: context.previous_hash.take(),
                data_key: context.data_key.take(),
            })
            .await?;
        let appended = match outcome {
            AppendOutcome::Appended(appended) => appended,
            // The command bus reads the first result from the idempotency table.
            AppendOutcome::DuplicateCommand => return Ok((Vec::new(), None)),
        };
        let last = appended.last().cloned().map(|last| (last, data_key));
        receipts::record(&appended);
        let envelopes = events
            .into_iter()
            .zip(appended)
            .map(|(payload, stored)| {
                let mut metadata: HashMap<String, String> =
                    stored_metadata.clone().into_iter().collect();
                metadata.insert("position".to_owned(), stored.position.to_string());
                metadata.insert("recorded_at".to_owned(), stored.recorded_at);
                EventEnvelope {
                    aggregate_id: context.stream_id.clone(),
                    sequence: usize::try_from(stored.stream_version).unwrap_or(usize::MAX),
                    payload,
                    metadata,
                }
            })
            .collect();
        Ok((envelopes, last))
    }
}

impl<A> EventStore<A> for SqlEventStore<A>
where
    A: Aggregate + Clone,
    A::Event: PersonalData,
{
    type AC = SqlAggregateContext<A>;

    async fn load_events(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        self.history(aggregate_id).await.map_err(to_aggregate_error)
    }

    async fn load_aggregate(
        &self,
        aggregate_id: &str,
    ) -> Result<Self::AC, AggregateError<A::Error>> {
        self.load_for_command(aggregate_id)
            .await
            .map_err(to_aggregate_error)
    }

    async fn commit(
        &self,
        events: Vec<A::Event>,
        context: Self::AC,
        metadata: HashMap<String, String>,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        self.append_events(events, context, metadata)
            .await
            .map_err(to_aggregate_error)
    }
}
