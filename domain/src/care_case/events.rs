//! Events of a care case: the persistent record.
//!
//! The serialized form of every event is schema (see the insta snapshots in
//! `domain/tests/snapshots`): fields may be added with a default, but never
//! renamed or removed without raising the event's schema version and
//! writing an upcaster in the infrastructure crate.
//!
//! Fields holding personal data are typed [`Personal<T>`] and named in
//! [`PersonalData::sealed_fields`], so the store can seal them at rest and
//! read them back as `{"erased": true}` after erasure.

use chrono::NaiveDate;
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::personal::{Personal, PersonalData};
use crate::values::{IdNumber, RegionCode};
use crate::vocabulary::{
    ActionLine, CareCategory, CloseReason, Department, Gender, HelpArrangement,
    IdentificationChannel, OutcomeAchievement, RiskFactor, RiskLevel, ServiceType, VisitMethod,
};

/// Everything that can happen to a care case. Externally tagged: stored as
/// `{"CaseOpened": {...}}`, the variant name being the event type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CaseEvent {
    CaseOpened(CaseOpened),
    CategoriesChanged(CategoriesChanged),
    ProfileRecorded(ProfileRecorded),
    RiskAssessed(RiskAssessed),
    CaregiverAssigned(CaregiverAssigned),
    CaregiverReleased(CaregiverReleased),
    VisitRecorded(VisitRecorded),
    ServiceDelivered(ServiceDelivered),
    ReferralMade(ReferralMade),
    ReferralResolved(ReferralResolved),
    OutcomeRecorded(OutcomeRecorded),
    CaseTransferred(CaseTransferred),
    CaseClosed(CaseClosed),
    CaseReopened(CaseReopened),
    EntryCorrected(EntryCorrected),
    PersonalDataErased(PersonalDataErased),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseOpened {
    pub name: String,
    pub gender: Gender,
    pub birth_date: NaiveDate,
    pub id_number: Personal<IdNumber>,
    pub phone: Personal<String>,
    pub address: Personal<String>,
    pub residence_region: RegionCode,
    pub categories: Vec<CareCategory>,
    pub identified_via: IdentificationChannel,
    pub risk_level: RiskLevel,
    pub organization_id: Option<Uuid>,
    pub opened_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoriesChanged {
    pub added: Vec<CareCategory>,
    pub removed: Vec<CareCategory>,
    pub reason: String,
    pub effective_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileRecorded {
    pub economic_source: String,
    pub family_structure: String,
    pub health: Personal<String>,
    pub care_situation: Personal<String>,
    pub lives_alone: bool,
    pub monthly_income_fen: i64,
    pub notes: Personal<String>,
    pub recorded_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskAssessed {
    pub level: RiskLevel,
    pub factors: Vec<RiskFactor>,
    pub assessed_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaregiverAssigned {
    pub organization_id: Uuid,
    pub worker_id: Uuid,
    pub arrangement: HelpArrangement,
    pub started_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaregiverReleased {
    pub organization_id: Uuid,
    pub worker_id: Uuid,
    pub ended_on: NaiveDate,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitRecorded {
    pub visited_on: NaiveDate,
    pub visitor_ids: Vec<Uuid>,
    pub method: VisitMethod,
    pub minutes: u32,
    pub findings: String,
    pub wellbeing_notes: Personal<String>,
    pub follow_up_needed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceDelivered {
    pub delivered_on: NaiveDate,
    pub service_types: Vec<ServiceType>,
    pub action_line: Option<ActionLine>,
    pub provider_organization_id: Uuid,
    pub volunteers: u32,
    pub minutes: u32,
    pub money_fen: i64,
    pub material_value_fen: i64,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferralMade {
    pub referral_id: Uuid,
    pub department: Department,
    /// Sealed: referrals go to 医保, 卫健, 残联… and their reasons are
    /// usually about health or disability.
    pub reason: Personal<String>,
    pub referred_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferralResolved {
    pub referral_id: Uuid,
    /// Sealed for the same reason as [`ReferralMade::reason`].
    pub answer: Personal<String>,
    pub resolved_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeRecorded {
    pub goal: String,
    pub achievement: OutcomeAchievement,
    pub satisfaction: u8,
    pub own_words: String,
    pub evaluated_on: NaiveDate,
}

/// Carries both the old and the new placement, so that a reader of this
/// event alone knows whose caseload the person left.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseTransferred {
    pub from_region: RegionCode,
    pub to_region: RegionCode,
    pub from_organization_id: Option<Uuid>,
    pub to_organization_id: Option<Uuid>,
    pub reason: String,
    pub transferred_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseClosed {
    pub reason: CloseReason,
    pub note: String,
    pub closed_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseReopened {
    pub reason: String,
    pub reopened_on: NaiveDate,
}

/// A correction of the event at `corrected_version` of this stream. The
/// corrected fields are sealed as a whole because they may correct personal
/// fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryCorrected {
    pub corrected_version: u64,
    pub corrected_fields: Personal<Map<String, Value>>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonalDataErased {
    pub legal_basis: String,
    pub erased_on: NaiveDate,
}

impl CaseEvent {
    /// The variant name, which is also the stored event type.
    pub fn name(&self) -> &'static str {
        match self {
            CaseEvent::CaseOpened(_) => "CaseOpened",
            CaseEvent::CategoriesChanged(_) => "CategoriesChanged",
            CaseEvent::ProfileRecorded(_) => "ProfileRecorded",
            CaseEvent::RiskAssessed(_) => "RiskAssessed",
            CaseEvent::CaregiverAssigned(_) => "CaregiverAssigned",
            CaseEvent::CaregiverReleased(_) => "CaregiverReleased",
            CaseEvent::VisitRecorded(_) => "VisitRecorded",
            CaseEvent::ServiceDelivered(_) => "ServiceDelivered",
            CaseEvent::ReferralMade(_) => "ReferralMade",
            CaseEvent::ReferralResolved(_) => "ReferralResolved",
            CaseEvent::OutcomeRecorded(_) => "OutcomeRecorded",
            CaseEvent::CaseTransferred(_) => "CaseTransferred",
            CaseEvent::CaseClosed(_) => "CaseClosed",
            CaseEvent::CaseReopened(_) => "CaseReopened",
            CaseEvent::EntryCorrected(_) => "EntryCorrected",
            CaseEvent::PersonalDataErased(_) => "PersonalDataErased",
        }
    }

    /// The schema version of this event's payload. Raise it (per event
    /// type) when the payload changes incompatibly, and add an upcaster.
    pub fn schema_version(&self) -> u32 {
        1
    }
}

impl DomainEvent for CaseEvent {
    fn event_type(&self) -> String {
        self.name().to_owned()
    }

    fn event_version(&self) -> String {
        self.schema_version().to_string()
    }
}

impl PersonalData for CaseEvent {
    fn sealed_fields(&self) -> &'static [&'static str] {
        match self {
            CaseEvent::CaseOpened(_) => &["id_number", "phone", "address"],
            CaseEvent::ProfileRecorded(_) => &["health", "care_situation", "notes"],
            CaseEvent::VisitRecorded(_) => &["wellbeing_notes"],
            CaseEvent::ReferralMade(_) => &["reason"],
            CaseEvent::ReferralResolved(_) => &["answer"],
            CaseEvent::EntryCorrected(_) => &["corrected_fields"],
            _ => &[],
        }
    }

    fn blind_index_terms(&self) -> Vec<(&'static str, String)> {
        match self {
            CaseEvent::CaseOpened(opened) => opened
                .id_number
                .as_known()
                .map(|id_number| ("id_number", id_number.as_str().to_owned()))
                .into_iter()
                .collect(),
            _ => Vec::new(),
        }
    }

    fn erases_personal_data(&self) -> bool {
        matches!(self, CaseEvent::PersonalDataErased(_))
    }
}
