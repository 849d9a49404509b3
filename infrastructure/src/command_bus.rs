//! Runs commands through cqrs-es with idempotency and one retry on conflict.
//!
//! "The command was refused" (a domain error a worker can act on) is kept
//! apart from "recording failed" (the store) and from "someone else wrote
//! first" (a conflict that survived one retry on fresh state).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use cqrs_es::{Aggregate, AggregateError, CqrsFramework};
use serde::Serialize;
use sha2::{Digest, Sha256};
use shouwang_domain::PersonalData;
use thiserror::Error;
use uuid::Uuid;

use crate::aggregate_store::{SqlEventStore, metadata_keys, new_streams, receipts};
use crate::error::StoreError;
use crate::store::{AppendedEvent, CommandRecord, Store};

/// Who sent a command and why: stored as metadata on every event it emits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandMetadata {
    pub actor: String,
    pub role: String,
    pub organization: Option<String>,
    /// The client's command id: a retry with the same id writes nothing twice.
    pub command_id: Uuid,
    pub correlation_id: Uuid,
    pub reason: Option<String>,
    pub client_time: Option<DateTime<Utc>>,
}

impl CommandMetadata {
    /// Metadata for a system actor (CLI, demo data) with fresh ids.
    pub fn system(actor: &str) -> Self {
        let command_id = Uuid::now_v7();
        Self {
            actor: actor.to_owned(),
            role: "system".to_owned(),
            organization: None,
            command_id,
            correlation_id: command_id,
            reason: None,
            client_time: None,
        }
    }

    fn into_map(self, fingerprint: String) -> HashMap<String, String> {
        let mut map = HashMap::from([
            ("actor".to_owned(), self.actor),
            ("role".to_owned(), self.role),
            (
                metadata_keys::COMMAND_ID.to_owned(),
                self.command_id.to_string(),
            ),
            ("correlation_id".to_owned(), self.correlation_id.to_string()),
            (metadata_keys::COMMAND_FINGERPRINT.to_owned(), fingerprint),
        ]);
        if let Some(organization) = self.organization {
            map.insert("organization".to_owned(), organization);
        }
        if let Some(reason) = self.reason {
            map.insert("reason".to_owned(), reason);
        }
        if let Some(client_time) = self.client_time {
            map.insert(
                "client_time".to_owned(),
                crate::store::format_instant(client_time),
            );
        }
        map
    }
}

/// The part of a command that identifies it for idempotency. Facts supplied
/// by the server at the time of the call (like today's date) are left out,
/// so a retry on another day is still recognised as the same command.
pub trait IdempotentCommand {
    fn fingerprint_source(&self) -> serde_json::Value;

    /// True for the command that starts a stream (opening a case,
    /// registering an organization …): its stream is expected not to exist,
    /// so it is decided on the empty state without reading the database. If
    /// the stream does exist the append conflicts, and the retry loads it and
    /// lets the domain refuse.
    fn opens_stream(&self) -> bool {
        false
    }
}

/// What a command did, returned the same way to the first call and to every
/// retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandReceipt {
    pub command_id: String,
    pub stream_id: String,
    /// The stream version after the command (its last event's version).
    pub stream_version: Option<u64>,
    pub first_position: Option<i64>,
    pub last_position: Option<i64>,
    pub events: u64,
    /// True when this was a retry answered from the idempotency record.
    pub replayed: bool,
}

impl CommandReceipt {
    fn from_appended(command_id: String, stream_id: &str, appended: &[AppendedEvent]) -> Self {
        Self {
            command_id,
            stream_id: stream_id.to_owned(),
            stream_version: appended.last().map(|e| e.stream_version),
            first_position: appended.first().map(|e| e.position),
            last_position: appended.last().map(|e| e.position),
            events: appended.len() as u64,
            replayed: false,
        }
    }

    fn from_record(record: CommandRecord, replayed: bool) -> Self {
        let events = match (record.first_version, record.last_version) {
            (Some(first), Some(last)) => last - first + 1,
            _ => 0,
        };
        Self {
            command_id: record.command_id,
            stream_id: record.stream_id,
            stream_version: record.last_version,
            first_position: record.first_position,
            last_position: record.last_position,
            events,
            replayed,
        }
    }
}

#[derive(Debug, Error)]
pub enum CommandError<E: std::error::Error> {
    /// The domain refused the command; its message says what to do.
    #[error("{0}")]
    Refused(E),
    #[error("该记录刚被他人同时修改，重试后仍有冲突，请刷新后再提交")]
    Conflict,
    #[error(transparent)]
    Store(StoreError),
}

/// Executes commands for aggregate type `A`.
pub struct CommandBus<A>
where
    A: Aggregate + Clone,
    A::Event: PersonalData,
{
    cqrs: CqrsFramework<A, SqlEventStore<A>>,
    events: SqlEventStore<A>,
}

impl<A> std::fmt::Debug for CommandBus<A>
where
    A: Aggregate + Clone,
    A::Event: PersonalData,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandBus")
            .field("aggregate", &A::TYPE)
            .finish()
    }
}

impl<A> CommandBus<A>
where
    A: Aggregate + Clone,
    A::Event: PersonalData,
    A::Command: IdempotentCommand + Clone,
{
    pub fn new(store: Store, services: A::Services) -> Self {
        let events = SqlEventStore::new(store);
        Self {
            cqrs: CqrsFramework::new(events.clone(), Vec::new(), services),
            events,
        }
    }

    pub fn event_store(&self) -> &SqlEventStore<A> {
        &self.events
    }

    pub fn fingerprint(stream_id: &str, command: &A::Command) -> String {
        let mut hasher = Sha256::new();
        hasher.update(A::TYPE.as_bytes());
        hasher.update([0]);
        hasher.update(stream_id.as_bytes());
        hasher.update([0]);
        hasher.update(command.fingerprint_source().to_string().as_bytes());
        hex::encode(hasher.finalize())
    }

    /// Runs `command` on stream `stream_id`. A command id seen before returns
    /// the first result and appends nothing; the same id with a different
    /// command is refused.
    pub async fn execute(
        &self,
        stream_id: &str,
        command: A::Command,
        metadata: CommandMetadata,
    ) -> Result<CommandReceipt, CommandError<A::Error>> {
        let command_id = metadata.command_id.to_string();
        let fingerprint = Self::fingerprint(stream_id, &command);
        let mut retried = false;
        loop {
            // No look-up of the command id first: the idempotency record is
            // written in the append's transaction, so a repeated id shows up
            // as "nothing appended" (or as a refusal, the state having moved
            // on), and only then is the first result read back.
            // Boxed: loading, deciding and committing make a large future,
            // and every caller would otherwise carry it in its own.
            let execution = Box::pin(self.cqrs.execute_with_metadata(
                stream_id,
                command.clone(),
                metadata.clone().into_map(fingerprint.clone()),
            ));
            let assume_new = command.opens_stream() && !retried;
            let (result, appended) =
                receipts::collect(new_streams::assumed_if(assume_new, execution)).await;
            match result {
                Ok(()) => {
                    return match appended {
                        Some(appended) => Ok(CommandReceipt::from_appended(
                            command_id, stream_id, &appended,
                        )),
                        None => match self.recorded(&command_id, &fingerprint).await? {
                            Some(receipt) => Ok(receipt),
                            None => Err(CommandError::Store(StoreError::Configuration(format!(
                                "指令 {command_id} 已执行但未找到其记录"
                            )))),
                        },
                    };
                }
                Err(AggregateError::UserError(error)) => {
                    return match self.recorded(&command_id, &fingerprint).await? {
                        Some(receipt) => Ok(receipt),
                        None => Err(CommandError::Refused(error)),
                    };
                }
                Err(AggregateError::AggregateConflict) if !retried => retried = true,
                Err(AggregateError::AggregateConflict) => return Err(CommandError::Conflict),
                Err(other) => return Err(CommandError::Store(unwrap_store_error(other))),
            }
        }
    }

    /// The first result of a command id already recorded, answered to a
    /// retry; refused when the id was used for a different command.
    async fn recorded(
        &self,
        command_id: &str,
        fingerprint: &str,
    ) -> Result<Option<CommandReceipt>, CommandError<A::Error>> {
        let record = self
            .events
            .store()
            .command_record(command_id)
            .await
            .map_err(CommandError::Store)?;
        match record {
            Some(record) if record.fingerprint != fingerprint => {
                Err(CommandError::Store(StoreError::IdempotencyMismatch {
                    command_id: command_id.to_owned(),
                }))
            }
            Some(record) => Ok(Some(CommandReceipt::from_record(record, true))),
            None => Ok(None),
        }
    }
}

fn unwrap_store_error<E: std::error::Error>(error: AggregateError<E>) -> StoreError {
    let boxed = match error {
        AggregateError::DatabaseConnectionError(e)
        | AggregateError::DeserializationError(e)
        | AggregateError::UnexpectedError(e) => e,
        other => return StoreError::Configuration(other.to_string()),
    };
    match boxed.downcast::<StoreError>() {
        Ok(store_error) => *store_error,
        Err(other) => StoreError::Configuration(other.to_string()),
    }
}
