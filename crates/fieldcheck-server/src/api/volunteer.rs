//! The volunteers' public report page's API (issue 17), `/api/v1/volunteer/…`: joining a team
//! through its invite, reporting with a photo (exactly once per client-made id, however often
//! the page resends), the open reports of the same category nearby with "add my photo", my
//! reports with the office's note and the after-photo, and a team leader's approvals.
//!
//! Who is on the page is a cookie session (`fieldcheck_volunteer`, HttpOnly, SameSite=Strict);
//! every POST carries the session's CSRF token and passes the console's same-origin check.
//! A report is a `problem.reported` event by the volunteer, stored through the same push as a
//! device's, from the device `page`.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::DateTime;
use fieldcheck_domain::event::EventBody;
use fieldcheck_domain::i18n::Lang;
use fieldcheck_domain::lifecycle::precondition;
use fieldcheck_domain::problem::{NEARBY_RADIUS_M, Problem, ProblemStatus};
use fieldcheck_domain::public::{page_report_code, public_note, shown_status};
use fieldcheck_domain::reference::{LatLon, User};
use fieldcheck_domain::{Event, Hlc, PhotoRef, PhotoRole};
use fieldcheck_protocol::ApiError;
use fieldcheck_protocol::volunteer::{
    DuplicateOf, InviteInfo, JoinRequest, MemberDecision, MyReport, MyReports, NearbyReport,
    NearbyReports, PublicCategory, PublicCity, ReportAccepted, TeamMembers, TeamRef, VolunteerMe,
    VolunteerRow, VolunteerStatus,
};
use serde::Deserialize;
use utoipa::OpenApi;
use uuid::Uuid;

use super::admin::setup_refusal;
use super::outside_report::{self, Taken};
use super::{ApiJson, AppState, St};
use crate::auth;
use crate::client_ip::ClientIp;
use crate::error::ServerError;
use crate::push_limit::PushLimiter;
use crate::session;
use crate::store::ledger::stmt;
use crate::store::ledger::{Arg, Col};
use crate::volunteers::{self as vols, ANONYMOUS_USER, Volunteer};

/// The page's session cookie.
pub const COOKIE_NAME: &str = "fieldcheck_volunteer";
/// What the server stores as the `device` of every event made on the page.
pub const PAGE_DEVICE: &str = "page";
/// Reports listed in 我的上报 (newest first).
const MY_REPORTS: i64 = 200;
/// Categories on the page's short picture list.
const COMMON_CATEGORIES: usize = 8;
const MAX_DESCRIPTION: usize = 1000;
const MAX_ADDRESS: usize = 200;

/// The page's rate limits. A volunteer reports a few times an hour on a busy patrol; an
/// anonymous citizen much less, and is counted by address as well, since anyone can open
/// another anonymous session.
pub struct VolunteerLimits {
    per_account: PushLimiter,
    anonymous_per_ip: PushLimiter,
    per_ip: PushLimiter,
    joins_per_ip: PushLimiter,
}

impl Default for VolunteerLimits {
    fn default() -> Self {
        VolunteerLimits {
            per_account: PushLimiter::per_hour(60, 20),
            anonymous_per_ip: PushLimiter::per_hour(6, 3),
            per_ip: PushLimiter::per_hour(240, 60),
            joins_per_ip: PushLimiter::per_hour(20, 10),
        }
    }
}

impl VolunteerLimits {
    /// Counts in `store`, so the limits hold across instances sharing it (PostgreSQL).
    pub fn shared(self, store: Arc<dyn crate::store::Store>) -> VolunteerLimits {
        VolunteerLimits {
            per_account: self.per_account.shared_as(store.clone(), "page-account"),
            anonymous_per_ip: self
                .anonymous_per_ip
                .shared_as(store.clone(), "page-anon-ip"),
            per_ip: self.per_ip.shared_as(store.clone(), "page-ip"),
            joins_per_ip: self.joins_per_ip.shared_as(store, "page-join-ip"),
        }
    }
}

async fn limit(limiter: &PushLimiter, key: &str) -> Result<(), ServerError> {
    limiter
        .take(key, Instant::now())
        .await
        .map_err(|retry_after_secs| ServerError::PushRateLimited { retry_after_secs })
}

/// This module's operations, merged into the API document (`openapi.rs`).
#[derive(OpenApi)]
#[openapi(
    paths(
        city,
        invite,
        join,
        anonymous,
        me,
        sign_out,
        nearby,
        report,
        add_photo,
        my_reports,
        photo,
        members,
        decide_member
    ),
    components(schemas(
        InviteInfo,
        JoinRequest,
        VolunteerMe,
        VolunteerStatus,
        TeamRef,
        PublicCity,
        PublicCategory,
        NearbyReports,
        NearbyReport,
        MyReports,
        MyReport,
        DuplicateOf,
        ReportAccepted,
        TeamMembers,
        VolunteerRow,
        MemberDecision
    ))
)]
pub(super) struct Api;

/// This module's routes, under `/api/v1` behind the console's same-origin check.
pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/volunteer/city", get(city))
        .route("/volunteer/invite/{code}", get(invite))
        .route("/volunteer/join", post(join))
        .route("/volunteer/anonymous", post(anonymous))
        .route("/volunteer/me", get(me))
        .route("/volunteer/signout", post(sign_out))
        .route("/volunteer/nearby", get(nearby))
        .route("/volunteer/reports", get(my_reports).post(report))
        .route("/volunteer/reports/{id}/photos", post(add_photo))
        .route("/volunteer/photos/{hash}", get(photo))
        .route("/volunteer/team/members", get(members))
        .route("/volunteer/team/members/{user_id}", post(decide_member))
}

/// The link volunteers join a team by (`server`: how people outside reach this server).
pub fn invite_url(server: &str, code: &str) -> String {
    format!("{server}/report/#/join/{code}")
}

/// Who is on the page: a volunteer of a team, or an anonymous citizen.
pub(super) struct PageCaller {
    user: User,
    volunteer: Option<Volunteer>,
    session_id: String,
    session_hash: String,
}

impl PageCaller {
    fn anonymous(&self) -> bool {
        self.user.id == ANONYMOUS_USER
    }

    fn status(&self) -> VolunteerStatus {
        match &self.volunteer {
            Some(v) => v.status,
            None => VolunteerStatus::Anonymous,
        }
    }

    /// May report now: an approved volunteer, or a citizen while the city allows it.
    async fn may_report(&self, state: &AppState) -> Result<(), ServerError> {
        match self.status() {
            VolunteerStatus::Approved => Ok(()),
            VolunteerStatus::Anonymous if vols::anonymous_reports(state.store.as_ref()).await? => {
                Ok(())
            }
            VolunteerStatus::Anonymous => Err(ServerError::Forbidden(
                "the city office has switched anonymous reports off; join a volunteer team".into(),
            )),
            VolunteerStatus::Pending => Err(ServerError::Forbidden(
                "your team leader or the city office has not approved you yet".into(),
            )),
            VolunteerStatus::Rejected => Err(ServerError::Forbidden(
                "your application to the team was turned down".into(),
            )),
        }
    }

    /// The key its reports are rate-limited by.
    fn limit_key(&self) -> &str {
        if self.anonymous() {
            &self.session_hash
        } else {
            &self.user.id
        }
    }
}

impl FromRequestParts<Arc<AppState>> for PageCaller {
    type Rejection = ServerError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let session_id =
            session::cookie_id(&parts.headers, COOKIE_NAME).ok_or(ServerError::NotSignedIn)?;
        let session_hash = auth::hash_secret(&session_id);
        let user_id = vols::session_user(state.store.as_ref(), &session_hash)
            .await?
            .ok_or(ServerError::NotSignedIn)?;
        let user = state
            .store
            .user(&user_id)
            .await?
            .ok_or(ServerError::NotSignedIn)?;
        if !user.active() {
            vols::end_session(state.store.as_ref(), &session_hash).await?;
            return Err(ServerError::UserDisabled(
                "your account is disabled by the city office".into(),
            ));
        }
        let volunteer = vols::volunteer(state.store.as_ref(), &user_id).await?;
        if volunteer.is_none() && user_id != ANONYMOUS_USER {
            return Err(ServerError::NotSignedIn);
        }
        if !matches!(parts.method, Method::GET | Method::HEAD) {
            session::check_csrf(&parts.headers, &session_id)?;
        }
        Ok(PageCaller {
            user: user.user,
            volunteer,
            session_id,
            session_hash,
        })
    }
}

fn set_cookie(session_id: &str, secure: bool) -> String {
    format!(
        "{COOKIE_NAME}={session_id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        vols::SESSION_IDLE_MS / 1000,
        if secure { "; Secure" } else { "" }
    )
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn secure(state: &AppState) -> bool {
    state.config.public_url.starts_with("https://")
}

async fn team_ref(state: &AppState, id: &str) -> Result<Option<TeamRef>, ServerError> {
    Ok(vols::team(state.store.as_ref(), id)
        .await?
        .map(|t| TeamRef {
            id: t.id,
            name: t.name,
        }))
}

async fn me_of(state: &AppState, c: &PageCaller) -> Result<VolunteerMe, ServerError> {
    let team = match &c.volunteer {
        Some(v) => team_ref(state, &v.team_id).await?,
        None => None,
    };
    Ok(VolunteerMe {
        user_id: c.user.id.clone(),
        name: c.user.name.clone(),
        phone: c
            .volunteer
            .as_ref()
            .map(|v| vols::masked_phone(&v.phone))
            .unwrap_or_default(),
        team,
        status: c.status(),
        leader: c.volunteer.as_ref().is_some_and(|v| v.leader),
        csrf_token: session::csrf_token(&c.session_id),
    })
}

/// The city's public-channel settings and its categories, short list first.
#[utoipa::path(get, path = "/api/v1/volunteer/city", tag = "volunteer",
    responses((status = 200, description = "Anonymous reports on or off, and the categories, most reported first", body = PublicCity)))]
pub(super) async fn city(State(state): St) -> Result<Json<PublicCity>, ServerError> {
    let refs = state.refs().await?;
    let rows = state
        .store
        .select(&[stmt(
            "SELECT category, COUNT(*) FROM problems GROUP BY category",
            vec![],
            vec![Col::Text, Col::Int],
        )])
        .await?;
    let count = |code: &str| {
        rows[0]
            .iter()
            .find(|r| r[0].text() == Some(code))
            .map_or(0, |r| r[1].count())
    };
    let mut cats: Vec<(u64, usize, PublicCategory)> = refs
        .categories
        .iter()
        .enumerate()
        .map(|(i, c)| {
            (
                count(&c.code),
                i,
                PublicCategory {
                    code: c.code.clone(),
                    name: c.minor.zh.clone(),
                    major_code: c.major_code.clone(),
                    major_name: c.major.zh.clone(),
                    common: false,
                },
            )
        })
        .collect();
    // Most reported first; the reference order among equals (a new city: its own order).
    cats.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let categories = cats
        .into_iter()
        .enumerate()
        .map(|(i, (_, _, mut c))| {
            c.common = i < COMMON_CATEGORIES;
            c
        })
        .collect();
    Ok(Json(PublicCity {
        anonymous_reports: vols::anonymous_reports(state.store.as_ref()).await?,
        categories,
        map: super::map::online(&state.config),
    }))
}

/// The team an invite link leads to.
#[utoipa::path(get, path = "/api/v1/volunteer/invite/{code}", tag = "volunteer",
    params(("code" = String, Path, description = "The code of the team's invite link")),
    responses(
        (status = 200, description = "The team", body = InviteInfo),
        (status = 404, description = "No team has this invite (`not_found`): an old link, or mistyped", body = ApiError),
        (status = 429, description = "Too many requests from this address (`rate_limited`)", body = ApiError),
    ))]
pub(super) async fn invite(
    State(state): St,
    ClientIp(ip): ClientIp,
    Path(code): Path<String>,
) -> Result<Json<InviteInfo>, ServerError> {
    // Guessing codes is counted like joining.
    limit(&state.volunteer.joins_per_ip, &ip.to_string()).await?;
    let team = vols::team_by_invite(state.store.as_ref(), &code)
        .await?
        .ok_or_else(|| {
            ServerError::NotFound("invite link (ask your team for the current one)".into())
        })?;
    Ok(Json(InviteInfo {
        team: TeamRef {
            id: team.id,
            name: team.name,
        },
    }))
}

/// Joins a team: a pending volunteer, signed in on this browser.
#[utoipa::path(post, path = "/api/v1/volunteer/join", tag = "volunteer",
    request_body = JoinRequest,
    responses(
        (status = 200, description = "Joined, pending approval; the session cookie `fieldcheck_volunteer` is set", body = VolunteerMe),
        (status = 400, description = "A name or phone that is not valid (`malformed_request`, naming it)", body = ApiError),
        (status = 403, description = "A request from another site (`csrf_rejected`)", body = ApiError),
        (status = 404, description = "No team has this invite (`not_found`)", body = ApiError),
        (status = 429, description = "Too many joins from this address (`rate_limited`)", body = ApiError),
    ))]
pub(super) async fn join(
    State(state): St,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<JoinRequest>,
) -> Result<Response, ServerError> {
    limit(&state.volunteer.joins_per_ip, &ip.to_string()).await?;
    let phone = vols::normalize_phone(&req.phone).ok_or_else(|| {
        ServerError::Malformed("phone: a mobile number of 11 digits starting with 1".into())
    })?;
    let store = state.store.as_ref();
    let team = vols::team_by_invite(store, req.invite.trim())
        .await?
        .ok_or_else(|| {
            ServerError::NotFound("invite link (ask your team for the current one)".into())
        })?;
    let v = vols::join(store, &team, &req.name, &phone)
        .await
        .map_err(setup_refusal)?;
    let user_id = v.user_id.clone();
    signed_in(&state, &user_id, Some(v)).await
}

/// A new page session for `user_id` (and their volunteer record): who they are, with the
/// session cookie set.
async fn signed_in(
    state: &AppState,
    user_id: &str,
    volunteer: Option<Volunteer>,
) -> Result<Response, ServerError> {
    let store = state.store.as_ref();
    let user = store
        .user(user_id)
        .await?
        .ok_or_else(|| ServerError::NotFound(format!("user {user_id}")))?;
    let session_id = vols::create_session(store, user_id).await?;
    let caller = PageCaller {
        user: user.user,
        volunteer,
        session_hash: auth::hash_secret(&session_id),
        session_id,
    };
    let me = me_of(state, &caller).await?;
    Ok(with_cookie(
        Json(me).into_response(),
        &set_cookie(&caller.session_id, secure(state)),
    ))
}

/// Reports without joining a team, while the city allows it.
#[utoipa::path(post, path = "/api/v1/volunteer/anonymous", tag = "volunteer",
    responses(
        (status = 200, description = "An anonymous session; the cookie `fieldcheck_volunteer` is set", body = VolunteerMe),
        (status = 403, description = "Anonymous reports are off in this city (`forbidden`), or a request from another site (`csrf_rejected`)", body = ApiError),
        (status = 429, description = "Too many from this address (`rate_limited`)", body = ApiError),
    ))]
pub(super) async fn anonymous(
    State(state): St,
    ClientIp(ip): ClientIp,
) -> Result<Response, ServerError> {
    limit(&state.volunteer.joins_per_ip, &ip.to_string()).await?;
    let store = state.store.as_ref();
    if !vols::anonymous_reports(store).await? {
        return Err(ServerError::Forbidden(
            "anonymous reports are off in this city: join a volunteer team through its invite link"
                .into(),
        ));
    }
    signed_in(&state, ANONYMOUS_USER, None).await
}

/// Who is on the page, with the CSRF token for its POSTs.
#[utoipa::path(get, path = "/api/v1/volunteer/me", tag = "volunteer",
    responses(
        (status = 200, description = "The person and their status", body = VolunteerMe),
        (status = 401, description = "No session (`not_signed_in`): join through an invite link", body = ApiError),
    ),
    security(("volunteer_session" = [])))]
pub(super) async fn me(
    State(state): St,
    caller: PageCaller,
) -> Result<Json<VolunteerMe>, ServerError> {
    Ok(Json(me_of(&state, &caller).await?))
}

/// Ends the page session on this browser.
#[utoipa::path(post, path = "/api/v1/volunteer/signout", tag = "volunteer",
    responses(
        (status = 204, description = "Signed out; the cookie is cleared"),
        (status = 401, description = "No session (`not_signed_in`)", body = ApiError),
        (status = 403, description = "Missing or wrong `X-CSRF-Token` (`csrf_rejected`)", body = ApiError),
    ),
    security(("volunteer_session" = [])))]
pub(super) async fn sign_out(
    State(state): St,
    caller: PageCaller,
) -> Result<Response, ServerError> {
    vols::end_session(state.store.as_ref(), &caller.session_hash).await?;
    let clear = format!(
        "{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if secure(&state) { "; Secure" } else { "" }
    );
    Ok(with_cookie(StatusCode::NO_CONTENT.into_response(), &clear))
}

fn photo_url(hash: &str) -> String {
    format!("/api/v1/volunteer/photos/{hash}")
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct NearbyQuery {
    /// WGS-84 latitude of the place being reported.
    lat: f64,
    /// WGS-84 longitude.
    lon: f64,
    /// The category being reported (its code).
    category: String,
}

/// Open reports of the same category within 50 m (已有人上报), nearest first, to add a photo
/// to instead of reporting the problem again.
#[utoipa::path(get, path = "/api/v1/volunteer/nearby", tag = "volunteer",
    params(NearbyQuery),
    responses(
        (status = 200, description = "The open reports near the place, nearest first", body = NearbyReports),
        (status = 400, description = "A position outside WGS-84 (`malformed_request`)", body = ApiError),
        (status = 401, description = "No session (`not_signed_in`)", body = ApiError),
        (status = 403, description = "Not approved yet, turned down, or anonymous reports off (`forbidden`)", body = ApiError),
    ),
    security(("volunteer_session" = [])))]
pub(super) async fn nearby(
    State(state): St,
    caller: PageCaller,
    q: Result<Query<NearbyQuery>, QueryRejection>,
) -> Result<Json<NearbyReports>, ServerError> {
    let Query(q) = q.map_err(|e| ServerError::Malformed(e.body_text()))?;
    // Others' reports are shown to whoever may report, not to someone still waiting.
    caller.may_report(&state).await?;
    let at = LatLon {
        lat: q.lat,
        lon: q.lon,
    };
    if !(q.lat.is_finite() && q.lon.is_finite() && q.lat.abs() <= 90.0 && q.lon.abs() <= 180.0) {
        return Err(ServerError::Malformed(
            "lat/lon: a WGS-84 position in decimal degrees".into(),
        ));
    }
    let (lat_min, lat_max, lon_min, lon_max) =
        fieldcheck_domain::problem::sql::bounding_box(&at, NEARBY_RADIUS_M);
    // The box's edges are finite numbers the domain computed: written into the SQL as
    // literals (the store's arguments are text and integers).
    let rows = state
        .store
        .select(&[stmt(
            format!(
                "SELECT state FROM problems WHERE category = $1 AND NOT ({}) \
                 AND lat BETWEEN {lat_min} AND {lat_max} AND lon BETWEEN {lon_min} AND {lon_max} \
                 LIMIT 200",
                fieldcheck_domain::problem::sql::status_in(&[
                    ProblemStatus::Closed,
                    ProblemStatus::Rejected
                ])
            ),
            vec![Arg::Text(q.category.clone())],
            vec![Col::Text],
        )])
        .await?;
    let mut reports: Vec<NearbyReport> = rows[0]
        .iter()
        .filter_map(|r| serde_json::from_str::<Problem>(r[0].text()?).ok())
        .filter_map(|p| {
            let d = p.nearby_same_category(&q.category, &at)?;
            Some(NearbyReport {
                id: p.id.to_string(),
                code: p.code.clone(),
                category: p.category.clone(),
                status: p.status,
                status_label: p.status.label(Lang::Zh).to_owned(),
                distance_m: (d * 10.0).round() / 10.0,
                photo: p
                    .photos
                    .iter()
                    .find(|ph| ph.role != PhotoRole::After)
                    .map(|ph| photo_url(ph.shown())),
                reported_at: p.reported_at,
            })
        })
        .collect();
    reports.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m));
    Ok(Json(NearbyReports { reports }))
}

/// A multipart body's text fields and its one photo.
struct Upload {
    fields: Vec<(String, String)>,
    photo: Option<Bytes>,
}

impl Upload {
    async fn read(req: Request) -> Result<Upload, ServerError> {
        let mut mp = Multipart::from_request(req, &())
            .await
            .map_err(|e| ServerError::Malformed(e.body_text()))?;
        let mut up = Upload {
            fields: Vec::new(),
            photo: None,
        };
        let broken = |e: axum::extract::multipart::MultipartError| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ServerError::TooLarge(0)
            } else {
                ServerError::Malformed(format!("the multipart body is broken: {e}"))
            }
        };
        while let Some(field) = mp.next_field().await.map_err(broken)? {
            let name = field.name().unwrap_or_default().to_owned();
            if name == "photo" {
                if up.photo.is_some() {
                    return Err(ServerError::Malformed("one photo per request".into()));
                }
                up.photo = Some(field.bytes().await.map_err(broken)?);
            } else {
                if up.fields.iter().any(|(k, _)| *k == name) {
                    return Err(ServerError::Malformed(format!(
                        "{name} is given more than once"
                    )));
                }
                let text = field.text().await.map_err(broken)?;
                up.fields.push((name, text));
            }
        }
        Ok(up)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn text(&self, name: &str, max: usize) -> Result<String, ServerError> {
        let v = self.get(name).unwrap_or_default();
        if v.chars().count() > max {
            return Err(ServerError::Malformed(format!(
                "{name}: at most {max} characters"
            )));
        }
        Ok(v.to_owned())
    }

    fn number(&self, name: &str) -> Result<Option<f64>, ServerError> {
        self.get(name)
            .map(|v| {
                v.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| ServerError::Malformed(format!("{name}: not a number: {v:?}")))
            })
            .transpose()
    }

    /// The client-made id (a UUID): the same on every resend of one report.
    fn id(&self) -> Result<Uuid, ServerError> {
        let v = self.get("id").ok_or_else(|| {
            ServerError::Malformed("id: the report's id (a UUID made by the page)".into())
        })?;
        Uuid::parse_str(v)
            .ok()
            .filter(|u| !u.is_nil())
            .ok_or_else(|| ServerError::Malformed(format!("id: not a UUID: {v:?}")))
    }
}

/// The answer to a stored report (or photo): 201, or 200 when it was there already.
fn accepted(id: Uuid, code: &str, already: bool) -> Response {
    let status = if already {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    (
        status,
        Json(ReportAccepted {
            id: id.to_string(),
            code: code.to_owned(),
            already,
        }),
    )
        .into_response()
}

fn refused(code: &str, message: String) -> ServerError {
    ServerError::Malformed(format!("the report was refused: {message} ({code})"))
}

/// Reports a problem from the page: multipart with `id` (made by the page; resent the same),
/// `category`, `lat`/`lon` (WGS-84) and `accuracy_m`, or `address`; `description`; `photo`.
#[utoipa::path(post, path = "/api/v1/volunteer/reports", tag = "volunteer",
    request_body(content_type = "multipart/form-data", description = "id, category, lat, lon, accuracy_m, address, description; the photo as the file part `photo`"),
    responses(
        (status = 201, description = "Stored", body = ReportAccepted),
        (status = 200, description = "Stored before (a resend of the same id): nothing new made", body = ReportAccepted),
        (status = 400, description = "A missing or bad field, a photo we do not take, or a report the lifecycle refuses (`malformed_request`, saying which)", body = ApiError),
        (status = 401, description = "No session (`not_signed_in`)", body = ApiError),
        (status = 403, description = "Not approved yet, turned down, anonymous reports off, the id is someone else's (`forbidden`); or a bad CSRF token (`csrf_rejected`)", body = ApiError),
        (status = 413, description = "The body is too large (`too_large`)", body = ApiError),
        (status = 429, description = "Too many reports (`rate_limited`; `Retry-After`)", body = ApiError),
    ),
    security(("volunteer_session" = [])))]
pub(super) async fn report(
    State(state): St,
    ClientIp(ip): ClientIp,
    caller: PageCaller,
    req: Request,
) -> Result<Response, ServerError> {
    caller.may_report(&state).await?;
    let up = Upload::read(req).await?;
    let id = up.id()?;
    let store = state.store.as_ref();
    // A resend of a report already stored answers at once, before any limit or photo work.
    if let Some(p) = store.problem(id).await? {
        return if p.reporter == caller.user.id && mine(store, &caller, &id).await? {
            Ok(accepted(id, &p.code, true))
        } else {
            Err(ServerError::Forbidden(format!(
                "id {id} is taken: make a new one"
            )))
        };
    }
    limit(&state.volunteer.per_ip, &ip.to_string()).await?;
    limit(&state.volunteer.per_account, caller.limit_key()).await?;
    if caller.anonymous() {
        limit(&state.volunteer.anonymous_per_ip, &ip.to_string()).await?;
    }
    let refs = state.refs().await?;
    let category = up
        .get("category")
        .ok_or_else(|| ServerError::Malformed("category is required".into()))?;
    if !refs.categories.iter().any(|c| c.code == category) {
        return Err(ServerError::Malformed(format!(
            "category {category:?} is not one of the city's"
        )));
    }
    let fix = match (up.number("lat")?, up.number("lon")?) {
        (Some(lat), Some(lon)) if lat.abs() <= 90.0 && lon.abs() <= 180.0 => {
            Some(LatLon { lat, lon })
        }
        (None, None) => None,
        _ => {
            return Err(ServerError::Malformed(
                "lat and lon: both, as a WGS-84 position in decimal degrees".into(),
            ));
        }
    };
    let accuracy = up.number("accuracy_m")?.filter(|a| *a >= 0.0);
    let address = up.text("address", MAX_ADDRESS)?;
    if fix.is_none() && address.is_empty() {
        return Err(ServerError::Malformed(
            "a location is required: the phone's position (lat, lon) or an address".into(),
        ));
    }
    let description = up.text("description", MAX_DESCRIPTION)?;
    if description.is_empty() && up.photo.is_none() {
        return Err(ServerError::Malformed(
            "description: say what the problem is (or add a photo)".into(),
        ));
    }
    let photo = match up.photo.clone() {
        Some(bytes) => Some(outside_report::store_photo(&state, &caller.user, &refs, bytes).await?),
        None => None,
    };
    // Reserved before storing, so a copy sent meanwhile or after a crash builds the same event.
    let reserved = vols::reserve_report(
        store,
        &id.to_string(),
        &caller.user.id,
        &caller.session_hash,
    )
    .await?;
    if reserved.user_id != caller.user.id || reserved.session_hash != caller.session_hash {
        return Err(ServerError::Forbidden(format!(
            "id {id} is taken: make a new one"
        )));
    }
    let placed = outside_report::place_report(
        &refs,
        &caller.user,
        fix.map(|f| (f, accuracy)),
        None,
        address,
    );
    let at = DateTime::from_timestamp_millis(reserved.created_at_ms).unwrap_or_default();
    let code = page_report_code(
        &refs.districts,
        placed.district_id.as_deref(),
        refs.calendar.clone().unwrap_or_default().local_day(at),
        u64::try_from(reserved.seq).unwrap_or_default(),
    );
    let ev = Event::new(
        id,
        &caller.user.actor(),
        PAGE_DEVICE,
        Hlc::new(reserved.created_at_ms, 0, PAGE_DEVICE),
        placed.report(code.clone(), category.to_owned(), description),
    )
    .with_id(id)
    .with_photos(
        photo
            .into_iter()
            .map(|hash| PhotoRef {
                hash,
                role: PhotoRole::Before,
            })
            .collect(),
    );
    ev.check_fields()
        .map_err(|e| ServerError::Malformed(e.to_string()))?;
    if let Err(r) = fieldcheck_domain::lifecycle::apply_problem(None, &ev) {
        return Err(refused(r.code.as_str(), r.message));
    }
    match outside_report::push_one(&state, &refs, &caller.user, PAGE_DEVICE, ev).await? {
        Taken::Stored { already } => Ok(accepted(id, &code, already)),
        Taken::Refused { code, message } => Err(refused(&code, message)),
    }
}

/// Whether this page person made the report `id`: a volunteer their own; an anonymous citizen
/// only those made in this session.
async fn mine(
    store: &dyn crate::store::Store,
    caller: &PageCaller,
    id: &Uuid,
) -> Result<bool, ServerError> {
    if !caller.anonymous() {
        return Ok(true);
    }
    let rows = store
        .select(&[stmt(
            "SELECT 1 FROM public_reports WHERE problem_id = $1 AND session_hash = $2",
            vec![
                Arg::Text(id.to_string()),
                Arg::Text(caller.session_hash.clone()),
            ],
            vec![Col::Int],
        )])
        .await?;
    Ok(!rows[0].is_empty())
}

/// Adds the person's photo to a report (their own, or an open one nearby instead of
/// reporting it again): multipart with `id` (made by the page for this photo; resent the
/// same) and the file part `photo`.
#[utoipa::path(post, path = "/api/v1/volunteer/reports/{id}/photos", tag = "volunteer",
    params(("id" = String, Path, description = "The report's id")),
    request_body(content_type = "multipart/form-data", description = "id (of this addition), and the photo as the file part `photo`"),
    responses(
        (status = 201, description = "Added", body = ReportAccepted),
        (status = 200, description = "Added before (a resend of the same id)", body = ReportAccepted),
        (status = 400, description = "No photo, a photo we do not take, or the report is closed (`malformed_request`)", body = ApiError),
        (status = 401, description = "No session (`not_signed_in`)", body = ApiError),
        (status = 403, description = "Not approved, or the report is outside your team's district (`forbidden`); a bad CSRF token (`csrf_rejected`)", body = ApiError),
        (status = 404, description = "No such report (`not_found`)", body = ApiError),
        (status = 429, description = "Too many (`rate_limited`)", body = ApiError),
    ),
    security(("volunteer_session" = [])))]
pub(super) async fn add_photo(
    State(state): St,
    ClientIp(ip): ClientIp,
    caller: PageCaller,
    Path(problem): Path<String>,
    req: Request,
) -> Result<Response, ServerError> {
    caller.may_report(&state).await?;
    let problem_id = Uuid::parse_str(&problem)
        .map_err(|_| ServerError::NotFound(format!("report {problem}")))?;
    let up = Upload::read(req).await?;
    let event_id = up.id()?;
    let store = state.store.as_ref();
    let p = store
        .problem(problem_id)
        .await?
        .ok_or_else(|| ServerError::NotFound(format!("report {problem}")))?;
    // A resend of an addition already stored answers at once, whatever the report's state now.
    if let Some((e, _)) = store
        .problem_events(problem_id)
        .await?
        .into_iter()
        .find(|(e, _)| e.id == event_id)
    {
        return if e.actor == caller.user.id {
            Ok(accepted(problem_id, &p.code, true))
        } else {
            Err(ServerError::Forbidden(format!(
                "id {event_id} is taken: make a new one"
            )))
        };
    }
    let bytes = up
        .photo
        .clone()
        .ok_or_else(|| ServerError::Malformed("photo: the file part `photo` is required".into()))?;
    limit(&state.volunteer.per_ip, &ip.to_string()).await?;
    limit(&state.volunteer.per_account, caller.limit_key()).await?;
    let actor = caller.user.actor();
    // Refused now rather than kept in the record's history as rejected.
    if let Err(r) = precondition(&p, "problem.photos_added", &actor) {
        return Err(refused(r.code.as_str(), r.message));
    }
    let refs = state.refs().await?;
    let hash = outside_report::store_photo(&state, &caller.user, &refs, bytes).await?;
    let ev = Event::new(
        problem_id,
        &actor,
        PAGE_DEVICE,
        Hlc::new(super::now_ms(), 0, PAGE_DEVICE),
        EventBody::ProblemPhotosAdded { note: None },
    )
    .with_id(event_id)
    .with_photos(vec![PhotoRef {
        hash,
        role: PhotoRole::Evidence,
    }]);
    match outside_report::push_one(&state, &refs, &caller.user, PAGE_DEVICE, ev).await? {
        Taken::Stored { already } => Ok(accepted(problem_id, &p.code, already)),
        Taken::Refused { code, message } if code == "out_of_scope" => Err(ServerError::Forbidden(
            format!("{message}: the report is outside your team's district"),
        )),
        Taken::Refused { code, message } => Err(refused(&code, message)),
    }
}

/// My reports (我的上报), newest first: status (a duplicate's is its original's), the office's
/// note, the photos, and the unit's after-photos once rectified.
#[utoipa::path(get, path = "/api/v1/volunteer/reports", tag = "volunteer",
    responses(
        (status = 200, description = "My reports, newest first (at most 200)", body = MyReports),
        (status = 401, description = "No session (`not_signed_in`)", body = ApiError),
    ),
    security(("volunteer_session" = [])))]
pub(super) async fn my_reports(
    State(state): St,
    caller: PageCaller,
) -> Result<Json<MyReports>, ServerError> {
    let store = state.store.as_ref();
    let stmt_mine = if caller.anonymous() {
        stmt(
            "SELECT p.state FROM problems p JOIN public_reports r ON r.problem_id = p.id \
             WHERE r.session_hash = $1 ORDER BY r.seq DESC LIMIT $2",
            vec![Arg::Text(caller.session_hash.clone()), Arg::Int(MY_REPORTS)],
            vec![Col::Text],
        )
    } else {
        stmt(
            "SELECT state FROM problems WHERE reporter = $1 ORDER BY reported_at DESC, id LIMIT $2",
            vec![Arg::Text(caller.user.id.clone()), Arg::Int(MY_REPORTS)],
            vec![Col::Text],
        )
    };
    let rows = store.select(&[stmt_mine]).await?;
    let problems: Vec<Problem> = rows[0]
        .iter()
        .filter_map(|r| serde_json::from_str(r[0].text()?).ok())
        .collect();
    // The originals of duplicates, in one query.
    let codes: Vec<String> = problems
        .iter()
        .filter_map(|p| p.duplicate_of.clone())
        .collect();
    let originals: Vec<Problem> = if codes.is_empty() {
        vec![]
    } else {
        let marks: Vec<String> = (1..=codes.len()).map(|i| format!("${i}")).collect();
        let rows = store
            .select(&[stmt(
                format!(
                    "SELECT state FROM problems WHERE code IN ({})",
                    marks.join(", ")
                ),
                codes.into_iter().map(Arg::Text).collect(),
                vec![Col::Text],
            )])
            .await?;
        rows[0]
            .iter()
            .filter_map(|r| serde_json::from_str(r[0].text()?).ok())
            .collect()
    };
    let refs = state.refs().await?;
    let reports = problems
        .iter()
        .map(|p| {
            let original = p
                .duplicate_of
                .as_deref()
                .and_then(|c| originals.iter().find(|o| o.code == c));
            let status = shown_status(p, original);
            let after_of = |q: &Problem| -> Vec<String> {
                q.photos
                    .iter()
                    .filter(|ph| ph.role == PhotoRole::After)
                    .map(|ph| photo_url(ph.shown()))
                    .collect()
            };
            MyReport {
                id: p.id.to_string(),
                code: p.code.clone(),
                category: p.category.clone(),
                category_name: refs
                    .categories
                    .iter()
                    .find(|c| c.code == p.category)
                    .map_or_else(|| p.category.clone(), |c| c.minor.zh.clone()),
                status,
                status_label: status.label(Lang::Zh).to_owned(),
                description: p.description.clone(),
                address: p.address.clone(),
                reported_at: p.reported_at,
                updated_at: original.map_or(p.updated_at, |o| o.updated_at.max(p.updated_at)),
                public_note: public_note(p, Lang::Zh),
                photos: p
                    .photos
                    .iter()
                    .filter(|ph| ph.role != PhotoRole::After)
                    .map(|ph| photo_url(ph.shown()))
                    .collect(),
                // A duplicate shows the original's rectification: the problem it saw.
                after_photos: original.map_or_else(|| after_of(p), after_of),
                duplicate_of: original.map(|o| DuplicateOf {
                    code: o.code.clone(),
                    status: o.status,
                    status_label: o.status.label(Lang::Zh).to_owned(),
                }),
            }
        })
        .collect();
    Ok(Json(MyReports { reports }))
}

/// A photo shown on the page: of one of my reports (or its original's, for a duplicate), or
/// of an open report (the nearby list shows them). Display copies only: re-encoded when
/// stored, no EXIF or GPS metadata.
#[utoipa::path(get, path = "/api/v1/volunteer/photos/{hash}", tag = "volunteer",
    params(("hash" = String, Path, description = "SHA-256 of the display copy")),
    responses(
        (status = 200, description = "The JPEG", content_type = "image/jpeg"),
        (status = 400, description = "Not a SHA-256 (`invalid_hash`)", body = ApiError),
        (status = 401, description = "No session (`not_signed_in`)", body = ApiError),
        (status = 404, description = "No such photo, or not one the page shows you (`not_found`)", body = ApiError),
    ),
    security(("volunteer_session" = [])))]
pub(super) async fn photo(
    State(state): St,
    caller: PageCaller,
    Path(hash): Path<String>,
) -> Result<Response, ServerError> {
    if !super::valid_hash(&hash) {
        return Err(ServerError::InvalidHash);
    }
    let not_found = || ServerError::NotFound(format!("photo {hash}"));
    let store = state.store.as_ref();
    let rows = store
        .select(&[stmt(
            "SELECT p.state FROM event_photos e JOIN problems p ON p.id = e.entity_id \
             WHERE e.hash = $1",
            vec![Arg::Text(hash.clone())],
            vec![Col::Text],
        )])
        .await?;
    let holders: Vec<Problem> = rows[0]
        .iter()
        .filter_map(|r| serde_json::from_str(r[0].text()?).ok())
        .collect();
    let mut shown = false;
    let may_report = caller.may_report(&state).await.is_ok();
    for p in &holders {
        let Some(ph) = p
            .photos
            .iter()
            .find(|ph| ph.hash == hash || ph.stamped.as_deref() == Some(hash.as_str()))
        else {
            continue;
        };
        shown = (p.reporter == caller.user.id && mine(store, &caller, &p.id).await?)
            // What the nearby list shows: an open report's photos, not its after-photos.
            || (may_report && !p.status.is_terminal() && ph.role != PhotoRole::After)
            || original_of_mine(store, &caller, &p.code).await?;
        if shown {
            break;
        }
    }
    if !shown {
        return Err(not_found());
    }
    let bytes = state.uploads.get(&hash).await?.ok_or_else(not_found)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            super::IMMUTABLE,
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        bytes,
    )
        .into_response())
}

/// Is `code` the original of a report of mine marked its duplicate (whose page shows the
/// original's after-photos)?
async fn original_of_mine(
    store: &dyn crate::store::Store,
    caller: &PageCaller,
    code: &str,
) -> Result<bool, ServerError> {
    let rows = store
        .select(&[stmt(
            "SELECT id, state FROM problems WHERE reporter = $1 AND status = 'rejected' LIMIT 500",
            vec![Arg::Text(caller.user.id.clone())],
            vec![Col::Text, Col::Text],
        )])
        .await?;
    for r in &rows[0] {
        let Some(p) = r[1]
            .text()
            .and_then(|s| serde_json::from_str::<Problem>(s).ok())
        else {
            continue;
        };
        if p.duplicate_of.as_deref() == Some(code) && mine(store, caller, &p.id).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The team's members, for its leader: pending first.
#[utoipa::path(get, path = "/api/v1/volunteer/team/members", tag = "volunteer",
    responses(
        (status = 200, description = "The members (phones with the middle digits hidden)", body = TeamMembers),
        (status = 401, description = "No session (`not_signed_in`)", body = ApiError),
        (status = 403, description = "Not the team's leader (`forbidden`)", body = ApiError),
    ),
    security(("volunteer_session" = [])))]
pub(super) async fn members(
    State(state): St,
    caller: PageCaller,
) -> Result<Json<TeamMembers>, ServerError> {
    let team = leader_team(&caller)?;
    let counts = vols::report_counts(state.store.as_ref()).await?;
    let members = member_rows(&state, Some(team), &counts, true).await?;
    Ok(Json(TeamMembers { members }))
}

fn leader_team(caller: &PageCaller) -> Result<&str, ServerError> {
    match &caller.volunteer {
        Some(v) if v.leader && v.status == VolunteerStatus::Approved => Ok(&v.team_id),
        _ => Err(ServerError::Forbidden(
            "only the team's leader approves its members".into(),
        )),
    }
}

/// The volunteers of `team` (all when `None`) as rows, with their counts.
pub(super) async fn member_rows(
    state: &AppState,
    team: Option<&str>,
    counts: &std::collections::HashMap<String, (u64, u64)>,
    masked: bool,
) -> Result<Vec<VolunteerRow>, ServerError> {
    let refs = state.refs().await?;
    let list = vols::volunteers(state.store.as_ref(), team).await?;
    Ok(list
        .into_iter()
        .map(|v| row_of(&v, &refs, counts, masked))
        .collect())
}

pub(super) fn row_of(
    v: &Volunteer,
    refs: &fieldcheck_protocol::ReferenceBundle,
    counts: &std::collections::HashMap<String, (u64, u64)>,
    masked: bool,
) -> VolunteerRow {
    let (reports, confirmed) = counts.get(&v.user_id).copied().unwrap_or_default();
    VolunteerRow {
        user_id: v.user_id.clone(),
        name: refs
            .users
            .iter()
            .find(|u| u.id == v.user_id)
            .map_or_else(|| v.user_id.clone(), |u| u.name.clone()),
        phone: if masked {
            vols::masked_phone(&v.phone)
        } else {
            v.phone.clone()
        },
        team_id: v.team_id.clone(),
        status: v.status,
        leader: v.leader,
        joined_at: DateTime::from_timestamp_millis(v.joined_at_ms).unwrap_or_default(),
        reports,
        confirmed,
    }
}

/// The team leader approves or turns down a member of their team.
#[utoipa::path(post, path = "/api/v1/volunteer/team/members/{user_id}", tag = "volunteer",
    params(("user_id" = String, Path, description = "The member")),
    request_body = MemberDecision,
    responses(
        (status = 200, description = "The member as decided", body = VolunteerRow),
        (status = 400, description = "A status other than approved/rejected, or `leader` (the office's) (`malformed_request`)", body = ApiError),
        (status = 401, description = "No session (`not_signed_in`)", body = ApiError),
        (status = 403, description = "Not the team's leader, or the member is in another team or is you (`forbidden`); a bad CSRF token (`csrf_rejected`)", body = ApiError),
        (status = 404, description = "No such volunteer (`not_found`)", body = ApiError),
    ),
    security(("volunteer_session" = [])))]
pub(super) async fn decide_member(
    State(state): St,
    caller: PageCaller,
    Path(user_id): Path<String>,
    ApiJson(d): ApiJson<MemberDecision>,
) -> Result<Json<VolunteerRow>, ServerError> {
    let team = leader_team(&caller)?;
    if d.leader.is_some() {
        return Err(ServerError::Malformed(
            "leader: the city office names team leaders".into(),
        ));
    }
    let Some(status) = d.status else {
        return Err(ServerError::Malformed(
            "status: approved or rejected".into(),
        ));
    };
    let store = state.store.as_ref();
    let member = vols::volunteer(store, &user_id)
        .await?
        .ok_or_else(|| ServerError::NotFound(format!("volunteer {user_id}")))?;
    if member.team_id != team || member.user_id == caller.user.id {
        return Err(ServerError::Forbidden(format!(
            "volunteer {user_id} is not a member of your team you may decide on"
        )));
    }
    let after = vols::decide(store, &caller.user.id, &user_id, Some(status), None)
        .await
        .map_err(setup_refusal)?
        .ok_or_else(|| ServerError::NotFound(format!("volunteer {user_id}")))?;
    let refs = state.refs().await?;
    let counts = vols::report_counts(store).await?;
    Ok(Json(row_of(&after, &refs, &counts, true)))
}
