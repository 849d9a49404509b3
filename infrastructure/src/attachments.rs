//! Content-addressed storage of evidence images in the database itself, so a
//! backup of the database is a backup of the evidence, on both backends.

use chrono::Utc;
use sha2::{Digest, Sha256};
use shouwang_domain::evidence::{EvidenceError, ImageMediaType, sniff_image};
use thiserror::Error;

use crate::db::Database;
use crate::error::StoreError;
use crate::store::format_instant;
use crate::with_pool;

/// An image as stored: what an `AttachEvidence` command refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAttachment {
    pub sha256: String,
    pub media_type: ImageMediaType,
    pub size_bytes: u64,
}

#[derive(Debug, Error)]
pub enum AttachmentError {
    /// The upload was refused; the message says why, in Chinese.
    #[error(transparent)]
    Refused(#[from] EvidenceError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for AttachmentError {
    fn from(error: sqlx::Error) -> Self {
        AttachmentError::Store(StoreError::Database(error))
    }
}

const INSERT_ATTACHMENT: &str = "INSERT INTO attachments (sha256, media_type, size_bytes, content, stored_at) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING";
const SELECT_ATTACHMENT: &str = "SELECT media_type, content FROM attachments WHERE sha256 = $1";

/// Stores an image after checking its bytes (not its name) are JPEG, PNG or
/// WebP and at most 5 MiB. Storing the same bytes again is a no-op.
pub async fn store_attachment(
    db: &Database,
    bytes: &[u8],
) -> Result<StoredAttachment, AttachmentError> {
    let media_type = sniff_image(bytes)?;
    let sha256 = hex::encode(Sha256::digest(bytes));
    let size_bytes = bytes.len() as u64;
    with_pool!(db, pool => {
        sqlx::query(INSERT_ATTACHMENT)
            .bind(&sha256)
            .bind(media_type.as_str())
            .bind(i64::try_from(size_bytes).unwrap_or(i64::MAX))
            .bind(bytes)
            .bind(format_instant(Utc::now()))
            .execute(pool)
            .await?;
    });
    Ok(StoredAttachment {
        sha256,
        media_type,
        size_bytes,
    })
}

/// The stored image with this digest, if any.
pub async fn load_attachment(
    db: &Database,
    sha256: &str,
) -> Result<Option<(ImageMediaType, Vec<u8>)>, AttachmentError> {
    let row: Option<(String, Vec<u8>)> = with_pool!(db, pool => {
        sqlx::query_as(SELECT_ATTACHMENT).bind(sha256).fetch_optional(pool).await?
    });
    match row {
        Some((media_type, content)) => Ok(Some((ImageMediaType::parse(&media_type)?, content))),
        None => Ok(None),
    }
}
