//! The bridge API: one route per UI command. Commands take a JSON object and return JSON, the
//! same shape a Tauri `invoke(command, args)` takes and returns, so the UI's transport module
//! is the only place that knows which one it talks to. Photos travel as raw bytes (upload)
//! and plain image responses (display copy, thumbnail), never as base64 inside JSON.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, FromRequest, Path as UrlPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use fieldcheck_core::domain::category::Category;
use fieldcheck_core::domain::checklist::{ChecklistTemplate, ItemResult};
use fieldcheck_core::domain::i18n::{Lang, Text};
use fieldcheck_core::domain::inspection::Inspection;
use fieldcheck_core::domain::reference::{District, LatLon, Point, PointType, Unit, User};
use fieldcheck_core::domain::{Actor, Location, Problem, ProblemStatus};
use fieldcheck_core::{
    CoreError, LedgerRow, MapInfo, MapPackage, NearbyProblem, NewProblem, OfflineMap, Page,
    PhotoInfo, ProblemAction, ProblemQuery, Resend, ServerRefusal, StartInspection, Stats, Store,
    TasksView,
};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::BridgeError;

/// Photos up to the core's own input limit (40 MiB) pass the HTTP layer; the core checks it.
pub const MAX_PHOTO_BYTES: usize = 40 * 1024 * 1024;
/// Largest offline map package imported from a file (a city at zoom 12–18 is a few hundred MB).
pub const MAX_MAP_PACKAGE_BYTES: usize = 2 * 1024 * 1024 * 1024;

#[derive(Clone)]
pub struct AppState {
    store: Arc<Mutex<Store>>,
    syncer: Arc<crate::sync::Syncer>,
    map: Arc<OfflineMap>,
}

impl AppState {
    pub fn new(store: Store) -> Self {
        Self::shared(Arc::new(Mutex::new(store)))
    }

    /// Over a store shared with others (the Tauri app's sync client uses the same one).
    pub fn shared(store: Arc<Mutex<Store>>) -> Self {
        let map = store
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .offline_map();
        AppState {
            store,
            syncer: Arc::default(),
            map,
        }
    }

    /// The background sync runner of the `sync_*` commands.
    pub fn syncer(&self) -> Arc<crate::sync::Syncer> {
        self.syncer.clone()
    }

    /// The store behind the commands.
    pub fn store(&self) -> Arc<Mutex<Store>> {
        self.store.clone()
    }

    /// Runs a synchronous store call on the blocking pool.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, BridgeError> + Send + 'static,
    ) -> Result<T, BridgeError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = store
                .lock()
                .map_err(|_| BridgeError::Internal("store lock poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| BridgeError::Internal(e.to_string()))?
    }
}

/// JSON arguments of a command; malformed JSON is an `invalid_input` error body, not axum's
/// plain-text rejection. An empty body means `{}`.
pub struct Args<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Args<T> {
    type Rejection = BridgeError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| BridgeError::BadRequest(e.body_text()))?;
        let slice: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(slice)
            .map(Args)
            .map_err(|e| BridgeError::BadRequest(format!("invalid arguments: {e}")))
    }
}

type ApiResult<T> = Result<Json<T>, BridgeError>;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/bridge/me", post(me))
        .route("/bridge/login", post(login))
        .route("/bridge/home", post(home))
        .route("/bridge/reference", post(reference))
        .route("/bridge/tasks", post(tasks))
        .route("/bridge/nearby", post(nearby))
        .route("/bridge/points", post(points))
        .route("/bridge/point", post(point))
        .route("/bridge/template", post(template))
        .route("/bridge/inspection", post(inspection))
        .route("/bridge/inspection_start", post(inspection_start))
        .route("/bridge/inspection_record", post(inspection_record))
        .route("/bridge/inspection_finish", post(inspection_finish))
        .route("/bridge/inspection_raise", post(inspection_raise))
        .route("/bridge/problem_report", post(problem_report))
        .route("/bridge/problem_act", post(problem_act))
        .route("/bridge/problem", post(problem))
        .route("/bridge/problem_resend", post(problem_resend))
        .route("/bridge/problem_discard", post(problem_discard))
        .route("/bridge/inspection_discard", post(inspection_discard))
        .route("/bridge/ledger", post(ledger))
        .route("/bridge/stats", post(stats))
        .route("/bridge/settings", post(settings))
        .route("/bridge/demo_seed", post(demo_seed))
        .route("/bridge/enroll", post(crate::sync::enroll))
        .route("/bridge/unenroll", post(crate::sync::unenroll))
        .route("/bridge/sync_start", post(crate::sync::sync_start))
        .route("/bridge/sync_status", post(crate::sync::sync_status))
        .route(
            "/bridge/photos",
            post(photo_upload).layer(DefaultBodyLimit::max(MAX_PHOTO_BYTES)),
        )
        .route("/bridge/photos/{hash}/{size}", get(photo_get))
        .route("/bridge/map_package", post(map_package))
        .route(
            "/bridge/map_package_import",
            post(map_package_import).layer(DefaultBodyLimit::max(MAX_MAP_PACKAGE_BYTES)),
        )
        .route("/bridge/map_package_remove", post(map_package_remove))
        .route("/bridge/tiles/{z}/{x}/{y}", get(tile_get))
        .route("/bridge/{*rest}", axum::routing::any(unknown_command))
        .with_state(state)
}

async fn unknown_command(uri: axum::http::Uri) -> BridgeError {
    BridgeError::Core(CoreError::NotFound {
        what: "command",
        id: uri.path().to_owned(),
    })
}

// ---------------------------------------------------------------- who am I

pub use fieldcheck_core::Me;

pub(crate) fn me_of(store: &Store) -> Result<Me, BridgeError> {
    Ok(store.me()?)
}

fn current_actor(store: &Store) -> Result<Actor, BridgeError> {
    Ok(store.current_actor()?)
}

async fn me(State(s): State<AppState>) -> ApiResult<Me> {
    s.run(|st| me_of(st)).await.map(Json)
}

#[derive(Deserialize)]
struct LoginArgs {
    user_id: Option<String>,
}

/// Switches the person signed in on this device (the demo's user switch). An enrolled device
/// belongs to its enrolled user: switching away is refused with `enrolled_device`.
async fn login(State(s): State<AppState>, Args(a): Args<LoginArgs>) -> ApiResult<Me> {
    s.run(move |st| {
        if let Some(e) = st.enrollment()?
            && a.user_id.as_deref() != Some(e.user_id.as_str())
        {
            return Err(enrolled_device(&e.user_id, "unenroll it to switch users"));
        }
        st.set_current_user(a.user_id.as_deref())?;
        me_of(st)
    })
    .await
    .map(Json)
}

// ---------------------------------------------------------------- home

pub use fieldcheck_core::{Home, OpenInspection};

async fn home(State(s): State<AppState>) -> ApiResult<Home> {
    s.run(|st| Ok(st.home()?)).await.map(Json)
}

// ---------------------------------------------------------------- where the phone is

/// A position the screen sends (`lat`, `lon`, WGS-84), or none: half of one, or one off the
/// globe, is a 400 naming what is wrong, never silently ignored.
fn position(lat: Option<f64>, lon: Option<f64>) -> Result<Option<LatLon>, BridgeError> {
    match (lat, lon) {
        (None, None) => Ok(None),
        (Some(lat), Some(lon)) => valid_position(lat, lon).map(Some),
        _ => Err(BridgeError::BadRequest(
            "a position needs both lat and lon".into(),
        )),
    }
}

fn valid_position(lat: f64, lon: f64) -> Result<LatLon, BridgeError> {
    let at = LatLon { lat, lon };
    if at.is_valid() {
        Ok(at)
    } else {
        Err(BridgeError::BadRequest(format!(
            "invalid position ({lat}, {lon}): lat must be within ±90 and lon within ±180"
        )))
    }
}

// ---------------------------------------------------------------- today's tasks

#[derive(Deserialize, Default)]
struct TasksArgs {
    #[serde(default)]
    lat: Option<f64>,
    #[serde(default)]
    lon: Option<f64>,
}

/// Today's evaluation-round tasks, nearest first when the phone's position is given.
async fn tasks(State(s): State<AppState>, Args(a): Args<TasksArgs>) -> ApiResult<TasksView> {
    let from = position(a.lat, a.lon)?;
    s.run(move |st| Ok(st.tasks_view(from)?)).await.map(Json)
}

// ---------------------------------------------------------------- nearby problems

#[derive(Deserialize)]
struct NearbyArgs {
    category: String,
    lat: f64,
    lon: f64,
}

/// Open problems of the same category near where a quick report is being made, as the
/// signed-in person's ledger shows them (a volunteer: their own reports).
async fn nearby(
    State(s): State<AppState>,
    Args(a): Args<NearbyArgs>,
) -> ApiResult<Vec<NearbyProblem>> {
    let at = valid_position(a.lat, a.lon)?;
    if a.category.trim().is_empty() {
        return Err(BridgeError::BadRequest("a category is required".into()));
    }
    s.run(move |st| {
        let scope = match st.current_user()? {
            Some(u) => Some(st.scope(&u.id)?),
            None => None,
        };
        Ok(st.nearby_problems(&a.category, at, scope.as_ref())?)
    })
    .await
    .map(Json)
}

// ---------------------------------------------------------------- reference data

#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PointTypeInfo {
    pub code: String,
    pub name: Text,
}

#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Reference {
    pub districts: Vec<District>,
    pub units: Vec<Unit>,
    pub categories: Vec<Category>,
    pub point_types: Vec<PointTypeInfo>,
    /// People known on this device (the demo's "sign in as" list).
    pub users: Vec<User>,
    /// The city's zone (the work calendar's offset, minutes east of UTC): screens show times
    /// in it, whatever zone the phone is set to.
    pub utc_offset_minutes: i32,
}

async fn reference(State(s): State<AppState>) -> ApiResult<Reference> {
    s.run(|st| {
        let users = st.export_reference()?.users;
        Ok(Reference {
            districts: st.districts()?,
            units: st.units()?,
            categories: st.categories()?,
            point_types: PointType::ALL
                .into_iter()
                .map(|t| PointTypeInfo {
                    code: t.as_str().into(),
                    name: Text::new(t.label(Lang::Zh), t.label(Lang::En)),
                })
                .collect(),
            users,
            utc_offset_minutes: st.calendar()?.utc_offset_minutes,
        })
    })
    .await
    .map(Json)
}

// ---------------------------------------------------------------- points

#[derive(Deserialize, Default)]
struct PointsArgs {
    #[serde(default)]
    point_type: Option<String>,
    #[serde(default)]
    district_id: Option<String>,
    #[serde(default)]
    lat: Option<f64>,
    #[serde(default)]
    lon: Option<f64>,
}

#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PointRow {
    #[serde(flatten)]
    pub point: Point,
    /// Metres from the given position, when one was given.
    pub distance_m: Option<f64>,
}

async fn points(State(s): State<AppState>, Args(a): Args<PointsArgs>) -> ApiResult<Vec<PointRow>> {
    s.run(move |st| {
        let t = match a.point_type.as_deref().filter(|t| !t.is_empty()) {
            Some(t) => Some(PointType::parse(t).ok_or_else(|| {
                BridgeError::Core(CoreError::Invalid(format!("unknown point type {t:?}")))
            })?),
            None => None,
        };
        let pts = st.points(t, a.district_id.as_deref().filter(|d| !d.is_empty()))?;
        let here = a.lat.zip(a.lon).map(|(lat, lon)| LatLon { lat, lon });
        if let Some(h) = &here
            && !h.is_valid()
        {
            return Err(CoreError::Invalid("invalid position".into()).into());
        }
        let mut rows: Vec<PointRow> = pts
            .into_iter()
            .map(|p| PointRow {
                distance_m: here.as_ref().map(|h| h.distance_m(&p.location)),
                point: p,
            })
            .collect();
        if here.is_some() {
            rows.sort_by(|a, b| {
                a.distance_m
                    .unwrap_or(f64::MAX)
                    .total_cmp(&b.distance_m.unwrap_or(f64::MAX))
            });
        }
        Ok(rows)
    })
    .await
    .map(Json)
}

#[derive(Deserialize)]
struct IdArgs {
    id: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PointDetail {
    pub point: Point,
    pub inspections: Vec<Inspection>,
    /// The checklist an inspection started now would use.
    pub template: Option<ChecklistTemplate>,
    pub open_problems: Page<LedgerRow>,
}

async fn point(State(s): State<AppState>, Args(a): Args<IdArgs>) -> ApiResult<PointDetail> {
    s.run(move |st| {
        let point = st.point(&a.id)?;
        let template = match st.template_for(point.point_type) {
            Ok(t) => Some(t),
            Err(CoreError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        let open_problems = st.list_problems(&ProblemQuery {
            point_id: Some(point.id.clone()),
            statuses: ProblemStatus::ALL
                .into_iter()
                .filter(|s| !s.is_terminal())
                .collect(),
            limit: 20,
            ..Default::default()
        })?;
        Ok(PointDetail {
            inspections: st.inspections_of_point(&point.id)?,
            template,
            point,
            open_problems,
        })
    })
    .await
    .map(Json)
}

#[derive(Deserialize)]
struct TemplateArgs {
    id: String,
    version: u32,
}

async fn template(
    State(s): State<AppState>,
    Args(a): Args<TemplateArgs>,
) -> ApiResult<ChecklistTemplate> {
    s.run(move |st| Ok(st.template(&a.id, a.version)?))
        .await
        .map(Json)
}

// ---------------------------------------------------------------- inspections

#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InspectionView {
    pub inspection: Inspection,
    pub template: ChecklistTemplate,
    /// The server refused this inspection's start: it exists only on this device, and the
    /// way forward is to discard it (`inspection_discard`).
    pub refused: Option<ServerRefusal>,
}

fn view(st: &Store, inspection: Inspection) -> Result<InspectionView, BridgeError> {
    let template = st.template(&inspection.template_id, inspection.template_version)?;
    let refused = st.creation_refusal(inspection.id)?;
    Ok(InspectionView {
        inspection,
        template,
        refused,
    })
}

fn parse_uuid(what: &'static str, s: &str) -> Result<Uuid, BridgeError> {
    Uuid::parse_str(s).map_err(|_| BridgeError::Core(CoreError::NotFound { what, id: s.into() }))
}

async fn inspection(State(s): State<AppState>, Args(a): Args<IdArgs>) -> ApiResult<InspectionView> {
    s.run(move |st| {
        let i = st.inspection(parse_uuid("inspection", &a.id)?)?;
        view(st, i)
    })
    .await
    .map(Json)
}

async fn inspection_start(
    State(s): State<AppState>,
    Args(a): Args<StartInspection>,
) -> ApiResult<InspectionView> {
    s.run(move |st| {
        let who = current_actor(st)?;
        let i = st.start_inspection(&who, a)?;
        view(st, i)
    })
    .await
    .map(Json)
}

#[derive(Deserialize)]
struct RecordArgs {
    inspection_id: Uuid,
    item_id: String,
    result: ItemResult,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    photos: Vec<String>,
}

async fn inspection_record(
    State(s): State<AppState>,
    Args(a): Args<RecordArgs>,
) -> ApiResult<InspectionView> {
    s.run(move |st| {
        let who = current_actor(st)?;
        let note = a.note.filter(|n| !n.trim().is_empty());
        let i = st.record_item(&who, a.inspection_id, &a.item_id, a.result, note, a.photos)?;
        view(st, i)
    })
    .await
    .map(Json)
}

#[derive(Deserialize)]
struct FinishArgs {
    inspection_id: Uuid,
    #[serde(default)]
    location: Option<Location>,
}

async fn inspection_finish(
    State(s): State<AppState>,
    Args(a): Args<FinishArgs>,
) -> ApiResult<InspectionView> {
    s.run(move |st| {
        let who = current_actor(st)?;
        let i = st.finish_inspection(&who, a.inspection_id, a.location)?;
        view(st, i)
    })
    .await
    .map(Json)
}

#[derive(Deserialize)]
struct RaiseArgs {
    inspection_id: Uuid,
    item_id: String,
    #[serde(default)]
    description: Option<String>,
}

async fn inspection_raise(
    State(s): State<AppState>,
    Args(a): Args<RaiseArgs>,
) -> ApiResult<Problem> {
    s.run(move |st| {
        let who = current_actor(st)?;
        let desc = a.description.filter(|d| !d.trim().is_empty());
        Ok(st.raise_problem(&who, a.inspection_id, &a.item_id, desc)?)
    })
    .await
    .map(Json)
}

// ---------------------------------------------------------------- problems

async fn problem_report(
    State(s): State<AppState>,
    Args(a): Args<NewProblem>,
) -> ApiResult<Problem> {
    s.run(move |st| {
        let who = current_actor(st)?;
        Ok(st.report_problem(&who, a)?)
    })
    .await
    .map(Json)
}

#[derive(Deserialize)]
struct ActArgs {
    id: Uuid,
    action: ProblemAction,
}

async fn problem_act(
    State(s): State<AppState>,
    Args(a): Args<ActArgs>,
) -> ApiResult<ProblemDetail> {
    s.run(move |st| {
        let who = current_actor(st)?;
        let p = st.act(&who, a.id, a.action)?;
        detail(st, p)
    })
    .await
    .map(Json)
}

pub use fieldcheck_core::ProblemDetail;

fn detail(st: &Store, problem: Problem) -> Result<ProblemDetail, BridgeError> {
    Ok(st.problem_detail(problem)?)
}

async fn problem(State(s): State<AppState>, Args(a): Args<IdArgs>) -> ApiResult<ProblemDetail> {
    s.run(move |st| {
        // What the device shows the person signed in (a volunteer: their own reports only,
        // as in the ledger); someone else's report is not there for them.
        let p = match st.current_user()? {
            Some(u) => st.find_problem_visible(&a.id, &st.scope(&u.id)?)?,
            None => st.find_problem(&a.id)?,
        };
        detail(st, p)
    })
    .await
    .map(Json)
}

#[derive(Deserialize)]
struct ResendArgs {
    id: Uuid,
    #[serde(flatten)]
    fix: Resend,
}

/// Sends a report the server refused once more, corrected (district and/or point).
async fn problem_resend(
    State(s): State<AppState>,
    Args(a): Args<ResendArgs>,
) -> ApiResult<ProblemDetail> {
    s.run(move |st| {
        let who = current_actor(st)?;
        let p = st.resend_problem(&who, a.id, a.fix)?;
        detail(st, p)
    })
    .await
    .map(Json)
}

#[derive(Deserialize)]
struct DiscardArgs {
    id: Uuid,
    /// The person confirmed: the record and its history leave this device for good.
    #[serde(default)]
    confirm: bool,
}

#[derive(Serialize)]
struct Discarded {
    discarded: Uuid,
    code: String,
}

fn confirmed(a: &DiscardArgs) -> Result<(), BridgeError> {
    if a.confirm {
        return Ok(());
    }
    Err(BridgeError::Coded {
        status: StatusCode::BAD_REQUEST,
        code: "confirmation_required".into(),
        message: "discarding removes the record from this device for good: send confirm: true once the person agreed".into(),
    })
}

/// Removes a report the server refused from this device, once the person confirmed.
async fn problem_discard(
    State(s): State<AppState>,
    Args(a): Args<DiscardArgs>,
) -> ApiResult<Discarded> {
    s.run(move |st| {
        confirmed(&a)?;
        let who = current_actor(st)?;
        let p = st.discard_problem(&who, a.id)?;
        Ok(Discarded {
            discarded: p.id,
            code: p.code,
        })
    })
    .await
    .map(Json)
}

#[derive(Serialize)]
struct InspectionDiscarded {
    discarded: Uuid,
}

/// Removes an inspection the server refused from this device, once the person confirmed.
async fn inspection_discard(
    State(s): State<AppState>,
    Args(a): Args<DiscardArgs>,
) -> ApiResult<InspectionDiscarded> {
    s.run(move |st| {
        confirmed(&a)?;
        let who = current_actor(st)?;
        let i = st.discard_inspection(&who, a.id)?;
        Ok(InspectionDiscarded { discarded: i.id })
    })
    .await
    .map(Json)
}

#[derive(Deserialize, Default)]
struct LedgerArgs {
    #[serde(default)]
    query: ProblemQuery,
    /// Only records the signed-in person reported.
    #[serde(default)]
    mine: bool,
}

async fn ledger(
    State(s): State<AppState>,
    Args(a): Args<LedgerArgs>,
) -> ApiResult<Page<LedgerRow>> {
    s.run(move |st| {
        let mut q = a.query;
        if a.mine {
            q.reporter = Some(current_actor(st)?.user_id);
        }
        // What the device shows this person (a volunteer: their own reports only).
        if let Some(u) = st.current_user()? {
            q = q.within(&st.scope(&u.id)?);
        }
        Ok(st.list_problems(&q)?)
    })
    .await
    .map(Json)
}

async fn stats(State(s): State<AppState>) -> ApiResult<Stats> {
    s.run(|st| Ok(st.stats()?)).await.map(Json)
}

// ---------------------------------------------------------------- settings, demo

#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Settings {
    pub db_path: String,
    pub db_bytes: u64,
    pub photo_bytes: u64,
    pub photo_files: u64,
    pub pending_sync: u64,
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// Total size and number of files under `dir` (0 when it does not exist yet).
fn dir_usage(dir: &Path) -> (u64, u64) {
    let mut bytes = 0;
    let mut files = 0;
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => {
                    files += 1;
                    bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
                }
                _ => {}
            }
        }
    }
    (bytes, files)
}

async fn settings(State(s): State<AppState>) -> ApiResult<Settings> {
    s.run(|st| {
        let db = st.path().to_path_buf();
        let mut db_bytes = file_len(&db);
        for suffix in ["-wal", "-shm"] {
            let mut p = db.clone().into_os_string();
            p.push(suffix);
            db_bytes += file_len(Path::new(&p));
        }
        let (photo_bytes, photo_files) = dir_usage(&st.photo_dir());
        Ok(Settings {
            db_path: db.display().to_string(),
            db_bytes,
            photo_bytes,
            photo_files,
            pending_sync: st.outbox_len()?,
        })
    })
    .await
    .map(Json)
}

#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DemoSeeded {
    pub created: usize,
    pub me: Me,
}

/// The refusal of a device-local action that would act as someone other than the enrolled
/// user, or replace the city's reference data with the demo city's.
fn enrolled_device(user_id: &str, way_out: &str) -> BridgeError {
    BridgeError::Coded {
        status: StatusCode::FORBIDDEN,
        code: "enrolled_device".into(),
        message: format!("this device is enrolled for user {user_id}; {way_out}"),
    }
}

async fn demo_seed(State(s): State<AppState>) -> ApiResult<DemoSeeded> {
    s.run(|st| {
        // The demo city's users include the city office: seeding them over an enrolled
        // device's reference data would let whoever holds the phone act as them locally.
        if let Some(e) = st.enrollment()? {
            return Err(enrolled_device(
                &e.user_id,
                "the demo city is only for devices that are not enrolled",
            ));
        }
        let created = fieldcheck_core::demo::seed_demo(st)?;
        if st.current_user()?.is_none() {
            st.set_current_user(Some("usr-insp-1"))?;
        }
        Ok(DemoSeeded {
            created,
            me: me_of(st)?,
        })
    })
    .await
    .map(Json)
}

// ---------------------------------------------------------------- offline map

/// The office's online basemap and the offline map package on this device.
async fn map_package(State(s): State<AppState>) -> ApiResult<MapInfo> {
    s.run(|st| Ok(st.map_info()?)).await.map(Json)
}

/// The request body is an MBTiles file: streamed to a file beside the package, checked, and
/// made the package; a file that is not one is refused and the old package stays.
async fn map_package_import(State(s): State<AppState>, body: Body) -> ApiResult<MapPackage> {
    use tokio::io::AsyncWriteExt;
    let map = s.map.clone();
    let incoming = map.path().with_extension("mbtiles.incoming");
    let mut file = tokio::fs::File::create(&incoming)
        .await
        .map_err(CoreError::Io)?;
    let mut stream = body.into_data_stream();
    let mut written = 0usize;
    let copied: Result<(), BridgeError> = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                BridgeError::BadRequest(format!("the map package did not arrive whole: {e}"))
            })?;
            written += chunk.len();
            file.write_all(&chunk).await.map_err(CoreError::Io)?;
        }
        file.flush().await.map_err(CoreError::Io)?;
        if written == 0 {
            return Err(BridgeError::BadRequest(
                "the body must be the .mbtiles file itself; it was empty".into(),
            ));
        }
        Ok(())
    }
    .await;
    drop(file);
    let imported = match copied {
        Ok(()) => {
            let from = incoming.clone();
            blocking(move || map.import(&from)).await
        }
        Err(e) => Err(e),
    };
    let _ = tokio::fs::remove_file(&incoming).await;
    imported.map(Json)
}

#[derive(Deserialize)]
struct ConfirmArgs {
    #[serde(default)]
    confirm: bool,
}

/// Removes the package (asked for twice: the screen confirms first).
async fn map_package_remove(
    State(s): State<AppState>,
    Args(a): Args<ConfirmArgs>,
) -> ApiResult<Option<MapPackage>> {
    if !a.confirm {
        return Err(BridgeError::BadRequest(
            "removing the offline map needs confirm: true".into(),
        ));
    }
    let map = s.map.clone();
    blocking(move || map.remove().map(|()| None))
        .await
        .map(Json)
}

/// One tile of the package, `z/x/y` as Leaflet numbers them; 404 where the package has none
/// (the map then shows its grid there).
async fn tile_get(
    State(s): State<AppState>,
    UrlPath((z, x, y)): UrlPath<(u8, u32, u32)>,
) -> Result<Response, BridgeError> {
    let map = s.map.clone();
    let Some(tile) = blocking(move || map.tile(z, x, y)).await? else {
        return Err(CoreError::NotFound {
            what: "tile",
            id: format!("{z}/{x}/{y}"),
        }
        .into());
    };
    let mut res = (StatusCode::OK, tile.bytes).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(tile.content_type),
    );
    // A new package may replace these tiles: the map reloads them when it opens again.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(res)
}

/// A synchronous call off the async threads (not under the store's lock).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> fieldcheck_core::Result<T> + Send + 'static,
) -> Result<T, BridgeError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| BridgeError::Internal(e.to_string()))?
        .map_err(BridgeError::from)
}

// ---------------------------------------------------------------- photos

/// The request body is the photo file itself (JPEG, PNG, …). Returns the display-copy hash
/// that records refer to, and the EXIF position if the photo had one.
async fn photo_upload(State(s): State<AppState>, body: Bytes) -> ApiResult<PhotoInfo> {
    s.run(move |st| Ok(st.add_photo_bytes(&body)?))
        .await
        .map(Json)
}

async fn photo_get(
    State(s): State<AppState>,
    UrlPath((hash, size)): UrlPath<(String, String)>,
) -> Result<Response, BridgeError> {
    let path = s
        .run(move |st| {
            Ok(match size.as_str() {
                "display" => st.display_path(&hash)?,
                "thumb" => st.thumb_path(&hash)?,
                other => {
                    return Err(CoreError::NotFound {
                        what: "photo size",
                        id: other.into(),
                    }
                    .into());
                }
            })
        })
        .await?;
    let bytes = match tokio::fs::read(&path).await {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CoreError::NotFound {
                what: "photo",
                id: path.display().to_string(),
            }
            .into());
        }
        Err(e) => return Err(CoreError::Io(e).into()),
    };
    let mut res = (StatusCode::OK, bytes).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    // Content-addressed: a hash never changes what it names.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    Ok(res)
}
