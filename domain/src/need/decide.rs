//! The business rules of a need. Pure and synchronous.

use chrono::NaiveDate;
use uuid::Uuid;

use super::commands::{
    AcceptNeed, DeclineNeed, DispatchNeed, EscalateNeed, EvaluateNeed, FulfilNeed, NeedAction,
    NeedCommand, RaiseNeed, RecordNeedProgress, WithdrawNeed,
};
use super::errors::{AmountField, DateField, NeedError, TextField};
use super::events::{
    NeedAccepted, NeedDeclined, NeedDispatched, NeedEscalated, NeedEvaluated, NeedEvent,
    NeedFulfilled, NeedProgressRecorded, NeedRaised, NeedWithdrawn,
};
use super::{Need, SATISFACTION_RANGE};
use crate::codes::RegionPrefix;
use crate::evidence::Sha256Hex;
use crate::personal::Personal;
use crate::rules::{distinct, trimmed};
use crate::values::RegionCode;
use crate::vocabulary::{EscalationLevel, NeedStatus, RegionLevel};

impl Need {
    /// Decides what a command means for this need: the events to record, or
    /// why it is refused. Does not change the state.
    pub fn decide(&self, command: &NeedCommand) -> Result<Vec<NeedEvent>, NeedError> {
        let today = command.today;
        let Some(status) = self.status else {
            return match &command.action {
                NeedAction::RaiseNeed(raise) => Ok(vec![raise_need(raise, today)?]),
                _ => Err(NeedError::NotRaised),
            };
        };
        check_status_allows(status, &command.action)?;
        let event = match &command.action {
            NeedAction::RaiseNeed(_) => return Err(NeedError::AlreadyRaised),
            NeedAction::DispatchNeed(dispatch) => self.dispatch(dispatch, today)?,
            NeedAction::AcceptNeed(accept) => self.accept(accept, today)?,
            NeedAction::DeclineNeed(decline) => self.decline(decline, today)?,
            NeedAction::RecordNeedProgress(progress) => self.record_progress(progress, today)?,
            NeedAction::FulfilNeed(fulfil) => self.fulfil(fulfil, today)?,
            NeedAction::EvaluateNeed(evaluation) => self.evaluate(evaluation, today)?,
            NeedAction::EscalateNeed(escalation) => self.escalate(escalation, today)?,
            NeedAction::WithdrawNeed(withdrawal) => self.withdraw(withdrawal, today)?,
        };
        Ok(vec![event])
    }

    fn dispatch(&self, dispatch: &DispatchNeed, today: NaiveDate) -> Result<NeedEvent, NeedError> {
        if !dispatch.organization_active {
            return Err(NeedError::OrganizationInactive(dispatch.organization_id));
        }
        let dispatched_on =
            self.next_step(DateField::DispatchedOn, dispatch.dispatched_on, today)?;
        if dispatch.due_on < dispatched_on {
            return Err(NeedError::DateOutOfOrder {
                field: DateField::DueOn,
                date: dispatch.due_on,
                earlier_field: DateField::DispatchedOn,
                earlier: dispatched_on,
            });
        }
        Ok(NeedEvent::NeedDispatched(NeedDispatched {
            organization_id: dispatch.organization_id,
            level: self.level.unwrap_or(EscalationLevel::County),
            due_on: dispatch.due_on,
            dispatched_on,
            instructions: dispatch.instructions.trim().to_owned(),
        }))
    }

    fn accept(&self, accept: &AcceptNeed, today: NaiveDate) -> Result<NeedEvent, NeedError> {
        let organization_id = self.assigned_to(accept.acting_organization_id)?;
        let accepted_on = self.next_step(DateField::AcceptedOn, accept.accepted_on, today)?;
        Ok(NeedEvent::NeedAccepted(NeedAccepted {
            organization_id,
            accepted_on,
        }))
    }

    fn decline(&self, decline: &DeclineNeed, today: NaiveDate) -> Result<NeedEvent, NeedError> {
        let organization_id = self.assigned_to(decline.acting_organization_id)?;
        let reason = required_text(&decline.reason, TextField::DeclineReason)?;
        let declined_on = self.next_step(DateField::DeclinedOn, decline.declined_on, today)?;
        Ok(NeedEvent::NeedDeclined(NeedDeclined {
            organization_id,
            reason,
            declined_on,
        }))
    }

    fn record_progress(
        &self,
        progress: &RecordNeedProgress,
        today: NaiveDate,
    ) -> Result<NeedEvent, NeedError> {
        let organization_id = self.assigned_to(progress.acting_organization_id)?;
        let note = required_text(&progress.note, TextField::ProgressNote)?;
        let recorded_on =
            not_in_future(DateField::ProgressRecordedOn, progress.recorded_on, today)?;
        // Notes may be entered out of order, but not before the acceptance.
        if let Some(accepted_on) = self.accepted_on
            && recorded_on < accepted_on
        {
            return Err(NeedError::DateOutOfOrder {
                field: DateField::ProgressRecordedOn,
                date: recorded_on,
                earlier_field: DateField::AcceptedOn,
                earlier: accepted_on,
            });
        }
        Ok(NeedEvent::NeedProgressRecorded(NeedProgressRecorded {
            organization_id,
            note,
            recorded_on,
        }))
    }

    fn fulfil(&self, fulfil: &FulfilNeed, today: NaiveDate) -> Result<NeedEvent, NeedError> {
        let organization_id = self.assigned_to(fulfil.acting_organization_id)?;
        let what_was_done = required_text(&fulfil.what_was_done, TextField::WhatWasDone)?;
        let money_fen = non_negative(AmountField::Money, fulfil.money_fen)?;
        let material_value_fen =
            non_negative(AmountField::MaterialValue, fulfil.material_value_fen)?;
        let mut evidence = Vec::with_capacity(fulfil.evidence.len());
        for (index, text) in fulfil.evidence.iter().enumerate() {
            let digest = Sha256Hex::parse(text).map_err(|error| NeedError::InvalidEvidence {
                position: index + 1,
                error,
            })?;
            evidence.push(digest);
        }
        let fulfilled_on = self.next_step(DateField::FulfilledOn, fulfil.fulfilled_on, today)?;
        Ok(NeedEvent::NeedFulfilled(NeedFulfilled {
            organization_id,
            what_was_done,
            minutes: fulfil.minutes,
            money_fen,
            material_value_fen,
            evidence: distinct(&evidence),
            fulfilled_on,
        }))
    }

    fn evaluate(
        &self,
        evaluation: &EvaluateNeed,
        today: NaiveDate,
    ) -> Result<NeedEvent, NeedError> {
        if !SATISFACTION_RANGE.contains(&evaluation.satisfaction) {
            return Err(NeedError::SatisfactionOutOfRange {
                satisfaction: evaluation.satisfaction,
            });
        }
        let evaluated_on =
            self.next_step(DateField::EvaluatedOn, evaluation.evaluated_on, today)?;
        Ok(NeedEvent::NeedEvaluated(NeedEvaluated {
            satisfaction: evaluation.satisfaction,
            words: evaluation.words.trim().to_owned(),
            evaluated_on,
        }))
    }

    fn escalate(
        &self,
        escalation: &EscalateNeed,
        today: NaiveDate,
    ) -> Result<NeedEvent, NeedError> {
        let from = self.level.unwrap_or(EscalationLevel::County);
        let to = escalation.to;
        if from == EscalationLevel::Government {
            return Err(NeedError::AlreadyReportedToGovernment);
        }
        if to <= from {
            return Err(NeedError::EscalationNotUpward { from, to });
        }
        // The government of each level can be reported to directly; the
        // civil-affairs ladder is climbed one rung at a time.
        let next_rung = match from {
            EscalationLevel::County => EscalationLevel::City,
            _ => EscalationLevel::Province,
        };
        if to != EscalationLevel::Government && to != next_rung {
            return Err(NeedError::EscalationSkipsLevel { from, to });
        }
        match (to, escalation.department) {
            (EscalationLevel::Government, None) => return Err(NeedError::DepartmentRequired),
            (EscalationLevel::Government, Some(_)) | (_, None) => {}
            (_, Some(_)) => return Err(NeedError::DepartmentWithoutGovernment),
        }
        let reason = required_text(&escalation.reason, TextField::EscalationReason)?;
        let escalated_on =
            self.next_step(DateField::EscalatedOn, escalation.escalated_on, today)?;
        Ok(NeedEvent::NeedEscalated(NeedEscalated {
            from,
            to,
            department: escalation.department,
            reason,
            escalated_on,
        }))
    }

    fn withdraw(
        &self,
        withdrawal: &WithdrawNeed,
        today: NaiveDate,
    ) -> Result<NeedEvent, NeedError> {
        let reason = required_text(&withdrawal.reason, TextField::WithdrawalReason)?;
        let withdrawn_on =
            self.next_step(DateField::WithdrawnOn, withdrawal.withdrawn_on, today)?;
        Ok(NeedEvent::NeedWithdrawn(NeedWithdrawn {
            reason,
            withdrawn_on,
        }))
    }

    /// The organization the need is in the hands of, when it is the acting one.
    fn assigned_to(&self, acting_organization_id: Uuid) -> Result<Uuid, NeedError> {
        match self.organization_id {
            Some(organization_id) if organization_id == acting_organization_id => {
                Ok(organization_id)
            }
            _ => Err(NeedError::NotAssignedOrganization {
                acting_organization_id,
            }),
        }
    }

    /// A step's date: not after today, and not before the latest step.
    fn next_step(
        &self,
        field: DateField,
        date: NaiveDate,
        today: NaiveDate,
    ) -> Result<NaiveDate, NeedError> {
        not_in_future(field, date, today)?;
        if let Some(last) = self.last_step
            && date < last.on
        {
            return Err(NeedError::DateOutOfOrder {
                field,
                date,
                earlier_field: last.field,
                earlier: last.on,
            });
        }
        Ok(date)
    }
}

/// Which commands each status allows. Withdrawn ends everything; a
/// fulfilled need can only be evaluated, once.
fn check_status_allows(status: NeedStatus, action: &NeedAction) -> Result<(), NeedError> {
    use NeedStatus::{Accepted, Dispatched, Escalated, Evaluated, Fulfilled, OnLedger, Withdrawn};
    match (action, status) {
        (NeedAction::RaiseNeed(_), _) => Err(NeedError::AlreadyRaised),
        (_, Withdrawn) => Err(NeedError::Withdrawn),
        (NeedAction::EvaluateNeed(_), Fulfilled) => Ok(()),
        (NeedAction::EvaluateNeed(_), Evaluated) => Err(NeedError::AlreadyEvaluated),
        (NeedAction::EvaluateNeed(_), _) => Err(NeedError::NotFulfilled),
        (_, Fulfilled | Evaluated) => Err(NeedError::AlreadyFulfilled),
        (NeedAction::DispatchNeed(_) | NeedAction::EscalateNeed(_), OnLedger | Escalated) => Ok(()),
        (NeedAction::DispatchNeed(_) | NeedAction::EscalateNeed(_), Dispatched | Accepted) => {
            Err(NeedError::AlreadyDispatched)
        }
        (NeedAction::AcceptNeed(_) | NeedAction::DeclineNeed(_), Dispatched) => Ok(()),
        (NeedAction::AcceptNeed(_) | NeedAction::DeclineNeed(_), Accepted) => {
            Err(NeedError::AlreadyAccepted)
        }
        (NeedAction::AcceptNeed(_) | NeedAction::DeclineNeed(_), OnLedger | Escalated) => {
            Err(NeedError::NotDispatched)
        }
        (NeedAction::RecordNeedProgress(_) | NeedAction::FulfilNeed(_), Accepted) => Ok(()),
        (NeedAction::RecordNeedProgress(_) | NeedAction::FulfilNeed(_), _) => {
            Err(NeedError::NotAccepted)
        }
        (NeedAction::WithdrawNeed(_), _) => Ok(()),
    }
}

fn raise_need(raise: &RaiseNeed, today: NaiveDate) -> Result<NeedEvent, NeedError> {
    let region = RegionCode::parse(&raise.region_code)?;
    let township = RegionPrefix::of(&region)
        .ok()
        .and_then(|area| area.at_level(RegionLevel::Township))
        .ok_or_else(|| NeedError::RegionAboveTownship {
            region: region.to_string(),
        })?;
    let description = required_text(&raise.description, TextField::Description)?;
    let raised_on = not_in_future(DateField::RaisedOn, raise.raised_on, today)?;
    Ok(NeedEvent::NeedRaised(NeedRaised {
        case_id: raise.case_id,
        region,
        township,
        category: raise.category,
        description: Personal::known(description),
        micro_wish: raise.micro_wish,
        urgency: raise.urgency,
        source: raise.source,
        raised_on,
    }))
}

fn not_in_future(
    field: DateField,
    date: NaiveDate,
    today: NaiveDate,
) -> Result<NaiveDate, NeedError> {
    if date > today {
        return Err(NeedError::DateInFuture { field, date, today });
    }
    Ok(date)
}

fn required_text(text: &str, field: TextField) -> Result<String, NeedError> {
    trimmed(text).ok_or(NeedError::BlankText { field })
}

fn non_negative(field: AmountField, amount_fen: i64) -> Result<i64, NeedError> {
    if amount_fen < 0 {
        return Err(NeedError::NegativeAmount { field, amount_fen });
    }
    Ok(amount_fen)
}
