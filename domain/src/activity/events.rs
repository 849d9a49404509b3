//! Events of an activity: the persistent record behind 附件1 and 附件2.
//!
//! The serialized form of every event is schema (see the insta snapshots in
//! `domain/tests/snapshots`). Nothing is sealed: an activity is a public
//! report, and beneficiaries appear only as counts and case ids.

use chrono::{NaiveDate, NaiveDateTime};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::evidence::{ImageMediaType, Sha256Hex};
use crate::personal::PersonalData;
use crate::values::RegionCode;
use crate::vocabulary::{ActionLine, FundSource, RegionLevel};

/// Everything that can happen to an activity. Externally tagged: stored as
/// `{"ActivityPlanned": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ActivityEvent {
    ActivityPlanned(ActivityPlanned),
    ParticipantAdded(ParticipantAdded),
    ParticipantHeadcountUpdated(ParticipantHeadcountUpdated),
    ParticipantRemoved(ParticipantRemoved),
    FundsRecorded(FundsRecorded),
    BeneficiariesRecorded(BeneficiariesRecorded),
    ServiceTimeRecorded(ServiceTimeRecorded),
    DetailsWritten(DetailsWritten),
    EvidenceAttached(EvidenceAttached),
    EvidenceRemoved(EvidenceRemoved),
    ActivityCompleted(ActivityCompleted),
    ActivityCancelled(ActivityCancelled),
    ActivityCorrected(ActivityCorrected),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityPlanned {
    pub name: String,
    pub organizer_name: String,
    pub organizer_organization_id: Option<Uuid>,
    pub action_line: Option<ActionLine>,
    pub region: RegionCode,
    pub region_level: RegionLevel,
    pub place: String,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub leader: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParticipantAdded {
    pub organization_name: String,
    pub organization_id: Option<Uuid>,
    pub headcount: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParticipantHeadcountUpdated {
    pub organization_name: String,
    pub headcount: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParticipantRemoved {
    pub organization_name: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FundsRecorded {
    pub source: FundSource,
    pub money_fen: i64,
    pub material_value_fen: i64,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BeneficiariesRecorded {
    pub person_times: u32,
    pub persons: u32,
    pub linked_case_ids: Vec<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceTimeRecorded {
    pub minutes: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetailsWritten {
    pub details: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceAttached {
    pub sha256: Sha256Hex,
    pub media_type: ImageMediaType,
    pub size_bytes: u64,
    pub file_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceRemoved {
    pub sha256: Sha256Hex,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityCompleted {
    pub actual_starts_at: NaiveDateTime,
    pub actual_ends_at: NaiveDateTime,
    pub person_times: u32,
    pub persons: u32,
    pub service_minutes: u32,
    pub completed_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityCancelled {
    pub reason: String,
    pub cancelled_on: NaiveDate,
}

/// A correction of the event at `corrected_version` of this stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityCorrected {
    pub corrected_version: u64,
    pub corrected_fields: Map<String, Value>,
    pub reason: String,
}

impl ActivityEvent {
    /// The variant name, which is also the stored event type.
    pub fn name(&self) -> &'static str {
        match self {
            ActivityEvent::ActivityPlanned(_) => "ActivityPlanned",
            ActivityEvent::ParticipantAdded(_) => "ParticipantAdded",
            ActivityEvent::ParticipantHeadcountUpdated(_) => "ParticipantHeadcountUpdated",
            ActivityEvent::ParticipantRemoved(_) => "ParticipantRemoved",
            ActivityEvent::FundsRecorded(_) => "FundsRecorded",
            ActivityEvent::BeneficiariesRecorded(_) => "BeneficiariesRecorded",
            ActivityEvent::ServiceTimeRecorded(_) => "ServiceTimeRecorded",
            ActivityEvent::DetailsWritten(_) => "DetailsWritten",
            ActivityEvent::EvidenceAttached(_) => "EvidenceAttached",
            ActivityEvent::EvidenceRemoved(_) => "EvidenceRemoved",
            ActivityEvent::ActivityCompleted(_) => "ActivityCompleted",
            ActivityEvent::ActivityCancelled(_) => "ActivityCancelled",
            ActivityEvent::ActivityCorrected(_) => "ActivityCorrected",
        }
    }

    /// The schema version of this event's payload.
    pub fn schema_version(&self) -> u32 {
        1
    }
}

impl DomainEvent for ActivityEvent {
    fn event_type(&self) -> String {
        self.name().to_owned()
    }

    fn event_version(&self) -> String {
        self.schema_version().to_string()
    }
}

/// Nothing an activity records is sealed.
impl PersonalData for ActivityEvent {}
