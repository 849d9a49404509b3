//! The business rules: which commands an organization accepts, and the
//! events they become. Pure and synchronous.

use chrono::NaiveDate;

use super::Organization;
use super::commands::{
    AddMember, AddSupplyEntry, DesignateLiaison, OrganizationAction, OrganizationCommand,
    ReactivateOrganization, RegisterOrganization, ReleaseLiaison, RemoveMember, RemoveSupplyEntry,
    SuspendOrganization,
};
use super::errors::{DateField, OrganizationError, TextField};
use super::events::{
    LiaisonDesignated, LiaisonReleased, MemberAdded, MemberRemoved, OrganizationEvent,
    OrganizationReactivated, OrganizationRegistered, OrganizationSuspended, SupplyEntryAdded,
    SupplyEntryRemoved,
};
use crate::codes::{CreditCode, RegionPrefix};
use crate::rules::{distinct, trimmed};
use crate::vocabulary::OrganizationStatus;

impl Organization {
    /// Decides what a command means for this organization: the events to
    /// record, or why it is refused. Does not change the state.
    pub fn decide(
        &self,
        command: &OrganizationCommand,
    ) -> Result<Vec<OrganizationEvent>, OrganizationError> {
        let today = command.today;
        let Some(registered_on) = self.registered_on else {
            return match &command.action {
                OrganizationAction::RegisterOrganization(register) => {
                    Ok(vec![register_organization(register, today)?])
                }
                _ => Err(OrganizationError::NotRegistered),
            };
        };
        let dates = DateRules {
            today,
            registered_on,
        };
        let event = match &command.action {
            OrganizationAction::RegisterOrganization(_) => {
                return Err(OrganizationError::AlreadyRegistered);
            }
            OrganizationAction::AddMember(add) => self.add_member(add, &dates)?,
            OrganizationAction::RemoveMember(remove) => self.remove_member(remove, &dates)?,
            OrganizationAction::DesignateLiaison(designate) => {
                self.designate_liaison(designate, &dates)?
            }
            OrganizationAction::ReleaseLiaison(release) => self.release_liaison(release, &dates)?,
            OrganizationAction::AddSupplyEntry(entry) => self.add_supply_entry(entry)?,
            OrganizationAction::RemoveSupplyEntry(entry) => self.remove_supply_entry(entry)?,
            OrganizationAction::SuspendOrganization(suspend) => self.suspend(suspend, &dates)?,
            OrganizationAction::ReactivateOrganization(reactivate) => {
                self.reactivate(reactivate, &dates)?
            }
        };
        Ok(vec![event])
    }

    fn add_member(
        &self,
        add: &AddMember,
        dates: &DateRules,
    ) -> Result<OrganizationEvent, OrganizationError> {
        if self.members.contains_key(&add.member_id) {
            return Err(OrganizationError::MemberAlreadyAdded(add.member_id));
        }
        let display_name = required_text(&add.display_name, TextField::MemberDisplayName)?;
        let joined_on = dates.since_registration(DateField::MemberJoinedOn, add.joined_on)?;
        Ok(OrganizationEvent::MemberAdded(MemberAdded {
            member_id: add.member_id,
            display_name,
            role: add.role,
            joined_on,
        }))
    }

    fn remove_member(
        &self,
        remove: &RemoveMember,
        dates: &DateRules,
    ) -> Result<OrganizationEvent, OrganizationError> {
        let membership = self
            .members
            .get(&remove.member_id)
            .ok_or(OrganizationError::UnknownMember(remove.member_id))?;
        if self.liaisons.contains_key(&remove.member_id) {
            return Err(OrganizationError::MemberIsLiaison(remove.member_id));
        }
        let reason = required_text(&remove.reason, TextField::MemberRemovalReason)?;
        let left_on = dates.since_registration(DateField::MemberLeftOn, remove.left_on)?;
        not_before(
            DateField::MemberLeftOn,
            left_on,
            DateField::MemberJoinedOn,
            membership.joined_on,
        )?;
        Ok(OrganizationEvent::MemberRemoved(MemberRemoved {
            member_id: remove.member_id,
            reason,
            left_on,
        }))
    }

    fn designate_liaison(
        &self,
        designate: &DesignateLiaison,
        dates: &DateRules,
    ) -> Result<OrganizationEvent, OrganizationError> {
        let membership = self
            .members
            .get(&designate.member_id)
            .ok_or(OrganizationError::UnknownMember(designate.member_id))?;
        if self.liaisons.contains_key(&designate.member_id) {
            return Err(OrganizationError::AlreadyLiaison(designate.member_id));
        }
        let designated_on =
            dates.since_registration(DateField::LiaisonDesignatedOn, designate.designated_on)?;
        not_before(
            DateField::LiaisonDesignatedOn,
            designated_on,
            DateField::MemberJoinedOn,
            membership.joined_on,
        )?;
        Ok(OrganizationEvent::LiaisonDesignated(LiaisonDesignated {
            member_id: designate.member_id,
            designated_on,
        }))
    }

    fn release_liaison(
        &self,
        release: &ReleaseLiaison,
        dates: &DateRules,
    ) -> Result<OrganizationEvent, OrganizationError> {
        let designated_on = *self
            .liaisons
            .get(&release.member_id)
            .ok_or(OrganizationError::NotLiaison(release.member_id))?;
        let reason = required_text(&release.reason, TextField::LiaisonReleaseReason)?;
        let released_on =
            dates.since_registration(DateField::LiaisonReleasedOn, release.released_on)?;
        not_before(
            DateField::LiaisonReleasedOn,
            released_on,
            DateField::LiaisonDesignatedOn,
            designated_on,
        )?;
        Ok(OrganizationEvent::LiaisonReleased(LiaisonReleased {
            member_id: release.member_id,
            reason,
            released_on,
        }))
    }

    fn add_supply_entry(
        &self,
        entry: &AddSupplyEntry,
    ) -> Result<OrganizationEvent, OrganizationError> {
        if self.supply.contains_key(&entry.service_type) {
            return Err(OrganizationError::ServiceAlreadyOffered(entry.service_type));
        }
        let mut areas = Vec::with_capacity(entry.areas.len());
        for (index, text) in entry.areas.iter().enumerate() {
            let area = RegionPrefix::parse(text).map_err(|error| {
                OrganizationError::InvalidSupplyArea {
                    position: index + 1,
                    error,
                }
            })?;
            areas.push(area);
        }
        let areas = distinct(&areas);
        if areas.is_empty() {
            return Err(OrganizationError::NoSupplyArea);
        }
        Ok(OrganizationEvent::SupplyEntryAdded(SupplyEntryAdded {
            service_type: entry.service_type,
            areas,
            description: entry.description.trim().to_owned(),
        }))
    }

    fn remove_supply_entry(
        &self,
        entry: &RemoveSupplyEntry,
    ) -> Result<OrganizationEvent, OrganizationError> {
        if !self.supply.contains_key(&entry.service_type) {
            return Err(OrganizationError::ServiceNotOffered(entry.service_type));
        }
        let reason = required_text(&entry.reason, TextField::SupplyRemovalReason)?;
        Ok(OrganizationEvent::SupplyEntryRemoved(SupplyEntryRemoved {
            service_type: entry.service_type,
            reason,
        }))
    }

    fn suspend(
        &self,
        suspend: &SuspendOrganization,
        dates: &DateRules,
    ) -> Result<OrganizationEvent, OrganizationError> {
        if self.status == Some(OrganizationStatus::Suspended) {
            return Err(OrganizationError::AlreadySuspended);
        }
        let reason = required_text(&suspend.reason, TextField::SuspensionReason)?;
        let suspended_on =
            dates.since_registration(DateField::SuspendedOn, suspend.suspended_on)?;
        Ok(OrganizationEvent::OrganizationSuspended(
            OrganizationSuspended {
                reason,
                suspended_on,
            },
        ))
    }

    fn reactivate(
        &self,
        reactivate: &ReactivateOrganization,
        dates: &DateRules,
    ) -> Result<OrganizationEvent, OrganizationError> {
        let suspended_on = self
            .suspended_on
            .filter(|_| self.status == Some(OrganizationStatus::Suspended))
            .ok_or(OrganizationError::NotSuspended)?;
        let reason = required_text(&reactivate.reason, TextField::ReactivationReason)?;
        let reactivated_on =
            dates.since_registration(DateField::ReactivatedOn, reactivate.reactivated_on)?;
        not_before(
            DateField::ReactivatedOn,
            reactivated_on,
            DateField::SuspendedOn,
            suspended_on,
        )?;
        Ok(OrganizationEvent::OrganizationReactivated(
            OrganizationReactivated {
                reason,
                reactivated_on,
            },
        ))
    }
}

fn register_organization(
    register: &RegisterOrganization,
    today: NaiveDate,
) -> Result<OrganizationEvent, OrganizationError> {
    let name = required_text(&register.name, TextField::Name)?;
    let credit_code = CreditCode::parse(&register.credit_code)?;
    let region = RegionPrefix::parse(&register.region_code)?;
    if region.level() != register.level {
        return Err(OrganizationError::RegionLevelMismatch {
            region_level: region.level(),
            level: register.level,
        });
    }
    let registered_on = not_in_future(DateField::RegisteredOn, register.registered_on, today)?;
    Ok(OrganizationEvent::OrganizationRegistered(
        OrganizationRegistered {
            name,
            credit_code,
            kind: register.kind,
            level: register.level,
            region,
            hub: register.hub,
            registered_on,
        },
    ))
}

/// The date rules of a registered organization: nothing is recorded as
/// happening after today, or before the organization was registered.
struct DateRules {
    today: NaiveDate,
    registered_on: NaiveDate,
}

impl DateRules {
    fn since_registration(
        &self,
        field: DateField,
        date: NaiveDate,
    ) -> Result<NaiveDate, OrganizationError> {
        not_in_future(field, date, self.today)?;
        if date < self.registered_on {
            return Err(OrganizationError::DateBeforeRegistration {
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
) -> Result<NaiveDate, OrganizationError> {
    if date > today {
        return Err(OrganizationError::DateInFuture { field, date, today });
    }
    Ok(date)
}

/// Refuses `date` when it is before the `earlier` step it follows.
fn not_before(
    field: DateField,
    date: NaiveDate,
    earlier_field: DateField,
    earlier: NaiveDate,
) -> Result<(), OrganizationError> {
    if date < earlier {
        return Err(OrganizationError::DateOutOfOrder {
            field,
            date,
            earlier_field,
            earlier,
        });
    }
    Ok(())
}

/// The trimmed text, refused when blank.
fn required_text(text: &str, field: TextField) -> Result<String, OrganizationError> {
    trimmed(text).ok_or(OrganizationError::BlankText { field })
}
