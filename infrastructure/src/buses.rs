//! Wiring of every aggregate to the store: idempotency fingerprints and the
//! command bus of each aggregate type.

use serde_json::Value;
use shouwang_domain::activity::{Activity, ActivityAction, ActivityCommand};
use shouwang_domain::care_case::{CareCase, CaseAction, CaseCommand};
use shouwang_domain::need::{Need, NeedAction, NeedCommand};
use shouwang_domain::organization::{Organization, OrganizationAction, OrganizationCommand};
use shouwang_domain::volunteer::{PointsPolicy, Volunteer, VolunteerAction, VolunteerCommand};

use crate::command_bus::{CommandBus, IdempotentCommand};
use crate::store::Store;

/// Fields the application layer fills in from other aggregates just before
/// executing. They are not part of what the client asked, so a retry after
/// such a fact changed is still the same command.
const FILLED_BY_APPLICATION: &[&str] = &["organization_active", "missing_case_ids"];

/// The action alone identifies a command: `today` is supplied by the server
/// at call time and may differ between a command and its retry.
fn action_fingerprint(action: &impl serde::Serialize) -> Value {
    let mut value = serde_json::to_value(action).unwrap_or(Value::Null);
    if let Value::Object(variant) = &mut value {
        for fields in variant.values_mut() {
            if let Value::Object(fields) = fields {
                for filled in FILLED_BY_APPLICATION {
                    fields.remove(*filled);
                }
            }
        }
    }
    value
}

macro_rules! fingerprint_by_action {
    ($($command:ty => $action:ident :: $opening:ident),+ $(,)?) => {
        $(
            impl IdempotentCommand for $command {
                fn fingerprint_source(&self) -> Value {
                    action_fingerprint(&self.action)
                }

                fn opens_stream(&self) -> bool {
                    matches!(self.action, $action::$opening(_))
                }
            }
        )+
    };
}

fingerprint_by_action!(
    CaseCommand => CaseAction::OpenCase,
    OrganizationCommand => OrganizationAction::RegisterOrganization,
    VolunteerCommand => VolunteerAction::RegisterVolunteer,
    NeedCommand => NeedAction::RaiseNeed,
    ActivityCommand => ActivityAction::PlanActivity,
);

pub type CareCaseBus = CommandBus<CareCase>;
pub type OrganizationBus = CommandBus<Organization>;
pub type VolunteerBus = CommandBus<Volunteer>;
pub type NeedBus = CommandBus<Need>;
pub type ActivityBus = CommandBus<Activity>;

pub fn care_case_bus(store: &Store) -> CareCaseBus {
    CommandBus::new(store.clone(), ())
}

pub fn organization_bus(store: &Store) -> OrganizationBus {
    CommandBus::new(store.clone(), ())
}

/// Volunteers earn points at the configured rate.
pub fn volunteer_bus(store: &Store, policy: PointsPolicy) -> VolunteerBus {
    CommandBus::new(store.clone(), policy)
}

pub fn need_bus(store: &Store) -> NeedBus {
    CommandBus::new(store.clone(), ())
}

pub fn activity_bus(store: &Store) -> ActivityBus {
    CommandBus::new(store.clone(), ())
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use shouwang_domain::need::{DispatchNeed, NeedCommand};
    use uuid::Uuid;

    use super::*;

    #[test]
    fn facts_filled_by_the_application_and_today_are_not_part_of_the_fingerprint() {
        let dispatch = |active: bool, today: u32| {
            NeedCommand::new(
                NaiveDate::from_ymd_opt(2026, 11, today).unwrap(),
                DispatchNeed {
                    organization_id: Uuid::from_u128(9),
                    organization_active: active,
                    due_on: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
                    dispatched_on: NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
                    instructions: String::new(),
                },
            )
        };
        assert_eq!(
            dispatch(true, 3).fingerprint_source(),
            dispatch(false, 4).fingerprint_source()
        );
        let mut other = dispatch(true, 3);
        if let shouwang_domain::need::NeedAction::DispatchNeed(d) = &mut other.action {
            d.organization_id = Uuid::from_u128(10);
        }
        assert_ne!(
            dispatch(true, 3).fingerprint_source(),
            other.fingerprint_source()
        );
    }
}
