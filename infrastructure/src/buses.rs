//! Wiring of the `CareCase` aggregate to the store.

use shouwang_domain::care_case::{CareCase, CaseCommand};

use crate::command_bus::{CommandBus, IdempotentCommand};
use crate::store::Store;

/// The action alone identifies a case command: `today` is supplied by the
/// server at call time and may differ between a command and its retry.
impl IdempotentCommand for CaseCommand {
    fn fingerprint_source(&self) -> serde_json::Value {
        serde_json::to_value(&self.action).unwrap_or(serde_json::Value::Null)
    }
}

pub type CareCaseBus = CommandBus<CareCase>;

pub fn care_case_bus(store: &Store) -> CareCaseBus {
    CommandBus::new(store.clone(), ())
}
