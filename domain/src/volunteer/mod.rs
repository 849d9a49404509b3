//! The `Volunteer` aggregate: a volunteer's record under 积分制管理 —
//! points earned from verified service time, and points spent on rewards.
//!
//! Every credit names what earned it ([`CreditSource`]) and each source is
//! credited once; the balance never goes below zero. The rate is
//! configuration ([`PointsPolicy`], the aggregate's `Services`), and each
//! credit records the rate it was computed at. The state holds no name or
//! phone number.

mod commands;
mod decide;
mod errors;
mod events;

use std::collections::BTreeSet;
use std::fmt;

use chrono::NaiveDate;
use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::vocabulary::VolunteerStatus;

pub use commands::{
    CreditPoints, DeactivateVolunteer, ReactivateVolunteer, RedeemPoints, RegisterVolunteer,
    VolunteerAction, VolunteerCommand,
};
pub use errors::{DateField, TextField, VolunteerError};
pub use events::{
    PointsCredited, PointsRedeemed, VolunteerDeactivated, VolunteerEvent, VolunteerReactivated,
    VolunteerRegistered,
};

/// The most service time one credit may verify, in minutes: one week.
pub const CREDIT_MINUTES_RANGE: std::ops::RangeInclusive<u32> = 1..=10_080;

/// How points are earned: configuration, passed to the aggregate as its
/// cqrs-es `Services`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PointsPolicy {
    /// Points per verified hour of service; minutes count pro rata and
    /// fractions of a point are dropped.
    pub points_per_hour: u32,
}

impl Default for PointsPolicy {
    fn default() -> Self {
        PointsPolicy {
            points_per_hour: 10,
        }
    }
}

impl PointsPolicy {
    /// The points earned by `minutes` of service, rounded down: at 10 points
    /// an hour, 45 minutes earn 7 points.
    pub fn points_for(&self, minutes: u32) -> u32 {
        let points = u64::from(minutes) * u64::from(self.points_per_hour) / 60;
        u32::try_from(points).unwrap_or(u32::MAX)
    }
}

/// What earned a credit of points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CreditSource {
    /// An activity (the activity's stream id).
    Activity(Uuid),
    /// A service recorded on a care case: the `ServiceDelivered` event at
    /// `stream_version` of the case's stream.
    Service { case_id: Uuid, stream_version: u64 },
    /// A need (微星愿) the volunteer helped fulfil (the need's stream id).
    Need(Uuid),
}

impl fmt::Display for CreditSource {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CreditSource::Activity(activity_id) => write!(formatter, "活动（编号 {activity_id}）"),
            CreditSource::Service {
                case_id,
                stream_version,
            } => write!(formatter, "档案 {case_id} 的第 {stream_version} 条服务记录"),
            CreditSource::Need(need_id) => write!(formatter, "需求（编号 {need_id}）"),
        }
    }
}

/// The state of one volunteer's record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Volunteer {
    version: u64,
    /// `None` until the volunteer is registered.
    status: Option<VolunteerStatus>,
    registered_on: Option<NaiveDate>,
    deactivated_on: Option<NaiveDate>,
    organization_id: Option<Uuid>,
    /// Every source credited so far, to refuse a second credit.
    credited: BTreeSet<CreditSource>,
    earned: u64,
    redeemed: u64,
    /// Total verified service time, in minutes.
    minutes: u64,
}

impl Volunteer {
    /// The stream version of the last applied event (0 before any).
    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn is_registered(&self) -> bool {
        self.status.is_some()
    }

    pub fn status(&self) -> Option<VolunteerStatus> {
        self.status
    }

    pub fn is_active(&self) -> bool {
        self.status == Some(VolunteerStatus::Active)
    }

    pub fn registered_on(&self) -> Option<NaiveDate> {
        self.registered_on
    }

    pub fn organization_id(&self) -> Option<Uuid> {
        self.organization_id
    }

    /// Points that can still be redeemed.
    pub fn balance(&self) -> u64 {
        self.earned.saturating_sub(self.redeemed)
    }

    /// All points ever credited.
    pub fn points_earned(&self) -> u64 {
        self.earned
    }

    pub fn points_redeemed(&self) -> u64 {
        self.redeemed
    }

    /// Total verified service time, in minutes.
    pub fn verified_minutes(&self) -> u64 {
        self.minutes
    }

    pub fn has_credited(&self, source: &CreditSource) -> bool {
        self.credited.contains(source)
    }
}

impl Aggregate for Volunteer {
    const TYPE: &'static str = "volunteer";
    type Command = VolunteerCommand;
    type Event = VolunteerEvent;
    type Error = VolunteerError;
    type Services = PointsPolicy;

    async fn handle(
        &mut self,
        command: Self::Command,
        policy: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(&command, policy)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        self.version += 1;
        match event {
            VolunteerEvent::VolunteerRegistered(registered) => {
                self.status = Some(VolunteerStatus::Active);
                self.registered_on = Some(registered.registered_on);
                self.organization_id = Some(registered.organization_id);
            }
            VolunteerEvent::PointsCredited(credited) => {
                self.credited.insert(credited.source);
                self.earned += u64::from(credited.points);
                self.minutes += u64::from(credited.minutes);
            }
            VolunteerEvent::PointsRedeemed(redeemed) => {
                self.redeemed += u64::from(redeemed.points);
            }
            VolunteerEvent::VolunteerDeactivated(deactivated) => {
                self.status = Some(VolunteerStatus::Inactive);
                self.deactivated_on = Some(deactivated.deactivated_on);
            }
            VolunteerEvent::VolunteerReactivated(_) => {
                self.status = Some(VolunteerStatus::Active);
                self.deactivated_on = None;
            }
        }
    }
}
