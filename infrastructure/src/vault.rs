//! The personal-data vault (个人信息保护).
//!
//! Each person (stream) has a random 256-bit data key. Data keys are stored
//! wrapped (XChaCha20-Poly1305) by the master key, which never enters the
//! database. Sealed fields are encrypted under the data key with the stream id
//! and version as associated data, so a sealed blob cannot be moved to another
//! event unnoticed. Erasure destroys the wrapped data key: the ciphertext
//! remains (and the hash chain over it still verifies) but is unreadable.

use std::fmt;
use std::path::Path;

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{Key, KeyInit, XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::StoreError;

const NONCE_LEN: usize = 24;
const KEY_LEN: usize = 32;

/// The master key that wraps every data key.
#[derive(Clone)]
pub struct MasterKey {
    wrapping: [u8; KEY_LEN],
    blind_index: [u8; KEY_LEN],
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(**redacted**)")
    }
}

/// Where the master key came from, so start-up can warn about the embedded
/// default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MasterKeySource {
    Environment,
    ExistingFile,
    GeneratedFile,
}

impl MasterKey {
    /// Builds the key from 64 hexadecimal characters (32 bytes).
    pub fn from_hex(hex_key: &str) -> Result<Self, StoreError> {
        let bytes = hex::decode(hex_key.trim()).map_err(|_| {
            StoreError::Configuration("主密钥必须是 64 位十六进制字符（32 字节）".to_owned())
        })?;
        let bytes: [u8; KEY_LEN] = bytes.try_into().map_err(|_| {
            StoreError::Configuration("主密钥必须是 64 位十六进制字符（32 字节）".to_owned())
        })?;
        Ok(Self::from_bytes(bytes))
    }

    pub fn from_bytes(root: [u8; KEY_LEN]) -> Self {
        // Two independent sub-keys, so the blind index never reuses the
        // wrapping key.
        Self {
            wrapping: derive(&root, b"shouwang/wrap-data-keys/v1"),
            blind_index: derive(&root, b"shouwang/blind-index/v1"),
        }
    }

    /// A fresh random key (tests and first start of the embedded default).
    pub fn generate() -> ([u8; KEY_LEN], Self) {
        let root: [u8; KEY_LEN] = rand::random();
        (root, Self::from_bytes(root))
    }

    /// Reads the key from `path`, or — for the embedded default — generates
    /// one there with permissions 0600 when the file does not exist yet.
    pub fn load_or_create(path: &Path) -> Result<(Self, MasterKeySource), StoreError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok((Self::from_hex(&text)?, MasterKeySource::ExistingFile)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let (root, key) = Self::generate();
                write_private_file(path, &hex::encode(root))?;
                Ok((key, MasterKeySource::GeneratedFile))
            }
            Err(error) => Err(StoreError::Configuration(format!(
                "无法读取主密钥文件 {}：{error}",
                path.display()
            ))),
        }
    }

    pub(crate) fn wrap(&self, stream_id: &str, data_key: &DataKey) -> Result<Vec<u8>, StoreError> {
        seal_bytes(&self.wrapping, stream_id.as_bytes(), &data_key.0)
    }

    pub(crate) fn unwrap_key(
        &self,
        stream_id: &str,
        wrapped: &[u8],
    ) -> Result<DataKey, StoreError> {
        let bytes = open_bytes(&self.wrapping, stream_id.as_bytes(), wrapped)?;
        let key: [u8; KEY_LEN] = bytes
            .try_into()
            .map_err(|_| StoreError::Vault("数据密钥长度不对".to_owned()))?;
        Ok(DataKey(key))
    }

    /// Keyed digest for finding a person by a value (e.g. the ID number)
    /// without storing the value itself.
    pub fn blind_index(&self, kind: &str, value: &str) -> String {
        let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&self.blind_index)
            .expect("HMAC accepts keys of any length");
        mac.update(kind.as_bytes());
        mac.update(&[0]);
        mac.update(value.trim().to_uppercase().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// A person's data key, in memory only.
#[derive(Clone)]
pub(crate) struct DataKey([u8; KEY_LEN]);

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(**redacted**)")
    }
}

impl DataKey {
    pub(crate) fn generate() -> Self {
        DataKey(rand::random())
    }

    pub(crate) fn seal(&self, associated: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        seal_bytes(&self.0, associated, plaintext)
    }

    pub(crate) fn open(&self, associated: &[u8], sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        open_bytes(&self.0, associated, sealed)
    }
}

fn derive(root: &[u8; KEY_LEN], label: &[u8]) -> [u8; KEY_LEN] {
    let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(root)
        .expect("HMAC accepts keys of any length");
    mac.update(label);
    mac.finalize().into_bytes().into()
}

fn seal_bytes(
    key: &[u8; KEY_LEN],
    associated: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, StoreError> {
    let cipher = XChaCha20Poly1305::new(&Key::from(*key));
    let nonce_bytes: [u8; NONCE_LEN] = rand::random();
    let nonce = XNonce::from(nonce_bytes);
    let ciphertext = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad: associated,
            },
        )
        .map_err(|_| StoreError::Vault("加密失败".to_owned()))?;
    let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    sealed.extend_from_slice(&nonce_bytes);
    sealed.extend_from_slice(&ciphertext);
    Ok(sealed)
}

fn open_bytes(
    key: &[u8; KEY_LEN],
    associated: &[u8],
    sealed: &[u8],
) -> Result<Vec<u8>, StoreError> {
    if sealed.len() < NONCE_LEN {
        return Err(StoreError::Vault("密文过短，数据已损坏".to_owned()));
    }
    let (nonce_bytes, ciphertext) = sealed.split_at(NONCE_LEN);
    let nonce = XNonce::try_from(nonce_bytes)
        .map_err(|_| StoreError::Vault("密文随机数长度不对".to_owned()))?;
    let cipher = XChaCha20Poly1305::new(&Key::from(*key));
    cipher
        .decrypt(
            &nonce,
            Payload {
                msg: ciphertext,
                aad: associated,
            },
        )
        .map_err(|_| StoreError::Vault("解密失败：主密钥不符或数据被改动".to_owned()))
}

fn write_private_file(path: &Path, contents: &str) -> Result<(), StoreError> {
    use std::io::Write;
    let io_error = |error: std::io::Error| {
        StoreError::Configuration(format!("无法写入主密钥文件 {}：{error}", path.display()))
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io_error)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io_error)?;
    file.write_all(contents.as_bytes()).map_err(io_error)?;
    file.sync_all().map_err(io_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapped_data_key_opens_only_for_its_stream_and_master_key() {
        let (_, master) = MasterKey::generate();
        let (_, other) = MasterKey::generate();
        let key = DataKey::generate();
        let wrapped = master.wrap("stream-a", &key).unwrap();
        assert_eq!(master.unwrap_key("stream-a", &wrapped).unwrap().0, key.0);
        assert!(master.unwrap_key("stream-b", &wrapped).is_err());
        assert!(other.unwrap_key("stream-a", &wrapped).is_err());
    }

    #[test]
    fn sealed_bytes_are_bound_to_their_associated_data() {
        let key = DataKey::generate();
        let sealed = key.seal(b"s/1", b"13800138000").unwrap();
        assert_eq!(key.open(b"s/1", &sealed).unwrap(), b"13800138000");
        assert!(key.open(b"s/2", &sealed).is_err());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(key.open(b"s/1", &tampered).is_err());
    }

    #[test]
    fn blind_index_is_keyed_and_normalizes_case() {
        let (_, master) = MasterKey::generate();
        let (_, other) = MasterKey::generate();
        let a = master.blind_index("id_number", "11010519491231002x");
        assert_eq!(a, master.blind_index("id_number", "11010519491231002X"));
        assert_ne!(a, other.blind_index("id_number", "11010519491231002X"));
        assert_ne!(a, master.blind_index("phone", "11010519491231002X"));
    }

    #[test]
    fn generated_master_key_file_is_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/master.key");
        let (first, source) = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(source, MasterKeySource::GeneratedFile);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (second, source) = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(source, MasterKeySource::ExistingFile);
        assert_eq!(first.wrapping, second.wrapping);
    }
}
