//! The bulk path of the demo: each person's commands are decided by the
//! domain itself, in memory (cqrs-es `Aggregate::handle`, whose sink applies
//! every event), exactly as the command bus would decide them on a fresh
//! stream; the resulting events of many people are then appended in one
//! transaction through the store, with the same sealing, hash chain, blind
//! index, snapshots and idempotency records as a command sent one by one.
//!
//! Deciding on a fresh in-memory aggregate is the same decision the bus makes:
//! the bus loads the stream with personal data withheld, and the aggregate
//! state holds no personal data (see `CareCase`), so both see the same state.

use std::collections::{BTreeMap, VecDeque};

use anyhow::Context;
use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use shouwang_domain::PersonalData;
use shouwang_infrastructure::aggregate_store::{metadata_keys, new_event};
use shouwang_infrastructure::command_bus::{CommandBus, IdempotentCommand};
use shouwang_infrastructure::store::{Append, AppendOutcome, NewEvent};
use shouwang_infrastructure::{Store, StoreError};
use uuid::Uuid;

use super::ids::DemoIds;

/// The appends one command produces, decided but not yet written.
#[derive(Debug)]
pub(crate) struct DecidedCommand {
    expected_version: u64,
    events: Vec<NewEvent>,
    metadata: BTreeMap<String, String>,
    /// `(command id, fingerprint)` for the idempotency table.
    command: (String, String),
    snapshot: Option<String>,
}

/// One stream's commands, decided in order.
#[derive(Debug)]
pub(crate) struct DecidedStream {
    pub(crate) id: Uuid,
    stream_id: String,
    stream_type: &'static str,
    commands: Vec<DecidedCommand>,
}

impl DecidedStream {
    /// The store's append for the stream's `index`-th command.
    fn append(&self, index: usize) -> Option<Append<'_>> {
        self.commands.get(index).map(|command| Append {
            stream_type: self.stream_type,
            stream_id: &self.stream_id,
            expected_version: command.expected_version,
            events: command.events.clone(),
            metadata: command.metadata.clone(),
            command: Some(command.command.clone()),
            snapshot: command.snapshot.clone(),
        })
    }
}

/// Decides `commands` on a new stream `id` of aggregate `A`, as the command
/// bus would one after the other, each with its own command id (the metadata
/// of `CommandMetadata::system("demo")`). A refused command is an error: the
/// demo must only write what the domain accepts.
pub(crate) async fn decide<A>(
    store: &Store,
    ids: &mut DemoIds,
    id: Uuid,
    commands: Vec<A::Command>,
    services: &A::Services,
) -> anyhow::Result<DecidedStream>
where
    A: Aggregate + Clone,
    A::Event: PersonalData,
    A::Command: IdempotentCommand + Clone,
{
    let stream_id = id.to_string();
    let mut aggregate = A::default();
    let mut version = 0;
    let mut decided = Vec::with_capacity(commands.len());
    for command in commands {
        let fingerprint = CommandBus::<A>::fingerprint(&stream_id, &command);
        let sink = EventSink::default();
        aggregate
            .handle(command, services, &sink)
            .await
            .map_err(|e| anyhow::anyhow!("演示数据的 {} 指令被拒绝：{e}", A::TYPE))?;
        let events = sink.collect().await;
        let count = events.len() as u64;
        // The sink has applied the events: this is the state after them,
        // which is what the event store snapshots.
        let snapshot = if store.snapshot_due(version, count) {
            Some(serde_json::to_string(&aggregate).context("快照序列化")?)
        } else {
            None
        };
        let command_id = ids.next().to_string();
        let metadata = BTreeMap::from([
            ("actor".to_owned(), "demo".to_owned()),
            ("role".to_owned(), "system".to_owned()),
            (metadata_keys::COMMAND_ID.to_owned(), command_id.clone()),
            ("correlation_id".to_owned(), command_id.clone()),
        ]);
        decided.push(DecidedCommand {
            expected_version: version,
            events: events
                .iter()
                .map(new_event)
                .collect::<Result<_, StoreError>>()?,
            metadata,
            command: (command_id, fingerprint),
            snapshot,
        });
        version += count;
    }
    Ok(DecidedStream {
        id,
        stream_id,
        stream_type: A::TYPE,
        commands: decided,
    })
}

/// Streams being written. Every transaction (one `Store::append_batch`)
/// carries the next command of each stream in the pool; a stream leaves once
/// its last command is written and a newly decided one takes its place, so
/// transactions stay full however uneven the people's histories are.
///
/// A stream appears at most once per transaction because the store looks up
/// the hash an append chains onto before it inserts anything: a second append
/// to the same stream in one batch would not find its predecessor.
#[derive(Debug)]
pub(crate) struct Pool {
    /// Each stream with the index of its next command.
    streams: VecDeque<(DecidedStream, usize)>,
    capacity: usize,
}

impl Pool {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            streams: VecDeque::with_capacity(capacity),
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn has_room(&self) -> bool {
        self.streams.len() < self.capacity
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    pub(crate) fn push(&mut self, stream: DecidedStream) {
        self.streams.push_back((stream, 0));
    }

    /// Writes the next command of every stream in one transaction. Returns
    /// the events written and how many streams are now complete.
    pub(crate) async fn write_round(&mut self, store: &Store) -> anyhow::Result<(u64, u64)> {
        let appends: Vec<Append<'_>> = self
            .streams
            .iter()
            .filter_map(|(stream, next)| stream.append(*next))
            .collect();
        let mut events = 0;
        for outcome in store.append_batch(appends).await {
            match outcome.map_err(explain_store_error)? {
                AppendOutcome::Appended(appended) => events += appended.len() as u64,
                AppendOutcome::DuplicateCommand => anyhow::bail!("{ALREADY_WRITTEN}"),
            }
        }
        let before = self.streams.len();
        self.streams.retain_mut(|(stream, next)| {
            *next += 1;
            *next < stream.commands.len()
        });
        Ok((events, (before - self.streams.len()) as u64))
    }
}

/// Writes decided streams through a pool as large as their number. Returns
/// the number of events written.
#[cfg(test)]
pub(crate) async fn write(store: &Store, streams: Vec<DecidedStream>) -> anyhow::Result<u64> {
    let mut pool = Pool::new(streams.len());
    for stream in streams {
        pool.push(stream);
    }
    let mut events = 0;
    while !pool.is_empty() {
        events += pool.write_round(store).await?.0;
    }
    Ok(events)
}

const ALREADY_WRITTEN: &str =
    "数据库中已有用同一种子生成的演示数据：请换一个 --seed，或使用空数据库";

fn explain_store_error(error: StoreError) -> anyhow::Error {
    match error {
        StoreError::Conflict { .. } => anyhow::anyhow!("{ALREADY_WRITTEN}（{error}）"),
        other => anyhow::Error::new(other).context("演示数据写入失败"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use chrono::NaiveDate;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use shouwang_domain::care_case::{CareCase, CaseAction};
    use shouwang_infrastructure::{
        CommandMetadata, Database, MasterKey, PersonalDataMode, care_case_bus,
    };

    use super::super::{DemoOrganization, plan_person};
    use super::*;

    shouwang_testkit::on_both_backends! {
        the_bulk_path_writes_what_the_command_bus_writes => same_history_as_the_command_bus;
    }

    /// The same people written once command by command through the bus and
    /// once through the bulk path have the same history: events, metadata
    /// keys, idempotency records, snapshots and blind index.
    async fn same_history_as_the_command_bus(url: &str) {
        let db = Database::connect(url).await.unwrap();
        db.migrate().await.unwrap();
        // Snapshots every 10 events, so the busier people cross several.
        let store = Store::new(db, MasterKey::from_bytes([7; 32])).with_snapshot_every(10);
        let today = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
        let organizations = vec![DemoOrganization {
            id: Uuid::from_u128(1),
            workers: vec![Uuid::from_u128(2), Uuid::from_u128(3)],
        }];
        let mut rng = StdRng::seed_from_u64(11);
        let plans: Vec<_> = (0..12)
            .map(|index| plan_person(&mut rng, index, today, &organizations))
            .collect();

        let bus = care_case_bus(&store);
        let mut by_bus = Vec::new();
        for plan in plans.clone() {
            let id = Uuid::now_v7();
            for command in plan {
                bus.execute(&id.to_string(), command, CommandMetadata::system("demo"))
                    .await
                    .unwrap();
            }
            by_bus.push(id);
        }
        let mut ids = DemoIds::new(11, 0);
        let mut streams = Vec::new();
        for plan in plans.clone() {
            let id = ids.next();
            streams.push(
                decide::<CareCase>(&store, &mut ids, id, plan, &())
                    .await
                    .unwrap(),
            );
        }
        let stream_ids: Vec<Uuid> = streams.iter().map(|s| s.id).collect();
        let again = streams
            .iter()
            .map(|s| DecidedStream {
                id: s.id,
                stream_id: s.stream_id.clone(),
                stream_type: s.stream_type,
                commands: s.commands[..1]
                    .iter()
                    .map(|c| DecidedCommand {
                        expected_version: c.expected_version,
                        events: c.events.clone(),
                        metadata: c.metadata.clone(),
                        command: c.command.clone(),
                        snapshot: c.snapshot.clone(),
                    })
                    .collect(),
            })
            .collect();
        let written = write(&store, streams).await.unwrap();

        let mut events = 0;
        for ((bus_id, stream_id), plan) in by_bus.iter().zip(&stream_ids).zip(&plans) {
            let load = |id: Uuid| {
                let store = store.clone();
                async move {
                    store
                        .load_stream(&id.to_string(), 0, PersonalDataMode::Reveal)
                        .await
                        .unwrap()
                }
            };
            let (expected, actual) = (load(*bus_id).await, load(*stream_id).await);
            assert_eq!(actual.len(), expected.len());
            events += actual.len() as u64;
            for (a, e) in actual.iter().zip(&expected) {
                assert_eq!(
                    (
                        a.stream_version,
                        &a.event_type,
                        a.schema_version,
                        &a.payload
                    ),
                    (
                        e.stream_version,
                        &e.event_type,
                        e.schema_version,
                        &e.payload
                    )
                );
                assert_eq!(
                    a.metadata.keys().collect::<Vec<_>>(),
                    e.metadata.keys().collect::<Vec<_>>()
                );
                let record = |event: &shouwang_infrastructure::RecordedEvent| {
                    let store = store.clone();
                    let command_id = event.metadata["command_id"].clone();
                    async move { store.command_record(&command_id).await.unwrap().unwrap() }
                };
                let (a_record, e_record) = (record(a).await, record(e).await);
                assert_eq!(
                    (a_record.first_version, a_record.last_version),
                    (e_record.first_version, e_record.last_version)
                );
            }
            let snapshot = |id: Uuid| {
                let store = store.clone();
                async move {
                    store
                        .load_snapshot(&id.to_string())
                        .await
                        .unwrap()
                        .map(|s| (s.stream_version, s.state))
                }
            };
            assert_eq!(snapshot(*stream_id).await, snapshot(*bus_id).await);
            let CaseAction::OpenCase(open) = &plan[0].action else {
                panic!("a plan opens its case first")
            };
            let found = store
                .find_by_blind_index("id_number", &open.id_number)
                .await
                .unwrap();
            assert!(found.contains(&stream_id.to_string()), "{found:?}");
            assert!(found.contains(&bus_id.to_string()), "{found:?}");
        }
        assert_eq!(written, events);
        assert!(events > 100, "{events}");

        // Writing the same seed again is refused as a whole, with a message.
        let error = write(&store, again).await.unwrap_err();
        assert!(error.to_string().contains("--seed"), "{error}");
    }
}
