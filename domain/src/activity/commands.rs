//! Commands on an activity (活动 / 项目): what 附件1 统计表 and 附件2 记录表
//! are made from.
//!
//! Facts about other aggregates arrive in the command, filled in by the
//! application layer: which linked care cases do not exist
//! ([`RecordBeneficiaries::missing_case_ids`]).

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::rules::action_from_command;
use crate::vocabulary::{ActionLine, FundSource, RegionLevel};

/// A command together with the facts from outside that deciding needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityCommand {
    /// Today's date in Asia/Shanghai, supplied by the caller because the
    /// domain reads no clock.
    pub today: NaiveDate,
    pub action: ActivityAction,
}

impl ActivityCommand {
    pub fn new(today: NaiveDate, action: impl Into<ActivityAction>) -> Self {
        ActivityCommand {
            today,
            action: action.into(),
        }
    }
}

/// What is asked to be done, one variant per command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ActivityAction {
    PlanActivity(PlanActivity),
    AddParticipatingOrganization(AddParticipatingOrganization),
    UpdateParticipantHeadcount(UpdateParticipantHeadcount),
    RemoveParticipatingOrganization(RemoveParticipatingOrganization),
    RecordFunds(RecordFunds),
    RecordBeneficiaries(RecordBeneficiaries),
    RecordServiceTime(RecordServiceTime),
    WriteDetails(WriteDetails),
    AttachEvidence(AttachEvidence),
    RemoveEvidence(RemoveEvidence),
    CompleteActivity(CompleteActivity),
    CancelActivity(CancelActivity),
    CorrectActivity(CorrectActivity),
}

/// 活动策划: name, organizer, where and when, and who leads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlanActivity {
    /// 活动名称.
    pub name: String,
    /// 发起单位（组织者）, as printed in the tables.
    pub organizer_name: String,
    /// The organizer's id, when it is an organization in the system.
    #[serde(default)]
    pub organizer_organization_id: Option<Uuid>,
    /// The campaign the activity belongs to, if any.
    #[serde(default)]
    pub action_line: Option<ActionLine>,
    /// 活动地域: the 12-digit 统计用区划代码 of the county, township or
    /// village, padded with zeros below `region_level`.
    pub region_code: String,
    /// County, township or village (县/乡/村).
    pub region_level: RegionLevel,
    /// 活动地点, e.g. 灌婴路社区党群服务中心.
    pub place: String,
    /// Local (Asia/Shanghai) start and end.
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    /// 活动负责人.
    pub leader: String,
}

/// 参与社会组织: an organization taking part, and how many of its people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddParticipatingOrganization {
    /// The name as printed in the tables; identifies the participant within
    /// the activity.
    pub organization_name: String,
    /// The organization's id, when it is in the system.
    #[serde(default)]
    pub organization_id: Option<Uuid>,
    /// 参与人数, at least one.
    pub headcount: u32,
}

/// Changes a participating organization's 参与人数.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateParticipantHeadcount {
    pub organization_name: String,
    pub headcount: u32,
}

/// Takes an organization off the participants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RemoveParticipatingOrganization {
    pub organization_name: String,
    pub reason: String,
}

/// 投入资金（含物资折款）: one contribution, from one source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordFunds {
    pub source: FundSource,
    /// 资金, in fen.
    pub money_fen: i64,
    /// 物资折款, in fen.
    pub material_value_fen: i64,
    /// Who gave it, or what was bought, e.g. 南昌乐清商会捐赠米面油 12 份.
    #[serde(default)]
    pub note: String,
}

/// 受益对象及人数: replaces the previous figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordBeneficiaries {
    /// 受益人次.
    pub person_times: u32,
    /// 受益人数 (distinct persons), at most `person_times`.
    pub persons: u32,
    /// Care cases among the beneficiaries.
    #[serde(default)]
    pub linked_case_ids: Vec<Uuid>,
    /// Filled in by the application layer: those of `linked_case_ids` that
    /// are not existing care cases. The command is refused unless empty.
    pub missing_case_ids: Vec<Uuid>,
}

/// 累计服务时长: the total service time of everyone taking part; replaces
/// the previous figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordServiceTime {
    pub minutes: u32,
}

/// 活动详情 (about 300 characters; at most 2,000).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WriteDetails {
    pub details: String,
}

/// 佐证材料: an image already stored by the infrastructure under its SHA-256.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttachEvidence {
    /// 64 hexadecimal characters.
    pub sha256: String,
    /// The media type found by sniffing the bytes (`image/jpeg`, `image/png`
    /// or `image/webp`), not the one the browser claimed.
    pub media_type: String,
    pub size_bytes: u64,
    /// The name it was uploaded under, for people only.
    pub file_name: String,
}

/// Removes an evidence image (the stored bytes are the infrastructure's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RemoveEvidence {
    pub sha256: String,
    pub reason: String,
}

/// 活动完成, with the actual figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CompleteActivity {
    pub actual_starts_at: NaiveDateTime,
    pub actual_ends_at: NaiveDateTime,
    /// 受益人次.
    pub person_times: u32,
    /// 受益人数.
    pub persons: u32,
    /// 累计服务时长, in minutes.
    pub service_minutes: u32,
    pub completed_on: NaiveDate,
}

/// 活动取消.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CancelActivity {
    pub reason: String,
    pub cancelled_on: NaiveDate,
}

/// 更正: records corrected values for an earlier event; the event itself is
/// never edited. Allowed after completion and cancellation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CorrectActivity {
    /// The stream version (1-based) of the event being corrected.
    pub corrected_version: u64,
    /// Payload field names of that event with their corrected values.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub corrected_fields: Map<String, Value>,
    pub reason: String,
}

action_from_command!(
    ActivityAction: PlanActivity,
    AddParticipatingOrganization,
    UpdateParticipantHeadcount,
    RemoveParticipatingOrganization,
    RecordFunds,
    RecordBeneficiaries,
    RecordServiceTime,
    WriteDetails,
    AttachEvidence,
    RemoveEvidence,
    CompleteActivity,
    CancelActivity,
    CorrectActivity,
);
