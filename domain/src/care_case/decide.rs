//! The business rules: which commands a care case accepts, and the events
//! they become. Pure and synchronous, so that they are tested without any
//! runtime and called the same way from `handle`, imports and simulations.

use chrono::NaiveDate;
use uuid::Uuid;

use super::commands::{
    AssessRisk, AssignCaregiver, CaseAction, CaseCommand, ChangeCategories, CloseCase,
    CorrectEntry, ErasePersonalData, MakeReferral, OpenCase, RecordOutcome, RecordProfile,
    RecordService, RecordVisit, ReleaseCaregiver, ReopenCase, ResolveReferral, TransferCase,
};
use super::errors::{AmountField, CaseError, DateField, TextField};
use super::events::{
    CaregiverAssigned, CaregiverReleased, CaseClosed, CaseEvent, CaseOpened, CaseReopened,
    CaseTransferred, CategoriesChanged, EntryCorrected, OutcomeRecorded, PersonalDataErased,
    ProfileRecorded, ReferralMade, ReferralResolved, RiskAssessed, ServiceDelivered, VisitRecorded,
};
use super::{CareCase, MINUTES_RANGE, SATISFACTION_RANGE};
use crate::personal::Personal;
use crate::values::{IdNumber, RegionCode, is_plausible_phone};
use crate::vocabulary::{CaseStatus, CloseReason};

impl CareCase {
    /// Decides what a command means for this case: the events to record, or
    /// why it is refused. Does not change the case; apply the events for that.
    pub fn decide(&self, command: &CaseCommand) -> Result<Vec<CaseEvent>, CaseError> {
        let today = command.today;
        let Some(opened_on) = self.opened_on else {
            return match &command.action {
                CaseAction::OpenCase(open) => Ok(vec![open_case(open, today)?]),
                _ => Err(CaseError::CaseNotOpened),
            };
        };
        self.check_lifecycle_allows(&command.action)?;
        let dates = DateRules { today, opened_on };
        let event = match &command.action {
            // Refused by the lifecycle check above; kept explicit so that the
            // match stays exhaustive without a catch-all.
            CaseAction::OpenCase(_) => return Err(CaseError::CaseAlreadyOpened),
            CaseAction::ChangeCategories(change) => self.change_categories(change, &dates)?,
            CaseAction::RecordProfile(profile) => record_profile(profile, &dates)?,
            CaseAction::AssessRisk(assessment) => assess_risk(assessment, &dates)?,
            CaseAction::AssignCaregiver(assign) => self.assign_caregiver(assign, &dates)?,
            CaseAction::ReleaseCaregiver(release) => self.release_caregiver(release, &dates)?,
            CaseAction::RecordVisit(visit) => record_visit(visit, &dates)?,
            CaseAction::RecordService(service) => record_service(service, &dates)?,
            CaseAction::MakeReferral(referral) => self.make_referral(referral, &dates)?,
            CaseAction::ResolveReferral(resolution) => self.resolve_referral(resolution, &dates)?,
            CaseAction::RecordOutcome(outcome) => record_outcome(outcome, &dates)?,
            CaseAction::TransferCase(transfer) => self.transfer_case(transfer, &dates)?,
            CaseAction::CloseCase(close) => close_case(close, &dates)?,
            CaseAction::ReopenCase(reopen) => self.reopen_case(reopen, &dates)?,
            CaseAction::CorrectEntry(correction) => self.correct_entry(correction)?,
            CaseAction::ErasePersonalData(erasure) => erase_personal_data(erasure, today)?,
        };
        Ok(vec![event])
    }

    /// Refuses commands the case's lifecycle does not allow: an opened case
    /// cannot be opened again, erasure ends all recording, and a closed case
    /// accepts only reopening, corrections and erasure.
    fn check_lifecycle_allows(&self, action: &CaseAction) -> Result<(), CaseError> {
        let closed = self.status == Some(CaseStatus::Closed);
        match action {
            CaseAction::OpenCase(_) => Err(CaseError::CaseAlreadyOpened),
            CaseAction::ErasePersonalData(_) if self.personal_data_erased => {
                Err(CaseError::AlreadyErased)
            }
            // The person's data key is gone: anything recorded now could not
            // be sealed under it, and the person asked to be forgotten.
            _ if self.personal_data_erased => Err(CaseError::PersonalDataErased),
            CaseAction::ReopenCase(_) if !closed => Err(CaseError::CaseNotClosed),
            CaseAction::ReopenCase(_)
            | CaseAction::CorrectEntry(_)
            | CaseAction::ErasePersonalData(_) => Ok(()),
            _ if closed => Err(CaseError::CaseClosed),
            _ => Ok(()),
        }
    }

    fn change_categories(
        &self,
        change: &ChangeCategories,
        dates: &DateRules,
    ) -> Result<CaseEvent, CaseError> {
        let reason = required_text(&change.reason, TextField::CategoryChangeReason)?;
        let added = distinct(&change.added);
        let removed = distinct(&change.removed);
        if added.is_empty() && removed.is_empty() {
            return Err(CaseError::NoCategoryChange);
        }
        if let Some(both) = added.iter().find(|category| removed.contains(category)) {
            return Err(CaseError::CategoryAddedAndRemoved(*both));
        }
        if let Some(present) = added.iter().find(|c| self.categories.contains(c)) {
            return Err(CaseError::CategoryAlreadyPresent(*present));
        }
        if let Some(absent) = removed.iter().find(|c| !self.categories.contains(c)) {
            return Err(CaseError::CategoryNotPresent(*absent));
        }
        // Removed ones are all present and distinct, so this is the size after.
        if added.is_empty() && removed.len() == self.categories.len() {
            return Err(CaseError::LastCategoryRemoved);
        }
        let effective_on =
            dates.within_case(DateField::CategoriesEffectiveOn, change.effective_on)?;
        Ok(CaseEvent::CategoriesChanged(CategoriesChanged {
            added,
            removed,
            reason,
            effective_on,
        }))
    }

    fn assign_caregiver(
        &self,
        assign: &AssignCaregiver,
        dates: &DateRules,
    ) -> Result<CaseEvent, CaseError> {
        if self
            .caregiver(assign.organization_id, assign.worker_id)
            .is_some()
        {
            return Err(CaseError::CaregiverAlreadyAssigned);
        }
        let started_on = dates.within_case(DateField::CaregiverStartedOn, assign.started_on)?;
        Ok(CaseEvent::CaregiverAssigned(CaregiverAssigned {
            organization_id: assign.organization_id,
            worker_id: assign.worker_id,
            arrangement: assign.arrangement,
            started_on,
        }))
    }

    fn release_caregiver(
        &self,
        release: &ReleaseCaregiver,
        dates: &DateRules,
    ) -> Result<CaseEvent, CaseError> {
        let assignment = self
            .caregiver(release.organization_id, release.worker_id)
            .ok_or(CaseError::CaregiverNotAssigned)?;
        let reason = required_text(&release.reason, TextField::CaregiverReleaseReason)?;
        let ended_on = dates.within_case(DateField::CaregiverEndedOn, release.ended_on)?;
        if ended_on < assignment.started_on {
            return Err(CaseError::ReleasedBeforeAssigned {
                ended_on,
                started_on: assignment.started_on,
            });
        }
        Ok(CaseEvent::CaregiverReleased(CaregiverReleased {
            organization_id: release.organization_id,
            worker_id: release.worker_id,
            ended_on,
            reason,
        }))
    }

    fn make_referral(
        &self,
        referral: &MakeReferral,
        dates: &DateRules,
    ) -> Result<CaseEvent, CaseError> {
        if self.knows_referral(referral.referral_id) {
            return Err(CaseError::DuplicateReferral(referral.referral_id));
        }
        let reason = required_text(&referral.reason, TextField::ReferralReason)?;
        let referred_on = dates.within_case(DateField::ReferredOn, referral.referred_on)?;
        Ok(CaseEvent::ReferralMade(ReferralMade {
            referral_id: referral.referral_id,
            department: referral.department,
            reason: Personal::known(reason),
            referred_on,
        }))
    }

    fn knows_referral(&self, referral_id: Uuid) -> bool {
        self.open_referrals.contains_key(&referral_id)
            || self.resolved_referrals.contains(&referral_id)
    }

    fn resolve_referral(
        &self,
        resolution: &ResolveReferral,
        dates: &DateRules,
    ) -> Result<CaseEvent, CaseError> {
        let referral_id = resolution.referral_id;
        if self.resolved_referrals.contains(&referral_id) {
            return Err(CaseError::ReferralAlreadyResolved(referral_id));
        }
        let referred_on = *self
            .open_referrals
            .get(&referral_id)
            .ok_or(CaseError::UnknownReferral(referral_id))?;
        let answer = required_text(&resolution.answer, TextField::ReferralAnswer)?;
        let resolved_on =
            dates.within_case(DateField::ReferralResolvedOn, resolution.resolved_on)?;
        if resolved_on < referred_on {
            return Err(CaseError::ResolvedBeforeReferred {
                resolved_on,
                referred_on,
            });
        }
        Ok(CaseEvent::ReferralResolved(ReferralResolved {
            referral_id,
            answer: Personal::known(answer),
            resolved_on,
        }))
    }

    fn transfer_case(
        &self,
        transfer: &TransferCase,
        dates: &DateRules,
    ) -> Result<CaseEvent, CaseError> {
        let reason = required_text(&transfer.reason, TextField::TransferReason)?;
        // An opened case always has a region; this only guards a corrupt snapshot.
        let from_region = self.region.clone().ok_or(CaseError::CaseNotOpened)?;
        let to_region = match &transfer.new_region {
            Some(text) => RegionCode::parse(text)?,
            None => from_region.clone(),
        };
        let to_organization_id = transfer.new_organization_id.or(self.organization_id);
        if to_region == from_region && to_organization_id == self.organization_id {
            return Err(CaseError::TransferChangesNothing);
        }
        let transferred_on =
            dates.within_case(DateField::TransferredOn, transfer.transferred_on)?;
        Ok(CaseEvent::CaseTransferred(CaseTransferred {
            from_region,
            to_region,
            from_organization_id: self.organization_id,
            to_organization_id,
            reason,
            transferred_on,
        }))
    }

    fn reopen_case(&self, reopen: &ReopenCase, dates: &DateRules) -> Result<CaseEvent, CaseError> {
        let reason = required_text(&reopen.reason, TextField::ReopenReason)?;
        let reopened_on = dates.within_case(DateField::ReopenedOn, reopen.reopened_on)?;
        if let Some(closed_on) = self.closed_on
            && reopened_on < closed_on
        {
            return Err(CaseError::ReopenedBeforeClosed {
                reopened_on,
                closed_on,
            });
        }
        Ok(CaseEvent::CaseReopened(CaseReopened {
            reason,
            reopened_on,
        }))
    }

    fn correct_entry(&self, correction: &CorrectEntry) -> Result<CaseEvent, CaseError> {
        let reason = required_text(&correction.reason, TextField::CorrectionReason)?;
        if correction.corrected_fields.is_empty() {
            return Err(CaseError::EmptyCorrection);
        }
        if !(1..=self.version).contains(&correction.corrected_version) {
            return Err(CaseError::CorrectionTargetNotFound {
                corrected_version: correction.corrected_version,
                current_version: self.version,
            });
        }
        Ok(CaseEvent::EntryCorrected(EntryCorrected {
            corrected_version: correction.corrected_version,
            corrected_fields: Personal::known(correction.corrected_fields.clone()),
            reason,
        }))
    }
}

fn open_case(open: &OpenCase, today: NaiveDate) -> Result<CaseEvent, CaseError> {
    let name = required_text(&open.name, TextField::Name)?;
    let id_number = IdNumber::parse(&open.id_number)?;
    if id_number.birth_date() != open.birth_date {
        return Err(CaseError::IdNumberBirthDateMismatch {
            id_birth_date: id_number.birth_date(),
            birth_date: open.birth_date,
        });
    }
    if id_number.gender() != open.gender {
        return Err(CaseError::IdNumberGenderMismatch {
            id_gender: id_number.gender(),
            gender: open.gender,
        });
    }
    let phone = required_text(&open.phone, TextField::Phone)?;
    if !is_plausible_phone(&phone) {
        return Err(CaseError::InvalidPhone);
    }
    let address = required_text(&open.address, TextField::Address)?;
    let residence_region = RegionCode::parse(&open.residence_region)?;
    let categories = distinct(&open.categories);
    if categories.is_empty() {
        return Err(CaseError::NoCareCategory);
    }
    let birth_date = not_in_future(DateField::BirthDate, open.birth_date, today)?;
    let opened_on = not_in_future(DateField::OpenedOn, open.opened_on, today)?;
    if birth_date > opened_on {
        return Err(CaseError::BornAfterOpening {
            birth_date,
            opened_on,
        });
    }
    Ok(CaseEvent::CaseOpened(CaseOpened {
        name,
        gender: open.gender,
        birth_date,
        id_number: Personal::known(id_number),
        phone: Personal::known(phone),
        address: Personal::known(address),
        residence_region,
        categories,
        identified_via: open.identified_via,
        risk_level: open.risk_level,
        organization_id: open.organization_id,
        opened_on,
    }))
}

fn record_profile(profile: &RecordProfile, dates: &DateRules) -> Result<CaseEvent, CaseError> {
    let monthly_income_fen = non_negative(AmountField::MonthlyIncome, profile.monthly_income_fen)?;
    let recorded_on = dates.within_case(DateField::ProfileRecordedOn, profile.recorded_on)?;
    Ok(CaseEvent::ProfileRecorded(ProfileRecorded {
        economic_source: profile.economic_source.trim().to_owned(),
        family_structure: profile.family_structure.trim().to_owned(),
        health: Personal::known(profile.health.trim().to_owned()),
        care_situation: Personal::known(profile.care_situation.trim().to_owned()),
        lives_alone: profile.lives_alone,
        monthly_income_fen,
        notes: Personal::known(profile.notes.trim().to_owned()),
        recorded_on,
    }))
}

fn assess_risk(assessment: &AssessRisk, dates: &DateRules) -> Result<CaseEvent, CaseError> {
    let assessed_on = dates.within_case(DateField::RiskAssessedOn, assessment.assessed_on)?;
    Ok(CaseEvent::RiskAssessed(RiskAssessed {
        level: assessment.level,
        factors: distinct(&assessment.factors),
        assessed_on,
    }))
}

fn record_visit(visit: &RecordVisit, dates: &DateRules) -> Result<CaseEvent, CaseError> {
    let visitor_ids = distinct(&visit.visitor_ids);
    if visitor_ids.is_empty() {
        return Err(CaseError::NoVisitor);
    }
    let minutes = minutes_in_range(visit.minutes)?;
    let findings = required_text(&visit.findings, TextField::VisitFindings)?;
    let visited_on = dates.within_case(DateField::VisitedOn, visit.visited_on)?;
    Ok(CaseEvent::VisitRecorded(VisitRecorded {
        visited_on,
        visitor_ids,
        method: visit.method,
        minutes,
        findings,
        wellbeing_notes: Personal::known(visit.wellbeing_notes.trim().to_owned()),
        follow_up_needed: visit.follow_up_needed,
    }))
}

fn record_service(service: &RecordService, dates: &DateRules) -> Result<CaseEvent, CaseError> {
    let service_types = distinct(&service.service_types);
    if service_types.is_empty() {
        return Err(CaseError::NoServiceType);
    }
    let minutes = minutes_in_range(service.minutes)?;
    let money_fen = non_negative(AmountField::Money, service.money_fen)?;
    let material_value_fen = non_negative(AmountField::MaterialValue, service.material_value_fen)?;
    let description = required_text(&service.description, TextField::ServiceDescription)?;
    let delivered_on = dates.within_case(DateField::ServiceDeliveredOn, service.delivered_on)?;
    Ok(CaseEvent::ServiceDelivered(ServiceDelivered {
        delivered_on,
        service_types,
        action_line: service.action_line,
        provider_organization_id: service.provider_organization_id,
        volunteers: service.volunteers,
        minutes,
        money_fen,
        material_value_fen,
        description,
    }))
}

fn record_outcome(outcome: &RecordOutcome, dates: &DateRules) -> Result<CaseEvent, CaseError> {
    let goal = required_text(&outcome.goal, TextField::OutcomeGoal)?;
    if !SATISFACTION_RANGE.contains(&outcome.satisfaction) {
        return Err(CaseError::SatisfactionOutOfRange {
            satisfaction: outcome.satisfaction,
        });
    }
    let evaluated_on = dates.within_case(DateField::OutcomeEvaluatedOn, outcome.evaluated_on)?;
    Ok(CaseEvent::OutcomeRecorded(OutcomeRecorded {
        goal,
        achievement: outcome.achievement,
        satisfaction: outcome.satisfaction,
        own_words: outcome.own_words.trim().to_owned(),
        evaluated_on,
    }))
}

fn close_case(close: &CloseCase, dates: &DateRules) -> Result<CaseEvent, CaseError> {
    let note = close.note.trim().to_owned();
    // "其他" says nothing by itself; the note is what an auditor will read.
    if close.reason == CloseReason::Other && note.is_empty() {
        return Err(CaseError::BlankText {
            field: TextField::CloseNote,
        });
    }
    let closed_on = dates.within_case(DateField::ClosedOn, close.closed_on)?;
    Ok(CaseEvent::CaseClosed(CaseClosed {
        reason: close.reason,
        note,
        closed_on,
    }))
}

fn erase_personal_data(
    erasure: &ErasePersonalData,
    today: NaiveDate,
) -> Result<CaseEvent, CaseError> {
    let legal_basis = required_text(&erasure.legal_basis, TextField::LegalBasis)?;
    Ok(CaseEvent::PersonalDataErased(PersonalDataErased {
        legal_basis,
        erased_on: today,
    }))
}

/// The date rules of an opened case: nothing is recorded as happening
/// after today, or before the case was opened.
struct DateRules {
    today: NaiveDate,
    opened_on: NaiveDate,
}

impl DateRules {
    fn within_case(&self, field: DateField, date: NaiveDate) -> Result<NaiveDate, CaseError> {
        not_in_future(field, date, self.today)?;
        if date < self.opened_on {
            return Err(CaseError::DateBeforeCaseOpened {
                field,
                date,
                opened_on: self.opened_on,
            });
        }
        Ok(date)
    }
}

fn not_in_future(
    field: DateField,
    date: NaiveDate,
    today: NaiveDate,
) -> Result<NaiveDate, CaseError> {
    if date > today {
        return Err(CaseError::DateInFuture { field, date, today });
    }
    Ok(date)
}

/// The trimmed text, refused when blank.
fn required_text(text: &str, field: TextField) -> Result<String, CaseError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(CaseError::BlankText { field });
    }
    Ok(trimmed.to_owned())
}

fn minutes_in_range(minutes: u32) -> Result<u32, CaseError> {
    if !MINUTES_RANGE.contains(&minutes) {
        return Err(CaseError::MinutesOutOfRange { minutes });
    }
    Ok(minutes)
}

fn non_negative(field: AmountField, amount_fen: i64) -> Result<i64, CaseError> {
    if amount_fen < 0 {
        return Err(CaseError::NegativeAmount { field, amount_fen });
    }
    Ok(amount_fen)
}

/// The items without repeats, in the order first given: a category or
/// visitor ticked twice on a form means the same as ticked once.
fn distinct<T: PartialEq + Copy>(items: &[T]) -> Vec<T> {
    let mut unique = Vec::with_capacity(items.len());
    for item in items {
        if !unique.contains(item) {
            unique.push(*item);
        }
    }
    unique
}
