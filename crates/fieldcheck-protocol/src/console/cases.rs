//! A problem's detail and the office's and units' actions on problems, one at a time or in bulk.

use chrono::{DateTime, Utc};
use fieldcheck_domain::actions::{ProblemAction, ProblemActionKind};
use fieldcheck_domain::category::DeadlineRule;
use fieldcheck_domain::event::PhotoRole;
use fieldcheck_domain::problem::{Problem, ProblemSource, ProblemStatus};
use fieldcheck_domain::reference::PointType;
use fieldcheck_domain::role::Role;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Everything about one problem the signed-in user may see (`GET /console/problems/{id}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConsoleProblemDetail {
    /// The record as devices see it: the fold of its events.
    pub problem: Problem,
    /// The record as this answer shows it (opaque): send it back with an action, which is
    /// refused (`record_changed`) when someone changed the record meanwhile.
    pub version: String,
    pub source: ProblemSource,
    /// Waiting for its unit past the deadline, now.
    pub overdue: bool,
    /// Hours until the deadline (negative: overdue by that much); `null` without a deadline
    /// or when the unit is not working on it.
    pub due_in_hours: Option<f64>,
    /// What the signed-in user may do now, in the order a screen offers them.
    pub allowed_actions: Vec<ProblemActionKind>,
    /// Every event of the record in the order it was folded, rejected ones with why.
    pub timeline: Vec<TimelineEntry>,
    /// Every photo of the record, before/after/evidence, oldest first.
    pub photos: Vec<ConsolePhoto>,
    pub point: Option<ConsolePointRef>,
    pub unit_name: Option<String>,
    pub district_name: Option<String>,
    pub category_name: Option<String>,
    pub reporter_name: Option<String>,
    /// For a report marked a duplicate: the original it is linked to, as it stands now (the
    /// duplicate's reporter sees the original's status). `null` when the original is outside
    /// what the signed-in user sees.
    pub duplicate_original: Option<DuplicateLink>,
}

/// The original case a duplicate report is linked to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DuplicateLink {
    pub id: Uuid,
    pub code: String,
    pub status: ProblemStatus,
}

/// Whether the fold applied an event or kept it as rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum TimelineOutcome {
    Applied,
    Rejected,
}

/// One event in a problem's history: who did what when, and whether it counted.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TimelineEntry {
    pub event_id: Uuid,
    /// The event kind, e.g. `problem.dispatched`.
    pub kind: String,
    pub at: DateTime<Utc>,
    /// The user id of who sent it.
    pub actor: String,
    pub actor_name: Option<String>,
    pub role: Role,
    /// The device it came from (`console` for the office's console, `web` for a web session).
    pub device: String,
    pub outcome: TimelineOutcome,
    /// Why it was rejected, in plain words (English); `null` when applied.
    pub reason: Option<String>,
    /// The stable refusal code of a rejected event (`invalid_transition`, ...).
    pub reason_code: Option<String>,
    /// The event's payload as sent (its fields depend on `kind`).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    pub summary: serde_json::Value,
    /// Hashes of the photos it carries, as shown: a photo's stamped copy when the event
    /// names one (`Event::stamps`).
    pub photos: Vec<String>,
}

/// A photo of the record and where the console loads it from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConsolePhoto {
    /// The photo as captured (the evidence).
    pub hash: String,
    pub role: PhotoRole,
    /// `/api/v1/console/photos/{hash}` (the session cookie authorizes it), of the copy with
    /// the evidence stamp (水印) when the photo has one.
    pub url: String,
    /// The event that attached it.
    pub event_id: Uuid,
    pub at: DateTime<Utc>,
}

/// The inspection point a problem was found at.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConsolePointRef {
    pub id: String,
    pub name: String,
    pub address: String,
    pub point_type: PointType,
    /// WGS-84.
    pub lat: f64,
    pub lon: f64,
}

/// A photo uploaded from the browser, after the photo pipeline (`POST /console/photos`): its
/// hash goes into a `rectify`, `verify`, `recheck` or `add_photos` action.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConsolePhotoUploaded {
    /// SHA-256 (hex) of the stored display copy: the photo's id everywhere.
    pub hash: String,
    /// Of the stored display copy (upright, long edge at most 1600 px).
    pub width: u32,
    pub height: u32,
    /// Size of the stored display copy.
    pub bytes: u64,
}

/// The deadline a dispatch to a unit would get now (`GET …/dispatch-preview?unit=`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DispatchPreview {
    /// The category's rule counted from now on the work calendar.
    pub deadline: DateTime<Utc>,
    pub rule: DeadlineRule,
    /// The rule in words, e.g. `2 个工作日` / `2 working days`.
    pub rule_text: String,
    pub rule_text_en: String,
    pub unit_id: String,
    pub unit_name: String,
}

/// One action on one problem (`POST /console/problems/{id}/actions`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConsoleActionRequest {
    /// The `version` of the detail the user acted on.
    pub version: String,
    /// As the phone sends it. A dispatch with `deadline: null` gets the computed deadline;
    /// a deadline more than 10 minutes off the computed one is an override and needs a
    /// reason in `note`.
    pub action: ProblemAction,
}

/// What a bulk request does to each problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum BulkOp {
    /// Files a reported problem and dispatches it (a filed one is only dispatched) to
    /// `unit_id`, with the deadline given or each problem's computed one.
    FileAndDispatch,
    /// Closes a verified problem.
    Close,
}

/// The most problems one bulk request may name.
pub const MAX_BULK_IDS: usize = 500;

/// `POST /console/problems/bulk`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct ConsoleBulkRequest {
    /// At most 500.
    pub ids: Vec<Uuid>,
    pub op: BulkOp,
    /// The unit (file_and_dispatch).
    #[serde(default)]
    pub unit_id: Option<String>,
    /// One deadline for all (an override: needs `note`); without it each problem gets its
    /// category's.
    #[serde(default)]
    pub deadline: Option<DateTime<Utc>>,
    #[serde(default)]
    pub note: Option<String>,
}

/// What happened to one problem of a bulk request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConsoleBulkResult {
    pub id: Uuid,
    /// The problem's code, when the caller may see it.
    pub code: Option<String>,
    pub ok: bool,
    /// Why not (`not_found`, `action_refused`, ...).
    pub code_error: Option<String>,
    pub message: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConsoleBulkResponse {
    /// One per id, in request order.
    pub results: Vec<ConsoleBulkResult>,
    pub done: u32,
    pub failed: u32,
}
