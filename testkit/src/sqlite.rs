//! SQLite test databases: one file per test in its own temporary directory.

use std::fmt::Write as _;
use std::path::Path;

use tempfile::TempDir;

/// Returns a `sqlite://…/test.db?mode=rwc` URL for a database file inside `dir`.
///
/// `mode=rwc` makes sqlx create the file on first connect, so the test starts
/// from an empty database without any setup step. The path is percent-encoded
/// because sqlx percent-decodes the path part of SQLite URLs.
pub fn sqlite_url(dir: &Path) -> String {
    let path = dir.join("test.db");
    let mut encoded = String::new();
    for byte in path.to_string_lossy().bytes() {
        if byte.is_ascii_alphanumeric() || b"/-_.~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    format!("sqlite://{encoded}?mode=rwc")
}

/// A fresh SQLite database file in a temporary directory.
///
/// Keep the value alive for as long as the test uses the database: dropping it
/// deletes the directory (and so the database file with its WAL/SHM files).
#[derive(Debug)]
pub struct SqliteTestDatabase {
    dir: TempDir,
    url: String,
}

impl SqliteTestDatabase {
    /// The `sqlite://…?mode=rwc` URL to hand to the code under test.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The temporary directory holding the database file, for tests that want
    /// to put other files (exports, keys) next to it.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Creates a fresh SQLite test database in a new temporary directory.
///
/// The file itself is created on first connect (`mode=rwc`), so the database is
/// guaranteed empty. Panics if no temporary directory can be created, because a
/// test without its database cannot run meaningfully.
pub fn sqlite_database() -> SqliteTestDatabase {
    let dir = tempfile::Builder::new()
        .prefix("shouwang-sqlite-")
        .tempdir()
        .expect(
            "shouwang-testkit: could not create a temporary directory for a SQLite test database",
        );
    let url = sqlite_url(dir.path());
    SqliteTestDatabase { dir, url }
}
