//! The `Organization` aggregate: a social organization (社会组织) or a
//! township social-work station (社工站) — its members, its liaison officers
//! (联络员), the services it offers (供给清单) and whether it is active.
//!
//! Deciding is synchronous and pure ([`Organization::decide`]); the cqrs-es
//! `handle` only writes the decided events to the sink. The state holds ids,
//! roles and dates but no member names, like every aggregate's state.

mod commands;
mod decide;
mod errors;
mod events;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::codes::RegionPrefix;
use crate::values::RegionCode;
use crate::vocabulary::{
    MemberRole, OrganizationKind, OrganizationStatus, RegionLevel, ServiceType,
};

pub use commands::{
    AddMember, AddSupplyEntry, DesignateLiaison, OrganizationAction, OrganizationCommand,
    ReactivateOrganization, RegisterOrganization, ReleaseLiaison, RemoveMember, RemoveSupplyEntry,
    SuspendOrganization,
};
pub use errors::{DateField, OrganizationError, TextField};
pub use events::{
    LiaisonDesignated, LiaisonReleased, MemberAdded, MemberRemoved, OrganizationEvent,
    OrganizationReactivated, OrganizationRegistered, OrganizationSuspended, SupplyEntryAdded,
    SupplyEntryRemoved,
};

/// The state of one organization, as far as decisions and callers need it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Organization {
    /// Number of events applied so far.
    version: u64,
    /// `None` until the organization is registered.
    status: Option<OrganizationStatus>,
    registered_on: Option<NaiveDate>,
    suspended_on: Option<NaiveDate>,
    kind: Option<OrganizationKind>,
    level: Option<RegionLevel>,
    region: Option<RegionPrefix>,
    hub: bool,
    members: BTreeMap<Uuid, Membership>,
    /// Liaison officers, with the date each was designated.
    liaisons: BTreeMap<Uuid, NaiveDate>,
    /// 供给清单: each service offered, with the areas it is offered in.
    supply: BTreeMap<ServiceType, Vec<RegionPrefix>>,
}

/// A member's role and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Membership {
    pub role: MemberRole,
    pub joined_on: NaiveDate,
}

impl Organization {
    /// The stream version of the last applied event (0 before any).
    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn is_registered(&self) -> bool {
        self.status.is_some()
    }

    /// `None` while the organization has not been registered.
    pub fn status(&self) -> Option<OrganizationStatus> {
        self.status
    }

    /// True when registered and not suspended: only an active organization
    /// may be dispatched needs (the application layer passes this to
    /// `DispatchNeed::organization_active`).
    pub fn is_active(&self) -> bool {
        self.status == Some(OrganizationStatus::Active)
    }

    pub fn registered_on(&self) -> Option<NaiveDate> {
        self.registered_on
    }

    /// Set while the organization is suspended.
    pub fn suspended_on(&self) -> Option<NaiveDate> {
        self.suspended_on
    }

    pub fn kind(&self) -> Option<OrganizationKind> {
        self.kind
    }

    pub fn level(&self) -> Option<RegionLevel> {
        self.level
    }

    pub fn region(&self) -> Option<&RegionPrefix> {
        self.region.as_ref()
    }

    /// 枢纽型社会组织.
    pub fn is_hub(&self) -> bool {
        self.hub
    }

    pub fn members(&self) -> &BTreeMap<Uuid, Membership> {
        &self.members
    }

    pub fn is_member(&self, member_id: Uuid) -> bool {
        self.members.contains_key(&member_id)
    }

    /// Ids of the current liaison officers.
    pub fn liaison_ids(&self) -> impl Iterator<Item = Uuid> + '_ {
        self.liaisons.keys().copied()
    }

    pub fn is_liaison(&self, member_id: Uuid) -> bool {
        self.liaisons.contains_key(&member_id)
    }

    /// The supply list: each service offered, with its areas.
    pub fn supply(&self) -> &BTreeMap<ServiceType, Vec<RegionPrefix>> {
        &self.supply
    }

    /// True when the supply list offers the service somewhere covering
    /// `region`: what matching a need to organizations (点单/接单) asks.
    pub fn offers(&self, service_type: ServiceType, region: &RegionCode) -> bool {
        self.supply
            .get(&service_type)
            .is_some_and(|areas| areas.iter().any(|area| area.contains(region)))
    }
}

impl Aggregate for Organization {
    const TYPE: &'static str = "organization";
    type Command = OrganizationCommand;
    type Event = OrganizationEvent;
    type Error = OrganizationError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(&command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        self.version += 1;
        match event {
            OrganizationEvent::OrganizationRegistered(registered) => {
                self.status = Some(OrganizationStatus::Active);
                self.registered_on = Some(registered.registered_on);
                self.kind = Some(registered.kind);
                self.level = Some(registered.level);
                self.region = Some(registered.region);
                self.hub = registered.hub;
            }
            OrganizationEvent::MemberAdded(added) => {
                self.members.insert(
                    added.member_id,
                    Membership {
                        role: added.role,
                        joined_on: added.joined_on,
                    },
                );
            }
            OrganizationEvent::MemberRemoved(removed) => {
                self.members.remove(&removed.member_id);
                self.liaisons.remove(&removed.member_id);
            }
            OrganizationEvent::LiaisonDesignated(designated) => {
                self.liaisons
                    .insert(designated.member_id, designated.designated_on);
            }
            OrganizationEvent::LiaisonReleased(released) => {
                self.liaisons.remove(&released.member_id);
            }
            OrganizationEvent::SupplyEntryAdded(added) => {
                self.supply.insert(added.service_type, added.areas);
            }
            OrganizationEvent::SupplyEntryRemoved(removed) => {
                self.supply.remove(&removed.service_type);
            }
            OrganizationEvent::OrganizationSuspended(suspended) => {
                self.status = Some(OrganizationStatus::Suspended);
                self.suspended_on = Some(suspended.suspended_on);
            }
            OrganizationEvent::OrganizationReactivated(_) => {
                self.status = Some(OrganizationStatus::Active);
                self.suspended_on = None;
            }
        }
    }
}
