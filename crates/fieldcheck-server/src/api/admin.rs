//! Office endpoints (admin role only): issuing enrollment codes and rendering them as QR codes;
//! revoking devices and users' tokens, disabling and enabling users.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use fieldcheck_domain::role::Role;
use fieldcheck_protocol::sync::{
    CreateEnrollCodeRequest, CreateEnrollCodeResponse, RevokeResponse, UserAccess,
};
use uuid::Uuid;

use super::{ApiJson, Caller, LocalAddr, St, now_ms};
use crate::auth;
use crate::error::ServerError;
use crate::qr;

/// Longest lifetime of an issued code: a code is a password for one device, so it should not
/// lie around on paper for months.
pub const MAX_CODE_TTL_MINUTES: u32 = 30 * 24 * 60;

fn require_admin(caller: &Caller) -> Result<(), ServerError> {
    if caller.user.role == Role::Admin {
        Ok(())
    } else {
        Err(ServerError::Forbidden(format!(
            "only the office (admin) may do this; you are {}",
            caller.user.role.as_str()
        )))
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/enroll-codes",
    tag = "admin",
    request_body = CreateEnrollCodeRequest,
    responses(
        (status = 200, description = "A new one-time code (shown only now)", body = CreateEnrollCodeResponse),
        (status = 400, description = "Bad TTL or body", body = fieldcheck_protocol::ApiError),
        (status = 403, description = "Caller is not an admin", body = fieldcheck_protocol::ApiError),
        (status = 404, description = "Unknown user", body = fieldcheck_protocol::ApiError),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create_enroll_code(
    State(state): St,
    caller: Caller,
    ApiJson(req): ApiJson<CreateEnrollCodeRequest>,
) -> Result<axum::Json<CreateEnrollCodeResponse>, ServerError> {
    require_admin(&caller)?;
    if req.ttl_minutes == 0 || req.ttl_minutes > MAX_CODE_TTL_MINUTES {
        return Err(ServerError::Malformed(format!(
            "ttl_minutes must be between 1 and {MAX_CODE_TTL_MINUTES}, got {}",
            req.ttl_minutes
        )));
    }
    if state.store.user(&req.user_id).await?.is_none() {
        return Err(ServerError::NotFound(format!("user {}", req.user_id)));
    }
    let code = auth::new_enroll_code();
    let expires_at_ms = now_ms() + i64::from(req.ttl_minutes) * 60_000;
    state
        .store
        .create_enroll_code(
            &auth::hash_secret(&auth::normalize_enroll_code(&code)),
            &req.user_id,
            expires_at_ms,
        )
        .await?;
    Ok(axum::Json(CreateEnrollCodeResponse {
        qr_svg: format!("/api/v1/admin/enroll-codes/{code}/qr.svg"),
        qr_png: format!("/api/v1/admin/enroll-codes/{code}/qr.png"),
        code,
        user_id: req.user_id,
        expires_at_ms,
    }))
}

/// The payload of a code's QR image, after checking the code is still redeemable (a QR of a
/// dead code would only waste a field worker's trip).
async fn qr_payload(
    state: &super::AppState,
    local: Option<LocalAddr>,
    code: &str,
) -> Result<String, ServerError> {
    let normalized = auth::normalize_enroll_code(code);
    if normalized.is_empty() || normalized.len() > 64 {
        return Err(ServerError::NotFound("enrollment code".to_owned()));
    }
    state
        .store
        .enroll_code_user(&auth::hash_secret(&normalized), now_ms())
        .await?
        .ok_or_else(|| {
            ServerError::NotFound("enrollment code (unknown, expired or used)".to_owned())
        })?;
    // Never the Host header: whoever asks chooses it, and the QR would send a field worker's
    // device (and its records and photos) to that server. The address this connection reached
    // is the server's own; behind a proxy `public_url` names the right one.
    let server = if state.config.public_url.is_empty() {
        match local {
            Some(LocalAddr(addr)) => format!("http://{addr}"),
            None => format!("http://{}", state.config.bind),
        }
    } else {
        state.config.public_url.clone()
    };
    Ok(qr::enroll_uri(&server, code))
}

#[utoipa::path(
    get,
    path = "/api/v1/admin/enroll-codes/{code}/qr.svg",
    tag = "admin",
    params(("code" = String, Path, description = "The enrollment code as issued")),
    responses(
        (status = 200, description = "QR code (SVG) of `fieldcheck://enroll?server=…&code=…`; `server` is `public_url`, or without it this server's own address on the connection (never the Host header)", content_type = "image/svg+xml", body = String),
        (status = 403, description = "Caller is not an admin", body = fieldcheck_protocol::ApiError),
        (status = 404, description = "Unknown, expired or used code", body = fieldcheck_protocol::ApiError),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn enroll_qr_svg(
    State(state): St,
    caller: Caller,
    local: Option<Extension<LocalAddr>>,
    Path(code): Path<String>,
) -> Result<Response, ServerError> {
    require_admin(&caller)?;
    let payload = qr_payload(&state, local.map(|Extension(l)| l), &code).await?;
    let svg = qr::svg(&payload).map_err(|e| ServerError::Malformed(e.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        svg,
    )
        .into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/admin/enroll-codes/{code}/qr.png",
    tag = "admin",
    params(("code" = String, Path, description = "The enrollment code as issued")),
    responses(
        (status = 200, description = "QR code (PNG)", content_type = "image/png", body = Vec<u8>),
        (status = 403, description = "Caller is not an admin", body = fieldcheck_protocol::ApiError),
        (status = 404, description = "Unknown, expired or used code", body = fieldcheck_protocol::ApiError),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn enroll_qr_png(
    State(state): St,
    caller: Caller,
    local: Option<Extension<LocalAddr>>,
    Path(code): Path<String>,
) -> Result<Response, ServerError> {
    require_admin(&caller)?;
    let payload = qr_payload(&state, local.map(|Extension(l)| l), &code).await?;
    let png = qr::png(&payload).map_err(|e| ServerError::Malformed(e.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        png,
    )
        .into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/devices/{device_id}/revoke",
    tag = "admin",
    params(("device_id" = Uuid, Path, description = "The device id it enrolled with (UUID)")),
    responses(
        (status = 200, description = "Every token of the device stopped working (its next request answers 401 `token_revoked`); the device may be enrolled again, also for another user", body = RevokeResponse),
        (status = 400, description = "`device_id` is not a UUID (`malformed_request`)", body = fieldcheck_protocol::ApiError),
        (status = 403, description = "Caller is not an admin", body = fieldcheck_protocol::ApiError),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn revoke_device(
    State(state): St,
    caller: Caller,
    Path(device_id): Path<String>,
) -> Result<axum::Json<RevokeResponse>, ServerError> {
    require_admin(&caller)?;
    let device_id = Uuid::parse_str(&device_id).map_err(|e| {
        ServerError::Malformed(format!("device_id {device_id:?} is not a UUID: {e}"))
    })?;
    let revoked = state.store.revoke_device(device_id, now_ms()).await?;
    Ok(axum::Json(RevokeResponse { revoked }))
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/users/{user_id}/revoke",
    tag = "admin",
    params(("user_id" = String, Path, description = "The user's id")),
    responses(
        (status = 200, description = "Every token of the user (devices and sessions) stopped working; the user may still sign in or enroll again", body = RevokeResponse),
        (status = 403, description = "Caller is not an admin", body = fieldcheck_protocol::ApiError),
        (status = 404, description = "Unknown user", body = fieldcheck_protocol::ApiError),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn revoke_user(
    State(state): St,
    caller: Caller,
    Path(user_id): Path<String>,
) -> Result<axum::Json<RevokeResponse>, ServerError> {
    require_admin(&caller)?;
    if state.store.user(&user_id).await?.is_none() {
        return Err(ServerError::NotFound(format!("user {user_id}")));
    }
    let revoked = state.store.revoke_user(&user_id, now_ms()).await?;
    Ok(axum::Json(RevokeResponse { revoked }))
}

async fn set_disabled(
    state: &super::AppState,
    caller: &Caller,
    user_id: &str,
    disabled: bool,
) -> Result<axum::Json<UserAccess>, ServerError> {
    require_admin(caller)?;
    if disabled && caller.user.id == user_id {
        // The office would lock itself out with no one left to undo it.
        return Err(ServerError::Forbidden(
            "you cannot disable yourself; another admin can".to_owned(),
        ));
    }
    let user = state
        .store
        .set_user_disabled(user_id, disabled, now_ms())
        .await?
        .ok_or_else(|| ServerError::NotFound(format!("user {user_id}")))?;
    Ok(axum::Json(UserAccess {
        user_id: user.user.id,
        disabled: user.disabled,
        removed: user.removed,
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/users/{user_id}/disable",
    tag = "admin",
    params(("user_id" = String, Path, description = "The user's id")),
    responses(
        (status = 200, description = "Disabled: every token of the user answers 401 `user_disabled` from the next request, sign-in and enrollment are refused; tokens are kept, so enabling restores them", body = UserAccess),
        (status = 403, description = "Caller is not an admin, or disables themselves", body = fieldcheck_protocol::ApiError),
        (status = 404, description = "Unknown user", body = fieldcheck_protocol::ApiError),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn disable_user(
    State(state): St,
    caller: Caller,
    Path(user_id): Path<String>,
) -> Result<axum::Json<UserAccess>, ServerError> {
    set_disabled(&state, &caller, &user_id, true).await
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/users/{user_id}/enable",
    tag = "admin",
    params(("user_id" = String, Path, description = "The user's id")),
    responses(
        (status = 200, description = "Enabled again (a user missing from the reference data stays refused: `removed`)", body = UserAccess),
        (status = 403, description = "Caller is not an admin", body = fieldcheck_protocol::ApiError),
        (status = 404, description = "Unknown user", body = fieldcheck_protocol::ApiError),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn enable_user(
    State(state): St,
    caller: Caller,
    Path(user_id): Path<String>,
) -> Result<axum::Json<UserAccess>, ServerError> {
    set_disabled(&state, &caller, &user_id, false).await
}

/// The name of a new Open311 api_key: the system it is for.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOpen311Key {
    /// 1 to 64 characters, e.g. `12345 热线`; also the name its reports show in the console.
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
}

pub(super) fn setup_refusal(e: crate::setup::SetupError) -> ServerError {
    match e {
        crate::setup::SetupError::Store(s) => ServerError::Store(s),
        e => ServerError::Malformed(e.to_string()),
    }
}

/// Issues an Open311 api_key, with the volunteer user its reports come from.
#[utoipa::path(
    post,
    path = "/api/v1/admin/open311-keys",
    tag = "admin",
    request_body = NewOpen311Key,
    responses(
        (status = 200, description = "The key (its `api_key` shown only now; the server keeps its hash)", body = crate::open311::IssuedKey),
        (status = 400, description = "No name, or one longer than 64 characters or like a spreadsheet formula (`malformed_request`)", body = fieldcheck_protocol::ApiError),
        (status = 403, description = "Caller is not an admin", body = fieldcheck_protocol::ApiError),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create_open311_key(
    State(state): St,
    caller: Caller,
    ApiJson(req): ApiJson<NewOpen311Key>,
) -> Result<axum::Json<crate::open311::IssuedKey>, ServerError> {
    require_admin(&caller)?;
    crate::open311::add_key(state.store.as_ref(), &caller.user.id, &req.name)
        .await
        .map(axum::Json)
        .map_err(setup_refusal)
}

/// Every issued Open311 key (never the keys themselves).
#[utoipa::path(
    get,
    path = "/api/v1/admin/open311-keys",
    tag = "admin",
    responses(
        (status = 200, description = "The keys, newest first", body = Vec<crate::open311::Open311Key>),
        (status = 403, description = "Caller is not an admin", body = fieldcheck_protocol::ApiError),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list_open311_keys(
    State(state): St,
    caller: Caller,
) -> Result<axum::Json<Vec<crate::open311::Open311Key>>, ServerError> {
    require_admin(&caller)?;
    Ok(axum::Json(
        crate::open311::list_keys(state.store.as_ref()).await?,
    ))
}

/// Revokes an Open311 key: requests with it are refused (403) from now on.
#[utoipa::path(
    post,
    path = "/api/v1/admin/open311-keys/{id}/revoke",
    tag = "admin",
    params(("id" = String, Path, description = "The key's id (`o311-…`)")),
    responses(
        (status = 200, description = "Revoked (revoking again keeps the first time)", body = crate::open311::Open311Key),
        (status = 403, description = "Caller is not an admin", body = fieldcheck_protocol::ApiError),
        (status = 404, description = "No such key", body = fieldcheck_protocol::ApiError),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn revoke_open311_key(
    State(state): St,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<crate::open311::Open311Key>, ServerError> {
    require_admin(&caller)?;
    crate::open311::revoke_key(state.store.as_ref(), &caller.user.id, &id)
        .await
        .map_err(setup_refusal)?
        .map(axum::Json)
        .ok_or_else(|| ServerError::NotFound(format!("open311 key {id}")))
}
