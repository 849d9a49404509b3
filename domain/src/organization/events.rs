//! Events of an organization: the persistent record.
//!
//! The serialized form of every event is schema (see the insta snapshots in
//! `domain/tests/snapshots`): fields may be added with a default, but never
//! renamed or removed without raising the event's schema version and
//! writing an upcaster in the infrastructure crate.
//!
//! No field is sealed: an organization's register is public, and members
//! appear by the name they work under, like a case's name.

use chrono::NaiveDate;
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::codes::{CreditCode, RegionPrefix};
use crate::personal::PersonalData;
use crate::vocabulary::{MemberRole, OrganizationKind, RegionLevel, ServiceType};

/// Everything that can happen to an organization. Externally tagged: stored
/// as `{"OrganizationRegistered": {...}}`, the variant name being the event type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OrganizationEvent {
    OrganizationRegistered(OrganizationRegistered),
    MemberAdded(MemberAdded),
    MemberRemoved(MemberRemoved),
    LiaisonDesignated(LiaisonDesignated),
    LiaisonReleased(LiaisonReleased),
    SupplyEntryAdded(SupplyEntryAdded),
    SupplyEntryRemoved(SupplyEntryRemoved),
    OrganizationSuspended(OrganizationSuspended),
    OrganizationReactivated(OrganizationReactivated),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrganizationRegistered {
    pub name: String,
    pub credit_code: CreditCode,
    pub kind: OrganizationKind,
    pub level: RegionLevel,
    pub region: RegionPrefix,
    pub hub: bool,
    pub registered_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberAdded {
    pub member_id: Uuid,
    pub display_name: String,
    pub role: MemberRole,
    pub joined_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberRemoved {
    pub member_id: Uuid,
    pub reason: String,
    pub left_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiaisonDesignated {
    pub member_id: Uuid,
    pub designated_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiaisonReleased {
    pub member_id: Uuid,
    pub reason: String,
    pub released_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupplyEntryAdded {
    pub service_type: ServiceType,
    pub areas: Vec<RegionPrefix>,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupplyEntryRemoved {
    pub service_type: ServiceType,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrganizationSuspended {
    pub reason: String,
    pub suspended_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrganizationReactivated {
    pub reason: String,
    pub reactivated_on: NaiveDate,
}

impl OrganizationEvent {
    /// The variant name, which is also the stored event type.
    pub fn name(&self) -> &'static str {
        match self {
            OrganizationEvent::OrganizationRegistered(_) => "OrganizationRegistered",
            OrganizationEvent::MemberAdded(_) => "MemberAdded",
            OrganizationEvent::MemberRemoved(_) => "MemberRemoved",
            OrganizationEvent::LiaisonDesignated(_) => "LiaisonDesignated",
            OrganizationEvent::LiaisonReleased(_) => "LiaisonReleased",
            OrganizationEvent::SupplyEntryAdded(_) => "SupplyEntryAdded",
            OrganizationEvent::SupplyEntryRemoved(_) => "SupplyEntryRemoved",
            OrganizationEvent::OrganizationSuspended(_) => "OrganizationSuspended",
            OrganizationEvent::OrganizationReactivated(_) => "OrganizationReactivated",
        }
    }

    /// The schema version of this event's payload. Raise it (per event
    /// type) when the payload changes incompatibly, and add an upcaster.
    pub fn schema_version(&self) -> u32 {
        1
    }
}

impl DomainEvent for OrganizationEvent {
    fn event_type(&self) -> String {
        self.name().to_owned()
    }

    fn event_version(&self) -> String {
        self.schema_version().to_string()
    }
}

/// Nothing an organization records is sealed.
impl PersonalData for OrganizationEvent {}
