//! Why a command on a care case was refused.
//!
//! Each message is written for the social worker who typed the command: it
//! says in Chinese what is wrong and what to do. Each error also has a
//! stable snake_case [`CaseError::code`] for the HTTP layer (RFC 9457
//! `code`). Messages never repeat personal data such as ID numbers, because
//! they end up in logs.

use chrono::NaiveDate;
use thiserror::Error;
use uuid::Uuid;

use crate::values::{IdNumberError, RegionCodeError};
use crate::vocabulary::{CareCategory, Gender};

/// Which date of a command a date error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateField {
    BirthDate,
    OpenedOn,
    CategoriesEffectiveOn,
    ProfileRecordedOn,
    RiskAssessedOn,
    CaregiverStartedOn,
    CaregiverEndedOn,
    VisitedOn,
    ServiceDeliveredOn,
    ReferredOn,
    ReferralResolvedOn,
    OutcomeEvaluatedOn,
    TransferredOn,
    ClosedOn,
    ReopenedOn,
}

impl DateField {
    /// The form label of the date, e.g. 走访日期.
    pub fn label_zh(&self) -> &'static str {
        match self {
            DateField::BirthDate => "出生日期",
            DateField::OpenedOn => "建档日期",
            DateField::CategoriesEffectiveOn => "类别变更生效日期",
            DateField::ProfileRecordedOn => "台账登记日期",
            DateField::RiskAssessedOn => "风险评估日期",
            DateField::CaregiverStartedOn => "包户开始日期",
            DateField::CaregiverEndedOn => "包户结束日期",
            DateField::VisitedOn => "走访日期",
            DateField::ServiceDeliveredOn => "服务日期",
            DateField::ReferredOn => "转介日期",
            DateField::ReferralResolvedOn => "转介办结日期",
            DateField::OutcomeEvaluatedOn => "成效评价日期",
            DateField::TransferredOn => "转移日期",
            DateField::ClosedOn => "结案日期",
            DateField::ReopenedOn => "重新开案日期",
        }
    }

    /// What happened on that date, for "请填写实际…的日期".
    pub fn happening_zh(&self) -> &'static str {
        match self {
            DateField::BirthDate => "出生",
            DateField::OpenedOn => "建档",
            DateField::CategoriesEffectiveOn => "类别变更生效",
            DateField::ProfileRecordedOn => "登记台账",
            DateField::RiskAssessedOn => "评估",
            DateField::CaregiverStartedOn => "开始包户",
            DateField::CaregiverEndedOn => "结束包户",
            DateField::VisitedOn => "走访",
            DateField::ServiceDeliveredOn => "服务",
            DateField::ReferredOn => "转介",
            DateField::ReferralResolvedOn => "部门答复",
            DateField::OutcomeEvaluatedOn => "评价",
            DateField::TransferredOn => "转移",
            DateField::ClosedOn => "结案",
            DateField::ReopenedOn => "重新开案",
        }
    }
}

/// Which required text of a command was left blank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextField {
    Name,
    Address,
    Phone,
    CategoryChangeReason,
    CaregiverReleaseReason,
    VisitFindings,
    ServiceDescription,
    ReferralReason,
    ReferralAnswer,
    OutcomeGoal,
    TransferReason,
    CloseNote,
    ReopenReason,
    CorrectionReason,
    LegalBasis,
}

impl TextField {
    pub fn label_zh(&self) -> &'static str {
        match self {
            TextField::Name => "姓名",
            TextField::Address => "住址",
            TextField::Phone => "联系电话",
            TextField::CategoryChangeReason => "类别变更原因",
            TextField::CaregiverReleaseReason => "解除包户原因",
            TextField::VisitFindings => "走访情况",
            TextField::ServiceDescription => "服务内容描述",
            TextField::ReferralReason => "转介原因",
            TextField::ReferralAnswer => "部门答复",
            TextField::OutcomeGoal => "帮扶目标",
            TextField::TransferReason => "转移原因",
            TextField::CloseNote => "结案说明（结案原因为“其他”时必填）",
            TextField::ReopenReason => "重新开案原因",
            TextField::CorrectionReason => "更正原因",
            TextField::LegalBasis => "删除个人信息的法律依据",
        }
    }
}

/// Which amount of money a negative-amount error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmountField {
    MonthlyIncome,
    Money,
    MaterialValue,
}

impl AmountField {
    pub fn label_zh(&self) -> &'static str {
        match self {
            AmountField::MonthlyIncome => "月收入",
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

/// A refused command on a care case.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum CaseError {
    // Lifecycle of the case.
    #[error("该关爱对象还没有建档，请先建档再录入")]
    CaseNotOpened,
    #[error("该关爱对象已经建档，不能重复建档；如建档信息有误，请提交更正")]
    CaseAlreadyOpened,
    #[error("该档案已结案，只能重新开案、更正记录或删除个人信息；如需继续服务，请先重新开案")]
    CaseClosed,
    #[error("该档案仍在关爱中，不需要重新开案")]
    CaseNotClosed,
    #[error("该档案的个人信息已依法删除，不能再录入；如需继续关爱此人，请新建档案")]
    PersonalDataErased,
    #[error("该档案的个人信息已经删除过，无需重复删除")]
    AlreadyErased,

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
    #[error(
        "{} {date} 早于建档日期 {opened_on}，请核对日期；建档前的情况请写在建档信息中",
        .field.label_zh()
    )]
    DateBeforeCaseOpened {
        field: DateField,
        date: NaiveDate,
        opened_on: NaiveDate,
    },
    #[error("重新开案日期 {reopened_on} 早于结案日期 {closed_on}，请核对日期")]
    ReopenedBeforeClosed {
        reopened_on: NaiveDate,
        closed_on: NaiveDate,
    },
    #[error("出生日期 {birth_date} 晚于建档日期 {opened_on}，请核对出生日期和建档日期")]
    BornAfterOpening {
        birth_date: NaiveDate,
        opened_on: NaiveDate,
    },

    // Text.
    #[error("{}不能为空，请填写{}", .field.label_zh(), .field.label_zh())]
    BlankText { field: TextField },

    // Identity.
    #[error("身份证号有误：{0}")]
    InvalidIdNumber(IdNumberError),
    #[error(
        "身份证号中的出生日期（{id_birth_date}）与填写的出生日期（{birth_date}）不一致，请对照身份证原件核对"
    )]
    IdNumberBirthDateMismatch {
        id_birth_date: NaiveDate,
        birth_date: NaiveDate,
    },
    #[error(
        "身份证号第 17 位表示性别为{}，与填写的性别“{}”不一致，请对照身份证原件核对",
        .id_gender.label_zh(),
        .gender.label_zh()
    )]
    IdNumberGenderMismatch { id_gender: Gender, gender: Gender },
    #[error("居住地区划代码有误：{0}")]
    InvalidRegionCode(RegionCodeError),
    #[error(
        "联系电话格式不正确，请填写 11 位手机号或带区号的固定电话（只能包含数字、空格、+、-、括号）"
    )]
    InvalidPhone,

    // Categories.
    #[error("请至少选择一个关爱对象类别")]
    NoCareCategory,
    #[error("请至少选择一个要增加或移除的关爱对象类别")]
    NoCategoryChange,
    #[error("该档案已经属于“{0}”类别，无需重复增加")]
    CategoryAlreadyPresent(CareCategory),
    #[error("该档案不属于“{0}”类别，无法移除，请核对当前类别")]
    CategoryNotPresent(CareCategory),
    #[error("“{0}”类别同时出现在增加和移除中，请只选择其中一项")]
    CategoryAddedAndRemoved(CareCategory),
    #[error("移除后档案将没有任何关爱对象类别：请至少保留一个类别；如已不再符合条件，请办理结案")]
    LastCategoryRemoved,

    // Caregivers.
    #[error("该工作人员已经以本组织名义包户此档案，无需重复安排")]
    CaregiverAlreadyAssigned,
    #[error("该工作人员目前没有以本组织名义包户此档案，无法解除，请核对包户名单")]
    CaregiverNotAssigned,
    #[error("包户结束日期 {ended_on} 早于包户开始日期 {started_on}，请核对日期")]
    ReleasedBeforeAssigned {
        ended_on: NaiveDate,
        started_on: NaiveDate,
    },

    // Amounts and measures.
    #[error("时长 {minutes} 分钟不在 1 到 1440 分钟（一天）之间，请填写实际用时")]
    MinutesOutOfRange { minutes: u32 },
    #[error("{}不能为负数（填写的是 {} 元），请填写 0 或实际金额", .field.label_zh(), yuan(.amount_fen))]
    NegativeAmount { field: AmountField, amount_fen: i64 },
    #[error("满意度 {satisfaction} 不在 1 到 5 之间，请由本人按 1（很不满意）到 5（很满意）打分")]
    SatisfactionOutOfRange { satisfaction: u8 },
    #[error("请至少填写一名走访人员")]
    NoVisitor,
    #[error("请至少选择一项服务内容")]
    NoServiceType,

    // Referrals.
    #[error("转介编号 {0} 已在此档案中使用过，请为新的转介使用新的编号")]
    DuplicateReferral(Uuid),
    #[error("此档案中没有编号为 {0} 的转介，请核对转介记录")]
    UnknownReferral(Uuid),
    #[error("编号为 {0} 的转介已经办结，无需再次办结；如答复有误，请提交更正")]
    ReferralAlreadyResolved(Uuid),
    #[error("转介办结日期 {resolved_on} 早于转介日期 {referred_on}，请核对日期")]
    ResolvedBeforeReferred {
        resolved_on: NaiveDate,
        referred_on: NaiveDate,
    },

    // Transfers.
    #[error("转移前后的区划和负责组织都没有变化，请选择新的区划或新的负责组织")]
    TransferChangesNothing,

    // Corrections.
    #[error(
        "要更正的第 {corrected_version} 条记录不存在：此档案目前共有 {current_version} 条记录，请选择已有的记录"
    )]
    CorrectionTargetNotFound {
        corrected_version: u64,
        current_version: u64,
    },
    #[error("请填写需要更正的内容（至少一项）")]
    EmptyCorrection,
}

impl CaseError {
    /// A stable snake_case code for machines (the `code` of the HTTP problem).
    pub fn code(&self) -> &'static str {
        match self {
            CaseError::CaseNotOpened => "case_not_opened",
            CaseError::CaseAlreadyOpened => "case_already_opened",
            CaseError::CaseClosed => "case_closed",
            CaseError::CaseNotClosed => "case_not_closed",
            CaseError::PersonalDataErased => "personal_data_erased",
            CaseError::AlreadyErased => "already_erased",
            CaseError::DateInFuture { .. } => "date_in_future",
            CaseError::DateBeforeCaseOpened { .. } => "date_before_case_opened",
            CaseError::ReopenedBeforeClosed { .. } => "reopened_before_closed",
            CaseError::BornAfterOpening { .. } => "born_after_opening",
            CaseError::BlankText { .. } => "blank_text",
            CaseError::InvalidIdNumber(_) => "invalid_id_number",
            CaseError::IdNumberBirthDateMismatch { .. } => "id_number_birth_date_mismatch",
            CaseError::IdNumberGenderMismatch { .. } => "id_number_gender_mismatch",
            CaseError::InvalidRegionCode(_) => "invalid_region_code",
            CaseError::InvalidPhone => "invalid_phone",
            CaseError::NoCareCategory => "no_care_category",
            CaseError::NoCategoryChange => "no_category_change",
            CaseError::CategoryAlreadyPresent(_) => "category_already_present",
            CaseError::CategoryNotPresent(_) => "category_not_present",
            CaseError::CategoryAddedAndRemoved(_) => "category_added_and_removed",
            CaseError::LastCategoryRemoved => "last_category_removed",
            CaseError::CaregiverAlreadyAssigned => "caregiver_already_assigned",
            CaseError::CaregiverNotAssigned => "caregiver_not_assigned",
            CaseError::ReleasedBeforeAssigned { .. } => "released_before_assigned",
            CaseError::MinutesOutOfRange { .. } => "minutes_out_of_range",
            CaseError::NegativeAmount { .. } => "negative_amount",
            CaseError::SatisfactionOutOfRange { .. } => "satisfaction_out_of_range",
            CaseError::NoVisitor => "no_visitor",
            CaseError::NoServiceType => "no_service_type",
            CaseError::DuplicateReferral(_) => "duplicate_referral",
            CaseError::UnknownReferral(_) => "unknown_referral",
            CaseError::ReferralAlreadyResolved(_) => "referral_already_resolved",
            CaseError::ResolvedBeforeReferred { .. } => "resolved_before_referred",
            CaseError::TransferChangesNothing => "transfer_changes_nothing",
            CaseError::CorrectionTargetNotFound { .. } => "correction_target_not_found",
            CaseError::EmptyCorrection => "empty_correction",
        }
    }
}

impl From<IdNumberError> for CaseError {
    fn from(error: IdNumberError) -> Self {
        CaseError::InvalidIdNumber(error)
    }
}

impl From<RegionCodeError> for CaseError {
    fn from(error: RegionCodeError) -> Self {
        CaseError::InvalidRegionCode(error)
    }
}
