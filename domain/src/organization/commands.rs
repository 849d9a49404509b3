//! Commands on an organization, as the HTTP layer and the importer send them.
//!
//! Codes typed by a worker (统一社会信用代码, 区划代码) arrive as text and are
//! validated by the aggregate, so that a typing error comes back as an
//! [`OrganizationError`](super::OrganizationError) with a Chinese
//! explanation rather than as a JSON decoding failure.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::rules::action_from_command;
use crate::vocabulary::{MemberRole, OrganizationKind, RegionLevel, ServiceType};

/// A command together with the facts from outside that deciding needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrganizationCommand {
    /// Today's date in Asia/Shanghai, supplied by the caller because the
    /// domain reads no clock. Dates after it are refused as "in the future".
    pub today: NaiveDate,
    pub action: OrganizationAction,
}

impl OrganizationCommand {
    pub fn new(today: NaiveDate, action: impl Into<OrganizationAction>) -> Self {
        OrganizationCommand {
            today,
            action: action.into(),
        }
    }
}

/// What is asked to be done, one variant per command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum OrganizationAction {
    RegisterOrganization(RegisterOrganization),
    AddMember(AddMember),
    RemoveMember(RemoveMember),
    DesignateLiaison(DesignateLiaison),
    ReleaseLiaison(ReleaseLiaison),
    AddSupplyEntry(AddSupplyEntry),
    RemoveSupplyEntry(RemoveSupplyEntry),
    SuspendOrganization(SuspendOrganization),
    ReactivateOrganization(ReactivateOrganization),
}

/// 登记: enters a social organization or 社工站 into the system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterOrganization {
    pub name: String,
    /// 18-character 统一社会信用代码 (GB 32100).
    pub credit_code: String,
    pub kind: OrganizationKind,
    /// 登记层级: the level of the area the organization is registered in.
    pub level: RegionLevel,
    /// The 统计用区划代码 of that area, either as its prefix (`"36"` for a
    /// provincial organization, `"360102"` for a county one) or padded with
    /// zeros to 12 digits (`"360000000000"`); it must be of `level`.
    pub region_code: String,
    /// 枢纽型社会组织: organizes and supports other organizations.
    #[serde(default)]
    pub hub: bool,
    pub registered_on: NaiveDate,
}

/// Adds a social worker, volunteer or other member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddMember {
    /// The person's id, chosen by the caller (the same id as their user or
    /// volunteer record, where they have one).
    pub member_id: Uuid,
    pub display_name: String,
    pub role: MemberRole,
    pub joined_on: NaiveDate,
}

/// A member leaves the organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RemoveMember {
    pub member_id: Uuid,
    pub reason: String,
    pub left_on: NaiveDate,
}

/// 明确“邻里守望”工作联络员: a member becomes a liaison officer, who
/// connects with organizations, pushes local needs and sums up progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DesignateLiaison {
    pub member_id: Uuid,
    pub designated_on: NaiveDate,
}

/// A liaison officer steps down (and stays a member).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReleaseLiaison {
    pub member_id: Uuid,
    pub reason: String,
    pub released_on: NaiveDate,
}

/// 供给清单: a service the organization offers, and where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddSupplyEntry {
    pub service_type: ServiceType,
    /// Areas served, as 区划代码 prefixes (2, 4, 6, 9 or 12 digits, or
    /// padded to 12); at least one.
    pub areas: Vec<String>,
    /// What exactly is offered, e.g. 每周二上门理发.
    #[serde(default)]
    pub description: String,
}

/// Takes a service off the supply list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RemoveSupplyEntry {
    pub service_type: ServiceType,
    pub reason: String,
}

/// 暂停: a suspended organization is not dispatched needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SuspendOrganization {
    pub reason: String,
    pub suspended_on: NaiveDate,
}

/// 恢复: ends a suspension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReactivateOrganization {
    pub reason: String,
    pub reactivated_on: NaiveDate,
}

action_from_command!(
    OrganizationAction: RegisterOrganization,
    AddMember,
    RemoveMember,
    DesignateLiaison,
    ReleaseLiaison,
    AddSupplyEntry,
    RemoveSupplyEntry,
    SuspendOrganization,
    ReactivateOrganization,
);
