//! Province scale (issue 6): fills a database with `shouwang demo --people N`
//! (optional), brings every read model up to date with the projections'
//! rebuild, then measures, one reader at a time, the case-file read the API's
//! `GET /api/v1/cases/{id}` makes and the province statistics the reports
//! endpoints make, and writes a Markdown table into `docs/PERFORMANCE.md`
//! between the `province:begin` / `province:end` markers.
//!
//! ```sh
//! cargo build --release -p shouwang -p shouwang-bench
//! cargo run --release -p shouwang-bench --bin province -- \
//!     --database-url sqlite:///work/scratch/province.db?mode=rwc --people 1000000
//! ```

#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{Datelike, NaiveDate, Utc};
use clap::Parser;
use shouwang_domain::RegionPrefix;
use shouwang_domain::vocabulary::RegionLevel;
use shouwang_infrastructure::{
    Backend, Database, MasterKeySetting, Settings, Store, open_store, with_pool,
};
use shouwang_projections::statistics::{self, Attachment1Header, StatisticsFilter};
use shouwang_projections::{Projection, case_file};
use uuid::Uuid;

/// Province-scale measurements: case-file reads and province statistics on a
/// demo data set of N people.
#[derive(Debug, Parser)]
#[command(name = "province")]
struct Args {
    /// The database: `sqlite://path/file.db?mode=rwc` or `postgres://…`, as
    /// for `shouwang`.
    #[arg(long, env = "SHOUWANG_DATABASE_URL")]
    database_url: String,
    /// Data directory (for the master key file), as for `shouwang`.
    #[arg(long, env = "SHOUWANG_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
    /// Master key, 64 hexadecimal characters, as for `shouwang`.
    #[arg(long, env = "SHOUWANG_MASTER_KEY", hide_env_values = true)]
    master_key: Option<String>,
    /// Master key file, as for `shouwang` (default `<data-dir>/master.key`).
    #[arg(long, env = "SHOUWANG_MASTER_KEY_FILE")]
    master_key_file: Option<PathBuf>,
    /// Generate the data set first with `shouwang demo --people N` (the
    /// release binary next to this one); without it the database is measured
    /// as it is.
    #[arg(long)]
    people: Option<u32>,
    /// Seed handed to `shouwang demo`.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Do not rebuild the read models (they are already up to date).
    #[arg(long)]
    skip_rebuild: bool,
    /// Case files read, each a randomly chosen case.
    #[arg(long, default_value_t = 3_000)]
    reads: usize,
    /// Repetitions of each statistics query.
    #[arg(long, default_value_t = 20)]
    repetitions: usize,
    /// Where to write the table (default docs/PERFORMANCE.md of the repo).
    #[arg(long)]
    output: Option<PathBuf>,
    /// Print the table only.
    #[arg(long)]
    no_write: bool,
}

impl Args {
    /// The same settings `shouwang` builds from the same flags.
    fn settings(&self) -> Settings {
        let embedded = Settings::embedded(&self.data_dir);
        Settings {
            database_url: self.database_url.clone(),
            master_key: match (&self.master_key, &self.master_key_file) {
                (Some(hex), _) => MasterKeySetting::Hex(hex.clone()),
                (None, Some(path)) => MasterKeySetting::File(path.clone()),
                (None, None) => embedded.master_key,
            },
            snapshot_every: embedded.snapshot_every,
        }
    }

    /// The flags that make `shouwang` open the same store.
    fn shouwang_flags(&self) -> Vec<String> {
        let mut flags = vec![
            "--database-url".to_owned(),
            self.database_url.clone(),
            "--data-dir".to_owned(),
            self.data_dir.display().to_string(),
        ];
        if let Some(file) = &self.master_key_file {
            flags.push("--master-key-file".to_owned());
            flags.push(file.display().to_string());
        }
        flags
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// What generating the data set took, as `shouwang demo` printed it.
#[derive(Debug)]
struct Generation {
    people: u32,
    events: u64,
    seconds: f64,
    summary: String,
}

/// Runs `shouwang demo` (the binary built next to this one), its progress
/// bar shown, its summary line captured.
fn generate(args: &Args, people: u32) -> anyhow::Result<Generation> {
    let exe = std::env::current_exe().context("locating the province binary")?;
    let shouwang = exe
        .parent()
        .map(|dir| dir.join("shouwang"))
        .filter(|path| path.exists())
        .context("the shouwang binary is missing: cargo build --release -p shouwang")?;
    eprintln!("province: {} demo --people {people}", shouwang.display());
    let started = Instant::now();
    let mut command = Command::new(&shouwang);
    if let Some(hex) = &args.master_key {
        // By environment, not on a command line anyone can read.
        command.env("SHOUWANG_MASTER_KEY", hex);
    }
    let output = command
        .args(args.shouwang_flags())
        .args([
            "demo",
            "--people",
            &people.to_string(),
            "--seed",
            &args.seed.to_string(),
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", shouwang.display()))?;
    let seconds = started.elapsed().as_secs_f64();
    let summary = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if !output.status.success() {
        bail!("shouwang demo failed ({}): {summary}", output.status);
    }
    Ok(Generation {
        people,
        events: number_before(&summary, " 条事件，").context("event count in the demo summary")?,
        seconds,
        summary,
    })
}

/// The number written just before `marker` in `text`.
fn number_before(text: &str, marker: &str) -> Option<u64> {
    let before = &text[..text.find(marker)?];
    let digits: String = before
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().ok()
}

/// Latencies of one query, in milliseconds.
#[derive(Debug)]
struct Timings {
    name: String,
    rows: String,
    samples: Vec<Duration>,
}

impl Timings {
    fn percentile(&self, p: f64) -> f64 {
        let mut sorted = self.samples.clone();
        sorted.sort();
        if sorted.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1_000.0
    }

    fn max(&self) -> f64 {
        self.samples
            .iter()
            .max()
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1_000.0)
    }
}

/// A small deterministic generator for picking cases (SplitMix64).
struct Picker(u64);

impl Picker {
    fn next_below(&mut self, bound: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z % bound.max(1) as u64) as usize
    }
}

async fn scalar_i64(db: &Database, sql: &'static str) -> anyhow::Result<i64> {
    Ok(with_pool!(db, pool => {
        sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await?
    }))
}

async fn texts(db: &Database, sql: &'static str) -> anyhow::Result<Vec<String>> {
    Ok(with_pool!(db, pool => {
        sqlx::query_scalar::<_, String>(sql).fetch_all(pool).await?
    }))
}

/// The database's size on disk: the SQLite file with its WAL, or what
/// PostgreSQL reports for the database.
async fn database_size(db: &Database, url: &str) -> anyhow::Result<u64> {
    match db.backend() {
        Backend::Postgres => Ok(u64::try_from(
            scalar_i64(db, "SELECT pg_database_size(current_database())").await?,
        )
        .unwrap_or_default()),
        Backend::Sqlite => {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(url);
            let path = path.split('?').next().unwrap_or(path);
            let size = |p: String| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            Ok(size(path.to_owned()) + size(format!("{path}-wal")))
        }
    }
}

async fn server_version(db: &Database) -> anyhow::Result<String> {
    Ok(match db.backend() {
        Backend::Postgres => {
            let version = texts(db, "SHOW server_version").await?;
            format!("PostgreSQL {}", version.join(""))
        }
        Backend::Sqlite => {
            let version = texts(db, "SELECT sqlite_version()").await?;
            format!("SQLite {} (WAL, synchronous=FULL)", version.join(""))
        }
    })
}

fn gib(bytes: u64) -> String {
    format!("{:.2} GiB", bytes as f64 / f64::from(1u32 << 30))
}

/// Thousands separated by commas, as elsewhere in PERFORMANCE.md.
fn grouped(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    let generation = match args.people {
        Some(people) => Some(generate(&args, people)?),
        None => None,
    };
    if let Some(generation) = &generation {
        eprintln!("province: {}", generation.summary);
    }

    let (store, _) = open_store(&args.settings())
        .await
        .context("opening the database")?;
    let db = store.database();

    let rebuild = if args.skip_rebuild {
        None
    } else {
        Some(rebuild(&store).await?)
    };

    eprintln!("province: counting");
    let events =
        u64::try_from(scalar_i64(db, "SELECT COUNT(*) FROM events").await?).unwrap_or_default();
    let case_ids: Vec<Uuid> = texts(db, "SELECT case_id FROM case_files")
        .await?
        .iter()
        .filter_map(|id| Uuid::parse_str(id).ok())
        .collect();
    let activity_ids: Vec<Uuid> = texts(db, "SELECT activity_id FROM statistics_activities")
        .await?
        .iter()
        .filter_map(|id| Uuid::parse_str(id).ok())
        .collect();
    if case_ids.is_empty() {
        bail!("no case files in the read model: generate data (--people N) or rebuild first");
    }
    let size = database_size(db, &args.database_url).await?;

    eprintln!("province: {} case-file reads", args.reads);
    let mut picker = Picker(args.seed);
    let mut reads = Timings {
        name: "case file (`case_file::case_file`, as `GET /api/v1/cases/{id}`)".to_owned(),
        rows: String::new(),
        samples: Vec::with_capacity(args.reads),
    };
    let mut timeline_entries = 0usize;
    for _ in 0..args.reads {
        let case_id = case_ids[picker.next_below(case_ids.len())];
        let began = Instant::now();
        let file = case_file::case_file(db, case_id)
            .await?
            .with_context(|| format!("case {case_id} has no case file"))?;
        reads.samples.push(began.elapsed());
        timeline_entries += file.timeline.len();
    }
    reads.rows = format!(
        "{:.1} timeline entries per file on average",
        timeline_entries as f64 / args.reads.max(1) as f64
    );

    eprintln!("province: statistics");
    let today = shouwang_infrastructure::clock::shanghai_today();
    let province = RegionPrefix::parse("36").context("province prefix")?;
    let year_ago = NaiveDate::from_ymd_opt(today.year() - 1, today.month(), 1).unwrap_or(today);
    let mut queries = Vec::new();

    let mut figures = Timings {
        name: "province figures per county (`statistics::service_figures`, region 36, as `GET /api/v1/statistics/figures?region=36&group_by=county`)".to_owned(),
        rows: String::new(),
        samples: Vec::new(),
    };
    let filter = StatisticsFilter {
        group_by: RegionLevel::County,
        ..StatisticsFilter::area(province.clone())
    };
    let mut row_count = 0;
    for _ in 0..args.repetitions {
        let began = Instant::now();
        let rows = statistics::service_figures(db, &filter).await?;
        figures.samples.push(began.elapsed());
        row_count = rows.len();
    }
    figures.rows = format!("{} figure rows", grouped(row_count as u64));
    queries.push(figures);

    let mut attachment1 = Timings {
        name: format!(
            "附件1 for the province, {year_ago} to {today} (`statistics::attachment1`, as `GET /api/v1/statistics/attachment1`)"
        ),
        rows: String::new(),
        samples: Vec::new(),
    };
    for _ in 0..args.repetitions {
        let began = Instant::now();
        let table = statistics::attachment1(
            db,
            &province,
            (year_ago, today),
            Attachment1Header {
                filling_unit: "江西省民政厅".to_owned(),
                filled_on: today,
            },
        )
        .await?;
        attachment1.samples.push(began.elapsed());
        row_count = table.rows.len();
    }
    attachment1.rows = format!("{} activities", grouped(row_count as u64));
    queries.push(attachment1);

    if !activity_ids.is_empty() {
        let mut attachment2 = Timings {
            name: "附件2 of a random activity (`statistics::attachment2`)".to_owned(),
            rows: String::new(),
            samples: Vec::new(),
        };
        for _ in 0..args.repetitions {
            let activity = activity_ids[picker.next_below(activity_ids.len())];
            let began = Instant::now();
            statistics::attachment2(db, activity).await?;
            attachment2.samples.push(began.elapsed());
        }
        attachment2.rows = "one activity".to_owned();
        queries.push(attachment2);
    }

    let report = Report {
        command: std::env::args()
            .skip(1)
            .map(|a| {
                if a.starts_with("postgres://") && a.contains('@') {
                    a.split_once("://").map_or(a.clone(), |(scheme, rest)| {
                        format!("{scheme}://…@{}", rest.rsplit('@').next().unwrap_or(""))
                    })
                } else {
                    a
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
        server: server_version(db).await?,
        people: case_ids.len(),
        activities: activity_ids.len(),
        events,
        size,
        generation,
        rebuild,
        reads,
        queries,
        wall: started.elapsed(),
    }
    .render();
    print!("{report}");
    if !args.no_write {
        let path = args
            .output
            .clone()
            .unwrap_or_else(|| repo_root().join("docs/PERFORMANCE.md"));
        write_between_markers(&path, &report)?;
        eprintln!("province: wrote {}", path.display());
    }
    Ok(())
}

/// What the rebuild of every read model took.
#[derive(Debug)]
struct Rebuilt {
    events: u64,
    seconds: f64,
    per_projection: Vec<(String, f64)>,
}

async fn rebuild(store: &Store) -> anyhow::Result<Rebuilt> {
    let all = shouwang_projections::all_projections();
    let projections: Vec<&dyn Projection> = all.iter().map(AsRef::as_ref).collect();
    let mut bar = indicatif_free_progress();
    let report = shouwang_projections::rebuild_all(store, &projections, |done, total| {
        bar(done, total);
    })
    .await?;
    eprintln!();
    Ok(Rebuilt {
        events: report.events,
        seconds: report.seconds,
        per_projection: report
            .projections
            .iter()
            .map(|p| (p.projection.clone(), p.seconds))
            .collect(),
    })
}

/// A progress line on standard error, at most once a second (the bench has
/// no progress-bar dependency).
fn indicatif_free_progress() -> impl FnMut(u64, u64) {
    let started = Instant::now();
    let mut last = Instant::now();
    move |done, total| {
        if last.elapsed() >= Duration::from_secs(1) || done == total {
            last = Instant::now();
            let rate = done as f64 / started.elapsed().as_secs_f64().max(0.001);
            eprint!(
                "\rprovince: rebuilding read models {done}/{total} events, {rate:.0} events/s   "
            );
        }
    }
}

struct Report {
    command: String,
    server: String,
    people: usize,
    activities: usize,
    events: u64,
    size: u64,
    generation: Option<Generation>,
    rebuild: Option<Rebuilt>,
    reads: Timings,
    queries: Vec<Timings>,
    wall: Duration,
}

impl Report {
    fn render(&self) -> String {
        let mut out = String::new();
        let mut line = |text: String| {
            out.push_str(&text);
            out.push('\n');
        };
        line("## Province scale".to_owned());
        line(String::new());
        line(
            "Generated by `bench/src/bin/province.rs`; a rerun replaces this section. How to run:"
                .to_owned(),
        );
        line(String::new());
        line("```sh".to_owned());
        line("cargo build --release -p shouwang -p shouwang-bench".to_owned());
        line("cargo run --release -p shouwang-bench --bin province -- \\".to_owned());
        line("    --database-url 'sqlite:///work/scratch/province.db?mode=rwc' --data-dir /work/scratch --people 1000000".to_owned());
        line("```".to_owned());
        line(String::new());
        line("`--people N` runs `shouwang demo --people N` first (the release binary next to this one) and times it; without it the database is measured as it is. Then every read model is rebuilt in one pass (`shouwang_projections::rebuild_all`, skip with `--skip-rebuild`) and the reads are timed.".to_owned());
        line(String::new());
        line(format!(
            "Run `cargo run --release -p shouwang-bench --bin province -- {}` on {}.",
            self.command,
            Utc::now().format("%Y-%m-%d %H:%M UTC")
        ));
        line(String::new());
        line("|  |  |".to_owned());
        line("| --- | --- |".to_owned());
        line(format!("| database | {} |", self.server));
        line(format!("| care cases | {} |", grouped(self.people as u64)));
        line(format!(
            "| activities | {} |",
            grouped(self.activities as u64)
        ));
        line(format!("| events | {} |", grouped(self.events)));
        line(format!("| database size | {} |", gib(self.size)));
        match &self.generation {
            Some(g) => {
                line(format!(
                    "| generation (`shouwang demo --people {}`) | {} events in {:.0} s: **{} events/s**, {:.0} people/s |",
                    g.people,
                    grouped(g.events),
                    g.seconds,
                    grouped((g.events as f64 / g.seconds.max(0.001)) as u64),
                    f64::from(g.people) / g.seconds.max(0.001)
                ));
                line(format!("| demo summary | {} |", g.summary));
            }
            None => line("| generation | not part of this run |".to_owned()),
        }
        match &self.rebuild {
            Some(r) => {
                let parts = r
                    .per_projection
                    .iter()
                    .map(|(name, seconds)| format!("{name} {seconds:.0} s"))
                    .collect::<Vec<_>>()
                    .join(", ");
                line(format!(
                    "| rebuild of every read model (`rebuild_all`, one pass) | {} events in {:.0} s: **{} events/s** (applying: {parts}) |",
                    grouped(r.events),
                    r.seconds,
                    grouped((r.events as f64 / r.seconds.max(0.001)) as u64),
                ));
            }
            None => line("| rebuild | skipped (read models already up to date) |".to_owned()),
        }
        line(format!(
            "| wall time of the run | {:.0} s |",
            self.wall.as_secs_f64()
        ));
        line(String::new());
        line("One reader at a time, after the rebuild; case files of cases picked at random (SplitMix64 from the seed).".to_owned());
        line(String::new());
        line("| query | result | reps | p50 ms | p99 ms | max ms |".to_owned());
        line("| --- | --- | --- | --- | --- | --- |".to_owned());
        for timings in std::iter::once(&self.reads).chain(&self.queries) {
            line(format!(
                "| {} | {} | {} | {:.2} | {:.2} | {:.2} |",
                timings.name,
                timings.rows,
                timings.samples.len(),
                timings.percentile(50.0),
                timings.percentile(99.0),
                timings.max()
            ));
        }
        line(String::new());
        out
    }
}

const BEGIN: &str =
    "<!-- province:begin (generated by the province binary; edit outside the markers) -->";
const END: &str = "<!-- province:end -->";

/// Replaces what lies between the province markers, or appends the block
/// after the bench's table when there are none yet.
fn write_between_markers(path: &Path, generated: &str) -> anyhow::Result<()> {
    let existing = std::fs::read_to_string(path).unwrap_or_default();
    let block = format!("{BEGIN}\n{generated}{END}");
    let text = match (existing.find("<!-- province:begin"), existing.find(END)) {
        (Some(start), Some(end)) if end > start => format!(
            "{}{block}{}",
            &existing[..start],
            &existing[end + END.len()..]
        ),
        _ => match existing.find("<!-- bench:end -->") {
            Some(bench_end) => {
                let after = bench_end + "<!-- bench:end -->".len();
                format!("{}\n\n{block}\n{}", &existing[..after], &existing[after..])
            }
            None => format!("{existing}\n{block}\n"),
        },
    };
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_event_count_is_read_from_the_demo_summary() {
        let summary = "演示数据已生成：南昌县（360121）5000 位关爱对象，6 个社会组织，500 名志愿者，1250 条需求，200 场活动（300 张佐证图片），共 104321 条事件，用时 12.0 秒（8693 条事件/秒）。";
        assert_eq!(number_before(summary, " 条事件，"), Some(104_321));
    }

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let timings = Timings {
            name: String::new(),
            rows: String::new(),
            samples: (1..=100).map(Duration::from_millis).collect(),
        };
        assert_eq!(timings.percentile(50.0), 50.0);
        assert_eq!(timings.percentile(99.0), 99.0);
        assert_eq!(timings.max(), 100.0);
    }

    #[test]
    fn the_block_goes_after_the_bench_table_then_is_replaced_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("PERFORMANCE.md");
        std::fs::write(&path, "# P\n<!-- bench:end -->\n\n## After\n").unwrap();
        write_between_markers(&path, "one\n").unwrap();
        write_between_markers(&path, "two\n").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("two\n<!-- province:end -->"), "{text}");
        assert!(!text.contains("one"), "{text}");
        assert!(text.find("<!-- bench:end -->") < text.find("<!-- province:begin"));
        assert!(text.find("<!-- province:end -->") < text.find("## After"));
    }
}
