//! Reading care cases (一人一档): the case list, the case file with its
//! timeline, the person's sealed fields for one reader (logged; masked for
//! auditors), break-the-glass, and time travel (replay and as-of).
//!
//! Every opening of a case — file, personal fields, replay, as-of — is
//! written to the access log with who, when and why; only the personal-data
//! call names fields as revealed.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use shouwang_domain::Personal;
use shouwang_domain::vocabulary::{CareCategory, CaseStatus, Department};
use shouwang_infrastructure::AsOf;
use shouwang_infrastructure::users::{BreakGlassGrant, User, grant_break_glass};
use shouwang_projections::case_file::{
    self, Caregiver, CaseFile, CaseFilter, CaseNeed, CaseSummary, CategoryChange, CorrectionNote,
    Page, PersonalFields, Profile, Reader, Recorder, Referral, RevealError, RevealedCorrection,
    RiskEntry, TimelineEntry, mask_id_number, mask_phone, record_case_file_opened,
    reveal_personal_fields,
};
use shouwang_projections::replay::{ReplayStep, case_as_of, replay_case};
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::authz::{self, Operation};
use crate::consistency::{After, wait_for};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::cases::case_in_scope;
use crate::routes::ledgers::requested_area;
use crate::state::AppState;

/// The read model the case list and the case file come from.
const CASE_FILE_PROJECTION: &str = "case_file";

// ---------------------------------------------------------------------------
// Shared with the audit endpoints
// ---------------------------------------------------------------------------

/// The current region of a case from its stream (authoritative, never
/// behind); `None` when there is no such case.
pub(crate) async fn case_region(
    state: &AppState,
    case_id: Uuid,
) -> Result<Option<String>, ApiError> {
    if !state.app().case_exists(case_id).await? {
        return Ok(None);
    }
    let case = state
        .app()
        .cases
        .event_store()
        .load_for_decision(&case_id.to_string())
        .await?
        .aggregate;
    Ok(Some(
        case.region()
            .map(|r| r.as_str().to_owned())
            .unwrap_or_default(),
    ))
}

/// The reader the access log names: the authenticated user and their reason.
fn reader(user: &User, reason: String) -> Reader {
    Reader {
        actor: user.username.clone(),
        role: user.role.code().to_owned(),
        organization: user.organization_id.map(|o| o.to_string()),
        reason,
    }
}

/// The reason given in a query, or what the request itself says.
fn reason_or(given: Option<String>, default: &str) -> String {
    given
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn reason_required() -> ApiError {
    ApiError::refused(
        "reason_required",
        "必须说明理由（个人信息保护法要求记录查看目的），例如“入户前核对联系电话”",
    )
    .with_field("reason")
}

fn reveal_error(error: RevealError) -> ApiError {
    match error {
        RevealError::ReasonRequired => reason_required(),
        RevealError::CaseNotFound(_) => ApiError::not_found("该个案"),
        RevealError::Store(store) => store.into(),
        other => ApiError::internal(&other),
    }
}

/// The case exists (its stream says so) but the read model has not applied
/// it yet: the client retries instead of reading a 404.
fn case_file_behind() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "read_model_behind",
        "该个案的档案正在生成，请稍后重试",
    )
    .with_retry_after(1)
}

/// Writes the access-log row for an opening that shows no personal value.
async fn log_opening(
    state: &AppState,
    user: &User,
    case_id: Uuid,
    reason: String,
    stream_version: u64,
    erased: bool,
) -> Result<(), ApiError> {
    record_case_file_opened(
        state.db(),
        case_id,
        &reader(user, reason),
        stream_version,
        erased,
    )
    .await
    .map_err(reveal_error)
}

// ---------------------------------------------------------------------------
// Views
// ---------------------------------------------------------------------------

/// Who recorded an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RecorderView {
    pub actor: String,
    /// Role code, e.g. `social_worker`.
    pub role: String,
    pub organization: Option<String>,
}

impl From<Recorder> for RecorderView {
    fn from(recorder: Recorder) -> Self {
        Self {
            actor: recorder.actor,
            role: recorder.role,
            organization: recorder.organization,
        }
    }
}

/// One line of the case list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CaseSummaryView {
    pub case_id: String,
    pub name: String,
    /// Gender code.
    pub gender: String,
    pub birth_date: NaiveDate,
    pub region_code: String,
    pub organization_id: Option<String>,
    /// `open` or `closed`.
    pub status: String,
    pub risk_level: String,
    /// Care category codes.
    pub categories: Vec<String>,
    pub opened_on: NaiveDate,
    pub closed_on: Option<NaiveDate>,
    pub last_visit_on: Option<NaiveDate>,
    /// True once the person's personal data was erased.
    pub erased: bool,
    pub updated_at: DateTime<Utc>,
}

impl From<CaseSummary> for CaseSummaryView {
    fn from(case: CaseSummary) -> Self {
        Self {
            case_id: case.case_id,
            name: case.name,
            gender: case.gender,
            birth_date: case.birth_date,
            region_code: case.region_code,
            organization_id: case.organization_id,
            status: case.status,
            risk_level: case.risk_level,
            categories: case.categories,
            opened_on: case.opened_on,
            closed_on: case.closed_on,
            last_visit_on: case.last_visit_on,
            erased: case.erased,
            updated_at: case.updated_at,
        }
    }
}

/// One page of cases, most recently opened first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CaseListView {
    pub items: Vec<CaseSummaryView>,
    /// How many cases match in all.
    pub total: u64,
    pub limit: u32,
    pub offset: u32,
}

impl From<Page<CaseSummary>> for CaseListView {
    fn from(page: Page<CaseSummary>) -> Self {
        Self {
            items: page.items.into_iter().map(Into::into).collect(),
            total: page.total,
            limit: page.limit,
            offset: page.offset,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CategoryChangeView {
    pub category: String,
    /// `added` or `removed`.
    pub change: String,
    pub reason: String,
    pub effective_on: NaiveDate,
    pub stream_version: u64,
    pub recorded_by: RecorderView,
    pub recorded_at: DateTime<Utc>,
}

impl From<CategoryChange> for CategoryChangeView {
    fn from(change: CategoryChange) -> Self {
        Self {
            category: change.category,
            change: change.change,
            reason: change.reason,
            effective_on: change.effective_on,
            stream_version: change.stream_version,
            recorded_by: change.recorded_by.into(),
            recorded_at: change.recorded_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RiskEntryView {
    pub level: String,
    pub factors: Vec<String>,
    pub assessed_on: NaiveDate,
    pub stream_version: u64,
    pub recorded_by: RecorderView,
    pub recorded_at: DateTime<Utc>,
}

impl From<RiskEntry> for RiskEntryView {
    fn from(risk: RiskEntry) -> Self {
        Self {
            level: risk.level,
            factors: risk.factors,
            assessed_on: risk.assessed_on,
            stream_version: risk.stream_version,
            recorded_by: risk.recorded_by.into(),
            recorded_at: risk.recorded_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CaregiverView {
    pub organization_id: String,
    pub worker_id: String,
    /// 包户 arrangement code.
    pub arrangement: String,
    pub started_on: NaiveDate,
    pub ended_on: Option<NaiveDate>,
    pub release_reason: Option<String>,
    pub assigned_by: String,
    pub assigned_at: DateTime<Utc>,
}

impl From<Caregiver> for CaregiverView {
    fn from(caregiver: Caregiver) -> Self {
        Self {
            organization_id: caregiver.organization_id,
            worker_id: caregiver.worker_id,
            arrangement: caregiver.arrangement,
            started_on: caregiver.started_on,
            ended_on: caregiver.ended_on,
            release_reason: caregiver.release_reason,
            assigned_by: caregiver.assigned_by,
            assigned_at: caregiver.assigned_at,
        }
    }
}

/// The latest 台账 without its sealed fields (health, care situation, notes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ProfileView {
    pub economic_source: String,
    pub family_structure: String,
    pub lives_alone: bool,
    /// 分 (fen).
    pub monthly_income_fen: i64,
    pub recorded_on: NaiveDate,
    pub stream_version: u64,
}

impl From<Profile> for ProfileView {
    fn from(profile: Profile) -> Self {
        Self {
            economic_source: profile.economic_source,
            family_structure: profile.family_structure,
            lives_alone: profile.lives_alone,
            monthly_income_fen: profile.monthly_income_fen,
            recorded_on: profile.recorded_on,
            stream_version: profile.stream_version,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ReferralView {
    pub referral_id: String,
    pub department: String,
    pub referred_on: NaiveDate,
    pub resolved_on: Option<NaiveDate>,
}

impl From<Referral> for ReferralView {
    fn from(referral: Referral) -> Self {
        Self {
            referral_id: referral.referral_id,
            department: referral.department,
            referred_on: referral.referred_on,
            resolved_on: referral.resolved_on,
        }
    }
}

/// A need (微星愿) raised for the person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CaseNeedView {
    pub need_id: String,
    pub category: String,
    pub micro_wish: bool,
    pub urgency: String,
    pub source: String,
    pub status: String,
    pub level: String,
    pub organization_id: Option<String>,
    pub raised_on: NaiveDate,
    pub due_on: Option<NaiveDate>,
    pub fulfilled_on: Option<NaiveDate>,
    /// The resident's satisfaction, in tenths.
    pub satisfaction: Option<i64>,
}

impl From<CaseNeed> for CaseNeedView {
    fn from(need: CaseNeed) -> Self {
        Self {
            need_id: need.need_id,
            category: need.category,
            micro_wish: need.micro_wish,
            urgency: need.urgency,
            source: need.source,
            status: need.status,
            level: need.level,
            organization_id: need.organization_id,
            raised_on: need.raised_on,
            due_on: need.due_on,
            fulfilled_on: need.fulfilled_on,
            satisfaction: need.satisfaction,
        }
    }
}

/// A correction shown beside the entry it corrects; its values are sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CorrectionNoteView {
    /// The stream version of the correction event.
    pub stream_version: u64,
    pub position: i64,
    pub reason: String,
    pub corrected_by: RecorderView,
    pub corrected_at: DateTime<Utc>,
}

impl From<CorrectionNote> for CorrectionNoteView {
    fn from(note: CorrectionNote) -> Self {
        Self {
            stream_version: note.stream_version,
            position: note.position,
            reason: note.reason,
            corrected_by: note.corrected_by.into(),
            corrected_at: note.corrected_at,
        }
    }
}

/// One thing recorded about the person.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TimelineEntryView {
    pub position: i64,
    /// `care_case`, or `need` for a need raised for the person.
    pub stream_type: String,
    pub stream_id: String,
    pub stream_version: u64,
    pub event_type: String,
    pub occurred_on: Option<NaiveDate>,
    /// As first recorded; corrections never rewrite it.
    pub summary: String,
    /// The event's fields without the sealed personal ones.
    #[schema(value_type = Object)]
    pub details: Value,
    pub recorded_by: RecorderView,
    pub recorded_at: DateTime<Utc>,
    pub corrections: Vec<CorrectionNoteView>,
}

impl From<TimelineEntry> for TimelineEntryView {
    fn from(entry: TimelineEntry) -> Self {
        Self {
            position: entry.position,
            stream_type: entry.stream_type,
            stream_id: entry.stream_id,
            stream_version: entry.stream_version,
            event_type: entry.event_type,
            occurred_on: entry.occurred_on,
            summary: entry.summary,
            details: entry.details,
            recorded_by: entry.recorded_by.into(),
            recorded_at: entry.recorded_at,
            corrections: entry.corrections.into_iter().map(Into::into).collect(),
        }
    }
}

/// The case file (一人一档) without the person's sealed fields: ID number,
/// phone, address and notes are read with the personal-data call.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CaseFileView {
    pub case_id: String,
    pub name: String,
    pub gender: String,
    pub birth_date: NaiveDate,
    pub region_code: String,
    pub organization_id: Option<String>,
    pub identified_via: String,
    pub status: String,
    pub opened_on: NaiveDate,
    pub closed_on: Option<NaiveDate>,
    pub close_reason: Option<String>,
    pub close_note: Option<String>,
    pub reopened_on: Option<NaiveDate>,
    pub erased: bool,
    pub erased_on: Option<NaiveDate>,
    pub categories: Vec<String>,
    pub category_history: Vec<CategoryChangeView>,
    pub risk_level: String,
    pub risk_assessed_on: Option<NaiveDate>,
    pub risk_history: Vec<RiskEntryView>,
    /// Caregivers looking after the person now.
    pub caregivers: Vec<CaregiverView>,
    /// Every assignment, current and ended, oldest first.
    pub caregiver_history: Vec<CaregiverView>,
    pub profile: Option<ProfileView>,
    pub referrals: Vec<ReferralView>,
    pub needs: Vec<CaseNeedView>,
    /// Everything recorded about the person, in recording order.
    pub timeline: Vec<TimelineEntryView>,
    pub visits: u64,
    pub services: u64,
    pub last_visit_on: Option<NaiveDate>,
    pub version: u64,
    /// The global position of the last event applied to this file.
    pub last_position: i64,
    pub opened_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<CaseFile> for CaseFileView {
    fn from(file: CaseFile) -> Self {
        fn all<T, V: From<T>>(items: Vec<T>) -> Vec<V> {
            items.into_iter().map(Into::into).collect()
        }
        Self {
            case_id: file.case_id,
            name: file.name,
            gender: file.gender,
            birth_date: file.birth_date,
            region_code: file.region_code,
            organization_id: file.organization_id,
            identified_via: file.identified_via,
            status: file.status,
            opened_on: file.opened_on,
            closed_on: file.closed_on,
            close_reason: file.close_reason,
            close_note: file.close_note,
            reopened_on: file.reopened_on,
            erased: file.erased,
            erased_on: file.erased_on,
            categories: file.categories,
            category_history: all(file.category_history),
            risk_level: file.risk_level,
            risk_assessed_on: file.risk_assessed_on,
            risk_history: all(file.risk_history),
            caregivers: all(file.caregivers),
            caregiver_history: all(file.caregiver_history),
            profile: file.profile.map(Into::into),
            referrals: all(file.referrals),
            needs: all(file.needs),
            timeline: all(file.timeline),
            visits: file.visits,
            services: file.services,
            last_visit_on: file.last_visit_on,
            version: file.version,
            last_position: file.last_position,
            opened_at: file.opened_at,
            updated_at: file.updated_at,
        }
    }
}

/// Why a value is not shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct HiddenValue {
    /// The person's data was erased (个人信息保护法 第47条): nothing is readable.
    pub erased: bool,
    /// Withheld from the reader's role: auditors never see free-text notes.
    pub withheld: bool,
}

impl HiddenValue {
    const ERASED: HiddenValue = HiddenValue {
        erased: true,
        withheld: false,
    };
    const WITHHELD: HiddenValue = HiddenValue {
        erased: false,
        withheld: true,
    };
}

/// A personal value as this reader may see it: the text (masked for
/// auditors), or why it is not shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ShownValue {
    Text(String),
    Hidden(HiddenValue),
}

/// Personal fields by name (a correction's values), as this reader may see
/// them, or why they are not shown.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ShownFields {
    Fields(FieldValues),
    Hidden(HiddenValue),
}

/// Values by field name, e.g. `{"phone": "13807910000"}`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct FieldValues(Map<String, Value>);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct WellbeingNoteView {
    pub stream_version: u64,
    pub visited_on: NaiveDate,
    pub text: ShownValue,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RevealedReferralView {
    pub referral_id: Uuid,
    pub department: Department,
    pub referred_on: NaiveDate,
    pub reason: ShownValue,
    pub answer: Option<ShownValue>,
}

/// A correction with the values it set and the ones it replaced.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RevealedCorrectionView {
    pub stream_version: u64,
    pub target_version: u64,
    pub target_event_type: String,
    pub reason: String,
    pub corrected: ShownFields,
    pub original: ShownFields,
    pub corrected_by: RecorderView,
    pub corrected_at: DateTime<Utc>,
}

/// The person's sealed fields as of now, corrections applied. The reading
/// is in the access log. Auditors see ID number, phone and address masked
/// and no notes.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PersonalDataView {
    pub case_id: Uuid,
    pub name: String,
    pub id_number: ShownValue,
    pub phone: ShownValue,
    pub address: ShownValue,
    /// From the latest 台账, when one was recorded.
    pub health: Option<ShownValue>,
    pub care_situation: Option<ShownValue>,
    pub profile_notes: Option<ShownValue>,
    pub wellbeing_notes: Vec<WellbeingNoteView>,
    pub referrals: Vec<RevealedReferralView>,
    pub corrections: Vec<RevealedCorrectionView>,
    /// True once the person's data was erased: nothing above is readable.
    pub erased: bool,
    /// True when values are masked for the reader's role (auditors).
    pub masked: bool,
    /// The case version these values are as of.
    pub version: u64,
    /// When the reading was logged.
    pub revealed_at: DateTime<Utc>,
}

/// An address as auditors see it: the first few characters (the town or
/// village, which the region code shows anyway), the rest hidden behind a
/// fixed mask so that not even its length is told.
fn mask_address(address: &str) -> String {
    let chars: Vec<char> = address.trim().chars().collect();
    let kept = (chars.len() / 2).min(6);
    let mut masked: String = chars[..kept].iter().collect();
    masked.push_str("****");
    masked
}

/// How one personal value is shown: as recorded, masked, or withheld.
#[derive(Debug, Clone, Copy)]
enum Showing {
    AsRecorded,
    Masked(fn(&str) -> String),
    Withheld,
}

fn show(value: Personal<String>, showing: Showing) -> ShownValue {
    match (value, showing) {
        (Personal::Erased(_), _) => ShownValue::Hidden(HiddenValue::ERASED),
        (Personal::Known(text), Showing::AsRecorded) => ShownValue::Text(text),
        (Personal::Known(text), Showing::Masked(mask)) => ShownValue::Text(mask(&text)),
        (Personal::Known(_), Showing::Withheld) => ShownValue::Hidden(HiddenValue::WITHHELD),
    }
}

/// Corrected fields for auditors: the identifying ones masked like the
/// originals, free text withheld.
fn mask_fields(fields: Map<String, Value>) -> Map<String, Value> {
    fields
        .into_iter()
        .map(|(name, value)| {
            let mask: Option<fn(&str) -> String> = match name.as_str() {
                "id_number" => Some(mask_id_number),
                "phone" => Some(mask_phone),
                "address" => Some(mask_address),
                _ => None,
            };
            let shown = match (mask, value.as_str()) {
                (Some(mask), Some(text)) => Value::String(mask(text)),
                _ => serde_json::to_value(HiddenValue::WITHHELD).unwrap_or(Value::Null),
            };
            (name, shown)
        })
        .collect()
}

impl PersonalDataView {
    fn shown_to(user: &User, fields: PersonalFields) -> Self {
        let masked = authz::sees_masked(user);
        let (id_number, phone, address, notes) = if masked {
            (
                Showing::Masked(mask_id_number),
                Showing::Masked(mask_phone),
                Showing::Masked(mask_address),
                Showing::Withheld,
            )
        } else {
            (
                Showing::AsRecorded,
                Showing::AsRecorded,
                Showing::AsRecorded,
                Showing::AsRecorded,
            )
        };
        let note = |value: Personal<String>| show(value, notes);
        let erased = fields.erased;
        let correction = |correction: RevealedCorrection| {
            let corrected = match correction.corrected {
                Personal::Erased(_) => ShownFields::Hidden(HiddenValue::ERASED),
                Personal::Known(values) if masked => {
                    ShownFields::Fields(FieldValues(mask_fields(values)))
                }
                Personal::Known(values) => ShownFields::Fields(FieldValues(values)),
            };
            // The originals come from the revealed target event: the same
            // person's data, shown the same way.
            let original = if erased {
                ShownFields::Hidden(HiddenValue::ERASED)
            } else if masked {
                ShownFields::Fields(FieldValues(mask_fields(correction.original)))
            } else {
                ShownFields::Fields(FieldValues(correction.original))
            };
            RevealedCorrectionView {
                stream_version: correction.stream_version,
                target_version: correction.target_version,
                target_event_type: correction.target_event_type,
                reason: correction.reason,
                corrected,
                original,
                corrected_by: correction.corrected_by.into(),
                corrected_at: correction.corrected_at,
            }
        };
        Self {
            case_id: fields.case_id,
            name: fields.name,
            id_number: show(fields.id_number, id_number),
            phone: show(fields.phone, phone),
            address: show(fields.address, address),
            health: fields.health.map(note),
            care_situation: fields.care_situation.map(note),
            profile_notes: fields.profile_notes.map(note),
            wellbeing_notes: fields
                .wellbeing_notes
                .into_iter()
                .map(|visit| WellbeingNoteView {
                    stream_version: visit.stream_version,
                    visited_on: visit.visited_on,
                    text: note(visit.text),
                })
                .collect(),
            referrals: fields
                .referrals
                .into_iter()
                .map(|referral| RevealedReferralView {
                    referral_id: referral.referral_id,
                    department: referral.department,
                    referred_on: referral.referred_on,
                    reason: note(referral.reason),
                    answer: referral.answer.map(note),
                })
                .collect(),
            corrections: fields.corrections.into_iter().map(correction).collect(),
            erased,
            masked,
            version: fields.version,
            revealed_at: fields.revealed_at,
        }
    }
}

/// A recorded break-the-glass grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct BreakGlassGrantView {
    pub id: Uuid,
    pub user_id: Uuid,
    pub username: String,
    pub case_id: Uuid,
    pub reason: String,
    pub granted_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// True while the grant still opens the case.
    pub live: bool,
}

impl BreakGlassGrantView {
    pub(crate) fn of(grant: BreakGlassGrant, now: DateTime<Utc>) -> Result<Self, ApiError> {
        let instant = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| ApiError::internal(&format!("破窗记录时间 {text} 无法解析：{e}")))
        };
        let expires_at = instant(&grant.expires_at)?;
        Ok(Self {
            id: grant.id,
            user_id: grant.user_id,
            username: grant.username,
            case_id: grant.case_id,
            reason: grant.reason,
            granted_at: instant(&grant.granted_at)?,
            expires_at,
            live: expires_at > now,
        })
    }
}

/// One step of a case's history: the event and the state after it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ReplayStepView {
    pub version: u64,
    pub position: i64,
    pub event_type: String,
    pub recorded_at: DateTime<Utc>,
    pub actor: Option<String>,
    pub role: Option<String>,
    pub organization: Option<String>,
    /// The reason given with the command, if any.
    pub reason: Option<String>,
    /// The event's fields; sealed personal ones read `{"sealed": true}`.
    #[schema(value_type = Object)]
    pub event: Value,
    /// The whole case state after this event (it holds no personal data).
    #[schema(value_type = Object)]
    pub state: Value,
}

impl From<ReplayStep> for ReplayStepView {
    fn from(step: ReplayStep) -> Self {
        Self {
            version: step.version,
            position: step.position,
            event_type: step.event_type,
            recorded_at: step.recorded_at,
            actor: step.actor,
            role: step.role,
            organization: step.organization,
            reason: step.reason,
            event: step.event,
            state: step.state,
        }
    }
}

/// A case's history, one step per event, read from the event store itself.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ReplayView {
    pub case_id: Uuid,
    pub steps: Vec<ReplayStepView>,
}

/// A case as it stood at a version or an instant.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CaseAsOfView {
    pub case_id: Uuid,
    /// The version reached: the number of events applied.
    pub version: u64,
    #[schema(value_type = Object)]
    pub state: Value,
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaseListQuery {
    /// A region code prefix within your scope (2, 4, 6, 9 or 12 digits);
    /// default: your whole scope.
    pub region: Option<String>,
    pub category: Option<CareCategory>,
    pub status: Option<CaseStatus>,
    /// The responsible organization, or one with a current caregiver.
    pub organization: Option<Uuid>,
    /// A current caregiver (worker id).
    pub worker: Option<Uuid>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OpeningQuery {
    /// Why you open the case, for the access log; default: what the
    /// request is (e.g. "查看个案档案").
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AsOfQuery {
    /// The case after this many events.
    pub version: Option<u64>,
    /// The case with every event recorded up to this instant (RFC 3339;
    /// write `+` as `%2B`).
    pub time: Option<DateTime<Utc>>,
    /// Why you look, for the access log.
    pub reason: Option<String>,
}

/// Why personal data is read or a case outside one's scope is opened.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ReasonRequest {
    /// 理由, e.g. “入户前核对联系电话” — written to the access log.
    pub reason: String,
}

// ---------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------

/// List cases within your scope, most recently opened first.
#[utoipa::path(get, path = "/api/v1/cases", tag = "case_files",
    security(("bearer" = [])),
    params(After, CaseListQuery),
    responses(
        (status = 200, body = CaseListView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn list_cases(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(after): ApiQuery<After>,
    ApiQuery(query): ApiQuery<CaseListQuery>,
) -> Result<Json<CaseListView>, ApiError> {
    let region = requested_area(
        &user,
        Operation::ReadCases,
        query.region.as_deref(),
        "region",
    )?
    .map(String::from);
    wait_for(&state, after, &[CASE_FILE_PROJECTION]).await?;
    let page = case_file::list_cases(
        state.db(),
        &CaseFilter {
            region_prefix: region,
            category: query.category,
            status: query.status,
            organization: query.organization,
            worker: query.worker,
            limit: query.limit,
            offset: query.offset.unwrap_or(0),
        },
    )
    .await?;
    Ok(Json(page.into()))
}

/// The case file (一人一档) with its timeline, without personal fields.
/// Readable within your scope or with a live break-the-glass grant; the
/// opening is written to the access log.
#[utoipa::path(get, path = "/api/v1/cases/{id}", tag = "case_files",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "个案编号"), After, OpeningQuery),
    responses(
        (status = 200, body = CaseFileView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn get_case_file(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(case_id): ApiPath<Uuid>,
    ApiQuery(after): ApiQuery<After>,
    ApiQuery(query): ApiQuery<OpeningQuery>,
) -> Result<Json<CaseFileView>, ApiError> {
    case_in_scope(&state, &user, case_id, Operation::ReadCases).await?;
    wait_for(&state, after, &[CASE_FILE_PROJECTION]).await?;
    let file = case_file::case_file(state.db(), case_id)
        .await?
        .ok_or_else(case_file_behind)?;
    log_opening(
        &state,
        &user,
        case_id,
        reason_or(query.reason, "查看个案档案"),
        file.version,
        file.erased,
    )
    .await?;
    Ok(Json(file.into()))
}

/// Read the person's personal fields (ID number, phone, address, notes),
/// giving a reason. Who, when, why and which fields are written to the
/// access log before anything is shown. Auditors see ID number, phone and
/// address masked (`360102********1234`, `138****5678`) and no notes.
#[utoipa::path(post, path = "/api/v1/cases/{id}/personal-data", tag = "case_files",
    request_body = ReasonRequest,
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "个案编号")),
    responses(
        (status = 200, body = PersonalDataView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn reveal_personal_data(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(case_id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<ReasonRequest>,
) -> Result<Json<PersonalDataView>, ApiError> {
    case_in_scope(&state, &user, case_id, Operation::RevealPersonalData).await?;
    let fields = reveal_personal_fields(state.store(), case_id, &reader(&user, request.reason))
        .await
        .map_err(reveal_error)?;
    Ok(Json(PersonalDataView::shown_to(&user, fields)))
}

/// Break the glass (紧急查看): open a case outside your scope for reading,
/// for a limited time (3 hours by default), giving a reason. The grant is
/// recorded and listed at `/api/v1/audit/break-glass`. A case within your
/// scope needs no grant and none is recorded: 422 `break_glass_not_needed`.
#[utoipa::path(post, path = "/api/v1/cases/{id}/break-glass", tag = "case_files",
    request_body = ReasonRequest,
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "个案编号")),
    responses(
        (status = 201, body = BreakGlassGrantView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn break_glass(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(case_id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<ReasonRequest>,
) -> Result<(StatusCode, Json<BreakGlassGrantView>), ApiError> {
    authz::require(&user, Operation::BreakGlass)?;
    let region = case_region(&state, case_id)
        .await?
        .ok_or_else(|| ApiError::not_found("该个案"))?;
    if request.reason.trim().is_empty() {
        return Err(reason_required());
    }
    if authz::in_scope(&user, &region) {
        return Err(ApiError::refused(
            "break_glass_not_needed",
            "该个案在您的管辖范围内，可直接查看，无需紧急查看授权",
        ));
    }
    let grant = grant_break_glass(
        state.db(),
        &user,
        case_id,
        &request.reason,
        state.settings().break_glass,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(BreakGlassGrantView::of(grant, Utc::now())?),
    ))
}

/// Replay the case: the state after each of its events, with who recorded
/// it, when and why — read from the event store itself. Personal fields
/// show as `{"sealed": true}`. The opening is written to the access log.
#[utoipa::path(get, path = "/api/v1/cases/{id}/replay", tag = "case_files",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "个案编号"), OpeningQuery),
    responses(
        (status = 200, body = ReplayView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn replay(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(case_id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<OpeningQuery>,
) -> Result<Json<ReplayView>, ApiError> {
    case_in_scope(&state, &user, case_id, Operation::ReplayCases).await?;
    let steps = replay_case(state.store(), case_id).await?;
    let version = steps.last().map(|step| step.version).unwrap_or_default();
    let erased = state.store().is_erased(&case_id.to_string()).await?;
    log_opening(
        &state,
        &user,
        case_id,
        reason_or(query.reason, "回放个案历史"),
        version,
        erased,
    )
    .await?;
    Ok(Json(ReplayView {
        case_id,
        steps: steps.into_iter().map(Into::into).collect(),
    }))
}

/// The case as it stood at a version (`?version=N`: after N events) or an
/// instant (`?time=RFC3339`: every event recorded up to it) — exactly one
/// of the two. The opening is written to the access log.
#[utoipa::path(get, path = "/api/v1/cases/{id}/as-of", tag = "case_files",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "个案编号"), AsOfQuery),
    responses(
        (status = 200, body = CaseAsOfView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn as_of(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(case_id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<AsOfQuery>,
) -> Result<Json<CaseAsOfView>, ApiError> {
    let as_of = match (query.version, query.time) {
        (Some(version), None) => AsOf::Version(version),
        (None, Some(time)) => AsOf::Time(time),
        (None, None) => {
            return Err(ApiError::bad_request(
                "as_of_required",
                "请给出 version（第几个事件之后）或 time（RFC 3339 时间）之一",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "as_of_ambiguous",
                "version 和 time 只能给出其中一个",
            ));
        }
    };
    case_in_scope(&state, &user, case_id, Operation::ReplayCases).await?;
    let (case, version) = case_as_of(state.store(), case_id, as_of)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_yet_opened",
                "在所选的版本或时间，该个案尚未建档",
            )
        })?;
    let erased = state.store().is_erased(&case_id.to_string()).await?;
    log_opening(
        &state,
        &user,
        case_id,
        reason_or(query.reason, "查看个案历史状态"),
        version,
        erased,
    )
    .await?;
    Ok(Json(CaseAsOfView {
        case_id,
        version,
        state: case,
    }))
}

#[derive(Debug, OpenApi)]
#[openapi(
    paths(
        list_cases,
        get_case_file,
        reveal_personal_data,
        break_glass,
        replay,
        as_of
    ),
    components(schemas(
        CaseListView,
        CaseSummaryView,
        CaseFileView,
        RecorderView,
        CategoryChangeView,
        RiskEntryView,
        CaregiverView,
        ProfileView,
        ReferralView,
        CaseNeedView,
        TimelineEntryView,
        CorrectionNoteView,
        PersonalDataView,
        ShownValue,
        ShownFields,
        FieldValues,
        HiddenValue,
        WellbeingNoteView,
        RevealedReferralView,
        RevealedCorrectionView,
        BreakGlassGrantView,
        ReplayView,
        ReplayStepView,
        CaseAsOfView,
        ReasonRequest
    ))
)]
pub struct Api;

pub fn routes() -> axum::Router<AppState> {
    // `POST /api/v1/cases` (opening a case) lives in `cases.rs`; the router
    // merges the two method routers of the same path.
    axum::Router::new()
        .route("/api/v1/cases", get(list_cases))
        .route("/api/v1/cases/{id}", get(get_case_file))
        .route(
            "/api/v1/cases/{id}/personal-data",
            post(reveal_personal_data),
        )
        .route("/api/v1/cases/{id}/break-glass", post(break_glass))
        .route("/api/v1/cases/{id}/replay", get(replay))
        .route("/api/v1/cases/{id}/as-of", get(as_of))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_keep_only_their_first_few_characters() {
        assert_eq!(mask_address("莲塘镇东湖村 3 组 12 号"), "莲塘镇东湖村****");
        assert_eq!(mask_address("东湖村"), "东****");
        assert_eq!(mask_address(""), "****");
    }

    #[test]
    fn auditors_see_identifying_corrections_masked_and_notes_withheld() {
        let mut fields = Map::new();
        fields.insert("phone".into(), Value::String("13807910000".into()));
        fields.insert("wellbeing_notes".into(), Value::String("夜间失眠".into()));
        let masked = mask_fields(fields);
        assert_eq!(masked["phone"], "138****0000");
        assert_eq!(masked["wellbeing_notes"]["withheld"], true);
    }
}
