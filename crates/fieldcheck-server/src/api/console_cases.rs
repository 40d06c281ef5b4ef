//! The console's problem detail and handling (issue 14): detail with timeline and photos, the
//! actions the signed-in user may take, one at a time or in bulk, and after-photos uploaded
//! from the browser. Every action is an event authored by the server for the signed-in user
//! and stored through the same push path as a device's (authorization, fold, event log), so
//! devices pull it and its history is the audit trail.
//!
//! The event is built by the domain (`actions::action_event`, the same function the device
//! store calls) and checked by the domain's lifecycle before it is pushed: an action the
//! lifecycle would refuse is answered `action_refused` and nothing is stored.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use fieldcheck_domain::actions::{
    ActionError, ActionLookup, ProblemAction, ProblemActionKind, action_event, actions_offered,
    default_deadline, is_deadline_override,
};
use fieldcheck_domain::calendar::WorkCalendar;
use fieldcheck_domain::category::{DeadlineRule, DeadlineUnit};
use fieldcheck_domain::event::{Event, EventOutcome};
use fieldcheck_domain::lifecycle::{apply_problem, precondition};
use fieldcheck_domain::problem::{Problem, ProblemSource, ProblemStatus};
use fieldcheck_domain::reference::User;
use fieldcheck_domain::scope::RecordScope;
use fieldcheck_domain::{Actor, Hlc, Refusal};
use fieldcheck_protocol::console::cases::{
    BulkOp, ConsoleActionRequest, ConsoleBulkRequest, ConsoleBulkResponse, ConsoleBulkResult,
    ConsolePhoto, ConsolePhotoUploaded, ConsolePointRef, ConsoleProblemDetail, DispatchPreview,
    DuplicateLink, MAX_BULK_IDS, TimelineEntry, TimelineOutcome,
};
use fieldcheck_protocol::sync::PushStatus;
use fieldcheck_protocol::{ApiError, ReferenceBundle};
use serde::Deserialize;
use utoipa::OpenApi;
use uuid::Uuid;

use super::console::ConsoleCaller;
use super::{ApiJson, AppState, IMMUTABLE, St, now_ms, read_body, valid_hash};
use crate::blobs::Put;
use crate::error::ServerError;
use crate::policy::Viewer;
use crate::store::AppendCtx;
use crate::store::ledger::{Arg, Col, stmt};

/// What the server stores as the `device` of every event the console sends.
pub const CONSOLE_DEVICE: &str = "console";

/// Stable codes of this module's refusals (`ApiError::code`).
pub mod codes {
    /// The record changed since the detail the user acted on (`version` differs).
    pub const RECORD_CHANGED: &str = "record_changed";
    /// The lifecycle refuses the action on the record as it stands, for this person.
    pub const ACTION_REFUSED: &str = "action_refused";
    /// A dispatch deadline other than the computed one without a reason in `note`.
    pub const DEADLINE_REASON_REQUIRED: &str = "deadline_reason_required";
    /// The action names a unit, district, category, problem code or photo that is not there.
    pub const UNKNOWN_REFERENCE: &str = "unknown_reference";
    /// An upload that is not a photo the pipeline takes (format, corrupt, empty).
    pub const NOT_AN_IMAGE: &str = "not_an_image";
}

/// Errors of this module: the server's own, or a refusal with its status and code.
#[derive(Debug)]
pub(super) enum CaseError {
    Server(ServerError),
    Refused {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
}

impl CaseError {
    fn refused(status: StatusCode, code: &'static str, message: impl Into<String>) -> CaseError {
        CaseError::Refused {
            status,
            code,
            message: message.into(),
        }
    }

    fn action_refused(r: &Refusal) -> CaseError {
        CaseError::refused(
            StatusCode::CONFLICT,
            codes::ACTION_REFUSED,
            format!("{} ({})", r.message, r.code.as_str()),
        )
    }

    fn code_and_message(&self) -> (String, String) {
        match self {
            CaseError::Server(e) => (e.code().to_owned(), e.to_string()),
            CaseError::Refused { code, message, .. } => ((*code).to_owned(), message.clone()),
        }
    }
}

impl<E: Into<ServerError>> From<E> for CaseError {
    fn from(e: E) -> Self {
        CaseError::Server(e.into())
    }
}

impl IntoResponse for CaseError {
    fn into_response(self) -> Response {
        match self {
            CaseError::Server(e) => e.into_response(),
            CaseError::Refused {
                status,
                code,
                message,
            } => (
                status,
                Json(ApiError {
                    code: code.to_owned(),
                    message,
                }),
            )
                .into_response(),
        }
    }
}

type CaseResult<T> = Result<T, CaseError>;

/// A problem's id from the path. Anything but a UUID is answered 400 in the API's error
/// shape (the path extractor's own rejection is plain text).
pub(super) struct ProblemId(Uuid);

impl<S: Send + Sync> FromRequestParts<S> for ProblemId {
    type Rejection = ServerError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ServerError::Malformed(e.body_text()))?;
        Uuid::parse_str(&raw)
            .map(ProblemId)
            .map_err(|_| ServerError::Malformed(format!("{raw:?} is not a problem id (a UUID)")))
    }
}

/// This module's operations, merged into the API document (`openapi.rs`).
#[derive(OpenApi)]
#[openapi(
    paths(
        problem_detail,
        problem_action,
        bulk,
        dispatch_preview,
        photo_get,
        photo_upload
    ),
    components(schemas(
        ConsoleProblemDetail,
        DuplicateLink,
        TimelineEntry,
        TimelineOutcome,
        ConsolePhoto,
        ConsolePointRef,
        ConsolePhotoUploaded,
        DispatchPreview,
        ConsoleActionRequest,
        ProblemAction,
        ProblemActionKind,
        BulkOp,
        ConsoleBulkRequest,
        ConsoleBulkResult,
        ConsoleBulkResponse,
    ))
)]
pub(super) struct Api;

/// Largest photo the browser may upload (the photo pipeline's own input bound; the server's
/// `max_blob_bytes` may be smaller and is checked too).
fn photo_input_limit() -> usize {
    usize::try_from(fieldcheck_photo::Limits::default().max_bytes).unwrap_or(usize::MAX)
}

/// This module's routes, under `/api/v1` behind the console's same-origin check.
pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/console/problems/bulk", post(bulk))
        .route("/console/problems/{id}", get(problem_detail))
        .route("/console/problems/{id}/actions", post(problem_action))
        .route(
            "/console/problems/{id}/dispatch-preview",
            get(dispatch_preview),
        )
        .route(
            "/console/photos",
            post(photo_upload).layer(DefaultBodyLimit::max(photo_input_limit())),
        )
        .route("/console/photos/{hash}", get(photo_get))
}

/// The caller as the push path sees them: their scope, and `console` as the device of every
/// event they send.
fn console_viewer(user: User, refs: &ReferenceBundle) -> Viewer {
    let mut v = Viewer::new(user, refs);
    v.device = Some(CONSOLE_DEVICE.to_owned());
    v
}

fn not_found(id: Uuid) -> CaseError {
    CaseError::Server(ServerError::NotFound(format!(
        "problem {id} (it does not exist, or it is not yours to see)"
    )))
}

/// The problem, when the viewer may see it; otherwise the same answer as for a problem that
/// does not exist.
async fn visible_problem(state: &AppState, viewer: &Viewer, id: Uuid) -> CaseResult<Problem> {
    state
        .store
        .problem(id)
        .await?
        .filter(|p| viewer.can_see(&RecordScope::of_problem(p)))
        .ok_or_else(|| not_found(id))
}

/// The record's version: how many events it holds and the last one the fold applied. Any new
/// event changes it, also one a phone sent while offline that folds before the newest (its
/// stamp is older) and so changes the state without becoming the last applied one.
fn version_of(events: &[(Event, EventOutcome)]) -> String {
    let last = events
        .iter()
        .rev()
        .find(|(_, o)| matches!(o, EventOutcome::Applied))
        .map(|(e, _)| e.id.to_string())
        .unwrap_or_default();
    format!("{}-{last}", events.len())
}

/// A stamp for a new event of the record: now, but after every stored event of it (a phone
/// clock a little ahead must not make the office's action fold before what it acted on).
fn next_hlc(events: &[(Event, EventOutcome)], now: i64) -> Hlc {
    let mine = Hlc::new(now, 0, CONSOLE_DEVICE);
    match events.iter().map(|(e, _)| &e.hlc).max() {
        Some(newest) => mine.not_before(newest),
        None => mine,
    }
}

fn text(t: &fieldcheck_domain::i18n::Text) -> String {
    t.zh.clone()
}

fn user_name(refs: &ReferenceBundle, id: &str) -> Option<String> {
    refs.users
        .iter()
        .find(|u| u.id == id)
        .map(|u| u.name.clone())
}

fn unit_name(refs: &ReferenceBundle, id: &str) -> Option<String> {
    refs.units
        .iter()
        .find(|u| u.id == id)
        .map(|u| text(&u.name))
}

fn ms_time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// The detail of `p` for `user`, from its stored events.
fn detail(
    p: Problem,
    events: &[(Event, EventOutcome)],
    refs: &ReferenceBundle,
    user: &User,
    now: i64,
) -> ConsoleProblemDetail {
    let at_of: HashMap<Uuid, DateTime<Utc>> = events.iter().map(|(e, _)| (e.id, e.at())).collect();
    let timeline = events
        .iter()
        .map(|(e, o)| {
            let (outcome, reason, reason_code) = match o {
                EventOutcome::Applied => (TimelineOutcome::Applied, None, None),
                EventOutcome::Rejected { code, message } => (
                    TimelineOutcome::Rejected,
                    Some(message.clone()),
                    Some(code.as_str().to_owned()),
                ),
            };
            let summary = serde_json::to_value(&e.body)
                .ok()
                .and_then(|mut v| v.get_mut("payload").map(serde_json::Value::take))
                .unwrap_or(serde_json::Value::Null);
            TimelineEntry {
                event_id: e.id,
                kind: e.kind().to_owned(),
                at: e.at(),
                actor: e.actor.clone(),
                actor_name: user_name(refs, &e.actor),
                role: e.role,
                device: e.device.clone(),
                outcome,
                reason,
                reason_code,
                summary,
                photos: e
                    .photos
                    .iter()
                    .map(|ph| e.stamped(&ph.hash).unwrap_or(&ph.hash).to_owned())
                    .collect(),
            }
        })
        .collect();
    let photos = p
        .photos
        .iter()
        .map(|ph| ConsolePhoto {
            hash: ph.hash.clone(),
            role: ph.role,
            // The copy with the evidence stamp when the photo has one; `hash` stays the
            // photo as captured.
            url: format!("/api/v1/console/photos/{}", ph.shown()),
            event_id: ph.event_id,
            at: at_of.get(&ph.event_id).copied().unwrap_or(p.reported_at),
        })
        .collect();
    let now_t = ms_time(now);
    let due_in_hours = p
        .deadline
        .filter(|_| p.status.awaits_unit())
        .map(|d| ((d - now_t).num_minutes() as f64 / 60.0 * 10.0).round() / 10.0);
    let point = p.point_id.as_deref().and_then(|id| {
        refs.points
            .iter()
            .find(|pt| pt.id == id)
            .map(|pt| ConsolePointRef {
                id: pt.id.clone(),
                name: pt.name.clone(),
                address: pt.address.clone(),
                point_type: pt.point_type,
                lat: pt.location.lat,
                lon: pt.location.lon,
            })
    });
    let category_name = refs
        .categories
        .iter()
        .find(|c| c.code == p.category)
        .map(|c| format!("{} / {}", c.major.zh, c.minor.zh));
    let district_name = p.district_id.as_deref().and_then(|id| {
        refs.districts
            .iter()
            .find(|d| d.id == id)
            .map(|d| text(&d.name))
    });
    ConsoleProblemDetail {
        version: version_of(events),
        source: ProblemSource::of(&p),
        overdue: p.is_overdue(now_t),
        due_in_hours,
        allowed_actions: actions_offered(&p, &user.actor()),
        timeline,
        photos,
        point,
        unit_name: p.unit_id.as_deref().and_then(|u| unit_name(refs, u)),
        district_name,
        category_name,
        reporter_name: user_name(refs, &p.reporter),
        duplicate_original: None,
        problem: p,
    }
}

/// The case a duplicate names by its code, if the viewer sees it.
async fn duplicate_original(
    state: &AppState,
    viewer: &Viewer,
    code: &str,
) -> CaseResult<Option<DuplicateLink>> {
    let rows = state
        .store
        .select(&[stmt(
            "SELECT id FROM problems WHERE code = $1",
            vec![Arg::Text(code.to_owned())],
            vec![Col::Text],
        )])
        .await
        .map_err(ServerError::from)?;
    let Some(id) = rows[0]
        .first()
        .and_then(|r| r[0].text())
        .and_then(|t| Uuid::parse_str(t).ok())
    else {
        return Ok(None);
    };
    Ok(visible_problem(state, viewer, id)
        .await
        .ok()
        .map(|o| DuplicateLink {
            id: o.id,
            code: o.code,
            status: o.status,
        }))
}

async fn fresh_detail(
    state: &AppState,
    viewer: &Viewer,
    refs: &ReferenceBundle,
    id: Uuid,
) -> CaseResult<ConsoleProblemDetail> {
    let p = visible_problem(state, viewer, id).await?;
    let events = state.store.problem_events(id).await?;
    let original = match &p.duplicate_of {
        Some(code) => duplicate_original(state, viewer, code).await?,
        None => None,
    };
    let mut d = detail(p, &events, refs, &viewer.user, now_ms());
    d.duplicate_original = original;
    Ok(d)
}

/// One problem with its timeline, photos and the actions the caller may take now.
#[utoipa::path(
    get,
    path = "/api/v1/console/problems/{id}",
    tag = "console",
    params(("id" = Uuid, Path, description = "The problem's id")),
    responses(
        (status = 200, description = "The problem as devices see it, its full history (rejected events with why), photos, names from the reference data, and the actions the signed-in user may take now", body = ConsoleProblemDetail),
        (status = 400, description = "Not a problem id (`malformed_request`)", body = ApiError),
        (status = 404, description = "No such problem, or the signed-in user may not see it: the same answer (`not_found`)", body = ApiError),
    ),
    security(("console_session" = []))
)]
pub(super) async fn problem_detail(
    State(state): St,
    caller: ConsoleCaller,
    ProblemId(id): ProblemId,
) -> CaseResult<Json<ConsoleProblemDetail>> {
    let refs = state.refs().await?;
    let viewer = console_viewer(caller.user, &refs);
    Ok(Json(fresh_detail(&state, &viewer, &refs, id).await?))
}

/// What `action_event` looks up, from the reference bundle and what was checked beforehand in
/// the stores (photos the caller may attach, a duplicate's code).
struct ServerLookup<'a> {
    refs: &'a ReferenceBundle,
    calendar: WorkCalendar,
    photos: HashSet<String>,
    codes: HashSet<String>,
}

impl<'a> ServerLookup<'a> {
    fn new(refs: &'a ReferenceBundle) -> ServerLookup<'a> {
        ServerLookup {
            refs,
            calendar: refs.calendar.clone().unwrap_or_default(),
            photos: HashSet::new(),
            codes: HashSet::new(),
        }
    }

    /// Checks in the stores what `action` names beyond the reference data.
    async fn prepare(
        mut self,
        state: &AppState,
        viewer: &Viewer,
        action: &ProblemAction,
    ) -> CaseResult<ServerLookup<'a>> {
        for h in action.photos() {
            // Stored completely, and the caller may read it (their own upload, or a photo of
            // a record they see): nobody attaches a photo they could not have seen.
            if valid_hash(h)
                && state.blobs.size(h).await?.is_some()
                && state.uploads.may_read(viewer, h).await?
            {
                self.photos.insert(h.clone());
            }
        }
        if let ProblemAction::Reject {
            reason: fieldcheck_domain::event::RejectReason::Duplicate { of },
        } = action
            && state.store.problem_code_exists(of).await?
        {
            self.codes.insert(of.clone());
        }
        Ok(self)
    }
}

impl ActionLookup for ServerLookup<'_> {
    type Error = Infallible;

    fn deadline_rule(&self, category: &str) -> Result<Option<DeadlineRule>, Infallible> {
        Ok(self
            .refs
            .categories
            .iter()
            .find(|c| c.code == category)
            .map(|c| c.deadline))
    }

    fn calendar(&self) -> Result<WorkCalendar, Infallible> {
        Ok(self.calendar.clone())
    }

    fn unit_exists(&self, unit_id: &str) -> Result<bool, Infallible> {
        Ok(self.refs.units.iter().any(|u| u.id == unit_id))
    }

    fn district_exists(&self, district_id: &str) -> Result<bool, Infallible> {
        Ok(self.refs.districts.iter().any(|d| d.id == district_id))
    }

    fn problem_code_exists(&self, code: &str) -> Result<bool, Infallible> {
        Ok(self.codes.contains(code))
    }

    fn photo_known(&self, hash: &str) -> Result<bool, Infallible> {
        Ok(self.photos.contains(hash))
    }
}

fn action_error(e: ActionError<Infallible>) -> CaseError {
    match e {
        ActionError::NotFound { what, id } => CaseError::refused(
            StatusCode::BAD_REQUEST,
            codes::UNKNOWN_REFERENCE,
            match what {
                "photo" => format!(
                    "photo {id} is not on the server (upload it first with POST /api/v1/console/photos)"
                ),
                _ => format!("unknown {what} {id:?}"),
            },
        ),
        ActionError::Invalid(m) => CaseError::Server(ServerError::Malformed(m)),
        ActionError::Lookup(never) => match never {},
    }
}

/// Builds the event of `action` on `cur` for `viewer` at `hlc`, refusing what the lifecycle
/// would refuse (nothing is stored then): the person may not take this action now, or its
/// payload is not enough (a reason, an after-photo, a later deadline).
async fn build_event(
    state: &AppState,
    viewer: &Viewer,
    refs: &ReferenceBundle,
    cur: &Problem,
    action: ProblemAction,
    hlc: Hlc,
) -> CaseResult<(Event, Problem)> {
    let actor: Actor = viewer.user.actor();
    let kind = action.kind();
    precondition(cur, kind.event_kind(), &actor).map_err(|r| CaseError::action_refused(&r))?;
    let lookup = ServerLookup::new(refs)
        .prepare(state, viewer, &action)
        .await?;
    let now = hlc.to_datetime();
    if let ProblemAction::Dispatch { deadline, note, .. } = &action {
        let computed = default_deadline(cur, now, &lookup).map_err(action_error)?;
        if is_deadline_override(*deadline, computed)
            && note.as_deref().is_none_or(|n| n.trim().is_empty())
        {
            return Err(CaseError::refused(
                StatusCode::BAD_REQUEST,
                codes::DEADLINE_REASON_REQUIRED,
                format!(
                    "the deadline differs from the one the category's rule gives ({}): say why in `note`",
                    computed.to_rfc3339()
                ),
            ));
        }
    }
    let (body, photos) = action_event(cur, action, now, &lookup).map_err(action_error)?;
    let ev = Event::new(cur.id, &actor, CONSOLE_DEVICE, hlc, body).with_photos(photos);
    let next = apply_problem(Some(cur), &ev).map_err(|r| CaseError::action_refused(&r))?;
    Ok((ev, next))
}

fn push_ctx<'a>(
    state: &AppState,
    viewer: &'a Viewer,
    refs: &'a Arc<ReferenceBundle>,
) -> AppendCtx<'a> {
    AppendCtx {
        viewer,
        refs,
        now_ms: now_ms(),
        max_future_ms: (state.config.max_clock_skew_secs as i64).saturating_mul(1000),
    }
}

/// What the push answered for one event: `Ok` when it was stored and applied.
fn push_verdict(status: &PushStatus, outcome: Option<&EventOutcome>) -> Result<(), CaseError> {
    match (status, outcome) {
        (PushStatus::Applied, Some(EventOutcome::Applied)) | (PushStatus::Duplicate, _) => Ok(()),
        (PushStatus::Applied, Some(EventOutcome::Rejected { code, message })) => {
            // Someone else's event landed first; kept in the history as rejected.
            Err(CaseError::refused(
                StatusCode::CONFLICT,
                codes::ACTION_REFUSED,
                format!("{message} ({})", code.as_str()),
            ))
        }
        (PushStatus::Applied, None) => Ok(()),
        (PushStatus::Refused { code, message }, _) => Err(CaseError::refused(
            StatusCode::CONFLICT,
            codes::ACTION_REFUSED,
            format!("{message} ({code})"),
        )),
    }
}

/// Takes one action on a problem, as the signed-in user: stored as an event through the same
/// push path as a device's, so devices pull it.
#[utoipa::path(
    post,
    path = "/api/v1/console/problems/{id}/actions",
    tag = "console",
    params(("id" = Uuid, Path, description = "The problem's id")),
    request_body = ConsoleActionRequest,
    responses(
        (status = 200, description = "Done: the problem's fresh detail", body = ConsoleProblemDetail),
        (status = 400, description = "Bad body (`malformed_request`, naming the field; an extension with both or neither of `until`/`until_date`), a unit, district, category, duplicate code or photo that is not there (`unknown_reference`), or a dispatch deadline other than the computed one without a reason in `note` (`deadline_reason_required`)", body = ApiError),
        (status = 403, description = "Missing or wrong `X-CSRF-Token`, a request from another site (`csrf_rejected`), or no console (`no_console_access`)", body = ApiError),
        (status = 404, description = "No such problem, or the signed-in user may not see it (`not_found`)", body = ApiError),
        (status = 409, description = "The record changed since `version` (`record_changed`: reload it), or the lifecycle refuses this action for this person now (`action_refused`, with the reason: wrong role or state, not their unit, a reason or an after-photo missing, an extension pending or not)", body = ApiError),
    ),
    security(("console_session" = [], "console_csrf" = []))
)]
pub(super) async fn problem_action(
    State(state): St,
    caller: ConsoleCaller,
    ProblemId(id): ProblemId,
    ApiJson(req): ApiJson<ConsoleActionRequest>,
) -> CaseResult<Json<ConsoleProblemDetail>> {
    let refs = state.refs().await?;
    let viewer = console_viewer(caller.user, &refs);
    let cur = visible_problem(&state, &viewer, id).await?;
    let events = state.store.problem_events(id).await?;
    if req.version != version_of(&events) {
        return Err(CaseError::refused(
            StatusCode::CONFLICT,
            codes::RECORD_CHANGED,
            format!(
                "problem {} was changed by someone else since you opened it; reload it and decide again",
                cur.code
            ),
        ));
    }
    let hlc = next_hlc(&events, now_ms());
    let (ev, _) = build_event(&state, &viewer, &refs, &cur, req.action, hlc).await?;
    let answer = state
        .store
        .push(vec![ev], &push_ctx(&state, &viewer, &refs))
        .await?;
    let r = answer.results.first().ok_or_else(|| {
        ServerError::Malformed("the server did not take the action; send it again".into())
    })?;
    push_verdict(&r.status, r.outcome.as_ref())?;
    Ok(Json(fresh_detail(&state, &viewer, &refs, id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PreviewQuery {
    unit: String,
}

/// The words of a deadline rule (Chinese, English).
fn rule_words(rule: DeadlineRule) -> (String, String) {
    let n = rule.amount;
    match rule.unit {
        DeadlineUnit::WorkingHours => (format!("{n} 个工作小时"), format!("{n} working hours")),
        DeadlineUnit::WorkingDays => (format!("{n} 个工作日"), format!("{n} working days")),
        DeadlineUnit::NaturalHours => (format!("{n} 小时"), format!("{n} hours")),
    }
}

/// The deadline a dispatch of this problem to `unit` would get now: its category's rule on
/// the work calendar (what `deadline: null` in a dispatch gives).
#[utoipa::path(
    get,
    path = "/api/v1/console/problems/{id}/dispatch-preview",
    tag = "console",
    params(
        ("id" = Uuid, Path, description = "The problem's id"),
        ("unit" = String, Query, description = "The unit to dispatch to"),
    ),
    responses(
        (status = 200, description = "The computed deadline and the rule it comes from", body = DispatchPreview),
        (status = 400, description = "No or an unknown `unit`, or a problem whose category has no rule (`malformed_request`, `unknown_reference`)", body = ApiError),
        (status = 404, description = "No such problem, or the signed-in user may not see it (`not_found`)", body = ApiError),
    ),
    security(("console_session" = []))
)]
pub(super) async fn dispatch_preview(
    State(state): St,
    caller: ConsoleCaller,
    ProblemId(id): ProblemId,
    q: Result<Query<PreviewQuery>, QueryRejection>,
) -> CaseResult<Json<DispatchPreview>> {
    let Query(q) = q.map_err(|e| ServerError::Malformed(e.body_text()))?;
    let refs = state.refs().await?;
    let viewer = console_viewer(caller.user, &refs);
    let p = visible_problem(&state, &viewer, id).await?;
    let unit_name = unit_name(&refs, &q.unit).ok_or_else(|| {
        CaseError::refused(
            StatusCode::BAD_REQUEST,
            codes::UNKNOWN_REFERENCE,
            format!("unknown unit {:?}", q.unit),
        )
    })?;
    let lookup = ServerLookup::new(&refs);
    let Ok(rule) = lookup.deadline_rule(&p.category);
    let rule = rule.ok_or_else(|| {
        action_error(ActionError::NotFound {
            what: "category",
            id: p.category.clone(),
        })
    })?;
    let deadline = default_deadline(&p, ms_time(now_ms()), &lookup).map_err(action_error)?;
    let (rule_text, rule_text_en) = rule_words(rule);
    Ok(Json(DispatchPreview {
        deadline,
        rule,
        rule_text,
        rule_text_en,
        unit_id: q.unit,
        unit_name,
    }))
}

/// One problem's part of a bulk request: its events (in order) or why not.
struct BulkItem {
    id: Uuid,
    code: Option<String>,
    events: Vec<Uuid>,
    error: Option<CaseError>,
}

/// Files and dispatches, or closes, many problems at once; each is handled on its own (one
/// that cannot be does not stop the rest) and all events go to the store in one push.
#[utoipa::path(
    post,
    path = "/api/v1/console/problems/bulk",
    tag = "console",
    request_body = ConsoleBulkRequest,
    responses(
        (status = 200, description = "Per problem, in request order: done, or why not (`not_found`, `action_refused`, ...)", body = ConsoleBulkResponse),
        (status = 400, description = "More than 500 ids, no or an unknown unit for `file_and_dispatch` (`unknown_reference`), a deadline without a reason in `note` (`deadline_reason_required`), or a bad body (`malformed_request`)", body = ApiError),
        (status = 403, description = "Missing or wrong `X-CSRF-Token`, a request from another site (`csrf_rejected`), or no console (`no_console_access`)", body = ApiError),
    ),
    security(("console_session" = [], "console_csrf" = []))
)]
pub(super) async fn bulk(
    State(state): St,
    caller: ConsoleCaller,
    ApiJson(req): ApiJson<ConsoleBulkRequest>,
) -> CaseResult<Json<ConsoleBulkResponse>> {
    if req.ids.len() > MAX_BULK_IDS {
        return Err(ServerError::Malformed(format!(
            "a bulk request may name at most {MAX_BULK_IDS} problems, this one names {}",
            req.ids.len()
        ))
        .into());
    }
    let refs = state.refs().await?;
    let viewer = console_viewer(caller.user, &refs);
    let note = req.note.clone().filter(|n| !n.trim().is_empty());
    let unit_id = match req.op {
        BulkOp::FileAndDispatch => {
            let unit = req.unit_id.clone().unwrap_or_default();
            if unit_name(&refs, &unit).is_none() {
                return Err(CaseError::refused(
                    StatusCode::BAD_REQUEST,
                    codes::UNKNOWN_REFERENCE,
                    format!("file_and_dispatch needs a known unit_id, not {unit:?}"),
                ));
            }
            if req.deadline.is_some() && note.is_none() {
                return Err(CaseError::refused(
                    StatusCode::BAD_REQUEST,
                    codes::DEADLINE_REASON_REQUIRED,
                    "one deadline for all overrides each category's rule: say why in `note`",
                ));
            }
            unit
        }
        BulkOp::Close => String::new(),
    };
    let now = now_ms();
    let mut items = Vec::with_capacity(req.ids.len());
    let mut batch: Vec<Event> = Vec::new();
    for &id in &req.ids {
        let mut item = BulkItem {
            id,
            code: None,
            events: Vec::new(),
            error: None,
        };
        let built = async {
            let cur = visible_problem(&state, &viewer, id).await?;
            item.code = Some(cur.code.clone());
            let stored = state.store.problem_events(id).await?;
            let mut hlc = next_hlc(&stored, now);
            let actions = match req.op {
                BulkOp::Close => vec![ProblemAction::Close { note: note.clone() }],
                BulkOp::FileAndDispatch => {
                    let dispatch = ProblemAction::Dispatch {
                        unit_id: unit_id.clone(),
                        deadline: req.deadline,
                        note: note.clone(),
                    };
                    match cur.status {
                        ProblemStatus::Reported => {
                            vec![ProblemAction::File { note: None }, dispatch]
                        }
                        ProblemStatus::Filed | ProblemStatus::Returned | ProblemStatus::Reopened => {
                            vec![dispatch]
                        }
                        other => {
                            return Err(CaseError::refused(
                                StatusCode::CONFLICT,
                                codes::ACTION_REFUSED,
                                format!(
                                    "problem {} is {}: only reported, filed, returned or reopened problems are filed and dispatched",
                                    cur.code,
                                    other.as_str()
                                ),
                            ));
                        }
                    }
                }
            };
            let mut state_now = cur;
            let mut events = Vec::new();
            for action in actions {
                let (ev, next) =
                    build_event(&state, &viewer, &refs, &state_now, action, hlc.clone()).await?;
                hlc = Hlc::new(now, 0, CONSOLE_DEVICE).not_before(&ev.hlc);
                state_now = next;
                events.push(ev);
            }
            Ok::<_, CaseError>(events)
        }
        .await;
        match built {
            Ok(events) => {
                item.events = events.iter().map(|e| e.id).collect();
                batch.extend(events);
            }
            Err(e) => item.error = Some(e),
        }
        items.push(item);
    }
    let mut verdicts: HashMap<Uuid, Result<(), CaseError>> = HashMap::new();
    if !batch.is_empty() {
        let answer = state
            .store
            .push(batch, &push_ctx(&state, &viewer, &refs))
            .await?;
        for r in &answer.results {
            verdicts.insert(r.event_id, push_verdict(&r.status, r.outcome.as_ref()));
        }
    }
    let mut results = Vec::with_capacity(items.len());
    let (mut done, mut failed) = (0u32, 0u32);
    for mut item in items {
        if item.error.is_none() {
            for ev in &item.events {
                match verdicts.remove(ev) {
                    Some(Ok(())) => {}
                    Some(Err(e)) => {
                        item.error = Some(e);
                        break;
                    }
                    None => {
                        item.error = Some(CaseError::refused(
                            StatusCode::CONFLICT,
                            codes::ACTION_REFUSED,
                            "the server did not get to this problem in this request; send it again",
                        ));
                        break;
                    }
                }
            }
        }
        let (ok, code_error, message) = match &item.error {
            None => (true, None, None),
            Some(e) => {
                let (c, m) = e.code_and_message();
                (false, Some(c), Some(m))
            }
        };
        if ok {
            done += 1;
        } else {
            failed += 1;
        }
        results.push(ConsoleBulkResult {
            id: item.id,
            code: item.code,
            ok,
            code_error,
            message,
        });
    }
    Ok(Json(ConsoleBulkResponse {
        results,
        done,
        failed,
    }))
}

/// The image type of a stored photo, from its first bytes (devices and the console store
/// JPEG display copies; anything else is served as plain bytes).
fn image_type(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        "image/jpeg"
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        "image/webp"
    } else {
        "application/octet-stream"
    }
}

/// A photo, for whoever may read it by the rule of `GET /blobs/{hash}` (admins; anyone who
/// may see a record referring to it; its uploader).
#[utoipa::path(
    get,
    path = "/api/v1/console/photos/{hash}",
    tag = "console",
    params(("hash" = String, Path, description = "SHA-256 of the photo, lowercase hex", pattern = "^[0-9a-f]{64}$")),
    responses(
        (status = 200, description = "The image (immutable: cache it by hash)", content_type = "image/jpeg", body = Vec<u8>),
        (status = 400, description = "Invalid hash (`invalid_hash`)", body = ApiError),
        (status = 404, description = "Not stored, or the signed-in user may not see it (`not_found` either way)", body = ApiError),
    ),
    security(("console_session" = []))
)]
pub(super) async fn photo_get(
    State(state): St,
    caller: ConsoleCaller,
    Path(hash): Path<String>,
) -> CaseResult<Response> {
    let refs = state.refs().await?;
    let viewer = console_viewer(caller.user, &refs);
    let bytes = state.read_blob(&viewer, &hash, "photo").await?;
    Ok((
        [
            (header::CONTENT_TYPE, image_type(&bytes)),
            IMMUTABLE,
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        bytes,
    )
        .into_response())
}

fn photo_refusal(e: fieldcheck_photo::PhotoError, max: u64) -> CaseError {
    use fieldcheck_photo::PhotoError as P;
    match e {
        P::TooLarge { .. } => ServerError::BlobTooLarge {
            size: max.saturating_add(1),
            max,
        }
        .into(),
        P::TooManyPixels { .. } => CaseError::refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            fieldcheck_protocol::sync::codes::TOO_LARGE,
            e.to_string(),
        ),
        P::UnsupportedFormat(_) => CaseError::refused(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            codes::NOT_AN_IMAGE,
            e.to_string(),
        ),
        P::Empty | P::Corrupt(_) | P::Truncated => {
            CaseError::refused(StatusCode::BAD_REQUEST, codes::NOT_AN_IMAGE, e.to_string())
        }
        other => CaseError::Server(ServerError::Io(std::io::Error::other(other.to_string()))),
    }
}

/// Uploads a photo from the browser through the devices' photo pipeline (orientation applied,
/// bounded decode, metadata stripped, re-encoded display copy) and stores the display copy as
/// a complete blob of the uploader: its hash can go into a `rectify`, `verify`, `recheck` or
/// `add_photos` action.
#[utoipa::path(
    post,
    path = "/api/v1/console/photos",
    tag = "console",
    request_body(content = Vec<u8>, content_type = "image/jpeg", description = "The photo file as is (JPEG, PNG or WebP)"),
    responses(
        (status = 200, description = "Stored: the display copy's hash and size", body = ConsolePhotoUploaded),
        (status = 400, description = "Empty, corrupt or truncated image (`not_an_image`)", body = ApiError),
        (status = 403, description = "Missing or wrong `X-CSRF-Token`, a request from another site (`csrf_rejected`), or no console (`no_console_access`)", body = ApiError),
        (status = 413, description = "Larger than `max_blob_bytes` (at most 40 MiB) or more than 64 megapixels (`too_large`)", body = ApiError),
        (status = 415, description = "Not a JPEG, PNG or WebP photo (`not_an_image`, naming what it is)", body = ApiError),
    ),
    security(("console_session" = [], "console_csrf" = []))
)]
pub(super) async fn photo_upload(
    State(state): St,
    caller: ConsoleCaller,
    req: Request,
) -> CaseResult<Json<ConsolePhotoUploaded>> {
    let max = state
        .config
        .max_blob_bytes
        .min(fieldcheck_photo::Limits::default().max_bytes);
    let too_large = ServerError::BlobTooLarge {
        size: max.saturating_add(1),
        max,
    };
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > max
    {
        return Err(ServerError::BlobTooLarge { size: len, max }.into());
    }
    let body = read_body(req, &(), too_large).await?;
    if body.len() as u64 > max {
        return Err(ServerError::BlobTooLarge {
            size: body.len() as u64,
            max,
        }
        .into());
    }
    let limits = fieldcheck_photo::Limits {
        max_bytes: max,
        ..fieldcheck_photo::Limits::default()
    };
    let photo = tokio::task::spawn_blocking(move || fieldcheck_photo::ingest(&body, &limits))
        .await
        .map_err(|e| ServerError::Io(std::io::Error::other(e)))?
        .map_err(|e| photo_refusal(e, max))?;
    let refs = state.refs().await?;
    let viewer = console_viewer(caller.user, &refs);
    let hash = photo.display_sha256.clone();
    let size = photo.display.len() as u64;
    let readable = state.uploads.may_read(&viewer, &hash).await?;
    // The same staging and verification as a device's upload: the caller is recorded as its
    // uploader, so they may attach and read it before any record refers to it.
    let put = state
        .uploads
        .put(
            &hash,
            &viewer.user.id,
            readable,
            0,
            Some(size),
            axum::body::Bytes::from(photo.display),
        )
        .await;
    match put {
        Ok(Put::Stored(_) | Put::Completed(_)) => {}
        // Their earlier upload of the same photo was cut off half way: it is the same bytes,
        // so it is finished from what is staged.
        Err(ServerError::BadOffset { .. }) | Ok(Put::Staged(_)) => {
            let st = state
                .uploads
                .check(
                    &hash,
                    &viewer.user.id,
                    state.blobs.size(&hash).await?,
                    readable,
                )
                .await?;
            if !st.complete {
                return Err(ServerError::Malformed(
                    "an earlier upload of this photo is still in progress; try again".into(),
                )
                .into());
            }
        }
        Err(e) => return Err(e.into()),
    }
    Ok(Json(ConsolePhotoUploaded {
        hash,
        width: photo.display_width,
        height: photo.display_height,
        bytes: size,
    }))
}
