//! Time travel: a case as it stood after each of its events, and as it stood
//! at a version or an instant — read from the event store itself, not from
//! any read model, so a supervisor sees exactly what was decided on and who
//! recorded what, when.
//!
//! States are the `CareCase` aggregate as the rules saw it (it holds no
//! personal data). Events are shown with their sealed fields as
//! `{"sealed": true}`: a value exists, and reading it takes
//! [`crate::case_file::reveal_personal_fields`], which is logged.

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use serde::Serialize;
use serde_json::{Map, Value};
use shouwang_domain::PersonalData;
use shouwang_domain::care_case::{CareCase, CaseEvent};
use shouwang_infrastructure::{AsOf, PersonalDataMode, SqlEventStore, Store};
use uuid::Uuid;

use crate::ProjectionError;

/// One step of a case's history: the event and the full state after it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayStep {
    pub version: u64,
    pub position: i64,
    pub event_type: String,
    pub recorded_at: DateTime<Utc>,
    pub actor: Option<String>,
    pub role: Option<String>,
    pub organization: Option<String>,
    pub reason: Option<String>,
    /// The event's fields, sealed ones shown as `{"sealed": true}`.
    pub event: Value,
    /// The whole aggregate state after applying this event.
    pub state: Value,
}

fn sealed_marker() -> Value {
    let mut marker = Map::with_capacity(1);
    marker.insert("sealed".to_owned(), Value::Bool(true));
    Value::Object(marker)
}

fn state_value(case: &CareCase) -> Result<Value, ProjectionError> {
    serde_json::to_value(case).map_err(ProjectionError::decode)
}

/// The case after each of its events, in order: one step per event. Empty
/// when no such case exists.
pub async fn replay_case(store: &Store, case_id: Uuid) -> Result<Vec<ReplayStep>, ProjectionError> {
    let events = store
        .load_stream(&case_id.to_string(), 0, PersonalDataMode::Withhold)
        .await?;
    if events
        .first()
        .is_some_and(|e| e.stream_type != CareCase::TYPE)
    {
        return Ok(Vec::new());
    }
    let mut case = CareCase::default();
    let mut steps = Vec::with_capacity(events.len());
    for recorded in events {
        let event: CaseEvent = recorded.decode()?;
        // Withheld fields read as erased; say honestly that they are only
        // sealed.
        let mut shown = recorded.payload.clone();
        if let Value::Object(fields) = &mut shown {
            for name in event.sealed_fields() {
                if fields.contains_key(*name) {
                    fields.insert((*name).to_owned(), sealed_marker());
                }
            }
        }
        case.apply(event);
        let meta = |key: &str| recorded.metadata.get(key).cloned();
        steps.push(ReplayStep {
            version: recorded.stream_version,
            position: recorded.position,
            event_type: recorded.event_type.clone(),
            recorded_at: recorded.recorded_at,
            actor: meta("actor"),
            role: meta("role"),
            organization: meta("organization"),
            reason: meta("reason"),
            event: shown,
            state: state_value(&case)?,
        });
    }
    Ok(steps)
}

/// The case as it stood at a version (after that many events) or at an
/// instant (every event recorded up to and including it), with the version
/// reached; `None` when the case did not exist yet.
pub async fn case_as_of(
    store: &Store,
    case_id: Uuid,
    as_of: AsOf,
) -> Result<Option<(Value, u64)>, ProjectionError> {
    let stream_id = case_id.to_string();
    if store
        .stream_type(&stream_id)
        .await?
        .is_some_and(|t| t != CareCase::TYPE)
    {
        return Ok(None);
    }
    let (case, version) = SqlEventStore::<CareCase>::new(store.clone())
        .load_as_of(&stream_id, as_of)
        .await?;
    if version == 0 {
        return Ok(None);
    }
    Ok(Some((state_value(&case)?, version)))
}
