//! Personal data (个人信息) in events.
//!
//! Events carry personal fields in the clear in memory; the event store seals
//! them at rest under a per-person data key. The domain only declares *which*
//! top-level payload fields are personal, and which event destroys the key —
//! it knows nothing about how sealing is done.

use serde::{Deserialize, Serialize};

/// Implemented by every event enum that may carry personal data.
pub trait PersonalData {
    /// Names of top-level fields of this event's payload (the object inside
    /// the externally tagged enum variant) that hold personal data and must be
    /// sealed at rest. Their types must be [`Personal<T>`] so that an erased
    /// value can still be read back.
    fn sealed_fields(&self) -> &'static [&'static str] {
        &[]
    }

    /// Values to be findable through a keyed blind index, as `(kind, value)`,
    /// e.g. `("id_number", "110101199003074514")`.
    fn blind_index_terms(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// True when committing this event must destroy the stream's data key
    /// (erasure under 个人信息保护法 第47条).
    fn erases_personal_data(&self) -> bool {
        false
    }
}

/// A personal value as read back from the store: either known, or erased
/// because the person's data key was destroyed.
///
/// Serialized as the bare value when known and as `{"erased": true}` when
/// erased, so the stored form of a live event is plain JSON.
///
/// `Erased` is tried first when reading: an untagged enum takes the first
/// variant that fits, and for a `T` that is itself an object (a JSON map, a
/// struct with optional fields) the marker would otherwise be read as a
/// known value. The marker denies unknown fields, so only the exact marker
/// object reads as erased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Personal<T> {
    Erased(ErasedMarker),
    Known(T),
}

/// The JSON `{"erased": true}` that stands in for an erased personal value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErasedMarker {
    pub erased: bool,
}

impl ErasedMarker {
    pub const JSON: &'static str = r#"{"erased":true}"#;
}

impl<T> Personal<T> {
    pub fn known(value: T) -> Self {
        Personal::Known(value)
    }

    pub fn erased() -> Self {
        Personal::Erased(ErasedMarker { erased: true })
    }

    pub fn as_known(&self) -> Option<&T> {
        match self {
            Personal::Known(value) => Some(value),
            Personal::Erased(_) => None,
        }
    }

    pub fn is_erased(&self) -> bool {
        matches!(self, Personal::Erased(_))
    }
}

impl<T> From<T> for Personal<T> {
    fn from(value: T) -> Self {
        Personal::Known(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_serialize_bare_and_erased_as_marker() {
        let known: Personal<String> = Personal::known("13800138000".to_owned());
        assert_eq!(serde_json::to_string(&known).unwrap(), r#""13800138000""#);
        let erased: Personal<String> = Personal::erased();
        assert_eq!(serde_json::to_string(&erased).unwrap(), ErasedMarker::JSON);
        let back: Personal<String> = serde_json::from_str(ErasedMarker::JSON).unwrap();
        assert!(back.is_erased());
    }

    #[test]
    fn erased_marker_is_not_mistaken_for_a_known_map() {
        type Fields = serde_json::Map<String, serde_json::Value>;
        let erased: Personal<Fields> = serde_json::from_str(ErasedMarker::JSON).unwrap();
        assert!(erased.is_erased());
        let known: Personal<Fields> =
            serde_json::from_str(r#"{"erased":true,"phone":"13800138000"}"#).unwrap();
        assert!(!known.is_erased());
        let known: Personal<Fields> = serde_json::from_str(r#"{"phone":"13800138000"}"#).unwrap();
        assert_eq!(
            known.as_known().and_then(|fields| fields.get("phone")),
            Some(&serde_json::json!("13800138000"))
        );
    }
}
