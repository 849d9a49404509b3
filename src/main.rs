//! `shouwang` — the command line of 守望.

mod demo;
mod serve;
mod users;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use shouwang_infrastructure::{
    MasterKeySetting, MasterKeySource, Settings, open_store, verify_chains,
};

/// 守望：困难群众关爱服务“一人一档”个案管理系统
#[derive(Debug, Parser)]
#[command(name = "shouwang", version, about)]
struct Cli {
    /// Database URL: `sqlite://path/file.db` (default, in the data directory)
    /// or `postgres://user@host:port/db`.
    #[arg(long, env = "SHOUWANG_DATABASE_URL", global = true)]
    database_url: Option<String>,

    /// Directory for the embedded SQLite database and the generated master key.
    #[arg(long, env = "SHOUWANG_DATA_DIR", default_value = "data", global = true)]
    data_dir: PathBuf,

    /// Master key for personal data, 64 hexadecimal characters. Overrides the key file.
    #[arg(
        long,
        env = "SHOUWANG_MASTER_KEY",
        hide_env_values = true,
        global = true
    )]
    master_key: Option<String>,

    /// Master key file (created with permissions 0600 when missing).
    /// Default: `<data-dir>/master.key`.
    #[arg(long, env = "SHOUWANG_MASTER_KEY_FILE", global = true)]
    master_key_file: Option<PathBuf>,

    /// Take an aggregate snapshot every N events (0 disables snapshots).
    #[arg(
        long,
        env = "SHOUWANG_SNAPSHOT_EVERY",
        default_value_t = 100,
        global = true
    )]
    snapshot_every: u64,

    /// Log format on standard error: `text` for people, `json` for log collectors.
    #[arg(long, env = "SHOUWANG_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP API and the projector (the main job).
    Serve(serve::ServeArgs),
    /// Create or upgrade the database schema (also done at every start).
    Migrate,
    /// Recompute every stream's hash chain; exits non-zero at the first broken link.
    Verify,
    /// Write a realistic synthetic county through the real command path.
    Demo(demo::DemoArgs),
    /// Manage users: the first admin is created here.
    Users {
        #[command(subcommand)]
        action: users::UsersCommand,
    },
    /// Rebuild read models from the whole event history into fresh tables and
    /// swap them in atomically (all of them when no name is given).
    Rebuild {
        /// Read models to rebuild, e.g. `case_file statistics`.
        names: Vec<String>,
    },
}

impl Cli {
    fn settings(&self) -> Settings {
        let embedded = Settings::embedded(&self.data_dir);
        Settings {
            database_url: self.database_url.clone().unwrap_or(embedded.database_url),
            master_key: match (&self.master_key, &self.master_key_file) {
                (Some(hex), _) => MasterKeySetting::Hex(hex.clone()),
                (None, Some(path)) => MasterKeySetting::File(path.clone()),
                (None, None) => embedded.master_key,
            },
            snapshot_every: self.snapshot_every,
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            "warn,shouwang=info,shouwang_api=info,shouwang_projections=info",
        )
    });
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Json => logs.json().init(),
        LogFormat::Text => logs.init(),
    }
    match run(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("错误：{error:#}");
            ExitCode::FAILURE
        }
    }
}

#[allow(clippy::print_stdout)]
async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let settings = cli.settings();
    let (store, opened) = open_store(&settings)
        .await
        .with_context(|| format!("无法打开数据库 {}", redact(&settings.database_url)))?;
    if opened.master_key_source == MasterKeySource::GeneratedFile {
        tracing::warn!(
            "已在数据目录生成新的主密钥文件（权限 0600）。请妥善备份：丢失主密钥将无法读取任何个人信息；生产环境请通过 SHOUWANG_MASTER_KEY 或密钥文件提供主密钥。"
        );
    }
    match cli.command {
        Command::Serve(args) => {
            serve::run(store, args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            println!("数据库已是最新结构：{}", redact(&settings.database_url));
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify => {
            let bar = ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} 校验哈希链 {pos} 条事件 {per_sec}")
                    .context("progress template")?,
            );
            let report =
                verify_chains(store.database(), |checked| bar.set_position(checked)).await?;
            bar.finish_and_clear();
            match report.first_broken {
                None => {
                    println!(
                        "校验通过：{} 个对象、{} 条事件的哈希链完整，未发现篡改。",
                        report.streams, report.events
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Some(broken) => {
                    println!("校验失败：{broken}");
                    println!("（在此之前已校验 {} 条事件）", report.events);
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::Users { action } => {
            users::run(store.database(), action).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Rebuild { names } => {
            rebuild_projections(&store, &names).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo(args) => {
            let summary = demo::generate(&store, &args).await?;
            println!("{summary}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[allow(clippy::print_stdout)]
async fn rebuild_projections(
    store: &shouwang_infrastructure::Store,
    names: &[String],
) -> anyhow::Result<()> {
    let all = shouwang_projections::all_projections();
    let known: Vec<&str> = all.iter().map(|p| p.name()).collect();
    if let Some(unknown) = names.iter().find(|name| !known.contains(&name.as_str())) {
        anyhow::bail!(
            "没有名为 {unknown} 的读模型；可重建的读模型：{}",
            known.join(", ")
        );
    }
    // One pass over the feed for all of them: each batch is read once.
    let chosen: Vec<&dyn shouwang_projections::Projection> = all
        .iter()
        .filter(|p| names.is_empty() || names.iter().any(|n| n == p.name()))
        .map(|p| p.as_ref())
        .collect();
    let listed: Vec<&str> = chosen.iter().map(|p| p.name()).collect();
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template(&format!(
            "重建 {} {{bar:40}} {{pos}}/{{len}} 条事件 {{per_sec}} 剩余 {{eta}}",
            listed.join(", ")
        ))
        .context("progress template")?,
    );
    let report = shouwang_projections::rebuild_all(store, &chosen, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .await?;
    bar.finish_and_clear();
    let rate = |events: u64, seconds: f64| events as f64 / seconds.max(1e-9);
    for projection in &report.projections {
        println!(
            "已重建读模型 {}：处理 {} 条事件用时 {:.2} 秒（{:.0} 条/秒）",
            projection.projection,
            projection.events,
            projection.seconds,
            rate(projection.events, projection.seconds)
        );
    }
    println!(
        "共 {} 个读模型、{} 条事件，用时 {:.2} 秒（{:.0} 条/秒；其中等待读取事件 {:.2} 秒）",
        report.projections.len(),
        report.events,
        report.seconds,
        rate(report.events, report.seconds),
        report.feed_wait_seconds
    );
    Ok(())
}
