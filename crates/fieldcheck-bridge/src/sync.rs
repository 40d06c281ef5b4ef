//! Enrollment and sync commands: `enroll`, `unenroll`, `sync_start`, `sync_status`.
//!
//! A sync runs in the background on the core's `SyncClient` (over the bridge's shared store);
//! the UI polls `sync_status` for progress (the client's running totals), the last success and
//! the last error (a stable code plus the client's message). One run at a time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use fieldcheck_core::Store;
use fieldcheck_core::domain::reference::User;
use fieldcheck_core::sync::{
    self, CaCert, Progress, RetryPolicy, SyncClient, SyncError, SyncOptions, SyncReport,
};
use serde::{Deserialize, Serialize};

use crate::api::{AppState, Args, Me, me_of};
use crate::error::{BridgeError, ErrorBody};

/// What the last and the current run did (in memory; a restarted bridge starts empty).
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RunState {
    pub running: bool,
    /// Running totals of the current (or last) run.
    pub progress: Option<Progress>,
    /// Unix milliseconds.
    pub started_at_ms: Option<u64>,
    pub finished_at_ms: Option<u64>,
    pub last_success_ms: Option<u64>,
    /// The report of the last successful run.
    pub last_report: Option<SyncReport>,
    /// The error of the last run, if it failed (cleared by a success).
    pub last_error: Option<ErrorBody>,
}

/// The sync runner shared by the commands.
#[derive(Default)]
pub struct Syncer {
    state: Mutex<RunState>,
}

impl Syncer {
    fn snapshot(&self) -> RunState {
        self.state.lock().map(|g| g.clone()).unwrap_or_default()
    }

    fn update(&self, f: impl FnOnce(&mut RunState)) {
        if let Ok(mut g) = self.state.lock() {
            f(&mut g);
        }
    }
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SyncStatus {
    pub enrolled: bool,
    pub server: Option<String>,
    pub user_id: Option<String>,
    /// Local events not yet on the server.
    pub pending_records: u64,
    /// Photos of this device's records not on the server yet.
    pub pending_photos: u64,
    #[serde(flatten)]
    pub run: RunState,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn options() -> SyncOptions {
    SyncOptions {
        device_name: "创文巡查 browser (fieldcheck-bridge)".into(),
        // The person is looking at the screen: fail within seconds, not minutes.
        retry: RetryPolicy {
            base: Duration::from_millis(200),
            max: Duration::from_secs(2),
            max_attempts: 3,
        },
        timeout: Duration::from_secs(30),
        ..SyncOptions::default()
    }
}

fn sync_error(e: SyncError) -> BridgeError {
    let status = match &e {
        SyncError::InvalidServerUrl(_) | SyncError::InvalidCaCert(_) => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        SyncError::EnrollCodeInvalid => StatusCode::UNPROCESSABLE_ENTITY,
        SyncError::NotEnrolled => StatusCode::CONFLICT,
        SyncError::Unauthorized | SyncError::UserDisabled => StatusCode::UNAUTHORIZED,
        SyncError::Core(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_GATEWAY,
    };
    BridgeError::Coded {
        status,
        code: e.code().to_owned(),
        message: e.to_string(),
    }
}

fn status_of(st: &Store, run: RunState) -> Result<SyncStatus, BridgeError> {
    let s = st.sync_state()?;
    Ok(SyncStatus {
        enrolled: s.server.is_some(),
        server: s.server,
        user_id: s.user_id,
        pending_records: s.outbox,
        pending_photos: st.photos_to_upload()?,
        run,
    })
}

pub async fn sync_status(State(s): State<AppState>) -> Result<Json<SyncStatus>, BridgeError> {
    let run = s.syncer().snapshot();
    s.run(move |st| status_of(st, run)).await.map(Json)
}

/// Starts a run in the background (or reports the one going) and answers the status at once.
pub async fn sync_start(State(s): State<AppState>) -> Result<Json<SyncStatus>, BridgeError> {
    let enrolled = s.run(|st| Ok(st.enrollment()?.is_some())).await?;
    if !enrolled {
        return Err(sync_error(SyncError::NotEnrolled));
    }
    let syncer = s.syncer();
    let mut start = false;
    syncer.update(|r| {
        if !r.running {
            start = true;
            r.running = true;
            r.progress = Some(Progress::default());
            r.started_at_ms = Some(now_ms());
        }
    });
    if start {
        let store = s.store();
        let runner = syncer.clone();
        tokio::spawn(async move {
            let cb = runner.clone();
            let result = match SyncClient::new(store, options()) {
                Ok(client) => {
                    client
                        .with_progress(Arc::new(move |p: &Progress| {
                            let p = p.clone();
                            cb.update(|r| r.progress = Some(p));
                        }))
                        .run()
                        .await
                }
                Err(e) => Err(e),
            };
            runner.update(|r| {
                r.running = false;
                let now = now_ms();
                r.finished_at_ms = Some(now);
                match result {
                    Ok(report) => {
                        r.last_success_ms = Some(now);
                        r.last_report = Some(report);
                        r.last_error = None;
                    }
                    Err(e) => {
                        tracing::warn!(code = e.code(), "sync failed: {e}");
                        r.last_error = Some(ErrorBody {
                            code: e.code().to_owned(),
                            message: e.to_string(),
                        });
                    }
                }
            });
        });
    }
    sync_status(State(s)).await
}

#[derive(Deserialize)]
pub struct EnrollArgs {
    server: String,
    code: String,
    /// PEM text of a city office's own CA, trusted for this server besides the built-in roots.
    #[serde(default)]
    ca_cert: Option<String>,
    /// The person has seen the warning that this `http://` server is reached unencrypted.
    #[serde(default)]
    allow_insecure: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EnrollResult {
    pub server: String,
    pub user: User,
    pub device_tag: String,
    pub reference_version: Option<u64>,
    pub reference_error: Option<String>,
    pub me: Me,
}

pub async fn enroll(
    State(s): State<AppState>,
    Args(a): Args<EnrollArgs>,
) -> Result<Json<EnrollResult>, BridgeError> {
    if s.syncer().snapshot().running {
        return Err(busy());
    }
    if sync::sends_in_cleartext(&a.server)
        .map_err(|e| sync_error(SyncError::InvalidServerUrl(e)))?
        && !a.allow_insecure
    {
        return Err(BridgeError::Coded {
            status: StatusCode::CONFLICT,
            code: "insecure_server".into(),
            message: format!(
                "{} is not https: the device's token, records and photos would cross the network \
                 unencrypted. Confirm to enroll anyway",
                a.server.trim()
            ),
        });
    }
    let ca = a
        .ca_cert
        .as_deref()
        .filter(|pem| !pem.trim().is_empty())
        .map(CaCert::from_pem)
        .transpose()
        .map_err(sync_error)?;
    let e = sync::enroll_with_ca(s.store(), a.server.trim(), a.code.trim(), ca, &options())
        .await
        .map_err(sync_error)?;
    let me = s.run(|st| me_of(st)).await?;
    Ok(Json(EnrollResult {
        server: e.server,
        user: e.user,
        device_tag: e.device_tag,
        reference_version: e.reference_version,
        reference_error: e.reference_error,
        me,
    }))
}

fn busy() -> BridgeError {
    BridgeError::Coded {
        status: StatusCode::CONFLICT,
        code: "sync_busy".into(),
        message: "a sync is running".into(),
    }
}

#[derive(Deserialize, Default)]
pub struct UnenrollArgs {
    /// Forget the enrollment even though records wait to sync (they could never be sent).
    #[serde(default)]
    discard_pending: bool,
}

fn pending_allows_unenroll(st: &Store, discard_pending: bool) -> Result<(), BridgeError> {
    let pending = st.outbox_len()?;
    if pending > 0 && !discard_pending {
        return Err(BridgeError::Coded {
            status: StatusCode::CONFLICT,
            code: "pending_sync".into(),
            message: format!("{pending} records have not been synced yet"),
        });
    }
    Ok(())
}

/// Signs the device out of its server. Refused with `pending_sync` while records wait to sync,
/// unless `discard_pending` is set.
pub async fn unenroll(
    State(s): State<AppState>,
    Args(a): Args<UnenrollArgs>,
) -> Result<Json<SyncStatus>, BridgeError> {
    if s.syncer().snapshot().running {
        return Err(busy());
    }
    let run = RunState::default();
    let discard = a.discard_pending;
    s.run(move |st| pending_allows_unenroll(st, discard))
        .await?;
    // The token is revoked on the server first, so the device can be enrolled for someone
    // else without the office revoking it; offline, the local sign-out still goes ahead.
    let mut opts = options();
    opts.timeout = Duration::from_secs(5);
    if let Err(e) = async { SyncClient::new(s.store(), opts)?.sign_out().await }.await {
        tracing::warn!(
            code = e.code(),
            "could not sign the device out on the server: {e}"
        );
    }
    let out = s
        .run(move |st| {
            pending_allows_unenroll(st, discard)?;
            st.unenroll()?;
            status_of(st, run)
        })
        .await?;
    s.syncer().update(|r| *r = RunState::default());
    Ok(Json(out))
}
