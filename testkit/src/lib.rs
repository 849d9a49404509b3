//! Test support for shouwang: real databases for store and projection tests.
//!
//! Every store/projection test runs on SQLite **and** on PostgreSQL. This crate
//! gives each test a fresh, empty database on both, so tests never share state
//! and never depend on what a previous session left running:
//!
//! * [`sqlite_database`] / [`sqlite_url`]: a SQLite file in a temporary directory.
//! * [`postgres_database`]: a uniquely named, empty database on a PostgreSQL
//!   server. The server is, in order of preference,
//!   1. the one `DATABASE_URL` points to (a `postgres://` URL to a server where
//!      we may `CREATE DATABASE`), or
//!   2. a throwaway cluster started from the local PostgreSQL binaries
//!      (`/usr/lib/postgresql/<highest version>/bin`) once per test process and
//!      removed when the process ends.
//!
//!   If neither is possible the call panics with an explanation: a PostgreSQL
//!   test is never skipped silently.
//!
//! ```no_run
//! # async fn example() {
//! let pg = shouwang_testkit::postgres_database().await;
//! let sqlite = shouwang_testkit::sqlite_database();
//! for url in [pg.url(), sqlite.url()] {
//!     // run the same test against both back ends
//!     # let _ = url;
//! }
//! # }
//! ```

mod cluster;
mod postgres;
mod sqlite;

pub use postgres::{PgTestDatabase, postgres_database};
pub use sqlite::{SqliteTestDatabase, sqlite_database, sqlite_url};

/// Runs one async test body on both backends: `$body(url: &str)` becomes the
/// tests `$name::sqlite` and `$name::postgres`, each with a fresh database.
///
/// ```ignore
/// shouwang_testkit::on_both_backends! {
///     appends_are_durable => appends_are_durable_body;
/// }
/// async fn appends_are_durable_body(url: &str) { /* … */ }
/// ```
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident => $body:ident;)+) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let db = $crate::sqlite_database();
                    super::$body(db.url()).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let db = $crate::postgres_database().await;
                    super::$body(db.url()).await;
                }
            }
        )+
    };
}
