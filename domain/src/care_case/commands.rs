//! Commands on a care case, as the HTTP layer and the importer send them.
//!
//! Commands carry what the worker typed: ID numbers and region codes arrive
//! as text and are validated by the aggregate, so that a typing error comes
//! back as a [`CaseError`](super::CaseError) with a Chinese explanation rather
//! than as a JSON decoding failure.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::vocabulary::{
    ActionLine, CareCategory, CloseReason, Department, Gender, HelpArrangement,
    IdentificationChannel, OutcomeAchievement, RiskFactor, RiskLevel, ServiceType, VisitMethod,
};

/// A command together with the facts from outside that deciding needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseCommand {
    /// Today's date in Asia/Shanghai, supplied by the caller because the
    /// domain reads no clock. Dates after it are refused as "in the future".
    pub today: NaiveDate,
    pub action: CaseAction,
}

impl CaseCommand {
    pub fn new(today: NaiveDate, action: impl Into<CaseAction>) -> Self {
        CaseCommand {
            today,
            action: action.into(),
        }
    }
}

/// What the worker asks to be done, one variant per command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CaseAction {
    OpenCase(OpenCase),
    ChangeCategories(ChangeCategories),
    RecordProfile(RecordProfile),
    AssessRisk(AssessRisk),
    AssignCaregiver(AssignCaregiver),
    ReleaseCaregiver(ReleaseCaregiver),
    RecordVisit(RecordVisit),
    RecordService(RecordService),
    MakeReferral(MakeReferral),
    ResolveReferral(ResolveReferral),
    RecordOutcome(RecordOutcome),
    TransferCase(TransferCase),
    CloseCase(CloseCase),
    ReopenCase(ReopenCase),
    CorrectEntry(CorrectEntry),
    ErasePersonalData(ErasePersonalData),
}

/// 建档: opens the file of one cared-for person (一人一档).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OpenCase {
    pub name: String,
    pub gender: Gender,
    pub birth_date: NaiveDate,
    /// 18-character 居民身份证号码; checked against `birth_date` and `gender`.
    pub id_number: String,
    pub phone: String,
    pub address: String,
    /// 12-digit 统计用区划代码 of where the person lives.
    pub residence_region: String,
    pub categories: Vec<CareCategory>,
    pub identified_via: IdentificationChannel,
    pub risk_level: RiskLevel,
    /// The organization responsible for the case, if one is already chosen.
    #[serde(default)]
    pub organization_id: Option<Uuid>,
    pub opened_on: NaiveDate,
}

/// 变更关爱对象类别.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangeCategories {
    #[serde(default)]
    pub added: Vec<CareCategory>,
    #[serde(default)]
    pub removed: Vec<CareCategory>,
    pub reason: String,
    pub effective_on: NaiveDate,
}

/// 登记台账 (助老敲门台账): the person's circumstances as found.
/// Text fields may be left empty when not yet known.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordProfile {
    /// 经济来源.
    #[serde(default)]
    pub economic_source: String,
    /// 家庭结构.
    #[serde(default)]
    pub family_structure: String,
    /// 健康状况 (sealed at rest).
    #[serde(default)]
    pub health: String,
    /// 照料情况 (sealed at rest: it usually reveals health).
    #[serde(default)]
    pub care_situation: String,
    pub lives_alone: bool,
    pub monthly_income_fen: i64,
    /// Free notes (sealed at rest).
    #[serde(default)]
    pub notes: String,
    pub recorded_on: NaiveDate,
}

/// 风险评估.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AssessRisk {
    pub level: RiskLevel,
    #[serde(default)]
    pub factors: Vec<RiskFactor>,
    pub assessed_on: NaiveDate,
}

/// 包户 / 结对: a worker of an organization starts looking after the person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AssignCaregiver {
    pub organization_id: Uuid,
    pub worker_id: Uuid,
    pub arrangement: HelpArrangement,
    pub started_on: NaiveDate,
}

/// Ends a caregiver's assignment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReleaseCaregiver {
    pub organization_id: Uuid,
    pub worker_id: Uuid,
    pub ended_on: NaiveDate,
    pub reason: String,
}

/// 走访记录.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordVisit {
    /// The local (Asia/Shanghai) date of the visit.
    pub visited_on: NaiveDate,
    /// Workers or volunteers who made the visit.
    pub visitor_ids: Vec<Uuid>,
    pub method: VisitMethod,
    pub minutes: u32,
    /// What was found, without health details (those go in `wellbeing_notes`).
    pub findings: String,
    /// Physical and mental wellbeing (sealed at rest).
    #[serde(default)]
    pub wellbeing_notes: String,
    pub follow_up_needed: bool,
}

/// 服务记录.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordService {
    pub delivered_on: NaiveDate,
    pub service_types: Vec<ServiceType>,
    /// The campaign the service belongs to, if any.
    #[serde(default)]
    pub action_line: Option<ActionLine>,
    pub provider_organization_id: Uuid,
    /// 参与人数 (志愿者 and staff), for the 人次 in the statistics table.
    pub volunteers: u32,
    pub minutes: u32,
    /// 投入资金, in fen.
    pub money_fen: i64,
    /// 物资折款, in fen.
    pub material_value_fen: i64,
    pub description: String,
}

/// 部门转介.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MakeReferral {
    /// Chosen by the caller (a UUID v7) so that the referral can be resolved later.
    pub referral_id: Uuid,
    pub department: Department,
    pub reason: String,
    pub referred_on: NaiveDate,
}

/// Records the department's answer to a referral.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResolveReferral {
    pub referral_id: Uuid,
    pub answer: String,
    pub resolved_on: NaiveDate,
}

/// 成效评价 — 成效让群众评价: the person's own judgement is part of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordOutcome {
    pub goal: String,
    pub achievement: OutcomeAchievement,
    /// 满意度, 1 (very dissatisfied) to 5 (very satisfied).
    pub satisfaction: u8,
    /// The person's own words, if they said any.
    #[serde(default)]
    pub own_words: String,
    pub evaluated_on: NaiveDate,
}

/// 档案转移: to another region and/or another responsible organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TransferCase {
    /// The new 12-digit region code, or `None` to keep the current one.
    #[serde(default)]
    pub new_region: Option<String>,
    /// The new responsible organization, or `None` to keep the current one.
    #[serde(default)]
    pub new_organization_id: Option<Uuid>,
    pub reason: String,
    pub transferred_on: NaiveDate,
}

/// 结案.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CloseCase {
    pub reason: CloseReason,
    /// Required when the reason is [`CloseReason::Other`].
    #[serde(default)]
    pub note: String,
    pub closed_on: NaiveDate,
}

/// 重新开案.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReopenCase {
    pub reason: String,
    pub reopened_on: NaiveDate,
}

/// 更正: records corrected values for an earlier event; the event itself is
/// never edited.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CorrectEntry {
    /// The stream version (1-based) of the event being corrected.
    pub corrected_version: u64,
    /// Payload field names of that event with their corrected values.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub corrected_fields: Map<String, Value>,
    pub reason: String,
}

/// 删除个人信息 (个人信息保护法 第47条): destroys the person's data key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErasePersonalData {
    pub legal_basis: String,
}

macro_rules! action_from_command {
    ($($command:ident),+ $(,)?) => {
        $(
            impl From<$command> for CaseAction {
                fn from(command: $command) -> Self {
                    CaseAction::$command(command)
                }
            }
        )+
    };
}

action_from_command!(
    OpenCase,
    ChangeCategories,
    RecordProfile,
    AssessRisk,
    AssignCaregiver,
    ReleaseCaregiver,
    RecordVisit,
    RecordService,
    MakeReferral,
    ResolveReferral,
    RecordOutcome,
    TransferCase,
    CloseCase,
    ReopenCase,
    CorrectEntry,
    ErasePersonalData,
);

/// Stands in for a personal value in `Debug` output.
struct Sealed;

impl fmt::Debug for Sealed {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("<sealed>")
    }
}

/// Implements `Debug` showing the listed personal fields as `<sealed>`:
/// commands get logged, and logs are not where personal data may go. The
/// destructuring makes a newly added field a compile error here until it is
/// listed as either plain or sealed.
macro_rules! debug_with_sealed_fields {
    ($command:ident { plain: [$($plain:ident),* $(,)?], sealed: [$($sealed:ident),* $(,)?] $(,)? }) => {
        impl fmt::Debug for $command {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                let $command { $($plain,)* $($sealed: _,)* } = self;
                formatter
                    .debug_struct(stringify!($command))
                    $(.field(stringify!($plain), $plain))*
                    $(.field(stringify!($sealed), &Sealed))*
                    .finish()
            }
        }
    };
}

debug_with_sealed_fields!(OpenCase {
    plain: [
        name,
        gender,
        birth_date,
        residence_region,
        categories,
        identified_via,
        risk_level,
        organization_id,
        opened_on,
    ],
    sealed: [id_number, phone, address],
});
debug_with_sealed_fields!(RecordProfile {
    plain: [
        economic_source,
        family_structure,
        lives_alone,
        monthly_income_fen,
        recorded_on,
    ],
    sealed: [health, care_situation, notes],
});
debug_with_sealed_fields!(RecordVisit {
    plain: [
        visited_on,
        visitor_ids,
        method,
        minutes,
        findings,
        follow_up_needed,
    ],
    sealed: [wellbeing_notes],
});
debug_with_sealed_fields!(MakeReferral {
    plain: [referral_id, department, referred_on],
    sealed: [reason],
});
debug_with_sealed_fields!(ResolveReferral {
    plain: [referral_id, resolved_on],
    sealed: [answer],
});
debug_with_sealed_fields!(CorrectEntry {
    plain: [corrected_version, reason],
    sealed: [corrected_fields],
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_personal_fields() {
        let open = OpenCase {
            name: "王秀英".to_owned(),
            gender: Gender::Female,
            birth_date: NaiveDate::from_ymd_opt(1948, 3, 15).unwrap(),
            id_number: "360102194803151020".to_owned(),
            phone: "13807081234".to_owned(),
            address: "墩子塘社区12栋".to_owned(),
            residence_region: "360102003005".to_owned(),
            categories: vec![CareCategory::EmptyNestElder],
            identified_via: IdentificationChannel::VisitDiscovery,
            risk_level: RiskLevel::Medium,
            organization_id: None,
            opened_on: NaiveDate::from_ymd_opt(2026, 1, 10).unwrap(),
        };
        let debug = format!("{:?}", CaseCommand::new(open.opened_on, open));
        assert!(debug.contains("王秀英"), "{debug}");
        assert!(debug.contains("id_number: <sealed>"), "{debug}");
        for personal in ["360102194803151020", "13807081234", "墩子塘"] {
            assert!(!debug.contains(personal), "{debug}");
        }
    }
}
