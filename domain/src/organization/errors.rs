//! Why a command on an organization was refused.
//!
//! Each message says in Chinese what is wrong and what to do; each error
//! has a stable snake_case [`OrganizationError::code`] for the HTTP layer.

use chrono::NaiveDate;
use thiserror::Error;
use uuid::Uuid;

use crate::codes::{CreditCodeError, RegionPrefixError};
use crate::vocabulary::{RegionLevel, ServiceType};

/// Which date of a command a date error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateField {
    RegisteredOn,
    MemberJoinedOn,
    MemberLeftOn,
    LiaisonDesignatedOn,
    LiaisonReleasedOn,
    SuspendedOn,
    ReactivatedOn,
}

impl DateField {
    /// The form label of the date, e.g. 登记日期.
    pub fn label_zh(&self) -> &'static str {
        match self {
            DateField::RegisteredOn => "登记日期",
            DateField::MemberJoinedOn => "加入日期",
            DateField::MemberLeftOn => "退出日期",
            DateField::LiaisonDesignatedOn => "担任联络员日期",
            DateField::LiaisonReleasedOn => "解除联络员日期",
            DateField::SuspendedOn => "暂停日期",
            DateField::ReactivatedOn => "恢复日期",
        }
    }

    /// What happened on that date, for "请填写实际…的日期".
    pub fn happening_zh(&self) -> &'static str {
        match self {
            DateField::RegisteredOn => "登记",
            DateField::MemberJoinedOn => "加入",
            DateField::MemberLeftOn => "退出",
            DateField::LiaisonDesignatedOn => "担任联络员",
            DateField::LiaisonReleasedOn => "解除联络员",
            DateField::SuspendedOn => "暂停",
            DateField::ReactivatedOn => "恢复",
        }
    }
}

/// Which required text of a command was left blank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextField {
    Name,
    MemberDisplayName,
    MemberRemovalReason,
    LiaisonReleaseReason,
    SupplyRemovalReason,
    SuspensionReason,
    ReactivationReason,
}

impl TextField {
    pub fn label_zh(&self) -> &'static str {
        match self {
            TextField::Name => "组织名称",
            TextField::MemberDisplayName => "成员姓名",
            TextField::MemberRemovalReason => "成员退出原因",
            TextField::LiaisonReleaseReason => "解除联络员原因",
            TextField::SupplyRemovalReason => "移出供给清单的原因",
            TextField::SuspensionReason => "暂停原因",
            TextField::ReactivationReason => "恢复原因",
        }
    }
}

/// A refused command on an organization.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum OrganizationError {
    // Lifecycle.
    #[error("该组织还没有登记，请先登记组织再录入")]
    NotRegistered,
    #[error("该组织已经登记，不能重复登记")]
    AlreadyRegistered,
    #[error("该组织已经处于暂停状态，无需重复暂停")]
    AlreadySuspended,
    #[error("该组织没有被暂停，不需要恢复")]
    NotSuspended,

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
    #[error("{} {date} 早于组织登记日期 {registered_on}，请核对日期", .field.label_zh())]
    DateBeforeRegistration {
        field: DateField,
        date: NaiveDate,
        registered_on: NaiveDate,
    },
    #[error("{} {date} 早于{} {earlier}，请核对日期", .field.label_zh(), .earlier_field.label_zh())]
    DateOutOfOrder {
        field: DateField,
        date: NaiveDate,
        earlier_field: DateField,
        earlier: NaiveDate,
    },

    // Text and codes.
    #[error("{}不能为空，请填写{}", .field.label_zh(), .field.label_zh())]
    BlankText { field: TextField },
    #[error("统一社会信用代码有误：{0}")]
    InvalidCreditCode(CreditCodeError),
    #[error("登记地区划代码有误：{0}")]
    InvalidRegion(RegionPrefixError),
    #[error(
        "登记地区划代码是{}一级的，与填写的登记层级“{}”不一致，请核对区划代码或登记层级",
        .region_level.label_zh(),
        .level.label_zh()
    )]
    RegionLevelMismatch {
        region_level: RegionLevel,
        level: RegionLevel,
    },

    // Members and liaison officers.
    #[error("编号为 {0} 的成员已经在本组织中，无需重复添加；如角色有变，请先移除再添加")]
    MemberAlreadyAdded(Uuid),
    #[error("本组织没有编号为 {0} 的成员，请核对成员名单；联络员只能从本组织成员中指定")]
    UnknownMember(Uuid),
    #[error("编号为 {0} 的成员目前是联络员，请先解除其联络员职责再移除")]
    MemberIsLiaison(Uuid),
    #[error("编号为 {0} 的成员已经是联络员，无需重复指定")]
    AlreadyLiaison(Uuid),
    #[error("编号为 {0} 的成员不是联络员，无法解除，请核对联络员名单")]
    NotLiaison(Uuid),

    // Supply list.
    #[error("供给清单中已有“{0}”，无需重复添加；如需修改服务区域，请先移出再重新添加")]
    ServiceAlreadyOffered(ServiceType),
    #[error("供给清单中没有“{0}”，无法移出，请核对供给清单")]
    ServiceNotOffered(ServiceType),
    #[error("请至少填写一个服务区域（区划代码）")]
    NoSupplyArea,
    #[error("第 {position} 个服务区域有误：{error}")]
    InvalidSupplyArea {
        position: usize,
        error: RegionPrefixError,
    },
}

impl OrganizationError {
    /// A stable snake_case code for machines (the `code` of the HTTP problem).
    pub fn code(&self) -> &'static str {
        match self {
            OrganizationError::NotRegistered => "organization_not_registered",
            OrganizationError::AlreadyRegistered => "organization_already_registered",
            OrganizationError::AlreadySuspended => "organization_already_suspended",
            OrganizationError::NotSuspended => "organization_not_suspended",
            OrganizationError::DateInFuture { .. } => "date_in_future",
            OrganizationError::DateBeforeRegistration { .. } => "date_before_registration",
            OrganizationError::DateOutOfOrder { .. } => "date_out_of_order",
            OrganizationError::BlankText { .. } => "blank_text",
            OrganizationError::InvalidCreditCode(_) => "invalid_credit_code",
            OrganizationError::InvalidRegion(_) => "invalid_region_code",
            OrganizationError::RegionLevelMismatch { .. } => "region_level_mismatch",
            OrganizationError::MemberAlreadyAdded(_) => "member_already_added",
            OrganizationError::UnknownMember(_) => "unknown_member",
            OrganizationError::MemberIsLiaison(_) => "member_is_liaison",
            OrganizationError::AlreadyLiaison(_) => "already_liaison",
            OrganizationError::NotLiaison(_) => "not_liaison",
            OrganizationError::ServiceAlreadyOffered(_) => "service_already_offered",
            OrganizationError::ServiceNotOffered(_) => "service_not_offered",
            OrganizationError::NoSupplyArea => "no_supply_area",
            OrganizationError::InvalidSupplyArea { .. } => "invalid_supply_area",
        }
    }
}

impl From<CreditCodeError> for OrganizationError {
    fn from(error: CreditCodeError) -> Self {
        OrganizationError::InvalidCreditCode(error)
    }
}

impl From<RegionPrefixError> for OrganizationError {
    fn from(error: RegionPrefixError) -> Self {
        OrganizationError::InvalidRegion(error)
    }
}
