//! Office endpoints (admin role only): issuing enrollment codes and rendering them as QR codes.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use fieldcheck_domain::role::Role;
use fieldcheck_protocol::sync::{CreateEnrollCodeRequest, CreateEnrollCodeResponse};

use super::{ApiJson, Caller, St, now_ms};
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
    headers: &HeaderMap,
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
    let server = if state.config.public_url.is_empty() {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        format!("http://{host}")
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
        (status = 200, description = "QR code (SVG) of `fieldcheck://enroll?server=…&code=…`", content_type = "image/svg+xml", body = String),
        (status = 403, description = "Caller is not an admin", body = fieldcheck_protocol::ApiError),
        (status = 404, description = "Unknown, expired or used code", body = fieldcheck_protocol::ApiError),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn enroll_qr_svg(
    State(state): St,
    caller: Caller,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Result<Response, ServerError> {
    require_admin(&caller)?;
    let payload = qr_payload(&state, &headers, &code).await?;
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
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Result<Response, ServerError> {
    require_admin(&caller)?;
    let payload = qr_payload(&state, &headers, &code).await?;
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
