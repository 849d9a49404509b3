//! `shouwang verify`: recomputes every stream's hash chain.

use futures_util::TryStreamExt;

use crate::chain::{GENESIS, link_hash};
use crate::db::Database;
use crate::error::StoreError;
use crate::store::{StoredRow, event_columns};
use crate::with_pool;

/// The first place where the stored history does not match its chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    pub stream_id: String,
    pub stream_version: i64,
    pub position: i64,
    pub reason: String,
}

impl std::fmt::Display for BrokenLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "对象 {} 第 {} 条事件（全局位置 {}）校验失败：{}",
            self.stream_id, self.stream_version, self.position, self.reason
        )
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub streams: u64,
    pub events: u64,
    pub first_broken: Option<BrokenLink>,
}

const SELECT_ALL_BY_STREAM: &str = concat!(
    "SELECT ",
    event_columns!(),
    " FROM events ORDER BY stream_id, stream_version"
);

/// Walks every stream in order and stops at the first broken link.
/// `progress` is called with the number of events checked so far.
pub async fn verify_chains(
    db: &Database,
    mut progress: impl FnMut(u64),
) -> Result<VerifyReport, StoreError> {
    with_pool!(db, pool => {
        let mut rows = sqlx::query_as::<_, StoredRow>(SELECT_ALL_BY_STREAM).fetch(pool);
        let mut report = VerifyReport::default();
        let mut current_stream: Option<String> = None;
        let mut previous = GENESIS.to_vec();
        let mut expected_version = 1;
        while let Some(row) = rows.try_next().await? {
            if current_stream.as_deref() != Some(row.stream_id.as_str()) {
                current_stream = Some(row.stream_id.clone());
                previous = GENESIS.to_vec();
                expected_version = 1;
                report.streams += 1;
            }
            let broken = |reason: String| BrokenLink {
                stream_id: row.stream_id.clone(),
                stream_version: row.stream_version,
                position: row.position,
                reason,
            };
            if row.stream_version != expected_version {
                report.first_broken = Some(broken(format!(
                    "版本号应为 {expected_version}，实际为 {}（有事件缺失）",
                    row.stream_version
                )));
                return Ok(report);
            }
            let hash = link_hash(&previous, &row.chained_fields());
            if hash.as_slice() != row.hash.as_slice() {
                report.first_broken = Some(broken(
                    "哈希值与内容不符：事件内容或前一条事件被改动过".to_owned(),
                ));
                return Ok(report);
            }
            previous = row.hash;
            expected_version += 1;
            report.events += 1;
            if report.events % 10_000 == 0 {
                progress(report.events);
            }
        }
        progress(report.events);
        Ok(report)
    })
}
