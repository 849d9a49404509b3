//! The same command workload as `shouwang-bench` (open a case, record a
//! visit), through postgres-es 0.5's `CqrsFramework` on the same `CareCase`
//! aggregate. Prints one JSON line per concurrency level.
//!
//! Usage: shouwang-bench-peer URL CASES_PER_LEVEL CLIENTS...

#[path = "../../src/workload.rs"]
#[allow(dead_code)]
mod workload;

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use postgres_es::postgres_cqrs;
use shouwang_domain::CareCase;
use sqlx::postgres::PgPoolOptions;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    aggregate_type text NOT NULL,
    aggregate_id   text NOT NULL,
    sequence       bigint CHECK (sequence >= 0) NOT NULL,
    event_type     text NOT NULL,
    event_version  text NOT NULL,
    payload        json NOT NULL,
    metadata       json NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);
CREATE TABLE IF NOT EXISTS snapshots (
    aggregate_type   text NOT NULL,
    aggregate_id     text NOT NULL,
    last_sequence    bigint CHECK (last_sequence >= 0) NOT NULL,
    current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL,
    payload          json NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, last_sequence)
);";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, cases, clients @ ..] = args.as_slice() else {
        anyhow::bail!("usage: shouwang-bench-peer URL CASES_PER_LEVEL CLIENTS...");
    };
    let cases: u64 = cases.parse().context("cases")?;
    // The same pool size as shouwang's PostgreSQL pool.
    let pool = PgPoolOptions::new()
        .max_connections(32)
        .connect(url)
        .await
        .context("connect")?;
    sqlx::raw_sql(SCHEMA)
        .execute(&pool)
        .await
        .context("schema")?;
    let cqrs = Arc::new(postgres_cqrs::<CareCase>(pool.clone(), Vec::new(), ()));
    let mut first_index = 0;
    for clients in clients {
        let clients: usize = clients.parse().context("clients")?;
        let jobs = workload::command_jobs(clients, cases, first_index);
        first_index += cases;
        let cqrs = cqrs.clone();
        let stats = workload::run_clients(jobs, move |(id, command)| {
            let cqrs = cqrs.clone();
            async move {
                let metadata = HashMap::from([
                    ("actor".to_owned(), "bench".to_owned()),
                    ("command_id".to_owned(), uuid::Uuid::now_v7().to_string()),
                ]);
                cqrs.execute_with_metadata(&id.to_string(), command, metadata)
                    .await
                    .map_err(|e| anyhow::anyhow!("postgres-es: {e}"))
            }
        })
        .await?;
        let line = serde_json::json!({
            "clients": clients,
            "commands": stats.operations,
            "seconds": stats.seconds,
            "p50_ms": stats.p50_ms,
            "p99_ms": stats.p99_ms,
        });
        println!("{line}");
    }
    pool.close().await;
    Ok(())
}
