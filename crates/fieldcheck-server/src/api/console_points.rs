//! The console's points screen (issue 15), admins only: the city's points with filters, add,
//! edit and move, deactivate and activate again. The rules are in `setup::points`.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use fieldcheck_domain::reference::{Point, PointType};
use fieldcheck_protocol::ApiError;
use fieldcheck_protocol::console::setup::{PointInput, PointPage};
use serde::Deserialize;
use utoipa::OpenApi;

use super::console::ConsoleCaller;
use super::console_setup::{SetupResult, admin, query};
use super::{ApiJson, AppState, St};
use crate::setup::points::{self, MAX_PAGE, PointFilter};

#[derive(OpenApi)]
#[openapi(
    paths(list, add, edit, deactivate, activate),
    components(schemas(PointInput, PointPage, Point))
)]
pub(super) struct Api;

/// This module's routes, under `/api/v1` behind the console's same-origin check.
pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/console/setup/points", get(list).post(add))
        .route("/console/setup/points/{id}", post(edit))
        .route("/console/setup/points/{id}/deactivate", post(deactivate))
        .route("/console/setup/points/{id}/activate", post(activate))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct PointQuery {
    /// This district and every district below it.
    district_id: Option<String>,
    point_type: Option<PointType>,
    /// The territorial unit or one of the sector units.
    unit_id: Option<String>,
    active: Option<bool>,
    /// Part of the id, name or address.
    q: Option<String>,
    /// 1 to 20,000 (default 50).
    limit: Option<u32>,
    offset: Option<u64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/console/setup/points",
    tag = "console",
    params(PointQuery),
    responses(
        (status = 200, description = "The points matching the filter, by id, inactive ones included unless `active` says otherwise", body = PointPage),
        (status = 400, description = "Bad query (`malformed_request`)", body = ApiError),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Not an admin (`forbidden`)", body = ApiError),
    ),
    security(("console_session" = []))
)]
pub(super) async fn list(
    State(state): St,
    caller: ConsoleCaller,
    q: Result<Query<PointQuery>, QueryRejection>,
) -> SetupResult<Json<PointPage>> {
    admin(&caller)?;
    let q = query(q)?;
    let filter = PointFilter {
        district_id: q.district_id,
        point_type: q.point_type,
        unit_id: q.unit_id,
        active: q.active,
        q: q.q,
    };
    Ok(Json(
        points::list(
            state.store.as_ref(),
            &filter,
            q.limit.unwrap_or(50).min(MAX_PAGE),
            q.offset.unwrap_or(0),
        )
        .await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/console/setup/points",
    tag = "console",
    request_body = PointInput,
    responses(
        (status = 200, description = "Added to the reference data (a new version; devices get it on their next sync)", body = Point),
        (status = 400, description = "A field that does not hold: missing type, place or district, unknown district or unit, a place outside WGS-84, formula text (`invalid_point`, `malformed_request`)", body = ApiError),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Not an admin, no CSRF token, another site", body = ApiError),
        (status = 409, description = "The id is taken (`point_exists`), or the reference data changed meanwhile (`reference_changed`)", body = ApiError),
    ),
    security(("console_session" = [], "console_csrf" = []))
)]
pub(super) async fn add(
    State(state): St,
    caller: ConsoleCaller,
    ApiJson(input): ApiJson<PointInput>,
) -> SetupResult<Json<Point>> {
    admin(&caller)?;
    Ok(Json(
        points::add(state.store.as_ref(), &caller.user.id, input).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/console/setup/points/{id}",
    tag = "console",
    params(("id" = String, Path, description = "The point's id")),
    request_body = PointInput,
    responses(
        (status = 200, description = "Changed (a new reference version when a field changed); moving the pin is a new `location`", body = Point),
        (status = 400, description = "A field that does not hold, or a different `id` (`invalid_point`)", body = ApiError),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Not an admin, no CSRF token, another site", body = ApiError),
        (status = 404, description = "No such point (`unknown_point`)", body = ApiError),
        (status = 409, description = "The reference data changed meanwhile (`reference_changed`): try again", body = ApiError),
    ),
    security(("console_session" = [], "console_csrf" = []))
)]
pub(super) async fn edit(
    State(state): St,
    caller: ConsoleCaller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<PointInput>,
) -> SetupResult<Json<Point>> {
    admin(&caller)?;
    Ok(Json(
        points::edit(state.store.as_ref(), &caller.user.id, &id, input).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/console/setup/points/{id}/deactivate",
    tag = "console",
    params(("id" = String, Path, description = "The point's id")),
    responses(
        (status = 200, description = "Deactivated: devices stop offering it for new work from their next sync; records made there, and work still pending on devices, keep it", body = Point),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Not an admin, no CSRF token, another site", body = ApiError),
        (status = 404, description = "No such point (`unknown_point`)", body = ApiError),
        (status = 409, description = "The reference data changed meanwhile (`reference_changed`): try again", body = ApiError),
    ),
    security(("console_session" = [], "console_csrf" = []))
)]
pub(super) async fn deactivate(
    State(state): St,
    caller: ConsoleCaller,
    Path(id): Path<String>,
) -> SetupResult<Json<Point>> {
    admin(&caller)?;
    Ok(Json(
        points::set_active(state.store.as_ref(), &caller.user.id, &id, false).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/console/setup/points/{id}/activate",
    tag = "console",
    params(("id" = String, Path, description = "The point's id")),
    responses(
        (status = 200, description = "Active again", body = Point),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Not an admin, no CSRF token, another site", body = ApiError),
        (status = 404, description = "No such point (`unknown_point`)", body = ApiError),
        (status = 409, description = "The reference data changed meanwhile (`reference_changed`): try again", body = ApiError),
    ),
    security(("console_session" = [], "console_csrf" = []))
)]
pub(super) async fn activate(
    State(state): St,
    caller: ConsoleCaller,
    Path(id): Path<String>,
) -> SetupResult<Json<Point>> {
    admin(&caller)?;
    Ok(Json(
        points::set_active(state.store.as_ref(), &caller.user.id, &id, true).await?,
    ))
}
