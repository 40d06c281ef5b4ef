//! The office's console (issue 14), its server side: sign-in with a session cookie
//! (`session.rs` for the cookie and CSRF rules) and the problem ledger (`store/ledger.rs`).
//!
//! A console session stands for its user exactly as a bearer token does: the same user record
//! is loaded on every request (a disabled or removed user's sessions stop at once, and the
//! office's revoke deletes them), and what they see is the domain's [`Scope`] of that user —
//! the rule the pull uses. Volunteers have no console.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use fieldcheck_domain::problem::{ProblemStatus, Severity};
use fieldcheck_domain::reference::{PointType, User};
use fieldcheck_domain::role::Role;
use fieldcheck_domain::scope::{DistrictTree, Scope};
use fieldcheck_protocol::ApiError;
pub use fieldcheck_protocol::console::{ConsoleProblemPage, ConsoleProblemRow, ConsoleSessionInfo};
use fieldcheck_protocol::sync::LoginRequest;
use serde::Deserialize;

use super::{ApiJson, AppState, St, authenticate, now_ms};
use crate::auth;
use crate::client_ip::ClientIp;
use crate::error::ServerError;
use crate::session;
use crate::store::ledger::{LedgerFilter, LedgerRow, LedgerSort};
use fieldcheck_domain::problem::ProblemSource;

/// Largest ledger page.
pub const MAX_LEDGER_LIMIT: u32 = 200;
/// Ledger page when the request names none.
pub const DEFAULT_LEDGER_LIMIT: u32 = 50;
/// Characters of a description a ledger row carries.
pub const EXCERPT_CHARS: usize = 80;
/// Longest text search and longest identifier a filter accepts.
const MAX_FILTER_CHARS: usize = 100;

/// The signed-in console user of a request. Extracting it checks the session (known, not
/// idle too long, not past its end), the user (active, a role with a console) and, for a
/// state-changing method, the CSRF token; then slides the idle expiry.
pub struct ConsoleCaller {
    pub user: User,
    id_hash: String,
    session_id: String,
    expires_at_ms: i64,
}

impl ConsoleCaller {
    /// The district tree and what this user sees in it (the pull's rule, [`Scope::of`]).
    pub(super) fn scope(
        &self,
        refs: &fieldcheck_protocol::ReferenceBundle,
    ) -> (DistrictTree, Scope) {
        let tree = DistrictTree::new(&refs.districts);
        let scope = Scope::of(&self.user, &tree);
        (tree, scope)
    }

    fn info(&self, config: &crate::config::Config) -> ConsoleSessionInfo {
        ConsoleSessionInfo {
            user_id: self.user.id.clone(),
            name: self.user.name.clone(),
            role: self.user.role,
            unit_id: self.user.unit_id.clone(),
            district_ids: self.user.district_ids.clone(),
            csrf_token: session::csrf_token(&self.session_id),
            expires_at_ms: self.expires_at_ms,
            idle_timeout_secs: config.console_idle_secs,
        }
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Roles with a console: everyone but volunteers (they report from their phones only).
fn console_role(user: &User) -> Result<(), ServerError> {
    if user.role == Role::Volunteer {
        return Err(ServerError::NoConsoleAccess(format!(
            "volunteers have no console access (user {}): report from the FieldCheck app",
            user.id
        )));
    }
    Ok(())
}

impl FromRequestParts<Arc<AppState>> for ConsoleCaller {
    type Rejection = ServerError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let session_id = session::session_cookie(&parts.headers).ok_or(ServerError::NotSignedIn)?;
        let id_hash = auth::hash_secret(&session_id);
        let rec = state
            .store
            .console_session(&id_hash)
            .await?
            .ok_or(ServerError::NotSignedIn)?;
        let now = now_ms();
        let idle_ms = (state.config.console_idle_secs as i64).saturating_mul(1000);
        if now >= rec.expires_at_ms || now.saturating_sub(rec.last_used_at_ms) >= idle_ms {
            state.store.delete_console_session(&id_hash).await?;
            return Err(ServerError::SessionExpired);
        }
        let user = state
            .store
            .user(&rec.user_id)
            .await?
            .ok_or(ServerError::NotSignedIn)?;
        if !user.active() {
            state.store.delete_console_session(&id_hash).await?;
            return Err(ServerError::UserDisabled(format!(
                "user {} is disabled or no longer in the reference data",
                user.user.id
            )));
        }
        // The role comes from the current reference data, not from sign-in time.
        console_role(&user.user)?;
        if !is_safe(&parts.method) {
            session::check_csrf(&parts.headers, &session_id)?;
        }
        // Slides the idle expiry; at most one write per tenth of the idle period (and per
        // minute), not one per request.
        let touch_every = (idle_ms / 10).min(60_000);
        if now.saturating_sub(rec.last_used_at_ms) >= touch_every {
            state.store.touch_console_session(&id_hash, now).await?;
        }
        Ok(ConsoleCaller {
            user: user.user,
            id_hash,
            session_id,
            expires_at_ms: rec.expires_at_ms,
        })
    }
}

/// Console routes refuse state-changing requests another site's page sends (sign-in
/// included: no logging a victim into an attacker's account).
pub(super) async fn same_origin_only(
    State(state): St,
    req: Request,
    next: Next,
) -> Result<Response, ServerError> {
    if !is_safe(req.method()) {
        session::check_same_origin(req.headers(), &state.config.public_url)?;
    }
    Ok(next.run(req).await)
}

fn with_cookie(mut response: Response, cookie: String) -> Response {
    if let Ok(v) = header::HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

/// Signs in to the console: a session cookie and the CSRF token.
#[utoipa::path(
    post,
    path = "/api/v1/console/session",
    tag = "console",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in: the session cookie `fieldcheck_console` \
            (HttpOnly, SameSite=Strict, Path=/, Secure behind https) and who is signed in, \
            with the CSRF token", body = ConsoleSessionInfo,
            headers(("Set-Cookie" = String, description = "The session cookie"))),
        (status = 400, description = "Bad body, or `username` over 128 / `password` over 1024 characters (`malformed_request`, naming the field)", body = ApiError),
        (status = 401, description = "Wrong username or password (`wrong_credentials`), or the right password of a disabled user (`user_disabled`)", body = ApiError),
        (status = 403, description = "A volunteer (`no_console_access`), or a request from another site (`csrf_rejected`)", body = ApiError),
        (status = 429, description = "Too many failed sign-ins (`rate_limited`), counted with `/login`'s", body = ApiError),
    )
)]
pub(super) async fn sign_in(
    State(state): St,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, ServerError> {
    let stored = authenticate(&state, ip, req, ServerError::WrongCredentials).await?;
    console_role(&stored.user)?;
    let session_id = auth::new_token();
    let now = now_ms();
    let expires = now.saturating_add((state.config.console_max_secs as i64).saturating_mul(1000));
    let idle_ms = (state.config.console_idle_secs as i64).saturating_mul(1000);
    state
        .store
        .create_console_session(
            &auth::hash_secret(&session_id),
            &stored.user.id,
            now,
            expires,
            now.saturating_sub(idle_ms),
        )
        .await?;
    let caller = ConsoleCaller {
        user: stored.user,
        id_hash: String::new(),
        session_id: session_id.clone(),
        expires_at_ms: expires,
    };
    let body = Json(caller.info(&state.config)).into_response();
    Ok(with_cookie(
        body,
        session::set_cookie(&session_id, state.config.behind_https()),
    ))
}

/// Who is signed in, with the session's CSRF token (the console asks on every page load).
#[utoipa::path(
    get,
    path = "/api/v1/console/session",
    tag = "console",
    responses(
        (status = 200, description = "The signed-in user and the CSRF token", body = ConsoleSessionInfo),
        (status = 401, description = "No session cookie or signed out (`not_signed_in`), idle too long or past its lifetime (`session_expired`), or the user disabled (`user_disabled`)", body = ApiError),
        (status = 403, description = "The user's role has no console any more (`no_console_access`)", body = ApiError),
    ),
    security(("console_session" = []))
)]
pub(super) async fn current_session(
    State(state): St,
    caller: ConsoleCaller,
) -> Result<Response, ServerError> {
    let mut r = Json(caller.info(&state.config)).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(r)
}

/// Signs out: the session is deleted and the browser told to forget the cookie.
#[utoipa::path(
    delete,
    path = "/api/v1/console/session",
    tag = "console",
    responses(
        (status = 204, description = "Signed out; the cookie is cleared"),
        (status = 401, description = "No session cookie or already signed out (`not_signed_in`), or expired (`session_expired`)", body = ApiError),
        (status = 403, description = "Missing or wrong `X-CSRF-Token`, or a request from another site (`csrf_rejected`)", body = ApiError),
    ),
    // The CSRF token is a credential of the session, sent beside its cookie.
    security(("console_session" = [], "console_csrf" = []))
)]
pub(super) async fn sign_out(
    State(state): St,
    caller: ConsoleCaller,
) -> Result<Response, ServerError> {
    state.store.delete_console_session(&caller.id_hash).await?;
    Ok(with_cookie(
        StatusCode::NO_CONTENT.into_response(),
        session::clear_cookie(state.config.behind_https()),
    ))
}

/// The ledger's query string (the map takes the same, so a link moves between them). Lists
/// are comma-separated; days are the city's calendar days.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProblemsQuery {
    /// Comma-separated states, e.g. `dispatched,rectifying`
    status: Option<String>,
    /// A major class (`SR`: every minor code in it) or a minor code (`SR-02`)
    category: Option<String>,
    /// The unit dispatched to
    unit: Option<String>,
    /// A district with everything below it
    district: Option<String>,
    /// The inspection point
    point: Option<String>,
    /// Problems at points of this type (`farmers_market`, …; also its Chinese or English name)
    point_type: Option<String>,
    /// `inspection`, `quick_report` or `volunteer`
    source: Option<String>,
    /// The reporter's user id
    reporter: Option<String>,
    /// Reported on or after this day (YYYY-MM-DD)
    #[param(format = Date)]
    from: Option<String>,
    /// Reported on or before this day (YYYY-MM-DD)
    #[param(format = Date)]
    to: Option<String>,
    /// Only overdue (`true`) or only not overdue (`false`)
    overdue: Option<bool>,
    /// Only problems with a conflict (`true`): at least one event the fold kept but rejected,
    /// e.g. an offline edit that landed after someone else had moved the case on; `false`:
    /// only those without
    conflicts: Option<bool>,
    /// Last dispatched on or after this day (YYYY-MM-DD): a ranking period's problems
    #[param(format = Date)]
    dispatched_from: Option<String>,
    /// Last dispatched on or before this day (YYYY-MM-DD)
    #[param(format = Date)]
    dispatched_to: Option<String>,
    /// Text in the code or description (at most 100 characters)
    q: Option<String>,
    /// `reported_at` (default), `deadline` or `updated_at` (the map: newest reports first)
    sort: Option<String>,
    /// `desc` (default) or `asc`
    order: Option<String>,
    /// Rows per page, 50 by default (the map checks it, then shows up to 5,000)
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// Rows to skip (not on the map)
    #[param(minimum = 0)]
    offset: Option<u32>,
}

pub(super) fn bad(msg: impl Into<String>) -> ServerError {
    ServerError::Malformed(msg.into())
}

pub(super) fn ident(name: &str, v: Option<String>) -> Result<Option<String>, ServerError> {
    let Some(v) = v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.chars().count() > MAX_FILTER_CHARS {
        return Err(bad(format!(
            "{name} is longer than {MAX_FILTER_CHARS} characters"
        )));
    }
    Ok(Some(v))
}

/// A day filter. Unlike the text filters, an empty value is refused: the parameter is a date,
/// and a console that has no date leaves it out.
pub(super) fn date(name: &str, v: Option<String>) -> Result<Option<NaiveDate>, ServerError> {
    v.map(|v| v.trim().to_owned())
        .map(|v| {
            NaiveDate::parse_from_str(&v, "%Y-%m-%d").map_err(|_| {
                bad(format!(
                    "{name} must be a date YYYY-MM-DD (the city's calendar day), not {v:?}"
                ))
            })
        })
        .transpose()
}

fn ms_time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn excerpt(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(EXCERPT_CHARS).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

pub(super) fn row(r: LedgerRow, now: i64) -> ConsoleProblemRow {
    let overdue = r.is_overdue(now);
    ConsoleProblemRow {
        status: ProblemStatus::parse(&r.status).unwrap_or(ProblemStatus::Reported),
        excerpt: excerpt(&r.description),
        reporter_role: Role::parse(&r.reporter_role),
        source: ProblemSource::parse(&r.source).unwrap_or(ProblemSource::QuickReport),
        severity: Severity::parse(&r.severity),
        reported_at: ms_time(r.reported_at_ms),
        updated_at: ms_time(r.updated_at_ms),
        deadline: r.deadline_ms.map(ms_time),
        dispatched_at: r.dispatched_at_ms.map(ms_time),
        closed_at: r.closed_at_ms.map(ms_time),
        overdue,
        id: r.id,
        code: r.code,
        category: r.category,
        address: r.address,
        district_id: r.district_id,
        point_id: r.point_id,
        unit_id: r.unit_id,
        reporter: r.reporter,
        rework_count: r.rework_count,
    }
}

/// The ledger: problems in the caller's scope, filtered, sorted and paged, with the total.
#[utoipa::path(
    get,
    path = "/api/v1/console/problems",
    tag = "console",
    params(ProblemsQuery),
    responses(
        (status = 200, description = "One page and the total", body = ConsoleProblemPage),
        (status = 400, description = "A filter that is wrong: unknown status, source or point type, a bad date, limit over 200, an unknown parameter (`malformed_request`, naming it)", body = ApiError),
    ),
    security(("console_session" = []))
)]
pub(super) async fn problems(
    State(state): St,
    caller: ConsoleCaller,
    q: Result<Query<ProblemsQuery>, QueryRejection>,
) -> Result<Json<ConsoleProblemPage>, ServerError> {
    let Query(q) = q.map_err(|e| bad(e.body_text()))?;
    let refs = state.refs().await?;
    let (tree, scope) = caller.scope(&refs);
    let now = now_ms();
    let filter = ledger_filter(q, &refs, &tree, now)?;
    let page = state.store.ledger(&filter, &scope).await?;
    Ok(Json(ConsoleProblemPage {
        total: page.total,
        limit: filter.limit,
        offset: filter.offset,
        rows: page.rows.into_iter().map(|r| row(r, now)).collect(),
    }))
}

/// A range of the city's calendar days, both ends included, as Unix ms: from the first instant
/// of the first day to the first instant after the last.
fn day_range(
    (from_name, from): (&str, Option<String>),
    (to_name, to): (&str, Option<String>),
    calendar: &fieldcheck_domain::calendar::WorkCalendar,
) -> Result<(Option<i64>, Option<i64>), ServerError> {
    let from = date(from_name, from)?;
    let to = date(to_name, to)?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(bad(format!("{from_name} ({f}) is after {to_name} ({t})")));
    }
    let before = to
        .map(|t| {
            t.succ_opt()
                .map(|next| calendar.day_start(next).timestamp_millis())
                .ok_or_else(|| bad(format!("{to_name} ({t}) is out of range")))
        })
        .transpose()?;
    Ok((
        from.map(|f| calendar.day_start(f).timestamp_millis()),
        before,
    ))
}

/// Checks and resolves a ledger query against the reference data (categories, districts,
/// the calendar's zone).
pub(super) fn ledger_filter(
    q: ProblemsQuery,
    refs: &fieldcheck_protocol::ReferenceBundle,
    tree: &DistrictTree,
    now: i64,
) -> Result<LedgerFilter, ServerError> {
    let limit = q.limit.unwrap_or(DEFAULT_LEDGER_LIMIT);
    if !(1..=MAX_LEDGER_LIMIT).contains(&limit) {
        return Err(bad(format!(
            "limit must be between 1 and {MAX_LEDGER_LIMIT}, not {limit}"
        )));
    }
    let mut statuses = Vec::new();
    if let Some(list) = ident("status", q.status)? {
        for s in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let st = ProblemStatus::parse(s).ok_or_else(|| {
                let known: Vec<&str> = ProblemStatus::ALL.iter().map(|s| s.as_str()).collect();
                bad(format!(
                    "unknown status {s:?}; expected one of {}",
                    known.join(", ")
                ))
            })?;
            if !statuses.contains(&st) {
                statuses.push(st);
            }
        }
    }
    let categories = match ident("category", q.category)? {
        None => Vec::new(),
        Some(c) => {
            let minors: Vec<String> = refs
                .categories
                .iter()
                .filter(|k| k.major_code == c)
                .map(|k| k.code.clone())
                .collect();
            // A major class means all its minor codes; anything else is one code (problems
            // may carry codes of an older category table, so unknown codes just match those).
            if minors.is_empty() { vec![c] } else { minors }
        }
    };
    let districts = ident("district", q.district)?
        .map(|d| tree.descendants_of([d]).into_iter().collect::<Vec<_>>());
    let points = ident("point_type", q.point_type)?
        .map(|t| {
            let pt = PointType::parse(&t).ok_or_else(|| {
                let known: Vec<&str> = PointType::ALL.iter().map(|t| t.as_str()).collect();
                bad(format!(
                    "unknown point_type {t:?}; expected one of {}",
                    known.join(", ")
                ))
            })?;
            Ok::<_, ServerError>(
                refs.points
                    .iter()
                    .filter(|p| p.point_type == pt)
                    .map(|p| p.id.clone())
                    .collect::<Vec<_>>(),
            )
        })
        .transpose()?;
    let source = ident("source", q.source)?
        .map(|s| {
            ProblemSource::parse(&s).ok_or_else(|| {
                bad(format!(
                    "unknown source {s:?}; expected inspection, quick_report or volunteer"
                ))
            })
        })
        .transpose()?;
    let calendar = refs.calendar.clone().unwrap_or_default();
    let (reported_from_ms, reported_before_ms) =
        day_range(("from", q.from), ("to", q.to), &calendar)?;
    let (dispatched_from_ms, dispatched_before_ms) = day_range(
        ("dispatched_from", q.dispatched_from),
        ("dispatched_to", q.dispatched_to),
        &calendar,
    )?;
    let sort = match ident("sort", q.sort)?.as_deref() {
        None | Some("reported_at") => LedgerSort::ReportedAt,
        Some("deadline") => LedgerSort::Deadline,
        Some("updated_at") => LedgerSort::UpdatedAt,
        Some(other) => {
            return Err(bad(format!(
                "unknown sort {other:?}; expected reported_at, deadline or updated_at"
            )));
        }
    };
    let descending = match ident("order", q.order)?.as_deref() {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(other) => {
            return Err(bad(format!(
                "unknown order {other:?}; expected asc or desc"
            )));
        }
    };
    Ok(LedgerFilter {
        statuses,
        categories,
        unit: ident("unit", q.unit)?,
        districts,
        point: ident("point", q.point)?,
        points,
        source,
        reporter: ident("reporter", q.reporter)?,
        reported_from_ms,
        reported_before_ms,
        dispatched_from_ms,
        dispatched_before_ms,
        overdue: q.overdue,
        text: ident("q", q.q)?,
        conflicts: q.conflicts,
        sort,
        descending,
        limit,
        offset: q.offset.unwrap_or(0),
        now_ms: now,
    })
}
