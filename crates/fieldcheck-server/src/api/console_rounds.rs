//! Evaluation rounds (模拟测评 / 四不两直, issue 18): the office draws a round of points
//! (`POST /console/rounds`), watches its progress and reads its results; an inspector's device
//! fetches the points assigned to it once their day has come (`GET /tasks`). Every rule — the
//! seeded draw, the assignment, which inspection counts, the roll-up and the comparison — is
//! `fieldcheck_domain::evaluation`; this module reads and writes the rows (migration 0019).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use fieldcheck_domain::calendar::WorkCalendar;
use fieldcheck_domain::evaluation::{
    self, Candidate, DrawSpec, Quota, RoundError, RoundPoint, RoundResults,
};
use fieldcheck_domain::inspection::{Inspection, InspectionStatus};
use fieldcheck_domain::reference::{DistrictLevel, PointType};
use fieldcheck_domain::role::Role;
use fieldcheck_domain::scope::{DistrictTree, Scope};
use fieldcheck_protocol::console::rounds::{
    InspectorProgress, RoundDetail, RoundInput, RoundList, RoundPointRow, RoundResultsView,
    RoundSummary,
};
use fieldcheck_protocol::tasks::{Task, TaskList};
use fieldcheck_protocol::{ApiError, ReferenceBundle};
use utoipa::OpenApi;
use uuid::Uuid;

use super::console::ConsoleCaller;
use super::console_cases::CaseError;
use super::console_setup::admin;
use super::{ApiJson, AppState, Caller, St, now_ms};
use crate::error::ServerError;
use crate::store::Store;
use crate::store::ledger::{Arg, Col, Select, Value};

/// Longest round name.
pub const MAX_NAME_CHARS: usize = 100;
/// Most rounds the list shows (newest first).
pub const MAX_LISTED: u32 = 200;
/// How many days back a device's task list reaches (today included).
pub const TASK_DAYS: u64 = 14;
/// Rows per multi-row insert.
const INSERT_CHUNK: usize = 100;

#[derive(OpenApi)]
#[openapi(
    paths(list, create, detail, results, tasks),
    components(schemas(
        RoundInput,
        RoundSummary,
        RoundList,
        RoundDetail,
        InspectorProgress,
        RoundPointRow,
        RoundResultsView,
        Quota,
        RoundResults,
        Task,
        TaskList
    ))
)]
pub(super) struct Api;

/// The console's routes, under `/api/v1` behind the console's same-origin check.
pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/console/rounds", get(list).post(create))
        .route("/console/rounds/{id}", get(detail))
        .route("/console/rounds/{id}/results", get(results))
}

/// The devices' route (bearer token), under `/api/v1`.
pub(super) fn device_routes() -> Router<Arc<AppState>> {
    Router::new().route("/tasks", get(tasks))
}

/// A draw the rules refuse, as the console's refusal: 422 when the request is well made but
/// the city cannot satisfy it, 400 otherwise.
fn refusal(e: RoundError) -> CaseError {
    let status = match e {
        RoundError::QuotaUnfilled { .. } | RoundError::NoInspectorFor { .. } => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        _ => StatusCode::BAD_REQUEST,
    };
    refused(status, e.code(), e.to_string())
}

type RoundsResult<T> = Result<T, CaseError>;

fn refused(status: StatusCode, code: &'static str, message: String) -> CaseError {
    CaseError::Refused {
        status,
        code,
        message,
    }
}

fn not_found(id: &str) -> CaseError {
    refused(
        StatusCode::NOT_FOUND,
        "unknown_round",
        format!("no round {id}"),
    )
}

fn stmt(sql: &str, args: Vec<Arg>, columns: &[Col]) -> Select {
    Select {
        sql: sql.to_owned(),
        args,
        columns: columns.to_vec(),
    }
}

fn corrupt(what: &str) -> ServerError {
    ServerError::Store(crate::error::StoreError::Corrupt(format!(
        "round data: {what}"
    )))
}

// ---------------------------------------------------------------------------------------------
// Rows

/// A stored round (without counts).
struct RoundRow {
    id: String,
    name: String,
    date: NaiveDate,
    seed: String,
    exclude_recent_days: u32,
    quotas: Vec<Quota>,
    inspectors: Vec<String>,
    reference_version: u64,
    created_by: String,
    created_at_ms: i64,
}

const ROUND_COLUMNS: &str = "id, name, round_date, seed, exclude_recent_days, quotas, inspectors, \
     reference_version, created_by, created_at";
const ROUND_TYPES: [Col; 10] = [
    Col::Text,
    Col::Text,
    Col::Text,
    Col::Text,
    Col::Int,
    Col::Text,
    Col::Text,
    Col::Int,
    Col::Text,
    Col::Int,
];

fn round_row(r: &[Value]) -> Result<RoundRow, ServerError> {
    let text = |i: usize| {
        r[i].text()
            .map(str::to_owned)
            .ok_or_else(|| corrupt("null"))
    };
    Ok(RoundRow {
        id: text(0)?,
        name: text(1)?,
        date: text(2)?.parse().map_err(|_| corrupt("round_date"))?,
        seed: text(3)?,
        exclude_recent_days: u32::try_from(r[4].int()).unwrap_or(0),
        quotas: serde_json::from_str(&text(5)?).map_err(|_| corrupt("quotas"))?,
        inspectors: serde_json::from_str(&text(6)?).map_err(|_| corrupt("inspectors"))?,
        reference_version: r[7].count(),
        created_by: text(8)?,
        created_at_ms: r[9].int(),
    })
}

/// A drawn point as stored.
struct PointRow {
    point_id: String,
    point_type: PointType,
    district_id: String,
    quota: u32,
    inspector: String,
}

async fn round_by_id(store: &dyn Store, id: &str) -> Result<Option<RoundRow>, ServerError> {
    let rows = store
        .select(&[stmt(
            &format!("SELECT {ROUND_COLUMNS} FROM rounds WHERE id = $1"),
            vec![Arg::Text(id.to_owned())],
            &ROUND_TYPES,
        )])
        .await?;
    rows[0].first().map(|r| round_row(r)).transpose()
}

async fn round_points(store: &dyn Store, id: &str) -> Result<Vec<PointRow>, ServerError> {
    let rows = store
        .select(&[stmt(
            "SELECT point_id, point_type, district_id, quota, inspector FROM round_points \
             WHERE round_id = $1 ORDER BY quota, draw_rank",
            vec![Arg::Text(id.to_owned())],
            &[Col::Text, Col::Text, Col::Text, Col::Int, Col::Text],
        )])
        .await?;
    rows[0]
        .iter()
        .map(|r| {
            Ok(PointRow {
                point_id: r[0].text().unwrap_or_default().to_owned(),
                point_type: serde_json::from_value(serde_json::Value::String(
                    r[1].text().unwrap_or_default().to_owned(),
                ))
                .map_err(|_| corrupt("point_type"))?,
                district_id: r[2].text().unwrap_or_default().to_owned(),
                quota: u32::try_from(r[3].int()).unwrap_or(0),
                inspector: r[4].text().unwrap_or_default().to_owned(),
            })
        })
        .collect()
}

/// The finished inspections at these points, by point.
async fn finished_inspections(
    store: &dyn Store,
    points: &[&str],
) -> Result<HashMap<String, Vec<Inspection>>, ServerError> {
    let mut out: HashMap<String, Vec<Inspection>> = HashMap::new();
    for chunk in points.chunks(500) {
        if chunk.is_empty() {
            continue;
        }
        let mut args = vec![Arg::Text(InspectionStatus::Finished.as_str().to_owned())];
        let ps: Vec<String> = chunk
            .iter()
            .map(|p| {
                args.push(Arg::Text((*p).to_owned()));
                format!("${}", args.len())
            })
            .collect();
        let rows = store
            .select(&[stmt(
                &format!(
                    "SELECT point_id, state FROM inspections WHERE status = $1 AND point_id IN ({})",
                    ps.join(", ")
                ),
                args,
                &[Col::Text, Col::Text],
            )])
            .await?;
        for r in &rows[0] {
            let i: Inspection = serde_json::from_str(r[1].text().unwrap_or_default())
                .map_err(|_| corrupt("inspection state"))?;
            out.entry(i.point_id.clone()).or_default().push(i);
        }
    }
    Ok(out)
}

/// The city's day of every point's last finished inspection.
async fn last_inspected(
    store: &dyn Store,
    calendar: &WorkCalendar,
) -> Result<HashMap<String, NaiveDate>, ServerError> {
    let rows = store
        .select(&[stmt(
            "SELECT point_id, state FROM inspections WHERE status = $1",
            vec![Arg::Text(InspectionStatus::Finished.as_str().to_owned())],
            &[Col::Text, Col::Text],
        )])
        .await?;
    let mut out: HashMap<String, NaiveDate> = HashMap::new();
    for r in &rows[0] {
        let i: Inspection = serde_json::from_str(r[1].text().unwrap_or_default())
            .map_err(|_| corrupt("inspection state"))?;
        let day = calendar.local_day(i.finished_at.unwrap_or(i.started_at));
        let e = out.entry(i.point_id).or_insert(day);
        *e = (*e).max(day);
    }
    Ok(out)
}

/// The start of the day of the first round dated after `date`, if any: where a round's window
/// for its inspections ends.
async fn next_round_start(
    store: &dyn Store,
    date: NaiveDate,
    calendar: &WorkCalendar,
) -> Result<Option<DateTime<Utc>>, ServerError> {
    let rows = store
        .select(&[stmt(
            "SELECT MIN(round_date) FROM rounds WHERE round_date > $1",
            vec![Arg::Text(date.to_string())],
            &[Col::Text],
        )])
        .await?;
    Ok(rows[0]
        .first()
        .and_then(|r| r[0].text())
        .and_then(|d| d.parse::<NaiveDate>().ok())
        .map(|d| calendar.day_start(d)))
}

/// A round's points, each with the inspection that counts for it.
struct Progress {
    points: Vec<PointRow>,
    inspections: HashMap<String, Inspection>,
}

async fn progress(
    store: &dyn Store,
    round: &RoundRow,
    calendar: &WorkCalendar,
) -> Result<Progress, ServerError> {
    let points = round_points(store, &round.id).await?;
    let ids: Vec<&str> = points.iter().map(|p| p.point_id.as_str()).collect();
    let found = finished_inspections(store, &ids).await?;
    let from = calendar.day_start(round.date);
    let until = next_round_start(store, round.date, calendar).await?;
    let inspections = found
        .iter()
        .filter_map(|(p, list)| {
            evaluation::round_inspection(list, from, until).map(|i| (p.clone(), i.clone()))
        })
        .collect();
    Ok(Progress {
        points,
        inspections,
    })
}

fn summary(round: &RoundRow, p: &Progress) -> RoundSummary {
    RoundSummary {
        id: round.id.clone(),
        name: round.name.clone(),
        date: round.date,
        seed: round.seed.clone(),
        exclude_recent_days: round.exclude_recent_days,
        quotas: round.quotas.clone(),
        inspectors: round.inspectors.clone(),
        created_by: round.created_by.clone(),
        created_at_ms: round.created_at_ms,
        reference_version: round.reference_version,
        points_total: p.points.len() as u32,
        points_done: p
            .points
            .iter()
            .filter(|x| p.inspections.contains_key(&x.point_id))
            .count() as u32,
    }
}

/// The district a result groups a point under: the 区/县 above its own district (or the
/// top of its chain).
fn grouping_district(refs: &ReferenceBundle, id: &str) -> String {
    let by_id: HashMap<&str, _> = refs.districts.iter().map(|d| (d.id.as_str(), d)).collect();
    let mut cur = id;
    for _ in 0..16 {
        match by_id.get(cur) {
            Some(d) if d.level == DistrictLevel::District => return d.id.clone(),
            Some(d) => match &d.parent_id {
                Some(p) => cur = p,
                None => return d.id.clone(),
            },
            None => return cur.to_owned(),
        }
    }
    cur.to_owned()
}

fn roll_up(refs: &ReferenceBundle, p: &Progress) -> RoundResults {
    let points: Vec<RoundPoint> = p
        .points
        .iter()
        .map(|x| RoundPoint {
            point_id: x.point_id.clone(),
            point_type: x.point_type,
            district_id: grouping_district(refs, &x.district_id),
            inspection: p.inspections.get(&x.point_id),
        })
        .collect();
    evaluation::roll_up(&points, &refs.templates)
}

// ---------------------------------------------------------------------------------------------
// Handlers

#[utoipa::path(
    get,
    path = "/api/v1/console/rounds",
    tag = "console",
    responses(
        (status = 200, description = "The rounds, newest date first (at most 200), with their progress", body = RoundList),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Not the office (an admin) (`forbidden`)", body = ApiError),
    ),
    security(("console_session" = []))
)]
pub(super) async fn list(State(state): St, caller: ConsoleCaller) -> RoundsResult<Json<RoundList>> {
    admin(&caller)?;
    let refs = state.refs().await?;
    let calendar = refs.calendar.clone().unwrap_or_default();
    let rows = state
        .store
        .select(&[stmt(
            &format!(
                "SELECT {ROUND_COLUMNS} FROM rounds ORDER BY round_date DESC, created_at DESC, id \
                 LIMIT {MAX_LISTED}"
            ),
            vec![],
            &ROUND_TYPES,
        )])
        .await?;
    let mut rounds = Vec::new();
    for r in &rows[0] {
        let round = round_row(r)?;
        let p = progress(state.store.as_ref(), &round, &calendar).await?;
        rounds.push(summary(&round, &p));
    }
    Ok(Json(RoundList { rounds }))
}

#[utoipa::path(
    post,
    path = "/api/v1/console/rounds",
    tag = "console",
    request_body = RoundInput,
    responses(
        (status = 200, description = "Drawn and stored: the points are assigned; each inspector's device gets its points from the round's date on", body = RoundSummary),
        (status = 400, description = "A bad body (`malformed_request`), name (`invalid_round`), seed (`invalid_seed`), no quota (`empty_round`), a quota twice (`duplicate_quota`), an unknown district (`unknown_district`), over 2,000 points (`too_many_points`), no inspector (`no_inspectors`) or one who is not an inspector (`unknown_inspector`)", body = ApiError),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Not the office (an admin), no CSRF token, another site", body = ApiError),
        (status = 422, description = "A quota asks for more points than can be drawn (`quota_unfilled`, naming it and how many there are), or a drawn point lies outside every chosen inspector's districts (`no_inspector_for_point`); nothing stored", body = ApiError),
    ),
    security(("console_session" = [], "console_csrf" = []))
)]
pub(super) async fn create(
    State(state): St,
    caller: ConsoleCaller,
    ApiJson(input): ApiJson<RoundInput>,
) -> RoundsResult<Json<RoundSummary>> {
    admin(&caller)?;
    let name = input.name.trim().to_owned();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "invalid_round",
            format!("a round's name must be 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    let seed = input
        .seed
        .clone()
        .unwrap_or_else(|| Uuid::new_v4().simple().to_string());
    let version = state.store.reference_version().await?;
    let refs = state.refs().await?;
    let calendar = refs.calendar.clone().unwrap_or_default();
    let tree = DistrictTree::new(&refs.districts);
    let mut inspectors = input.inspectors.clone();
    inspectors.sort();
    inspectors.dedup();
    if inspectors.is_empty() {
        return Err(refusal(RoundError::NoInspectors));
    }
    for id in &inspectors {
        let ok = refs
            .users
            .iter()
            .any(|u| &u.id == id && u.role == Role::Inspector);
        let active = match state.store.user(id).await? {
            Some(u) => u.active(),
            None => false,
        };
        if !ok || !active {
            return Err(refused(
                StatusCode::BAD_REQUEST,
                "unknown_inspector",
                format!("{id} is not an active inspector"),
            ));
        }
    }
    let spec = DrawSpec {
        seed: &seed,
        quotas: &input.quotas,
        date: input.date,
        exclude_recent_days: input.exclude_recent_days.unwrap_or(0),
    };
    // Malformed quotas are refused before the inspections are read.
    evaluation::check_spec(&spec, &tree).map_err(refusal)?;
    let last = last_inspected(state.store.as_ref(), &calendar).await?;
    let candidates: Vec<Candidate> = refs
        .points
        .iter()
        .filter(|p| p.active)
        .map(|p| Candidate {
            point_id: p.id.clone(),
            point_type: p.point_type,
            district_id: p.district_id.clone(),
            last_inspected: last.get(&p.id).copied(),
        })
        .collect();
    let drawn = evaluation::draw(&candidates, &tree, &spec).map_err(refusal)?;
    let scopes: Vec<Scope> = refs
        .users
        .iter()
        .filter(|u| inspectors.contains(&u.id))
        .map(|u| Scope::of(u, &tree))
        .collect();
    let assigned: HashMap<String, String> = evaluation::assign(&drawn, &scopes)
        .map_err(refusal)?
        .into_iter()
        .collect();

    let id = Uuid::now_v7().to_string();
    let now = now_ms();
    let round = RoundRow {
        id: id.clone(),
        name,
        date: input.date,
        seed: seed.clone(),
        exclude_recent_days: spec.exclude_recent_days,
        quotas: input.quotas.clone(),
        inspectors: inspectors.clone(),
        reference_version: version,
        created_by: caller.user.id.clone(),
        created_at_ms: now,
    };
    let mut statements = vec![stmt(
        &format!(
            "INSERT INTO rounds ({ROUND_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ),
        vec![
            Arg::Text(round.id.clone()),
            Arg::Text(round.name.clone()),
            Arg::Text(round.date.to_string()),
            Arg::Text(round.seed.clone()),
            Arg::Int(i64::from(round.exclude_recent_days)),
            Arg::Text(serde_json::to_string(&round.quotas).map_err(|_| corrupt("quotas"))?),
            Arg::Text(serde_json::to_string(&round.inspectors).map_err(|_| corrupt("inspectors"))?),
            Arg::Int(i64::try_from(version).unwrap_or(i64::MAX)),
            Arg::Text(round.created_by.clone()),
            Arg::Int(now),
        ],
        &[],
    )];
    for (c, chunk) in drawn.chunks(INSERT_CHUNK).enumerate() {
        let mut args = Vec::new();
        let mut values = Vec::new();
        for (k, d) in chunk.iter().enumerate() {
            let base = args.len();
            args.extend([
                Arg::Text(id.clone()),
                Arg::Text(d.point_id.clone()),
                Arg::Text(d.point_type.as_str().to_owned()),
                Arg::Text(d.district_id.clone()),
                Arg::Int(d.quota as i64),
                Arg::Int((c * INSERT_CHUNK + k) as i64),
                Arg::Text(assigned.get(&d.point_id).cloned().unwrap_or_default()),
                Arg::Text(round.date.to_string()),
            ]);
            values.push(format!(
                "({})",
                (1..=8)
                    .map(|i| format!("${}", base + i))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        statements.push(stmt(
            &format!(
                "INSERT INTO round_points (round_id, point_id, point_type, district_id, quota, \
                 draw_rank, inspector, round_date) VALUES {}",
                values.join(", ")
            ),
            args,
            &[],
        ));
    }
    state.store.write(&statements).await?;
    let p = progress(state.store.as_ref(), &round, &calendar).await?;
    Ok(Json(summary(&round, &p)))
}

#[utoipa::path(
    get,
    path = "/api/v1/console/rounds/{id}",
    tag = "console",
    params(("id" = String, Path, description = "The round's id")),
    responses(
        (status = 200, description = "The round, its points with their inspectors and scores, and each inspector's points done of total", body = RoundDetail),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Not the office (an admin) (`forbidden`)", body = ApiError),
        (status = 404, description = "No such round (`unknown_round`)", body = ApiError),
    ),
    security(("console_session" = []))
)]
pub(super) async fn detail(
    State(state): St,
    caller: ConsoleCaller,
    Path(id): Path<String>,
) -> RoundsResult<Json<RoundDetail>> {
    admin(&caller)?;
    let round = round_by_id(state.store.as_ref(), &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    let refs = state.refs().await?;
    let calendar = refs.calendar.clone().unwrap_or_default();
    let p = progress(state.store.as_ref(), &round, &calendar).await?;
    let mut per: BTreeMap<String, (u32, u32)> = round
        .inspectors
        .iter()
        .map(|i| (i.clone(), (0, 0)))
        .collect();
    let points = p
        .points
        .iter()
        .map(|x| {
            let done = p.inspections.get(&x.point_id);
            let e = per.entry(x.inspector.clone()).or_default();
            e.1 += 1;
            if done.is_some() {
                e.0 += 1;
            }
            RoundPointRow {
                point_id: x.point_id.clone(),
                point_name: refs
                    .points
                    .iter()
                    .find(|q| q.id == x.point_id)
                    .map(|q| q.name.clone())
                    .unwrap_or_default(),
                point_type: x.point_type,
                district_id: x.district_id.clone(),
                inspector: x.inspector.clone(),
                quota: x.quota,
                done: done.is_some(),
                percent: done.map(|i| i.score.percent),
            }
        })
        .collect();
    let progress = per
        .into_iter()
        .map(|(inspector, (done, total))| InspectorProgress {
            name: refs
                .users
                .iter()
                .find(|u| u.id == inspector)
                .map(|u| u.name.clone())
                .unwrap_or_default(),
            inspector,
            done,
            total,
        })
        .collect();
    Ok(Json(RoundDetail {
        round: summary(&round, &p),
        progress,
        points,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/console/rounds/{id}/results",
    tag = "console",
    params(("id" = String, Path, description = "The round's id")),
    responses(
        (status = 200, description = "The round rolled up (score per point, point type and district, standards, observations, failing items ranked) and compared with the round dated before it", body = RoundResultsView),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Not the office (an admin) (`forbidden`)", body = ApiError),
        (status = 404, description = "No such round (`unknown_round`)", body = ApiError),
    ),
    security(("console_session" = []))
)]
pub(super) async fn results(
    State(state): St,
    caller: ConsoleCaller,
    Path(id): Path<String>,
) -> RoundsResult<Json<RoundResultsView>> {
    admin(&caller)?;
    let store = state.store.as_ref();
    let round = round_by_id(store, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    let refs = state.refs().await?;
    let calendar = refs.calendar.clone().unwrap_or_default();
    let p = progress(store, &round, &calendar).await?;
    let now = roll_up(&refs, &p);
    let prev_rows = store
        .select(&[stmt(
            &format!(
                "SELECT {ROUND_COLUMNS} FROM rounds WHERE round_date < $1 \
                 ORDER BY round_date DESC, created_at DESC, id LIMIT 1"
            ),
            vec![Arg::Text(round.date.to_string())],
            &ROUND_TYPES,
        )])
        .await?;
    let (previous, comparison) = match prev_rows[0].first() {
        Some(r) => {
            let prev = round_row(r)?;
            let pp = progress(store, &prev, &calendar).await?;
            let before = roll_up(&refs, &pp);
            (
                Some(summary(&prev, &pp)),
                Some(evaluation::compare(&now, &before)),
            )
        }
        None => (None, None),
    };
    Ok(Json(RoundResultsView {
        round: summary(&round, &p),
        results: now,
        previous,
        comparison,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/tasks",
    tag = "sync",
    responses(
        (status = 200, description = "The caller's round points whose day has come (the city's calendar), from the last 14 days; never a point of a round dated later", body = TaskList),
        (status = 401, description = "Missing, unknown, expired or revoked token", body = ApiError),
        (status = 403, description = "Not an inspector (`forbidden`)", body = ApiError),
    ),
    security(("bearer" = []))
)]
pub(super) async fn tasks(State(state): St, caller: Caller) -> RoundsResult<Json<TaskList>> {
    if caller.user.role != Role::Inspector {
        return Err(ServerError::Forbidden(format!(
            "tasks are an inspector's; you are {}",
            caller.user.role.as_str()
        ))
        .into());
    }
    let refs = state.refs().await?;
    let calendar = refs.calendar.clone().unwrap_or_default();
    let today = calendar.local_day(Utc::now());
    let first = today - chrono::Days::new(TASK_DAYS - 1);
    let rows = state
        .store
        .select(&[stmt(
            "SELECT rp.round_id, r.name, rp.round_date, rp.point_id FROM round_points rp \
             JOIN rounds r ON r.id = rp.round_id \
             WHERE rp.inspector = $1 AND rp.round_date <= $2 AND rp.round_date >= $3 \
             ORDER BY rp.round_date, rp.round_id, rp.quota, rp.draw_rank",
            vec![
                Arg::Text(caller.user.id.clone()),
                Arg::Text(today.to_string()),
                Arg::Text(first.to_string()),
            ],
            &[Col::Text, Col::Text, Col::Text, Col::Text],
        )])
        .await?;
    let ids: Vec<&str> = rows[0].iter().filter_map(|r| r[3].text()).collect();
    let found = finished_inspections(state.store.as_ref(), &ids).await?;
    let mut tasks = Vec::new();
    for r in &rows[0] {
        let date: NaiveDate = r[2]
            .text()
            .unwrap_or_default()
            .parse()
            .map_err(|_| corrupt("round_date"))?;
        // The rule, not only the SQL: nothing of a round before its day.
        if !evaluation::visible_on(date, today) {
            continue;
        }
        let point_id = r[3].text().unwrap_or_default();
        let Some(point) = refs.points.iter().find(|p| p.id == point_id) else {
            continue;
        };
        let done = found.get(point_id).is_some_and(|list| {
            evaluation::round_inspection(list, calendar.day_start(date), None).is_some()
        });
        tasks.push(Task {
            round_id: r[0].text().unwrap_or_default().to_owned(),
            round_name: r[1].text().unwrap_or_default().to_owned(),
            date,
            point_id: point.id.clone(),
            point_name: point.name.clone(),
            point_type: point.point_type,
            location: point.location,
            address: point.address.clone(),
            done,
        });
    }
    Ok(Json(TaskList { today, tasks }))
}
