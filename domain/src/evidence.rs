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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The start of a real baseline JFIF file: SOI, APP0 "JFIF".
    const JPEG: &[u8] = &[
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00, 0x00,
        0x01, 0x00, 0x01, 0x00, 0x00, 0xFF, 0xD9,
    ];
    /// A complete 1×1 PNG: signature, IHDR, IDAT, IEND.
    const PNG: &[u8] = &[
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F,
        0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00,
        0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49,
        0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
    ];
    /// The header of a lossy WebP: RIFF, size, WEBP, VP8 chunk.
    const WEBP: &[u8] = &[
        b'R', b'I', b'F', b'F', 0x24, 0x00, 0x00, 0x00, b'W', b'E', b'B', b'P', b'V', b'P', b'8',
        b' ', 0x18, 0x00, 0x00, 0x00,
    ];
    /// A GIF89a header: an image, but not one we accept.
    const GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00";
    /// A WAV file is RIFF too, but not WEBP.
    const WAV: &[u8] = b"RIFF\x24\x00\x00\x00WAVEfmt ";

    /// What a browser might call the file: the name plays no part.
    fn upload(_file_name: &str, bytes: &[u8]) -> Result<ImageMediaType, EvidenceError> {
        sniff_image(bytes)
    }

    #[test]
    fn jpeg_png_and_webp_are_recognised_by_their_magic_bytes() {
        assert_eq!(sniff_image(JPEG), Ok(ImageMediaType::Jpeg));
        assert_eq!(sniff_image(PNG), Ok(ImageMediaType::Png));
        assert_eq!(sniff_image(WEBP), Ok(ImageMediaType::Webp));
    }

    #[test]
    fn a_png_renamed_jpg_is_still_a_png() {
        assert_eq!(upload("活动现场.jpg", PNG), Ok(ImageMediaType::Png));
        assert_eq!(upload("photo.png", JPEG), Ok(ImageMediaType::Jpeg));
    }

    #[test]
    fn gif_text_and_other_riff_files_are_refused() {
        assert_eq!(upload("动图.gif", GIF), Err(EvidenceError::NotAnImage));
        assert_eq!(
            upload("照片.jpg", "活动详情：为 12 户老人送去米面油".as_bytes()),
            Err(EvidenceError::NotAnImage)
        );
        assert_eq!(upload("sound.webp", WAV), Err(EvidenceError::NotAnImage));
        // Truncated magic is not enough.
        assert_eq!(sniff_image(&PNG[..7]), Err(EvidenceError::NotAnImage));
        assert_eq!(sniff_image(&WEBP[..11]), Err(EvidenceError::NotAnImage));
        assert_eq!(sniff_image(&JPEG[..2]), Err(EvidenceError::NotAnImage));
    }

    #[test]
    fn empty_and_oversize_files_are_refused() {
        assert_eq!(sniff_image(&[]), Err(EvidenceError::Empty));
        let mut large = JPEG.to_vec();
        large.resize(MAX_EVIDENCE_BYTES, 0);
        assert_eq!(sniff_image(&large), Ok(ImageMediaType::Jpeg));
        large.push(0);
        let error = sniff_image(&large).unwrap_err();
        assert_eq!(
            error,
            EvidenceError::TooLarge {
                size_bytes: MAX_EVIDENCE_BYTES as u64 + 1
            }
        );
        assert_eq!(error.code(), "evidence_too_large");
        assert_eq!(check_size(0), Err(EvidenceError::Empty));
        assert_eq!(check_size(1), Ok(1));
        assert_eq!(
            EvidenceError::TooLarge {
                size_bytes: 5_500_000
            }
            .to_string(),
            "图片大小为 5.2 MB，超过 5 MB 的上限，请压缩后再上传"
        );
    }

    #[test]
    fn declared_media_types_are_read_leniently_and_others_refused() {
        assert_eq!(
            ImageMediaType::parse("image/jpeg"),
            Ok(ImageMediaType::Jpeg)
        );
        assert_eq!(ImageMediaType::parse("IMAGE/JPG"), Ok(ImageMediaType::Jpeg));
        assert_eq!(
            ImageMediaType::parse("image/png; charset=binary"),
            Ok(ImageMediaType::Png)
        );
        assert_eq!(
            ImageMediaType::parse(" image/webp "),
            Ok(ImageMediaType::Webp)
        );
        for other in ["image/gif", "application/pdf", "text/plain", ""] {
            assert_eq!(
                ImageMediaType::parse(other),
                Err(EvidenceError::UnsupportedMediaType {
                    media_type: other.to_owned()
                })
            );
        }
        for media_type in ImageMediaType::ALL {
            assert_eq!(ImageMediaType::parse(media_type.as_str()), Ok(*media_type));
            let json = serde_json::to_value(media_type).unwrap();
            assert_eq!(json, serde_json::json!(media_type.as_str()));
        }
        assert_eq!(ImageMediaType::Png.extension(), "png");
    }

    #[test]
    fn sha256_digests_are_64_hex_characters() {
        let digest = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08";
        let parsed = Sha256Hex::parse(digest).unwrap();
        assert_eq!(parsed.as_str(), digest.to_ascii_lowercase());
        assert_eq!(
            serde_json::to_value(&parsed).unwrap(),
            serde_json::json!(digest.to_ascii_lowercase())
        );
        assert_eq!(
            Sha256Hex::parse(&digest[1..]),
            Err(EvidenceError::InvalidSha256)
        );
        assert_eq!(
            Sha256Hex::parse(&format!("{}g", &digest[1..])),
            Err(EvidenceError::InvalidSha256)
        );
        assert!(serde_json::from_value::<Sha256Hex>(serde_json::json!("abc")).is_err());
    }
}
