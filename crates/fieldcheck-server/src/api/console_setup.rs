//! The console's city setup (issue 15), admins only: importing reference data (preview, then
//! apply as one new version), the template and export workbooks, users, enrollment codes,
//! devices and the audit of every change. Every rule is in `setup.rs` (the server's
//! subcommands call the same functions); these handlers check the caller and translate.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use fieldcheck_domain::role::Role;
use fieldcheck_protocol::ApiError;
use serde::Deserialize;
use utoipa::OpenApi;
use uuid::Uuid;

use super::console::ConsoleCaller;
use super::{ApiJson, AppState, LocalAddr, St, read_body};
use crate::error::ServerError;
use crate::setup::{self, MAX_IMPORT_BYTES, SetupError};
use fieldcheck_protocol::console::setup::{
    AuditEntry, AuditPage, DeviceRow, EnrollCode, EnrollCodeRequest, ImportApplied, ImportPreview,
    ImportRefused, PasswordRequest, PasswordReset, RevokedDevice, UserInput, UserRow,
};

#[derive(OpenApi)]
#[openapi(
    paths(
        import_preview,
        import_apply,
        template,
        export,
        users,
        user_add,
        user_edit,
        user_disable,
        user_enable,
        user_reset_password,
        user_enroll_code,
        devices,
        device_revoke,
        audit
    ),
    components(schemas(
        ImportPreview,
        ImportApplied,
        UserRow,
        DeviceRow,
        UserInput,
        EnrollCode,
        EnrollCodeRequest,
        PasswordRequest,
        PasswordReset,
        RevokedDevice,
        AuditEntry,
        AuditPage,
        ImportRefused
    ))
)]
pub(super) struct Api;

/// This module's routes, under `/api/v1` behind the console's same-origin check.
pub(super) fn routes() -> Router<Arc<AppState>> {
    // The import's own limit, above the API's JSON limit (the handler answers 413 itself).
    let upload = || DefaultBodyLimit::max(MAX_IMPORT_BYTES + 1);
    Router::new()
        .route(
            "/console/setup/import/preview",
            post(import_preview).layer(upload()),
        )
        .route(
            "/console/setup/import/apply",
            post(import_apply).layer(upload()),
        )
        .route("/console/setup/template.xlsx", get(template))
        .route("/console/setup/export.xlsx", get(export))
        .route("/console/setup/users", get(users).post(user_add))
        .route("/console/setup/users/{id}", post(user_edit))
        .route("/console/setup/users/{id}/disable", post(user_disable))
        .route("/console/setup/users/{id}/enable", post(user_enable))
        .route(
            "/console/setup/users/{id}/reset-password",
            post(user_reset_password),
        )
        .route(
            "/console/setup/users/{id}/enroll-code",
            post(user_enroll_code),
        )
        .route("/console/setup/devices", get(devices))
        .route("/console/setup/devices/{id}/revoke", post(device_revoke))
        .route("/console/setup/audit", get(audit))
}

/// Errors of this module: the server's own, or a setup refusal.
pub(super) enum SetupFailure {
    Server(ServerError),
    Setup(SetupError),
}

impl From<ServerError> for SetupFailure {
    fn from(e: ServerError) -> Self {
        SetupFailure::Server(e)
    }
}

impl From<SetupError> for SetupFailure {
    fn from(e: SetupError) -> Self {
        match e {
            SetupError::Store(s) => SetupFailure::Server(ServerError::Store(s)),
            e => SetupFailure::Setup(e),
        }
    }
}

impl IntoResponse for SetupFailure {
    fn into_response(self) -> Response {
        let e = match self {
            SetupFailure::Server(e) => return e.into_response(),
            SetupFailure::Setup(e) => e,
        };
        let status = match &e {
            SetupError::Unreadable(_)
            | SetupError::InvalidUser(_)
            | SetupError::InvalidPoint(_)
            | SetupError::InvalidCalendar(_)
            | SetupError::InvalidCategory(_) => StatusCode::BAD_REQUEST,
            SetupError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            SetupError::VersionChanged { .. }
            | SetupError::UserExists(_)
            | SetupError::PointExists(_) => StatusCode::CONFLICT,
            SetupError::UnknownUser(_)
            | SetupError::UnknownPoint(_)
            | SetupError::UnknownCategory(_) => StatusCode::NOT_FOUND,
            SetupError::SelfLockout(_) => StatusCode::FORBIDDEN,
            SetupError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let (code, message) = (e.code().to_owned(), e.to_string());
        match e {
            SetupError::Invalid(errors) => (
                status,
                Json(ImportRefused {
                    error: ApiError { code, message },
                    errors,
                }),
            )
                .into_response(),
            _ => (status, Json(ApiError { code, message })).into_response(),
        }
    }
}

pub(super) type SetupResult<T> = Result<T, SetupFailure>;

/// Setup is the office's (admins).
pub(super) fn admin(caller: &ConsoleCaller) -> Result<(), ServerError> {
    if caller.user.role == Role::Admin {
        Ok(())
    } else {
        Err(ServerError::Forbidden(format!(
            "setting up the city is for the office (admin); you are {}",
            caller.user.role.as_str()
        )))
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct ImportQuery {
    /// The file's name: its extension says the format (`.xlsx`, `.csv`, `.json`) and, for a
    /// CSV file, its name the kind (`points.csv`, `点位.csv`).
    filename: String,
    /// Apply only: the `base_version` of the preview (409 `reference_changed` when the
    /// reference data moved since).
    base_version: Option<u64>,
}

async fn upload(req: Request) -> Result<axum::body::Bytes, ServerError> {
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && len > MAX_IMPORT_BYTES
    {
        return Err(ServerError::TooLarge(MAX_IMPORT_BYTES));
    }
    let body = read_body(req, &(), ServerError::TooLarge(MAX_IMPORT_BYTES)).await?;
    if body.len() > MAX_IMPORT_BYTES {
        return Err(ServerError::TooLarge(MAX_IMPORT_BYTES));
    }
    Ok(body)
}

pub(super) fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ServerError> {
    q.map(|Query(q)| q)
        .map_err(|e| ServerError::Malformed(e.body_text()))
}

#[utoipa::path(
    post,
    path = "/api/v1/console/setup/import/preview",
    tag = "console",
    params(ImportQuery),
    request_body(content = Vec<u8>, description = "The file as it is (XLSX, CSV in UTF-8 or GBK, JSON), at most 16 MiB", content_type = "application/octet-stream"),
    responses(
        (status = 200, description = "What the import would do: every error (sheet, row, column, zh and en) and the ids added, changed and deactivated per kind; nothing changed", body = ImportPreview),
        (status = 400, description = "Bad query, or a file type that is not .xlsx, .csv or .json (`malformed_request`, `import_unreadable`)", body = ApiError),
        (status = 401, description = "Not signed in (`not_signed_in`, `session_expired`, `user_disabled`)", body = ApiError),
        (status = 403, description = "Not an admin (`forbidden`), no CSRF token or another site (`csrf_rejected`)", body = ApiError),
        (status = 413, description = "Larger than 16 MiB (`too_large`)", body = ApiError),
    ),
    security(("console_session" = [], "console_csrf" = []))
)]
pub(super) async fn import_preview(
    State(state): St,
    caller: ConsoleCaller,
    q: Result<Query<ImportQuery>, QueryRejection>,
    req: Request,
) -> SetupResult<Json<ImportPreview>> {
    admin(&caller)?;
    let q = query(q)?;
    let format = setup::format_of(&q.filename)?;
    let body = upload(req).await?;
    let (preview, _) =
        setup::preview(state.store.as_ref(), &body, format, Some(&q.filename)).await?;
    Ok(Json(preview))
}

#[utoipa::path(
    post,
    path = "/api/v1/console/setup/import/apply",
    tag = "console",
    params(ImportQuery),
    request_body(content = Vec<u8>, description = "The same file as previewed", content_type = "application/octet-stream"),
    responses(
        (status = 200, description = "Applied as one new reference version (devices get it on their next sync), or nothing to change (`changed: false`)", body = ImportApplied),
        (status = 400, description = "Bad query or file type (`malformed_request`, `import_unreadable`)", body = ApiError),
        (status = 401, description = "Not signed in (`not_signed_in`, `session_expired`, `user_disabled`)", body = ApiError),
        (status = 403, description = "Not an admin (`forbidden`), no CSRF token or another site (`csrf_rejected`)", body = ApiError),
        (status = 409, description = "The reference data changed since the preview (`reference_changed`): nothing changed", body = ApiError),
        (status = 413, description = "Larger than 16 MiB (`too_large`)", body = ApiError),
        (status = 422, description = "The file has errors (`import_invalid`, each listed): nothing changed", body = ImportRefused),
    ),
    security(("console_session" = [], "console_csrf" = []))
)]
pub(super) async fn import_apply(
    State(state): St,
    caller: ConsoleCaller,
    q: Result<Query<ImportQuery>, QueryRejection>,
    req: Request,
) -> SetupResult<Json<ImportApplied>> {
    admin(&caller)?;
    let q = query(q)?;
    let format = setup::format_of(&q.filename)?;
    let body = upload(req).await?;
    let applied = setup::apply(
        state.store.as_ref(),
        &caller.user.id,
        &body,
        format,
        Some(&q.filename),
        q.base_version,
    )
    .await?;
    Ok(Json(applied))
}

fn xlsx(name: &str, bytes: Vec<u8>) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_owned(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

#[utoipa::path(
    get,
    path = "/api/v1/console/setup/template.xlsx",
    tag = "console",
    responses(
        (status = 200, description = "The template workbook: a sheet per kind with Chinese column titles and one example row, and a sheet 说明 explaining each column", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Not an admin (`forbidden`)", body = ApiError),
    ),
    security(("console_session" = []))
)]
pub(super) async fn template(caller: ConsoleCaller) -> SetupResult<Response> {
    admin(&caller)?;
    Ok(xlsx(
        "fieldcheck-template.xlsx",
        setup::template_workbook()?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/console/setup/export.xlsx",
    tag = "console",
    responses(
        (status = 200, description = "The current reference data as the template's workbook (importing it back changes nothing)", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Not an admin (`forbidden`)", body = ApiError),
    ),
    security(("console_session" = []))
)]
pub(super) async fn export(State(state): St, caller: ConsoleCaller) -> SetupResult<Response> {
    admin(&caller)?;
    let (version, bytes) = setup::export_workbook(state.store.as_ref()).await?;
    Ok(xlsx(
        &format!("fieldcheck-reference-v{version}.xlsx"),
        bytes,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/console/setup/users",
    tag = "console",
    responses(
        (status = 200, description = "Every user with role, unit, districts, phone, state and devices (last sync)", body = Vec<UserRow>),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Not an admin (`forbidden`)", body = ApiError),
    ),
    security(("console_session" = []))
)]
pub(super) async fn users(
    State(state): St,
    caller: ConsoleCaller,
) -> SetupResult<Json<Vec<UserRow>>> {
    admin(&caller)?;
    Ok(Json(setup::list_users(state.store.as_ref()).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/console/setup/users",
    tag = "console",
    request_body = UserInput,
    responses(
        (status = 200, description = "Added to the reference data (a new version)", body = UserRow),
        (status = 400, description = "A field that does not hold (`invalid_user`, `malformed_request`)", body = ApiError),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Not an admin, no CSRF token, another site", body = ApiError),
        (status = 409, description = "The id is taken (`user_exists`)", body = ApiError),
    ),
    security(("console_session" = [], "console_csrf" = []))
)]
pub(super) async fn user_add(
    State(state): St,
    caller: ConsoleCaller,
    ApiJson(input): ApiJson<UserInput>,
) -> SetupResult<Json<UserRow>> {
    admin(&caller)?;
    Ok(Json(
        setup::add_user(state.store.as_ref(), &caller.user.id, input).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/console/setup/users/{id}",
    tag = "console",
    params(("id" = String, Path, description = "The user's id")),
    request_body = UserInput,
    responses(
        (status = 200, description = "Changed (a new reference version when a field changed)", body = UserRow),
        (status = 400, description = "A field that does not hold, or a different `id` (`invalid_user`)", body = ApiError),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Not an admin, no CSRF token, another site, or taking the admin role from yourself (`self_lockout`)", body = ApiError),
        (status = 404, description = "No such user in the reference data (`unknown_user`)", body = ApiError),
        (status = 409, description = "The reference data changed meanwhile (`reference_changed`): try again", body = ApiError),
    ),
    security(("console_session" = [], "console_csrf" = []))
)]
pub(super) async fn user_edit(
    State(state): St,
    caller: ConsoleCaller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<UserInput>,
) -> SetupResult<Json<UserRow>> {
    admin(&caller)?;
    Ok(Json(
        setup::edit_user(state.store.as_ref(), &caller.user.id, &id, input).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/console/setup/users/{id}/disable",
    tag = "console",
    params(("id" = String, Path, description = "The user's id")),
    responses(
        (status = 200, description = "Disabled: every token of the user answers 401 `user_disabled` from the next request", body = UserRow),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Not an admin, no CSRF token, another site, or yourself (`self_lockout`)", body = ApiError),
        (status = 404, description = "No such user (`unknown_user`)", body = ApiError),
    ),
    security(("console_session" = [], "console_csrf" = []))
)]
pub(super) async fn user_disable(
    State(state): St,
    caller: ConsoleCaller,
    Path(id): Path<String>,
) -> SetupResult<Json<UserRow>> {
    admin(&caller)?;
    Ok(Json(
        setup::set_disabled(state.store.as_ref(), &caller.user.id, &id, true).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/console/setup/users/{id}/enable",
    tag = "console",
    params(("id" = String, Path, description = "The user's id")),
    responses(
        (status = 200, description = "Enabled again", body = UserRow),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Not an admin, no CSRF token, another site", body = ApiError),
        (status = 404, description = "No such user (`unknown_user`)", body = ApiError),
    ),
    security(("console_session" = [], "console_csrf" = []))
)]
pub(super) async fn user_enable(
    State(state): St,
    caller: ConsoleCaller,
    Path(id): Path<String>,
) -> SetupResult<Json<UserRow>> {
    admin(&caller)?;
    Ok(Json(
        setup::set_disabled(state.store.as_ref(), &caller.user.id, &id, false).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/console/setup/users/{id}/reset-password",
    tag = "console",
    params(("id" = String, Path, description = "The user's id")),
    request_body = PasswordRequest,
    responses(
        (status = 200, description = "The new password (shown only now)", body = PasswordReset),
        (status = 400, description = "A password under 8 characters (`invalid_user`)", body = ApiError),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Not an admin, no CSRF token, another site", body = ApiError),
        (status = 404, description = "No such user (`unknown_user`)", body = ApiError),
    ),
    security(("console_session" = [], "console_csrf" = []))
)]
pub(super) async fn user_reset_password(
    State(state): St,
    caller: ConsoleCaller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<PasswordRequest>,
) -> SetupResult<Json<PasswordReset>> {
    admin(&caller)?;
    let password =
        setup::reset_password(state.store.as_ref(), &caller.user.id, &id, req.password).await?;
    Ok(Json(PasswordReset {
        user_id: id,
        password,
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/console/setup/users/{id}/enroll-code",
    tag = "console",
    params(("id" = String, Path, description = "The user's id")),
    request_body = EnrollCodeRequest,
    responses(
        (status = 200, description = "A one-time enrollment code with its QR code (SVG), shown only now; the QR names `public_url`, or without it this server's own address (never the Host header)", body = EnrollCode),
        (status = 400, description = "Bad TTL, or a disabled or removed user (`invalid_user`)", body = ApiError),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Not an admin, no CSRF token, another site", body = ApiError),
        (status = 404, description = "No such user (`unknown_user`)", body = ApiError),
    ),
    security(("console_session" = [], "console_csrf" = []))
)]
pub(super) async fn user_enroll_code(
    State(state): St,
    caller: ConsoleCaller,
    local: Option<Extension<LocalAddr>>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<EnrollCodeRequest>,
) -> SetupResult<Json<EnrollCode>> {
    admin(&caller)?;
    let server = if state.config.public_url.is_empty() {
        match local {
            Some(Extension(LocalAddr(addr))) => format!("http://{addr}"),
            None => format!("http://{}", state.config.bind),
        }
    } else {
        state.config.public_url.clone()
    };
    Ok(Json(
        setup::issue_enroll_code(
            state.store.as_ref(),
            &caller.user.id,
            &id,
            req.ttl_minutes,
            &server,
        )
        .await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/console/setup/devices",
    tag = "console",
    responses(
        (status = 200, description = "Every enrolled device (user, name, tag, enrolled, last sync, revoked)", body = Vec<DeviceRow>),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Not an admin (`forbidden`)", body = ApiError),
    ),
    security(("console_session" = []))
)]
pub(super) async fn devices(
    State(state): St,
    caller: ConsoleCaller,
) -> SetupResult<Json<Vec<DeviceRow>>> {
    admin(&caller)?;
    Ok(Json(setup::devices(state.store.as_ref()).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/console/setup/devices/{id}/revoke",
    tag = "console",
    params(("id" = String, Path, description = "The device id (UUID)", format = Uuid)),
    responses(
        (status = 200, description = "Every token of the device stopped working (its next request answers 401 `token_revoked`)", body = RevokedDevice),
        (status = 400, description = "Not a UUID (`malformed_request`)", body = ApiError),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Not an admin, no CSRF token, another site", body = ApiError),
    ),
    security(("console_session" = [], "console_csrf" = []))
)]
pub(super) async fn device_revoke(
    State(state): St,
    caller: ConsoleCaller,
    Path(id): Path<String>,
) -> SetupResult<Json<RevokedDevice>> {
    admin(&caller)?;
    let device = Uuid::parse_str(&id)
        .map_err(|e| ServerError::Malformed(format!("device id {id:?} is not a UUID: {e}")))?;
    let revoked = setup::revoke_device(state.store.as_ref(), &caller.user.id, device).await?;
    Ok(Json(RevokedDevice {
        device_id: device.to_string(),
        revoked,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct AuditQuery {
    /// 1 to 200 (default 50).
    limit: Option<u32>,
    offset: Option<u64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/console/setup/audit",
    tag = "console",
    params(AuditQuery),
    responses(
        (status = 200, description = "Setup changes, newest first: who, when, what, before and after", body = AuditPage),
        (status = 400, description = "Bad query (`malformed_request`)", body = ApiError),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Not an admin (`forbidden`)", body = ApiError),
    ),
    security(("console_session" = []))
)]
pub(super) async fn audit(
    State(state): St,
    caller: ConsoleCaller,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> SetupResult<Json<AuditPage>> {
    admin(&caller)?;
    let q = query(q)?;
    Ok(Json(
        setup::audit_page(
            state.store.as_ref(),
            q.limit.unwrap_or(50),
            q.offset.unwrap_or(0),
        )
        .await?,
    ))
}
