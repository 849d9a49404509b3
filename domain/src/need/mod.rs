//! The `Need` aggregate: one need (需求) or small wish (微星愿) on a
//! township's ledger, from the survey that found it to the resident's
//! evaluation of how it was met.
//!
//! ```text
//! raised (on ledger) ─ dispatch ─▶ dispatched ─ accept ─▶ accepted ─ fulfil ─▶ fulfilled ─ evaluate ─▶ evaluated
//!        ▲    │                        │ decline (back to the ledger)
//!        └────┼────────────────────────┘
//!             └─ escalate ─▶ escalated (city, province, or government) ─ dispatch ─▶ …
//! any step before fulfilment ─ withdraw ─▶ withdrawn
//! ```
//!
//! Facts about other aggregates come in the commands (see
//! [`DispatchNeed::organization_active`] and `acting_organization_id`).
//! Deciding is synchronous and pure ([`Need::decide`]). The state holds no
//! description.

mod commands;
mod decide;
mod errors;
mod events;

use chrono::NaiveDate;
use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::codes::RegionPrefix;
use crate::values::RegionCode;
use crate::vocabulary::{EscalationLevel, NeedCategory, NeedStatus, NeedUrgency};

pub use commands::{
    AcceptNeed, DeclineNeed, DispatchNeed, EscalateNeed, EvaluateNeed, FulfilNeed, NeedAction,
    NeedCommand, RaiseNeed, RecordNeedProgress, WithdrawNeed,
};
pub use errors::{AmountField, DateField, NeedError, TextField};
pub use events::{
    NeedAccepted, NeedDeclined, NeedDispatched, NeedEscalated, NeedEvaluated, NeedEvent,
    NeedFulfilled, NeedProgressRecorded, NeedRaised, NeedWithdrawn,
};

/// The range of the 满意度 score.
pub const SATISFACTION_RANGE: std::ops::RangeInclusive<u8> = 1..=5;

/// The state of one need, as far as decisions and callers need it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Need {
    version: u64,
    /// `None` until the need is raised.
    status: Option<NeedStatus>,
    raised_on: Option<NaiveDate>,
    case_id: Option<Uuid>,
    region: Option<RegionCode>,
    township: Option<RegionPrefix>,
    category: Option<NeedCategory>,
    urgency: Option<NeedUrgency>,
    micro_wish: bool,
    /// Whose ledger the need is on; the county's until escalated.
    level: Option<EscalationLevel>,
    /// The organization it is dispatched to, accepted by, or fulfilled by.
    organization_id: Option<Uuid>,
    dispatched_on: Option<NaiveDate>,
    due_on: Option<NaiveDate>,
    accepted_on: Option<NaiveDate>,
    fulfilled_on: Option<NaiveDate>,
    /// The latest dated step so far; later steps may not be dated before it.
    last_step: Option<Step>,
}

/// A dated step in the need's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Step {
    field: DateField,
    on: NaiveDate,
}

impl Need {
    /// The stream version of the last applied event (0 before any).
    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn is_raised(&self) -> bool {
        self.status.is_some()
    }

    /// `None` while the need has not been raised.
    pub fn status(&self) -> Option<NeedStatus> {
        self.status
    }

    pub fn raised_on(&self) -> Option<NaiveDate> {
        self.raised_on
    }

    /// The care case the need belongs to; `None` for a community need.
    pub fn case_id(&self) -> Option<Uuid> {
        self.case_id
    }

    pub fn region(&self) -> Option<&RegionCode> {
        self.region.as_ref()
    }

    /// The township whose ledger the need is on (分乡镇编列需求台账).
    pub fn township(&self) -> Option<&RegionPrefix> {
        self.township.as_ref()
    }

    pub fn category(&self) -> Option<NeedCategory> {
        self.category
    }

    pub fn urgency(&self) -> Option<NeedUrgency> {
        self.urgency
    }

    pub fn is_micro_wish(&self) -> bool {
        self.micro_wish
    }

    /// Whose ledger the need is on.
    pub fn level(&self) -> Option<EscalationLevel> {
        self.level
    }

    /// The organization the need is dispatched to (or accepted or
    /// fulfilled by); `None` while it is on a ledger.
    pub fn organization_id(&self) -> Option<Uuid> {
        self.organization_id
    }

    /// The due date of the current dispatch, kept after fulfilment.
    pub fn due_on(&self) -> Option<NaiveDate> {
        self.due_on
    }

    pub fn fulfilled_on(&self) -> Option<NaiveDate> {
        self.fulfilled_on
    }

    /// True when the need is dispatched or accepted, not yet fulfilled, and
    /// `today` is past its due date.
    pub fn is_overdue(&self, today: NaiveDate) -> bool {
        matches!(
            self.status,
            Some(NeedStatus::Dispatched | NeedStatus::Accepted)
        ) && self.due_on.is_some_and(|due_on| today > due_on)
    }

    /// The status a need returns to when it leaves an organization's hands:
    /// the county's ledger, or the ledger of the level it was escalated to.
    fn ledger_status(&self) -> NeedStatus {
        match self.level {
            None | Some(EscalationLevel::County) => NeedStatus::OnLedger,
            Some(_) => NeedStatus::Escalated,
        }
    }

    fn record_step(&mut self, field: DateField, on: NaiveDate) {
        if self.last_step.is_none_or(|last| on >= last.on) {
            self.last_step = Some(Step { field, on });
        }
    }
}

impl Aggregate for Need {
    const TYPE: &'static str = "need";
    type Command = NeedCommand;
    type Event = NeedEvent;
    type Error = NeedError;
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
            NeedEvent::NeedRaised(raised) => {
                self.status = Some(NeedStatus::OnLedger);
                self.raised_on = Some(raised.raised_on);
                self.case_id = raised.case_id;
                self.region = Some(raised.region);
                self.township = Some(raised.township);
                self.category = Some(raised.category);
                self.urgency = Some(raised.urgency);
                self.micro_wish = raised.micro_wish;
                self.level = Some(EscalationLevel::County);
                self.record_step(DateField::RaisedOn, raised.raised_on);
            }
            NeedEvent::NeedDispatched(dispatched) => {
                self.status = Some(NeedStatus::Dispatched);
                self.organization_id = Some(dispatched.organization_id);
                self.dispatched_on = Some(dispatched.dispatched_on);
                self.due_on = Some(dispatched.due_on);
                self.accepted_on = None;
                self.record_step(DateField::DispatchedOn, dispatched.dispatched_on);
            }
            NeedEvent::NeedAccepted(accepted) => {
                self.status = Some(NeedStatus::Accepted);
                self.accepted_on = Some(accepted.accepted_on);
                self.record_step(DateField::AcceptedOn, accepted.accepted_on);
            }
            NeedEvent::NeedDeclined(declined) => {
                self.status = Some(self.ledger_status());
                self.organization_id = None;
                self.dispatched_on = None;
                self.due_on = None;
                self.record_step(DateField::DeclinedOn, declined.declined_on);
            }
            NeedEvent::NeedProgressRecorded(progress) => {
                self.record_step(DateField::ProgressRecordedOn, progress.recorded_on);
            }
            NeedEvent::NeedFulfilled(fulfilled) => {
                self.status = Some(NeedStatus::Fulfilled);
                self.fulfilled_on = Some(fulfilled.fulfilled_on);
                self.record_step(DateField::FulfilledOn, fulfilled.fulfilled_on);
            }
            NeedEvent::NeedEvaluated(evaluated) => {
                self.status = Some(NeedStatus::Evaluated);
                self.record_step(DateField::EvaluatedOn, evaluated.evaluated_on);
            }
            NeedEvent::NeedEscalated(escalated) => {
                self.status = Some(NeedStatus::Escalated);
                self.level = Some(escalated.to);
                self.record_step(DateField::EscalatedOn, escalated.escalated_on);
            }
            NeedEvent::NeedWithdrawn(withdrawn) => {
                self.status = Some(NeedStatus::Withdrawn);
                self.record_step(DateField::WithdrawnOn, withdrawn.withdrawn_on);
            }
        }
    }
}
