//! Why a command on an activity was refused.

use chrono::{NaiveDate, NaiveDateTime};
use thiserror::Error;
use uuid::Uuid;

use crate::evidence::EvidenceError;
use crate::values::RegionCodeError;
use crate::vocabulary::RegionLevel;

/// Which date of a command a date error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateField {
    ActualEnd,
    CompletedOn,
    CancelledOn,
}

impl DateField {
    pub fn label_zh(&self) -> &'static str {
        match self {
            DateField::ActualEnd => "实际结束时间",
            DateField::CompletedOn => "完成日期",
            DateField::CancelledOn => "取消日期",
        }
    }

    pub fn happening_zh(&self) -> &'static str {
        match self {
            DateField::ActualEnd => "结束",
            DateField::CompletedOn => "完成",
            DateField::CancelledOn => "取消",
        }
    }
}

/// Which required text of a command was left blank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextField {
    Name,
    OrganizerName,
    Place,
    Leader,
    OrganizationName,
    ParticipantRemovalReason,
    Details,
    FileName,
    EvidenceRemovalReason,
    CancellationReason,
    CorrectionReason,
}

impl TextField {
    pub fn label_zh(&self) -> &'static str {
        match self {
            TextField::Name => "活动名称",
            TextField::OrganizerName => "发起单位（组织者）",
            TextField::Place => "活动地点",
            TextField::Leader => "活动负责人",
            TextField::OrganizationName => "参与社会组织名称",
            TextField::ParticipantRemovalReason => "移除参与组织的原因",
            TextField::Details => "活动详情",
            TextField::FileName => "图片文件名",
            TextField::EvidenceRemovalReason => "删除图片的原因",
            TextField::CancellationReason => "取消原因",
            TextField::CorrectionReason => "更正原因",
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

/// Shows case ids as a comma-separated list.
fn id_list(ids: &[Uuid]) -> String {
    ids.iter()
        .map(Uuid::to_string)
        .collect::<Vec<_>>()
        .join("、")
}

/// A refused command on an activity.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ActivityError {
    // Lifecycle.
    #[error("该活动还没有登记，请先登记活动")]
    NotPlanned,
    #[error("该活动已经登记，不能重复登记；如登记信息有误，请提交更正")]
    AlreadyPlanned,
    #[error("该活动已完成，只能提交更正")]
    AlreadyCompleted,
    #[error("该活动已取消，只能提交更正")]
    AlreadyCancelled,

    // Where and when.
    #[error("活动地域区划代码有误：{0}")]
    InvalidRegionCode(RegionCodeError),
    #[error("活动地域只能是县、乡镇或村（社区），不能是“{}”", .0.label_zh())]
    RegionLevelNotAllowed(RegionLevel),
    #[error(
        "活动地域区划代码是{}一级的，与填写的地域级别“{}”不一致，请核对区划代码（下级部分应补零）或地域级别",
        .region_level.label_zh(),
        .level.label_zh()
    )]
    RegionLevelMismatch {
        region_level: RegionLevel,
        level: RegionLevel,
    },
    #[error("结束时间 {ends_at} 早于开始时间 {starts_at}，请核对活动时间")]
    EndsBeforeStarts {
        starts_at: NaiveDateTime,
        ends_at: NaiveDateTime,
    },
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
    #[error("完成日期 {completed_on} 早于活动实际结束日期 {ended_on}，请核对日期")]
    CompletedBeforeEnded {
        completed_on: NaiveDate,
        ended_on: NaiveDate,
    },

    // Text.
    #[error("{}不能为空，请填写{}", .field.label_zh(), .field.label_zh())]
    BlankText { field: TextField },
    #[error("活动详情有 {chars} 个字，超过 2000 字的上限，请精简到 300 字左右")]
    DetailsTooLong { chars: usize },

    // Participating organizations.
    #[error("参与人数应至少为 1，请填写该组织实际参与的人数")]
    HeadcountZero,
    #[error("“{0}”已在参与社会组织名单中，如人数有变，请修改参与人数")]
    ParticipantAlreadyAdded(String),
    #[error("参与社会组织名单中没有“{0}”，请核对名称")]
    UnknownParticipant(String),

    // Funds and beneficiaries.
    #[error("{}不能为负数（填写的是 {} 元），请填写 0 或实际金额", .field.label_zh(), yuan(.amount_fen))]
    NegativeAmount { field: AmountField, amount_fen: i64 },
    #[error("资金和物资折款都为 0，请填写实际投入的金额")]
    EmptyFunds,
    #[error("受益人数 {persons} 多于受益人次 {person_times}，请核对：人数不会多于人次")]
    PersonsExceedPersonTimes { persons: u32, person_times: u32 },
    #[error("关联的关爱对象档案有 {linked} 个，多于受益人数 {persons}，请核对")]
    LinkedCasesExceedPersons { linked: u32, persons: u32 },
    #[error("以下关联的关爱对象档案不存在：{}，请核对后重新选择", id_list(.0))]
    LinkedCasesMissing(Vec<Uuid>),

    // Evidence.
    #[error("佐证材料有误：{0}")]
    InvalidEvidence(EvidenceError),
    #[error("佐证材料最多 2 张图片，请先删除一张再上传")]
    TooManyEvidenceImages,
    #[error("这张图片已经上传过了，请选择其他图片")]
    DuplicateEvidence,
    #[error("该活动没有这张佐证图片，请核对")]
    UnknownEvidence,

    // Corrections.
    #[error(
        "要更正的第 {corrected_version} 条记录不存在：此活动目前共有 {current_version} 条记录，请选择已有的记录"
    )]
    CorrectionTargetNotFound {
        corrected_version: u64,
        current_version: u64,
    },
    #[error("请填写需要更正的内容（至少一项）")]
    EmptyCorrection,
}

impl ActivityError {
    /// A stable snake_case code for machines (the `code` of the HTTP problem).
    pub fn code(&self) -> &'static str {
        match self {
            ActivityError::NotPlanned => "activity_not_planned",
            ActivityError::AlreadyPlanned => "activity_already_planned",
            ActivityError::AlreadyCompleted => "activity_completed",
            ActivityError::AlreadyCancelled => "activity_cancelled",
            ActivityError::InvalidRegionCode(_) => "invalid_region_code",
            ActivityError::RegionLevelNotAllowed(_) => "region_level_not_allowed",
            ActivityError::RegionLevelMismatch { .. } => "region_level_mismatch",
            ActivityError::EndsBeforeStarts { .. } => "ends_before_starts",
            ActivityError::DateInFuture { .. } => "date_in_future",
            ActivityError::CompletedBeforeEnded { .. } => "completed_before_ended",
            ActivityError::BlankText { .. } => "blank_text",
            ActivityError::DetailsTooLong { .. } => "details_too_long",
            ActivityError::HeadcountZero => "headcount_zero",
            ActivityError::ParticipantAlreadyAdded(_) => "participant_already_added",
            ActivityError::UnknownParticipant(_) => "unknown_participant",
            ActivityError::NegativeAmount { .. } => "negative_amount",
            ActivityError::EmptyFunds => "empty_funds",
            ActivityError::PersonsExceedPersonTimes { .. } => "persons_exceed_person_times",
            ActivityError::LinkedCasesExceedPersons { .. } => "linked_cases_exceed_persons",
            ActivityError::LinkedCasesMissing(_) => "linked_cases_missing",
            ActivityError::InvalidEvidence(_) => "invalid_evidence",
            ActivityError::TooManyEvidenceImages => "too_many_evidence_images",
            ActivityError::DuplicateEvidence => "duplicate_evidence",
            ActivityError::UnknownEvidence => "unknown_evidence",
            ActivityError::CorrectionTargetNotFound { .. } => "correction_target_not_found",
            ActivityError::EmptyCorrection => "empty_correction",
        }
    }
}

impl From<RegionCodeError> for ActivityError {
    fn from(error: RegionCodeError) -> Self {
        ActivityError::InvalidRegionCode(error)
    }
}

impl From<EvidenceError> for ActivityError {
    fn from(error: EvidenceError) -> Self {
        ActivityError::InvalidEvidence(error)
    }
}
