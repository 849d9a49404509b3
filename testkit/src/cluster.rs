//! A throwaway PostgreSQL cluster for one test process.
//!
//! Started from the local PostgreSQL binaries with `initdb` + `postgres` in a
//! fresh temporary directory, tuned for speed (no fsync), listening on
//! 127.0.0.1 on a free port with trust authentication. Rust never drops
//! statics, so the server runs under a small shell watchdog that stops it and
//! removes the directory as soon as the test process is gone.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Where Debian/Ubuntu install the server binaries, one directory per version.
const PG_LIB_DIR: &str = "/usr/lib/postgresql";

/// How long initdb plus the server start may take (generous: CI machines are busy).
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// How many free ports to try when another process grabs ours in the meantime.
const PORT_ATTEMPTS: u32 = 5;

/// The watchdog, run as the user that owns the cluster. Positional parameters:
/// $1 PostgreSQL bin directory, $2 cluster directory, $3 port, $4 test process
/// pid, $5 `initdb` to create the data directory first (only on the first
/// launch; a retry on another port reuses it).
///
/// initdb runs inside the watchdog too, so the directory is removed even when
/// the test process dies during initdb. The server is stopped (fast shutdown,
/// SIGINT) once the test process is gone; then, when the test process is gone
/// (the server may also have died on its own, e.g. port taken), the cluster
/// directory is removed. The test process counts as gone when its pid is
/// missing, has become a zombie, or was reused (different start time).
const WATCHDOG: &str = r#"
test_pid=$4
procinfo() { sed 's/.*) //' "/proc/$test_pid/stat" 2>/dev/null | cut -d' ' -f1,20; }
test_start=$(procinfo | cut -d' ' -f2)
test_alive() {
    info=$(procinfo)
    [ -n "$info" ] && [ "${info#* }" = "$test_start" ] && [ "${info%% *}" != Z ]
}
status=0
if [ "$5" = initdb ]; then
    "$1/initdb" -D "$2/data" -A trust -U postgres --no-sync -E UTF8 --locale=C \
        </dev/null >"$2/initdb.log" 2>&1
    status=$?
    echo "$status" >"$2/initdb.status.tmp" && mv "$2/initdb.status.tmp" "$2/initdb.status"
fi
if [ "$status" = 0 ] && test_alive; then
    "$1/postgres" -D "$2/data" -k "$2/sock" -h 127.0.0.1 -p "$3" \
        -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
        -c max_connections=300 </dev/null >"$2/postgres.$3.log" 2>&1 &
    pg=$!
    while test_alive && kill -0 "$pg" 2>/dev/null; do sleep 0.5; done
    kill -INT "$pg" 2>/dev/null
    wait "$pg"
    echo "$?" >"$2/postgres.$3.exited.tmp" && mv "$2/postgres.$3.exited.tmp" "$2/postgres.$3.exited"
fi
while test_alive; do sleep 0.5; done
rm -rf "$2"
"#;

/// A running throwaway cluster.
#[derive(Debug)]
pub(crate) struct Cluster {
    url: String,
    /// The watchdog shell; it outlives this process on purpose.
    _watchdog: Child,
}

impl Cluster {
    /// URL of the `postgres` database as the `postgres` superuser.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }
}

/// Starts a throwaway cluster, or explains why it cannot.
pub(crate) fn start() -> Result<Cluster, String> {
    let started = Instant::now();
    let (version, bin) = find_bin_dir()?;
    let as_root = running_as_root()?;
    let dir = make_cluster_dir(as_root)?;

    let mut attempt = 1;
    loop {
        let port = free_port()?;
        match launch(&bin, &dir, port, as_root, attempt == 1) {
            Ok(watchdog) => {
                eprintln!(
                    "shouwang-testkit: throwaway PostgreSQL {version} on 127.0.0.1:{port} ready \
                     in {:.2?}, directory {}",
                    started.elapsed(),
                    dir.display()
                );
                return Ok(Cluster {
                    url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
                    _watchdog: watchdog,
                });
            }
            Err(Launch::PortTaken) if attempt < PORT_ATTEMPTS => attempt += 1,
            Err(Launch::PortTaken) => {
                return Err(format!(
                    "postgres could not bind a free port on 127.0.0.1 in {PORT_ATTEMPTS} attempts"
                ));
            }
            Err(Launch::Failed(reason)) => return Err(reason),
        }
    }
}

/// Finds the `bin` directory of the highest installed PostgreSQL version that
/// has both `initdb` and `postgres`.
fn find_bin_dir() -> Result<(String, PathBuf), String> {
    let entries = fs::read_dir(PG_LIB_DIR)
        .map_err(|error| format!("no PostgreSQL binaries: cannot read {PG_LIB_DIR}: {error}"))?;
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let key = name
                .split('.')
                .map(str::parse::<u32>)
                .collect::<Result<Vec<_>, _>>()
                .ok()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("postgres").is_file())
                .then_some((key, name, bin))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, name, bin)| (name, bin))
        .ok_or_else(|| format!("no PostgreSQL binaries: no {PG_LIB_DIR}/<version>/bin/initdb"))
}

/// initdb refuses to run as root; then we run the server as `postgres`.
fn running_as_root() -> Result<bool, String> {
    let output = run(Command::new("id").arg("-u"))?;
    if !output.status.success() {
        return Err(format!("`id -u` failed with {}", output.status));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim() == "0")
}

/// A command running `program` as the `postgres` OS user when we are root,
/// else as ourselves.
fn pg_command(program: &Path, as_root: bool) -> Command {
    if as_root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// Runs a command to completion without a terminal, capturing its output.
fn run(command: &mut Command) -> Result<Output, String> {
    command
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("cannot run {:?}: {error}", command.get_program()))
}

/// Creates `<tmp>/shouwang-pg-<uuid>` with a socket subdirectory, owned by the
/// `postgres` user when we are root (so initdb and the server may write there).
fn make_cluster_dir(as_root: bool) -> Result<PathBuf, String> {
    let owner = if as_root { Some(postgres_ids()?) } else { None };
    // TMPDIR may be private to root; /tmp is always reachable by postgres.
    let mut bases = vec![std::env::temp_dir()];
    if as_root && bases[0] != Path::new("/tmp") {
        bases.push(PathBuf::from("/tmp"));
    }
    let mut problems = Vec::new();
    for base in bases {
        let dir = base.join(format!("shouwang-pg-{}", uuid::Uuid::now_v7().simple()));
        let created = fs::create_dir(&dir)
            .and_then(|()| fs::create_dir(dir.join("sock")))
            .and_then(|()| match owner {
                Some((uid, gid)) => {
                    std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).and_then(|()| {
                        std::os::unix::fs::chown(dir.join("sock"), Some(uid), Some(gid))
                    })
                }
                None => Ok(()),
            });
        if let Err(error) = created {
            let _ = fs::remove_dir_all(&dir);
            problems.push(format!("{}: {error}", dir.display()));
            continue;
        }
        if as_root {
            // The postgres user must be able to reach the directory.
            let reachable = run(pg_command(Path::new("test"), true).arg("-w").arg(&dir))
                .is_ok_and(|output| output.status.success());
            if !reachable {
                let _ = fs::remove_dir_all(&dir);
                problems.push(format!(
                    "{}: not writable by the postgres user",
                    dir.display()
                ));
                continue;
            }
        }
        return Ok(dir);
    }
    Err(format!(
        "cannot create a cluster directory: {}",
        problems.join("; ")
    ))
}

/// The numeric uid and gid of the `postgres` OS user.
fn postgres_ids() -> Result<(u32, u32), String> {
    let id = |flag: &str| -> Result<u32, String> {
        let output = run(Command::new("id").args([flag, "postgres"]))?;
        if !output.status.success() {
            return Err(format!(
                "running as root, but there is no `postgres` OS user to run initdb and the \
                 server as (initdb refuses root): {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .map_err(|error| format!("`id {flag} postgres` printed no number: {error}"))
    };
    Ok((id("-u")?, id("-g")?))
}

/// Asks the OS for a free port on 127.0.0.1 (bind port 0, read it, release it).
fn free_port() -> Result<u16, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|error| format!("cannot find a free TCP port on 127.0.0.1: {error}"))
}

enum Launch {
    /// Someone took the port between `free_port` and the server's bind: retry.
    PortTaken,
    Failed(String),
}

/// Starts the watchdog (which runs initdb when `initdb` is set, then the
/// server) and waits until the server accepts connections.
fn launch(bin: &Path, dir: &Path, port: u16, as_root: bool, initdb: bool) -> Result<Child, Launch> {
    let data = dir.join("data");
    let initdb_status = dir.join("initdb.status");
    let log = dir.join(format!("postgres.{port}.log"));
    let exited = dir.join(format!("postgres.{port}.exited"));
    let watchdog_log = dir.join(format!("watchdog.{port}.log"));
    let watchdog_output = fs::File::create(&watchdog_log)
        .and_then(|file| Ok((file.try_clone()?, file)))
        .map_err(|error| {
            let _ = fs::remove_dir_all(dir);
            Launch::Failed(format!("cannot create {}: {error}", watchdog_log.display()))
        })?;

    let mut watchdog = pg_command(Path::new("sh"), as_root)
        .arg("-c")
        .arg(WATCHDOG)
        .arg("shouwang-pg-watchdog")
        .arg(bin)
        .arg(dir)
        .arg(port.to_string())
        .arg(std::process::id().to_string())
        .arg(if initdb { "initdb" } else { "" })
        .current_dir(dir)
        .stdin(Stdio::null())
        // Never inherit the test's stdout/stderr: cargo would wait for the
        // pipes to close, i.e. for the watchdog to end.
        .stdout(watchdog_output.0)
        .stderr(watchdog_output.1)
        // Own process group: a Ctrl-C on the test run must not kill the
        // watchdog before it has cleaned up.
        .process_group(0)
        .spawn()
        .map_err(|error| {
            let _ = fs::remove_dir_all(dir);
            Launch::Failed(format!(
                "cannot start the server watchdog{}: {error}",
                if as_root {
                    " (runuser -u postgres -- sh)"
                } else {
                    " (sh)"
                }
            ))
        })?;

    let deadline = Instant::now() + START_TIMEOUT;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    loop {
        if initdb {
            // The watchdog writes the status atomically (write + rename).
            if let Ok(status) = fs::read_to_string(&initdb_status)
                && status.trim() != "0"
            {
                return Err(Launch::Failed(format!(
                    "initdb ({}) failed with exit status {}:\n{}",
                    bin.join("initdb").display(),
                    status.trim(),
                    fs::read_to_string(dir.join("initdb.log")).unwrap_or_default()
                )));
            }
        }
        if exited.exists() {
            let server_log = fs::read_to_string(&log).unwrap_or_default();
            if server_log.contains("Address already in use") {
                return Err(Launch::PortTaken);
            }
            return Err(Launch::Failed(format!(
                "postgres exited during startup; its log ({}):\n{server_log}",
                log.display()
            )));
        }
        if let Ok(Some(status)) = watchdog.try_wait() {
            return Err(Launch::Failed(format!(
                "the server watchdog exited with {status}: {}",
                fs::read_to_string(&watchdog_log).unwrap_or_default()
            )));
        }
        if server_ready(&data, port)
            && TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
        {
            return Ok(watchdog);
        }
        if Instant::now() > deadline {
            return Err(Launch::Failed(format!(
                "the throwaway cluster did not accept connections on 127.0.0.1:{port} within \
                 {START_TIMEOUT:?}; initdb log:\n{}\nserver log ({}):\n{}",
                fs::read_to_string(dir.join("initdb.log")).unwrap_or_default(),
                log.display(),
                fs::read_to_string(&log).unwrap_or_default()
            )));
        }
        thread::sleep(Duration::from_millis(25));
    }
}

/// True once the postmaster reports `ready` for our port in `postmaster.pid`
/// (the check `pg_ctl start -w` does; line 4 is the port, line 8 the status).
fn server_ready(data: &Path, port: u16) -> bool {
    let Ok(pid_file) = fs::read_to_string(data.join("postmaster.pid")) else {
        return false;
    };
    let lines: Vec<&str> = pid_file.lines().map(str::trim).collect();
    lines.get(3) == Some(&port.to_string().as_str()) && lines.get(7) == Some(&"ready")
}
