//! The pure domain of shouwang (守望): aggregates, commands, events, value
//! types, business rules and the vocabulary with its Chinese labels.
//!
//! Nothing here performs I/O: no SQL, no HTTP, no clock, no randomness.
//! Facts from outside — today's date, identifiers — arrive in commands.

pub mod care_case;
pub mod personal;
pub mod values;
pub mod vocabulary;

pub use care_case::{CareCase, CaseAction, CaseCommand, CaseError, CaseEvent};
pub use personal::{Personal, PersonalData};
pub use values::{IdNumber, RegionCode};
