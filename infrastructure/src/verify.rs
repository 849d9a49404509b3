//! `shouwang verify`: recomputes every stream's hash chain.
//!
//! Speed matters here (a province holds tens of millions of events): rows
//! are read in large keyset pages in chain order and hashed straight from
//! the driver's buffers (borrowed `&str`/`&[u8]`, no owned copy per field),
//! as they stream in, so the hashing overlaps the database producing the
//! next rows.

use futures_util::TryStreamExt;
use sqlx::Row;

use crate::chain::{ChainedFields, GENESIS, link_hash};
use crate::db::Database;
use crate::error::StoreError;
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

/// Rows per page. Large enough that the per-query cost vanishes, small
/// enough that a page (~1 KB a row) stays a few MB and that on SQLite no
/// read transaction lasts long enough to hold back WAL checkpoints.
const PAGE_ROWS: i64 = 8_192;

/// Exactly the columns the chain covers, then the stored hash and the
/// position (for the report). Keyset pagination on the unique
/// (stream_id, stream_version) index: every page is one index range scan,
/// whatever its depth. Versions start at 1, so ('', 0) precedes every row.
const SELECT_PAGE: &str = "SELECT stream_type, stream_id, stream_version, event_type, \
     schema_version, payload, sealed, metadata, recorded_at, hash, position \
     FROM events WHERE (stream_id, stream_version) > ($1, $2) \
     ORDER BY stream_id, stream_version LIMIT $3";

/// One row of [`SELECT_PAGE`], borrowed from the driver's row.
struct Link<'r> {
    fields: ChainedFields<'r>,
    hash: &'r [u8],
    position: i64,
}

/// A driver row that [`SELECT_PAGE`] produced.
trait ChainRow {
    fn link(&self) -> Result<Link<'_>, sqlx::Error>;
}

/// The same decoding for both drivers. Columns are taken by index, without
/// the per-call type check: the query above fixes both.
macro_rules! chain_row {
    ($row:ty) => {
        impl ChainRow for $row {
            fn link(&self) -> Result<Link<'_>, sqlx::Error> {
                Ok(Link {
                    fields: ChainedFields {
                        stream_type: self.try_get_unchecked(0)?,
                        stream_id: self.try_get_unchecked(1)?,
                        stream_version: self.try_get_unchecked(2)?,
                        event_type: self.try_get_unchecked(3)?,
                        schema_version: self.try_get_unchecked(4)?,
                        payload: self.try_get_unchecked(5)?,
                        sealed: self.try_get_unchecked(6)?,
                        metadata: self.try_get_unchecked(7)?,
                        recorded_at: self.try_get_unchecked(8)?,
                    },
                    hash: self.try_get_unchecked(9)?,
                    position: self.try_get_unchecked(10)?,
                })
            }
        }
    };
}
chain_row!(sqlx::sqlite::SqliteRow);
chain_row!(sqlx::postgres::PgRow);

/// Where the walk stands between two pages.
struct Walk {
    report: VerifyReport,
    stream: String,
    previous: Vec<u8>,
    expected_version: i64,
}

impl Walk {
    /// Checks the next row; `Ok(true)` when a broken link ends the walk.
    fn check<R: ChainRow>(&mut self, row: &R) -> Result<bool, StoreError> {
        let link = row.link()?;
        let fields = &link.fields;
        if self.stream != fields.stream_id || self.report.streams == 0 {
            self.stream.clear();
            self.stream.push_str(fields.stream_id);
            self.previous.clear();
            self.previous.extend_from_slice(&GENESIS);
            self.expected_version = 1;
            self.report.streams += 1;
        }
        let broken = |reason: String| BrokenLink {
            stream_id: fields.stream_id.to_owned(),
            stream_version: fields.stream_version,
            position: link.position,
            reason,
        };
        if fields.stream_version != self.expected_version {
            self.report.first_broken = Some(broken(format!(
                "版本号应为 {}，实际为 {}（有事件缺失）",
                self.expected_version, fields.stream_version
            )));
            return Ok(true);
        }
        // Each link covers the *stored* previous hash, so every row is
        // checked against its predecessor as stored.
        if link_hash(&self.previous, fields).as_slice() != link.hash {
            self.report.first_broken = Some(broken(
                "哈希值与内容不符：事件内容或前一条事件被改动过".to_owned(),
            ));
            return Ok(true);
        }
        self.previous.clear();
        self.previous.extend_from_slice(link.hash);
        self.expected_version += 1;
        self.report.events += 1;
        Ok(false)
    }
}

/// Walks every stream in (stream, version) order and stops at the first
/// broken link. `progress` is called with the number of events checked so
/// far.
pub async fn verify_chains(
    db: &Database,
    progress: impl FnMut(u64),
) -> Result<VerifyReport, StoreError> {
    verify_in_pages(db, PAGE_ROWS, progress).await
}

async fn verify_in_pages(
    db: &Database,
    page_rows: i64,
    mut progress: impl FnMut(u64),
) -> Result<VerifyReport, StoreError> {
    let mut walk = Walk {
        report: VerifyReport::default(),
        stream: String::new(),
        previous: GENESIS.to_vec(),
        expected_version: 1,
    };
    with_pool!(db, pool => {
        // One connection for every page: its page cache and prepared
        // statement stay warm (the pool would hand out its connections in
        // turn). Between pages it holds no transaction, so SQLite's
        // checkpoints go on.
        let mut connection = pool.acquire().await?;
        loop {
            let before = walk.report.events;
            let mut rows = sqlx::query(SELECT_PAGE)
                .bind(walk.stream.clone())
                .bind(walk.expected_version - 1)
                .bind(page_rows)
                .fetch(&mut *connection);
            // Rows are hashed as they arrive, while the driver (SQLite's
            // worker thread, PostgreSQL's backend) produces the next ones.
            while let Some(row) = rows.try_next().await? {
                if walk.check(&row)? {
                    progress(walk.report.events);
                    return Ok(walk.report);
                }
            }
            progress(walk.report.events);
            if walk.report.events - before < page_rows as u64 {
                break;
            }
        }
    });
    Ok(walk.report)
}

#[cfg(test)]
mod tests {
    use super::*;

    shouwang_testkit::on_both_backends! {
        every_page_size_finds_the_same_first_broken_link => page_boundaries;
    }

    /// Writes one event with its chain hash straight into `events` (the
    /// store is not needed to test the walk). `tamper` stores a wrong hash.
    async fn insert(
        db: &Database,
        stream: &str,
        version: i64,
        previous: &[u8],
        tamper: bool,
    ) -> Vec<u8> {
        let payload = format!("{{\"n\":{version}}}");
        let fields = ChainedFields {
            stream_type: "tally",
            stream_id: stream,
            stream_version: version,
            event_type: "Added",
            schema_version: 1,
            payload: &payload,
            sealed: (version % 2 == 0).then_some(&[1, 2, 3][..]),
            metadata: "{}",
            recorded_at: "2026-11-30T08:00:00.000000Z",
        };
        let mut hash = link_hash(previous, &fields).to_vec();
        if tamper {
            hash[0] ^= 1;
        }
        with_pool!(db, pool => {
            sqlx::query(
                "INSERT INTO events (stream_type, stream_id, stream_version, event_type, \
                 schema_version, payload, sealed, metadata, recorded_at, hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(fields.stream_type)
            .bind(fields.stream_id)
            .bind(fields.stream_version)
            .bind(fields.event_type)
            .bind(fields.schema_version)
            .bind(fields.payload)
            .bind(fields.sealed)
            .bind(fields.metadata)
            .bind(fields.recorded_at)
            .bind(&hash)
            .execute(pool)
            .await
            .expect("insert event");
        });
        hash
    }

    /// Streams a (4 good events), b (v1 good, v2 with a wrong hash), c (a
    /// gap): wherever the pages break, the walk reports b/2 after 5 events.
    async fn page_boundaries(url: &str) {
        let db = Database::connect(url).await.expect("connect");
        db.migrate().await.expect("migrate");
        let mut previous = GENESIS.to_vec();
        for version in 1..=4 {
            previous = insert(&db, "a", version, &previous, false).await;
        }
        let intact = verify_in_pages(&db, 3, |_| {}).await.expect("verify");
        assert_eq!(
            (intact.streams, intact.events, intact.first_broken),
            (1, 4, None)
        );

        let first = insert(&db, "b", 1, &GENESIS, false).await;
        insert(&db, "b", 2, &first, true).await;
        let first = insert(&db, "c", 1, &GENESIS, false).await;
        insert(&db, "c", 3, &first, false).await;
        let mut reports = Vec::new();
        for page_rows in [1, 2, 3, 4, 5, 6, 100, PAGE_ROWS] {
            let mut calls = Vec::new();
            let report = verify_in_pages(&db, page_rows, |n| calls.push(n))
                .await
                .expect("verify");
            assert_eq!(calls.last(), Some(&report.events), "{page_rows}");
            reports.push(report);
        }
        for report in &reports {
            assert_eq!(report, &reports[0]);
        }
        let broken = reports[0].first_broken.clone().expect("tampering found");
        assert_eq!(
            (reports[0].streams, reports[0].events),
            (2, 5),
            "{:?}",
            reports[0]
        );
        assert_eq!((broken.stream_id.as_str(), broken.stream_version), ("b", 2));
        assert!(broken.reason.contains("哈希值与内容不符"), "{broken}");
    }
}
