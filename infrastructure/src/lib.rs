//! Infrastructure of shouwang: the sqlx event store for SQLite and
//! PostgreSQL, the personal-data vault, the hash chain, upcasting and the
//! command bus.

pub mod aggregate_store;
mod append;
pub mod application;
pub mod attachments;
pub mod buses;
pub mod chain;
pub mod clock;
pub mod command_bus;
pub mod config;
pub mod db;
pub mod error;
pub mod store;
pub mod upcast;
pub mod users;
pub mod vault;
pub mod verify;

pub use aggregate_store::{SqlAggregateContext, SqlEventStore};
pub use application::{Application, EvidenceUploadError};
pub use buses::{
    ActivityBus, CareCaseBus, NeedBus, OrganizationBus, VolunteerBus, activity_bus, care_case_bus,
    need_bus, organization_bus, volunteer_bus,
};
pub use command_bus::{
    CommandBus, CommandError, CommandMetadata, CommandReceipt, IdempotentCommand,
};
pub use config::{MasterKeySetting, Settings, open_store};
pub use db::{Backend, Database};
pub use error::StoreError;
pub use store::{AsOf, FeedCursor, PersonalDataMode, RecordedEvent, Store};
pub use upcast::Upcasters;
pub use vault::{MasterKey, MasterKeySource};
pub use verify::{BrokenLink, VerifyReport, verify_chains};
