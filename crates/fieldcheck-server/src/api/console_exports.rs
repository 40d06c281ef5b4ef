//! The console's exports (issue 16): the filtered ledger as XLSX (问题台账, photos in their
//! cells), CSV, GeoJSON or a ZIP of photos, written by background jobs.
//!
//! `POST /console/exports {kind, filter}` checks the filter exactly as the ledger does
//! (`console::ledger_filter`; the same query fields, `limit`/`offset` ignored) and queues a
//! job (`export_jobs`, migration 0010); one runner task runs the jobs one at a time, so an
//! export never takes more than one core from the devices' sync. A job pages through the
//! ledger in the owner's scope *as it is when the job runs* (keyset pages of [`PAGE`] rows in
//! the ledger's own order, each page one statement), hands each page to the writer on a
//! blocking thread (`fieldcheck-export`) and notes its progress. The file is written under
//! `export_dir` as `<job id>.<ext>` (first as `.part`, renamed when complete) and downloaded by
//! its owner or an admin with its Chinese name (RFC 5987).
//!
//! `fieldcheck-server export` ([`export_to_file`]) runs the same code for a whole city.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use fieldcheck_domain::problem::{Problem, ProblemStatus};
use fieldcheck_domain::role::Role;
use fieldcheck_domain::scope::{DistrictTree, Scope};
use fieldcheck_export::{ExportError, ExportRow, PhotoRef, PhotoSource, TimeFormat};
use fieldcheck_protocol::console::exports::{
    ExportJob, ExportJobList, ExportKind, ExportRequest, ExportState,
};
use fieldcheck_protocol::{ApiError, ReferenceBundle};
use utoipa::OpenApi;

use super::console::{ConsoleCaller, ProblemsQuery, bad, ledger_filter, row};
use super::{ApiJson, AppState, St, now_ms};
use crate::blobs::BlobStore;
use crate::error::ServerError;
use crate::store::Store;
use crate::store::ledger::{self, Arg, Col, LedgerFilter, LedgerRow, LedgerSort, Select, Value};

/// Rows per ledger page a job reads.
pub const PAGE: u32 = 500;
/// Unfinished (queued or running) exports one person may have at once.
pub const MAX_PENDING_PER_USER: i64 = 3;
/// Jobs the list shows.
const LISTED: i64 = 50;

/// This module's operations, merged into the API document (`openapi.rs`).
#[derive(OpenApi)]
#[openapi(
    paths(create, list, file),
    components(schemas(ExportRequest, ExportJob, ExportJobList, ExportKind, ExportState))
)]
pub(super) struct Api;

/// This module's routes, under `/api/v1` behind the console's same-origin check.
pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/console/exports", get(list).post(create))
        .route("/console/exports/{id}/file", get(file))
}

/// The runner's wake-up call (a job was queued), and the reports' fonts once found.
#[derive(Default)]
pub struct ExportsState {
    pub(super) wake: tokio::sync::Notify,
    pub(super) fonts: tokio::sync::OnceCell<Arc<fieldcheck_report::Fonts>>,
}

/// The filter as the ledger's query type, with paging left out; a wrong field is a 400 naming
/// it, like the ledger's.
pub(super) fn parse_filter(
    filter: Option<&serde_json::Value>,
) -> Result<ProblemsQuery, ServerError> {
    let mut map = match filter {
        None | Some(serde_json::Value::Null) => serde_json::Map::new(),
        Some(serde_json::Value::Object(m)) => m.clone(),
        Some(other) => {
            return Err(bad(format!(
                "filter must be an object of the ledger's query fields, not {other}"
            )));
        }
    };
    map.remove("limit");
    map.remove("offset");
    serde_path_to_error::deserialize(serde_json::Value::Object(map))
        .map_err(|e| bad(format!("filter.{}: {}", e.path(), e.inner())))
}

pub(super) fn ms_time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

const JOB_COLUMNS: &str = "id, owner, kind, filter, state, rows_done, rows_total, error, \
    file_name, bytes, created_at, started_at, finished_at";
const JOB_TYPES: [Col; 13] = [
    Col::Text,
    Col::Text,
    Col::Text,
    Col::Text,
    Col::Text,
    Col::Int,
    Col::Int,
    Col::Text,
    Col::Text,
    Col::Int,
    Col::Int,
    Col::Int,
    Col::Int,
];

/// A job row.
#[derive(Debug, Clone)]
struct JobRow {
    id: String,
    owner: String,
    kind: ExportKind,
    filter: String,
    job: ExportJob,
}

fn job_row(v: &[Value]) -> Option<JobRow> {
    let kind = ExportKind::parse(v[2].text()?)?;
    let id = v[0].text()?.to_owned();
    let state = ExportState::parse(v[4].text()?)?;
    let done = state == ExportState::Done;
    Some(JobRow {
        id: id.clone(),
        owner: v[1].text()?.to_owned(),
        kind,
        filter: v[3].text()?.to_owned(),
        job: ExportJob {
            download_url: done.then(|| format!("/api/v1/console/exports/{id}/file")),
            id,
            kind,
            state,
            rows_done: v[5].count(),
            rows_total: v[6].opt_int().map(|n| n.max(0) as u64),
            error: v[7].text().map(str::to_owned),
            file_name: v[8].text().map(str::to_owned),
            bytes: v[9].opt_int().map(|n| n.max(0) as u64),
            created_at: ms_time(v[10].int()),
            started_at: v[11].opt_int().map(ms_time),
            finished_at: v[12].opt_int().map(ms_time),
        },
    })
}

pub(super) use crate::store::ledger::stmt;

async fn job_by_id(store: &dyn Store, id: &str) -> Result<Option<JobRow>, ServerError> {
    let rows = store
        .select(&[stmt(
            format!("SELECT {JOB_COLUMNS} FROM export_jobs WHERE id = $1"),
            vec![Arg::Text(id.to_owned())],
            JOB_TYPES.to_vec(),
        )])
        .await?;
    Ok(rows[0].first().and_then(|r| job_row(r)))
}

/// Queues an export of the ledger as the console shows it now (its filter), in your scope.
#[utoipa::path(
    post,
    path = "/api/v1/console/exports",
    tag = "console",
    request_body = ExportRequest,
    responses(
        (status = 202, description = "Queued: the job (poll `GET /api/v1/console/exports`)", body = ExportJob),
        (status = 400, description = "Unknown `kind`, a wrong filter field or value, `ids`/`period`/`from`/`to` for a kind that does not take them, more than 500 `ids`, a bad period (as the ranking's) (`malformed_request`, naming it), or already 3 exports waiting", body = ApiError),
        (status = 401, description = "Not signed in (`not_signed_in`), session expired (`session_expired`), or the user disabled (`user_disabled`)", body = ApiError),
        (status = 403, description = "Missing or wrong `X-CSRF-Token`, a request from another site (`csrf_rejected`), or a role without console (`no_console_access`)", body = ApiError),
    ),
    security(("console_session" = [], "console_csrf" = []))
)]
pub(super) async fn create(
    State(state): St,
    caller: ConsoleCaller,
    ApiJson(req): ApiJson<ExportRequest>,
) -> Result<Response, ServerError> {
    let refs = state.refs().await?;
    let tree = DistrictTree::new(&refs.districts);
    // Checked now, so a wrong request is answered at once; resolved again when the job runs.
    let filter = if req.kind.is_report() {
        super::console_reports::check(&req, &refs, &tree)?
    } else {
        if req.ids.is_some() || req.period.is_some() || req.from.is_some() || req.to.is_some() {
            return Err(bad(format!(
                "ids, period, from and to are for the PDF reports (case_sheets, bulletin); \
                 a {} export takes only the ledger's filter",
                req.kind.as_str()
            )));
        }
        let q = parse_filter(req.filter.as_ref())?;
        ledger_filter(q, &refs, &tree, now_ms())?;
        serde_json::to_string(&req.filter.unwrap_or(serde_json::Value::Null))
            .map_err(|e| bad(e.to_string()))?
    };
    let pending = state
        .store
        .select(&[stmt(
            "SELECT count(*) FROM export_jobs WHERE owner = $1 AND state IN ('queued', 'running')",
            vec![Arg::Text(caller.user.id.clone())],
            vec![Col::Int],
        )])
        .await?;
    if pending[0].first().map(|r| r[0].int()).unwrap_or(0) >= MAX_PENDING_PER_USER {
        return Err(bad(format!(
            "you already have {MAX_PENDING_PER_USER} exports waiting; download or wait for one \
             of them first"
        )));
    }
    let id = uuid::Uuid::now_v7().to_string();
    let rows = state
        .store
        .write(&[stmt(
            format!(
                "INSERT INTO export_jobs (id, owner, kind, filter, state, created_at) \
                 VALUES ($1, $2, $3, $4, 'queued', $5) RETURNING {JOB_COLUMNS}"
            ),
            vec![
                Arg::Text(id),
                Arg::Text(caller.user.id.clone()),
                Arg::Text(req.kind.as_str().to_owned()),
                Arg::Text(filter),
                Arg::Int(now_ms()),
            ],
            JOB_TYPES.to_vec(),
        )])
        .await?;
    let job = rows[0]
        .first()
        .and_then(|r| job_row(r))
        .ok_or_else(|| ServerError::NotFound("the export just queued".into()))?;
    state.exports.wake.notify_one();
    Ok((StatusCode::ACCEPTED, axum::Json(job.job)).into_response())
}

/// Your exports, newest first, with their progress.
#[utoipa::path(
    get,
    path = "/api/v1/console/exports",
    tag = "console",
    responses(
        (status = 200, description = "Your export jobs (the newest 50)", body = ExportJobList),
        (status = 401, description = "Not signed in (`not_signed_in`), session expired (`session_expired`), or the user disabled (`user_disabled`)", body = ApiError),
        (status = 403, description = "The user's role has no console (`no_console_access`)", body = ApiError),
    ),
    security(("console_session" = []))
)]
pub(super) async fn list(
    State(state): St,
    caller: ConsoleCaller,
) -> Result<axum::Json<ExportJobList>, ServerError> {
    let rows = state
        .store
        .select(&[stmt(
            format!(
                "SELECT {JOB_COLUMNS} FROM export_jobs WHERE owner = $1 \
                 ORDER BY created_at DESC, id DESC LIMIT {LISTED}"
            ),
            vec![Arg::Text(caller.user.id.clone())],
            JOB_TYPES.to_vec(),
        )])
        .await?;
    Ok(axum::Json(ExportJobList {
        jobs: rows[0]
            .iter()
            .filter_map(|r| job_row(r))
            .map(|j| j.job)
            .collect(),
    }))
}

/// `filename*` of a Content-Disposition (RFC 5987/6266): UTF-8, percent-encoded; plus an
/// ASCII `filename` for old clients.
pub(super) fn content_disposition(name: &str, ascii_fallback: &str) -> String {
    let mut enc = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            enc.push(b as char);
        } else {
            enc.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii_fallback}\"; filename*=UTF-8''{enc}")
}

/// Downloads a finished export: its owner or an admin.
#[utoipa::path(
    get,
    path = "/api/v1/console/exports/{id}/file",
    tag = "console",
    params(("id" = String, Path, description = "The export job's id", format = Uuid)),
    responses(
        (status = 200, description = "The file, `Content-Disposition: attachment` with its Chinese name (RFC 5987)", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 400, description = "The id is not a UUID (`malformed_request`)", body = ApiError),
        (status = 401, description = "Not signed in (`not_signed_in`), session expired (`session_expired`), or the user disabled (`user_disabled`)", body = ApiError),
        (status = 403, description = "The user's role has no console (`no_console_access`)", body = ApiError),
        (status = 404, description = "No such export, not yours (`not_found` either way), or not finished (`export_not_ready`)", body = ApiError),
    ),
    security(("console_session" = []))
)]
pub(super) async fn file(
    State(state): St,
    caller: ConsoleCaller,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, ServerError> {
    let id = uuid::Uuid::parse_str(&id)
        .map_err(|_| bad(format!("export id {id:?} is not a UUID")))?
        .to_string();
    let missing = || ServerError::NotFound(format!("export {id} (or it is not yours)"));
    let job = job_by_id(state.store.as_ref(), &id)
        .await?
        .ok_or_else(missing)?;
    if job.owner != caller.user.id && caller.user.role != Role::Admin {
        return Err(missing());
    }
    if job.job.state != ExportState::Done {
        let body = ApiError {
            code: "export_not_ready".into(),
            message: format!("export {id} is {}", job.job.state.as_str()),
        };
        return Ok((StatusCode::NOT_FOUND, axum::Json(body)).into_response());
    }
    let path = file_path(&state.config.export_dir(), &id, job.kind);
    let f = tokio::fs::File::open(&path).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            missing()
        } else {
            e.into()
        }
    })?;
    let len = f.metadata().await?.len();
    let name = job
        .job
        .file_name
        .clone()
        .unwrap_or_else(|| format!("export.{}", fieldcheck_export::extension(job.kind)));
    let ascii = format!("export-{id}.{}", fieldcheck_export::extension(job.kind));
    let mut r = Response::new(Body::from_stream(tokio_util::io::ReaderStream::new(f)));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(fieldcheck_export::content_type(job.kind)),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if let Ok(v) = HeaderValue::from_str(&content_disposition(&name, &ascii)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(r)
}

fn file_path(dir: &Path, id: &str, kind: ExportKind) -> PathBuf {
    dir.join(format!("{id}.{}", fieldcheck_export::extension(kind)))
}

/// Runs queued export jobs one after another, for as long as the server runs. Jobs left
/// running by a stop are queued again first.
pub async fn run_jobs(state: Arc<AppState>) {
    let requeue = stmt(
        "UPDATE export_jobs SET state = 'queued', rows_done = 0 WHERE state = 'running' \
         RETURNING id",
        vec![],
        vec![Col::Text],
    );
    if let Err(e) = state.store.write(&[requeue]).await {
        tracing::warn!(error = %e, "exports: cannot requeue interrupted jobs");
    }
    loop {
        match claim_next(state.store.as_ref()).await {
            Ok(Some(job)) => {
                let id = job.id.clone();
                let result = run_job(&state, &job).await;
                finish_job(state.store.as_ref(), &id, result).await;
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "exports: cannot read the job queue"),
        }
        // Idle: queue the scheduled bulletins whose period has closed (each runs next round).
        match super::console_schedules::queue_all_due(&state).await {
            Ok(0) => {}
            Ok(_) => continue,
            Err(e) => tracing::warn!(error = %e, "exports: cannot queue scheduled bulletins"),
        }
        // Woken by a new job; the timeout also retries after a database error.
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            state.exports.wake.notified(),
        )
        .await;
    }
}

/// Takes the oldest queued job. One runner per instance; with several instances on one
/// PostgreSQL two runners may pick the same row in their subquery: the outer `state` check is
/// evaluated again on the locked row, so only the first claims it (the other gets nothing
/// this round).
async fn claim_next(store: &dyn Store) -> Result<Option<JobRow>, ServerError> {
    let rows = store
        .write(&[stmt(
            format!(
                "UPDATE export_jobs SET state = 'running', started_at = $1 WHERE id = \
                 (SELECT id FROM export_jobs WHERE state = 'queued' \
                 ORDER BY created_at, id LIMIT 1) AND state = 'queued' RETURNING {JOB_COLUMNS}"
            ),
            vec![Arg::Int(now_ms())],
            JOB_TYPES.to_vec(),
        )])
        .await?;
    Ok(rows[0].first().and_then(|r| job_row(r)))
}

async fn finish_job(store: &dyn Store, id: &str, result: Result<(String, u64, u64), ServerError>) {
    let s = match result {
        Ok((name, rows, bytes)) => stmt(
            "UPDATE export_jobs SET state = 'done', file_name = $1, rows_done = $2, bytes = $3, \
             finished_at = $4, error = NULL WHERE id = $5 RETURNING id",
            vec![
                Arg::Text(name),
                Arg::Int(rows as i64),
                Arg::Int(bytes as i64),
                Arg::Int(now_ms()),
                Arg::Text(id.to_owned()),
            ],
            vec![Col::Text],
        ),
        Err(e) => {
            tracing::warn!(job = id, error = %e, "export failed");
            stmt(
                "UPDATE export_jobs SET state = 'failed', error = $1, finished_at = $2 \
                 WHERE id = $3 RETURNING id",
                vec![
                    Arg::Text(format!("[{}] {e}", e.code())),
                    Arg::Int(now_ms()),
                    Arg::Text(id.to_owned()),
                ],
                vec![Col::Text],
            )
        }
    };
    if let Err(e) = store.write(&[s]).await {
        tracing::warn!(job = id, error = %e, "exports: cannot record the end of a job");
    }
}

fn export_failed(e: ExportError) -> ServerError {
    ServerError::Io(std::io::Error::other(format!("[{}] {e}", e.code())))
}

async fn run_job(state: &Arc<AppState>, job: &JobRow) -> Result<(String, u64, u64), ServerError> {
    let owner = state
        .store
        .user(&job.owner)
        .await?
        .filter(|u| u.active())
        .ok_or_else(|| ServerError::Forbidden(format!("user {} is disabled or gone", job.owner)))?;
    if job.kind.is_report() {
        let out = file_path(&state.config.export_dir(), &job.id, job.kind);
        return super::console_reports::run(state, job.kind, &job.filter, &owner.user, &out).await;
    }
    let filter: Option<serde_json::Value> =
        serde_json::from_str(&job.filter).map_err(|e| bad(e.to_string()))?;
    let q = parse_filter(filter.as_ref())?;
    let refs = state.refs().await?;
    let tree = DistrictTree::new(&refs.districts);
    let scope = Scope::of(&owner.user, &tree);
    let f = ledger_filter(q, &refs, &tree, now_ms())?;
    let dir = state.config.export_dir();
    let out = file_path(&dir, &job.id, job.kind);
    let store = state.store.clone();
    let id = job.id.clone();
    let progress = move |done: u64, total: u64| {
        let store = store.clone();
        let id = id.clone();
        async move {
            let _ = store
                .write(&[stmt(
                    "UPDATE export_jobs SET rows_done = $1, rows_total = $2 WHERE id = $3 \
                     RETURNING id",
                    vec![Arg::Int(done as i64), Arg::Int(total as i64), Arg::Text(id)],
                    vec![Col::Text],
                )])
                .await;
        }
    };
    let ctx = ExportCtx {
        store: state.store.clone(),
        blobs: state.blobs.clone(),
        refs,
        public_url: state.config.public_url.trim_end_matches('/').to_owned(),
    };
    let rows = ctx
        .export(job.kind, &f, &scope, &out, &dir, progress)
        .await?;
    let bytes = tokio::fs::metadata(&out).await?.len();
    let tf = ctx.time_format();
    Ok((
        fieldcheck_export::file_name(job.kind, Utc::now(), &tf),
        rows,
        bytes,
    ))
}

/// Writes an export of the whole ledger matching `filter` (ledger query fields as JSON) to
/// `out`, as an admin sees it: `fieldcheck-server export`. Returns the rows written.
pub async fn export_to_file(
    store: Arc<dyn Store>,
    blobs: Arc<dyn BlobStore>,
    config: &crate::Config,
    kind: ExportKind,
    filter: Option<serde_json::Value>,
    out: &Path,
) -> Result<u64, ServerError> {
    let refs = Arc::new(store.reference().await?.map(|(_, b)| b).unwrap_or_default());
    let tree = DistrictTree::new(&refs.districts);
    let q = parse_filter(filter.as_ref())?;
    let f = ledger_filter(q, &refs, &tree, now_ms())?;
    let scope = Scope {
        user_id: String::new(),
        role: Role::Admin,
        unit_id: None,
        districts: None,
    };
    let ctx = ExportCtx {
        store,
        blobs,
        refs,
        public_url: config.public_url.trim_end_matches('/').to_owned(),
    };
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    ctx.export(kind, &f, &scope, out, &dir, |_, _| async {})
        .await
}

/// What a running export reads from.
struct ExportCtx {
    store: Arc<dyn Store>,
    blobs: Arc<dyn BlobStore>,
    refs: Arc<ReferenceBundle>,
    public_url: String,
}

/// The columns a page reads, in [`ledger_row`]'s order: the ledger row's, then the
/// coordinates and the folded state (photos, checklist item, rectification time, reasons).
const PAGE_COLUMNS: &str = "id, code, status, category, description, address, district_id, \
    point_id, unit_id, reporter, reporter_role, source, severity, rework_count, reported_at, \
    updated_at, deadline, dispatched_at, closed_at, lat, lon, state";
const LAT: usize = 19;
const LON: usize = 20;
const STATE: usize = 21;

fn page_columns() -> (String, Vec<Col>) {
    let mut cols = vec![Col::Text; 13];
    cols.extend([Col::Int; 6]);
    cols.extend([Col::Real, Col::Real, Col::Text]);
    (PAGE_COLUMNS.to_owned(), cols)
}

pub(super) fn ledger_row(v: &[Value]) -> LedgerRow {
    let t = |i: usize| v[i].text().unwrap_or_default().to_owned();
    let o = |i: usize| v[i].text().map(str::to_owned);
    LedgerRow {
        id: t(0),
        code: t(1),
        status: t(2),
        category: t(3),
        description: t(4),
        address: t(5),
        district_id: o(6),
        point_id: o(7),
        unit_id: o(8),
        reporter: t(9),
        reporter_role: t(10),
        source: t(11),
        severity: t(12),
        rework_count: v[13].int(),
        reported_at_ms: v[14].int(),
        updated_at_ms: v[15].int(),
        deadline_ms: v[16].opt_int(),
        dispatched_at_ms: v[17].opt_int(),
        closed_at_ms: v[18].opt_int(),
    }
}

/// Where the next page starts: after the last row of this one in the ledger's order
/// (`ledger::order_by`: the sort key, then the id; deadlines NULL last either way).
fn after_clause(w: &mut ledger::Where, f: &LedgerFilter, last: &LedgerRow) {
    let cmp = if f.descending { "<" } else { ">" };
    let id = w.arg(Arg::Text(last.id.clone()));
    let key = match f.sort {
        LedgerSort::ReportedAt => Some(("reported_at", Some(last.reported_at_ms))),
        LedgerSort::UpdatedAt => Some(("updated_at", Some(last.updated_at_ms))),
        LedgerSort::Deadline => None,
    };
    let clause = match key {
        Some((col, Some(v))) => {
            let p = w.arg(Arg::Int(v));
            format!("({col} {cmp} {p} OR ({col} = {p} AND id {cmp} {id}))")
        }
        _ => match last.deadline_ms {
            Some(d) => {
                let p = w.arg(Arg::Int(d));
                format!(
                    "(deadline IS NULL OR deadline {cmp} {p} OR (deadline = {p} AND id {cmp} {id}))"
                )
            }
            None => format!("(deadline IS NULL AND id {cmp} {id})"),
        },
    };
    w.and(clause);
}

/// One page of the filtered ledger in `scope`, after `last`.
pub(super) fn page_select(f: &LedgerFilter, scope: &Scope, last: Option<&LedgerRow>) -> Select {
    let mut w = ledger::where_clause(f, scope);
    if let Some(l) = last {
        after_clause(&mut w, f, l);
    }
    let (cols, types) = page_columns();
    let sql = format!(
        "SELECT {cols} FROM problems WHERE {} ORDER BY {} LIMIT {PAGE}",
        w.sql(),
        ledger::order_by(f)
    );
    stmt(sql, w.args, types)
}

/// The applied events of the page's problems that the ledger's columns name (rectification
/// note, verifier), in fold order: rows `(entity_id, actor, body)`.
fn events_select(ids: &[String]) -> Select {
    let mut args = Vec::new();
    let ps: Vec<String> = ids
        .iter()
        .map(|id| {
            args.push(Arg::Text(id.clone()));
            format!("${}", args.len())
        })
        .collect();
    stmt(
        format!(
            "SELECT entity_id, actor, body FROM events WHERE entity_id IN ({}) \
             AND outcome = '{{\"outcome\":\"applied\"}}' ORDER BY hlc",
            ps.join(", ")
        ),
        args,
        vec![Col::Text, Col::Text, Col::Text],
    )
}

/// Names looked up once per export.
pub(super) struct Names<'a> {
    refs: &'a ReferenceBundle,
    districts: HashMap<&'a str, &'a fieldcheck_domain::reference::District>,
    items: HashMap<&'a str, &'a str>,
}

impl<'a> Names<'a> {
    pub(super) fn new(refs: &'a ReferenceBundle) -> Self {
        let mut items = HashMap::new();
        for t in &refs.templates {
            for i in &t.items {
                items.entry(i.id.as_str()).or_insert(i.text.zh.as_str());
            }
        }
        Names {
            refs,
            districts: refs.districts.iter().map(|d| (d.id.as_str(), d)).collect(),
            items,
        }
    }

    /// 测评条目: the checklist item's text.
    pub(super) fn item(&self, id: Option<&str>) -> String {
        id.map(|i| {
            self.items
                .get(i)
                .map(|s| (*s).to_owned())
                .unwrap_or_else(|| i.to_owned())
        })
        .unwrap_or_default()
    }

    /// 点位/地址: the point's name and the address.
    pub(super) fn place(&self, point: Option<&str>, address: &str) -> String {
        match (self.point(point), address.is_empty()) {
            (Some(p), false) if p.name != address => format!("{} / {address}", p.name),
            (Some(p), _) => p.name.clone(),
            (None, _) => address.to_owned(),
        }
    }

    /// 区 / 街道 / 社区, from the top down.
    pub(super) fn area(&self, district: Option<&str>) -> String {
        let mut chain = Vec::new();
        let mut cur = district;
        while let Some(id) = cur {
            let Some(d) = self.districts.get(id) else {
                chain.push(id.to_owned());
                break;
            };
            chain.push(d.name.zh.clone());
            cur = d.parent_id.as_deref();
            if chain.len() > 8 {
                break;
            }
        }
        chain.reverse();
        chain.join(" / ")
    }

    pub(super) fn unit(&self, id: Option<&str>) -> String {
        let Some(id) = id else { return String::new() };
        self.refs
            .units
            .iter()
            .find(|u| u.id == id)
            .map(|u| u.name.zh.clone())
            .unwrap_or_else(|| id.to_owned())
    }

    pub(super) fn user(&self, id: &str) -> String {
        self.refs
            .users
            .iter()
            .find(|u| u.id == id)
            .map(|u| u.name.clone())
            .unwrap_or_else(|| id.to_owned())
    }

    pub(super) fn category(&self, code: &str) -> String {
        self.refs
            .categories
            .iter()
            .find(|c| c.code == code)
            .map(|c| format!("{} / {}", c.major.zh, c.minor.zh))
            .unwrap_or_else(|| code.to_owned())
    }

    pub(super) fn point(
        &self,
        id: Option<&str>,
    ) -> Option<&'a fieldcheck_domain::reference::Point> {
        let id = id?;
        self.refs.points.iter().find(|p| p.id == id)
    }
}

/// 整改情况: the unit's rectification note, or why it is not being rectified (returned by
/// the unit, rejected by the office).
pub(super) fn rectification_text(
    status: ProblemStatus,
    reason: Option<&str>,
    ev: Option<&FromEvents>,
) -> String {
    ev.and_then(|e| e.rectification.clone())
        .or_else(|| {
            matches!(status, ProblemStatus::Returned | ProblemStatus::Rejected)
                .then(|| reason.map(str::to_owned))
                .flatten()
        })
        .unwrap_or_default()
}

/// What the events of one problem add to its row.
#[derive(Default)]
pub(super) struct FromEvents {
    pub(super) rectification: Option<String>,
    pub(super) verifier: Option<String>,
}

impl FromEvents {
    /// Notes one applied event (in fold order): the unit's last rectification note, and who
    /// last verified the rectification as passed.
    pub(super) fn note(&mut self, actor: &str, body: &serde_json::Value) {
        match body["kind"].as_str() {
            Some("problem.rectified") => {
                self.rectification = body["payload"]["note"].as_str().map(str::to_owned);
            }
            Some("problem.verified") if body["payload"]["passed"] == true => {
                self.verifier = Some(actor.to_owned());
            }
            _ => {}
        }
    }
}

impl ExportCtx {
    fn time_format(&self) -> TimeFormat {
        TimeFormat {
            tz: self.refs.calendar.clone().unwrap_or_default().tz(),
        }
    }

    fn photo_url(&self, hash: &str) -> String {
        format!("{}/api/v1/console/photos/{hash}", self.public_url)
    }

    fn export_row(
        &self,
        names: &Names<'_>,
        r: LedgerRow,
        columns: &[Value],
        ev: Option<&FromEvents>,
        now: i64,
    ) -> ExportRow {
        let (lat, lon, state) = (
            columns[LAT].real(),
            columns[LON].real(),
            columns[STATE].text(),
        );
        let problem: Option<Problem> = state.and_then(|s| serde_json::from_str(s).ok());
        let point = names.point(r.point_id.as_deref());
        let photos = |role: fieldcheck_domain::event::PhotoRole| -> Vec<PhotoRef> {
            problem
                .iter()
                .flat_map(|p| p.photos.iter())
                .filter(|p| p.role == role)
                // Exports show what the console shows: the stamped copy when there is one.
                .map(|p| PhotoRef {
                    hash: p.shown().to_owned(),
                    url: self.photo_url(p.shown()),
                })
                .collect()
        };
        let before = photos(fieldcheck_domain::event::PhotoRole::Before);
        let after = photos(fieldcheck_domain::event::PhotoRole::After);
        let status = ProblemStatus::parse(&r.status).unwrap_or(ProblemStatus::Reported);
        let reason = problem.as_ref().and_then(|p| p.status_reason.clone());
        let rectification = rectification_text(status, reason.as_deref(), ev);
        let mut remark = Vec::new();
        if let Some(reason) = &reason
            && *reason != rectification
        {
            remark.push(reason.clone());
        }
        if let Some(x) = problem.as_ref().and_then(|p| p.extension.as_ref()) {
            remark.push(format!(
                "申请延期至 {}：{}",
                self.time_format().format(Some(x.until)),
                x.reason
            ));
        }
        if r.rework_count > 0 {
            remark.push(format!("返工 {} 次", r.rework_count));
        }
        let place = names.place(r.point_id.as_deref(), &r.address);
        let lon_lat = match (lon, lat) {
            (Some(lon), Some(lat)) => Some((lon, lat)),
            _ => point.map(|p| (p.location.lon, p.location.lat)),
        };
        ExportRow {
            description: r.description.clone(),
            lon_lat,
            place,
            area: names.area(r.district_id.as_deref()),
            category_name: names.category(&r.category),
            item: names.item(problem.as_ref().and_then(|p| p.item_id.as_deref())),
            unit_name: names.unit(r.unit_id.as_deref()),
            rectification,
            verifier: ev
                .and_then(|e| e.verifier.as_deref())
                .map(|u| names.user(u))
                .unwrap_or_default(),
            rectified_at: problem.as_ref().and_then(|p| p.rectified_at),
            on_time: problem
                .as_ref()
                .and_then(|p| fieldcheck_domain::rates::rectified_on_time(p, ms_time(now))),
            remark: remark.join("；"),
            before,
            after,
            api: row(r, now),
        }
    }

    /// Pages through the filtered ledger, handing each page to the writer on a blocking
    /// thread; `progress(done, total)` after each page.
    async fn export<F, Fut>(
        &self,
        kind: ExportKind,
        f: &LedgerFilter,
        scope: &Scope,
        out: &Path,
        tempdir: &Path,
        progress: F,
    ) -> Result<u64, ServerError>
    where
        F: Fn(u64, u64) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        tokio::fs::create_dir_all(tempdir).await?;
        let mut count_w = ledger::where_clause(f, scope);
        let count_sql = format!("SELECT count(*) FROM problems WHERE {}", count_w.sql());
        let total = self
            .store
            .select(&[stmt(
                count_sql,
                std::mem::take(&mut count_w.args),
                vec![Col::Int],
            )])
            .await?[0]
            .first()
            .map(|r| r[0].count())
            .unwrap_or(0);
        progress(0, total).await;
        // At most two pages in flight: the one being written and the next one read.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<ExportRow>>(1);
        let part = out.with_extension(format!(
            "{}.part",
            out.extension().and_then(|e| e.to_str()).unwrap_or("")
        ));
        let writer = {
            let part = part.clone();
            let tempdir = tempdir.to_path_buf();
            let mut photos = BlobPhotos {
                blobs: self.blobs.clone(),
                rt: tokio::runtime::Handle::current(),
            };
            let tf = self.time_format();
            tokio::task::spawn_blocking(move || -> Result<u64, ExportError> {
                write_pages(kind, &part, &tempdir, rx, &mut photos, tf)
            })
        };
        let names = Names::new(&self.refs);
        let now = f.now_ms;
        let mut last: Option<LedgerRow> = None;
        let mut done = 0u64;
        let read = async {
            loop {
                let page = self
                    .store
                    .select(&[page_select(f, scope, last.as_ref())])
                    .await?
                    .pop()
                    .unwrap_or_default();
                if page.is_empty() {
                    break;
                }
                let ids: Vec<String> = page.iter().map(|v| ledger_row(v).id).collect();
                let mut from_events: HashMap<String, FromEvents> = HashMap::new();
                for e in self
                    .store
                    .select(&[events_select(&ids)])
                    .await?
                    .pop()
                    .unwrap_or_default()
                {
                    let (Some(entity), Some(actor), Some(body)) =
                        (e[0].text(), e[1].text(), e[2].text())
                    else {
                        continue;
                    };
                    let Ok(body) = serde_json::from_str::<serde_json::Value>(body) else {
                        continue;
                    };
                    from_events
                        .entry(entity.to_owned())
                        .or_default()
                        .note(actor, &body);
                }
                let n = page.len();
                let mut rows = Vec::with_capacity(n);
                for v in &page {
                    let r = ledger_row(v);
                    last = Some(r.clone());
                    let ev = from_events.get(&r.id);
                    rows.push(self.export_row(&names, r, v, ev, now));
                }
                done += n as u64;
                if tx.send(rows).is_err() {
                    // The writer stopped: its error is the answer.
                    break;
                }
                progress(done, total.max(done)).await;
                if n < PAGE as usize {
                    break;
                }
            }
            drop(tx);
            Ok::<_, ServerError>(())
        };
        let read_result = read.await;
        let written = writer
            .await
            .map_err(|e| ServerError::Io(std::io::Error::other(e.to_string())))?;
        read_result?;
        let n = written.map_err(export_failed)?;
        tokio::fs::rename(&part, out).await?;
        Ok(n)
    }
}

/// The writer's side: every page until the reader hangs up.
fn write_pages(
    kind: ExportKind,
    part: &Path,
    tempdir: &Path,
    rx: std::sync::mpsc::Receiver<Vec<ExportRow>>,
    photos: &mut dyn PhotoSource,
    tf: TimeFormat,
) -> Result<u64, ExportError> {
    use std::io::{BufWriter, Write};
    let file = || -> Result<BufWriter<std::fs::File>, ExportError> {
        Ok(BufWriter::new(std::fs::File::create(part)?))
    };
    let mut n = 0u64;
    match kind {
        ExportKind::Xlsx => {
            let mut w = fieldcheck_export::XlsxLedger::with_tempdir(tf, Some(tempdir))?;
            for page in rx {
                for r in &page {
                    w.write_row(r, photos)?;
                    n += 1;
                }
            }
            w.save(part)?;
        }
        ExportKind::Csv => {
            let mut w = fieldcheck_export::CsvLedger::new(file()?, tf)?;
            for page in rx {
                for r in &page {
                    w.write_row(r)?;
                    n += 1;
                }
            }
            w.finish()?.flush()?;
        }
        ExportKind::Geojson => {
            let mut w = fieldcheck_export::GeoJsonLedger::new(file()?)?;
            for page in rx {
                for r in &page {
                    w.write_row(r)?;
                    n += 1;
                }
            }
            w.finish()?;
        }
        ExportKind::PhotosZip => {
            let mut w = fieldcheck_export::PhotoZip::new(file()?);
            for page in rx {
                for r in &page {
                    w.write_row(r, photos)?;
                    n += 1;
                }
            }
            w.finish()?.flush()?;
        }
        // Reports do not page the ledger (`console_reports::run`); nothing reaches here.
        ExportKind::CaseSheets | ExportKind::Bulletin | ExportKind::PointCompliance => {
            return Err(ExportError::Io(std::io::Error::other(format!(
                "{} is a report, not a ledger export",
                kind.as_str()
            ))));
        }
    }
    Ok(n)
}

/// Photos from the blob store, read on the writer's blocking thread.
struct BlobPhotos {
    blobs: Arc<dyn BlobStore>,
    rt: tokio::runtime::Handle,
}

impl PhotoSource for BlobPhotos {
    fn photo(&mut self, hash: &str) -> Result<Option<Vec<u8>>, ExportError> {
        if !crate::api::valid_hash(hash) {
            return Ok(None);
        }
        let got = self
            .rt
            .block_on(self.blobs.get(hash))
            .map_err(|e| ExportError::Photo {
                hash: hash.to_owned(),
                message: e.to_string(),
            })?;
        Ok(got.map(|b| b.to_vec()))
    }

    /// The stored copy scaled for a cell; a photo that does not decode is left out (the cell
    /// keeps its link), not a failed export.
    fn cell_image(&mut self, hash: &str) -> Result<Option<Vec<u8>>, ExportError> {
        let Some(bytes) = self.photo(hash)? else {
            return Ok(None);
        };
        Ok(fieldcheck_photo::thumbnail(
            &bytes,
            fieldcheck_export::CELL_IMAGE_PX,
            &fieldcheck_photo::Limits::default(),
        )
        .ok()
        .map(|(jpeg, _, _)| jpeg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_name_is_rfc_5987() {
        assert_eq!(
            content_disposition("问题台账_1.xlsx", "export-x.xlsx"),
            "attachment; filename=\"export-x.xlsx\"; \
             filename*=UTF-8''%E9%97%AE%E9%A2%98%E5%8F%B0%E8%B4%A6_1.xlsx"
        );
    }

    #[test]
    fn paging_limits_are_dropped_and_unknown_fields_named() {
        let q = parse_filter(Some(&serde_json::json!({"limit": 5000, "offset": 3}))).unwrap();
        let _ = q;
        let e = parse_filter(Some(&serde_json::json!({"colour": "red"}))).unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
        let e = parse_filter(Some(&serde_json::json!({"overdue": "maybe"}))).unwrap_err();
        assert!(e.to_string().contains("filter.overdue"), "{e}");
        assert!(parse_filter(Some(&serde_json::json!([1]))).is_err());
    }
}
