//! The per-stream hash chain (防篡改).
//!
//! Each event's hash covers the bytes exactly as stored — payload text,
//! sealed ciphertext, metadata text, recorded-at text — and the previous
//! event's hash in the same stream. Every field is length-prefixed so no two
//! different rows can produce the same input.

use sha2::{Digest, Sha256};

pub const GENESIS: [u8; 32] = [0; 32];

/// The stored columns of one event that the chain covers.
#[derive(Debug, Clone, Copy)]
pub struct ChainedFields<'a> {
    pub stream_type: &'a str,
    pub stream_id: &'a str,
    pub stream_version: i64,
    pub event_type: &'a str,
    pub schema_version: i32,
    pub payload: &'a str,
    pub sealed: Option<&'a [u8]>,
    pub metadata: &'a str,
    pub recorded_at: &'a str,
}

pub fn link_hash(previous: &[u8], fields: &ChainedFields<'_>) -> [u8; 32] {
    let mut hasher = Sha256::new();
    let mut part = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    };
    part(previous);
    part(fields.stream_type.as_bytes());
    part(fields.stream_id.as_bytes());
    part(&fields.stream_version.to_be_bytes());
    part(fields.event_type.as_bytes());
    part(&fields.schema_version.to_be_bytes());
    part(fields.payload.as_bytes());
    match fields.sealed {
        Some(sealed) => {
            part(&[1]);
            part(sealed);
        }
        None => part(&[0]),
    }
    part(fields.metadata.as_bytes());
    part(fields.recorded_at.as_bytes());
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<'a>(payload: &'a str, sealed: Option<&'a [u8]>) -> ChainedFields<'a> {
        ChainedFields {
            stream_type: "care_case",
            stream_id: "s",
            stream_version: 1,
            event_type: "CaseOpened",
            schema_version: 1,
            payload,
            sealed,
            metadata: "{}",
            recorded_at: "2026-01-01T00:00:00.000000Z",
        }
    }

    #[test]
    fn every_stored_byte_and_the_previous_link_change_the_hash() {
        let base = link_hash(&GENESIS, &fields("{}", None));
        assert_ne!(base, link_hash(&[1; 32], &fields("{}", None)));
        assert_ne!(base, link_hash(&GENESIS, &fields("{ }", None)));
        assert_ne!(base, link_hash(&GENESIS, &fields("{}", Some(&[]))));
        assert_eq!(base, link_hash(&GENESIS, &fields("{}", None)));
    }
}
