//! The pure domain of shouwang (守望): aggregates, commands, events, value
//! types, business rules and the vocabulary with its Chinese labels.
//!
//! Nothing here performs I/O: no SQL, no HTTP, no clock, no randomness.
//! Facts from outside — today's date, identifiers, and facts about other
//! aggregates (is this organization active? do these cases exist?) — arrive
//! in commands.

pub mod activity;
pub mod care_case;
pub mod codes;
pub mod evidence;
pub mod need;
pub mod organization;
pub mod personal;
mod rules;
pub mod values;
pub mod vocabulary;
pub mod volunteer;

pub use activity::{Activity, ActivityAction, ActivityCommand, ActivityError, ActivityEvent};
pub use care_case::{CareCase, CaseAction, CaseCommand, CaseError, CaseEvent};
pub use codes::{CreditCode, RegionPrefix};
pub use evidence::{ImageMediaType, MAX_EVIDENCE_BYTES, Sha256Hex, sniff_image};
pub use need::{Need, NeedAction, NeedCommand, NeedError, NeedEvent};
pub use organization::{
    Organization, OrganizationAction, OrganizationCommand, OrganizationError, OrganizationEvent,
};
pub use personal::{Personal, PersonalData};
pub use values::{IdNumber, RegionCode};
pub use volunteer::{
    PointsPolicy, Volunteer, VolunteerAction, VolunteerCommand, VolunteerError, VolunteerEvent,
};
