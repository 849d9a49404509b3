//! Commands on a volunteer's record (志愿服务积分制管理).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::CreditSource;
use crate::rules::{action_from_command, debug_with_sealed_fields};

/// A command together with the facts from outside that deciding needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolunteerCommand {
    /// Today's date in Asia/Shanghai, supplied by the caller because the
    /// domain reads no clock. Dates after it are refused as "in the future".
    pub today: NaiveDate,
    pub action: VolunteerAction,
}

impl VolunteerCommand {
    pub fn new(today: NaiveDate, action: impl Into<VolunteerAction>) -> Self {
        VolunteerCommand {
            today,
            action: action.into(),
        }
    }
}

/// What is asked to be done, one variant per command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum VolunteerAction {
    RegisterVolunteer(RegisterVolunteer),
    CreditPoints(CreditPoints),
    RedeemPoints(RedeemPoints),
    DeactivateVolunteer(DeactivateVolunteer),
    ReactivateVolunteer(ReactivateVolunteer),
}

/// 志愿者注册, with the organization the volunteer serves with.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterVolunteer {
    pub organization_id: Uuid,
    pub name: String,
    /// Sealed at rest.
    pub phone: String,
    pub registered_on: NaiveDate,
}

/// 积分: credits points for verified service time. The points follow from
/// the minutes and the configured [`PointsPolicy`](super::PointsPolicy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreditPoints {
    /// The activity, recorded service or need that earned the points; each
    /// can be credited only once.
    pub source: CreditSource,
    /// Service time verified by `verified_by`.
    pub verified_minutes: u32,
    /// The worker who verified the time.
    pub verified_by: Uuid,
    pub verified_on: NaiveDate,
}

/// 积分兑换: spends points on a reward.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RedeemPoints {
    /// What the points were exchanged for, e.g. 大米一袋.
    pub reward: String,
    pub points: u32,
    pub redeemed_on: NaiveDate,
}

/// 停用: the volunteer no longer serves; no points are credited or spent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeactivateVolunteer {
    pub reason: String,
    pub deactivated_on: NaiveDate,
}

/// 重新启用.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReactivateVolunteer {
    pub reason: String,
    pub reactivated_on: NaiveDate,
}

action_from_command!(
    VolunteerAction: RegisterVolunteer,
    CreditPoints,
    RedeemPoints,
    DeactivateVolunteer,
    ReactivateVolunteer,
);

debug_with_sealed_fields!(RegisterVolunteer {
    plain: [organization_id, name, registered_on],
    sealed: [phone],
});
