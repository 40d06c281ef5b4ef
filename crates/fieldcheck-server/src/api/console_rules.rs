//! The console's screens of the city's rules (issue 15), admins only: the work calendar, the
//! categories' deadline rules (`setup::deadlines`) and the checklist templates (read here;
//! a new version comes by import).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use fieldcheck_domain::calendar::{WorkCalendar, WorkPeriod};
use fieldcheck_domain::category::{Category, DeadlineRule, DeadlineUnit};
use fieldcheck_domain::checklist::ChecklistTemplate;
use fieldcheck_protocol::ApiError;
use fieldcheck_protocol::console::setup::CalendarPage;
use utoipa::OpenApi;

use super::console::ConsoleCaller;
use super::console_setup::{SetupResult, admin};
use super::{ApiJson, AppState, St};
use crate::setup::{self, deadlines};

#[derive(OpenApi)]
#[openapi(
    paths(calendar, set_calendar, categories, set_deadline, templates),
    components(schemas(
        CalendarPage,
        WorkCalendar,
        WorkPeriod,
        Category,
        DeadlineRule,
        DeadlineUnit,
        ChecklistTemplate
    ))
)]
pub(super) struct Api;

/// This module's routes, under `/api/v1` behind the console's same-origin check.
pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/console/setup/calendar", get(calendar).post(set_calendar))
        .route("/console/setup/categories", get(categories))
        .route(
            "/console/setup/categories/{code}/deadline",
            post(set_deadline),
        )
        .route("/console/setup/templates", get(templates))
}

#[utoipa::path(
    get,
    path = "/api/v1/console/setup/templates",
    tag = "console",
    responses(
        (status = 200, description = "Every checklist template version, by id and newest version first; stored versions never change (a new one comes by import), and an inspection finishes on the version it started with", body = Vec<ChecklistTemplate>),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Not an admin (`forbidden`)", body = ApiError),
    ),
    security(("console_session" = []))
)]
pub(super) async fn templates(
    State(state): St,
    caller: ConsoleCaller,
) -> SetupResult<Json<Vec<ChecklistTemplate>>> {
    admin(&caller)?;
    Ok(Json(setup::templates(state.store.as_ref()).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/console/setup/calendar",
    tag = "console",
    responses(
        (status = 200, description = "The city's work calendar, or the built-in one (`set: false`)", body = CalendarPage),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Not an admin (`forbidden`)", body = ApiError),
    ),
    security(("console_session" = []))
)]
pub(super) async fn calendar(
    State(state): St,
    caller: ConsoleCaller,
) -> SetupResult<Json<CalendarPage>> {
    admin(&caller)?;
    Ok(Json(deadlines::calendar(state.store.as_ref()).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/console/setup/calendar",
    tag = "console",
    request_body = WorkCalendar,
    responses(
        (status = 200, description = "Stored as a new reference version (when it changed); deadlines of later dispatches use it, dispatched cases keep theirs", body = CalendarPage),
        (status = 400, description = "A calendar that does not hold: no or overlapping periods, a weekday outside 1–7, a day both a holiday and a make-up working day (`invalid_calendar`, `malformed_request`)", body = ApiError),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Not an admin, no CSRF token, another site", body = ApiError),
        (status = 409, description = "The reference data changed meanwhile (`reference_changed`): try again", body = ApiError),
    ),
    security(("console_session" = [], "console_csrf" = []))
)]
pub(super) async fn set_calendar(
    State(state): St,
    caller: ConsoleCaller,
    ApiJson(calendar): ApiJson<WorkCalendar>,
) -> SetupResult<Json<CalendarPage>> {
    admin(&caller)?;
    Ok(Json(
        deadlines::set_calendar(state.store.as_ref(), &caller.user.id, calendar).await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/console/setup/categories",
    tag = "console",
    responses(
        (status = 200, description = "The city's categories with their deadline rules, by code", body = Vec<Category>),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Not an admin (`forbidden`)", body = ApiError),
    ),
    security(("console_session" = []))
)]
pub(super) async fn categories(
    State(state): St,
    caller: ConsoleCaller,
) -> SetupResult<Json<Vec<Category>>> {
    admin(&caller)?;
    Ok(Json(deadlines::categories(state.store.as_ref()).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/console/setup/categories/{code}/deadline",
    tag = "console",
    params(("code" = String, Path, description = "The category's code (a minor class, e.g. `SR-02`)")),
    request_body = DeadlineRule,
    responses(
        (status = 200, description = "The category with its new rule (a new reference version); dispatched cases keep their deadline", body = Category),
        (status = 400, description = "An amount outside 1–366 or an unknown unit (`invalid_category`, `malformed_request`)", body = ApiError),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Not an admin, no CSRF token, another site", body = ApiError),
        (status = 404, description = "No such category (`unknown_category`)", body = ApiError),
        (status = 409, description = "The reference data changed meanwhile (`reference_changed`): try again", body = ApiError),
    ),
    security(("console_session" = [], "console_csrf" = []))
)]
pub(super) async fn set_deadline(
    State(state): St,
    caller: ConsoleCaller,
    Path(code): Path<String>,
    ApiJson(rule): ApiJson<DeadlineRule>,
) -> SetupResult<Json<Category>> {
    admin(&caller)?;
    Ok(Json(
        deadlines::set_deadline(state.store.as_ref(), &caller.user.id, &code, rule).await?,
    ))
}
