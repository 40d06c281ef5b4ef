//! Scheduled bulletins (定期通报, issue 16): a console user sets "every week" or "every month"
//! and the server queues that period's bulletin (`console_reports`) as one of their export
//! jobs once the period has closed, at the hour they chose (city time) on its first day after.
//! The job runs in their scope as it is then, exactly like one they queue by hand, and waits
//! in their 导出 list until they download it.
//!
//! Each period is queued once, even with several instances on one database: the job's id is
//! derived from the schedule and the period's first day, so a second instance's insert of the
//! same job does nothing (`ON CONFLICT DO NOTHING`). A new schedule queues the newest closed
//! period at once, so the office sees its first bulletin without waiting a week.

use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use fieldcheck_domain::calendar::WorkCalendar;
use fieldcheck_protocol::ApiError;
use fieldcheck_protocol::console::exports::{
    ExportKind, ReportSchedule, ReportScheduleInput, ReportScheduleList, SchedulePeriod,
};
use fieldcheck_protocol::console::stats::RankingPeriod;
use sha2::{Digest, Sha256};
use utoipa::OpenApi;

use super::console::{ConsoleCaller, bad};
use super::console_exports::{ms_time, stmt};
use super::console_stats::{calendar, periods};
use super::{ApiJson, AppState, St, now_ms};
use crate::error::ServerError;
use crate::store::ledger::{Arg, Col, Value};

/// Schedules one person may have.
pub const MAX_SCHEDULES_PER_USER: i64 = 10;

/// This module's operations, merged into the API document (`openapi.rs`).
#[derive(OpenApi)]
#[openapi(
    paths(list, create, stop),
    components(schemas(
        ReportSchedule,
        ReportScheduleInput,
        ReportScheduleList,
        SchedulePeriod
    ))
)]
pub(super) struct Api;

/// This module's routes, under `/api/v1` behind the console's same-origin check.
pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/console/report-schedules", get(list).post(create))
        .route("/console/report-schedules/{id}/stop", post(stop))
}

const COLUMNS: &str = "id, owner, period, hour, created_at, last_from";
const TYPES: [Col; 6] = [
    Col::Text,
    Col::Text,
    Col::Text,
    Col::Int,
    Col::Int,
    Col::Text,
];

fn ranking_period(p: SchedulePeriod) -> RankingPeriod {
    match p {
        SchedulePeriod::Week => RankingPeriod::Week,
        SchedulePeriod::Month => RankingPeriod::Month,
    }
}

/// The newest period of `period` that has closed by `now` counting from `hour` o'clock (city
/// time) of the day after it, as its first day, and when the next one will be due.
pub fn due(
    period: SchedulePeriod,
    hour: u8,
    cal: &WorkCalendar,
    now: DateTime<Utc>,
) -> Option<(NaiveDate, DateTime<Utc>)> {
    let shifted = now - Duration::hours(i64::from(hour));
    let spans = periods(ranking_period(period), cal.local_day(shifted), None, 1)?;
    let (closed, current) = (spans.first()?, spans.get(1)?);
    Some((
        closed.start,
        cal.day_start(current.end) + Duration::hours(i64::from(hour)),
    ))
}

/// The export job a schedule makes for the period starting `from`: the same id on every
/// instance (a version-4-shaped UUID from a hash, so it passes as any job id).
fn job_id(schedule: &str, from: NaiveDate) -> String {
    let digest = Sha256::digest(format!("report-schedule/{schedule}/{from}"));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

struct Row {
    id: String,
    owner: String,
    period: SchedulePeriod,
    hour: u8,
    created_at: i64,
    last_from: Option<NaiveDate>,
}

fn row_of(v: &[Value]) -> Option<Row> {
    Some(Row {
        id: v[0].text()?.to_owned(),
        owner: v[1].text()?.to_owned(),
        period: match v[2].text()? {
            "week" => SchedulePeriod::Week,
            "month" => SchedulePeriod::Month,
            _ => return None,
        },
        hour: u8::try_from(v[3].int()).ok()?,
        created_at: v[4].int(),
        last_from: v[5].text().and_then(|s| s.parse().ok()),
    })
}

fn wire(r: &Row, cal: &WorkCalendar, now: DateTime<Utc>) -> ReportSchedule {
    let next_at = due(r.period, r.hour, cal, now)
        .map(|(from, next)| {
            // Not queued yet (the runner is about to): due now.
            if r.last_from.is_some_and(|l| l >= from) {
                next
            } else {
                now
            }
        })
        .unwrap_or(now);
    ReportSchedule {
        id: r.id.clone(),
        period: r.period,
        hour: r.hour,
        created_at: ms_time(r.created_at),
        last_from: r.last_from,
        next_at,
    }
}

async fn mine(state: &AppState, owner: &str) -> Result<Vec<Row>, ServerError> {
    let rows = state
        .store
        .select(&[stmt(
            format!(
                "SELECT {COLUMNS} FROM report_schedules WHERE owner = $1 \
                 ORDER BY created_at, id"
            ),
            vec![Arg::Text(owner.to_owned())],
            TYPES.to_vec(),
        )])
        .await?;
    Ok(rows[0].iter().filter_map(|r| row_of(r)).collect())
}

/// Your scheduled bulletins.
#[utoipa::path(
    get,
    path = "/api/v1/console/report-schedules",
    tag = "console",
    responses(
        (status = 200, description = "Your scheduled bulletins, oldest first", body = ReportScheduleList),
        (status = 401, description = "Not signed in (`not_signed_in`), session expired (`session_expired`), or the user disabled (`user_disabled`)", body = ApiError),
        (status = 403, description = "The user's role has no console (`no_console_access`)", body = ApiError),
    ),
    security(("console_session" = []))
)]
pub(super) async fn list(
    State(state): St,
    caller: ConsoleCaller,
) -> Result<Json<ReportScheduleList>, ServerError> {
    let refs = state.refs().await?;
    let cal = calendar(&refs);
    let now = Utc::now();
    Ok(Json(ReportScheduleList {
        schedules: mine(&state, &caller.user.id)
            .await?
            .iter()
            .map(|r| wire(r, &cal, now))
            .collect(),
    }))
}

/// Schedules a bulletin: each week (周通报, Monday to Sunday) or month (月通报) is queued as
/// one of your exports once it has closed, at `hour` o'clock city time the day after; the
/// newest closed period is queued at once.
#[utoipa::path(
    post,
    path = "/api/v1/console/report-schedules",
    tag = "console",
    request_body = ReportScheduleInput,
    responses(
        (status = 201, description = "Scheduled; the newest closed period's bulletin is queued", body = ReportSchedule),
        (status = 400, description = "Unknown `period`, `hour` not 0 to 23, a field that does not belong, or already 10 schedules (`malformed_request`, naming it)", body = ApiError),
        (status = 401, description = "Not signed in (`not_signed_in`), session expired (`session_expired`), or the user disabled (`user_disabled`)", body = ApiError),
        (status = 403, description = "Missing or wrong `X-CSRF-Token`, a request from another site (`csrf_rejected`), or a role without console (`no_console_access`)", body = ApiError),
    ),
    security(("console_session" = [], "console_csrf" = []))
)]
pub(super) async fn create(
    State(state): St,
    caller: ConsoleCaller,
    ApiJson(input): ApiJson<ReportScheduleInput>,
) -> Result<Response, ServerError> {
    if input.hour > 23 {
        return Err(bad(format!(
            "hour is the city's hour of the day, 0 to 23, not {}",
            input.hour
        )));
    }
    if mine(&state, &caller.user.id).await?.len() as i64 >= MAX_SCHEDULES_PER_USER {
        return Err(bad(format!(
            "you already have {MAX_SCHEDULES_PER_USER} scheduled bulletins; stop one first"
        )));
    }
    let id = uuid::Uuid::now_v7().to_string();
    let period = input.period.as_str().to_owned();
    let rows = state
        .store
        .write(&[stmt(
            format!(
                "INSERT INTO report_schedules (id, owner, period, hour, created_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
            ),
            vec![
                Arg::Text(id),
                Arg::Text(caller.user.id.clone()),
                Arg::Text(period),
                Arg::Int(i64::from(input.hour)),
                Arg::Int(now_ms()),
            ],
            TYPES.to_vec(),
        )])
        .await?;
    let row = rows[0]
        .first()
        .and_then(|r| row_of(r))
        .ok_or_else(|| ServerError::NotFound("the schedule just made".into()))?;
    let refs = state.refs().await?;
    let cal = calendar(&refs);
    let now = Utc::now();
    let queued = queue_due(&state, &row, &cal, now).await?;
    let row = Row {
        last_from: queued.or(row.last_from),
        ..row
    };
    Ok((StatusCode::CREATED, Json(wire(&row, &cal, now))).into_response())
}

/// Stops a scheduled bulletin (the bulletins it made stay in your exports).
#[utoipa::path(
    post,
    path = "/api/v1/console/report-schedules/{id}/stop",
    tag = "console",
    params(("id" = String, Path, description = "The schedule's id", format = Uuid)),
    responses(
        (status = 204, description = "Stopped"),
        (status = 401, description = "Not signed in (`not_signed_in`), session expired (`session_expired`), or the user disabled (`user_disabled`)", body = ApiError),
        (status = 403, description = "Missing or wrong `X-CSRF-Token`, a request from another site (`csrf_rejected`), or a role without console (`no_console_access`)", body = ApiError),
        (status = 404, description = "No such schedule of yours (`not_found`)", body = ApiError),
    ),
    security(("console_session" = [], "console_csrf" = []))
)]
pub(super) async fn stop(
    State(state): St,
    caller: ConsoleCaller,
    UrlPath(id): UrlPath<String>,
) -> Result<StatusCode, ServerError> {
    let rows = state
        .store
        .write(&[stmt(
            "DELETE FROM report_schedules WHERE id = $1 AND owner = $2 RETURNING id",
            vec![Arg::Text(id.clone()), Arg::Text(caller.user.id.clone())],
            vec![Col::Text],
        )])
        .await?;
    if rows[0].is_empty() {
        return Err(ServerError::NotFound(format!("report schedule {id}")));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Queues the schedule's newest closed period if it has not been queued yet; the period's
/// first day when it did.
async fn queue_due(
    state: &AppState,
    r: &Row,
    cal: &WorkCalendar,
    now: DateTime<Utc>,
) -> Result<Option<NaiveDate>, ServerError> {
    let Some((from, _)) = due(r.period, r.hour, cal, now) else {
        return Ok(None);
    };
    if r.last_from.is_some_and(|l| l >= from) {
        return Ok(None);
    }
    let params = serde_json::json!({
        "period": r.period.as_str(),
        "from": from.to_string(),
    });
    state
        .store
        .write(&[
            stmt(
                "INSERT INTO export_jobs (id, owner, kind, filter, state, created_at) \
                 VALUES ($1, $2, $3, $4, 'queued', $5) ON CONFLICT (id) DO NOTHING RETURNING id",
                vec![
                    Arg::Text(job_id(&r.id, from)),
                    Arg::Text(r.owner.clone()),
                    Arg::Text(ExportKind::Bulletin.as_str().to_owned()),
                    Arg::Text(params.to_string()),
                    Arg::Int(now_ms()),
                ],
                vec![Col::Text],
            ),
            stmt(
                "UPDATE report_schedules SET last_from = $1 WHERE id = $2 RETURNING id",
                vec![Arg::Text(from.to_string()), Arg::Text(r.id.clone())],
                vec![Col::Text],
            ),
        ])
        .await?;
    state.exports.wake.notify_one();
    Ok(Some(from))
}

/// Queues every schedule's due bulletin (the export runner calls this when idle). A schedule
/// whose owner is disabled or gone queues nothing.
pub(super) async fn queue_all_due(state: &AppState) -> Result<usize, ServerError> {
    let rows = state
        .store
        .select(&[stmt(
            format!("SELECT {COLUMNS} FROM report_schedules ORDER BY created_at, id"),
            Vec::new(),
            TYPES.to_vec(),
        )])
        .await?;
    let refs = state.refs().await?;
    let cal = calendar(&refs);
    let now = Utc::now();
    let mut queued = 0;
    for r in rows[0].iter().filter_map(|r| row_of(r)) {
        if due(r.period, r.hour, &cal, now).map(|(from, _)| from) <= r.last_from {
            continue;
        }
        let active = state
            .store
            .user(&r.owner)
            .await?
            .is_some_and(|u| u.active());
        if active && queue_due(state, &r, &cal, now).await?.is_some() {
            queued += 1;
        }
    }
    Ok(queued)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn cal() -> WorkCalendar {
        // The default calendar is China's (UTC+8).
        WorkCalendar::default()
    }

    #[test]
    fn a_week_is_due_from_the_chosen_hour_of_the_monday_after() {
        // Monday 2026-11-30, 07:59 Beijing time: with hour 8 the week of 11-16 is still the
        // newest closed one.
        let (from, next) =
            due(SchedulePeriod::Week, 8, &cal(), at("2026-11-29T23:59:00Z")).unwrap();
        assert_eq!(from.to_string(), "2026-11-16");
        assert_eq!(next, at("2026-11-30T00:00:00Z"));
        // 08:00: the week 11-23..11-29 is due; the next on Monday 12-07 at 08:00.
        let (from, next) =
            due(SchedulePeriod::Week, 8, &cal(), at("2026-11-30T00:00:00Z")).unwrap();
        assert_eq!(from.to_string(), "2026-11-23");
        assert_eq!(next, at("2026-12-07T00:00:00Z"));
    }

    #[test]
    fn a_month_is_due_on_the_first() {
        let (from, next) =
            due(SchedulePeriod::Month, 0, &cal(), at("2026-12-02T10:00:00Z")).unwrap();
        assert_eq!(from.to_string(), "2026-11-01");
        // 2027-01-01 00:00 Beijing time.
        assert_eq!(next, at("2026-12-31T16:00:00Z"));
        let (from, _) = due(SchedulePeriod::Month, 9, &cal(), at("2027-01-01T00:30:00Z")).unwrap();
        assert_eq!(
            from.to_string(),
            "2026-11-01",
            "08:30 on the 1st is before 09:00"
        );
    }

    #[test]
    fn job_ids_are_the_same_everywhere_and_differ_per_period() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(job_id("s1", d("2026-11-23")), job_id("s1", d("2026-11-23")));
        assert_ne!(job_id("s1", d("2026-11-23")), job_id("s1", d("2026-11-30")));
        assert_ne!(job_id("s1", d("2026-11-23")), job_id("s2", d("2026-11-23")));
        assert!(uuid::Uuid::parse_str(&job_id("s1", d("2026-11-23"))).is_ok());
    }
}
