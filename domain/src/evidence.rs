//! 佐证材料: images kept as evidence of what was done.
//!
//! The bytes are stored by the infrastructure, which names each file by its
//! SHA-256; the domain sees only that digest and what the file is. The type
//! of an image is decided by its content ([`sniff_image`]), never by its
//! name: a PNG renamed `photo.jpg` is still a PNG, and a text file renamed
//! `photo.jpg` is refused.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The largest evidence image accepted: 5 MiB, plenty for a phone photo
/// compressed for upload.
pub const MAX_EVIDENCE_BYTES: usize = 5 * 1024 * 1024;

/// The image formats accepted as evidence, stored as their media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ImageMediaType {
    #[serde(rename = "image/jpeg")]
    Jpeg,
    #[serde(rename = "image/png")]
    Png,
    #[serde(rename = "image/webp")]
    Webp,
}

impl ImageMediaType {
    pub const ALL: &'static [Self] = &[Self::Jpeg, Self::Png, Self::Webp];

    /// The media type, as stored and as sent in `Content-Type`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ImageMediaType::Jpeg => "image/jpeg",
            ImageMediaType::Png => "image/png",
            ImageMediaType::Webp => "image/webp",
        }
    }

    /// The usual file extension, without the dot.
    pub fn extension(&self) -> &'static str {
        match self {
            ImageMediaType::Jpeg => "jpg",
            ImageMediaType::Png => "png",
            ImageMediaType::Webp => "webp",
        }
    }

    /// Reads a declared media type such as `image/png` or
    /// `IMAGE/JPEG; charset=binary`; the non-standard `image/jpg` is read as
    /// JPEG. Anything else is refused.
    pub fn parse(media_type: &str) -> Result<Self, EvidenceError> {
        let essence = media_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "image/jpeg" | "image/jpg" => Ok(ImageMediaType::Jpeg),
            "image/png" => Ok(ImageMediaType::Png),
            "image/webp" => Ok(ImageMediaType::Webp),
            _ => Err(EvidenceError::UnsupportedMediaType {
                media_type: media_type.trim().to_owned(),
            }),
        }
    }
}

impl fmt::Display for ImageMediaType {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Why a file cannot be kept as evidence.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EvidenceError {
    #[error("图片是空文件（0 字节），请重新拍照或选择图片")]
    Empty,
    #[error("图片大小为 {} MB，超过 5 MB 的上限，请压缩后再上传", megabytes(*.size_bytes))]
    TooLarge { size_bytes: u64 },
    #[error(
        "文件内容不是 JPEG、PNG 或 WebP 格式的图片（按文件内容识别，与文件名无关），请上传照片"
    )]
    NotAnImage,
    #[error("文件类型“{media_type}”不是 JPEG、PNG 或 WebP 图片，请上传照片")]
    UnsupportedMediaType { media_type: String },
    #[error("佐证材料的 SHA-256 摘要应为 64 位十六进制字符，请重新上传文件")]
    InvalidSha256,
}

impl EvidenceError {
    /// A stable snake_case code for machines.
    pub fn code(&self) -> &'static str {
        match self {
            EvidenceError::Empty => "evidence_empty",
            EvidenceError::TooLarge { .. } => "evidence_too_large",
            EvidenceError::NotAnImage => "evidence_not_an_image",
            EvidenceError::UnsupportedMediaType { .. } => "evidence_unsupported_media_type",
            EvidenceError::InvalidSha256 => "evidence_invalid_sha256",
        }
    }
}

/// A size in bytes as megabytes with one decimal, rounded down: `5.2`.
fn megabytes(size_bytes: u64) -> String {
    let tenths = size_bytes.saturating_mul(10) / (1024 * 1024);
    format!("{}.{}", tenths / 10, tenths % 10)
}

/// Refuses empty files and files over [`MAX_EVIDENCE_BYTES`].
pub fn check_size(size_bytes: u64) -> Result<u64, EvidenceError> {
    if size_bytes == 0 {
        return Err(EvidenceError::Empty);
    }
    if size_bytes > MAX_EVIDENCE_BYTES as u64 {
        return Err(EvidenceError::TooLarge { size_bytes });
    }
    Ok(size_bytes)
}

/// The format of an image, recognised by its magic bytes:
/// JPEG `FF D8 FF`, PNG `89 50 4E 47 0D 0A 1A 0A`, WebP `RIFF....WEBP`.
/// Empty and oversize files are refused first.
pub fn sniff_image(bytes: &[u8]) -> Result<ImageMediaType, EvidenceError> {
    check_size(bytes.len() as u64)?;
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok(ImageMediaType::Jpeg)
    } else if bytes.starts_with(PNG) {
        Ok(ImageMediaType::Png)
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Ok(ImageMediaType::Webp)
    } else {
        Err(EvidenceError::NotAnImage)
    }
}

/// A SHA-256 digest as 64 lower-case hexadecimal characters: how stored
/// attachments are named and referred to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sha256Hex(String);

impl Sha256Hex {
    /// Validates a digest; surrounding whitespace is ignored and capitals
    /// are read as lower case.
    pub fn parse(text: &str) -> Result<Self, EvidenceError> {
        let text = text.trim().to_ascii_lowercase();
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(EvidenceError::InvalidSha256);
        }
        Ok(Sha256Hex(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sha256Hex {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl TryFrom<String> for Sha256Hex {
    type Error = EvidenceError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Sha256Hex::parse(&text)
    }
}

impl From<Sha256Hex> for String {
    fn from(digest: Sha256Hex) -> Self {
        digest.0
    }
}
