//! The audit trail: every event of every stream, with who recorded it, in
//! what role, for which organization, when, why, under which command — and
//! the case and region it concerns, so that an auditor can filter by them.
//! Shown next to it: the access log of every unsealing of personal data
//! (table `access_log`, written by [`crate::case_file::reveal_personal_fields`],
//! append-only like the events).
//!
//! The trail records events it does not understand too: it reads the
//! metadata and a few well-known payload fields as JSON, never decoding into
//! a domain type, so no new event type can stop it.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use shouwang_infrastructure::store::format_instant;
use shouwang_infrastructure::{Backend, Database, RecordedEvent, with_pool};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use crate::case_file::statements::Arg;
use crate::case_file::{DEFAULT_LIMIT, MAX_LIMIT, parse_instant};
use crate::sql::execute_rows;
use crate::{Projection, ProjectionError, TableNames, Tx};

/// The projections this module keeps.
pub fn projections() -> Vec<Arc<dyn Projection>> {
    vec![Arc::new(AuditTrailProjection)]
}

/// Keeps `audit_trail` (one row per event) and `audit_streams` (what each
/// stream concerns, for events that do not say it themselves).
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditTrailProjection;

const TABLES: &[&str] = &["audit_trail", "audit_streams"];

const CREATE_TABLES: &[&str] = &[
    "CREATE TABLE {audit_trail} (
        position          BIGINT PRIMARY KEY,
        txid              BIGINT NOT NULL,
        stream_type       TEXT   NOT NULL,
        stream_id         TEXT   NOT NULL,
        stream_version    BIGINT NOT NULL,
        event_type        TEXT   NOT NULL,
        schema_version    BIGINT NOT NULL,
        actor             TEXT,
        role              TEXT,
        organization      TEXT,
        recorded_at       TEXT   NOT NULL,
        reason            TEXT,
        command_id        TEXT,
        correlation_id    TEXT,
        client_time       TEXT,
        case_id           TEXT,
        region_code       TEXT,
        other_region_code TEXT
    )",
    "CREATE INDEX {audit_trail}_by_actor ON {audit_trail} (actor, position)",
    "CREATE INDEX {audit_trail}_by_case ON {audit_trail} (case_id, position)",
    "CREATE INDEX {audit_trail}_by_stream ON {audit_trail} (stream_id, stream_version)",
    "CREATE INDEX {audit_trail}_by_type ON {audit_trail} (event_type, position)",
    "CREATE INDEX {audit_trail}_by_time ON {audit_trail} (recorded_at)",
    "CREATE INDEX {audit_trail}_by_region ON {audit_trail} (region_code)",
    "CREATE TABLE {audit_streams} (
        stream_id   TEXT PRIMARY KEY,
        stream_type TEXT NOT NULL,
        case_id     TEXT,
        region_code TEXT
    )",
];

#[async_trait]
impl Projection for AuditTrailProjection {
    fn name(&self) -> &'static str {
        "audit_trail"
    }

    fn version(&self) -> i32 {
        1
    }

    fn tables(&self) -> &'static [&'static str] {
        TABLES
    }

    fn create_tables(&self, _backend: Backend, names: &TableNames) -> Vec<String> {
        CREATE_TABLES.iter().map(|sql| names.render(sql)).collect()
    }

    async fn apply(
        &self,
        tx: &mut Tx<'_>,
        names: &TableNames,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        apply_audit(tx, names, std::slice::from_ref(event)).await
    }

    async fn apply_batch(
        &self,
        tx: &mut Tx<'_>,
        names: &TableNames,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        apply_audit(tx, names, events).await
    }
}

const UPSERT_STREAMS_HEAD: &str =
    "INSERT INTO {audit_streams} (stream_id, stream_type, case_id, region_code)";
/// The values written are already merged with what was known.
const UPSERT_STREAMS_TAIL: &str = "ON CONFLICT (stream_id) DO UPDATE SET \
     case_id = excluded.case_id, region_code = excluded.region_code";
const INSERT_TRAIL_HEAD: &str = "INSERT INTO {audit_trail} (position, txid, stream_type, stream_id, \
     stream_version, event_type, schema_version, actor, role, organization, recorded_at, reason, \
     command_id, correlation_id, client_time, case_id, region_code, other_region_code)";

/// What the audit trail remembers of a stream.
#[derive(Debug)]
struct Known {
    stream_type: String,
    case_id: Option<String>,
    region_code: Option<String>,
}

/// Applies events in feed order: the streams they concern are read in one
/// statement and followed in memory; the trail rows and the streams learned
/// are written in a few multi-row statements.
async fn apply_audit(
    tx: &mut Tx<'_>,
    names: &TableNames,
    events: &[RecordedEvent],
) -> Result<(), ProjectionError> {
    let mut ids: BTreeSet<&str> = BTreeSet::new();
    for event in events {
        ids.insert(&event.stream_id);
        if (event.stream_type.as_str(), event.event_type.as_str())
            == ("volunteer", "VolunteerRegistered")
            && let Some(organization) = event.payload.get("organization_id").and_then(Value::as_str)
        {
            ids.insert(organization);
        }
    }
    let mut known = load_streams(tx, names, &ids).await?;
    let mut changed: BTreeSet<String> = BTreeSet::new();
    let mut trail = Vec::with_capacity(events.len());
    for event in events {
        let concern = concern_of(&known, event);
        if let Some(stream) = concern.remember {
            let entry = known
                .entry(event.stream_id.clone())
                .or_insert_with(|| Known {
                    stream_type: event.stream_type.clone(),
                    case_id: None,
                    region_code: None,
                });
            entry.case_id = stream.case_id.or(entry.case_id.take());
            entry.region_code = stream.region_code.or(entry.region_code.take());
            changed.insert(event.stream_id.clone());
        }
        let meta = |key: &str| Arg::Text(event.metadata.get(key).cloned());
        trail.push(vec![
            Arg::Int(Some(event.position)),
            Arg::Int(Some(event.txid)),
            Arg::Text(Some(event.stream_type.clone())),
            Arg::Text(Some(event.stream_id.clone())),
            Arg::Int(Some(
                i64::try_from(event.stream_version).unwrap_or(i64::MAX),
            )),
            Arg::Text(Some(event.event_type.clone())),
            Arg::Int(Some(i64::from(event.schema_version))),
            meta("actor"),
            meta("role"),
            meta("organization"),
            Arg::Text(Some(format_instant(event.recorded_at))),
            meta("reason"),
            meta("command_id"),
            meta("correlation_id"),
            meta("client_time"),
            Arg::Text(concern.case_id),
            Arg::Text(concern.region_code),
            Arg::Text(concern.other_region_code),
        ]);
    }
    let streams: Vec<Vec<Arg>> = changed
        .into_iter()
        .filter_map(|stream_id| {
            let stream = known.get(&stream_id)?;
            Some(vec![
                Arg::Text(Some(stream_id.clone())),
                Arg::Text(Some(stream.stream_type.clone())),
                Arg::Text(stream.case_id.clone()),
                Arg::Text(stream.region_code.clone()),
            ])
        })
        .collect();
    execute_rows(
        tx,
        &names.render(UPSERT_STREAMS_HEAD),
        &names.render(UPSERT_STREAMS_TAIL),
        streams,
    )
    .await?;
    execute_rows(tx, &names.render(INSERT_TRAIL_HEAD), "", trail).await
}

async fn load_streams(
    tx: &mut Tx<'_>,
    names: &TableNames,
    ids: &BTreeSet<&str>,
) -> Result<HashMap<String, Known>, ProjectionError> {
    let ids: Vec<&str> = ids.iter().copied().collect();
    let mut known = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(5_000) {
        let placeholders = crate::sql::placeholders(tx, chunk.len());
        let sql = names.render(&format!(
            "SELECT stream_id, stream_type, case_id, region_code FROM {{audit_streams}} \
             WHERE stream_id IN ({placeholders})"
        ));
        let rows: Vec<(String, String, Option<String>, Option<String>)> = crate::with_tx!(tx, conn => {
            let mut query = sqlx::query_as(AssertSqlSafe(sql)).persistent(false);
            for id in chunk {
                query = query.bind(*id);
            }
            query.fetch_all(&mut *conn).await?
        });
        for (stream_id, stream_type, case_id, region_code) in rows {
            known.insert(
                stream_id,
                Known {
                    stream_type,
                    case_id,
                    region_code,
                },
            );
        }
    }
    Ok(known)
}

/// What one event concerns, and what its stream is to be remembered as.
#[derive(Debug, Default)]
struct Concern {
    case_id: Option<String>,
    region_code: Option<String>,
    /// The region left behind by a transfer, so that both sides' auditors
    /// find it.
    other_region_code: Option<String>,
    remember: Option<StreamConcern>,
}

#[derive(Debug)]
struct StreamConcern {
    case_id: Option<String>,
    region_code: Option<String>,
}

fn text_field(payload: &Value, name: &str) -> Option<String> {
    payload.get(name).and_then(Value::as_str).map(str::to_owned)
}

fn remembered(known: &HashMap<String, Known>, stream_id: &str) -> (Option<String>, Option<String>) {
    known
        .get(stream_id)
        .map(|k| (k.case_id.clone(), k.region_code.clone()))
        .unwrap_or_default()
}

/// The case and region an event concerns: from the event when it says so
/// (opening, transfer, registration, planning), else from what its stream
/// said earlier.
fn concern_of(known: &HashMap<String, Known>, event: &RecordedEvent) -> Concern {
    let payload = &event.payload;
    let (known_case, known_region) = remembered(known, &event.stream_id);
    let mut concern = Concern {
        case_id: known_case,
        region_code: known_region,
        ..Concern::default()
    };
    let region_now = match (event.stream_type.as_str(), event.event_type.as_str()) {
        ("care_case", "CaseOpened") => {
            concern.case_id = Some(event.stream_id.clone());
            text_field(payload, "residence_region")
        }
        ("care_case", "CaseTransferred") => {
            concern.other_region_code = text_field(payload, "from_region");
            text_field(payload, "to_region")
        }
        ("need", "NeedRaised") => {
            concern.case_id = text_field(payload, "case_id");
            text_field(payload, "region")
        }
        ("organization", "OrganizationRegistered") | ("activity", "ActivityPlanned") => {
            text_field(payload, "region")
        }
        // A volunteer serves where their organization is registered.
        ("volunteer", "VolunteerRegistered") => match text_field(payload, "organization_id") {
            Some(organization) => remembered(known, &organization).1,
            None => None,
        },
        _ => None,
    };
    if event.stream_type == "care_case" {
        concern.case_id = Some(event.stream_id.clone());
    }
    let establishes = region_now.is_some() || event.stream_version == 1;
    if region_now.is_some() {
        concern.region_code = region_now;
    }
    if establishes {
        concern.remember = Some(StreamConcern {
            case_id: concern.case_id.clone(),
            region_code: concern.region_code.clone(),
        });
    }
    concern
}

// ---------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------

/// One recorded event as the audit trail shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub position: i64,
    pub stream_type: String,
    pub stream_id: String,
    pub stream_version: u64,
    pub event_type: String,
    pub schema_version: i64,
    pub actor: Option<String>,
    pub role: Option<String>,
    pub organization: Option<String>,
    pub recorded_at: DateTime<Utc>,
    pub reason: Option<String>,
    pub command_id: Option<String>,
    pub correlation_id: Option<String>,
    /// When the worker's device says it happened (offline recording).
    pub client_time: Option<DateTime<Utc>>,
    pub case_id: Option<String>,
    pub region_code: Option<String>,
}

/// Which events to show. Every condition given must hold; times are
/// inclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor: Option<String>,
    /// Events of the case and of the needs raised for it.
    pub case_id: Option<Uuid>,
    /// Events of one stream of any type.
    pub stream_id: Option<String>,
    /// The organization the actor acted for.
    pub organization: Option<String>,
    pub event_type: Option<String>,
    /// A prefix of the region code; a transfer matches both its regions.
    pub region_prefix: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<u32>,
    /// Keyset paging: only events after this position.
    pub after_position: Option<i64>,
}

#[derive(Debug, sqlx::FromRow)]
struct AuditRow {
    position: i64,
    stream_type: String,
    stream_id: String,
    stream_version: i64,
    event_type: String,
    schema_version: i64,
    actor: Option<String>,
    role: Option<String>,
    organization: Option<String>,
    recorded_at: String,
    reason: Option<String>,
    command_id: Option<String>,
    correlation_id: Option<String>,
    client_time: Option<String>,
    case_id: Option<String>,
    region_code: Option<String>,
}

/// `substr` rather than `LIKE`, so no character of a prefix is a wildcard.
const SELECT_AUDIT: &str = "SELECT position, stream_type, stream_id, stream_version, event_type, \
     schema_version, actor, role, organization, recorded_at, reason, command_id, correlation_id, \
     client_time, case_id, region_code FROM audit_trail \
     WHERE ($1 IS NULL OR actor = $1) \
       AND ($2 IS NULL OR case_id = $2) \
       AND ($3 IS NULL OR stream_id = $3) \
       AND ($4 IS NULL OR organization = $4) \
       AND ($5 IS NULL OR event_type = $5) \
       AND ($6 IS NULL OR substr(region_code, 1, length($6)) = $6 \
            OR substr(other_region_code, 1, length($6)) = $6) \
       AND ($7 IS NULL OR recorded_at >= $7) \
       AND ($8 IS NULL OR recorded_at <= $8) \
       AND position > $9 \
     ORDER BY position LIMIT $10";

/// The events matching `filter`, in position order.
pub async fn audit_trail(
    db: &Database,
    filter: &AuditFilter,
) -> Result<Vec<AuditEntry>, ProjectionError> {
    let limit = filter.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let rows: Vec<AuditRow> = with_pool!(db, pool => {
        sqlx::query_as(SELECT_AUDIT)
            .bind(filter.actor.clone())
            .bind(filter.case_id.map(|id| id.to_string()))
            .bind(filter.stream_id.clone())
            .bind(filter.organization.clone())
            .bind(filter.event_type.clone())
            .bind(filter.region_prefix.clone())
            .bind(filter.from.map(format_instant))
            .bind(filter.to.map(format_instant))
            .bind(filter.after_position.unwrap_or(0))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
    });
    rows.into_iter()
        .map(|row| {
            Ok(AuditEntry {
                position: row.position,
                stream_type: row.stream_type,
                stream_id: row.stream_id,
                stream_version: u64::try_from(row.stream_version).unwrap_or_default(),
                event_type: row.event_type,
                schema_version: row.schema_version,
                actor: row.actor,
                role: row.role,
                organization: row.organization,
                recorded_at: parse_instant(&row.recorded_at)?,
                reason: row.reason,
                command_id: row.command_id,
                correlation_id: row.correlation_id,
                client_time: row.client_time.as_deref().map(parse_instant).transpose()?,
                case_id: row.case_id,
                region_code: row.region_code,
            })
        })
        .collect()
}

/// One opening of a person's personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessLogEntry {
    pub id: i64,
    pub accessed_at: DateTime<Utc>,
    pub actor: String,
    pub role: String,
    pub organization: Option<String>,
    pub case_id: String,
    pub reason: String,
    /// Names of the fields that were shown with a readable value.
    pub revealed: Vec<String>,
    /// The case's stream version that was read.
    pub stream_version: u64,
    /// True when the person's data had been erased and nothing was readable.
    pub erased: bool,
}

/// Which accesses to show; times are inclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessLogFilter {
    pub case_id: Option<Uuid>,
    pub actor: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<u32>,
}

#[derive(Debug, sqlx::FromRow)]
struct AccessRow {
    id: i64,
    accessed_at: String,
    actor: String,
    role: String,
    organization: Option<String>,
    case_id: String,
    reason: String,
    revealed: String,
    stream_version: i64,
    erased: i64,
}

const SELECT_ACCESS: &str = "SELECT id, accessed_at, actor, role, organization, case_id, reason, \
     revealed, stream_version, erased FROM access_log \
     WHERE ($1 IS NULL OR case_id = $1) \
       AND ($2 IS NULL OR actor = $2) \
       AND ($3 IS NULL OR accessed_at >= $3) \
       AND ($4 IS NULL OR accessed_at <= $4) \
     ORDER BY id LIMIT $5";

/// The accesses matching `filter`, oldest first.
pub async fn access_log(
    db: &Database,
    filter: &AccessLogFilter,
) -> Result<Vec<AccessLogEntry>, ProjectionError> {
    let limit = filter.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let rows: Vec<AccessRow> = with_pool!(db, pool => {
        sqlx::query_as(SELECT_ACCESS)
            .bind(filter.case_id.map(|id| id.to_string()))
            .bind(filter.actor.clone())
            .bind(filter.from.map(format_instant))
            .bind(filter.to.map(format_instant))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
    });
    rows.into_iter()
        .map(|row| {
            Ok(AccessLogEntry {
                id: row.id,
                accessed_at: parse_instant(&row.accessed_at)?,
                actor: row.actor,
                role: row.role,
                organization: row.organization,
                case_id: row.case_id,
                reason: row.reason,
                revealed: serde_json::from_str(&row.revealed).map_err(ProjectionError::decode)?,
                stream_version: u64::try_from(row.stream_version).unwrap_or_default(),
                erased: row.erased != 0,
            })
        })
        .collect()
}

/// An access about to be logged.
#[derive(Debug, Clone)]
pub(crate) struct NewAccess<'a> {
    pub accessed_at: DateTime<Utc>,
    pub actor: &'a str,
    pub role: &'a str,
    pub organization: Option<&'a str>,
    pub case_id: &'a str,
    pub reason: &'a str,
    pub revealed: &'a [String],
    pub stream_version: u64,
    pub erased: bool,
}

const INSERT_ACCESS: &str = "INSERT INTO access_log (accessed_at, actor, role, organization, case_id, \
     reason, revealed, stream_version, erased) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

pub(crate) async fn record_access(
    db: &Database,
    access: &NewAccess<'_>,
) -> Result<(), sqlx::Error> {
    let revealed = Value::Array(
        access
            .revealed
            .iter()
            .map(|name| Value::String(name.clone()))
            .collect(),
    )
    .to_string();
    with_pool!(db, pool => {
        sqlx::query(INSERT_ACCESS)
            .bind(format_instant(access.accessed_at))
            .bind(access.actor)
            .bind(access.role)
            .bind(access.organization)
            .bind(access.case_id)
            .bind(access.reason)
            .bind(&revealed)
            .bind(i64::try_from(access.stream_version).unwrap_or(i64::MAX))
            .bind(i64::from(access.erased))
            .execute(pool)
            .await?;
    });
    Ok(())
}
