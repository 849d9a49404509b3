//! Typed configuration of the store, shared by every entry point.
//!
//! The binary fills [`Settings`] from flags and `SHOUWANG_*` environment
//! variables; this module turns it into an open, migrated [`Store`].

use std::path::{Path, PathBuf};

use crate::db::Database;
use crate::error::StoreError;
use crate::store::Store;
use crate::vault::{MasterKey, MasterKeySource};

/// Where the master key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeySetting {
    /// 64 hexadecimal characters, e.g. from `SHOUWANG_MASTER_KEY`.
    Hex(String),
    /// A key file; created with permissions 0600 if missing.
    File(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub database_url: String,
    pub master_key: MasterKeySetting,
    /// Snapshot each stream every N events (0 = never).
    pub snapshot_every: u64,
}

impl Settings {
    /// The embedded default: a SQLite file and a generated key file, both in
    /// `data_dir`.
    pub fn embedded(data_dir: &Path) -> Self {
        Self {
            database_url: format!(
                "sqlite://{}?mode=rwc",
                data_dir.join("shouwang.db").display()
            ),
            master_key: MasterKeySetting::File(data_dir.join("master.key")),
            snapshot_every: 100,
        }
    }
}

/// What opening the store did, for start-up messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    pub master_key_source: MasterKeySource,
}

/// Connects, migrates and loads the master key.
pub async fn open_store(settings: &Settings) -> Result<(Store, Opened), StoreError> {
    if let Some(path) = sqlite_file(&settings.database_url)
        && let Some(parent) = Path::new(path)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(|e| {
            StoreError::Configuration(format!("无法创建数据目录 {}：{e}", parent.display()))
        })?;
    }
    let (master, master_key_source) = match &settings.master_key {
        MasterKeySetting::Hex(hex) => (MasterKey::from_hex(hex)?, MasterKeySource::Environment),
        MasterKeySetting::File(path) => MasterKey::load_or_create(path)?,
    };
    let db = Database::connect(&settings.database_url).await?;
    db.migrate().await?;
    let store = Store::new(db, master).with_snapshot_every(settings.snapshot_every);
    Ok((store, Opened { master_key_source }))
}

fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_file_paths_are_found_in_urls() {
        assert_eq!(
            sqlite_file("sqlite://data/x.db?mode=rwc"),
            Some("data/x.db")
        );
        assert_eq!(sqlite_file("sqlite:x.db"), Some("x.db"));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://u@h/db"), None);
    }
}
