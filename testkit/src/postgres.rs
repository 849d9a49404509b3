//! PostgreSQL test databases: one fresh database per test on a per-process server.

use std::env::{self, VarError};
use std::sync::OnceLock;
use std::time::Duration;

use sqlx::{AssertSqlSafe, Connection, PgConnection};

use crate::cluster::{self, Cluster};

/// How long we wait for a connection to the server before failing the test.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The PostgreSQL server shared by all tests of this process.
#[derive(Debug)]
struct Server {
    /// URL of a database on the server we may connect to in order to run
    /// `CREATE DATABASE` / `DROP DATABASE`.
    admin_url: String,
    /// The throwaway cluster, if we started one (kept so it is owned for the
    /// life of the process; its watchdog stops it when the process ends).
    cluster: Option<Cluster>,
}

/// Set up once per test process. The error is cached too, so every test of a
/// process fails with the same explanation instead of retrying a slow start.
static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();

/// A fresh, empty PostgreSQL database created for one test.
///
/// With a throwaway cluster the database is simply left behind (the whole
/// cluster is removed when the test process ends). With a server from
/// `DATABASE_URL`, dropping the handle drops the database best-effort so a
/// shared server does not fill up with test databases.
#[derive(Debug)]
pub struct PgTestDatabase {
    name: String,
    url: String,
    admin_url: String,
    drop_on_release: bool,
}

impl PgTestDatabase {
    /// A `postgres://` URL to this test's database, to hand to the code under test.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database name (`shouwang_test_<uuid>`), e.g. for assertions or logs.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for PgTestDatabase {
    fn drop(&mut self) {
        if !self.drop_on_release {
            return;
        }
        let admin_url = self.admin_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        // Drop cannot be async and may run inside (or outside) any runtime, so
        // use a private runtime on a scoped helper thread. Best-effort: errors
        // only leave a stray database on the external server.
        std::thread::scope(|scope| {
            scope.spawn(move || {
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                runtime.block_on(async move {
                    if let Ok(Ok(mut conn)) =
                        tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(&admin_url))
                            .await
                    {
                        let _ = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await;
                        let _ = conn.close().await;
                    }
                });
            });
        });
    }
}

/// Creates a fresh, uniquely named (`shouwang_test_<uuid>`), empty PostgreSQL
/// database and returns a handle with its URL.
///
/// Why: tests run in parallel and must not see each other's data, and they must
/// not rely on a PostgreSQL a previous session happened to leave running. The
/// server is `DATABASE_URL` when set (a `postgres://` URL to a server where we
/// may `CREATE DATABASE`), otherwise a throwaway cluster started once per test
/// process from the local PostgreSQL binaries. The database is created from
/// `template0` with UTF-8 encoding and the `C` locale, so it is empty and
/// behaves the same on every server.
///
/// Only a short-lived connection is opened per call (no pool is kept in a
/// static), because every `#[tokio::test]` has its own runtime.
///
/// # Panics
///
/// Panics with an explanation when no server is available (no `DATABASE_URL`
/// and no usable local PostgreSQL binaries), when the server cannot be reached,
/// or when `CREATE DATABASE` fails. PostgreSQL tests are never skipped silently.
pub async fn postgres_database() -> PgTestDatabase {
    let server = match SERVER.get() {
        Some(server) => server,
        // Starting a cluster blocks for a second or two; keep that off the
        // test's runtime thread.
        None => tokio::task::spawn_blocking(|| SERVER.get_or_init(init_server))
            .await
            .expect("shouwang-testkit: setting up the PostgreSQL test server panicked"),
    };
    let server = match server {
        Ok(server) => server,
        Err(message) => panic!("{message}"),
    };

    let name = format!("shouwang_test_{}", uuid::Uuid::now_v7().simple());
    let mut conn = connect(&server.admin_url).await;
    let create = format!(
        "CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
    );
    if let Err(error) = sqlx::raw_sql(AssertSqlSafe(create))
        .execute(&mut conn)
        .await
    {
        panic!(
            "shouwang-testkit: CREATE DATABASE {name} failed on {}: {error} \
             (the role needs the CREATEDB privilege)",
            redact(&server.admin_url)
        );
    }
    let _ = conn.close().await;

    PgTestDatabase {
        url: with_database(&server.admin_url, &name),
        name,
        admin_url: server.admin_url.clone(),
        drop_on_release: server.cluster.is_none(),
    }
}

/// Picks the server for this process: `DATABASE_URL`, else a throwaway cluster.
fn init_server() -> Result<Server, String> {
    match env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => {
            let url = url.trim().to_owned();
            if url.starts_with("postgres://") || url.starts_with("postgresql://") {
                Ok(Server {
                    admin_url: url,
                    cluster: None,
                })
            } else {
                Err(format!(
                    "shouwang-testkit: DATABASE_URL is set but is not a postgres:// URL ({}). \
                     Set it to a PostgreSQL server where we may CREATE DATABASE, or unset it \
                     to have the tests start a throwaway cluster from the local PostgreSQL binaries.",
                    redact(&url)
                ))
            }
        }
        Ok(_) | Err(VarError::NotPresent) => {
            let cluster = cluster::start().map_err(|reason| {
                format!(
                    "shouwang-testkit: no PostgreSQL server for the tests. DATABASE_URL is not set \
                     and a throwaway cluster could not be started: {reason}\n\
                     Fix: set DATABASE_URL=postgres://user@host:port/db (a server where we may \
                     CREATE DATABASE), or install PostgreSQL (apt-get install -y postgresql) so \
                     that /usr/lib/postgresql/<version>/bin/initdb exists."
                )
            })?;
            Ok(Server {
                admin_url: cluster.url().to_owned(),
                cluster: Some(cluster),
            })
        }
        Err(VarError::NotUnicode(_)) => {
            Err("shouwang-testkit: DATABASE_URL is set but is not valid UTF-8".to_owned())
        }
    }
}

/// Opens a short-lived connection, panicking with a clear message on failure.
async fn connect(url: &str) -> PgConnection {
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(url)).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(error)) => panic!(
            "shouwang-testkit: cannot connect to the PostgreSQL test server at {}: {error}",
            redact(url)
        ),
        Err(_) => panic!(
            "shouwang-testkit: connecting to the PostgreSQL test server at {} timed out after {:?}",
            redact(url),
            CONNECT_TIMEOUT
        ),
    }
}

/// Splits a URL into (`scheme://authority`, path, `?query` or empty).
fn split_url(url: &str) -> (&str, &str, &str) {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let (before_query, query) = match url.find('?') {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    match before_query[after_scheme..].find('/') {
        Some(i) => {
            let (base, path) = before_query.split_at(after_scheme + i);
            (base, path, query)
        }
        None => (before_query, "", query),
    }
}

/// Returns `url` with its database (path) replaced by `database`, keeping
/// credentials, host and query parameters (e.g. `sslmode`).
fn with_database(url: &str, database: &str) -> String {
    let (base, _path, query) = split_url(url);
    format!("{base}/{database}{query}")
}

/// Hides the password of a URL so it never ends up in test output or CI logs.
fn redact(url: &str) -> String {
    let (base, path, query) = split_url(url);
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let (scheme, authority) = base.split_at(after_scheme);
    match authority.rfind('@') {
        Some(at) => {
            let (userinfo, host) = authority.split_at(at);
            match userinfo.find(':') {
                Some(colon) => format!("{scheme}{}:***{host}{path}{query}", &userinfo[..colon]),
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_database_replaces_only_the_path() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/postgres?sslmode=disable", "x"),
            "postgres://u:p@h:5432/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
        assert_eq!(
            with_database("postgresql://h:1/", "x"),
            "postgresql://h:1/x"
        );
        assert_eq!(
            with_database("postgres:///db?host=/run/postgresql", "x"),
            "postgres:///x?host=/run/postgresql"
        );
    }

    #[test]
    fn redact_hides_passwords() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db?sslmode=require"),
            "postgres://u:***@h:5432/db?sslmode=require"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
    }
}
