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
    BlobCheckRequest, BlobCheckResponse, BlobState, EnrollRequest, EnrollResponse, LoginRequest,
    LoginResponse, MAX_PUSH_EVENTS, Me, PROTOCOL_HEADER, PullResponse, PushRequest, PushResponse,
    ReferenceResponse,
};
use fieldcheck_protocol::{ApiError, ReferenceBundle};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::auth::{self, LoginLimiter};
use crate::config::Config;
use crate::error::ServerError;
use crate::policy::Viewer;
use crate::store::{AppendCtx, Store};

/// Shared by all handlers.
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Config,
    limiter: LoginLimiter,
    /// One upload at a time per blob hash (appends to the same partial file must not interleave).
    blob_locks: std::sync::Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// The latest reference bundle, reloaded when its version changes.
    refs: tokio::sync::RwLock<(u64, Arc<ReferenceBundle>)>,
}

type St = State<Arc<AppState>>;

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: Config) -> AppState {
        AppState {
            store,
            config,
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

    fn blob_path(&self, hash: &str) -> PathBuf {
        self.config.blob_dir.join(hash)
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
            E::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            E::HashMismatch(_) => StatusCode::UNPROCESSABLE_ENTITY,
            E::BadOffset { .. } => StatusCode::CONFLICT,
            E::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            E::NotFound(_) => StatusCode::NOT_FOUND,
            E::Store(_) | E::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
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
/// 400 `malformed_request` with serde's message otherwise.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ServerError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req, state).await?;
        serde_json::from_slice(&bytes)
            .map(ApiJson)
            .map_err(|e| ServerError::Malformed(format!("invalid JSON body: {e}")))
    }
}

async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ServerError> {
    let limit = req
        .extensions()
        .get::<BodyLimit>()
        .map(|l| l.0)
        .unwrap_or(0);
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ServerError::TooLarge(limit)
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
    let api = Router::new()
        .route("/enroll", post(enroll))
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/push", post(push))
        .route("/pull", get(pull))
        .route("/blobs/check", post(blobs_check))
        .route("/blobs/{hash}", put(blob_put).get(blob_get))
        .route("/reference", get(reference))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            require_protocol,
        ));
    Router::new()
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

async fn enroll(
    State(state): St,
    ApiJson(req): ApiJson<EnrollRequest>,
) -> Result<Json<EnrollResponse>, ServerError> {
    let code = auth::normalize_enroll_code(&req.code);
    let token = auth::new_token();
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

async fn me(caller: Caller) -> Json<Me> {
    Json(Me {
        user_id: caller.user.id,
        role: caller.user.role,
        unit_id: caller.user.unit_id,
        district_ids: caller.user.district_ids,
        device_id: caller.device_id,
    })
}

async fn push(
    State(state): St,
    caller: Caller,
    ApiJson(req): ApiJson<PushRequest>,
) -> Result<Json<PushResponse>, ServerError> {
    if req.events.len() > MAX_PUSH_EVENTS {
        return Err(ServerError::TooLarge(MAX_PUSH_EVENTS));
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
    let body = read_body(req, &()).await?;
    let lock = state.blob_lock(&hash);
    let _guard = lock.lock().await;
    let final_path = state.blob_path(&hash);
    if tokio::fs::try_exists(&final_path).await? {
        let size = file_len(&final_path).await;
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
    let mut f = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&partial)
        .await?;
    f.write_all(&body).await?;
    f.sync_all().await?;
    drop(f);
    let received = have + body.len() as u64;
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
    let size_ok = q.size.is_none_or(|s| s == received);
    if actual != hash || !size_ok {
        tokio::fs::remove_file(&partial).await?;
        state.store.delete_blob(&hash).await?;
        return Err(ServerError::HashMismatch(hash));
    }
    tokio::fs::rename(&partial, &final_path).await?;
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

async fn blob_get(
    State(state): St,
    _caller: Caller,
    Path(hash): Path<String>,
) -> Result<Response, ServerError> {
    if !valid_hash(&hash) {
        return Err(ServerError::InvalidHash);
    }
    match tokio::fs::read(state.blob_path(&hash)).await {
        Ok(bytes) => Ok((
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
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(ServerError::NotFound(format!("blob {hash}")))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
struct ReferenceQuery {
    since_version: Option<u64>,
}

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
