//! Why a command on a need was refused.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use crate::evidence::EvidenceError;
use crate::values::RegionCodeError;
use crate::vocabulary::EscalationLevel;

/// Which date of a command a date error is about. Also kept in the state as
/// the kind of the latest step, hence serializable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DateField {
    RaisedOn,
    DispatchedOn,
    DueOn,
    AcceptedOn,
    DeclinedOn,
    ProgressRecordedOn,
    FulfilledOn,
    EvaluatedOn,
    EscalatedOn,
    WithdrawnOn,
}

impl DateField {
    pub fn label_zh(&self) -> &'static str {
        match self {
            DateField::RaisedOn => "需求登记日期",
            DateField::DispatchedOn => "派单日期",
            DateField::DueOn => "办结期限",
            DateField::AcceptedOn => "接单日期",
            DateField::DeclinedOn => "拒单日期",
            DateField::ProgressRecordedOn => "进展日期",
            DateField::FulfilledOn => "办结日期",
            DateField::EvaluatedOn => "评价日期",
            DateField::EscalatedOn => "上报日期",
            DateField::WithdrawnOn => "撤回日期",
        }
    }

    pub fn happening_zh(&self) -> &'static str {
        match self {
            DateField::RaisedOn => "登记需求",
            DateField::DispatchedOn => "派单",
            DateField::DueOn => "办结",
            DateField::AcceptedOn => "接单",
            DateField::DeclinedOn => "拒单",
            DateField::ProgressRecordedOn => "取得进展",
            DateField::FulfilledOn => "办结",
            DateField::EvaluatedOn => "评价",
            DateField::EscalatedOn => "上报",
            DateField::WithdrawnOn => "撤回",
        }
    }
}

/// Which required text of a command was left blank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextField {
    Description,
    DeclineReason,
    ProgressNote,
    WhatWasDone,
    EscalationReason,
    WithdrawalReason,
}

impl TextField {
    pub fn label_zh(&self) -> &'static str {
        match self {
            TextField::Description => "需求描述",
            TextField::DeclineReason => "拒单原因",
            TextField::ProgressNote => "进展情况",
            TextField::WhatWasDone => "办理情况",
            TextField::EscalationReason => "上报原因",
            TextField::WithdrawalReason => "撤回原因",
        }
    }
}

/// Which amount of money a negative-amount error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmountField {
    Money,
    MaterialValue,
}

impl AmountField {
    pub fn label_zh(&self) -> &'static str {
        match self {
            AmountField::Money => "投入资金",
            AmountField::MaterialValue => "物资折款",
        }
    }
}

/// Shows an amount in fen as yuan with two decimals, e.g. `-12.50`.
fn yuan(amount_fen: &i64) -> String {
    let sign = if *amount_fen < 0 { "-" } else { "" };
    let absolute = amount_fen.unsigned_abs();
    format!("{sign}{}.{:02}", absolute / 100, absolute % 100)
}

/// The label of the level one step above `from`.
fn next_step_zh(from: &EscalationLevel) -> &'static str {
    match from {
        EscalationLevel::County => EscalationLevel::City.label_zh(),
        EscalationLevel::City => EscalationLevel::Province.label_zh(),
        EscalationLevel::Province | EscalationLevel::Government => {
            EscalationLevel::Government.label_zh()
        }
    }
}

/// A refused command on a need.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum NeedError {
    // Lifecycle.
    #[error("该需求还没有登记，请先登记需求")]
    NotRaised,
    #[error("该需求已经登记，不能重复登记")]
    AlreadyRaised,
    #[error("该需求已撤回，不能再办理；如仍有需要，请重新登记需求")]
    Withdrawn,
    #[error("该需求已派给社会组织承接，不能再派单或上报；如该组织无法承接，请由其拒单后再处理")]
    AlreadyDispatched,
    #[error("该需求目前没有派单，无法接单或拒单")]
    NotDispatched,
    #[error("该需求已经接单，不能再接单或拒单")]
    AlreadyAccepted,
    #[error("该需求还没有被组织接单，请先接单再记录进展或办结")]
    NotAccepted,
    #[error("该需求已经办结，不能再派单、上报、撤回或记录办理情况")]
    AlreadyFulfilled,
    #[error("该需求还没有办结，办结后才能请群众评价")]
    NotFulfilled,
    #[error("该需求已经评价过，每个需求只评价一次")]
    AlreadyEvaluated,

    // Dispatch and the organizations.
    #[error("组织 {0} 目前不可派单（未登记或已暂停），请选择其他组织")]
    OrganizationInactive(Uuid),
    #[error("该需求派给的是其他组织，只有承接的组织才能接单、拒单、记录进展或办结")]
    NotAssignedOrganization { acting_organization_id: Uuid },

    // Escalation.
    #[error(
        "需求目前在{}，只能逐级上报到{}（或报本级政府、相关部门），不能越级上报到{}",
        .from.label_zh(),
        next_step_zh(.from),
        .to.label_zh()
    )]
    EscalationSkipsLevel {
        from: EscalationLevel,
        to: EscalationLevel,
    },
    #[error("需求已经在{}，上报只能向上一级，请选择更高的层级", .from.label_zh())]
    EscalationNotUpward {
        from: EscalationLevel,
        to: EscalationLevel,
    },
    #[error("需求已报本级政府或相关部门研究解决，不能再上报")]
    AlreadyReportedToGovernment,
    #[error("报政府或相关部门时，请选择接收的部门")]
    DepartmentRequired,
    #[error("只有报政府或相关部门时才填写部门；逐级上报到市、省民政部门时请不要选择部门")]
    DepartmentWithoutGovernment,

    // Dates.
    #[error(
        "{} {date} 晚于今天（{today}），请填写实际{}的日期",
        .field.label_zh(),
        .field.happening_zh()
    )]
    DateInFuture {
        field: DateField,
        date: NaiveDate,
        today: NaiveDate,
    },
    #[error("{} {date} 早于{} {earlier}，请核对日期", .field.label_zh(), .earlier_field.label_zh())]
    DateOutOfOrder {
        field: DateField,
        date: NaiveDate,
        earlier_field: DateField,
        earlier: NaiveDate,
    },

    // Text, regions, amounts.
    #[error("{}不能为空，请填写{}", .field.label_zh(), .field.label_zh())]
    BlankText { field: TextField },
    #[error("需求所在地区划代码有误：{0}")]
    InvalidRegionCode(RegionCodeError),
    #[error(
        "需求所在地区划代码 {region} 只到县级，请填写到乡镇（街道）或村（社区），以便列入乡镇需求台账"
    )]
    RegionAboveTownship { region: String },
    #[error("{}不能为负数（填写的是 {} 元），请填写 0 或实际金额", .field.label_zh(), yuan(.amount_fen))]
    NegativeAmount { field: AmountField, amount_fen: i64 },
    #[error("第 {position} 个佐证材料有误：{error}")]
    InvalidEvidence {
        position: usize,
        error: EvidenceError,
    },
    #[error("满意度 {satisfaction} 不在 1 到 5 之间，请由群众按 1（很不满意）到 5（很满意）打分")]
    SatisfactionOutOfRange { satisfaction: u8 },
}

impl NeedError {
    /// A stable snake_case code for machines (the `code` of the HTTP problem).
    pub fn code(&self) -> &'static str {
        match self {
            NeedError::NotRaised => "need_not_raised",
            NeedError::AlreadyRaised => "need_already_raised",
            NeedError::Withdrawn => "need_withdrawn",
            NeedError::AlreadyDispatched => "need_already_dispatched",
            NeedError::NotDispatched => "need_not_dispatched",
            NeedError::AlreadyAccepted => "need_already_accepted",
            NeedError::NotAccepted => "need_not_accepted",
            NeedError::AlreadyFulfilled => "need_already_fulfilled",
            NeedError::NotFulfilled => "need_not_fulfilled",
            NeedError::AlreadyEvaluated => "need_already_evaluated",
            NeedError::OrganizationInactive(_) => "organization_inactive",
            NeedError::NotAssignedOrganization { .. } => "not_assigned_organization",
            NeedError::EscalationSkipsLevel { .. } => "escalation_skips_level",
            NeedError::EscalationNotUpward { .. } => "escalation_not_upward",
            NeedError::AlreadyReportedToGovernment => "already_reported_to_government",
            NeedError::DepartmentRequired => "department_required",
            NeedError::DepartmentWithoutGovernment => "department_without_government",
            NeedError::DateInFuture { .. } => "date_in_future",
            NeedError::DateOutOfOrder { .. } => "date_out_of_order",
            NeedError::BlankText { .. } => "blank_text",
            NeedError::InvalidRegionCode(_) => "invalid_region_code",
            NeedError::RegionAboveTownship { .. } => "region_above_township",
            NeedError::NegativeAmount { .. } => "negative_amount",
            NeedError::InvalidEvidence { .. } => "invalid_evidence",
            NeedError::SatisfactionOutOfRange { .. } => "satisfaction_out_of_range",
        }
    }
}

impl From<RegionCodeError> for NeedError {
    fn from(error: RegionCodeError) -> Self {
        NeedError::InvalidRegionCode(error)
    }
}
