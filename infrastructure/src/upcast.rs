//! Schema evolution: stored events are never rewritten; upcasters lift old
//! payloads to the current schema on every read path (aggregate load, as-of
//! load and the global feed).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use crate::error::StoreError;

type UpcastFn = Arc<dyn Fn(Value) -> Result<Value, String> + Send + Sync>;

/// Upcasters keyed by (event type, schema version they read).
#[derive(Clone, Default)]
pub struct Upcasters {
    steps: HashMap<(String, i32), UpcastFn>,
}

impl std::fmt::Debug for Upcasters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut keys: Vec<_> = self.steps.keys().collect();
        keys.sort();
        f.debug_struct("Upcasters").field("steps", &keys).finish()
    }
}

impl Upcasters {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the step that lifts `event_type` payloads from
    /// `from_version` to `from_version + 1`.
    pub fn register(
        mut self,
        event_type: &str,
        from_version: i32,
        step: impl Fn(Value) -> Result<Value, String> + Send + Sync + 'static,
    ) -> Self {
        self.steps
            .insert((event_type.to_owned(), from_version), Arc::new(step));
        self
    }

    /// Lifts a payload from its stored version as far as registered steps go.
    /// Returns the payload and the version it now has.
    pub fn upcast(
        &self,
        event_type: &str,
        mut version: i32,
        mut payload: Value,
    ) -> Result<(Value, i32), StoreError> {
        while let Some(step) = self.steps.get(&(event_type.to_owned(), version)) {
            payload = step(payload).map_err(|reason| {
                StoreError::Upcast(format!("{event_type} v{version}: {reason}"))
            })?;
            version += 1;
        }
        Ok((payload, version))
    }
}
