//! The HTTP edge: routing, extractors, and the mapping of [`ServerError`] to status codes and
//! `ApiError` bodies. Handlers are thin: parse, authorize the caller, call the store.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use fieldcheck_domain::reference::User;
use fieldcheck_domain::role::Role;
use fieldcheck_protocol::sync::{
    BlobCheckRequest, BlobCheckResponse, BlobState, ENROLL_TOKEN_LEN, EnrollRequest,
    EnrollResponse, INSTANCE_HEADER, LoginRequest, LoginResponse, MAX_PASSWORD_CHARS,
    MAX_PUSH_EVENTS, MAX_USERNAME_CHARS, Me, PROTOCOL_HEADER, PullResponse, PushRequest,
    PushResponse, ReferenceResponse,
};
use fieldcheck_protocol::{ApiError, ReferenceBundle};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::auth::{self, EnrollLimiter, LoginLimiter};
use crate::blobs::{BlobStore, LocalBlobs, Put, Uploads};
use crate::client_ip::ClientIp;
use crate::config::Config;
use crate::error::{ServerError, StoreError};
use crate::policy::Viewer;
use crate::store::{AppendCtx, Store, StoredUser};

mod admin;
pub mod console;
mod console_app;
mod console_cases;
pub mod console_exports;
mod console_points;
pub mod console_reports;
mod console_rounds;
mod console_rules;
mod console_schedules;
mod console_setup;
mod console_stats;
mod console_volunteers;
mod map;
pub mod open311;
pub mod openapi;
mod outside_report;
pub mod volunteer;

/// Shared by all handlers.
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Config,
    /// Complete, verified blobs (uploads in progress are staged under `blob_dir/partial`).
    pub blobs: Arc<dyn BlobStore>,
    limiter: LoginLimiter,
    enroll_limiter: EnrollLimiter,
    /// Uploads in progress (staged under `blob_dir/partial`) and who may read a blob.
    pub uploads: Arc<Uploads>,
    /// The latest reference bundle, reloaded when its version changes.
    refs: tokio::sync::RwLock<(u64, Arc<ReferenceBundle>)>,
    /// Push requests per device (per user for web sessions).
    push_limiter: crate::push_limit::PushLimiter,
    /// `/readyz`'s cached answer (`ops.rs`).
    pub(crate) ops: crate::ops::OpsState,
    /// The export jobs' runner (`api/console_exports.rs`).
    pub exports: console_exports::ExportsState,
    /// Open311's rate limits (`api/open311.rs`).
    pub open311: open311::Open311State,
    /// The volunteers' page's rate limits (`api/volunteer.rs`).
    pub volunteer: volunteer::VolunteerLimits,
    /// The database's instance id as a header value, read once: only `restore` changes it,
    /// with the server stopped.
    instance: tokio::sync::OnceCell<axum::http::HeaderValue>,
}

type St = State<Arc<AppState>>;

impl AppState {
    /// State with blobs in the local `config.blob_dir`.
    pub fn new(store: Arc<dyn Store>, config: Config) -> AppState {
        let blobs = Arc::new(LocalBlobs::new(&config.blob_dir));
        AppState::with_blobs(store, config, blobs)
    }

    pub fn with_blobs(
        store: Arc<dyn Store>,
        config: Config,
        blobs: Arc<dyn BlobStore>,
    ) -> AppState {
        let uploads = Arc::new(Uploads::new(store.clone(), blobs.clone(), &config));
        let config_push = (config.push_per_minute, config.push_burst);
        let mut open311 =
            open311::Open311State::new(config.open311_per_minute, config.open311_burst);
        let window = std::time::Duration::from_secs(config.auth_window_secs);
        let mut limiter = LoginLimiter::new(
            config.login_failures_per_user as usize,
            config.login_failures_per_ip as usize,
            window,
        );
        let mut enroll_limiter = EnrollLimiter::new(config.enroll_failures_per_ip as usize, window);
        let mut push_limiter = crate::push_limit::PushLimiter::new(config_push.0, config_push.1);
        let mut volunteer = volunteer::VolunteerLimits::default();
        // On PostgreSQL several instances may share the database: the limits count there, so
        // they hold whichever instance a request lands on.
        if store.backend() == "postgres" {
            let counts = || auth::SharedCounts::new(store.clone(), window);
            limiter = limiter.shared(counts());
            enroll_limiter = enroll_limiter.shared(counts());
            push_limiter = push_limiter.shared(store.clone());
            open311 = open311.shared(store.clone());
            volunteer = volunteer.shared(store.clone());
        }
        // The first unknown-user login must not be the one that pays for the dummy hash.
        auth::warm_up();
        AppState {
            store,
            config,
            blobs,
            limiter,
            enroll_limiter,
            uploads,
            refs: tokio::sync::RwLock::new((0, Arc::new(ReferenceBundle::default()))),
            push_limiter,
            ops: crate::ops::OpsState::default(),
            exports: console_exports::ExportsState::default(),
            open311,
            volunteer,
            instance: tokio::sync::OnceCell::new(),
        }
    }

    /// The instance id every `/api/v1` answer carries (`INSTANCE_HEADER`).
    async fn instance(&self) -> Result<&axum::http::HeaderValue, ServerError> {
        self.instance
            .get_or_try_init(|| async {
                let id = self.store.instance().await?;
                axum::http::HeaderValue::from_str(&id).map_err(|_| {
                    ServerError::from(crate::error::StoreError::Corrupt(format!(
                        "instance id {id:?} is not a header value"
                    )))
                })
            })
            .await
    }

    async fn refs(&self) -> Result<Arc<ReferenceBundle>, ServerError> {
        let v = self.store.reference_version().await?;
        {
            let cached = self.refs.read().await;
            if cached.0 == v {
                return Ok(cached.1.clone());
            }
        }
        let (v, bundle) = self.store.reference().await?.unwrap_or_default();
        let bundle = Arc::new(bundle);
        *self.refs.write().await = (v, bundle.clone());
        Ok(bundle)
    }
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        use ServerError as E;
        let status = match &self {
            E::ProtocolTooOld { .. } => StatusCode::UPGRADE_REQUIRED,
            E::Unauthorized | E::TokenExpired | E::TokenRevoked | E::UserDisabled(_) => {
                StatusCode::UNAUTHORIZED
            }
            E::NotSignedIn | E::SessionExpired | E::WrongCredentials => StatusCode::UNAUTHORIZED,
            E::CsrfRejected(_) | E::NoConsoleAccess(_) => StatusCode::FORBIDDEN,
            E::DeviceInUse(_) => StatusCode::CONFLICT,
            E::EnrollRateLimited => StatusCode::TOO_MANY_REQUESTS,
            E::Forbidden(_) => StatusCode::FORBIDDEN,
            E::Malformed(_) | E::InvalidHash | E::EnrollCodeInvalid => StatusCode::BAD_REQUEST,
            E::TooLarge(_)
            | E::TooManyEvents { .. }
            | E::ChunkTooLarge(_)
            | E::BlobTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            E::HashMismatch(_) => StatusCode::UNPROCESSABLE_ENTITY,
            E::BadOffset { .. } => StatusCode::CONFLICT,
            E::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            E::PushRateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            E::NotFound(_) => StatusCode::NOT_FOUND,
            E::Store(_) | E::Io(_) | E::Blob(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = if status.is_server_error() {
            // Details go to the log, not to the client.
            tracing::error!(error = %self, "request failed");
            "internal server error".to_owned()
        } else {
            self.to_string()
        };
        let retry_after = match &self {
            E::PushRateLimited { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        };
        let body = ApiError {
            code: self.code().to_owned(),
            message,
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        }
        response
    }
}

/// JSON body extractor whose failures are `ApiError`s: 413 `too_large` over the body limit,
/// 400 `malformed_request` naming the offending field (`events[0].hlc: invalid type ...`)
/// otherwise, so a client developer sees at once what to fix.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ServerError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let limit = req
            .extensions()
            .get::<BodyLimit>()
            .map(|l| l.0)
            .unwrap_or(0);
        let bytes = read_body(req, state, ServerError::TooLarge(limit)).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Deserializes a whole JSON document, naming the path of the first bad value.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ServerError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || inner.is_syntax() || inner.is_eof() {
            ServerError::Malformed(format!("invalid JSON body: {inner}"))
        } else {
            ServerError::Malformed(format!("invalid JSON body at `{path}`: {inner}"))
        }
    })?;
    de.end()
        .map_err(|e| ServerError::Malformed(format!("invalid JSON body: {e}")))?;
    Ok(value)
}

/// Reads the body under the route's `DefaultBodyLimit`; `too_large` is what to answer when
/// it is exceeded (its message names the limit that applies).
async fn read_body<S: Send + Sync>(
    req: Request,
    state: &S,
    too_large: ServerError,
) -> Result<Bytes, ServerError> {
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large
        } else {
            ServerError::Malformed(e.body_text())
        }
    })
}

/// The configured body limit, made visible to extractors for their error message.
#[derive(Clone, Copy)]
struct BodyLimit(usize);

/// Both ends of a connection: the TCP peer (from which `client_ip::resolve` works out the
/// request's [`ClientIp`]) and the server's own address (the server named in enrollment QR
/// codes when no `public_url` is set — never the Host header, which the client chooses).
/// Serve with `into_make_service_with_connect_info::<ConnAddrs>()`.
#[derive(Clone, Copy, Debug)]
pub struct ConnAddrs {
    pub remote: SocketAddr,
    pub local: Option<SocketAddr>,
}

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>>
    for ConnAddrs
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        ConnAddrs {
            remote: *stream.remote_addr(),
            local: stream.io().local_addr().ok(),
        }
    }
}

/// The server's own address on the request's connection (see [`ConnAddrs`]).
#[derive(Clone, Copy, Debug)]
pub struct LocalAddr(pub SocketAddr);

/// The authenticated caller.
pub struct Caller {
    pub user: User,
    pub device_id: Option<Uuid>,
    /// Hash of the bearer token the request came with (what `/logout` revokes).
    pub token_hash: String,
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ServerError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ServerError::Unauthorized)?;
        let now = now_ms();
        let token_hash = auth::hash_secret(token);
        let rec = state
            .store
            .token_record(&token_hash)
            .await?
            .ok_or(ServerError::Unauthorized)?;
        if rec.revoked_at_ms.is_some() {
            return Err(ServerError::TokenRevoked);
        }
        let last_used = rec.last_used_at_ms.unwrap_or(rec.created_at_ms);
        let idle_ms = (state.config.device_token_idle_secs as i64).saturating_mul(1000);
        let expired = match rec.expires_at_ms {
            // A session ends at a fixed time.
            Some(end) => end <= now,
            // A device token ends after an idle period (sliding).
            None => now.saturating_sub(last_used) >= idle_ms,
        };
        if expired {
            return Err(ServerError::TokenExpired);
        }
        let user = state
            .store
            .user(&rec.user_id)
            .await?
            .ok_or(ServerError::Unauthorized)?;
        if user.disabled {
            return Err(ServerError::UserDisabled(format!(
                "user {} is disabled by the office",
                user.user.id
            )));
        }
        if user.removed {
            return Err(ServerError::UserDisabled(format!(
                "user {} is no longer in the reference data",
                user.user.id
            )));
        }
        // Devices sync every few minutes: note the use at most once per interval, so the
        // sliding expiry costs one write per token per hour, not one per request — and at
        // once when the app is new or another version (the office's list of devices).
        let touch_every = (idle_ms / 8).min(3_600_000);
        let app = app_of(&parts.headers);
        if rec.expires_at_ms.is_none()
            && (now.saturating_sub(last_used) >= touch_every
                || app.is_some() && app != rec.app_version)
        {
            state
                .store
                .touch_token(&token_hash, now, app.as_deref())
                .await?;
        }
        Ok(Caller {
            user: user.user,
            device_id: rec.device_id,
            token_hash,
        })
    }
}

/// The app a request came from, as its `User-Agent` says (`fieldcheck/0.1.0`), cut to what
/// a list of devices shows; none for an empty or non-text header.
fn app_of(headers: &axum::http::HeaderMap) -> Option<String> {
    let ua = headers.get(header::USER_AGENT)?.to_str().ok()?.trim();
    (!ua.is_empty()).then(|| ua.chars().take(100).collect())
}

/// Every request names its protocol version; clients below the minimum get 426 so they can
/// tell the user to update instead of failing in strange ways.
async fn require_protocol(
    State(state): St,
    mut req: Request,
    next: Next,
) -> Result<Response, ServerError> {
    let got = req
        .headers()
        .get(PROTOCOL_HEADER)
        .map(|v| v.to_str().unwrap_or("?").to_owned());
    let min = state.config.min_protocol;
    match got.as_deref().map(|v| v.trim().parse::<u32>()) {
        Some(Ok(v)) if v >= min => {}
        _ => {
            return Err(ServerError::ProtocolTooOld {
                got: got.unwrap_or_else(|| "none".to_owned()),
                min,
            });
        }
    }
    req.extensions_mut()
        .insert(BodyLimit(state.config.max_body_bytes));
    // Read before the handler runs: an answer is never sent without the id of the data it
    // came from (a device would then miss a restore until its next run).
    let instance = state.instance().await?.clone();
    let mut resp = next.run(req).await;
    resp.headers_mut().insert(INSTANCE_HEADER, instance);
    Ok(resp)
}

/// The API router (all routes under `/api/v1`).
pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.config.max_body_bytes;
    let chunk_limit = state.config.max_chunk_bytes;
    let api = Router::new()
        .route("/enroll", post(enroll))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/me", get(me))
        .route("/push", post(push))
        .route("/pull", get(pull))
        .route("/blobs/check", post(blobs_check))
        .route(
            "/blobs/{hash}",
            put(blob_put)
                .get(blob_get)
                .layer(DefaultBodyLimit::max(chunk_limit)),
        )
        .route("/reference", get(reference))
        .route("/admin/enroll-codes", post(admin::create_enroll_code))
        .route(
            "/admin/enroll-codes/{code}/qr.svg",
            get(admin::enroll_qr_svg),
        )
        .route(
            "/admin/enroll-codes/{code}/qr.png",
            get(admin::enroll_qr_png),
        )
        .route(
            "/admin/devices/{device_id}/revoke",
            post(admin::revoke_device),
        )
        .route("/admin/users/{user_id}/revoke", post(admin::revoke_user))
        .route("/admin/users/{user_id}/disable", post(admin::disable_user))
        .route("/admin/users/{user_id}/enable", post(admin::enable_user))
        .route(
            "/admin/open311-keys",
            post(admin::create_open311_key).get(admin::list_open311_keys),
        )
        .route(
            "/admin/open311-keys/{id}/revoke",
            post(admin::revoke_open311_key),
        )
        .merge(console_rounds::device_routes())
        .merge(map::device_routes())
        .merge(console_routes(state.clone()))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            require_protocol,
        ));
    let app = Router::new()
        // Outside the protocol check: API tools fetch the document without our header.
        .route("/api/v1/openapi.json", get(openapi::document))
        .nest("/api/v1", api)
        .merge(console_app::router(
            &state.config.console_dir,
            &state.config.report_dir,
        ))
        // /healthz, /readyz, /metrics (outside the protocol check too).
        .merge(crate::ops::routes())
        // Open311 GeoReport v2: the spec's own shapes, no protocol header.
        .merge(open311::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn(crate::ops::observe))
        // Inside the trace layer: it records the client on the request's span.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::client_ip::resolve,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(redacted_request_span));
    crate::ops::with_request_id(app).with_state(state)
}

/// The console's routes (`api/console.rs`): cookie sessions, refusing cross-site writes.
fn console_routes(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/console/session",
            post(console::sign_in)
                .get(console::current_session)
                .delete(console::sign_out),
        )
        .route("/console/problems", get(console::problems))
        .merge(console_cases::routes())
        .merge(console_stats::routes())
        .merge(console_exports::routes())
        .merge(console_schedules::routes())
        .merge(console_setup::routes())
        .merge(console_points::routes())
        .merge(console_rules::routes())
        .merge(console_rounds::routes())
        .merge(console_volunteers::routes())
        // The volunteers' page: its own cookie session, the same same-origin rule.
        .merge(volunteer::routes())
        .route_layer(middleware::from_fn_with_state(
            state,
            console::same_origin_only,
        ))
}

/// The request span of the trace layer without secrets: an enrollment code in a QR path
/// (`/admin/enroll-codes/<code>/qr.svg`) is replaced, and headers (bearer tokens) are never
/// recorded.
///
/// The span is at ERROR level so that it is open whatever `RUST_LOG` lets through: every line
/// logged for the request then carries its `request_id` (`ops.rs`), a warning as much as a
/// debug line.
fn redacted_request_span(req: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    tracing::error_span!(
        "request",
        method = %req.method(),
        uri = %redact_path(req.uri().path()),
        version = ?req.version(),
        request_id = %crate::ops::request_id_of(req),
        // `client_ip::resolve` fills it in (the client behind trusted proxies).
        client = tracing::field::Empty,
    )
}

/// The path with the enrollment code after `enroll-codes/` replaced by `***`; the query is
/// dropped (nothing in it is needed in a trace).
pub fn redact_path(path: &str) -> String {
    const MARK: &str = "/enroll-codes/";
    match path.find(MARK) {
        Some(i) => {
            let start = i + MARK.len();
            let rest = &path[start..];
            let end = rest.find('/').unwrap_or(rest.len());
            format!("{}***{}", &path[..start], &rest[end..])
        }
        None => path.to_owned(),
    }
}

async fn not_found() -> ServerError {
    ServerError::NotFound("route".to_owned())
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[utoipa::path(
    post,
    path = "/api/v1/enroll",
    tag = "sync",
    request_body = EnrollRequest,
    responses(
        (status = 200, description = "Device token (shown only now) and the user", body = EnrollResponse),
        (status = 400, description = "Code unknown, expired or used by another token (`enroll_code_invalid`) or bad body (`malformed_request`, naming the field)", body = ApiError),
        (status = 401, description = "The code's user is disabled or no longer in the reference data (`user_disabled`)", body = ApiError),
        (status = 409, description = "The device id is enrolled for another user and not revoked (`device_in_use`)", body = ApiError),
        (status = 413, description = "Body over `max_body_bytes` (`too_large`)", body = ApiError),
        (status = 429, description = "Too many wrong codes from this address (`rate_limited`; `enroll_failures_per_ip` per `auth_window_secs`)", body = ApiError),
    )
)]
async fn enroll(
    State(state): St,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<EnrollRequest>,
) -> Result<Json<EnrollResponse>, ServerError> {
    let code = auth::normalize_enroll_code(&req.code);
    let token = match req.token {
        Some(t) => {
            if !ENROLL_TOKEN_LEN.contains(&t.len()) || !t.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(ServerError::Malformed(format!(
                    "token must be {} to {} visible ASCII characters",
                    ENROLL_TOKEN_LEN.start(),
                    ENROLL_TOKEN_LEN.end()
                )));
            }
            t
        }
        None => auth::new_token(),
    };
    // Counted as a wrong code before it is looked up, so parallel guesses count too.
    if !state.enroll_limiter.begin(ip, Instant::now()).await {
        return Err(ServerError::EnrollRateLimited);
    }
    if code.is_empty() || code.len() > 64 {
        return Err(ServerError::EnrollCodeInvalid);
    }
    let code_hash = auth::hash_secret(&code);
    let now = now_ms();
    if let Some(user_id) = state.store.enroll_code_user(&code_hash, now).await? {
        let user = state.store.user(&user_id).await?;
        if let Some(u) = user.filter(|u| !u.active()) {
            // A right code: it does not count against the address.
            state.enroll_limiter.succeeded(ip).await;
            return Err(ServerError::UserDisabled(format!(
                "user {} may not enroll devices: disabled or no longer in the reference data",
                u.user.id
            )));
        }
    }
    let redeemed = state
        .store
        .redeem_enroll_code(
            &code_hash,
            now,
            req.device_id,
            &req.device_name,
            &auth::hash_secret(&token),
        )
        .await;
    // Only a wrong code (unknown, expired, used by another token) stays counted; a right one,
    // a repeated enrollment whose answer was lost included, does not.
    if !matches!(redeemed, Ok(None)) {
        state.enroll_limiter.succeeded(ip).await;
    }
    let enrolled = redeemed
        .map_err(|e| match e {
            StoreError::DeviceInUse(d) => ServerError::DeviceInUse(d),
            e => ServerError::Store(e),
        })?
        .ok_or(ServerError::EnrollCodeInvalid)?;
    let user = state
        .store
        .user(&enrolled.user_id)
        .await?
        .ok_or_else(|| ServerError::NotFound(format!("user {}", enrolled.user_id)))?;
    Ok(Json(EnrollResponse {
        token,
        user: user.user,
        device_tag: enrolled.device_tag,
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/login",
    tag = "sync",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Session token (lives `session_ttl_secs`)", body = LoginResponse),
        (status = 400, description = "Bad body, or `username` over 128 / `password` over 1024 characters (`malformed_request`, naming the field)", body = ApiError),
        (status = 401, description = "Wrong user or password (`unauthorized`), or the right password of a disabled user (`user_disabled`)", body = ApiError),
        (status = 413, description = "Body over `max_body_bytes` (`too_large`)", body = ApiError),
        (status = 429, description = "Too many failed logins for this user from this address (`login_failures_per_user`) or from this address (`login_failures_per_ip`) within `auth_window_secs` (`rate_limited`)", body = ApiError),
    )
)]
async fn login(
    State(state): St,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ServerError> {
    let stored = authenticate(&state, ip, req, ServerError::Unauthorized).await?;
    let token = auth::new_token();
    let now = now_ms();
    let expires = now + (state.config.session_ttl_secs as i64) * 1000;
    state
        .store
        .create_session(&auth::hash_secret(&token), &stored.user.id, now, expires)
        .await?;
    Ok(Json(LoginResponse {
        token,
        user: stored.user,
        expires_at_ms: expires,
    }))
}

/// The user whose username and password these are, active, or why not: the one check behind
/// `/login` and the console's sign-in, so both count against the same limits and cost the same.
/// A wrong username or password is `wrong_password`, each endpoint's own error for it.
async fn authenticate(
    state: &AppState,
    ip: std::net::IpAddr,
    req: LoginRequest,
    wrong_password: ServerError,
) -> Result<StoredUser, ServerError> {
    check_credential_lengths(&req)?;
    // The attempt counts as a failure before the password is checked: 30 concurrent guesses
    // cannot all get past the limit while the first ones are still hashing.
    if !state.limiter.begin(&req.username, ip, Instant::now()).await {
        crate::ops::metrics::login_failed("rate_limited");
        return Err(ServerError::RateLimited);
    }
    let stored = state.store.user(&req.username).await?;
    // Argon2 runs on a blocking thread: it is deliberately slow. An unknown user is verified
    // against a dummy hash, so both cost the same.
    let hash = stored.as_ref().and_then(|u| u.password_hash.clone());
    let password = req.password;
    let ok = tokio::task::spawn_blocking(move || auth::verify_login(&password, hash.as_deref()))
        .await
        .unwrap_or(false);
    let Some(stored) = stored.filter(|_| ok) else {
        crate::ops::metrics::login_failed("wrong_credentials");
        return Err(wrong_password);
    };
    state.limiter.succeeded(&req.username, ip).await;
    if !stored.active() {
        return Err(ServerError::UserDisabled(format!(
            "user {} is disabled or no longer in the reference data",
            stored.user.id
        )));
    }
    Ok(stored)
}

/// A sign-in's username and password within the schema's `maxLength`, checked before any
/// lookup, hashing or counting (`/login` and the console's sign-in).
fn check_credential_lengths(req: &LoginRequest) -> Result<(), ServerError> {
    for (field, value, max) in [
        ("username", &req.username, MAX_USERNAME_CHARS),
        ("password", &req.password, MAX_PASSWORD_CHARS),
    ] {
        // Characters, as the schema's `maxLength` counts them; bounded in bytes either way.
        let len = value.chars().count();
        if len > max {
            return Err(ServerError::Malformed(format!(
                "{field} is {len} characters long; at most {max} are allowed"
            )));
        }
    }
    Ok(())
}

#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "sync",
    responses(
        (status = 200, description = "The caller", body = Me),
    ),
    security(("bearer" = []))
)]
async fn me(caller: Caller) -> Json<Me> {
    Json(Me {
        user_id: caller.user.id,
        role: caller.user.role,
        unit_id: caller.user.unit_id,
        district_ids: caller.user.district_ids,
        device_id: caller.device_id,
    })
}

/// Signs out: the token this request carries stops working at once (device or session).
#[utoipa::path(
    post,
    path = "/api/v1/logout",
    tag = "sync",
    responses(
        (status = 204, description = "The token is revoked; its next use answers 401 `token_revoked`"),
        (status = 401, description = "Missing or unknown token (`unauthorized`), expired (`token_expired`), already revoked (`token_revoked`), or the user disabled (`user_disabled`)", body = ApiError),
    ),
    security(("bearer" = []))
)]
async fn logout(State(state): St, caller: Caller) -> Result<StatusCode, ServerError> {
    state
        .store
        .revoke_token(&caller.token_hash, now_ms())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/api/v1/push",
    tag = "sync",
    request_body(content = PushRequest, description = "At most 500 events in device order. \
        Per event (else refused `invalid_event`, naming the field): description ≤ 2,000 characters, \
        address ≤ 500, notes and reasons ≤ 1,000, code ≤ 64, identifiers ≤ 64, at most 30 photos, \
        each photo hash 64 lowercase hex characters. The server stores `device` as the token \
        says and places an event after the newest event of its record the sender had already \
        been sent by a pull (the stored HLC is answered)."),
    responses(
        (status = 200, description = "Per event, in order: applied, duplicate (the sender's own \
            event, stored earlier; `state` only for a record the sender may see now) or refused \
            (`actor_mismatch`, `role_mismatch`, `role_not_allowed`, `out_of_scope`, \
            `invalid_event`, `id_conflict`, `code_taken`, `record_full`, `too_many_rejected`). \
            Events after the last answered one are not answered when the server's per-request \
            work bound is reached: send them again", body = PushResponse),
        (status = 400, description = "Malformed body (the message names the field)", body = ApiError),
        (status = 413, description = "Body over `max_body_bytes` or more than 500 events", body = ApiError),
        (status = 429, description = "Too many pushes from this device (`rate_limited`); \
            retry after the `Retry-After` seconds", body = ApiError,
            headers(("Retry-After" = u64, description = "Seconds until a push is accepted again"))),
    ),
    security(("bearer" = []))
)]
async fn push(
    State(state): St,
    caller: Caller,
    ApiJson(req): ApiJson<PushRequest>,
) -> Result<Json<PushResponse>, ServerError> {
    if req.events.len() > MAX_PUSH_EVENTS {
        return Err(ServerError::TooManyEvents {
            got: req.events.len(),
            max: MAX_PUSH_EVENTS,
        });
    }
    let sender = caller
        .device_id
        .map_or_else(|| format!("user:{}", caller.user.id), |d| d.to_string());
    state
        .push_limiter
        .take(&sender, Instant::now())
        .await
        .map_err(|retry_after_secs| ServerError::PushRateLimited { retry_after_secs })?;
    let refs = state.refs().await?;
    let viewer = Viewer::new(caller.user, &refs).with_token_device(caller.device_id);
    let ctx = AppendCtx {
        viewer: &viewer,
        refs: &refs,
        now_ms: now_ms(),
        max_future_ms: (state.config.max_clock_skew_secs as i64).saturating_mul(1000),
    };
    Ok(Json(state.store.push(req.events, &ctx).await?))
}

#[derive(Debug, Deserialize)]
struct PullQuery {
    #[serde(default)]
    since: u64,
    limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/pull",
    tag = "sync",
    params(
        ("since" = Option<u64>, Query, minimum = 0, description = "Cursor from the previous page (0 at first)"),
        ("limit" = Option<u32>, Query, minimum = 1, description = "Events scanned per page; \
            larger values are capped by `max_pull_limit` (1,000 by default); 0 is refused (400)"),
    ),
    responses(
        (status = 200, description = "Events and removals after the cursor. A page also stops \
            before the event whose body would take it past `max_pull_bytes` (4 MiB by default; \
            at least one event is always sent) and says `more`", body = PullResponse),
        (status = 400, description = "Bad query (not a number)", body = ApiError),
    ),
    security(("bearer" = []))
)]
async fn pull(
    State(state): St,
    caller: Caller,
    q: Result<Query<PullQuery>, QueryRejection>,
) -> Result<Response, ServerError> {
    let Query(q) = q.map_err(|e| ServerError::Malformed(e.body_text()))?;
    // As documented: a page of nothing is not a request anyone means to make.
    if q.limit == Some(0) {
        return Err(ServerError::Malformed(
            "query parameter `limit` must be at least 1".to_owned(),
        ));
    }
    let max = state.config.max_pull_limit.max(1);
    let limit = q.limit.unwrap_or(max).clamp(1, max);
    let refs = state.refs().await?;
    let viewer = Viewer::new(caller.user, &refs).with_token_device(caller.device_id);
    let max_bytes = state.config.max_pull_bytes;
    let page = state
        .store
        .pull_page(&viewer, q.since, limit, max_bytes)
        .await?;
    // Serialised here (as `Json` would) to count the bytes sent.
    let body = serde_json::to_vec(&page).map_err(StoreError::from)?;
    crate::ops::metrics::pull_page(page.items.len(), body.len());
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Blob ids are SHA-256 hex digests, nothing else: this is also what keeps them from naming
/// any path outside the blob directory.
pub fn valid_hash(hash: &str) -> bool {
    hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[utoipa::path(
    post,
    path = "/api/v1/blobs/check",
    tag = "blobs",
    request_body = BlobCheckRequest,
    responses(
        (status = 200, description = "Per hash, in request order: `complete` when the blob is stored and the caller may read it (see `GET /blobs/{hash}`); otherwise the caller's own upload: the offset to resume from, 0 when it has none. A fully staged upload is finished by this call (`complete`, or offset 0 when its bytes did not verify and were discarded). Whether anyone else stored or uploads a hash is never revealed.", body = BlobCheckResponse),
        (status = 400, description = "Malformed body, or a hash that is not 64 lowercase hex characters (`invalid_hash`)", body = ApiError),
        (status = 413, description = "Body over `max_body_bytes`", body = ApiError),
    ),
    security(("bearer" = []))
)]
async fn blobs_check(
    State(state): St,
    caller: Caller,
    ApiJson(req): ApiJson<BlobCheckRequest>,
) -> Result<Json<BlobCheckResponse>, ServerError> {
    if req.hashes.iter().any(|h| !valid_hash(h)) {
        return Err(ServerError::InvalidHash);
    }
    let refs = state.refs().await?;
    let viewer = Viewer::new(caller.user, &refs);
    let stored = state.store.blob_states(&req.hashes).await?;
    let mut blobs = Vec::with_capacity(stored.len());
    for b in stored {
        let size = b.complete.then_some(b.offset);
        let readable = size.is_some() && state.uploads.may_read(&viewer, &b.hash).await?;
        blobs.push(
            state
                .uploads
                .check(&b.hash, &viewer.user.id, size, readable)
                .await?,
        );
    }
    Ok(Json(BlobCheckResponse { blobs }))
}

#[derive(Debug, Deserialize)]
struct PutQuery {
    #[serde(default)]
    offset: u64,
    /// Total size of the blob. When given, the upload completes once that many bytes arrived;
    /// without it, this chunk is the last one.
    size: Option<u64>,
}

/// `PUT /blobs/{hash}?offset=N[&size=S]`: appends a chunk to the caller's upload at `offset`
/// (which must equal the bytes they staged so far); when the blob is complete its SHA-256 is
/// checked before it is kept.
#[utoipa::path(
    put,
    path = "/api/v1/blobs/{hash}",
    tag = "blobs",
    params(
        ("hash" = String, Path, description = "SHA-256 of the blob, lowercase hex", pattern = "^[0-9a-f]{64}$"),
        ("offset" = Option<u64>, Query, description = "Bytes of the caller's upload staged so far (from /blobs/check); default 0", minimum = 0),
        ("size" = Option<u64>, Query, description = "Total size, at most `max_blob_bytes`; without it this chunk is the last. An empty chunk at offset = size finishes an upload whose bytes are all staged", minimum = 0),
    ),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The next chunk (may be empty), at most `max_chunk_bytes`"),
    responses(
        (status = 200, description = "Chunk staged (`offset` = bytes staged), or the blob is already stored and readable by the caller (`complete`)", body = BlobState),
        (status = 201, description = "This chunk completed the blob and it verified; it is stored", body = BlobState),
        (status = 400, description = "Invalid hash (`invalid_hash`) or query (`malformed_request`)", body = ApiError),
        (status = 409, description = "`offset` is not the bytes of the caller's upload staged so far (`bad_offset`; ask /blobs/check)", body = ApiError),
        (status = 413, description = "Chunk over `max_chunk_bytes` or blob over `max_blob_bytes` (`too_large`)", body = ApiError),
        (status = 422, description = "The bytes do not hash to the name or to `size` (`hash_mismatch`); the upload is discarded, send it again from 0", body = ApiError),
    ),
    security(("bearer" = []))
)]
async fn blob_put(
    State(state): St,
    caller: Caller,
    Path(hash): Path<String>,
    q: Result<Query<PutQuery>, QueryRejection>,
    req: Request,
) -> Result<(StatusCode, Json<BlobState>), ServerError> {
    if !valid_hash(&hash) {
        return Err(ServerError::InvalidHash);
    }
    let Query(q) = q.map_err(|e| ServerError::Malformed(e.body_text()))?;
    let max = state.config.max_blob_bytes;
    // Refused before a byte of the body is read: nothing is staged for a blob we would never
    // keep.
    if let Some(size) = q.size
        && size > max
    {
        return Err(ServerError::BlobTooLarge { size, max });
    }
    let body = read_body(
        req,
        &(),
        ServerError::ChunkTooLarge(state.config.max_chunk_bytes),
    )
    .await?;
    crate::ops::metrics::blob_bytes_in(body.len());
    let refs = state.refs().await?;
    let viewer = Viewer::new(caller.user, &refs);
    let readable = state.uploads.may_read(&viewer, &hash).await?;
    let put = state
        .uploads
        .put(&hash, &viewer.user.id, readable, q.offset, q.size, body)
        .await?;
    let (status, complete, offset) = match put {
        Put::Stored(n) => (StatusCode::OK, true, n),
        Put::Staged(n) => (StatusCode::OK, false, n),
        Put::Completed(n) => (StatusCode::CREATED, true, n),
    };
    Ok((
        status,
        Json(BlobState {
            hash,
            complete,
            offset,
        }),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/blobs/{hash}",
    tag = "blobs",
    params(("hash" = String, Path, description = "SHA-256 of the blob, lowercase hex", pattern = "^[0-9a-f]{64}$")),
    responses(
        (status = 200, description = "The blob (immutable: cache it by hash)", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 400, description = "Invalid hash (`invalid_hash`)", body = ApiError),
        (status = 404, description = "Not stored (yet), or the caller may not read it: admins, whoever may see a record that refers to it, and its uploader may (`not_found` either way)", body = ApiError),
    ),
    security(("bearer" = []))
)]
async fn blob_get(
    State(state): St,
    caller: Caller,
    Path(hash): Path<String>,
) -> Result<Response, ServerError> {
    let refs = state.refs().await?;
    let viewer = Viewer::new(caller.user, &refs);
    let bytes = state.read_blob(&viewer, &hash, "blob").await?;
    crate::ops::metrics::blob_bytes_out(bytes.len());
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            IMMUTABLE,
        ],
        bytes,
    )
        .into_response())
}

/// A blob is named by its hash, so a cached copy never goes stale.
pub(crate) const IMMUTABLE: (header::HeaderName, &str) = (
    header::CACHE_CONTROL,
    "private, max-age=31536000, immutable",
);

impl AppState {
    /// The bytes of the blob `hash` if `viewer` may read it. A refusal answers exactly like a
    /// blob that is not there (`what` names it in the message), so nobody learns what exists.
    pub(crate) async fn read_blob(
        &self,
        viewer: &Viewer,
        hash: &str,
        what: &str,
    ) -> Result<Bytes, ServerError> {
        if !valid_hash(hash) {
            return Err(ServerError::InvalidHash);
        }
        let not_found = || ServerError::NotFound(format!("{what} {hash}"));
        if !self.uploads.may_read(viewer, hash).await? {
            return Err(not_found());
        }
        self.uploads.get(hash).await?.ok_or_else(not_found)
    }
}

#[derive(Debug, Deserialize)]
struct ReferenceQuery {
    since_version: Option<u64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/reference",
    tag = "sync",
    params(("since_version" = Option<u64>, Query, description = "The version the client has")),
    responses(
        (status = 200, description = "Current version, with the bundle when it differs. Users' phone numbers are included for admins only (others see their own)", body = ReferenceResponse),
        (status = 400, description = "Bad query (`malformed_request`)", body = ApiError),
    ),
    security(("bearer" = []))
)]
async fn reference(
    State(state): St,
    caller: Caller,
    q: Result<Query<ReferenceQuery>, QueryRejection>,
) -> Result<Json<ReferenceResponse>, ServerError> {
    let Query(q) = q.map_err(|e| ServerError::Malformed(e.body_text()))?;
    let (version, bundle) = state.store.reference().await?.unwrap_or_default();
    let bundle = if q.since_version == Some(version) {
        None
    } else {
        Some(for_role(bundle, &caller.user))
    };
    Ok(Json(ReferenceResponse { version, bundle }))
}

/// The reference data as the caller's role needs it: devices show people by name, only the
/// office contacts them, so everyone else gets no phone number but their own. (`phone` is
/// optional on the wire: older devices import the bundle unchanged.)
fn for_role(mut bundle: ReferenceBundle, caller: &User) -> ReferenceBundle {
    if caller.role != Role::Admin {
        for u in &mut bundle.users {
            if u.id != caller.id {
                u.phone = None;
            }
        }
    }
    bundle
}
