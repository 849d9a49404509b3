//! Why a command on a volunteer's record was refused.

use chrono::NaiveDate;
use thiserror::Error;

use super::CreditSource;

/// Which date of a command a date error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateField {
    RegisteredOn,
    VerifiedOn,
    RedeemedOn,
    DeactivatedOn,
    ReactivatedOn,
}

impl DateField {
    pub fn label_zh(&self) -> &'static str {
        match self {
            DateField::RegisteredOn => "注册日期",
            DateField::VerifiedOn => "时长核实日期",
            DateField::RedeemedOn => "兑换日期",
            DateField::DeactivatedOn => "停用日期",
            DateField::ReactivatedOn => "重新启用日期",
        }
    }

    pub fn happening_zh(&self) -> &'static str {
        match self {
            DateField::RegisteredOn => "注册",
            DateField::VerifiedOn => "核实",
            DateField::RedeemedOn => "兑换",
            DateField::DeactivatedOn => "停用",
            DateField::ReactivatedOn => "重新启用",
        }
    }
}

/// Which required text of a command was left blank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextField {
    Name,
    Phone,
    Reward,
    DeactivationReason,
    ReactivationReason,
}

impl TextField {
    pub fn label_zh(&self) -> &'static str {
        match self {
            TextField::Name => "姓名",
            TextField::Phone => "联系电话",
            TextField::Reward => "兑换物品",
            TextField::DeactivationReason => "停用原因",
            TextField::ReactivationReason => "重新启用原因",
        }
    }
}

/// A refused command on a volunteer's record.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum VolunteerError {
    // Lifecycle.
    #[error("该志愿者还没有注册，请先注册再录入")]
    NotRegistered,
    #[error("该志愿者已经注册，不能重复注册")]
    AlreadyRegistered,
    #[error("该志愿者已停用，不能记入或兑换积分；如已恢复服务，请先重新启用")]
    VolunteerInactive,
    #[error("该志愿者已经停用，无需重复停用")]
    AlreadyInactive,
    #[error("该志愿者没有停用，不需要重新启用")]
    NotInactive,

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
    #[error("{} {date} 早于志愿者注册日期 {registered_on}，请核对日期", .field.label_zh())]
    DateBeforeRegistration {
        field: DateField,
        date: NaiveDate,
        registered_on: NaiveDate,
    },
    #[error("重新启用日期 {reactivated_on} 早于停用日期 {deactivated_on}，请核对日期")]
    ReactivatedBeforeDeactivated {
        reactivated_on: NaiveDate,
        deactivated_on: NaiveDate,
    },

    // Text.
    #[error("{}不能为空，请填写{}", .field.label_zh(), .field.label_zh())]
    BlankText { field: TextField },
    #[error(
        "联系电话格式不正确，请填写 11 位手机号或带区号的固定电话（只能包含数字、空格、+、-、括号）"
    )]
    InvalidPhone,

    // Points.
    #[error("核实的服务时长 {minutes} 分钟不在 1 到 10080 分钟（一周）之间，请填写实际服务时长")]
    MinutesOutOfRange { minutes: u32 },
    #[error("{0}已经记过积分，同一次服务不能重复记分")]
    AlreadyCredited(CreditSource),
    #[error("服务记录的版本号应从 1 开始，请从服务记录中选择")]
    InvalidServiceVersion,
    #[error("兑换积分应大于 0，请填写要兑换的积分")]
    NoPointsToRedeem,
    #[error("积分不足：要兑换 {requested} 分，当前余额只有 {balance} 分")]
    InsufficientPoints { requested: u32, balance: u64 },
}

impl VolunteerError {
    /// A stable snake_case code for machines (the `code` of the HTTP problem).
    pub fn code(&self) -> &'static str {
        match self {
            VolunteerError::NotRegistered => "volunteer_not_registered",
            VolunteerError::AlreadyRegistered => "volunteer_already_registered",
            VolunteerError::VolunteerInactive => "volunteer_inactive",
            VolunteerError::AlreadyInactive => "volunteer_already_inactive",
            VolunteerError::NotInactive => "volunteer_not_inactive",
            VolunteerError::DateInFuture { .. } => "date_in_future",
            VolunteerError::DateBeforeRegistration { .. } => "date_before_registration",
            VolunteerError::ReactivatedBeforeDeactivated { .. } => "reactivated_before_deactivated",
            VolunteerError::BlankText { .. } => "blank_text",
            VolunteerError::InvalidPhone => "invalid_phone",
            VolunteerError::MinutesOutOfRange { .. } => "minutes_out_of_range",
            VolunteerError::AlreadyCredited(_) => "already_credited",
            VolunteerError::InvalidServiceVersion => "invalid_service_version",
            VolunteerError::NoPointsToRedeem => "no_points_to_redeem",
            VolunteerError::InsufficientPoints { .. } => "insufficient_points",
        }
    }
}
