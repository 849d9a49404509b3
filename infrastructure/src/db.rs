//! The database handle: one type for both backends.
//!
//! SQL lives in `&'static str` constants written with `$1` placeholders, which
//! both PostgreSQL and SQLite (through sqlx) accept; where the dialects differ
//! the constant is chosen per backend. [`with_pool!`] expands a block once per
//! backend so one body serves both.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use tokio::sync::Mutex;

use crate::error::StoreError;

/// Which database engine a [`Database`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a connection URL selects: `postgres://` or `postgresql://`
    /// is PostgreSQL, `sqlite:` is SQLite.
    pub fn of_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else {
            Err(StoreError::Configuration(format!(
                "数据库地址 {url} 无法识别：请使用 sqlite://文件路径 或 postgres://用户@主机/库名"
            )))
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A connection pool to either backend.
#[derive(Debug, Clone)]
pub enum Database {
    Sqlite {
        pool: SqlitePool,
        /// SQLite has one writer; serializing appends in-process avoids
        /// `SQLITE_BUSY` storms between our own tasks.
        write_lock: Arc<Mutex<()>>,
    },
    Postgres {
        pool: PgPool,
    },
}

/// Runs `$body` with `$pool` bound to the backend's concrete pool type.
#[macro_export]
macro_rules! with_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Database::Sqlite { pool: $pool, .. } => $body,
            $crate::db::Database::Postgres { pool: $pool } => $body,
        }
    };
}

/// Page cache per SQLite connection, in KiB (a negative `cache_size`). The
/// default of 2 MiB holds a sliver of the indexes a county's database grows
/// (a million people make about 30 GiB); past it every page touched is a
/// system call copying it in from the operating system. SQLite takes the
/// memory only as pages are used, so idle connections cost nothing.
const SQLITE_CACHE_SIZE: &str = "-65536";

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Database {
    /// Opens a pool. SQLite files are created when missing and run in WAL mode
    /// with `synchronous=FULL`, so a committed event survives power loss.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        match Backend::of_url(url)? {
            Backend::Sqlite => Self::connect_sqlite(Self::sqlite_options(url)?).await,
            Backend::Postgres => {
                let options = PgConnectOptions::from_str(url)
                    .map_err(|e| StoreError::Configuration(format!("PostgreSQL 地址有误：{e}")))?;
                let pool = PgPoolOptions::new()
                    .max_connections(32)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await
                    .map_err(StoreError::connection)?;
                Ok(Database::Postgres { pool })
            }
        }
    }

    /// The store's SQLite options for `url` (a benchmark may change the
    /// `synchronous` level before [`Database::connect_sqlite`]).
    pub fn sqlite_options(url: &str) -> Result<SqliteConnectOptions, StoreError> {
        Ok(SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Configuration(format!("SQLite 地址有误：{e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .pragma("cache_size", SQLITE_CACHE_SIZE))
    }

    /// Opens a SQLite pool with `options`.
    pub async fn connect_sqlite(options: SqliteConnectOptions) -> Result<Self, StoreError> {
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(StoreError::connection)?;
        Ok(Database::Sqlite {
            pool,
            write_lock: Arc::new(Mutex::new(())),
        })
    }

    pub fn backend(&self) -> Backend {
        match self {
            Database::Sqlite { .. } => Backend::Sqlite,
            Database::Postgres { .. } => Backend::Postgres,
        }
    }

    /// The in-process writer lock of SQLite (none on PostgreSQL). Anything
    /// that writes in a long transaction takes it, so our own writers queue
    /// instead of spinning on `SQLITE_BUSY`.
    pub fn sqlite_write_lock(&self) -> Option<Arc<Mutex<()>>> {
        match self {
            Database::Sqlite { write_lock, .. } => Some(write_lock.clone()),
            Database::Postgres { .. } => None,
        }
    }

    /// Applies the backend's pending migrations.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Database::Sqlite { pool, .. } => SQLITE_MIGRATIONS.run(pool).await?,
            Database::Postgres { pool } => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// True when every migration this build knows has been applied.
    pub async fn migrations_applied(&self) -> Result<bool, StoreError> {
        const APPLIED: &str = "SELECT COUNT(*) FROM _sqlx_migrations WHERE success";
        let (applied, known) = match self {
            Database::Sqlite { pool, .. } => (
                sqlx::query_scalar::<_, i64>(APPLIED).fetch_one(pool).await,
                SQLITE_MIGRATIONS.iter().count(),
            ),
            Database::Postgres { pool } => (
                sqlx::query_scalar::<_, i64>(APPLIED).fetch_one(pool).await,
                POSTGRES_MIGRATIONS.iter().count(),
            ),
        };
        // A database that was never migrated has no bookkeeping table at all.
        Ok(applied.is_ok_and(|applied| usize::try_from(applied).is_ok_and(|n| n >= known)))
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }
}
