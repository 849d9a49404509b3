//! Read models of shouwang and the projector that keeps them.
//!
//! Every read model is a set of SQL tables in the same database as the
//! events, so auditors may query them directly. The [`Projector`] applies each
//! event exactly once per projection: the tables and the checkpoint change in
//! one transaction. [`rebuild`] recomputes a projection into fresh tables and
//! swaps them in atomically.

use std::sync::Arc;

pub mod audit;
pub mod case_file;
pub mod caseload;
pub mod dump;
pub mod evaluations;
pub mod needs_ledger;
pub mod projector;
pub mod rebuild;
pub mod replay;
pub mod sql;
pub mod statistics;

pub use projector::{Projection, ProjectionError, ProjectionStatus, Projector, ProjectorSettings};
pub use rebuild::{RebuildAllReport, RebuildReport, rebuild, rebuild_all};
pub use sql::{TableNames, Tx};

/// Every read model of the system, as the projector and `shouwang rebuild`
/// run them.
pub fn all_projections() -> Vec<Arc<dyn Projection>> {
    [
        case_file::projections(),
        audit::projections(),
        caseload::projections(),
        needs_ledger::projections(),
        statistics::projections(),
        evaluations::projections(),
    ]
    .into_iter()
    .flatten()
    .collect()
}
