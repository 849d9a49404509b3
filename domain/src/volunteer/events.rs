//! Events of a volunteer's record: the persistent record.
//!
//! The serialized form of every event is schema (see the insta snapshots in
//! `domain/tests/snapshots`). The phone number is sealed at rest.

use chrono::NaiveDate;
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::CreditSource;
use crate::personal::{Personal, PersonalData};

/// Everything that can happen to a volunteer's record. Externally tagged:
/// stored as `{"VolunteerRegistered": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum VolunteerEvent {
    VolunteerRegistered(VolunteerRegistered),
    PointsCredited(PointsCredited),
    PointsRedeemed(PointsRedeemed),
    VolunteerDeactivated(VolunteerDeactivated),
    VolunteerReactivated(VolunteerReactivated),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolunteerRegistered {
    pub organization_id: Uuid,
    pub name: String,
    pub phone: Personal<String>,
    pub registered_on: NaiveDate,
}

/// Records the rate the points were computed at, so that a later change of
/// the configured rate never changes what was credited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointsCredited {
    pub source: CreditSource,
    pub minutes: u32,
    pub points: u32,
    pub points_per_hour: u32,
    pub verified_by: Uuid,
    pub verified_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointsRedeemed {
    pub reward: String,
    pub points: u32,
    pub redeemed_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolunteerDeactivated {
    pub reason: String,
    pub deactivated_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolunteerReactivated {
    pub reason: String,
    pub reactivated_on: NaiveDate,
}

impl VolunteerEvent {
    /// The variant name, which is also the stored event type.
    pub fn name(&self) -> &'static str {
        match self {
            VolunteerEvent::VolunteerRegistered(_) => "VolunteerRegistered",
            VolunteerEvent::PointsCredited(_) => "PointsCredited",
            VolunteerEvent::PointsRedeemed(_) => "PointsRedeemed",
            VolunteerEvent::VolunteerDeactivated(_) => "VolunteerDeactivated",
            VolunteerEvent::VolunteerReactivated(_) => "VolunteerReactivated",
        }
    }

    /// The schema version of this event's payload.
    pub fn schema_version(&self) -> u32 {
        1
    }
}

impl DomainEvent for VolunteerEvent {
    fn event_type(&self) -> String {
        self.name().to_owned()
    }

    fn event_version(&self) -> String {
        self.schema_version().to_string()
    }
}

impl PersonalData for VolunteerEvent {
    fn sealed_fields(&self) -> &'static [&'static str] {
        match self {
            VolunteerEvent::VolunteerRegistered(_) => &["phone"],
            _ => &[],
        }
    }
}
