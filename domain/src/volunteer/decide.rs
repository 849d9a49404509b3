//! The business rules of 积分制管理. Pure and synchronous.

use chrono::NaiveDate;

use super::commands::{
    CreditPoints, DeactivateVolunteer, ReactivateVolunteer, RedeemPoints, RegisterVolunteer,
    VolunteerAction, VolunteerCommand,
};
use super::errors::{DateField, TextField, VolunteerError};
use super::events::{
    PointsCredited, PointsRedeemed, VolunteerDeactivated, VolunteerEvent, VolunteerReactivated,
    VolunteerRegistered,
};
use super::{CREDIT_MINUTES_RANGE, CreditSource, PointsPolicy, Volunteer};
use crate::personal::Personal;
use crate::rules::trimmed;
use crate::values::is_plausible_phone;
use crate::vocabulary::VolunteerStatus;

impl Volunteer {
    /// Decides what a command means for this volunteer under the given
    /// points policy: the events to record, or why it is refused.
    pub fn decide(
        &self,
        command: &VolunteerCommand,
        policy: &PointsPolicy,
    ) -> Result<Vec<VolunteerEvent>, VolunteerError> {
        let today = command.today;
        let Some(registered_on) = self.registered_on else {
            return match &command.action {
                VolunteerAction::RegisterVolunteer(register) => {
                    Ok(vec![register_volunteer(register, today)?])
                }
                _ => Err(VolunteerError::NotRegistered),
            };
        };
        self.check_status_allows(&command.action)?;
        let dates = DateRules {
            today,
            registered_on,
        };
        let event = match &command.action {
            VolunteerAction::RegisterVolunteer(_) => return Err(VolunteerError::AlreadyRegistered),
            VolunteerAction::CreditPoints(credit) => self.credit_points(credit, policy, &dates)?,
            VolunteerAction::RedeemPoints(redeem) => self.redeem_points(redeem, &dates)?,
            VolunteerAction::DeactivateVolunteer(deactivate) => {
                deactivate_volunteer(deactivate, &dates)?
            }
            VolunteerAction::ReactivateVolunteer(reactivate) => {
                self.reactivate_volunteer(reactivate, &dates)?
            }
        };
        Ok(vec![event])
    }

    /// An inactive volunteer can only be reactivated; an active one cannot.
    fn check_status_allows(&self, action: &VolunteerAction) -> Result<(), VolunteerError> {
        let inactive = self.status == Some(VolunteerStatus::Inactive);
        match action {
            VolunteerAction::RegisterVolunteer(_) => Err(VolunteerError::AlreadyRegistered),
            VolunteerAction::ReactivateVolunteer(_) if !inactive => {
                Err(VolunteerError::NotInactive)
            }
            VolunteerAction::DeactivateVolunteer(_) if inactive => {
                Err(VolunteerError::AlreadyInactive)
            }
            VolunteerAction::CreditPoints(_) | VolunteerAction::RedeemPoints(_) if inactive => {
                Err(VolunteerError::VolunteerInactive)
            }
            _ => Ok(()),
        }
    }

    fn credit_points(
        &self,
        credit: &CreditPoints,
        policy: &PointsPolicy,
        dates: &DateRules,
    ) -> Result<VolunteerEvent, VolunteerError> {
        if let CreditSource::Service { stream_version, .. } = credit.source
            && stream_version == 0
        {
            return Err(VolunteerError::InvalidServiceVersion);
        }
        if self.credited.contains(&credit.source) {
            return Err(VolunteerError::AlreadyCredited(credit.source));
        }
        let minutes = credit.verified_minutes;
        if !CREDIT_MINUTES_RANGE.contains(&minutes) {
            return Err(VolunteerError::MinutesOutOfRange { minutes });
        }
        let verified_on = dates.since_registration(DateField::VerifiedOn, credit.verified_on)?;
        Ok(VolunteerEvent::PointsCredited(PointsCredited {
            source: credit.source,
            minutes,
            points: policy.points_for(minutes),
            points_per_hour: policy.points_per_hour,
            verified_by: credit.verified_by,
            verified_on,
        }))
    }

    fn redeem_points(
        &self,
        redeem: &RedeemPoints,
        dates: &DateRules,
    ) -> Result<VolunteerEvent, VolunteerError> {
        let reward = required_text(&redeem.reward, TextField::Reward)?;
        if redeem.points == 0 {
            return Err(VolunteerError::NoPointsToRedeem);
        }
        if u64::from(redeem.points) > self.balance() {
            return Err(VolunteerError::InsufficientPoints {
                requested: redeem.points,
                balance: self.balance(),
            });
        }
        let redeemed_on = dates.since_registration(DateField::RedeemedOn, redeem.redeemed_on)?;
        Ok(VolunteerEvent::PointsRedeemed(PointsRedeemed {
            reward,
            points: redeem.points,
            redeemed_on,
        }))
    }

    fn reactivate_volunteer(
        &self,
        reactivate: &ReactivateVolunteer,
        dates: &DateRules,
    ) -> Result<VolunteerEvent, VolunteerError> {
        let reason = required_text(&reactivate.reason, TextField::ReactivationReason)?;
        let reactivated_on =
            dates.since_registration(DateField::ReactivatedOn, reactivate.reactivated_on)?;
        if let Some(deactivated_on) = self.deactivated_on
            && reactivated_on < deactivated_on
        {
            return Err(VolunteerError::ReactivatedBeforeDeactivated {
                reactivated_on,
                deactivated_on,
            });
        }
        Ok(VolunteerEvent::VolunteerReactivated(VolunteerReactivated {
            reason,
            reactivated_on,
        }))
    }
}

fn register_volunteer(
    register: &RegisterVolunteer,
    today: NaiveDate,
) -> Result<VolunteerEvent, VolunteerError> {
    let name = required_text(&register.name, TextField::Name)?;
    let phone = required_text(&register.phone, TextField::Phone)?;
    if !is_plausible_phone(&phone) {
        return Err(VolunteerError::InvalidPhone);
    }
    let registered_on = not_in_future(DateField::RegisteredOn, register.registered_on, today)?;
    Ok(VolunteerEvent::VolunteerRegistered(VolunteerRegistered {
        organization_id: register.organization_id,
        name,
        phone: Personal::known(phone),
        registered_on,
    }))
}

fn deactivate_volunteer(
    deactivate: &DeactivateVolunteer,
    dates: &DateRules,
) -> Result<VolunteerEvent, VolunteerError> {
    let reason = required_text(&deactivate.reason, TextField::DeactivationReason)?;
    let deactivated_on =
        dates.since_registration(DateField::DeactivatedOn, deactivate.deactivated_on)?;
    Ok(VolunteerEvent::VolunteerDeactivated(VolunteerDeactivated {
        reason,
        deactivated_on,
    }))
}

/// Nothing is recorded as happening after today, or before registration.
struct DateRules {
    today: NaiveDate,
    registered_on: NaiveDate,
}

impl DateRules {
    fn since_registration(
        &self,
        field: DateField,
        date: NaiveDate,
    ) -> Result<NaiveDate, VolunteerError> {
        not_in_future(field, date, self.today)?;
        if date < self.registered_on {
            return Err(VolunteerError::DateBeforeRegistration {
                field,
                date,
                registered_on: self.registered_on,
            });
        }
        Ok(date)
    }
}

fn not_in_future(
    field: DateField,
    date: NaiveDate,
    today: NaiveDate,
) -> Result<NaiveDate, VolunteerError> {
    if date > today {
        return Err(VolunteerError::DateInFuture { field, date, today });
    }
    Ok(date)
}

fn required_text(text: &str, field: TextField) -> Result<String, VolunteerError> {
    trimmed(text).ok_or(VolunteerError::BlankText { field })
}
