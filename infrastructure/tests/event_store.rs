//! The event-store contract, one body per test, run on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod support;

use shouwang_testkit::on_both_backends;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use proptest::prelude::*;
use shouwang_domain::Personal;
use shouwang_infrastructure::store::{Append, AppendOutcome, NewEvent};
use shouwang_infrastructure::{
    AsOf, CommandError, CommandMetadata, FeedCursor, PersonalDataMode, StoreError, Upcasters,
    verify_chains, with_pool,
};
use support::*;
use uuid::Uuid;

on_both_backends! {
    events_round_trip_with_personal_data_sealed_at_rest => round_trip_and_sealing;
    events_table_refuses_update_and_delete => append_only;
    concurrent_writers_of_one_stream_conflict => optimistic_concurrency;
    retried_command_writes_nothing_twice => idempotency;
    erasure_destroys_the_key_and_keeps_the_chain => erasure;
    verify_names_the_first_broken_link => tamper_detection;
    snapshot_is_taken_from_the_aggregate_as_handed_over => snapshot_not_double_counted;
    old_payloads_are_upcast_on_every_read_path => upcasting;
    state_as_of_a_version_or_a_time => as_of_loading;
    concurrent_feed_never_skips_or_repeats => concurrent_feed;
}

/// Reads the whole feed, waiting for the fence: on PostgreSQL a transaction
/// still running elsewhere in the cluster (another test) may hold back the
/// feed for a moment — it delays, never skips.
async fn read_feed(
    store: &shouwang_infrastructure::Store,
    expected: usize,
) -> Vec<shouwang_infrastructure::RecordedEvent> {
    for _ in 0..500 {
        let feed = store
            .read_all(FeedCursor::START, 1000, PersonalDataMode::Reveal)
            .await
            .unwrap();
        if feed.len() >= expected {
            return feed;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the feed did not reach {expected} events within 10 s");
}

fn stream() -> String {
    Uuid::now_v7().to_string()
}

async fn round_trip_and_sealing(url: &str) {
    let store = open_store(url).await;
    let bus = tally_bus(&store);
    let id = stream();
    bus.execute(&id, open("13800138000"), CommandMetadata::system("test"))
        .await
        .unwrap();
    let receipt = bus
        .execute(&id, add(250), CommandMetadata::system("test"))
        .await
        .unwrap();
    assert_eq!(receipt.stream_version, Some(2));
    assert!(!receipt.replayed);
    assert!(receipt.last_position.is_some());

    let history = bus.event_store().history(&id).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(
        history[0].payload,
        TallyEvent::Opened {
            phone: Personal::known("13800138000".into()),
            id_number: Personal::known("11010519491231002X".into()),
        }
    );
    assert_eq!(history[0].metadata["actor"], "test");
    assert_eq!(history[1].sequence, 2);

    // At rest: the clear payload holds only markers, the sealed blob no plaintext.
    let rows: Vec<(String, Option<Vec<u8>>)> = with_pool!(store.database(), pool => {
        sqlx::query_as("SELECT payload, sealed FROM events WHERE stream_id = $1 ORDER BY stream_version")
            .bind(&id).fetch_all(pool).await.unwrap()
    });
    assert_eq!(
        rows[0].0,
        r#"{"id_number":{"sealed":true},"phone":{"sealed":true}}"#
    );
    let sealed = rows[0].1.as_ref().expect("sealed blob");
    assert!(!String::from_utf8_lossy(sealed).contains("13800138000"));
    assert!(rows[1].0.contains(r#""amount":250"#));
    assert!(!rows[1].0.contains("心理疏导"));

    // The blind index finds the person by ID number without storing it.
    assert_eq!(
        store
            .find_by_blind_index("id_number", "11010519491231002x")
            .await
            .unwrap(),
        vec![id.clone()]
    );
    let (state, version) = bus
        .event_store()
        .load_as_of(&id, AsOf::Version(u64::MAX >> 1))
        .await
        .unwrap();
    assert_eq!((state.total, version), (250, 2));
}

async fn append_only(url: &str) {
    let store = open_store(url).await;
    let bus = tally_bus(&store);
    let id = stream();
    bus.execute(&id, open("13800138000"), CommandMetadata::system("test"))
        .await
        .unwrap();
    let update = with_pool!(store.database(), pool => {
        sqlx::query("UPDATE events SET payload = '{}' WHERE stream_id = $1").bind(&id).execute(pool).await.map(|_| ())
    });
    let error = update.expect_err("UPDATE must be refused").to_string();
    assert!(error.contains("append-only"), "{error}");
    let delete = with_pool!(store.database(), pool => {
        sqlx::query("DELETE FROM events WHERE stream_id = $1").bind(&id).execute(pool).await.map(|_| ())
    });
    assert!(
        delete
            .expect_err("DELETE must be refused")
            .to_string()
            .contains("append-only")
    );
    assert_eq!(store.stream_version(&id).await.unwrap(), 1);
}

fn raw_event(amount: i64) -> NewEvent {
    NewEvent {
        event_type: "Added".into(),
        schema_version: 2,
        payload: serde_json::json!({ "amount": amount, "note": "" }),
        sealed_fields: &[],
        blind_index_terms: Vec::new(),
        erases_personal_data: false,
    }
}

fn raw_append(stream_id: &str, expected_version: u64, events: Vec<NewEvent>) -> Append<'_> {
    Append {
        stream_type: "tally",
        stream_id,
        expected_version,
        events,
        metadata: BTreeMap::new(),
        command: None,
        snapshot: None,
    }
}

async fn optimistic_concurrency(url: &str) {
    let store = open_store(url).await;
    let id = stream();
    store
        .append(raw_append(&id, 0, vec![raw_event(1)]))
        .await
        .unwrap();
    // Two writers both decided on version 1.
    let first = store.append(raw_append(&id, 1, vec![raw_event(2)])).await;
    let second = store.append(raw_append(&id, 1, vec![raw_event(3)])).await;
    assert!(matches!(first, Ok(AppendOutcome::Appended(_))));
    assert!(
        matches!(second, Err(StoreError::Conflict { ref stream_id, version: 2 }) if *stream_id == id),
        "{second:?}"
    );
    // The loser wrote nothing; the stream is 1, 2.
    assert_eq!(store.stream_version(&id).await.unwrap(), 2);

    // Through the command bus, racing commands all land: the loser retries
    // once on fresh state.
    let bus = Arc::new(tally_bus(&store));
    let case = stream();
    bus.execute(&case, open("13800138000"), CommandMetadata::system("t"))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for amount in 1..=2 {
        let bus = bus.clone();
        let case = case.clone();
        tasks.push(tokio::spawn(async move {
            bus.execute(&case, add(amount), CommandMetadata::system("t"))
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let (state, _) = bus
        .event_store()
        .load_as_of(&case, AsOf::Version(100))
        .await
        .unwrap();
    assert_eq!(state.total, 3);
}

async fn idempotency(url: &str) {
    let store = open_store(url).await;
    let bus = tally_bus(&store);
    let id = stream();
    bus.execute(&id, open("13800138000"), CommandMetadata::system("t"))
        .await
        .unwrap();
    let metadata = CommandMetadata::system("phone-app");
    let first = bus.execute(&id, add(40), metadata.clone()).await.unwrap();
    let retry = bus.execute(&id, add(40), metadata.clone()).await.unwrap();
    assert!(!first.replayed);
    assert!(retry.replayed);
    assert_eq!(
        (first.stream_version, first.last_position),
        (retry.stream_version, retry.last_position)
    );
    assert_eq!(store.stream_version(&id).await.unwrap(), 2);

    // The same id for a different command is refused and writes nothing.
    let mismatch = bus.execute(&id, add(41), metadata.clone()).await;
    assert!(
        matches!(
            mismatch,
            Err(CommandError::Store(StoreError::IdempotencyMismatch { .. }))
        ),
        "{mismatch:?}"
    );
    assert_eq!(store.stream_version(&id).await.unwrap(), 2);

    // A refused command is not recorded: the same id may be used once fixed.
    let refused_id = CommandMetadata::system("t");
    let refused = bus.execute(&id, add(-1), refused_id.clone()).await;
    assert!(matches!(
        refused,
        Err(CommandError::Refused(TallyError::Negative))
    ));
    assert!(
        store
            .command_record(&refused_id.command_id.to_string())
            .await
            .unwrap()
            .is_none()
    );

    // Concurrent retries of one command: exactly one append.
    let concurrent = CommandMetadata::system("flaky-network");
    let bus = Arc::new(bus);
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (bus, id, concurrent) = (bus.clone(), id.clone(), concurrent.clone());
        tasks.push(tokio::spawn(async move {
            bus.execute(&id, add(7), concurrent).await
        }));
    }
    let mut versions = HashSet::new();
    for task in tasks {
        versions.insert(task.await.unwrap().unwrap().stream_version);
    }
    assert_eq!(versions.len(), 1, "every retry sees the same result");
    assert_eq!(store.stream_version(&id).await.unwrap(), 3);
}

async fn erasure(url: &str) {
    let store = open_store(url).await;
    let bus = tally_bus(&store);
    let id = stream();
    let basis = CommandMetadata::system("t");
    bus.execute(&id, open("13800138000"), basis).await.unwrap();
    bus.execute(&id, add(5), CommandMetadata::system("t"))
        .await
        .unwrap();
    bus.execute(&id, TallyCommand::Erase, CommandMetadata::system("t"))
        .await
        .unwrap();

    let history = bus.event_store().history(&id).await.unwrap();
    assert_eq!(
        history[0].payload,
        TallyEvent::Opened {
            phone: Personal::erased(),
            id_number: Personal::erased()
        }
    );
    assert!(
        matches!(&history[1].payload, TallyEvent::Added { amount: 5, note } if note.is_erased())
    );
    assert!(store.is_erased(&id).await.unwrap());
    assert!(
        store
            .find_by_blind_index("id_number", "11010519491231002X")
            .await
            .unwrap()
            .is_empty()
    );
    // The feed shows the same.
    let feed = read_feed(&store, 3).await;
    assert_eq!(
        feed[0].payload["phone"],
        serde_json::json!({ "erased": true })
    );
    // New personal data cannot be written for an erased person.
    let after = bus.execute(&id, add(1), CommandMetadata::system("t")).await;
    assert!(
        matches!(
            after,
            Err(CommandError::Store(StoreError::PersonalDataErased { .. }))
        ),
        "{after:?}"
    );
    // Events and chain are intact.
    let report = verify_chains(store.database(), |_| {}).await.unwrap();
    assert_eq!(
        (report.streams, report.events, report.first_broken),
        (1, 3, None)
    );
}

async fn tamper_detection(url: &str) {
    let store = open_store(url).await;
    let bus = tally_bus(&store);
    let (a, b) = (stream(), stream());
    for id in [&a, &b] {
        bus.execute(id, open("13800138000"), CommandMetadata::system("t"))
            .await
            .unwrap();
        for amount in 1..=3 {
            bus.execute(id, add(amount), CommandMetadata::system("t"))
                .await
                .unwrap();
        }
    }
    assert!(
        verify_chains(store.database(), |_| {})
            .await
            .unwrap()
            .first_broken
            .is_none()
    );

    // An intruder with database access drops the guard and edits an amount.
    with_pool!(store.database(), pool => {
        let drop = match store.database().backend() {
            shouwang_infrastructure::Backend::Sqlite => "DROP TRIGGER events_no_update",
            shouwang_infrastructure::Backend::Postgres => "DROP TRIGGER events_append_only ON events",
        };
        sqlx::query(drop).execute(pool).await.unwrap();
        sqlx::query("UPDATE events SET payload = REPLACE(payload, '\"amount\":2', '\"amount\":200') \
                     WHERE stream_id = $1 AND stream_version = 3")
            .bind(&b).execute(pool).await.unwrap();
    });
    let report = verify_chains(store.database(), |_| {}).await.unwrap();
    let broken = report.first_broken.expect("tampering must be detected");
    assert_eq!(
        (broken.stream_id.as_str(), broken.stream_version),
        (b.as_str(), 3)
    );
    assert!(broken.to_string().contains("被改动"), "{broken}");
}

async fn snapshot_not_double_counted(url: &str) {
    let store = open_store(url).await.with_snapshot_every(2);
    let bus = tally_bus(&store);
    let id = stream();
    bus.execute(&id, open("13800138000"), CommandMetadata::system("t"))
        .await
        .unwrap();
    for amount in [10, 20, 30] {
        bus.execute(&id, add(amount), CommandMetadata::system("t"))
            .await
            .unwrap();
    }
    let snapshot = store
        .load_snapshot(&id)
        .await
        .unwrap()
        .expect("snapshot at version 4");
    assert_eq!(snapshot.stream_version, 4);
    let state: Tally = serde_json::from_str(&snapshot.state).unwrap();
    let (replayed, _) = bus
        .event_store()
        .load_as_of(&id, AsOf::Version(4))
        .await
        .unwrap();
    assert_eq!(state, replayed);
    assert_eq!((state.total, state.applied), (60, 4));
}

async fn upcasting(url: &str) {
    let upcasters = Upcasters::new().register("Added", 1, |mut payload| {
        payload
            .as_object_mut()
            .ok_or("payload is not an object")?
            .insert("note".into(), serde_json::json!("（v1 无备注）"));
        Ok(payload)
    });
    let store = open_store(url)
        .await
        .with_upcasters(upcasters)
        .with_snapshot_every(0);
    let id = stream();
    let bus = tally_bus(&store);
    bus.execute(&id, open("13800138000"), CommandMetadata::system("t"))
        .await
        .unwrap();
    // A payload as version 1 of the schema wrote it, without `note`.
    let v1 = NewEvent {
        event_type: "Added".into(),
        schema_version: 1,
        payload: serde_json::json!({ "amount": 9 }),
        sealed_fields: &[],
        blind_index_terms: Vec::new(),
        erases_personal_data: false,
    };
    store.append(raw_append(&id, 1, vec![v1])).await.unwrap();

    let history = bus.event_store().history(&id).await.unwrap();
    assert_eq!(
        history[1].payload,
        TallyEvent::Added {
            amount: 9,
            note: Personal::known("（v1 无备注）".into())
        }
    );
    let feed = read_feed(&store, 2).await;
    assert_eq!(feed[1].schema_version, 2);
    assert_eq!(feed[1].payload["note"], "（v1 无备注）");
    let context = bus.event_store().load_for_decision(&id).await.unwrap();
    assert_eq!(context.aggregate.total, 9);
    // The stored row is untouched.
    let stored: (String, i32) = with_pool!(store.database(), pool => {
        sqlx::query_as("SELECT payload, schema_version FROM events WHERE stream_id = $1 AND stream_version = 2")
            .bind(&id).fetch_one(pool).await.unwrap()
    });
    assert_eq!(stored, (r#"{"amount":9}"#.to_owned(), 1));
}

async fn as_of_loading(url: &str) {
    let store = open_store(url).await;
    let bus = tally_bus(&store);
    let id = stream();
    bus.execute(&id, open("13800138000"), CommandMetadata::system("t"))
        .await
        .unwrap();
    bus.execute(&id, add(1), CommandMetadata::system("t"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let between = Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    bus.execute(&id, add(10), CommandMetadata::system("t"))
        .await
        .unwrap();
    bus.execute(&id, add(100), CommandMetadata::system("t"))
        .await
        .unwrap();

    let events = bus.event_store();
    assert_eq!(
        events
            .load_as_of(&id, AsOf::Version(3))
            .await
            .unwrap()
            .0
            .total,
        11
    );
    assert_eq!(
        events
            .load_as_of(&id, AsOf::Version(1))
            .await
            .unwrap()
            .0
            .total,
        0
    );
    let (at_time, version) = events.load_as_of(&id, AsOf::Time(between)).await.unwrap();
    assert_eq!((at_time.total, version), (1, 2));
    let (before_all, version) = events
        .load_as_of(&id, AsOf::Time(between - chrono::Duration::days(1)))
        .await
        .unwrap();
    assert_eq!((before_all, version), (Tally::default(), 0));
}

const WRITERS: usize = 8;
const COMMITS_PER_WRITER: usize = 40;

/// 8 writers append while a reader tails the feed. Some writers hold their
/// transaction open after taking a position, then commit or roll back, so on
/// PostgreSQL positions commit out of order and leave gaps.
async fn concurrent_feed(url: &str) {
    let store = open_store(url).await;
    // usize::MAX while writers run; then the number of committed events.
    let committed_total = Arc::new(std::sync::atomic::AtomicUsize::new(usize::MAX));
    let reader = {
        let store = store.clone();
        let committed_total = committed_total.clone();
        tokio::spawn(async move {
            let mut cursor = FeedCursor::START;
            let mut seen: Vec<(String, u64, i64)> = Vec::new();
            let mut idle_after_writers = 0;
            loop {
                let total = committed_total.load(std::sync::atomic::Ordering::SeqCst);
                let batch = store
                    .read_all(cursor, 17, PersonalDataMode::Withhold)
                    .await
                    .unwrap();
                for event in &batch {
                    assert!(event.cursor() > cursor, "feed went backwards");
                    cursor = event.cursor();
                    seen.push((
                        event.stream_id.clone(),
                        event.stream_version,
                        event.position,
                    ));
                }
                if batch.is_empty() {
                    // The fence may hold the feed back while other tests'
                    // transactions run; wait (bounded) rather than stop early.
                    if total != usize::MAX {
                        idle_after_writers += 1;
                        if seen.len() >= total || idle_after_writers > 5_000 {
                            return seen;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
        })
    };

    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            let mut committed: Vec<(String, u64)> = Vec::new();
            let stream_id = format!("writer-{writer}-{}", Uuid::now_v7());
            let mut version = 0_u64;
            let mut attempt = 0_u64;
            while committed.len() < COMMITS_PER_WRITER {
                attempt += 1;
                let roll_back = (attempt * 7 + writer as u64).is_multiple_of(5);
                let linger = Duration::from_millis((attempt * 13 + writer as u64 * 3) % 7);
                if roll_back || attempt.is_multiple_of(3) {
                    // A slow transaction that takes a position, waits, then
                    // commits or rolls back.
                    with_pool!(store.database(), pool => {
                        let mut tx = pool.begin().await.unwrap();
                        sqlx::query("INSERT INTO events (stream_type, stream_id, stream_version, event_type, \
                                     schema_version, payload, metadata, recorded_at, hash) \
                                     VALUES ('tally', $1, $2, 'Added', 2, '{}', '{}', '2026-01-01T00:00:00.000000Z', $3)")
                            .bind(&stream_id)
                            .bind(i64::try_from(version + 1).unwrap())
                            .bind(vec![0_u8; 32])
                            .execute(&mut *tx).await.unwrap();
                        tokio::time::sleep(linger).await;
                        if roll_back {
                            tx.rollback().await.unwrap();
                        } else {
                            tx.commit().await.unwrap();
                            version += 1;
                            committed.push((stream_id.clone(), version));
                        }
                    });
                } else {
                    let outcome = store
                        .append(raw_append(&stream_id, version, vec![raw_event(1), raw_event(2)]))
                        .await
                        .unwrap();
                    assert!(matches!(outcome, AppendOutcome::Appended(_)));
                    for _ in 0..2 {
                        version += 1;
                        committed.push((stream_id.clone(), version));
                    }
                }
            }
            committed
        }));
    }
    let mut committed = HashSet::new();
    for writer in writers {
        committed.extend(writer.await.unwrap());
    }
    committed_total.store(committed.len(), std::sync::atomic::Ordering::SeqCst);
    let seen = reader.await.unwrap();

    let mut seen_once = HashSet::new();
    let mut last_version: HashMap<String, u64> = HashMap::new();
    for (stream_id, version, _) in &seen {
        assert!(
            seen_once.insert((stream_id.clone(), *version)),
            "{stream_id} v{version} seen twice"
        );
        let previous = last_version
            .insert(stream_id.clone(), *version)
            .unwrap_or(0);
        assert_eq!(*version, previous + 1, "{stream_id} out of version order");
    }
    assert_eq!(
        seen_once, committed,
        "the reader saw exactly the committed events"
    );
    assert!(committed.len() >= WRITERS * COMMITS_PER_WRITER);
    println!(
        "concurrent feed: {WRITERS} writers, {} committed events, all seen once",
        committed.len()
    );
}

// Snapshot + tail == full replay, for random command sequences.
proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn snapshot_plus_tail_equals_full_replay(
        amounts in proptest::collection::vec(-3_i64..50, 1..25),
        every in 1_u64..6,
    ) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let sqlite = shouwang_testkit::sqlite_database();
            let postgres = shouwang_testkit::postgres_database().await;
            for url in [sqlite.url(), postgres.url()] {
                let store = open_store(url).await.with_snapshot_every(every);
                let bus = tally_bus(&store);
                let id = stream();
                bus.execute(&id, open("13800138000"), CommandMetadata::system("p")).await.unwrap();
                for amount in &amounts {
                    // Negative amounts are refused and must change nothing.
                    let _ = bus.execute(&id, add(*amount), CommandMetadata::system("p")).await;
                }
                let from_snapshot = bus.event_store().load_for_decision(&id).await.unwrap();
                let (replayed, version) = bus.event_store().load_as_of(&id, AsOf::Version(10_000)).await.unwrap();
                assert_eq!(from_snapshot.aggregate, replayed);
                assert_eq!(from_snapshot.version, version);
                let expected: i64 = amounts.iter().filter(|a| **a >= 0).sum();
                assert_eq!(replayed.total, expected);
            }
        });
    }
}
