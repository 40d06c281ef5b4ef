//! The sync client: enrollment, then per run reference data, push, photos, pull.
//!
//! Protocol (`shared/DESIGN.md`, "Sync protocol"): the outbox goes up in device order in
//! batches; every event gets its own answer and a refused one never blocks the queue. Photos
//! follow in their own queue (ask what the server has, upload the rest in chunks, resuming
//! from the server's offset), so records reach the office first. Then pages of events come
//! down since the stored cursor, each applied in one transaction with the device's pending
//! events re-applied on top. Every request is idempotent on the server, so any step can be
//! retried (exponential backoff with jitter) or the whole run cancelled and repeated.
//!
//! The store stays synchronous and is shared as `Arc<Mutex<Store>>`. Each database step
//! runs on tokio's blocking pool (`spawn_blocking`): a pull page refolds every record it
//! touches, which can take long enough to stall the runtime threads that drive the HTTP
//! connections (and, in the app, the UI's other commands). The lock is never held across an
//! await, so the UI can keep working on the same store between steps.

mod local;
pub mod plan;
mod trust;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fieldcheck_domain::reference::User;
use fieldcheck_protocol::sync::{
    BlobCheckRequest, BlobCheckResponse, BlobState, EnrollRequest, EnrollResponse, INSTANCE_HEADER,
    MAX_PUSH_EVENTS, PROTOCOL_HEADER, PullResponse, PushRequest, PushResponse, ReferenceResponse,
    codes, normalize_enroll_code,
};
use fieldcheck_protocol::{ApiError, PROTOCOL_VERSION};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use local::{
    Enrollment, PageApplied, PendingPhoto, PushRecorded, Recovery, Rejection, SyncState,
};
pub use plan::{RetryPolicy, sends_in_cleartext};
pub use tokio_util::sync::CancellationToken;
pub use trust::CaCert;

use crate::error::CoreError;
use crate::store::Store;
use plan::{UploadStep, decide_push, next_upload_step, retryable_status};
use trust::{TlsFailure, tls_failure};

/// Errors of enrollment and sync. `code()` is stable for UIs and scripts.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("this device is not enrolled with a server (use `enroll --server URL --code CODE`)")]
    NotEnrolled,
    #[error("invalid server address: {0}")]
    InvalidServerUrl(String),
    #[error("the enrollment code is wrong, expired or already used")]
    EnrollCodeInvalid,
    #[error("the server did not accept this device's token (enroll the device again)")]
    Unauthorized,
    /// The office disabled the user (or left them out of the reference data). Enrolling again
    /// would not help: the office decides, and until then what the device holds stays on it.
    #[error(
        "the city office has disabled this user; records not yet sent stay on this device \
         until the office decides (ask them)"
    )]
    UserDisabled,
    #[error("this app is too old for the server: {0}")]
    ProtocolTooOld(String),
    #[error("cannot reach the server at {url}: {message}")]
    Network {
        url: String,
        message: String,
        /// Some attempt may have reached the server (it failed after the connection was
        /// made); `false` when every attempt failed to connect.
        maybe_delivered: bool,
    },
    #[error(
        "the server at {url} is not trusted: {reason}; if the city office runs its own \
         certificate authority, enroll with its CA certificate (`enroll --ca-cert FILE`)"
    )]
    CertificateNotTrusted { url: String, reason: String },
    #[error("no secure connection to the server at {url}: {message}")]
    Tls { url: String, message: String },
    #[error("invalid CA certificate: {0}")]
    InvalidCaCert(String),
    #[error("the server is unavailable (HTTP {status}): {message}")]
    ServerUnavailable { status: u16, message: String },
    #[error("the server refused the request (HTTP {status} {code}): {message}")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    #[error("sync cancelled")]
    Cancelled,
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl SyncError {
    pub fn code(&self) -> &'static str {
        match self {
            SyncError::NotEnrolled => "not_enrolled",
            SyncError::InvalidServerUrl(_) => "invalid_server_url",
            SyncError::EnrollCodeInvalid => codes::ENROLL_CODE_INVALID,
            SyncError::Unauthorized => codes::UNAUTHORIZED,
            SyncError::UserDisabled => codes::USER_DISABLED,
            SyncError::ProtocolTooOld(_) => codes::PROTOCOL_TOO_OLD,
            SyncError::Network { .. } => "network",
            SyncError::CertificateNotTrusted { .. } => "certificate_not_trusted",
            SyncError::Tls { .. } => "tls_failed",
            SyncError::InvalidCaCert(_) => "invalid_ca_cert",
            SyncError::ServerUnavailable { .. } => "server_unavailable",
            SyncError::Api { .. } => "server_refused",
            SyncError::Protocol(_) => "bad_response",
            SyncError::Cancelled => "cancelled",
            SyncError::Core(e) => e.code(),
        }
    }

    /// Whether the server may have carried out the request although it failed here: the
    /// answer was lost, garbled or not waited for. Otherwise the server certainly did not.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            SyncError::Network {
                maybe_delivered, ..
            } => *maybe_delivered,
            SyncError::ServerUnavailable { .. } | SyncError::Protocol(_) | SyncError::Cancelled => {
                true
            }
            _ => false,
        }
    }
}

pub type SyncResult<T> = std::result::Result<T, SyncError>;

/// Tunables of the client; the defaults suit a phone on a mobile network.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Events per push request (at most [`MAX_PUSH_EVENTS`]).
    pub push_batch: usize,
    /// Events per pull page asked for (the server may give fewer).
    pub pull_limit: u32,
    /// Bytes per photo upload request.
    pub chunk_bytes: u64,
    pub retry: RetryPolicy,
    /// Per request, connection included.
    pub timeout: Duration,
    /// Shown to the office in the device list.
    pub device_name: String,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            push_batch: 200,
            pull_limit: 500,
            chunk_bytes: 256 * 1024,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(60),
            device_name: String::new(),
        }
    }
}

/// Where a run is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Phase {
    #[default]
    Reference,
    Push,
    Photos,
    Pull,
    Done,
}

/// Running totals, handed to the progress callback after every step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Progress {
    pub phase: Phase,
    /// Events sent and answered so far, of `events_up_total` in the outbox at the start.
    pub events_up: u64,
    pub events_up_total: u64,
    /// Photo bytes the server confirmed, of `photo_bytes_total` queued.
    pub photo_bytes_up: u64,
    pub photo_bytes_total: u64,
    pub events_down: u64,
    /// Request and response bodies, all phases.
    pub bytes_up: u64,
    pub bytes_down: u64,
}

pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// What a run did, for the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SyncReport {
    pub pushed: usize,
    /// Already on the server (an earlier answer was lost): not stored twice.
    pub duplicates: usize,
    /// Timestamps the server clamped (the device clock ran ahead).
    pub clamped: usize,
    /// Not stored by the server (role, scope, malformed); shown on the record.
    pub refused: Vec<Rejection>,
    /// Stored, but the state machine rejected them (usually a lost conflict).
    pub rejected: Vec<Rejection>,
    /// Sent again after a server restore and refused for now (the record is not back on the
    /// server yet); kept in the outbox and sent next run.
    pub deferred: usize,
    /// Set when the server turned out to have been restored from a backup: what the device
    /// queued again.
    pub server_restored: Option<Recovery>,
    pub photos_uploaded: usize,
    pub photo_bytes_uploaded: u64,
    /// Photos that could not be uploaded this time (hash, why); retried next run.
    pub photos_failed: Vec<(String, String)>,
    pub events_pulled: usize,
    pub records_removed: usize,
    /// Photos of pulled records fetched from the server (others wait for their uploader).
    pub photos_downloaded: usize,
    pub photo_bytes_downloaded: u64,
    /// The reference data version pulled, when it changed.
    pub reference_version: Option<u64>,
    /// An inspector's tasks fetched (issue 18), how many (`Store::tasks` reads them; not
    /// part of the UI's summary).
    #[serde(skip)]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub tasks: Option<usize>,
    /// The name of the city's offline map package, when this run downloaded a new version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_package: Option<String>,
    pub bytes_up: u64,
    pub bytes_down: u64,
}

/// What enrollment established.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Enrolled {
    pub server: String,
    pub user: User,
    pub device_tag: String,
    /// Reference data pulled right away; `None` with `reference_error` set when that failed
    /// (the enrollment stands and the next sync pulls it).
    pub reference_version: Option<u64>,
    pub reference_error: Option<String>,
}

/// The HTTP client for one server; `ca` is trusted besides the built-in roots.
fn http_client(opts: &SyncOptions, ca: Option<&CaCert>) -> SyncResult<reqwest::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        PROTOCOL_HEADER,
        reqwest::header::HeaderValue::from(PROTOCOL_VERSION),
    );
    let mut builder = reqwest::Client::builder();
    for cert in ca
        .map(CaCert::reqwest_certificates)
        .transpose()?
        .unwrap_or_default()
    {
        builder = builder.add_root_certificate(cert);
    }
    builder
        .default_headers(headers)
        .timeout(opts.timeout)
        .connect_timeout(opts.timeout.min(Duration::from_secs(15)))
        .user_agent(concat!("fieldcheck/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| SyncError::Protocol(format!("cannot set up HTTP: {e}")))
}

/// Runs a store step on the blocking pool (see the module docs for why).
async fn db<T: Send + 'static>(
    store: &Arc<Mutex<Store>>,
    f: impl FnOnce(&mut Store) -> crate::Result<T> + Send + 'static,
) -> SyncResult<T> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let mut guard = store.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    })
    .await
    .map_err(|e| SyncError::Protocol(format!("store task failed: {e}")))?
    .map_err(SyncError::from)
}

/// One HTTP conversation partner: base URL, token, retry policy, cancellation, byte counts.
struct Http {
    client: reqwest::Client,
    base: String,
    token: Option<String>,
    retry: RetryPolicy,
    cancel: CancellationToken,
    /// The server's instance id on the latest answer that carried one.
    instance: Mutex<Option<String>>,
}

/// A request body, kept as bytes so that a retry sends exactly the same thing.
enum Body {
    None,
    Json(Vec<u8>),
    Octets(Vec<u8>),
}

impl Body {
    fn json(v: &impl Serialize) -> SyncResult<Body> {
        serde_json::to_vec(v)
            .map(Body::Json)
            .map_err(|e| SyncError::Protocol(format!("cannot encode request: {e}")))
    }

    fn len(&self) -> u64 {
        match self {
            Body::None => 0,
            Body::Json(b) | Body::Octets(b) => b.len() as u64,
        }
    }
}

impl Http {
    fn latest_instance(&self) -> Option<String> {
        self.instance
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    async fn sleep(&self, d: Duration) -> SyncResult<()> {
        tokio::select! {
            _ = self.cancel.cancelled() => Err(SyncError::Cancelled),
            _ = tokio::time::sleep(d) => Ok(()),
        }
    }

    /// Sends with retries on transport errors and retryable statuses; returns the decoded
    /// answer and the (request, response) body sizes of the successful attempt.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &Body,
    ) -> SyncResult<(T, u64, u64)> {
        let bytes = self.raw(method, path, body).await?;
        serde_json::from_slice::<T>(&bytes)
            .map(|v| (v, body.len(), bytes.len() as u64))
            .map_err(|e| SyncError::Protocol(format!("{path}: {e}")))
    }

    /// A large file (the offline map) streamed to `dest`; its size. Not retried: the next
    /// run starts it again.
    async fn download(&self, path: &str, dest: &std::path::Path) -> SyncResult<u64> {
        use tokio::io::AsyncWriteExt;
        let url = format!("{}{path}", self.base);
        let network = |e: reqwest::Error| SyncError::Network {
            url: self.base.clone(),
            message: transport_message(&e),
            maybe_delivered: false,
        };
        let mut req = self.client.get(&url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let mut resp = tokio::select! {
            _ = self.cancel.cancelled() => return Err(SyncError::Cancelled),
            r = req.send() => r.map_err(network)?,
        };
        let status = resp.status();
        if !status.is_success() {
            let bytes = resp.bytes().await.map_err(network)?;
            let (api, message) = error_body(&bytes);
            return Err(api_error(status, api, message));
        }
        let mut file = tokio::fs::File::create(dest).await.map_err(io_error)?;
        let mut written = 0u64;
        loop {
            let chunk = tokio::select! {
                _ = self.cancel.cancelled() => return Err(SyncError::Cancelled),
                c = resp.chunk() => c.map_err(network)?,
            };
            let Some(chunk) = chunk else { break };
            written += chunk.len() as u64;
            file.write_all(&chunk).await.map_err(io_error)?;
        }
        file.flush().await.map_err(io_error)?;
        Ok(written)
    }

    async fn get_bytes(&self, path: &str) -> SyncResult<Vec<u8>> {
        Ok(self.raw(Method::GET, path, &Body::None).await?.to_vec())
    }

    async fn raw(&self, method: Method, path: &str, body: &Body) -> SyncResult<Vec<u8>> {
        let url = format!("{}{path}", self.base);
        let mut attempt = 0u32;
        let mut maybe_delivered = false;
        loop {
            attempt += 1;
            if self.cancel.is_cancelled() {
                return Err(SyncError::Cancelled);
            }
            let mut req = self.client.request(method.clone(), &url);
            if let Some(t) = &self.token {
                req = req.bearer_auth(t);
            }
            req = match body {
                Body::None => req,
                Body::Json(b) => req
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(b.clone()),
                Body::Octets(b) => req
                    .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                    .body(b.clone()),
            };
            let outcome = tokio::select! {
                _ = self.cancel.cancelled() => return Err(SyncError::Cancelled),
                r = async {
                    let resp = req.send().await?;
                    let status = resp.status();
                    if let Some(id) = resp
                        .headers()
                        .get(INSTANCE_HEADER)
                        .and_then(|v| v.to_str().ok())
                        .filter(|v| !v.is_empty() && v.len() <= 128)
                    {
                        *self.instance.lock().unwrap_or_else(|e| e.into_inner()) =
                            Some(id.to_owned());
                    }
                    let bytes = resp.bytes().await?;
                    Ok::<_, reqwest::Error>((status, bytes))
                } => r,
            };
            let failure = match outcome {
                Ok((status, bytes)) if status.is_success() => return Ok(bytes.to_vec()),
                Ok((status, bytes)) => {
                    let (api, message) = error_body(&bytes);
                    if !retryable_status(status.as_u16()) {
                        return Err(api_error(status, api, message));
                    }
                    SyncError::ServerUnavailable {
                        status: status.as_u16(),
                        message,
                    }
                }
                // A handshake that failed fails the same way next time: no retry.
                Err(e) => match tls_failure(&e) {
                    Some(TlsFailure::Untrusted(reason)) => {
                        return Err(SyncError::CertificateNotTrusted {
                            url: self.base.clone(),
                            reason,
                        });
                    }
                    Some(TlsFailure::Other(message)) => {
                        return Err(SyncError::Tls {
                            url: self.base.clone(),
                            message,
                        });
                    }
                    None => {
                        maybe_delivered |= !e.is_connect();
                        SyncError::Network {
                            url: self.base.clone(),
                            message: transport_message(&e),
                            maybe_delivered,
                        }
                    }
                },
            };
            if !self.retry.may_retry(attempt) {
                return Err(failure);
            }
            tracing::debug!(%url, attempt, error = %failure, "retrying");
            self.sleep(self.retry.delay(attempt - 1, rand::random::<f64>()))
                .await?;
        }
    }
}

/// A failed answer's body: the API's `{code, message}`, or the start of whatever else it was.
fn error_body(bytes: &[u8]) -> (Option<ApiError>, String) {
    let api: Option<ApiError> = serde_json::from_slice(bytes).ok();
    let message = api
        .as_ref()
        .map(|a| a.message.clone())
        .unwrap_or_else(|| String::from_utf8_lossy(bytes).chars().take(200).collect());
    (api, message)
}

fn io_error(e: std::io::Error) -> SyncError {
    SyncError::Core(CoreError::Io(e))
}

/// The most specific cause of a transport error (reqwest's own message is generic).
fn transport_message(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    msg
}

fn api_error(status: StatusCode, api: Option<ApiError>, message: String) -> SyncError {
    let code = api.map(|a| a.code).unwrap_or_default();
    match (status.as_u16(), code.as_str()) {
        (_, codes::ENROLL_CODE_INVALID) => SyncError::EnrollCodeInvalid,
        (401, codes::USER_DISABLED) => SyncError::UserDisabled,
        (401, _) | (_, codes::UNAUTHORIZED) => SyncError::Unauthorized,
        (426, _) | (_, codes::PROTOCOL_TOO_OLD) => SyncError::ProtocolTooOld(message),
        (404, "" | codes::NOT_FOUND) if message.contains("route") || code.is_empty() => {
            SyncError::Api {
                status: 404,
                code: codes::NOT_FOUND.to_owned(),
                message: format!("{message} (is this a FieldCheck server?)"),
            }
        }
        _ => SyncError::Api {
            status: status.as_u16(),
            code,
            message,
        },
    }
}

/// Enrolls the device with a one-time code: on success the server URL, token, device tag and
/// user are stored and reference data is pulled. See [`enroll_with_ca`].
pub async fn enroll(
    store: Arc<Mutex<Store>>,
    server: &str,
    code: &str,
    opts: &SyncOptions,
) -> SyncResult<Enrolled> {
    enroll_with_ca(store, server, code, None, opts).await
}

/// Enrolls the device with a one-time code, trusting `ca` for this server besides the
/// built-in roots (kept with the enrollment for every later sync; enrolling without one
/// drops a CA stored earlier for the same server).
///
/// The device's token is stored before it is sent (keyed by server and code) and reused by
/// the next attempt, in this process or a later one, so an attempt whose answer was lost
/// after the server enrolled the device is simply repeated. When the server certainly did
/// not enroll the device (refused, or the TLS handshake failed) nothing stays written.
pub async fn enroll_with_ca(
    store: Arc<Mutex<Store>>,
    server: &str,
    code: &str,
    ca: Option<CaCert>,
    opts: &SyncOptions,
) -> SyncResult<Enrolled> {
    let base = plan::api_base(server).map_err(SyncError::InvalidServerUrl)?;
    let code = code.trim().to_owned();
    let http = Http {
        client: http_client(opts, ca.as_ref())?,
        base: base.clone(),
        token: None,
        retry: opts.retry.clone(),
        cancel: CancellationToken::new(),
        instance: Mutex::default(),
    };
    let (b, c) = (base.clone(), normalize_enroll_code(&code));
    let (device_id, token) = db(&store, move |s| {
        Ok((s.device().device_id, s.enroll_token(&b, &c, new_token)?))
    })
    .await?;
    let req = EnrollRequest {
        code: code.clone(),
        device_id,
        device_name: opts.device_name.clone(),
        token: Some(token),
    };
    let resp: EnrollResponse = match http.call(Method::POST, "/enroll", &Body::json(&req)?).await {
        Ok((resp, _, _)) => resp,
        Err(e) => {
            if !e.outcome_unknown() {
                let b = base.clone();
                let c = normalize_enroll_code(&code);
                if let Err(forget) = db(&store, move |s| s.forget_enroll_token(&b, &c)).await {
                    tracing::warn!(error = %forget, "pending enrollment token not cleared");
                }
            }
            return Err(e);
        }
    };
    let enrollment = Enrollment {
        server: base.clone(),
        token: resp.token,
        user_id: resp.user.id.clone(),
        device_tag: resp.device_tag.clone(),
    };
    let b = base.clone();
    // Three transactions in this order (see `trust.rs`): wherever the process stops between
    // them, the device is consistent and a repeated `enroll` completes the rest.
    db(&store, move |s| {
        s.set_server_ca(&b, ca.as_ref())?;
        s.save_enrollment(&enrollment)?;
        s.enrollment_settled(&b)
    })
    .await?;
    let client = SyncClient::new(store, opts.clone())?;
    let reference = async {
        let http = client.http().await?;
        client
            .reference(&http, true, &mut Progress::default())
            .await
    };
    let (reference_version, reference_error) = match reference.await {
        Ok(v) => (v, None),
        Err(e) => (None, Some(e.to_string())),
    };
    Ok(Enrolled {
        server: base,
        user: resp.user,
        device_tag: resp.device_tag,
        reference_version,
        reference_error,
    })
}

/// A device token for [`EnrollRequest::token`]: two UUIDv4, 244 bits from the OS CSPRNG.
fn new_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Runs sync for one enrolled device.
pub struct SyncClient {
    store: Arc<Mutex<Store>>,
    opts: SyncOptions,
    cancel: CancellationToken,
    progress: Option<ProgressFn>,
}

impl SyncClient {
    pub fn new(store: Arc<Mutex<Store>>, opts: SyncOptions) -> SyncResult<SyncClient> {
        Ok(SyncClient {
            store,
            opts,
            cancel: CancellationToken::new(),
            progress: None,
        })
    }

    /// Cancelling stops the run at the next step or wait; everything committed so far stays
    /// (each step is its own transaction) and the next run resumes.
    pub fn with_cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = token;
        self
    }

    pub fn with_progress(mut self, f: ProgressFn) -> Self {
        self.progress = Some(f);
        self
    }

    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// The enrolled server with a client that trusts the CA its enrollment came with; built
    /// per run, so a new enrollment (another server, another CA) takes effect at once.
    async fn http(&self) -> SyncResult<Http> {
        let (e, ca) = db(&self.store, |s| {
            let Some(e) = s.enrollment()? else {
                return Ok((None, None));
            };
            let ca = s.server_ca(&e.server)?;
            Ok((Some(e), ca))
        })
        .await?;
        let e = e.ok_or(SyncError::NotEnrolled)?;
        Ok(Http {
            client: http_client(&self.opts, ca.as_ref())?,
            base: e.server,
            token: Some(e.token),
            retry: self.opts.retry.clone(),
            cancel: self.cancel.clone(),
            instance: Mutex::default(),
        })
    }

    /// Tells the server this device's token is no longer used (`POST /logout`), once, without
    /// retries: a device being unenrolled to be handed to someone else must not keep a live
    /// token, and the server refuses to enroll a device id whose token is still live for
    /// another user. Best effort by design — offline, the office revokes the device instead.
    /// `Ok(false)` when the device is not enrolled.
    pub async fn sign_out(&self) -> SyncResult<bool> {
        let mut http = match self.http().await {
            Ok(h) => h,
            Err(SyncError::NotEnrolled) => return Ok(false),
            Err(e) => return Err(e),
        };
        http.retry.max_attempts = 1;
        match http.raw(Method::POST, "/logout", &Body::None).await {
            // Already revoked, expired or disabled: the token is dead either way.
            Ok(_) | Err(SyncError::Unauthorized | SyncError::UserDisabled) => Ok(true),
            Err(e) => Err(e),
        }
    }

    fn report(&self, p: &Progress) {
        if let Some(f) = &self.progress {
            f(p);
        }
    }

    /// Pulls reference data when the server's version differs from the device's (always
    /// right after enrollment, `sign_in`, which also signs the enrolled user in). Returns the
    /// version imported, if any.
    async fn reference(
        &self,
        http: &Http,
        sign_in: bool,
        p: &mut Progress,
    ) -> SyncResult<Option<u64>> {
        let have = db(&self.store, |s| s.server_reference_version()).await?;
        let path = match have.filter(|_| !sign_in) {
            Some(v) => format!("/reference?since_version={v}"),
            None => "/reference".to_owned(),
        };
        let (resp, up, down): (ReferenceResponse, _, _) =
            http.call(Method::GET, &path, &Body::None).await?;
        p.bytes_up += up;
        p.bytes_down += down;
        match resp.bundle {
            Some(bundle) if sign_in || have != Some(resp.version) => {
                let v = resp.version;
                db(&self.store, move |s| {
                    s.import_server_reference(v, &bundle, sign_in)
                })
                .await?;
                Ok(Some(v))
            }
            _ => Ok(None),
        }
    }

    /// One full run: reference data, push, photos, pull.
    pub async fn run(&self) -> SyncResult<SyncReport> {
        let http = self.http().await?;
        let mut report = SyncReport::default();
        let mut p = Progress::default();
        self.report(&p);

        // Reference data first: pulled records may name new units, points or templates.
        report.reference_version = self.reference(&http, false, &mut p).await?;

        // Before pushing: a restored server is handled on its first answer. One restored while
        // this run went on (another id on a later answer) is handled at once, and the run
        // repeated, so the run never ends on a cursor the server does not know.
        let mut instance = self.observe_instance(&http, &mut report).await?;
        for round in 0..2 {
            self.push(&http, &mut report, &mut p).await?;
            self.photos(&http, &mut report, &mut p).await?;
            self.pull(&http, &mut report, &mut p).await?;
            self.download_photos(&http, &mut report, &mut p).await?;
            let latest = http.latest_instance();
            if round == 1 || latest.is_none() || latest == instance {
                break;
            }
            instance = self.observe_instance(&http, &mut report).await?;
        }
        report.tasks = self.tasks(&http, &mut p).await?;
        // The map is a convenience: its failure never fails a run that moved the records.
        match self.city_map(&http, &mut p).await {
            Ok(downloaded) => report.map_package = downloaded.map(|p| p.name),
            Err(SyncError::Cancelled) => return Err(SyncError::Cancelled),
            Err(e) => tracing::warn!(error = %e, "the city's map was not updated"),
        }

        p.phase = Phase::Done;
        report.bytes_up = p.bytes_up;
        report.bytes_down = p.bytes_down;
        self.report(&p);
        Ok(report)
    }

    /// An inspector's tasks (evaluation-round points whose day has come), stored whole in
    /// place of the previous list; other roles have none. Returns how many.
    async fn tasks(&self, http: &Http, p: &mut Progress) -> SyncResult<Option<usize>> {
        let user = db(&self.store, |s| s.enrolled_user()).await?;
        if user.is_none_or(|u| u.role != fieldcheck_domain::role::Role::Inspector) {
            return Ok(None);
        }
        let (list, up, down): (fieldcheck_protocol::tasks::TaskList, _, _) =
            http.call(Method::GET, "/tasks", &Body::None).await?;
        p.bytes_up += up;
        p.bytes_down += down;
        let n = list.tasks.len();
        db(&self.store, move |s| s.save_tasks(&list)).await?;
        Ok(Some(n))
    }

    /// The office's online basemap (kept for the map screens) and, when the server offers a
    /// version of the offline package this device does not have, that package, streamed to a
    /// file and checked before it replaces the old one. A server without maps (404) has none.
    async fn city_map(
        &self,
        http: &Http,
        p: &mut Progress,
    ) -> SyncResult<Option<crate::map::MapPackage>> {
        let city: fieldcheck_protocol::map::CityMap =
            match http.call(Method::GET, "/map", &Body::None).await {
                Ok((c, up, down)) => {
                    p.bytes_up += up;
                    p.bytes_down += down;
                    c
                }
                Err(SyncError::Api { status: 404, .. }) => return Ok(None),
                Err(e) => return Err(e),
            };
        let online = city.online.clone();
        let have = db(&self.store, move |s| {
            s.set_online_map(online.as_ref())?;
            s.map_package_version()
        })
        .await?;
        let Some(offer) = city.package else {
            return Ok(None);
        };
        if have.as_deref() == Some(offer.version.as_str()) {
            return Ok(None);
        }
        let map = db(&self.store, |s| Ok(s.offline_map())).await?;
        let incoming = map.path().with_extension("mbtiles.download");
        let got = http.download("/map/package", &incoming).await;
        let imported = match got {
            Ok(bytes) => {
                p.bytes_down += bytes;
                let from = incoming.clone();
                tokio::task::spawn_blocking(move || map.import(&from))
                    .await
                    .map_err(|e| SyncError::Protocol(format!("map import task failed: {e}")))?
                    .map_err(SyncError::from)
            }
            Err(e) => Err(e),
        };
        let _ = tokio::fs::remove_file(&incoming).await;
        let package = imported?;
        let version = offer.version;
        db(&self.store, move |s| s.set_map_package_version(&version)).await?;
        tracing::info!(name = %package.name, bytes = package.bytes, "offline map updated");
        Ok(Some(package))
    }

    /// Hands the server's instance id to the store (`Store::observe_server_instance`, where
    /// the recovery after a restore lives); returns the id handled.
    async fn observe_instance(
        &self,
        http: &Http,
        report: &mut SyncReport,
    ) -> SyncResult<Option<String>> {
        let Some(id) = http.latest_instance() else {
            return Ok(None);
        };
        let sent = id.clone();
        if let Some(r) = db(&self.store, move |s| s.observe_server_instance(&sent)).await? {
            tracing::warn!(
                events = r.events_resent,
                photos = r.photos_rechecked,
                "the server was restored from a backup: sending again what it may have lost"
            );
            let total = report.server_restored.get_or_insert_with(Recovery::default);
            total.events_resent += r.events_resent;
            total.photos_rechecked += r.photos_rechecked;
            total.cursor_was = total.cursor_was.max(r.cursor_was);
        }
        Ok(Some(id))
    }

    async fn push(&self, http: &Http, report: &mut SyncReport, p: &mut Progress) -> SyncResult<()> {
        p.phase = Phase::Push;
        p.events_up_total = db(&self.store, |s| s.outbox_len()).await?;
        self.report(p);
        let batch = self.opts.push_batch.clamp(1, MAX_PUSH_EVENTS);
        // Events deferred after a restore stay in the outbox: the run walks past them by `seq`
        // (up to the first event the server left unanswered, which is sent again at once).
        let mut after = 0i64;
        loop {
            let page = db(&self.store, move |s| s.outbox_after(after, batch)).await?;
            if page.is_empty() {
                return Ok(());
            }
            let seqs: Vec<(i64, uuid::Uuid)> = page.iter().map(|(q, e)| (*q, e.id)).collect();
            let events: Vec<_> = page.into_iter().map(|(_, e)| e).collect();
            let sent: Vec<_> = events.iter().map(|e| (e.id, e.hlc.clone())).collect();
            let body = Body::json(&PushRequest { events })?;
            let (resp, up, down): (PushResponse, _, _) =
                http.call(Method::POST, "/push", &body).await?;
            p.bytes_up += up;
            p.bytes_down += down;
            let decisions = decide_push(&sent, &resp.results);
            if decisions.is_empty() {
                // Without this, an answer that acknowledges nothing would loop forever.
                return Err(SyncError::Protocol(format!(
                    "the server answered none of the {} events pushed",
                    sent.len()
                )));
            }
            let before = after;
            for (seq, id) in &seqs {
                if !decisions.iter().any(|(d, _)| d == id) {
                    break;
                }
                after = *seq;
            }
            let n = decisions.len() as u64;
            let rec = db(&self.store, move |s| s.record_push(&decisions)).await?;
            report.pushed += rec.applied;
            report.duplicates += rec.duplicates;
            report.clamped += rec.clamped;
            report.refused.extend(rec.refused);
            report.rejected.extend(rec.rejected);
            report.deferred += rec.deferred;
            p.events_up += n;
            self.report(p);
            if after == before {
                // The first event was left unanswered while later ones were not: the next run
                // sends it again rather than this one resending the same page forever.
                return Ok(());
            }
        }
    }

    async fn photos(
        &self,
        http: &Http,
        report: &mut SyncReport,
        p: &mut Progress,
    ) -> SyncResult<()> {
        p.phase = Phase::Photos;
        let queue = db(&self.store, |s| s.photo_upload_queue()).await?;
        p.photo_bytes_total = queue.iter().map(|q| q.bytes).sum();
        self.report(p);
        for group in queue.chunks(100) {
            let hashes: Vec<String> = group.iter().map(|q| q.hash.clone()).collect();
            let (states, up, down): (BlobCheckResponse, _, _) = http
                .call(
                    Method::POST,
                    "/blobs/check",
                    &Body::json(&BlobCheckRequest { hashes })?,
                )
                .await?;
            p.bytes_up += up;
            p.bytes_down += down;
            for photo in group {
                let state = states.blobs.iter().find(|b| b.hash == photo.hash);
                let offset = match state {
                    Some(b) if b.complete => {
                        let h = photo.hash.clone();
                        db(&self.store, move |s| s.mark_photo_uploaded(&h)).await?;
                        p.photo_bytes_up += photo.bytes;
                        self.report(p);
                        continue;
                    }
                    Some(b) => b.offset,
                    None => 0,
                };
                match self.upload(http, photo, offset, p).await {
                    Ok(sent) => {
                        let h = photo.hash.clone();
                        db(&self.store, move |s| s.mark_photo_uploaded(&h)).await?;
                        // A stamped copy is part of its photo's upload, not another photo.
                        if !photo.stamped_copy {
                            report.photos_uploaded += 1;
                        }
                        report.photo_bytes_uploaded += sent;
                    }
                    // A photo the server will not take must not stop the others.
                    Err(SyncError::Api { code, message, .. }) => {
                        report
                            .photos_failed
                            .push((photo.hash.clone(), format!("{code}: {message}")));
                    }
                    Err(SyncError::Core(e)) => {
                        report
                            .photos_failed
                            .push((photo.hash.clone(), format!("{}: {e}", e.code())));
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// Uploads one display copy from `offset` in chunks until the server says the blob is
    /// complete; returns the bytes sent. Only that answer makes a photo uploaded: a server
    /// holding every byte without having stored the blob (the request with the last bytes was
    /// cut off before it finished) is asked to finish with an empty chunk. A chunk the server
    /// says arrived at the wrong offset (an answer lost after it committed) makes the client
    /// ask for the server's offset and continue from there; an upload the server discarded
    /// because it did not verify is sent once more from 0.
    async fn upload(
        &self,
        http: &Http,
        photo: &PendingPhoto,
        mut offset: u64,
        p: &mut Progress,
    ) -> SyncResult<u64> {
        let h = photo.hash.clone();
        let bytes = db(&self.store, move |s| {
            let path = s.display_path(&h)?;
            Ok(std::fs::read(path)?)
        })
        .await?;
        let size = bytes.len() as u64;
        let mut sent = 0u64;
        let (mut resyncs, mut restarts, mut stalls) = (0, 0, 0);
        let base_done = p.photo_bytes_up;
        p.photo_bytes_up = base_done + offset.min(size);
        loop {
            let (start, end) = match next_upload_step(offset, size, self.opts.chunk_bytes) {
                UploadStep::Chunk(start, end) => (start, end),
                UploadStep::Finish(at) => (at, at),
            };
            let path = format!("/blobs/{}?offset={start}&size={size}", photo.hash);
            let chunk = match bytes.get(start as usize..end as usize) {
                Some(b) => Body::Octets(b.to_vec()),
                None => Body::Octets(Vec::new()),
            };
            match http.call::<BlobState>(Method::PUT, &path, &chunk).await {
                Ok((state, up, down)) => {
                    p.bytes_up += up;
                    p.bytes_down += down;
                    sent += end - start;
                    if state.complete {
                        break;
                    }
                    // A server that neither moves on nor finishes would loop us forever.
                    if state.offset <= offset && end == start {
                        stalls += 1;
                        if stalls > 2 {
                            return Err(SyncError::Protocol(format!(
                                "the server holds all {size} bytes of photo {} but does not \
                                 store it",
                                photo.hash
                            )));
                        }
                    }
                    offset = state.offset;
                }
                Err(SyncError::Api { code, .. }) if code == codes::BAD_OFFSET && resyncs < 3 => {
                    resyncs += 1;
                    let (states, _, _): (BlobCheckResponse, _, _) = http
                        .call(
                            Method::POST,
                            "/blobs/check",
                            &Body::json(&BlobCheckRequest {
                                hashes: vec![photo.hash.clone()],
                            })?,
                        )
                        .await?;
                    match states.blobs.into_iter().find(|b| b.hash == photo.hash) {
                        Some(b) if b.complete => break,
                        Some(b) => offset = b.offset,
                        None => offset = 0,
                    }
                }
                Err(SyncError::Api { code, .. })
                    if code == codes::HASH_MISMATCH && restarts < 1 =>
                {
                    restarts += 1;
                    offset = 0;
                }
                Err(e) => return Err(e),
            }
            p.photo_bytes_up = base_done + offset.min(size);
            self.report(p);
        }
        p.photo_bytes_up = base_done + size;
        self.report(p);
        Ok(sent)
    }

    /// Fetches photos that pulled records refer to. One the server does not have yet (its
    /// uploader has not synced) or that fails its hash check is simply tried next run.
    async fn download_photos(
        &self,
        http: &Http,
        report: &mut SyncReport,
        p: &mut Progress,
    ) -> SyncResult<()> {
        let missing = db(&self.store, |s| s.missing_photos()).await?;
        for hash in missing {
            // Another device's event may name anything as a photo; it must not become a
            // request path, nor stop the run for every other photo.
            if fieldcheck_photo::validate_hash(&hash).is_err() {
                tracing::warn!(%hash, "a record refers to a photo by an invalid hash");
                continue;
            }
            let path = format!("/blobs/{hash}");
            let bytes = match http.get_bytes(&path).await {
                Ok(b) => b,
                Err(SyncError::Api {
                    status: 400 | 404, ..
                }) => continue,
                Err(e) => return Err(e),
            };
            p.bytes_down += bytes.len() as u64;
            let n = bytes.len() as u64;
            let h = hash.clone();
            match db(&self.store, move |s| s.store_downloaded_photo(&h, &bytes)).await {
                Ok(()) => {
                    report.photos_downloaded += 1;
                    report.photo_bytes_downloaded += n;
                }
                Err(SyncError::Core(e)) => {
                    tracing::warn!(%hash, error = %e, "downloaded photo not kept");
                }
                Err(e) => return Err(e),
            }
            self.report(p);
        }
        Ok(())
    }

    async fn pull(&self, http: &Http, report: &mut SyncReport, p: &mut Progress) -> SyncResult<()> {
        p.phase = Phase::Pull;
        self.report(p);
        let before = db(&self.store, |s| s.local_rejections()).await?;
        let limit = self.opts.pull_limit.max(1);
        let fetch = |since: u64| async move {
            let path = format!("/pull?since={since}&limit={limit}");
            http.call::<PullResponse>(Method::GET, &path, &Body::None)
                .await
        };
        let mut since = db(&self.store, |s| s.pull_cursor()).await?;
        let mut fetched = fetch(since).await;
        loop {
            let (page, up, down) = fetched?;
            p.bytes_up += up;
            p.bytes_down += down;
            let more = page.more && page.cursor > since;
            let n = page.items.len() as u64;
            let cursor = page.cursor;
            // The next page comes over the network while this one is written: the device's
            // SQLite work and the server's answer overlap. The cursor stored with each page
            // stays the resume point, so a failure in either loses nothing.
            let next = async move {
                if more {
                    Some(fetch(cursor).await)
                } else {
                    None
                }
            };
            let apply = db(&self.store, move |s| s.apply_pull_page(&page));
            let (next, applied) = tokio::join!(next, apply);
            let applied = applied?;
            report.events_pulled += applied.inserted;
            report.records_removed += applied.removed;
            p.events_down += n;
            self.report(p);
            match next {
                Some(n) => {
                    fetched = n;
                    since = cursor;
                }
                None => break,
            }
        }
        // Local events that only now stand rejected lost a conflict to what came down.
        let after = db(&self.store, |s| s.local_rejections()).await?;
        for r in after {
            let known = before.iter().any(|b| b.event_id == r.event_id)
                || report.rejected.iter().any(|b| b.event_id == r.event_id)
                || report.refused.iter().any(|b| b.event_id == r.event_id);
            if !known {
                report.rejected.push(r);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_stable() {
        assert_eq!(SyncError::NotEnrolled.code(), "not_enrolled");
        assert_eq!(SyncError::EnrollCodeInvalid.code(), "enroll_code_invalid");
        assert_eq!(SyncError::Unauthorized.code(), "unauthorized");
        assert_eq!(SyncError::Cancelled.code(), "cancelled");
        assert_eq!(
            SyncError::InvalidServerUrl("x".into()).code(),
            "invalid_server_url"
        );
        let untrusted = SyncError::CertificateNotTrusted {
            url: "u".into(),
            reason: "r".into(),
        };
        assert_eq!(untrusted.code(), "certificate_not_trusted");
        let tls = SyncError::Tls {
            url: "u".into(),
            message: "m".into(),
        };
        assert_eq!(tls.code(), "tls_failed");
        assert_eq!(
            SyncError::InvalidCaCert("x".into()).code(),
            "invalid_ca_cert"
        );
    }

    #[test]
    fn only_an_answer_that_may_have_been_lost_leaves_the_outcome_unknown() {
        let network = |maybe_delivered| SyncError::Network {
            url: "u".into(),
            message: "m".into(),
            maybe_delivered,
        };
        assert!(network(true).outcome_unknown());
        assert!(!network(false).outcome_unknown(), "never connected");
        let unavailable = SyncError::ServerUnavailable {
            status: 503,
            message: "m".into(),
        };
        assert!(unavailable.outcome_unknown());
        assert!(SyncError::Cancelled.outcome_unknown());
        assert!(!SyncError::EnrollCodeInvalid.outcome_unknown());
        let untrusted = SyncError::CertificateNotTrusted {
            url: "u".into(),
            reason: "r".into(),
        };
        assert!(!untrusted.outcome_unknown());
    }

    #[test]
    fn api_errors_map_to_typed_variants() {
        let e = |status: u16, code: &str| {
            api_error(
                StatusCode::from_u16(status).unwrap(),
                Some(ApiError {
                    code: code.into(),
                    message: "m".into(),
                }),
                "m".into(),
            )
        };
        assert!(matches!(
            e(400, "enroll_code_invalid"),
            SyncError::EnrollCodeInvalid
        ));
        assert!(matches!(e(401, "unauthorized"), SyncError::Unauthorized));
        assert!(matches!(e(401, "token_revoked"), SyncError::Unauthorized));
        let disabled = e(401, "user_disabled");
        assert!(matches!(disabled, SyncError::UserDisabled));
        assert_eq!(disabled.code(), "user_disabled");
        assert!(matches!(
            e(426, "protocol_too_old"),
            SyncError::ProtocolTooOld(_)
        ));
        assert!(
            matches!(e(409, "bad_offset"), SyncError::Api { status: 409, code, .. } if code == "bad_offset")
        );
    }

    #[test]
    fn enrollment_debug_hides_the_token() {
        let e = Enrollment {
            server: "http://x/api/v1".into(),
            token: "secret-token-value".into(),
            user_id: "u".into(),
            device_tag: "K7Q2".into(),
        };
        let s = format!("{e:?}");
        assert!(!s.contains("secret-token-value"), "{s}");
        assert!(s.contains("redacted"));
    }
}
