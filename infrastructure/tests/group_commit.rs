//! Group commit and the aggregate cache: appends that share a transaction
//! keep their own outcomes, and a state cached by one process never lets a
//! write of another slip by. Run on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use shouwang_infrastructure::store::{Append, AppendOutcome, NewEvent};
use shouwang_infrastructure::{CommandMetadata, StoreError, verify_chains, with_pool};
use shouwang_testkit::on_both_backends;
use support::*;
use uuid::Uuid;

on_both_backends! {
    concurrent_appends_keep_their_own_outcomes => concurrent_appends;
    a_batch_commits_together_and_a_refused_append_takes_nothing_down => batch_outcomes;
    a_state_cached_by_one_process_yields_to_another_processes_write => stale_cache;
}

fn stream() -> String {
    Uuid::now_v7().to_string()
}

fn event(amount: i64) -> NewEvent {
    NewEvent {
        event_type: "Added".into(),
        schema_version: 2,
        payload: serde_json::json!({ "amount": amount, "note": "" }),
        sealed_fields: &[],
        blind_index_terms: Vec::new(),
        erases_personal_data: false,
    }
}

fn append(stream_id: &str, expected_version: u64, command: Option<&str>) -> Append<'static> {
    Append {
        stream_type: "tally",
        stream_id: Box::leak(stream_id.to_owned().into_boxed_str()),
        expected_version,
        events: vec![event(1), event(2)],
        metadata: BTreeMap::new(),
        command: command.map(|id| (id.to_owned(), "fingerprint".to_owned())),
        snapshot: None,
    }
}

async fn stored_events(store: &shouwang_infrastructure::Store, stream_id: &str) -> i64 {
    with_pool!(store.database(), pool => {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM events WHERE stream_id = $1")
            .bind(stream_id)
            .fetch_one(pool)
            .await
            .unwrap()
    })
}

async fn concurrent_appends(url: &str) {
    let store = open_store(url).await;
    let contested = stream();
    store.append(append(&contested, 0, None)).await.unwrap();
    let (twin_a, twin_b) = (stream(), stream());
    let fresh: Vec<String> = (0..40).map(|_| stream()).collect();

    // All at once: 40 independent appends, two writers that both decided on
    // version 2 of one stream, and two appends carrying the same command id.
    let mut tasks = Vec::new();
    for id in fresh
        .iter()
        .chain([&contested, &contested, &twin_a, &twin_b])
    {
        let store = store.clone();
        let (id, contested) = (id.clone(), id == &contested);
        let twin = id == twin_a || id == twin_b;
        tasks.push(tokio::spawn(async move {
            let outcome = match (contested, twin) {
                (true, _) => store.append(append(&id, 2, None)).await,
                (_, true) => store.append(append(&id, 0, Some("twin-command"))).await,
                _ => store.append(append(&id, 0, None)).await,
            };
            (id, outcome)
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }

    for id in &fresh {
        let (_, outcome) = outcomes.iter().find(|(i, _)| i == id).unwrap();
        match outcome {
            Ok(AppendOutcome::Appended(events)) => {
                let versions: Vec<u64> = events.iter().map(|e| e.stream_version).collect();
                assert_eq!(versions, vec![1, 2]);
            }
            other => panic!("an independent append must land: {other:?}"),
        }
    }
    let contested_outcomes: Vec<_> = outcomes.iter().filter(|(i, _)| *i == contested).collect();
    let won = contested_outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Ok(AppendOutcome::Appended(_))))
        .count();
    let lost = contested_outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Err(StoreError::Conflict { version: 3, .. })))
        .count();
    assert_eq!((won, lost), (1, 1), "{contested_outcomes:?}");
    assert_eq!(stored_events(&store, &contested).await, 4);

    let twins: Vec<_> = outcomes
        .iter()
        .filter(|(i, _)| *i == twin_a || *i == twin_b)
        .collect();
    let duplicate = twins
        .iter()
        .find(|(_, o)| matches!(o, Ok(AppendOutcome::DuplicateCommand)))
        .expect("one of the two appends with one command id is a duplicate");
    assert!(
        twins
            .iter()
            .any(|(_, o)| matches!(o, Ok(AppendOutcome::Appended(_)))),
        "{twins:?}"
    );
    assert_eq!(stored_events(&store, &duplicate.0).await, 0);

    let report = verify_chains(store.database(), |_| {}).await.unwrap();
    assert_eq!((report.events, report.first_broken), (40 * 2 + 4 + 2, None));
}

async fn batch_outcomes(url: &str) {
    let store = open_store(url).await;
    let existing = stream();
    store.append(append(&existing, 0, None)).await.unwrap();
    let (a, c, d) = (stream(), stream(), stream());

    let together = store
        .append_batch(vec![append(&a, 0, None), append(&c, 0, Some("c"))])
        .await;
    let txids: Vec<i64> = together
        .iter()
        .flat_map(|o| match o {
            Ok(AppendOutcome::Appended(events)) => {
                events.iter().map(|e| e.txid).collect::<Vec<_>>()
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(txids.len(), 4);
    assert!(
        txids.iter().all(|t| *t == txids[0]),
        "one transaction: {txids:?}"
    );

    // One append of the batch decided on a version the stream has passed;
    // another repeats a recorded command id. The rest still land.
    let outcomes = store
        .append_batch(vec![
            append(&d, 0, None),
            append(&existing, 0, None),
            append(&stream(), 0, Some("c")),
        ])
        .await;
    assert!(matches!(outcomes[0], Ok(AppendOutcome::Appended(_))));
    assert!(
        matches!(&outcomes[1], Err(StoreError::Conflict { stream_id, version: 1 }) if *stream_id == existing),
        "{:?}",
        outcomes[1]
    );
    assert!(matches!(outcomes[2], Ok(AppendOutcome::DuplicateCommand)));
    assert_eq!(stored_events(&store, &existing).await, 2);
    assert_eq!(stored_events(&store, &d).await, 2);
    let report = verify_chains(store.database(), |_| {}).await.unwrap();
    assert_eq!((report.events, report.first_broken), (8, None));
}

async fn stale_cache(url: &str) {
    let store = open_store(url).await;
    // Two buses with caches of their own stand for two server processes.
    let here = Arc::new(tally_bus(&store));
    let there = tally_bus(&store);
    let id = stream();
    here.execute(&id, open("13800138000"), CommandMetadata::system("t"))
        .await
        .unwrap();
    here.execute(&id, add(1), CommandMetadata::system("t"))
        .await
        .unwrap();
    // The other process writes behind this one's cached state.
    there
        .execute(&id, add(2), CommandMetadata::system("t"))
        .await
        .unwrap();
    // Deciding on the stale state conflicts; the retry loads afresh.
    let receipt = here
        .execute(&id, add(4), CommandMetadata::system("t"))
        .await
        .unwrap();
    assert_eq!(receipt.stream_version, Some(4));
    let (state, version) = here
        .event_store()
        .load_as_of(&id, shouwang_infrastructure::AsOf::Version(100))
        .await
        .unwrap();
    assert_eq!((state.total, version), (7, 4));

    // Commands of this process on one stream take turns on its cache entry,
    // so twenty at once all land (a bus retries a conflict only once).
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let here = here.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            here.execute(&id, add(1), CommandMetadata::system("t"))
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let context = here.event_store().load_for_decision(&id).await.unwrap();
    assert_eq!((context.aggregate.total, context.version), (27, 24));
    let report = verify_chains(store.database(), |_| {}).await.unwrap();
    assert_eq!((report.events, report.first_broken), (24, None));
}
