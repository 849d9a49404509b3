//! Events of a need: the persistent record.
//!
//! The serialized form of every event is schema (see the insta snapshots in
//! `domain/tests/snapshots`). The description of a need that belongs to a
//! care case is sealed at rest; a community need's is not.

use chrono::NaiveDate;
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::codes::RegionPrefix;
use crate::evidence::Sha256Hex;
use crate::personal::{Personal, PersonalData};
use crate::values::RegionCode;
use crate::vocabulary::{Department, EscalationLevel, NeedCategory, NeedSource, NeedUrgency};

/// Everything that can happen to a need. Externally tagged: stored as
/// `{"NeedRaised": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum NeedEvent {
    NeedRaised(NeedRaised),
    NeedDispatched(NeedDispatched),
    NeedAccepted(NeedAccepted),
    NeedDeclined(NeedDeclined),
    NeedProgressRecorded(NeedProgressRecorded),
    NeedFulfilled(NeedFulfilled),
    NeedEvaluated(NeedEvaluated),
    NeedEscalated(NeedEscalated),
    NeedWithdrawn(NeedWithdrawn),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeedRaised {
    pub case_id: Option<Uuid>,
    pub region: RegionCode,
    /// The 9-digit township prefix of `region`: whose ledger the need is on.
    pub township: RegionPrefix,
    pub category: NeedCategory,
    /// Sealed when `case_id` is set.
    pub description: Personal<String>,
    pub micro_wish: bool,
    pub urgency: NeedUrgency,
    pub source: NeedSource,
    pub raised_on: NaiveDate,
}

/// Carries the due date, so that whether a need is overdue follows from
/// the events alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeedDispatched {
    pub organization_id: Uuid,
    /// Who dispatched it: the county, or the level it was escalated to.
    pub level: EscalationLevel,
    pub due_on: NaiveDate,
    pub dispatched_on: NaiveDate,
    pub instructions: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeedAccepted {
    pub organization_id: Uuid,
    pub accepted_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeedDeclined {
    pub organization_id: Uuid,
    pub reason: String,
    pub declined_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeedProgressRecorded {
    pub organization_id: Uuid,
    pub note: String,
    pub recorded_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeedFulfilled {
    pub organization_id: Uuid,
    pub what_was_done: String,
    pub minutes: u32,
    pub money_fen: i64,
    pub material_value_fen: i64,
    pub evidence: Vec<Sha256Hex>,
    pub fulfilled_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeedEvaluated {
    pub satisfaction: u8,
    pub words: String,
    pub evaluated_on: NaiveDate,
}

/// Carries both levels, so that a reader of this event alone knows whose
/// ledger the need left.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeedEscalated {
    pub from: EscalationLevel,
    pub to: EscalationLevel,
    pub department: Option<Department>,
    pub reason: String,
    pub escalated_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeedWithdrawn {
    pub reason: String,
    pub withdrawn_on: NaiveDate,
}

impl NeedEvent {
    /// The variant name, which is also the stored event type.
    pub fn name(&self) -> &'static str {
        match self {
            NeedEvent::NeedRaised(_) => "NeedRaised",
            NeedEvent::NeedDispatched(_) => "NeedDispatched",
            NeedEvent::NeedAccepted(_) => "NeedAccepted",
            NeedEvent::NeedDeclined(_) => "NeedDeclined",
            NeedEvent::NeedProgressRecorded(_) => "NeedProgressRecorded",
            NeedEvent::NeedFulfilled(_) => "NeedFulfilled",
            NeedEvent::NeedEvaluated(_) => "NeedEvaluated",
            NeedEvent::NeedEscalated(_) => "NeedEscalated",
            NeedEvent::NeedWithdrawn(_) => "NeedWithdrawn",
        }
    }

    /// The schema version of this event's payload.
    pub fn schema_version(&self) -> u32 {
        1
    }
}

impl DomainEvent for NeedEvent {
    fn event_type(&self) -> String {
        self.name().to_owned()
    }

    fn event_version(&self) -> String {
        self.schema_version().to_string()
    }
}

impl PersonalData for NeedEvent {
    fn sealed_fields(&self) -> &'static [&'static str] {
        match self {
            NeedEvent::NeedRaised(raised) if raised.case_id.is_some() => &["description"],
            _ => &[],
        }
    }
}
