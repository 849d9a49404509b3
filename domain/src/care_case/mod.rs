//! The `CareCase` aggregate: the file of one cared-for person (一人一档).
//!
//! Deciding is synchronous and pure ([`CareCase::decide`]); the cqrs-es
//! `handle` only writes the decided events to the sink. The aggregate state
//! holds just what decisions need and **no personal data**, because it is
//! snapshotted to disk unencrypted: no name, ID number, phone, address or notes.

mod commands;
mod decide;
mod errors;
mod events;

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::values::RegionCode;
use crate::vocabulary::{CareCategory, CaseStatus, HelpArrangement, RiskLevel};

pub use commands::{
    AssessRisk, AssignCaregiver, CaseAction, CaseCommand, ChangeCategories, CloseCase,
    CorrectEntry, ErasePersonalData, MakeReferral, OpenCase, RecordOutcome, RecordProfile,
    RecordService, RecordVisit, ReleaseCaregiver, ReopenCase, ResolveReferral, TransferCase,
};
pub use errors::{AmountField, CaseError, DateField, TextField};
pub use events::{
    CaregiverAssigned, CaregiverReleased, CaseClosed, CaseEvent, CaseOpened, CaseReopened,
    CaseTransferred, CategoriesChanged, EntryCorrected, OutcomeRecorded, PersonalDataErased,
    ProfileRecorded, ReferralMade, ReferralResolved, RiskAssessed, ServiceDelivered, VisitRecorded,
};

/// The shortest and longest a visit or service may last, in minutes: at
/// least one minute, at most one day.
pub const MINUTES_RANGE: std::ops::RangeInclusive<u32> = 1..=1440;

/// The range of the 满意度 score.
pub const SATISFACTION_RANGE: std::ops::RangeInclusive<u8> = 1..=5;

/// The state of one care case, as far as decisions need it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CareCase {
    /// Number of events applied so far, i.e. the stream version of the last
    /// one. Corrections may only target versions up to this.
    version: u64,
    /// `None` until the case is opened.
    status: Option<CaseStatus>,
    opened_on: Option<NaiveDate>,
    /// Set while the case is closed, to keep reopening after closing.
    closed_on: Option<NaiveDate>,
    categories: BTreeSet<CareCategory>,
    risk_level: Option<RiskLevel>,
    region: Option<RegionCode>,
    organization_id: Option<Uuid>,
    caregivers: Vec<CaregiverAssignment>,
    /// Referrals awaiting an answer, with the date they were made.
    open_referrals: BTreeMap<Uuid, NaiveDate>,
    /// Referrals already answered; kept so that their ids are not reused.
    resolved_referrals: BTreeSet<Uuid>,
    personal_data_erased: bool,
}

/// A worker of an organization currently looking after the person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaregiverAssignment {
    pub organization_id: Uuid,
    pub worker_id: Uuid,
    pub arrangement: HelpArrangement,
    pub started_on: NaiveDate,
}

impl CareCase {
    /// The stream version of the last applied event (0 before any).
    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn is_opened(&self) -> bool {
        self.status.is_some()
    }

    /// `None` while the case has not been opened.
    pub fn status(&self) -> Option<CaseStatus> {
        self.status
    }

    pub fn opened_on(&self) -> Option<NaiveDate> {
        self.opened_on
    }

    pub fn closed_on(&self) -> Option<NaiveDate> {
        self.closed_on
    }

    pub fn categories(&self) -> &BTreeSet<CareCategory> {
        &self.categories
    }

    pub fn risk_level(&self) -> Option<RiskLevel> {
        self.risk_level
    }

    pub fn region(&self) -> Option<&RegionCode> {
        self.region.as_ref()
    }

    pub fn organization_id(&self) -> Option<Uuid> {
        self.organization_id
    }

    pub fn caregivers(&self) -> &[CaregiverAssignment] {
        &self.caregivers
    }

    /// Ids of referrals still awaiting a department's answer.
    pub fn open_referral_ids(&self) -> impl Iterator<Item = Uuid> + '_ {
        self.open_referrals.keys().copied()
    }

    pub fn is_personal_data_erased(&self) -> bool {
        self.personal_data_erased
    }

    fn caregiver(&self, organization_id: Uuid, worker_id: Uuid) -> Option<&CaregiverAssignment> {
        self.caregivers.iter().find(|assignment| {
            assignment.organization_id == organization_id && assignment.worker_id == worker_id
        })
    }
}

impl Aggregate for CareCase {
    const TYPE: &'static str = "care_case";
    type Command = CaseCommand;
    type Event = CaseEvent;
    type Error = CaseError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(&command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        self.version += 1;
        match event {
            CaseEvent::CaseOpened(opened) => {
                self.status = Some(CaseStatus::Open);
                self.opened_on = Some(opened.opened_on);
                self.categories = opened.categories.into_iter().collect();
                self.risk_level = Some(opened.risk_level);
                self.region = Some(opened.residence_region);
                self.organization_id = opened.organization_id;
            }
            CaseEvent::CategoriesChanged(changed) => {
                for category in &changed.removed {
                    self.categories.remove(category);
                }
                self.categories.extend(changed.added);
            }
            CaseEvent::RiskAssessed(assessed) => self.risk_level = Some(assessed.level),
            CaseEvent::CaregiverAssigned(assigned) => {
                self.caregivers.push(CaregiverAssignment {
                    organization_id: assigned.organization_id,
                    worker_id: assigned.worker_id,
                    arrangement: assigned.arrangement,
                    started_on: assigned.started_on,
                });
            }
            CaseEvent::CaregiverReleased(released) => {
                self.caregivers.retain(|assignment| {
                    assignment.organization_id != released.organization_id
                        || assignment.worker_id != released.worker_id
                });
            }
            CaseEvent::ReferralMade(made) => {
                self.open_referrals
                    .insert(made.referral_id, made.referred_on);
            }
            CaseEvent::ReferralResolved(resolved) => {
                self.open_referrals.remove(&resolved.referral_id);
                self.resolved_referrals.insert(resolved.referral_id);
            }
            CaseEvent::CaseTransferred(transferred) => {
                self.region = Some(transferred.to_region);
                self.organization_id = transferred.to_organization_id;
            }
            CaseEvent::CaseClosed(closed) => {
                self.status = Some(CaseStatus::Closed);
                self.closed_on = Some(closed.closed_on);
            }
            CaseEvent::CaseReopened(_) => {
                self.status = Some(CaseStatus::Open);
                self.closed_on = None;
            }
            CaseEvent::PersonalDataErased(_) => self.personal_data_erased = true,
            // Records that no later decision depends on. A correction fixes
            // the record for readers; it deliberately does not rewrite
            // decision state (e.g. a corrected risk level is re-assessed
            // with AssessRisk, which is itself on the record).
            CaseEvent::ProfileRecorded(_)
            | CaseEvent::VisitRecorded(_)
            | CaseEvent::ServiceDelivered(_)
            | CaseEvent::OutcomeRecorded(_)
            | CaseEvent::EntryCorrected(_) => {}
        }
    }
}
