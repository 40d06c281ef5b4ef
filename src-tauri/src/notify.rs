//! Local notifications of missed deadlines (issue 18): the core decides which of the signed-in
//! person's cases became overdue since they were last told (`Store::take_overdue_notices`);
//! this module only shows them: on Android and iOS through tauri-plugin-notification; the
//! desktop build logs them (its people sit at the console, and Home shows the same counts).
//! Deadlines pass without a sync, so it runs on a timer.

use std::time::Duration;

use fieldcheck_core::OverdueNotice;
use tauri::{AppHandle, Runtime};

use crate::core::Core;

/// How often the phone looks for deadlines that passed (a minute late is fine).
pub const CHECK_EVERY: Duration = Duration::from_secs(60);
/// More overdue cases at once than this are summed up in one notice, not one each.
const SHOWN_ONE_BY_ONE: usize = 3;

/// Looks for newly overdue cases and notifies; errors are logged, never shown as failures
/// (a notification is a courtesy; Home shows the same counts).
pub async fn check<R: Runtime>(app: &AppHandle<R>, core: &Core) {
    let store = core.store();
    let notices = tauri::async_runtime::spawn_blocking(move || {
        let s = store.lock().unwrap_or_else(|p| p.into_inner());
        s.take_overdue_notices()
    })
    .await;
    match notices {
        Ok(Ok(notices)) => show(app, &notices),
        Ok(Err(e)) => tracing::warn!(error = %e, "overdue notices"),
        Err(e) => tracing::warn!(error = %e, "overdue notices task"),
    }
}

/// What the person is told: one notice per case, or one sum when there are many.
fn texts(notices: &[OverdueNotice]) -> Vec<(String, String)> {
    if notices.len() <= SHOWN_ONE_BY_ONE {
        return notices.iter().map(OverdueNotice::text).collect();
    }
    let codes: Vec<&str> = notices.iter().map(|n| n.code.as_str()).take(5).collect();
    vec![(
        format!("{} 条问题整改超期", notices.len()),
        format!("{} 等，请在台账中查看", codes.join("、")),
    )]
}

#[cfg(mobile)]
fn show<R: Runtime>(app: &AppHandle<R>, notices: &[OverdueNotice]) {
    use tauri_plugin_notification::{NotificationExt, PermissionState};
    if notices.is_empty() {
        return;
    }
    // Android 13+ asks the person once.
    let n = app.notification();
    if !matches!(n.permission_state(), Ok(PermissionState::Granted))
        && !matches!(n.request_permission(), Ok(PermissionState::Granted))
    {
        tracing::info!("notifications not permitted; overdue cases show on Home only");
        return;
    }
    for (title, body) in texts(notices) {
        tracing::info!(%title, "overdue notice");
        if let Err(e) = n.builder().title(&title).body(&body).show() {
            tracing::warn!(error = %e, %title, "could not show the notification");
        }
    }
}

#[cfg(not(mobile))]
fn show<R: Runtime>(_app: &AppHandle<R>, notices: &[OverdueNotice]) {
    for (title, body) in texts(notices) {
        tracing::info!(%title, %body, "overdue notice");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(code: &str) -> OverdueNotice {
        serde_json::from_value(serde_json::json!({
            "problem_id": "0191f3a2-0000-7000-8000-000000000001",
            "code": code,
            "description": "暴露垃圾",
            "address": "东街口",
            "deadline": "2026-12-03T08:00:00Z",
        }))
        .unwrap()
    }

    #[test]
    fn a_few_are_told_one_by_one_many_in_one_sum() {
        let few: Vec<_> = ["GL-1", "GL-2", "GL-3"].map(notice).into();
        let t = texts(&few);
        assert_eq!(t.len(), 3);
        assert_eq!(t[0].0, "整改超期：GL-1");
        assert!(t[0].1.contains("暴露垃圾") && t[0].1.contains("东街口"));
        let many: Vec<_> = (1..=7).map(|i| notice(&format!("GL-{i}"))).collect();
        let t = texts(&many);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].0, "7 条问题整改超期");
        assert!(t[0].1.starts_with("GL-1、GL-2、GL-3、GL-4、GL-5 等"));
    }
}
