//! Commands on a need (需求 / 微星愿), as the HTTP layer sends them.
//!
//! Facts about other aggregates arrive in the command, filled in by the
//! application layer: whether the organization a need is dispatched to is
//! active ([`DispatchNeed::organization_active`]), and which organization the
//! acting user belongs to (`acting_organization_id`).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::rules::{action_from_command, debug_with_sealed_fields};
use crate::vocabulary::{Department, EscalationLevel, NeedCategory, NeedSource, NeedUrgency};

/// A command together with the facts from outside that deciding needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeedCommand {
    /// Today's date in Asia/Shanghai, supplied by the caller because the
    /// domain reads no clock. Dates after it are refused as "in the future".
    pub today: NaiveDate,
    pub action: NeedAction,
}

impl NeedCommand {
    pub fn new(today: NaiveDate, action: impl Into<NeedAction>) -> Self {
        NeedCommand {
            today,
            action: action.into(),
        }
    }
}

/// What is asked to be done, one variant per command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum NeedAction {
    RaiseNeed(RaiseNeed),
    DispatchNeed(DispatchNeed),
    AcceptNeed(AcceptNeed),
    DeclineNeed(DeclineNeed),
    RecordNeedProgress(RecordNeedProgress),
    FulfilNeed(FulfilNeed),
    EvaluateNeed(EvaluateNeed),
    EscalateNeed(EscalateNeed),
    WithdrawNeed(WithdrawNeed),
}

/// 编列需求台账: a need found by a household survey, a visit, or raised by
/// the person or the community.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RaiseNeed {
    /// The care case the need belongs to; `None` for a community need
    /// (社区照明不足…), which is identified by its region alone.
    #[serde(default)]
    pub case_id: Option<Uuid>,
    /// 12-digit 统计用区划代码 of the household or community, at least down
    /// to the township (乡镇/街道), whose ledger the need goes on.
    pub region_code: String,
    pub category: NeedCategory,
    /// What is needed. Sealed at rest when the need belongs to a case.
    pub description: String,
    /// 微星愿: a small wish of one person or family.
    #[serde(default)]
    pub micro_wish: bool,
    pub urgency: NeedUrgency,
    pub source: NeedSource,
    pub raised_on: NaiveDate,
}

/// 派单 (“一社一单”): a county (or, after escalation, city or province)
/// official gives the need to one organization, with a due date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DispatchNeed {
    pub organization_id: Uuid,
    /// Filled in by the application layer from the Organization aggregate
    /// (`Organization::is_active`): a suspended or unknown organization is
    /// not dispatched needs.
    pub organization_active: bool,
    pub due_on: NaiveDate,
    pub dispatched_on: NaiveDate,
    /// What the organization is asked to do, if more than the need says.
    #[serde(default)]
    pub instructions: String,
}

/// 接单: the organization the need was dispatched to takes it on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AcceptNeed {
    /// The organization of the acting user, filled in by the application
    /// layer; only the organization dispatched to may accept.
    pub acting_organization_id: Uuid,
    pub accepted_on: NaiveDate,
}

/// 拒单: the organization cannot take the need on; it returns to the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeclineNeed {
    pub acting_organization_id: Uuid,
    pub reason: String,
    pub declined_on: NaiveDate,
}

/// 进展: a note on the way to meeting the need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordNeedProgress {
    pub acting_organization_id: Uuid,
    pub note: String,
    pub recorded_on: NaiveDate,
}

/// 办结: the need was met, with what it took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FulfilNeed {
    pub acting_organization_id: Uuid,
    pub what_was_done: String,
    /// Service time spent, in minutes (0 when only goods were given).
    pub minutes: u32,
    /// 投入资金, in fen.
    pub money_fen: i64,
    /// 物资折款, in fen.
    pub material_value_fen: i64,
    /// SHA-256 digests (64 hex characters) of stored attachments.
    #[serde(default)]
    pub evidence: Vec<String>,
    pub fulfilled_on: NaiveDate,
}

/// 成效让群众评价: the resident's own judgement of how the need was met.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EvaluateNeed {
    /// 满意度, 1 (very dissatisfied) to 5 (very satisfied).
    pub satisfaction: u8,
    /// The resident's own words, if they said any.
    #[serde(default)]
    pub words: String,
    pub evaluated_on: NaiveDate,
}

/// 上报: the need cannot be met at the current level; it goes one step up
/// (county → city → province), or is reported to the government and its
/// departments when it is beyond what social organizations can do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EscalateNeed {
    pub to: EscalationLevel,
    /// Required when reporting to the government, and only then.
    #[serde(default)]
    pub department: Option<Department>,
    pub reason: String,
    pub escalated_on: NaiveDate,
}

/// 撤回: the need is no longer to be met (moved away, met otherwise…).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WithdrawNeed {
    pub reason: String,
    pub withdrawn_on: NaiveDate,
}

action_from_command!(
    NeedAction: RaiseNeed,
    DispatchNeed,
    AcceptNeed,
    DeclineNeed,
    RecordNeedProgress,
    FulfilNeed,
    EvaluateNeed,
    EscalateNeed,
    WithdrawNeed,
);

debug_with_sealed_fields!(RaiseNeed {
    plain: [
        case_id,
        region_code,
        category,
        micro_wish,
        urgency,
        source,
        raised_on,
    ],
    sealed: [description],
});
