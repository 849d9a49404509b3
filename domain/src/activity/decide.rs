//! The business rules of an activity. Pure and synchronous.

use chrono::NaiveDate;

use super::commands::{
    ActivityAction, ActivityCommand, AddParticipatingOrganization, AttachEvidence, CancelActivity,
    CompleteActivity, CorrectActivity, PlanActivity, RecordBeneficiaries, RecordFunds,
    RecordServiceTime, RemoveEvidence, RemoveParticipatingOrganization, UpdateParticipantHeadcount,
    WriteDetails,
};
use super::errors::{ActivityError, AmountField, DateField, TextField};
use super::events::{
    ActivityCancelled, ActivityCompleted, ActivityCorrected, ActivityEvent, ActivityPlanned,
    BeneficiariesRecorded, DetailsWritten, EvidenceAttached, EvidenceRemoved, FundsRecorded,
    ParticipantAdded, ParticipantHeadcountUpdated, ParticipantRemoved, ServiceTimeRecorded,
};
use super::{Activity, MAX_DETAILS_CHARS, MAX_EVIDENCE_IMAGES};
use crate::codes::RegionPrefix;
use crate::evidence::{ImageMediaType, Sha256Hex, check_size};
use crate::rules::{distinct, trimmed};
use crate::values::RegionCode;
use crate::vocabulary::{ActivityStatus, RegionLevel};

impl Activity {
    /// Decides what a command means for this activity: the events to record,
    /// or why it is refused. Does not change the state.
    pub fn decide(&self, command: &ActivityCommand) -> Result<Vec<ActivityEvent>, ActivityError> {
        let today = command.today;
        let Some(status) = self.status else {
            return match &command.action {
                ActivityAction::PlanActivity(plan) => Ok(vec![plan_activity(plan)?]),
                _ => Err(ActivityError::NotPlanned),
            };
        };
        match (&command.action, status) {
            (ActivityAction::PlanActivity(_), _) => return Err(ActivityError::AlreadyPlanned),
            (ActivityAction::CorrectActivity(_), _) | (_, ActivityStatus::Planned) => {}
            (_, ActivityStatus::Completed) => return Err(ActivityError::AlreadyCompleted),
            (_, ActivityStatus::Cancelled) => return Err(ActivityError::AlreadyCancelled),
        }
        let event = match &command.action {
            ActivityAction::PlanActivity(_) => return Err(ActivityError::AlreadyPlanned),
            ActivityAction::AddParticipatingOrganization(add) => self.add_participant(add)?,
            ActivityAction::UpdateParticipantHeadcount(update) => self.update_headcount(update)?,
            ActivityAction::RemoveParticipatingOrganization(remove) => {
                self.remove_participant(remove)?
            }
            ActivityAction::RecordFunds(funds) => record_funds(funds)?,
            ActivityAction::RecordBeneficiaries(beneficiaries) => {
                record_beneficiaries(beneficiaries)?
            }
            ActivityAction::RecordServiceTime(service_time) => record_service_time(service_time),
            ActivityAction::WriteDetails(details) => write_details(details)?,
            ActivityAction::AttachEvidence(attach) => self.attach_evidence(attach)?,
            ActivityAction::RemoveEvidence(remove) => self.remove_evidence(remove)?,
            ActivityAction::CompleteActivity(complete) => self.complete(complete, today)?,
            ActivityAction::CancelActivity(cancel) => cancel_activity(cancel, today)?,
            ActivityAction::CorrectActivity(correction) => self.correct(correction)?,
        };
        Ok(vec![event])
    }

    fn add_participant(
        &self,
        add: &AddParticipatingOrganization,
    ) -> Result<ActivityEvent, ActivityError> {
        let organization_name = required_text(&add.organization_name, TextField::OrganizationName)?;
        let same_id = |id| {
            self.participants
                .values()
                .any(|participant| participant.organization_id == Some(id))
        };
        if self.participants.contains_key(&organization_name)
            || add.organization_id.is_some_and(same_id)
        {
            return Err(ActivityError::ParticipantAlreadyAdded(organization_name));
        }
        let headcount = positive_headcount(add.headcount)?;
        Ok(ActivityEvent::ParticipantAdded(ParticipantAdded {
            organization_name,
            organization_id: add.organization_id,
            headcount,
        }))
    }

    fn update_headcount(
        &self,
        update: &UpdateParticipantHeadcount,
    ) -> Result<ActivityEvent, ActivityError> {
        let organization_name = self.known_participant(&update.organization_name)?;
        let headcount = positive_headcount(update.headcount)?;
        Ok(ActivityEvent::ParticipantHeadcountUpdated(
            ParticipantHeadcountUpdated {
                organization_name,
                headcount,
            },
        ))
    }

    fn remove_participant(
        &self,
        remove: &RemoveParticipatingOrganization,
    ) -> Result<ActivityEvent, ActivityError> {
        let organization_name = self.known_participant(&remove.organization_name)?;
        let reason = required_text(&remove.reason, TextField::ParticipantRemovalReason)?;
        Ok(ActivityEvent::ParticipantRemoved(ParticipantRemoved {
            organization_name,
            reason,
        }))
    }

    fn known_participant(&self, name: &str) -> Result<String, ActivityError> {
        let name = required_text(name, TextField::OrganizationName)?;
        if !self.participants.contains_key(&name) {
            return Err(ActivityError::UnknownParticipant(name));
        }
        Ok(name)
    }

    fn attach_evidence(&self, attach: &AttachEvidence) -> Result<ActivityEvent, ActivityError> {
        let sha256 = Sha256Hex::parse(&attach.sha256)?;
        let media_type = ImageMediaType::parse(&attach.media_type)?;
        let size_bytes = check_size(attach.size_bytes)?;
        let file_name = required_text(&attach.file_name, TextField::FileName)?;
        if self.evidence.iter().any(|image| image.sha256 == sha256) {
            return Err(ActivityError::DuplicateEvidence);
        }
        if self.evidence.len() >= MAX_EVIDENCE_IMAGES {
            return Err(ActivityError::TooManyEvidenceImages);
        }
        Ok(ActivityEvent::EvidenceAttached(EvidenceAttached {
            sha256,
            media_type,
            size_bytes,
            file_name,
        }))
    }

    fn remove_evidence(&self, remove: &RemoveEvidence) -> Result<ActivityEvent, ActivityError> {
        let sha256 = Sha256Hex::parse(&remove.sha256)?;
        if !self.evidence.iter().any(|image| image.sha256 == sha256) {
            return Err(ActivityError::UnknownEvidence);
        }
        let reason = required_text(&remove.reason, TextField::EvidenceRemovalReason)?;
        Ok(ActivityEvent::EvidenceRemoved(EvidenceRemoved {
            sha256,
            reason,
        }))
    }

    fn complete(
        &self,
        complete: &CompleteActivity,
        today: NaiveDate,
    ) -> Result<ActivityEvent, ActivityError> {
        if complete.actual_ends_at < complete.actual_starts_at {
            return Err(ActivityError::EndsBeforeStarts {
                starts_at: complete.actual_starts_at,
                ends_at: complete.actual_ends_at,
            });
        }
        let ended_on = not_in_future(DateField::ActualEnd, complete.actual_ends_at.date(), today)?;
        let completed_on = not_in_future(DateField::CompletedOn, complete.completed_on, today)?;
        if completed_on < ended_on {
            return Err(ActivityError::CompletedBeforeEnded {
                completed_on,
                ended_on,
            });
        }
        check_counts(
            complete.person_times,
            complete.persons,
            self.linked_case_ids.len(),
        )?;
        Ok(ActivityEvent::ActivityCompleted(ActivityCompleted {
            actual_starts_at: complete.actual_starts_at,
            actual_ends_at: complete.actual_ends_at,
            person_times: complete.person_times,
            persons: complete.persons,
            service_minutes: complete.service_minutes,
            completed_on,
        }))
    }

    fn correct(&self, correction: &CorrectActivity) -> Result<ActivityEvent, ActivityError> {
        let reason = required_text(&correction.reason, TextField::CorrectionReason)?;
        if correction.corrected_fields.is_empty() {
            return Err(ActivityError::EmptyCorrection);
        }
        if !(1..=self.version).contains(&correction.corrected_version) {
            return Err(ActivityError::CorrectionTargetNotFound {
                corrected_version: correction.corrected_version,
                current_version: self.version,
            });
        }
        Ok(ActivityEvent::ActivityCorrected(ActivityCorrected {
            corrected_version: correction.corrected_version,
            corrected_fields: correction.corrected_fields.clone(),
            reason,
        }))
    }
}

fn plan_activity(plan: &PlanActivity) -> Result<ActivityEvent, ActivityError> {
    let name = required_text(&plan.name, TextField::Name)?;
    let organizer_name = required_text(&plan.organizer_name, TextField::OrganizerName)?;
    let region = RegionCode::parse(&plan.region_code)?;
    if !matches!(
        plan.region_level,
        RegionLevel::County | RegionLevel::Township | RegionLevel::Village
    ) {
        return Err(ActivityError::RegionLevelNotAllowed(plan.region_level));
    }
    // A RegionCode is valid down to its county; its level is the narrowest
    // non-zero part below (a code RegionPrefix cannot read has a zero city
    // part above a real county, so it is a county-level code).
    let region_level = RegionPrefix::of(&region).map_or(RegionLevel::County, |area| area.level());
    if region_level != plan.region_level {
        return Err(ActivityError::RegionLevelMismatch {
            region_level,
            level: plan.region_level,
        });
    }
    let place = required_text(&plan.place, TextField::Place)?;
    if plan.ends_at < plan.starts_at {
        return Err(ActivityError::EndsBeforeStarts {
            starts_at: plan.starts_at,
            ends_at: plan.ends_at,
        });
    }
    let leader = required_text(&plan.leader, TextField::Leader)?;
    Ok(ActivityEvent::ActivityPlanned(ActivityPlanned {
        name,
        organizer_name,
        organizer_organization_id: plan.organizer_organization_id,
        action_line: plan.action_line,
        region,
        region_level: plan.region_level,
        place,
        starts_at: plan.starts_at,
        ends_at: plan.ends_at,
        leader,
    }))
}

fn record_funds(funds: &RecordFunds) -> Result<ActivityEvent, ActivityError> {
    let money_fen = non_negative(AmountField::Money, funds.money_fen)?;
    let material_value_fen = non_negative(AmountField::MaterialValue, funds.material_value_fen)?;
    if money_fen == 0 && material_value_fen == 0 {
        return Err(ActivityError::EmptyFunds);
    }
    Ok(ActivityEvent::FundsRecorded(FundsRecorded {
        source: funds.source,
        money_fen,
        material_value_fen,
        note: funds.note.trim().to_owned(),
    }))
}

fn record_beneficiaries(
    beneficiaries: &RecordBeneficiaries,
) -> Result<ActivityEvent, ActivityError> {
    let missing = distinct(&beneficiaries.missing_case_ids);
    if !missing.is_empty() {
        return Err(ActivityError::LinkedCasesMissing(missing));
    }
    let linked_case_ids = distinct(&beneficiaries.linked_case_ids);
    check_counts(
        beneficiaries.person_times,
        beneficiaries.persons,
        linked_case_ids.len(),
    )?;
    Ok(ActivityEvent::BeneficiariesRecorded(
        BeneficiariesRecorded {
            person_times: beneficiaries.person_times,
            persons: beneficiaries.persons,
            linked_case_ids,
        },
    ))
}

/// Persons are at most person-times, and at least the linked cases.
fn check_counts(person_times: u32, persons: u32, linked: usize) -> Result<(), ActivityError> {
    if persons > person_times {
        return Err(ActivityError::PersonsExceedPersonTimes {
            persons,
            person_times,
        });
    }
    let linked = u32::try_from(linked).unwrap_or(u32::MAX);
    if linked > persons {
        return Err(ActivityError::LinkedCasesExceedPersons { linked, persons });
    }
    Ok(())
}

fn record_service_time(service_time: &RecordServiceTime) -> ActivityEvent {
    ActivityEvent::ServiceTimeRecorded(ServiceTimeRecorded {
        minutes: service_time.minutes,
    })
}

fn write_details(details: &WriteDetails) -> Result<ActivityEvent, ActivityError> {
    let details = required_text(&details.details, TextField::Details)?;
    let chars = details.chars().count();
    if chars > MAX_DETAILS_CHARS {
        return Err(ActivityError::DetailsTooLong { chars });
    }
    Ok(ActivityEvent::DetailsWritten(DetailsWritten { details }))
}

fn cancel_activity(
    cancel: &CancelActivity,
    today: NaiveDate,
) -> Result<ActivityEvent, ActivityError> {
    let reason = required_text(&cancel.reason, TextField::CancellationReason)?;
    let cancelled_on = not_in_future(DateField::CancelledOn, cancel.cancelled_on, today)?;
    Ok(ActivityEvent::ActivityCancelled(ActivityCancelled {
        reason,
        cancelled_on,
    }))
}

fn positive_headcount(headcount: u32) -> Result<u32, ActivityError> {
    if headcount == 0 {
        return Err(ActivityError::HeadcountZero);
    }
    Ok(headcount)
}

fn not_in_future(
    field: DateField,
    date: NaiveDate,
    today: NaiveDate,
) -> Result<NaiveDate, ActivityError> {
    if date > today {
        return Err(ActivityError::DateInFuture { field, date, today });
    }
    Ok(date)
}

fn required_text(text: &str, field: TextField) -> Result<String, ActivityError> {
    trimmed(text).ok_or(ActivityError::BlankText { field })
}

fn non_negative(field: AmountField, amount_fen: i64) -> Result<i64, ActivityError> {
    if amount_fen < 0 {
        return Err(ActivityError::NegativeAmount { field, amount_fen });
    }
    Ok(amount_fen)
}
