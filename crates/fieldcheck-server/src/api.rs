//! The HTTP edge: routing, extractors, and the mapping of [`ServerError`] to status codes and
//! `ApiError` bodies. Handlers are thin: parse, authorize the caller, call the store.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{
    ConnectInfo, DefaultBodyLimit, FromRequest, FromRequestParts, Path, Query, Request, State,
};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use fieldcheck_domain::reference::User;
use fieldcheck_protocol::sync::{
    BlobCheckRequest, BlobCheckResponse, BlobState, ENROLL_TOKEN_LEN, EnrollRequest,
    EnrollResponse, LoginRequest, LoginResponse, MAX_PUSH_EVENTS, Me, PROTOCOL_HEADER,
    PullResponse, PushRequest, PushResponse, ReferenceResponse,
};
use fieldcheck_protocol::{ApiError, ReferenceBundle};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::auth::{self, LoginLimiter};
use crate::blobs::{BlobStore, LocalBlobs};
use crate::config::Config;
use crate::error::ServerError;
use crate::policy::Viewer;
use crate::store::{AppendCtx, Store};

mod admin;
pub mod openapi;

/// Shared by all handlers.
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Config,
    /// Complete, verified blobs (uploads in progress are staged under `blob_dir/partial`).
    pub blobs: Arc<dyn BlobStore>,
    limiter: LoginLimiter,
    /// One upload at a time per blob hash (appends to the same partial file must not interleave).
    blob_locks: std::sync::Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// The latest reference bundle, reloaded when its version changes.
    refs: tokio::sync::RwLock<(u64, Arc<ReferenceBundle>)>,
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
        AppState {
            store,
            config,
            blobs,
            limiter: LoginLimiter::new(5, std::time::Duration::from_secs(60)),
            blob_locks: std::sync::Mutex::new(HashMap::new()),
            refs: tokio::sync::RwLock::new((0, Arc::new(ReferenceBundle::default()))),
        }
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

    fn blob_lock(&self, hash: &str) -> Arc<Mutex<()>> {
        let mut map = self.blob_locks.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(hash.to_owned()).or_default().clone()
    }

    fn partial_path(&self, hash: &str) -> PathBuf {
        self.config.blob_dir.join("partial").join(hash)
    }
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        use ServerError as E;
        let status = match &self {
            E::ProtocolTooOld { .. } => StatusCode::UPGRADE_REQUIRED,
            E::Unauthorized => StatusCode::UNAUTHORIZED,
            E::Forbidden(_) => StatusCode::FORBIDDEN,
            E::Malformed(_) | E::InvalidHash | E::EnrollCodeInvalid => StatusCode::BAD_REQUEST,
            E::TooLarge(_)
            | E::TooManyEvents { .. }
            | E::ChunkTooLarge(_)
            | E::BlobTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            E::HashMismatch(_) => StatusCode::UNPROCESSABLE_ENTITY,
            E::BadOffset { .. } => StatusCode::CONFLICT,
            E::RateLimited => StatusCode::TOO_MANY_REQUESTS,
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
        let body = ApiError {
            code: self.code().to_owned(),
            message,
        };
        (status, Json(body)).into_response()
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

/// The authenticated caller.
pub struct Caller {
    pub user: User,
    pub device_id: Option<Uuid>,
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
        let now = chrono::Utc::now().timestamp_millis();
        let info = state
            .store
            .token(&auth::hash_secret(token), now)
            .await?
            .ok_or(ServerError::Unauthorized)?;
        let user = state
            .store
            .user(&info.user_id)
            .await?
            .ok_or(ServerError::Unauthorized)?;
        Ok(Caller {
            user: user.user,
            device_id: info.device_id,
        })
    }
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
    Ok(next.run(req).await)
}

/// The API router (all routes under `/api/v1`).
pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.config.max_body_bytes;
    let chunk_limit = state.config.max_chunk_bytes;
    let api = Router::new()
        .route("/enroll", post(enroll))
        .route("/login", post(login))
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
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            require_protocol,
        ));
    Router::new()
        // Outside the protocol check: API tools fetch the document without our header.
        .route("/api/v1/openapi.json", get(openapi::document))
        .nest("/api/v1", api)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
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
        (status = 400, description = "Code unknown, expired or used by another token (`enroll_code_invalid`) or bad body", body = ApiError),
        (status = 426, description = "Client protocol too old", body = ApiError),
    )
)]
async fn enroll(
    State(state): St,
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
    let enrolled = state
        .store
        .redeem_enroll_code(
            &auth::hash_secret(&code),
            now_ms(),
            req.device_id,
            &req.device_name,
            &auth::hash_secret(&token),
        )
        .await?
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
        (status = 200, description = "Session token", body = LoginResponse),
        (status = 401, description = "Wrong user or password", body = ApiError),
        (status = 429, description = "Too many failed logins", body = ApiError),
    )
)]
async fn login(
    State(state): St,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ServerError> {
    let ip = addr.ip();
    let now = Instant::now();
    if !state.limiter.allowed(&req.username, ip, now) {
        return Err(ServerError::RateLimited);
    }
    let stored = state.store.user(&req.username).await?;
    // Argon2 runs on a blocking thread: it is deliberately slow.
    let ok = match stored.as_ref().and_then(|u| u.password_hash.clone()) {
        Some(hash) => {
            let password = req.password.clone();
            tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash))
                .await
                .unwrap_or(false)
        }
        None => false,
    };
    let Some(stored) = stored.filter(|_| ok) else {
        state.limiter.failed(&req.username, ip, now);
        return Err(ServerError::Unauthorized);
    };
    state.limiter.succeeded(&req.username, ip);
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

#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "sync",
    responses(
        (status = 200, description = "The caller", body = Me),
        (status = 401, description = "Missing or invalid token", body = ApiError),
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

#[utoipa::path(
    post,
    path = "/api/v1/push",
    tag = "sync",
    request_body = PushRequest,
    responses(
        (status = 200, description = "Per event: applied, duplicate or refused", body = PushResponse),
        (status = 400, description = "Malformed body (the message names the field)", body = ApiError),
        (status = 401, description = "Missing or invalid token", body = ApiError),
        (status = 413, description = "Body over `max_body_bytes` or more than 500 events", body = ApiError),
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
    let refs = state.refs().await?;
    let viewer = Viewer::new(caller.user, &refs);
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
        ("since" = Option<u64>, Query, description = "Cursor from the previous page (0 at first)"),
        ("limit" = Option<u32>, Query, description = "Page size, capped by the server"),
    ),
    responses(
        (status = 200, description = "Events and removals after the cursor", body = PullResponse),
        (status = 400, description = "Bad query", body = ApiError),
        (status = 401, description = "Missing or invalid token", body = ApiError),
    ),
    security(("bearer" = []))
)]
async fn pull(
    State(state): St,
    caller: Caller,
    q: Result<Query<PullQuery>, QueryRejection>,
) -> Result<Json<PullResponse>, ServerError> {
    let Query(q) = q.map_err(|e| ServerError::Malformed(e.body_text()))?;
    let max = state.config.max_pull_limit.max(1);
    let limit = q.limit.unwrap_or(max).clamp(1, max);
    let refs = state.refs().await?;
    let viewer = Viewer::new(caller.user, &refs);
    Ok(Json(state.store.pull(&viewer, q.since, limit).await?))
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
        (status = 200, description = "Per hash: complete, or the offset to resume from", body = BlobCheckResponse),
        (status = 400, description = "A hash is not 64 lowercase hex characters", body = ApiError),
    ),
    security(("bearer" = []))
)]
async fn blobs_check(
    State(state): St,
    _caller: Caller,
    ApiJson(req): ApiJson<BlobCheckRequest>,
) -> Result<Json<BlobCheckResponse>, ServerError> {
    if req.hashes.iter().any(|h| !valid_hash(h)) {
        return Err(ServerError::InvalidHash);
    }
    let mut blobs = state.store.blob_states(&req.hashes).await?;
    // The partial file is the truth for the resume offset (the row may lag after a crash).
    for b in &mut blobs {
        if !b.complete {
            b.offset = file_len(&state.partial_path(&b.hash)).await;
        }
    }
    Ok(Json(BlobCheckResponse { blobs }))
}

async fn file_len(path: &std::path::Path) -> u64 {
    tokio::fs::metadata(path)
        .await
        .map(|m| m.len())
        .unwrap_or(0)
}

#[derive(Debug, Deserialize)]
struct PutQuery {
    #[serde(default)]
    offset: u64,
    /// Total size of the blob. When given, the upload completes once that many bytes arrived;
    /// without it, this chunk is the last one.
    size: Option<u64>,
}

/// `PUT /blobs/{hash}?offset=N[&size=S]`: appends a chunk at `offset` (which must equal the
/// bytes received so far); when the blob is complete its SHA-256 is checked before it is kept.
#[utoipa::path(
    put,
    path = "/api/v1/blobs/{hash}",
    tag = "blobs",
    params(
        ("hash" = String, Path, description = "SHA-256 of the blob, lowercase hex"),
        ("offset" = Option<u64>, Query, description = "Bytes already received (from /blobs/check)"),
        ("size" = Option<u64>, Query, description = "Total size; without it this chunk is the last"),
    ),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The next chunk"),
    responses(
        (status = 200, description = "Chunk stored (or blob already complete)", body = BlobState),
        (status = 201, description = "Blob complete and verified", body = BlobState),
        (status = 400, description = "Invalid hash", body = ApiError),
        (status = 409, description = "Offset is not the bytes received so far", body = ApiError),
        (status = 413, description = "Chunk over `max_chunk_bytes` or blob over `max_blob_bytes`", body = ApiError),
        (status = 422, description = "Bytes do not hash to the name; the upload is discarded", body = ApiError),
    ),
    security(("bearer" = []))
)]
async fn blob_put(
    State(state): St,
    _caller: Caller,
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
    let lock = state.blob_lock(&hash);
    let _guard = lock.lock().await;
    if let Some(size) = state.blobs.size(&hash).await? {
        return Ok((
            StatusCode::OK,
            Json(BlobState {
                hash,
                complete: true,
                offset: size,
            }),
        ));
    }
    let partial = state.partial_path(&hash);
    if let Some(dir) = partial.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let have = file_len(&partial).await;
    if q.offset != have {
        return Err(ServerError::BadOffset {
            got: q.offset,
            expected: have,
        });
    }
    let received = have + body.len() as u64;
    if received > max {
        return Err(ServerError::BlobTooLarge {
            size: received,
            max,
        });
    }
    let mut f = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&partial)
        .await?;
    f.write_all(&body).await?;
    // Durable before we answer: the client moves its offset on, and a restarted server must
    // resume from the same byte.
    f.sync_all().await?;
    drop(f);
    match q.size {
        Some(size) if received < size => {
            state
                .store
                .set_blob(&hash, received, Some(size), false)
                .await?;
            return Ok((
                StatusCode::OK,
                Json(BlobState {
                    hash,
                    complete: false,
                    offset: received,
                }),
            ));
        }
        _ => {}
    }
    // Complete (or past the announced size): verify before keeping.
    let bytes = tokio::fs::read(&partial).await?;
    let actual = hex::encode(Sha256::digest(&bytes));
    drop(bytes);
    let size_ok = q.size.is_none_or(|s| s == received);
    if actual != hash || !size_ok {
        tokio::fs::remove_file(&partial).await?;
        state.store.delete_blob(&hash).await?;
        return Err(ServerError::HashMismatch(hash));
    }
    state.blobs.keep(&hash, &partial).await?;
    state
        .store
        .set_blob(&hash, received, Some(received), true)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(BlobState {
            hash,
            complete: true,
            offset: received,
        }),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/blobs/{hash}",
    tag = "blobs",
    params(("hash" = String, Path, description = "SHA-256 of the blob, lowercase hex")),
    responses(
        (status = 200, description = "The blob", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, description = "Not stored (yet)", body = ApiError),
    ),
    security(("bearer" = []))
)]
async fn blob_get(
    State(state): St,
    _caller: Caller,
    Path(hash): Path<String>,
) -> Result<Response, ServerError> {
    if !valid_hash(&hash) {
        return Err(ServerError::InvalidHash);
    }
    match state.blobs.get(&hash).await? {
        Some(bytes) => Ok((
            [
                (header::CONTENT_TYPE, "application/octet-stream"),
                (
                    header::CACHE_CONTROL,
                    "private, max-age=31536000, immutable",
                ),
            ],
            bytes,
        )
            .into_response()),
        None => Err(ServerError::NotFound(format!("blob {hash}"))),
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
        (status = 200, description = "Current version, with the bundle when it differs", body = ReferenceResponse),
    ),
    security(("bearer" = []))
)]
async fn reference(
    State(state): St,
    _caller: Caller,
    q: Result<Query<ReferenceQuery>, QueryRejection>,
) -> Result<Json<ReferenceResponse>, ServerError> {
    let Query(q) = q.map_err(|e| ServerError::Malformed(e.body_text()))?;
    let (version, bundle) = state.store.reference().await?.unwrap_or_default();
    let bundle = if q.since_version == Some(version) {
        None
    } else {
        Some(bundle)
    };
    Ok(Json(ReferenceResponse { version, bundle }))
}
