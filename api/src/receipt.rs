//! What every write answers.

use serde::Serialize;
use shouwang_infrastructure::CommandReceipt;
use utoipa::ToSchema;

/// The result of a command: where its events landed. A retried request with
/// the same `Idempotency-Key` gets the same receipt with `replayed: true`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct WriteReceipt {
    /// The id of the record written (case, organization, need, …).
    pub id: String,
    /// The record's version after the command.
    pub stream_version: Option<u64>,
    /// Global position of the last event written; pass it as `?after=` to
    /// read your own write.
    pub position: Option<i64>,
    pub first_position: Option<i64>,
    /// Number of events written.
    pub events: u64,
    /// The command id (the `Idempotency-Key` when one was sent).
    pub command_id: String,
    /// True when this answers a retry from the first result.
    pub replayed: bool,
}

impl From<CommandReceipt> for WriteReceipt {
    fn from(receipt: CommandReceipt) -> Self {
        Self {
            id: receipt.stream_id,
            stream_version: receipt.stream_version,
            position: receipt.last_position,
            first_position: receipt.first_position,
            events: receipt.events,
            command_id: receipt.command_id,
            replayed: receipt.replayed,
        }
    }
}
