//! Running the server for a city: health (`/healthz`), readiness (`/readyz`), Prometheus
//! metrics (`/metrics`), request ids, and what a graceful shutdown waits for.
//!
//! These routes sit outside `/api/v1`: load balancers and Prometheus do not send the
//! protocol header. They are in the OpenAPI document ([`Api`]) like every other route.

pub mod logging;
pub mod metrics;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use utoipa::{OpenApi, ToSchema};

use crate::api::AppState;
use crate::client_ip::ClientIp;
use crate::error::ServerError;
use crate::store::{SchemaState, Store};

/// The header carrying a request's id, in both directions.
pub const REQUEST_ID: &str = "x-request-id";

/// How long one readiness probe (database, blob store) may take before it counts as failed.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// Readiness answers are reused this long: `/readyz` needs no sign-in, so a flood of it must
/// not become a flood of database and S3 requests.
const READY_CACHE: Duration = Duration::from_secs(1);
/// A hash no photo has (all zeros): asking the blob store for it shows the store answers.
const PROBE_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Largest error body the request id is added to (error bodies are a few hundred bytes).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Per-server state of the ops routes.
#[derive(Default)]
pub struct OpsState {
    /// The last readiness answer and when it was made; the lock also makes concurrent
    /// callers share one probe.
    ready: tokio::sync::Mutex<Option<(Instant, Readiness)>>,
}

#[derive(OpenApi)]
#[openapi(
    paths(healthz, readyz, metrics_page),
    components(schemas(Health, Readiness, ReadinessChecks, Check, ReadyStatus)),
    tags((name = "ops", description = "Health, readiness and metrics for the city's \
        operators: no protocol header, no sign-in (`/metrics`: loopback or `metrics_token`)"))
)]
pub struct Api;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_page))
}

/// `/healthz`: the process is alive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: String,
}

/// `/readyz`: whether this instance should be sent requests, and what failed if not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Readiness {
    pub status: ReadyStatus,
    pub checks: ReadinessChecks,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadyStatus {
    Ready,
    Unavailable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReadinessChecks {
    /// One round trip to the database.
    pub database: Check,
    /// The database's applied migrations are exactly this build's.
    pub migrations: Check,
    /// The blob store answers (and the staging directory exists).
    pub blobs: Check,
}

/// One check's result. Details of a failure go to the server's log, not to the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    Ok,
    /// It answered with an error (or cannot be reached).
    Failed,
    /// No answer within 3 s.
    Timeout,
    /// Migrations of this build the database has not applied.
    Pending,
    /// The database has migrations this build does not know (a newer server migrated it).
    Ahead,
    /// Not checked: the database did not answer.
    Skipped,
}

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "ops",
    responses((status = 200, description = "The process is alive and serving HTTP (nothing \
        else is checked: a liveness probe)", body = Health)),
)]
async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".to_owned(),
    })
}

#[utoipa::path(
    get,
    path = "/readyz",
    tag = "ops",
    responses(
        (status = 200, description = "Ready: the database answers, its migrations are this \
            build's, the blob store answers", body = Readiness),
        (status = 503, description = "Not ready; `checks` says which part failed", body = Readiness),
    ),
)]
async fn readyz(State(state): State<Arc<AppState>>) -> (StatusCode, Json<Readiness>) {
    let r = readiness(&state).await;
    let status = match r.status {
        ReadyStatus::Ready => StatusCode::OK,
        ReadyStatus::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, Json(r))
}

/// The readiness of this server, probed at most once per second.
pub async fn readiness(state: &AppState) -> Readiness {
    let mut cached = state.ops.ready.lock().await;
    if let Some((at, r)) = cached.as_ref()
        && at.elapsed() < READY_CACHE
    {
        return r.clone();
    }
    let (database, migrations) = probe_database(state.store.as_ref()).await;
    let blobs = probe_blobs(state).await;
    let ok = [database, migrations, blobs]
        .iter()
        .all(|c| *c == Check::Ok);
    let r = Readiness {
        status: if ok {
            ReadyStatus::Ready
        } else {
            ReadyStatus::Unavailable
        },
        checks: ReadinessChecks {
            database,
            migrations,
            blobs,
        },
    };
    *cached = Some((Instant::now(), r.clone()));
    r
}

async fn probe_database(store: &dyn Store) -> (Check, Check) {
    match tokio::time::timeout(PROBE_TIMEOUT, store.schema_state()).await {
        Ok(Ok(SchemaState::Current)) => (Check::Ok, Check::Ok),
        Ok(Ok(SchemaState::Pending(v))) => {
            tracing::warn!(?v, "not ready: migrations not applied to the database");
            (Check::Ok, Check::Pending)
        }
        Ok(Ok(SchemaState::Ahead(v))) => {
            tracing::warn!(
                ?v,
                "not ready: the database has migrations this build lacks"
            );
            (Check::Ok, Check::Ahead)
        }
        Ok(Ok(SchemaState::Failed(v))) => {
            tracing::warn!(v, "not ready: a migration failed half-way");
            (Check::Ok, Check::Failed)
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready: database");
            (Check::Failed, Check::Skipped)
        }
        Err(_) => {
            tracing::warn!("not ready: the database did not answer within 3 s");
            (Check::Timeout, Check::Skipped)
        }
    }
}

async fn probe_blobs(state: &AppState) -> Check {
    // Uploads are staged here whatever the blob store is.
    match tokio::fs::metadata(&state.config.blob_dir).await {
        Ok(m) if m.is_dir() => {}
        other => {
            tracing::warn!(dir = %state.config.blob_dir.display(), ?other, "not ready: blob directory");
            return Check::Failed;
        }
    }
    // An S3 client retries a refused connection for minutes: the timeout decides.
    match tokio::time::timeout(PROBE_TIMEOUT, state.blobs.size(PROBE_HASH)).await {
        Ok(Ok(_)) => Check::Ok,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, store = %state.blobs.describe(), "not ready: blob store");
            Check::Failed
        }
        Err(_) => {
            tracing::warn!(store = %state.blobs.describe(), "not ready: the blob store did not answer within 3 s");
            Check::Timeout
        }
    }
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "ops",
    responses(
        (status = 200, description = "Prometheus text exposition format (version 0.0.4): \
            requests and latency per route template, pushed events by result, group-commit \
            sizes, pull pages and bytes, photo bytes in and out, the database pool, failed \
            sign-ins", content_type = "text/plain", body = String),
        (status = 401, description = "`metrics_token` is set and the request does not carry it \
            as `Authorization: Bearer …` (`unauthorized`)", body = fieldcheck_protocol::ApiError),
        (status = 403, description = "No `metrics_token` is set and the client is not on this \
            machine's loopback (`forbidden`)", body = fieldcheck_protocol::ApiError),
    ),
)]
async fn metrics_page(State(state): State<Arc<AppState>>, req: Request) -> Response {
    if let Err(e) = may_scrape(&state.config, &req) {
        return e.into_response();
    }
    metrics::pool(state.store.pool_stats());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics::handle().render(),
    )
        .into_response()
}

/// Who may read `/metrics`: with `metrics_token` set, whoever sends it (from anywhere);
/// without, only clients on the loopback interface — the request's client (`ClientIp`), so a
/// request forwarded by a trusted proxy on this machine is judged by where it came from.
fn may_scrape(config: &crate::Config, req: &Request) -> Result<(), ServerError> {
    let token = config.metrics_token.trim();
    if !token.is_empty() {
        let sent = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .unwrap_or_default();
        // Digests compared, not the secrets: equal length, no early exit on the secret.
        if crate::auth::hash_secret(sent) == crate::auth::hash_secret(token) {
            return Ok(());
        }
        return Err(ServerError::Unauthorized);
    }
    // The client behind trusted proxies, not the TCP peer: a proxy on this machine is itself
    // loopback, and every request it forwards would pass. Through a proxy that appends to
    // `X-Forwarded-For`, a client cannot claim to be loopback (`client_ip`).
    let client = req.extensions().get::<ClientIp>().map(|c| c.0);
    match client {
        Some(ip) if ip.is_loopback() || ip.to_canonical().is_loopback() => Ok(()),
        _ => Err(ServerError::Forbidden(
            "metrics are served to this machine only; set `metrics_token` to scrape from \
             elsewhere"
                .to_owned(),
        )),
    }
}

/// The request-id layers around `router` (apply after the trace layer, so its span sees the
/// id): an `x-request-id` the client sent is kept when it is short and plain (a proxy's id,
/// so its logs and ours match), otherwise replaced by a fresh UUID; the answer carries it.
pub fn with_request_id<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(middleware::from_fn(drop_unusable_request_id))
}

/// Whether a client's request id may be kept: 1–128 characters of letters, digits and
/// `-_.:` (it goes into every log line of the request and back to the client).
pub fn usable_request_id(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    (1..=128).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b':'))
}

async fn drop_unusable_request_id(mut req: Request, next: Next) -> Response {
    let headers = req.headers_mut();
    let n = headers.get_all(REQUEST_ID).iter().count();
    if n > 1
        || headers
            .get(REQUEST_ID)
            .is_some_and(|v| !usable_request_id(v))
    {
        headers.remove(REQUEST_ID);
    }
    next.run(req).await
}

/// The request's id (set by [`with_request_id`]), for a span or a log line.
pub fn request_id_of<B>(req: &axum::http::Request<B>) -> &str {
    req.headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Per request: counts it by route template and status with its latency, and puts the
/// request id into an `ApiError` answer's body (`request_id`), so a person reading an error
/// on a device can quote it to the office. Apply with `Router::layer` (after routing, so the
/// route template is known).
pub async fn observe(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let id = req.headers().get(REQUEST_ID).cloned();
    let resp = next.run(req).await;
    let status = resp.status();
    metrics::http_request(method, &route, status.as_u16(), start.elapsed());
    match id {
        Some(id) if status.is_client_error() || status.is_server_error() => {
            error_with_request_id(resp, &id).await
        }
        _ => resp,
    }
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        // Anything a client invents is one series, not one per invention.
        _ => "OTHER",
    }
}

/// An `ApiError` JSON body (an object with `code`) gets `"request_id"`; anything else is
/// passed on untouched.
async fn error_with_request_id(resp: Response, id: &HeaderValue) -> Response {
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let small = axum::body::HttpBody::size_hint(resp.body())
        .upper()
        .is_some_and(|n| n <= MAX_ERROR_BODY as u64);
    let Ok(id) = id.to_str() else {
        return resp;
    };
    if !is_json || !small {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_ERROR_BODY).await {
        Ok(b) => b,
        // Cannot happen within the size hint; an empty answer with its status is all that
        // is left of a body that failed to read.
        Err(_) => return Response::from_parts(parts, Body::empty()),
    };
    let mut value: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(_) => return Response::from_parts(parts, Body::from(bytes)),
    };
    let Some(obj) = value.as_object_mut().filter(|o| o.contains_key("code")) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    obj.insert("request_id".to_owned(), id.into());
    let body = serde_json::to_vec(&value).unwrap_or_else(|_| bytes.to_vec());
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

/// What `serve` does after its shutdown signal, once axum has stopped accepting and the
/// requests in flight are answered (or `grace` ran out): waits for the push group being
/// committed — one whose clients all went away still commits — at most `grace`.
pub async fn finish_pushes(store: &dyn Store, grace: Duration) {
    if tokio::time::timeout(grace, store.drain()).await.is_err() {
        tracing::warn!(
            secs = grace.as_secs(),
            "a push group was still being committed when the grace period ended"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(ip: &str) -> Request {
        let mut req = Request::new(Body::empty());
        req.extensions_mut().insert(ClientIp(ip.parse().unwrap()));
        req
    }

    #[test]
    fn without_a_token_only_loopback_clients_may_scrape() {
        let config = crate::Config::default();
        for ip in ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"] {
            assert!(may_scrape(&config, &from(ip)).is_ok(), "{ip}");
        }
        for ip in [
            "10.1.2.3",
            "192.168.1.20",
            "2001:db8::1",
            "::ffff:10.0.0.1",
            "0.0.0.0",
        ] {
            let e = may_scrape(&config, &from(ip)).unwrap_err();
            assert_eq!(e.code(), "forbidden", "{ip}");
        }
        // No connection info at all (a router served without it): refused.
        assert!(may_scrape(&config, &Request::new(Body::empty())).is_err());
    }

    #[test]
    fn with_a_token_everyone_needs_it_even_on_loopback() {
        let config = crate::Config {
            metrics_token: "t0ken-for-scrapes".into(),
            ..crate::Config::default()
        };
        let mut ok = from("10.1.2.3");
        ok.headers_mut().insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer t0ken-for-scrapes"),
        );
        assert!(may_scrape(&config, &ok).is_ok());
        let e = may_scrape(&config, &from("127.0.0.1")).unwrap_err();
        assert_eq!(e.code(), "unauthorized");
    }

    #[test]
    fn usable_request_ids() {
        for ok in ["a", "lb-7f3a.42:x_1", &"x".repeat(128)] {
            assert!(
                usable_request_id(&HeaderValue::from_str(ok).unwrap()),
                "{ok}"
            );
        }
        for bad in ["", "a b", "a;b", &"x".repeat(129), "a\"b"] {
            assert!(
                !usable_request_id(&HeaderValue::from_str(bad).unwrap()),
                "{bad}"
            );
        }
    }
}
