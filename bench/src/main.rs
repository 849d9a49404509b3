//! `shouwang-bench`: measures shouwang side by side with the raw database
//! ceiling and with postgres-es, in one run, and writes the table to
//! `docs/PERFORMANCE.md` (between the `bench:begin`/`bench:end` markers).
//!
//! ```text
//! cargo run --release -p shouwang-bench -- [--quick] [--postgres-url URL] [--only PARTS]
//! ```
//!
//! `--only verify,http` runs just those parts (see [`Part`]); a partial run
//! prints its table but leaves `docs/PERFORMANCE.md` alone unless
//! `--output` names a file.
//!
//! Speed is measured here, never asserted in tests. Every figure that matters
//! is a ratio of two measurements taken in the same run.
#![allow(clippy::print_stdout)]

mod http;
mod workload;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use cqrs_es::{Aggregate, EventStore};
use shouwang_domain::CareCase;
use shouwang_infrastructure::{
    AsOf, CommandMetadata, Database, FeedCursor, MasterKey, PersonalDataMode, SqlEventStore, Store,
    care_case_bus, verify_chains,
};
use sqlx::sqlite::SqliteSynchronous;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use uuid::Uuid;

use workload::{RunStats, percentile, run_clients};

const SYSTEM_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";
const CLIENTS: [usize; 3] = [1, 8, 32];
/// Size of an event-sized row's payload in the ceiling table.
const CEILING_PAYLOAD_BYTES: usize = 600;
const FEED_BATCH: u32 = 2_000;

#[derive(Debug, Parser)]
#[command(about = "Benchmark shouwang against the database ceiling and postgres-es")]
struct Args {
    /// Smaller workloads (minutes instead of the full run).
    #[arg(long)]
    quick: bool,
    /// PostgreSQL server where the bench may CREATE DATABASE. Default: the
    /// system server at postgres://postgres@127.0.0.1:5432/test when
    /// reachable, else a throwaway cluster (fsync=off: not durable).
    #[arg(long, env = "DATABASE_URL")]
    postgres_url: Option<String>,
    /// Cases of the command-path workload, split evenly over the 1/8/32
    /// client levels (default 10,000; 1,000 with --quick).
    #[arg(long)]
    cases: Option<u64>,
    /// Events in the feed / rebuild / verify data set (default 1,000,000;
    /// 20,000 with --quick).
    #[arg(long)]
    events: Option<u64>,
    /// Skip the postgres-es peer.
    #[arg(long)]
    skip_peer: bool,
    /// Where to write the table (default docs/PERFORMANCE.md of the repo).
    #[arg(long)]
    output: Option<PathBuf>,
    /// Print only, do not write the file.
    #[arg(long)]
    no_write: bool,
    /// Run only these parts (comma-separated), e.g. `--only verify`.
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Part>,
    /// Seconds per HTTP mix (default 10; 3 with --quick).
    #[arg(long)]
    http_seconds: Option<u64>,
}

/// The parts of the bench, for `--only`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Part {
    /// 1–3: the ceiling, our command path, the postgres-es peer.
    Write,
    /// 4 and 8: aggregate load and state as of T.
    Load,
    /// 5: feed read.
    Feed,
    /// 5: projection rebuild.
    Rebuild,
    /// 6: hash-chain verification.
    Verify,
    /// 7: HTTP at 64 connections.
    Http,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn master_key() -> MasterKey {
    MasterKey::from_bytes([7; 32])
}

// ---------------------------------------------------------------- servers --

/// Where fresh PostgreSQL databases come from.
#[derive(Debug)]
enum PgServer {
    /// A server we may `CREATE DATABASE` on; the databases are dropped at the end.
    Admin {
        admin_url: String,
        created: Vec<String>,
    },
    /// shouwang-testkit's throwaway cluster (fsync=off, synchronous_commit=off).
    Throwaway {
        databases: Vec<shouwang_testkit::PgTestDatabase>,
    },
}

fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let prefix = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{prefix}/{name}?{query}"),
        None => format!("{prefix}/{name}"),
    }
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if url[scheme + 3..at].contains(':') => {
            format!("{}***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

async fn reachable(url: &str) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_secs(3), PgConnection::connect(url)).await,
        Ok(Ok(_))
    )
}

impl PgServer {
    async fn choose(explicit: Option<&str>) -> anyhow::Result<(Self, String)> {
        if let Some(url) = explicit {
            if !reachable(url).await {
                bail!("cannot connect to PostgreSQL at {}", redact(url));
            }
            return Ok((
                PgServer::Admin {
                    admin_url: url.to_owned(),
                    created: Vec::new(),
                },
                format!("{} (--postgres-url / DATABASE_URL)", redact(url)),
            ));
        }
        if reachable(SYSTEM_POSTGRES).await {
            return Ok((
                PgServer::Admin {
                    admin_url: SYSTEM_POSTGRES.to_owned(),
                    created: Vec::new(),
                },
                format!("system server {SYSTEM_POSTGRES}"),
            ));
        }
        Ok((
            PgServer::Throwaway {
                databases: Vec::new(),
            },
            "shouwang-testkit throwaway cluster (fsync=off, synchronous_commit=off: NOT durable)"
                .to_owned(),
        ))
    }

    async fn fresh(&mut self) -> anyhow::Result<String> {
        match self {
            PgServer::Admin { admin_url, created } => {
                let name = format!("shouwang_bench_{}", Uuid::now_v7().simple());
                let mut conn = PgConnection::connect(admin_url).await?;
                sqlx::raw_sql(AssertSqlSafe(format!(
                    "CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' \
                     LC_COLLATE 'C' LC_CTYPE 'C'"
                )))
                .execute(&mut conn)
                .await
                .context("CREATE DATABASE")?;
                conn.close().await?;
                created.push(name.clone());
                Ok(with_database(admin_url, &name))
            }
            PgServer::Throwaway { databases } => {
                let db = shouwang_testkit::postgres_database().await;
                let url = db.url().to_owned();
                databases.push(db);
                Ok(url)
            }
        }
    }

    async fn drop_all(&mut self) {
        if let PgServer::Admin { admin_url, created } = self
            && let Ok(mut conn) = PgConnection::connect(admin_url).await
        {
            for name in created.drain(..) {
                let _ = sqlx::raw_sql(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await;
            }
        }
    }
}

/// SQLite with the store's options, at the given `synchronous` level.
async fn sqlite_database(path: &Path, synchronous: SqliteSynchronous) -> anyhow::Result<Database> {
    let options =
        Database::sqlite_options(&format!("sqlite://{}", path.display()))?.synchronous(synchronous);
    Ok(Database::connect_sqlite(options).await?)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Postgres,
    SqliteFull,
    SqliteNormal,
}

impl Target {
    fn label(self) -> &'static str {
        match self {
            Target::Postgres => "PostgreSQL",
            Target::SqliteFull => "SQLite WAL synchronous=FULL",
            Target::SqliteNormal => "SQLite WAL synchronous=NORMAL",
        }
    }
}

#[derive(Debug)]
struct Databases {
    pg: PgServer,
    dir: tempfile::TempDir,
}

impl Databases {
    async fn fresh(&mut self, target: Target) -> anyhow::Result<(Database, String)> {
        match target {
            Target::Postgres => {
                let url = self.pg.fresh().await?;
                let db = Database::connect(&url).await?;
                db.migrate().await?;
                Ok((db, url))
            }
            Target::SqliteFull | Target::SqliteNormal => {
                let path = self
                    .dir
                    .path()
                    .join(format!("{}.db", Uuid::now_v7().simple()));
                let sync = if target == Target::SqliteFull {
                    SqliteSynchronous::Full
                } else {
                    SqliteSynchronous::Normal
                };
                let db = sqlite_database(&path, sync).await?;
                db.migrate().await?;
                Ok((db, path.display().to_string()))
            }
        }
    }
}

// ---------------------------------------------------------------- machine --

fn read_file(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn machine_rows(sqlite_dir: &Path) -> Vec<(String, String)> {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get().to_string())
        .unwrap_or_else(|_| "?".to_owned());
    let cpu = read_file("/proc/cpuinfo")
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "?".to_owned());
    let memory = read_file("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0))
        .unwrap_or_else(|| "?".to_owned());
    let kernel = read_file("/proc/sys/kernel/osrelease").trim().to_owned();
    let dir = sqlite_dir.display().to_string();
    let mounts = read_file("/proc/mounts");
    let fs = mounts
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let (_dev, mount, fs) = (parts.next()?, parts.next()?, parts.next()?);
            dir.starts_with(mount)
                .then(|| (mount.len(), format!("{fs} ({mount})")))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, fs)| fs)
        .unwrap_or_else(|| "?".to_owned());
    vec![
        ("CPU".to_owned(), format!("{cores} cores, {cpu}")),
        ("memory".to_owned(), memory),
        ("kernel".to_owned(), kernel),
        ("SQLite files".to_owned(), format!("{dir} on {fs}")),
    ]
}

async fn postgres_rows(url: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut conn = PgConnection::connect(url).await?;
    let version: String = sqlx::query_scalar("SELECT version()")
        .fetch_one(&mut conn)
        .await?;
    let settings: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, setting || COALESCE(' ' || unit, '') FROM pg_settings WHERE name IN \
         ('synchronous_commit', 'fsync', 'full_page_writes', 'wal_sync_method', 'commit_delay', \
          'shared_buffers', 'max_connections') ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await?;
    conn.close().await?;
    Ok(vec![
        ("PostgreSQL".to_owned(), version),
        (
            "PostgreSQL settings".to_owned(),
            settings
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", "),
        ),
    ])
}

async fn sqlite_version(db: &Database) -> anyhow::Result<String> {
    match db {
        Database::Sqlite { pool, .. } => Ok(sqlx::query_scalar("SELECT sqlite_version()")
            .fetch_one(pool)
            .await?),
        Database::Postgres { .. } => Ok(String::new()),
    }
}

// ---------------------------------------------------------------- ceiling --

const CEILING_TABLE: &str = "CREATE TABLE ceiling_events (
    position       INTEGER PRIMARY KEY,
    stream_type    TEXT NOT NULL,
    stream_id      TEXT NOT NULL,
    stream_version BIGINT NOT NULL,
    event_type     TEXT NOT NULL,
    payload        TEXT NOT NULL,
    metadata       TEXT NOT NULL,
    recorded_at    TEXT NOT NULL,
    hash           BLOB NOT NULL,
    UNIQUE (stream_id, stream_version))";
const CEILING_TABLE_PG: &str = "CREATE TABLE ceiling_events (
    position       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_type    TEXT NOT NULL,
    stream_id      TEXT NOT NULL,
    stream_version BIGINT NOT NULL,
    event_type     TEXT NOT NULL,
    payload        TEXT NOT NULL,
    metadata       TEXT NOT NULL,
    recorded_at    TEXT NOT NULL,
    hash           BYTEA NOT NULL,
    UNIQUE (stream_id, stream_version))";
const CEILING_INSERT: &str = "INSERT INTO ceiling_events (stream_type, stream_id, stream_version, \
     event_type, payload, metadata, recorded_at, hash) VALUES ($1, $2, 1, $3, $4, $5, $6, $7)";

/// Plain single-row INSERT transactions (autocommit) of an event-sized row.
/// SQLite writers take an in-process lock first, exactly like the store.
async fn ceiling(db: &Database, clients: usize, inserts: u64) -> anyhow::Result<RunStats> {
    let payload: Arc<str> = Arc::from("x".repeat(CEILING_PAYLOAD_BYTES));
    let jobs: Vec<Vec<u64>> = (0..clients)
        .map(|c| {
            (0..inserts)
                .filter(|i| (*i % clients as u64) as usize == c)
                .collect()
        })
        .collect();
    let db = db.clone();
    run_clients(jobs, move |_| {
        let db = db.clone();
        let payload = payload.clone();
        async move {
            let stream_id = Uuid::now_v7().to_string();
            let metadata = r#"{"actor":"bench","command_id":"0190b6a4-0000-7000-8000-000000000000","role":"system"}"#;
            let now = "2026-11-30T08:00:00.000000Z";
            let hash = [9u8; 32];
            match &db {
                Database::Sqlite { pool, write_lock } => {
                    let _guard = write_lock.lock().await;
                    sqlx::query(CEILING_INSERT)
                        .bind("care_case")
                        .bind(&stream_id)
                        .bind("VisitRecorded")
                        .bind(&*payload)
                        .bind(metadata)
                        .bind(now)
                        .bind(&hash[..])
                        .execute(pool)
                        .await?;
                }
                Database::Postgres { pool } => {
                    sqlx::query(CEILING_INSERT)
                        .bind("care_case")
                        .bind(&stream_id)
                        .bind("VisitRecorded")
                        .bind(&*payload)
                        .bind(metadata)
                        .bind(now)
                        .bind(&hash[..])
                        .execute(pool)
                        .await?;
                }
            }
            anyhow::Ok(())
        }
    })
    .await
}

async fn create_ceiling_table(db: &Database) -> anyhow::Result<()> {
    match db {
        Database::Sqlite { pool, .. } => {
            sqlx::raw_sql(CEILING_TABLE).execute(pool).await?;
        }
        Database::Postgres { pool } => {
            sqlx::raw_sql(CEILING_TABLE_PG).execute(pool).await?;
        }
    }
    Ok(())
}

// ------------------------------------------------------------ read ceiling --

/// Every event row, keyset-paged like the feed (same columns, order and
/// batch size), fetched into plain column values and decoded no further.
async fn read_rows_raw(db: &Database) -> anyhow::Result<u64> {
    type RawRow = (
        i64,
        i64,
        String,
        String,
        i64,
        String,
        i32,
        String,
        Option<Vec<u8>>,
        String,
        String,
    );
    const COLUMNS: &str = "position, txid, stream_type, stream_id, stream_version, event_type, \
         schema_version, payload, sealed, metadata, recorded_at";
    let mut cursor = (0_i64, 0_i64);
    let mut read = 0u64;
    loop {
        let rows: Vec<RawRow> =
            match db {
                Database::Postgres { pool } => {
                    sqlx::query_as(AssertSqlSafe(format!(
                        "SELECT {COLUMNS} FROM events WHERE (txid, position) > ($1, $2) \
                     AND txid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint \
                     ORDER BY txid, position LIMIT $3"
                    )))
                    .bind(cursor.0)
                    .bind(cursor.1)
                    .bind(i64::from(FEED_BATCH))
                    .fetch_all(pool)
                    .await?
                }
                Database::Sqlite { pool, .. } => sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2"
                )))
                .bind(cursor.1)
                .bind(i64::from(FEED_BATCH))
                .fetch_all(pool)
                .await?,
            };
        let Some(last) = rows.last() else { break };
        cursor = (last.1, last.0);
        read += rows.len() as u64;
    }
    Ok(read)
}

// ----------------------------------------------------------- command path --

async fn command_path(
    store: &Store,
    clients: usize,
    cases: u64,
    first_index: u64,
) -> anyhow::Result<RunStats> {
    let bus = Arc::new(care_case_bus(store));
    let jobs = workload::command_jobs(clients, cases, first_index);
    run_clients(jobs, move |(id, command)| {
        let bus = bus.clone();
        async move {
            bus.execute(&id.to_string(), command, CommandMetadata::system("bench"))
                .await
                .map(|_| ())
                .map_err(|e| anyhow::anyhow!("command failed: {e}"))
        }
    })
    .await
}

/// Builds (once) and runs the postgres-es peer for one concurrency level.
fn peer_binary() -> anyhow::Result<PathBuf> {
    let manifest = repo_root().join("bench/peer/Cargo.toml");
    let status = std::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()))
        .args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .status()
        .context("building bench/peer")?;
    if !status.success() {
        bail!("building bench/peer failed");
    }
    Ok(repo_root().join("bench/peer/target/release/shouwang-bench-peer"))
}

fn run_peer(binary: &Path, url: &str, clients: usize, cases: u64) -> anyhow::Result<RunStats> {
    let output = std::process::Command::new(binary)
        .arg(url)
        .arg(cases.to_string())
        .arg(clients.to_string())
        .output()
        .context("running the peer")?;
    if !output.status.success() {
        bail!(
            "peer failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let line: serde_json::Value = serde_json::from_str(text.lines().last().unwrap_or("{}"))?;
    let get = |k: &str| {
        line.get(k)
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(0.0)
    };
    Ok(RunStats {
        operations: get("commands") as u64,
        seconds: get("seconds"),
        p50_ms: get("p50_ms"),
        p99_ms: get("p99_ms"),
    })
}

// -------------------------------------------------------- bulk data sets --

/// Appends `events` events to one new case (an `OpenCase` then visits) in
/// transactions of `batch` events, through the cqrs-es event store.
async fn write_case(
    events_store: &SqlEventStore<CareCase>,
    index: u64,
    events: u64,
    batch: u64,
) -> anyhow::Result<String> {
    let id = Uuid::now_v7().to_string();
    let mut written = 0;
    while written < events {
        let mut context = events_store.load_for_decision(&id).await?;
        let mut new_events = Vec::new();
        for k in 0..batch.min(events - written) {
            let command = if written + k == 0 {
                workload::open_case(index)
            } else {
                workload::record_visit(written + k)
            };
            for event in context
                .aggregate
                .decide(&command)
                .map_err(|e| anyhow::anyhow!("{e}"))?
            {
                context.aggregate.apply(event.clone());
                new_events.push(event);
            }
        }
        written += new_events.len() as u64;
        events_store
            .commit(new_events, context, HashMap::new())
            .await
            .map_err(|e| anyhow::anyhow!("append: {e}"))?;
    }
    Ok(id)
}

fn time_ms(samples: &mut [Duration]) -> (f64, f64) {
    samples.sort_unstable();
    (percentile(samples, 50.0), percentile(samples, 99.0))
}

// ----------------------------------------------------------------- report --

#[derive(Debug, Default)]
struct Report {
    out: String,
}

impl Report {
    fn line(&mut self, text: impl AsRef<str>) {
        println!("{}", text.as_ref());
        self.out.push_str(text.as_ref());
        self.out.push('\n');
    }

    fn table(&mut self, header: &[&str]) {
        self.line(format!("| {} |", header.join(" | ")));
        self.line(format!(
            "|{}",
            header.iter().map(|_| " --- |").collect::<String>()
        ));
    }

    fn row(&mut self, cells: &[String]) {
        self.line(format!("| {} |", cells.join(" | ")));
    }
}

fn rate(x: f64) -> String {
    let whole = x.round() as u64;
    let digits = whole.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ms(x: f64) -> String {
    format!("{x:.2}")
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}", a / b)
    } else {
        "–".to_owned()
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

#[derive(Debug, Default)]
struct Figures {
    /// (target, clients) -> (ceiling, ours)
    write: HashMap<(&'static str, usize), (RunStats, RunStats)>,
    peer: HashMap<usize, RunStats>,
    feed: HashMap<&'static str, f64>,
    rebuild: HashMap<&'static str, f64>,
    verify: HashMap<&'static str, f64>,
    load_10k_snapshot_p99: HashMap<&'static str, f64>,
    as_of_p99: HashMap<&'static str, f64>,
    /// (target, mix) -> stats
    http: HashMap<(&'static str, &'static str), http::HttpStats>,
}

// ------------------------------------------------------------------- main --

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let cases = args
        .cases
        .unwrap_or(if args.quick { 1_000 } else { 10_000 });
    let cases_per_level = (cases / CLIENTS.len() as u64).max(1);
    let ceiling_inserts = if args.quick { 1_000 } else { 10_000 };
    let feed_events = args
        .events
        .unwrap_or(if args.quick { 20_000 } else { 1_000_000 });
    let mode = if args.quick { "quick" } else { "full" };

    let (pg, pg_label) = PgServer::choose(args.postgres_url.as_deref()).await?;
    let mut dbs = Databases {
        pg,
        dir: tempfile::Builder::new()
            .prefix("shouwang-bench-")
            .tempdir_in(std::env::temp_dir())?,
    };
    let only = args.only.clone();
    let runs = |part: Part| only.is_empty() || only.contains(&part);
    let peer = if args.skip_peer || !runs(Part::Write) {
        None
    } else {
        eprintln!("building the postgres-es peer (bench/peer) …");
        Some(peer_binary()?)
    };

    let started = Instant::now();
    let mut report = Report::default();
    let mut figures = Figures::default();
    let command = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    report.line(format!(
        "Run `cargo run --release -p shouwang-bench --{}{}` ({mode} mode) on {} UTC.",
        if command.is_empty() { "" } else { " " },
        redact(&command),
        chrono::Utc::now().format("%Y-%m-%d %H:%M")
    ));
    report.line("");

    // Machine.
    let (probe, _) = dbs.fresh(Target::SqliteFull).await?;
    let sqlite_v = sqlite_version(&probe).await?;
    probe.close().await;
    let probe_url = dbs.pg.fresh().await?;
    report.line("### Machine");
    report.line("");
    report.table(&["", ""]);
    for (k, v) in machine_rows(dbs.dir.path()) {
        report.row(&[k, v]);
    }
    report.row(&["PostgreSQL server".to_owned(), pg_label.clone()]);
    for (k, v) in postgres_rows(&probe_url).await? {
        report.row(&[k, v]);
    }
    report.row(&[
        "SQLite".to_owned(),
        format!("{sqlite_v} (sqlx 0.9 bundled), WAL, busy_timeout 10 s, 8 connections"),
    ]);
    report.line("");

    // 1–3: ceiling, command path, peer.
    if runs(Part::Write) {
        report.line("### 1–3. Writes: the ceiling, our command path, the peer");
        report.line("");
        report.line(format!(
        "Ceiling: {ceiling_inserts} autocommit single-row INSERTs of an event-sized row \
         ({CEILING_PAYLOAD_BYTES}-byte payload, same columns and unique key as `events`) per level. \
         Command path: `CommandBus` (`care_case_bus`: idempotency check, load, decide, append \
         with sealing + hash chain + idempotency record, receipt) — {cases_per_level} fresh cases per level, \
         each `OpenCase` then `RecordVisit` ({} commands per level; {} cases in all). \
         Peer: postgres-es 0.5 `postgres_cqrs` on the same `CareCase` aggregate and the same \
         commands, a fresh database on the same server, pool of 32 like ours. \
         SQLite writers (ceiling and store) queue on one in-process lock.",
        cases_per_level * 2,
        cases_per_level * CLIENTS.len() as u64
    ));
        report.line("");
        report.table(&[
            "backend",
            "clients",
            "ceiling inserts/s",
            "ours commands/s",
            "ours / ceiling",
            "ours p50 ms",
            "ours p99 ms",
            "postgres-es commands/s",
            "ours / postgres-es",
            "postgres-es p50 ms",
            "postgres-es p99 ms",
        ]);
        for target in [Target::Postgres, Target::SqliteFull, Target::SqliteNormal] {
            let (ceiling_db, _) = dbs.fresh(target).await?;
            create_ceiling_table(&ceiling_db).await?;
            let (store_db, _) = dbs.fresh(target).await?;
            let store = Store::new(store_db.clone(), master_key());
            let peer_url = match (&peer, target) {
                (Some(_), Target::Postgres) => Some(dbs.pg.fresh().await?),
                _ => None,
            };
            for (level, clients) in CLIENTS.into_iter().enumerate() {
                eprintln!("{} at {clients} clients …", target.label());
                let top = ceiling(&ceiling_db, clients, ceiling_inserts).await?;
                let ours = command_path(
                    &store,
                    clients,
                    cases_per_level,
                    level as u64 * cases_per_level,
                )
                .await?;
                let peer_stats = match (&peer, &peer_url) {
                    (Some(binary), Some(url)) => {
                        Some(run_peer(binary, url, clients, cases_per_level)?)
                    }
                    _ => None,
                };
                let (peer_rate, peer_ratio, peer_p50, peer_p99) = match peer_stats {
                    Some(p) => {
                        figures.peer.insert(clients, p);
                        (
                            rate(p.per_second()),
                            ratio(ours.per_second(), p.per_second()),
                            ms(p.p50_ms),
                            ms(p.p99_ms),
                        )
                    }
                    None => ("–".into(), "–".into(), "–".into(), "–".into()),
                };
                report.row(&[
                    target.label().to_owned(),
                    clients.to_string(),
                    rate(top.per_second()),
                    rate(ours.per_second()),
                    ratio(ours.per_second(), top.per_second()),
                    ms(ours.p50_ms),
                    ms(ours.p99_ms),
                    peer_rate,
                    peer_ratio,
                    peer_p50,
                    peer_p99,
                ]);
                figures.write.insert((target.label(), clients), (top, ours));
            }
            ceiling_db.close().await;
            store_db.close().await;
        }
        report.line("");
    }

    // 4 and 8: aggregate load, state as of T.
    if runs(Part::Load) {
        report.line(
            "### 4. Aggregate load (`load_for_decision`) and 8. state as of T (`load_as_of`)",
        );
        report.line("");
        report.line(
            "One case per size, written in transactions of 500 events through the cqrs-es event \
         store (sealing, hash chain). \"snapshot\": written by a store with snapshots every 100 \
         events (so the 1,000- and 10,000-event cases load a snapshot plus 0 events, the \
         10-event case has none); \"no snapshot\": written with snapshots off, full replay.",
        );
        report.line("");
        report.table(&["backend", "events", "snapshot", "reps", "p50 ms", "p99 ms"]);
        let mut as_of_rows = Vec::new();
        for target in [Target::Postgres, Target::SqliteFull] {
            let (db, _) = dbs.fresh(target).await?;
            for snapshot_every in [100, 0] {
                let store =
                    Store::new(db.clone(), master_key()).with_snapshot_every(snapshot_every);
                let events_store = SqlEventStore::<CareCase>::new(store.clone());
                for (i, size) in [10u64, 1_000, 10_000].into_iter().enumerate() {
                    let id = write_case(&events_store, i as u64, size, 500).await?;
                    let reps = match (size, snapshot_every, args.quick) {
                        (10_000, 0, true) => 10,
                        (10_000, 0, false) => 30,
                        (_, _, true) => 50,
                        _ => 200,
                    };
                    let mut samples = Vec::new();
                    for _ in 0..reps {
                        let t = Instant::now();
                        let context = events_store.load_for_decision(&id).await?;
                        samples.push(t.elapsed());
                        if context.version != size {
                            bail!("loaded version {} of {size}", context.version);
                        }
                    }
                    let (p50, p99) = time_ms(&mut samples);
                    if size == 10_000 && snapshot_every > 0 {
                        figures.load_10k_snapshot_p99.insert(target.label(), p99);
                    }
                    report.row(&[
                        target.label().to_owned(),
                        rate(size as f64),
                        if snapshot_every > 0 {
                            "every 100"
                        } else {
                            "none"
                        }
                        .to_owned(),
                        reps.to_string(),
                        ms(p50),
                        ms(p99),
                    ]);
                    if size == 1_000 && snapshot_every > 0 {
                        // T = the time of event 500 (the end of the first transaction).
                        let events = store
                            .load_stream(&id, 0, PersonalDataMode::Withhold)
                            .await?;
                        let t = events
                            .get(499)
                            .map(|e| e.recorded_at)
                            .context("event 500")?;
                        let mut samples = Vec::new();
                        let reps = if args.quick { 50 } else { 200 };
                        for _ in 0..reps {
                            let started = Instant::now();
                            let (_, version) = events_store.load_as_of(&id, AsOf::Time(t)).await?;
                            samples.push(started.elapsed());
                            if version != 500 {
                                bail!("as-of loaded version {version}, expected 500");
                            }
                        }
                        let (p50, p99) = time_ms(&mut samples);
                        figures.as_of_p99.insert(target.label(), p99);
                        as_of_rows.push([
                            target.label().to_owned(),
                            reps.to_string(),
                            ms(p50),
                            ms(p99),
                        ]);
                    }
                }
            }
            db.close().await;
        }
        report.line("");
        report.line("State as of T for the 1,000-event case (T = time of event 500, replayed from events, no snapshot):");
        report.line("");
        report.table(&["backend", "reps", "p50 ms", "p99 ms"]);
        for row in as_of_rows {
            report.row(&row);
        }
        report.line("");
    }

    // 5 and 6: feed, rebuild, verify.
    if runs(Part::Feed) || runs(Part::Rebuild) || runs(Part::Verify) {
        report.line(format!(
            "### 5. Feed read and projection rebuild, 6. verify — N = {} events",
            rate(feed_events as f64)
        ));
        report.line("");
        report.line(format!(
            "Data set: {} cases of 100 events (`OpenCase` + 99 `RecordVisit`), one transaction per \
         case through the cqrs-es event store (sealed personal fields, hash chain, snapshot at \
         100). Read ceiling: the same rows and columns in the same order and batches, fetched \
         raw through sqlx with nothing decoded — what the driver alone allows. \
         Feed: `Store::read_all` in batches of {FEED_BATCH}, personal data withheld. \
         Rebuild: `rebuild_all` of every projection of `all_projections()` in one pass over the \
         feed (as `shouwang rebuild` does); the rate is N / its wall-clock seconds. verify: `verify_chains`.",
            rate((feed_events / 100).max(1) as f64)
        ));
        report.line("");
        report.table(&[
            "backend",
            "bulk append events/s",
            "read ceiling rows/s",
            "feed events/s",
            "feed / read ceiling",
            "rebuild all events/s",
            "verify events/s",
        ]);
        let mut per_projection: Vec<[String; 4]> = Vec::new();
        for target in [Target::Postgres, Target::SqliteFull] {
            let (db, _) = dbs.fresh(target).await?;
            let store = Store::new(db.clone(), master_key());
            let events_store = SqlEventStore::<CareCase>::new(store.clone());
            let case_count = (feed_events / 100).max(1);
            eprintln!("{}: writing {} events …", target.label(), case_count * 100);
            let writers = if target == Target::Postgres { 8 } else { 1 };
            let t = Instant::now();
            let mut handles = Vec::new();
            for w in 0..writers {
                let events_store = events_store.clone();
                handles.push(tokio::spawn(async move {
                    let mut i = w;
                    while i < case_count {
                        write_case(&events_store, i, 100, 100).await?;
                        i += writers;
                    }
                    anyhow::Ok(())
                }));
            }
            for handle in handles {
                handle.await??;
            }
            let total = case_count * 100;
            let bulk = total as f64 / t.elapsed().as_secs_f64();

            let mut read_ceiling = None;
            let mut feed = None;
            if runs(Part::Feed) {
                eprintln!("{}: reading the rows raw …", target.label());
                let t = Instant::now();
                let read = read_rows_raw(&db).await?;
                if read != total {
                    bail!("raw read {read} of {total} rows");
                }
                read_ceiling = Some(read as f64 / t.elapsed().as_secs_f64());
                eprintln!("{}: reading the feed …", target.label());
                let t = Instant::now();
                let mut cursor = FeedCursor::START;
                let mut read = 0u64;
                loop {
                    let batch = store
                        .read_all(cursor, FEED_BATCH, PersonalDataMode::Withhold)
                        .await?;
                    let Some(last) = batch.last() else { break };
                    cursor = last.cursor();
                    read += batch.len() as u64;
                }
                if read != total {
                    bail!("feed read {read} of {total} events");
                }
                feed = Some(read as f64 / t.elapsed().as_secs_f64());
            }

            let mut rebuild_rate = None;
            if runs(Part::Rebuild) {
                eprintln!("{}: rebuilding projections …", target.label());
                let t = Instant::now();
                let projections = shouwang_projections::all_projections();
                let projections: Vec<&dyn shouwang_projections::Projection> =
                    projections.iter().map(|p| p.as_ref()).collect();
                let done =
                    shouwang_projections::rebuild_all(&store, &projections, |_, _| {}).await?;
                for projection in &done.projections {
                    per_projection.push([
                        target.label().to_owned(),
                        projection.projection.clone(),
                        format!("{:.2}", projection.seconds),
                        rate(done.events as f64 / projection.seconds.max(1e-9)),
                    ]);
                }
                per_projection.push([
                    target.label().to_owned(),
                    "(waiting for the feed)".to_owned(),
                    format!("{:.2}", done.feed_wait_seconds),
                    "–".to_owned(),
                ]);
                rebuild_rate = Some(total as f64 / t.elapsed().as_secs_f64());
            }

            let mut verify = None;
            if runs(Part::Verify) {
                eprintln!("{}: verifying …", target.label());
                let t = Instant::now();
                let verified = verify_chains(&db, |_| {}).await?;
                if verified.first_broken.is_some() || verified.events != total {
                    bail!("verify: {verified:?}");
                }
                verify = Some(verified.events as f64 / t.elapsed().as_secs_f64());
            }
            let cell = |x: Option<f64>| x.map(rate).unwrap_or_else(|| "–".to_owned());
            report.row(&[
                target.label().to_owned(),
                rate(bulk),
                cell(read_ceiling),
                cell(feed),
                match (feed, read_ceiling) {
                    (Some(feed), Some(ceiling)) => ratio(feed, ceiling),
                    _ => "–".to_owned(),
                },
                cell(rebuild_rate),
                cell(verify),
            ]);
            for (map, value) in [
                (&mut figures.feed, feed),
                (&mut figures.rebuild, rebuild_rate),
                (&mut figures.verify, verify),
            ] {
                if let Some(value) = value {
                    map.insert(target.label(), value);
                }
            }
            db.close().await;
        }
        report.line("");
        if !per_projection.is_empty() {
            report.line("Rebuild per projection:");
            report.line("");
            report.table(&["backend", "projection", "seconds", "events/s"]);
            for row in per_projection {
                report.row(&row);
            }
            report.line("");
        }
    }

    // 7: HTTP.
    if runs(Part::Http) {
        let seconds = args.http_seconds.unwrap_or(if args.quick { 3 } else { 10 });
        let cases = if args.quick { 256 } else { 1024 };
        report.line(format!("### 7. HTTP at {} connections", http::CONNECTIONS));
        report.line("");
        report.line(format!(
            "The real server (`shouwang_api::serve` with the projector running, as `shouwang \
             serve` starts it) on a loopback port in this process, a fresh database per \
             backend, {cases} cases opened through the API. Load generator: reqwest \
             (crates.io), {} closed-loop clients on one pooled `Client` (keep-alive, up to {} \
             connections), {seconds} s per mix, sharing the 2 cores with the server. Mix A: \
             `POST /api/v1/cases/{{id}}/visits` as a social worker, each request with its \
             own `Idempotency-Key`, client c writing cases c, c+{}, … (no two clients on one \
             case). Mix B: `GET /api/v1/cases/{{id}}` (the case file, logged in the access \
             log) as a supervisor, over the same cases after mix A. Latency is per request, \
             body read in full; errors = transport errors and non-2xx answers.",
            http::CONNECTIONS,
            http::CONNECTIONS,
            http::CONNECTIONS,
        ));
        report.line("");
        report.table(&[
            "backend",
            "mix",
            "requests",
            "requests/s",
            "p50 ms",
            "p99 ms",
            "errors",
        ]);
        for target in [Target::Postgres, Target::SqliteFull] {
            let (db, _) = dbs.fresh(target).await?;
            let store = Store::new(db.clone(), master_key());
            eprintln!("{}: HTTP, seeding {cases} cases …", target.label());
            let server = http::Server::start(db.clone(), store, cases).await?;
            for mix in [http::Mix::RecordVisit, http::Mix::ReadCaseFile] {
                eprintln!("{}: HTTP {} …", target.label(), mix.label());
                let stats = server.run(mix, Duration::from_secs(seconds)).await?;
                report.row(&[
                    target.label().to_owned(),
                    mix.label().to_owned(),
                    rate(stats.requests as f64),
                    rate(stats.per_second()),
                    ms(stats.p50_ms),
                    ms(stats.p99_ms),
                    rate(stats.errors as f64),
                ]);
                figures.http.insert((target.label(), mix.label()), stats);
            }
            server.stop().await?;
            db.close().await;
        }
        report.line("");
    }

    // Targets.
    report.line("### Targets of issue 6, from the figures above");
    report.line("");
    report.table(&["target", "measured", "verdict"]);
    let pg = Target::Postgres.label();
    for clients in [8, 32] {
        if let Some((top, ours)) = figures.write.get(&(pg, clients)) {
            let r = ours.per_second() / top.per_second();
            report.row(&[
                format!("PostgreSQL command path ≥ 0.7 × ceiling at {clients} clients"),
                format!("{r:.2}"),
                verdict(r >= 0.7).to_owned(),
            ]);
            if let Some(peer) = figures.peer.get(&clients) {
                let r = ours.per_second() / peer.per_second();
                report.row(&[
                    format!("PostgreSQL command path ≥ 2 × postgres-es at {clients} clients"),
                    format!("{r:.2}"),
                    verdict(r >= 2.0).to_owned(),
                ]);
            }
        }
    }
    for target in [Target::SqliteFull, Target::SqliteNormal] {
        for clients in CLIENTS {
            if let Some((top, ours)) = figures.write.get(&(target.label(), clients)) {
                let r = ours.per_second() / top.per_second();
                report.row(&[
                    format!(
                        "{} command path ≥ 0.7 × its ceiling at {clients} clients",
                        target.label()
                    ),
                    format!("{r:.2}"),
                    verdict(r >= 0.7).to_owned(),
                ]);
            }
        }
    }
    for target in [Target::Postgres, Target::SqliteFull, Target::SqliteNormal] {
        if let Some((_, ours)) = figures.write.get(&(target.label(), 8)) {
            report.row(&[
                format!("{} p99 ≤ 5 ms at 8 clients", target.label()),
                format!("{} ms", ms(ours.p99_ms)),
                verdict(ours.p99_ms <= 5.0).to_owned(),
            ]);
        }
    }
    for target in [Target::Postgres, Target::SqliteFull] {
        let l = target.label();
        let min_rebuild = if target == Target::Postgres {
            100_000.0
        } else {
            200_000.0
        };
        if let Some(v) = figures.feed.get(l) {
            report.row(&[
                format!("{l} feed read ≥ 1,000,000 events/s"),
                rate(*v),
                verdict(*v >= 1_000_000.0).to_owned(),
            ]);
        }
        if let Some(v) = figures.rebuild.get(l) {
            report.row(&[
                format!("{l} rebuild ≥ {} events/s", rate(min_rebuild)),
                rate(*v),
                verdict(*v >= min_rebuild).to_owned(),
            ]);
        }
        if let Some(v) = figures.verify.get(l) {
            report.row(&[
                format!("{l} verify ≥ 1,000,000 events/s"),
                rate(*v),
                verdict(*v >= 1_000_000.0).to_owned(),
            ]);
        }
        if let Some(v) = figures.load_10k_snapshot_p99.get(l) {
            report.row(&[
                format!("{l} 10,000-event case with snapshot loads in ≤ 2 ms (p99)"),
                format!("{} ms", ms(*v)),
                verdict(*v <= 2.0).to_owned(),
            ]);
        }
        if let Some(v) = figures.as_of_p99.get(l) {
            report.row(&[
                format!("{l} state as of T p99 ≤ 50 ms"),
                format!("{} ms", ms(*v)),
                verdict(*v <= 50.0).to_owned(),
            ]);
        }
    }
    // The issue sets no number for HTTP: the figures are reported as measured.
    for target in [Target::Postgres, Target::SqliteFull] {
        for mix in [http::Mix::RecordVisit, http::Mix::ReadCaseFile] {
            if let Some(stats) = figures.http.get(&(target.label(), mix.label())) {
                report.row(&[
                    format!(
                        "{} HTTP {} at {} connections (no target set)",
                        target.label(),
                        mix.label(),
                        http::CONNECTIONS
                    ),
                    format!(
                        "{} requests/s, p99 {} ms, {} errors",
                        rate(stats.per_second()),
                        ms(stats.p99_ms),
                        stats.errors
                    ),
                    "–".to_owned(),
                ]);
            }
        }
    }
    report.line("");
    report.line(format!(
        "Bench wall time: {:.0} s.",
        started.elapsed().as_secs_f64()
    ));

    dbs.pg.drop_all().await;

    // A partial run (--only) must not replace the full table in the docs.
    let target_file = match (&args.output, args.only.is_empty()) {
        (Some(path), _) => Some(path.clone()),
        (None, true) => Some(repo_root().join("docs/PERFORMANCE.md")),
        (None, false) => None,
    };
    if !args.no_write
        && let Some(path) = target_file
    {
        write_between_markers(&path, &report.out)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

const BEGIN: &str = "<!-- bench:begin (generated by shouwang-bench; edit outside the markers) -->";
const END: &str = "<!-- bench:end -->";

/// Replaces what lies between the markers, keeping the prose around them.
fn write_between_markers(path: &Path, generated: &str) -> anyhow::Result<()> {
    let existing = std::fs::read_to_string(path).unwrap_or_default();
    let block = format!("{BEGIN}\n{generated}{END}");
    let text = match (existing.find("<!-- bench:begin"), existing.find(END)) {
        (Some(start), Some(end)) if end > start => format!(
            "{}{block}{}",
            &existing[..start],
            &existing[end + END.len()..]
        ),
        _ => format!("# Performance\n\n{block}\n"),
    };
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
