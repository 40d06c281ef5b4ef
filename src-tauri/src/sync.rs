//! Background sync: on start, on resume (window focus on desktop), on the "sync now" command
//! (`sync_now`) and every [`SYNC_EVERY`] while the app is open.
//!
//! There is one sync runner, the bridge's (`sync_start` / `sync_status`, over the core's
//! `SyncClient` and the shared store), so the UI's sync screen, `enroll` and `unenroll` see app-
//! triggered runs exactly as their own. The app starts a run through `sync_start` and, while it
//! goes, forwards the runner's status to the webview as events: `sync://started`,
//! `sync://progress` (the `sync_status` answer: running totals, pending counts) and
//! `sync://finished` (a [`SyncOutcome`]). A device that is not enrolled does nothing and says so
//! (`status: "not_enrolled"`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};
use tauri::{AppHandle, Emitter, Runtime};

use crate::core::Core;
use crate::error::AppError;

/// How often an open app syncs on its own.
pub const SYNC_EVERY: Duration = Duration::from_secs(5 * 60);
/// Regaining focus syncs only when the last run is at least this old.
pub const FOCUS_MIN_GAP: Duration = Duration::from_secs(60);
/// How often a running sync's progress is forwarded.
const POLL: Duration = Duration::from_millis(250);

pub const EVENT_STARTED: &str = "sync://started";
pub const EVENT_PROGRESS: &str = "sync://progress";
pub const EVENT_FINISHED: &str = "sync://finished";

/// Why a run started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Start,
    Resume,
    Manual,
    Interval,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncStatus {
    Ok,
    NotEnrolled,
    Error,
}

/// The result of one run: the `sync_now` answer and the `sync://finished` payload.
#[derive(Debug, Clone, Serialize)]
pub struct SyncOutcome {
    pub trigger: Trigger,
    pub status: SyncStatus,
    /// Plain words for the sync screen (zh-CN).
    pub message: String,
    pub error: Option<AppError>,
    /// The runner's last `sync_status` answer (report, last success, pending counts).
    pub sync_status: Option<Value>,
}

#[derive(Clone, Serialize)]
struct Event<'a> {
    trigger: Trigger,
    #[serde(flatten)]
    status: &'a Value,
}

pub struct Syncer {
    core: Core,
    last_run: Mutex<Option<Instant>>,
}

impl Syncer {
    pub fn new(core: Core) -> Self {
        Syncer {
            core,
            last_run: Mutex::new(None),
        }
    }

    /// Whether the last run started at least `gap` ago (or none did).
    pub fn due(&self, gap: Duration) -> bool {
        self.last_run
            .lock()
            .map(|g| g.is_none_or(|t| t.elapsed() >= gap))
            .unwrap_or(true)
    }

    /// Starts a run (or joins the one going), forwards its progress, and returns how it ended.
    pub async fn run<R: Runtime>(&self, app: &AppHandle<R>, trigger: Trigger) -> SyncOutcome {
        if let Ok(mut t) = self.last_run.lock() {
            *t = Some(Instant::now());
        }
        let out = self.run_inner(app, trigger).await;
        let _ = app.emit(EVENT_FINISHED, &out);
        out
    }

    async fn run_inner<R: Runtime>(&self, app: &AppHandle<R>, trigger: Trigger) -> SyncOutcome {
        let mut status = match self.call("sync_start").await {
            Ok(s) => s,
            Err(e) if e.code == "not_enrolled" => {
                return outcome(
                    trigger,
                    SyncStatus::NotEnrolled,
                    "本设备尚未注册到服务器，未同步（记录已保存在本机）".into(),
                    Some(e),
                    None,
                );
            }
            Err(e) => return failed(trigger, e, None),
        };
        let _ = app.emit(
            EVENT_STARTED,
            Event {
                trigger,
                status: &status,
            },
        );
        while status["running"] == json!(true) {
            tokio::time::sleep(POLL).await;
            status = match self.call("sync_status").await {
                Ok(s) => s,
                Err(e) => return failed(trigger, e, None),
            };
            let _ = app.emit(
                EVENT_PROGRESS,
                Event {
                    trigger,
                    status: &status,
                },
            );
        }
        if let Some(e) = status
            .get("last_error")
            .filter(|e| !e.is_null())
            .and_then(|e| serde_json::from_value::<AppError>(e.clone()).ok())
        {
            return failed(trigger, e, Some(status));
        }
        let r = &status["last_report"];
        let message = format!(
            "同步完成：上传 {} 条，下载 {} 条，照片 {} 张",
            r["pushed"].as_u64().unwrap_or(0),
            r["events_pulled"].as_u64().unwrap_or(0),
            r["photos_uploaded"].as_u64().unwrap_or(0)
        );
        outcome(trigger, SyncStatus::Ok, message, None, Some(status))
    }

    async fn call(&self, command: &str) -> Result<Value, AppError> {
        let text = self.core.call(command, json!({})).await?;
        serde_json::from_str(&text).map_err(AppError::internal)
    }
}

fn failed(trigger: Trigger, e: AppError, status: Option<Value>) -> SyncOutcome {
    tracing::warn!(code = %e.code, "sync failed: {}", e.message);
    let message = format!("同步失败：{}", e.message);
    outcome(trigger, SyncStatus::Error, message, Some(e), status)
}

fn outcome(
    trigger: Trigger,
    status: SyncStatus,
    message: String,
    error: Option<AppError>,
    sync_status: Option<Value>,
) -> SyncOutcome {
    SyncOutcome {
        trigger,
        status,
        message,
        error,
        sync_status,
    }
}
