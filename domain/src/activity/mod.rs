//! The `Activity` aggregate: one activity or project (活动 / 项目) of the
//! “邻里守望” campaign — the source of each row of 附件1 (统计表) and of each
//! 附件2 (记录表).
//!
//! Deciding is synchronous and pure ([`Activity::decide`]). Once completed or
//! cancelled, an activity accepts only corrections, which reference the
//! event they correct. Facts about other aggregates come in the commands
//! ([`RecordBeneficiaries::missing_case_ids`]).

mod commands;
mod decide;
mod errors;
mod events;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDate, NaiveDateTime};
use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::evidence::{ImageMediaType, Sha256Hex};
use crate::values::RegionCode;
use crate::vocabulary::{ActionLine, ActivityStatus, RegionLevel};

pub use commands::{
    ActivityAction, ActivityCommand, AddParticipatingOrganization, AttachEvidence, CancelActivity,
    CompleteActivity, CorrectActivity, PlanActivity, RecordBeneficiaries, RecordFunds,
    RecordServiceTime, RemoveEvidence, RemoveParticipatingOrganization, UpdateParticipantHeadcount,
    WriteDetails,
};
pub use errors::{ActivityError, AmountField, DateField, TextField};
pub use events::{
    ActivityCancelled, ActivityCompleted, ActivityCorrected, ActivityEvent, ActivityPlanned,
    BeneficiariesRecorded, DetailsWritten, EvidenceAttached, EvidenceRemoved, FundsRecorded,
    ParticipantAdded, ParticipantHeadcountUpdated, ParticipantRemoved, ServiceTimeRecorded,
};

/// 佐证材料: 1–2 images (附件2 “可附 1-2 张图片”).
pub const MAX_EVIDENCE_IMAGES: usize = 2;

/// The longest 活动详情 accepted, in characters (about 300 are expected).
pub const MAX_DETAILS_CHARS: usize = 2_000;

/// The state of one activity, as far as decisions and callers need it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Activity {
    version: u64,
    /// `None` until the activity is planned.
    status: Option<ActivityStatus>,
    organizer_organization_id: Option<Uuid>,
    action_line: Option<ActionLine>,
    region: Option<RegionCode>,
    region_level: Option<RegionLevel>,
    /// Planned, then actual once completed.
    starts_at: Option<NaiveDateTime>,
    ends_at: Option<NaiveDateTime>,
    /// Participating organizations by the name printed in the tables.
    participants: BTreeMap<String, Participant>,
    money_fen: i64,
    material_value_fen: i64,
    person_times: u32,
    persons: u32,
    linked_case_ids: BTreeSet<Uuid>,
    service_minutes: u32,
    has_details: bool,
    evidence: Vec<EvidenceImage>,
    completed_on: Option<NaiveDate>,
    cancelled_on: Option<NaiveDate>,
}

/// A participating organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Participant {
    pub organization_id: Option<Uuid>,
    pub headcount: u32,
}

/// An attached evidence image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EvidenceImage {
    pub sha256: Sha256Hex,
    pub media_type: ImageMediaType,
    pub size_bytes: u64,
}

impl Activity {
    /// The stream version of the last applied event (0 before any).
    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn is_planned(&self) -> bool {
        self.status.is_some()
    }

    /// `None` while the activity has not been planned.
    pub fn status(&self) -> Option<ActivityStatus> {
        self.status
    }

    pub fn organizer_organization_id(&self) -> Option<Uuid> {
        self.organizer_organization_id
    }

    pub fn action_line(&self) -> Option<ActionLine> {
        self.action_line
    }

    pub fn region(&self) -> Option<&RegionCode> {
        self.region.as_ref()
    }

    pub fn region_level(&self) -> Option<RegionLevel> {
        self.region_level
    }

    /// Planned start, or the actual one once completed.
    pub fn starts_at(&self) -> Option<NaiveDateTime> {
        self.starts_at
    }

    /// Planned end, or the actual one once completed.
    pub fn ends_at(&self) -> Option<NaiveDateTime> {
        self.ends_at
    }

    pub fn participants(&self) -> &BTreeMap<String, Participant> {
        &self.participants
    }

    /// 参与人数 of all participating organizations together.
    pub fn total_headcount(&self) -> u64 {
        self.participants
            .values()
            .map(|participant| u64::from(participant.headcount))
            .sum()
    }

    /// 投入资金 (money only), in fen.
    pub fn money_fen(&self) -> i64 {
        self.money_fen
    }

    /// 物资折款, in fen.
    pub fn material_value_fen(&self) -> i64 {
        self.material_value_fen
    }

    /// 受益人次.
    pub fn person_times(&self) -> u32 {
        self.person_times
    }

    /// 受益人数.
    pub fn persons(&self) -> u32 {
        self.persons
    }

    pub fn linked_case_ids(&self) -> &BTreeSet<Uuid> {
        &self.linked_case_ids
    }

    /// 累计服务时长, in minutes.
    pub fn service_minutes(&self) -> u32 {
        self.service_minutes
    }

    pub fn has_details(&self) -> bool {
        self.has_details
    }

    pub fn evidence(&self) -> &[EvidenceImage] {
        &self.evidence
    }

    pub fn completed_on(&self) -> Option<NaiveDate> {
        self.completed_on
    }

    pub fn cancelled_on(&self) -> Option<NaiveDate> {
        self.cancelled_on
    }
}

impl Aggregate for Activity {
    const TYPE: &'static str = "activity";
    type Command = ActivityCommand;
    type Event = ActivityEvent;
    type Error = ActivityError;
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
            ActivityEvent::ActivityPlanned(planned) => {
                self.status = Some(ActivityStatus::Planned);
                self.organizer_organization_id = planned.organizer_organization_id;
                self.action_line = planned.action_line;
                self.region = Some(planned.region);
                self.region_level = Some(planned.region_level);
                self.starts_at = Some(planned.starts_at);
                self.ends_at = Some(planned.ends_at);
            }
            ActivityEvent::ParticipantAdded(added) => {
                self.participants.insert(
                    added.organization_name,
                    Participant {
                        organization_id: added.organization_id,
                        headcount: added.headcount,
                    },
                );
            }
            ActivityEvent::ParticipantHeadcountUpdated(updated) => {
                if let Some(participant) = self.participants.get_mut(&updated.organization_name) {
                    participant.headcount = updated.headcount;
                }
            }
            ActivityEvent::ParticipantRemoved(removed) => {
                self.participants.remove(&removed.organization_name);
            }
            ActivityEvent::FundsRecorded(funds) => {
                self.money_fen = self.money_fen.saturating_add(funds.money_fen);
                self.material_value_fen = self
                    .material_value_fen
                    .saturating_add(funds.material_value_fen);
            }
            ActivityEvent::BeneficiariesRecorded(beneficiaries) => {
                self.person_times = beneficiaries.person_times;
                self.persons = beneficiaries.persons;
                self.linked_case_ids = beneficiaries.linked_case_ids.into_iter().collect();
            }
            ActivityEvent::ServiceTimeRecorded(service_time) => {
                self.service_minutes = service_time.minutes;
            }
            ActivityEvent::DetailsWritten(_) => self.has_details = true,
            ActivityEvent::EvidenceAttached(attached) => {
                self.evidence.push(EvidenceImage {
                    sha256: attached.sha256,
                    media_type: attached.media_type,
                    size_bytes: attached.size_bytes,
                });
            }
            ActivityEvent::EvidenceRemoved(removed) => {
                self.evidence.retain(|image| image.sha256 != removed.sha256);
            }
            ActivityEvent::ActivityCompleted(completed) => {
                self.status = Some(ActivityStatus::Completed);
                self.starts_at = Some(completed.actual_starts_at);
                self.ends_at = Some(completed.actual_ends_at);
                self.person_times = completed.person_times;
                self.persons = completed.persons;
                self.service_minutes = completed.service_minutes;
                self.completed_on = Some(completed.completed_on);
            }
            ActivityEvent::ActivityCancelled(cancelled) => {
                self.status = Some(ActivityStatus::Cancelled);
                self.cancelled_on = Some(cancelled.cancelled_on);
            }
            // A correction fixes the record for readers (the statistics
            // tables apply it); it deliberately does not rewrite the state.
            ActivityEvent::ActivityCorrected(_) => {}
        }
    }
}
