//! Read models of shouwang and the projector that keeps them.
//!
//! Every read model is a set of SQL tables in the same database as the
//! events, so auditors may query them directly. The [`Projector`] applies each
//! event exactly once per projection: the tables and the checkpoint change in
//! one transaction. [`rebuild`] recomputes a projection into fresh tables and
//! swaps them in atomically.

pub mod dump;
pub mod projector;
pub mod rebuild;
pub mod sql;

pub use projector::{Projection, ProjectionError, ProjectionStatus, Projector, ProjectorSettings};
pub use rebuild::{RebuildReport, rebuild};
pub use sql::{TableNames, Tx};
