//! Errors at the HTTP edge: every failure is `{code, message}` JSON with the core's stable code.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fieldcheck_core::CoreError;
use serde::Serialize;

/// The JSON body of every error response. `code` is stable; the UI switches on it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error("{0}")]
    BadRequest(String),
    #[error("the store is unavailable: {0}")]
    Internal(String),
    /// Any other stable code (enrollment and sync errors, refusals of the bridge itself).
    #[error("{message}")]
    Coded {
        status: StatusCode,
        code: String,
        message: String,
    },
}

impl BridgeError {
    pub fn code(&self) -> &str {
        match self {
            BridgeError::Core(e) => e.code(),
            BridgeError::BadRequest(_) => "invalid_input",
            BridgeError::Internal(_) => "internal",
            BridgeError::Coded { code, .. } => code,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            BridgeError::Core(e) => core_status(e),
            BridgeError::BadRequest(_) => StatusCode::BAD_REQUEST,
            BridgeError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            BridgeError::Coded { status, .. } => *status,
        }
    }
}

/// HTTP status for a core error: refusals by the lifecycle rules are conflicts with the
/// record's state (409), bad input is 400/422, a missing record 404.
fn core_status(e: &CoreError) -> StatusCode {
    use fieldcheck_core::domain::RefusalCode as R;
    match e {
        CoreError::Refused(r) => match r.code {
            R::NotFound => StatusCode::NOT_FOUND,
            R::RoleNotAllowed | R::NotAssignedUnit | R::NotOwnRecord => StatusCode::FORBIDDEN,
            _ => StatusCode::CONFLICT,
        },
        CoreError::NotFound { .. } => StatusCode::NOT_FOUND,
        CoreError::Invalid(_) | CoreError::Domain(_) => StatusCode::UNPROCESSABLE_ENTITY,
        CoreError::NoUser => StatusCode::UNAUTHORIZED,
        CoreError::NotOnServer { .. } => StatusCode::CONFLICT,
        CoreError::Photo(p) => match p.code() {
            "photo_too_large" | "photo_too_many_pixels" => StatusCode::PAYLOAD_TOO_LARGE,
            "photo_io" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        },
        // A file that is not a usable map package (a file's own I/O errors are `Io`).
        CoreError::Map { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        CoreError::Db(_) | CoreError::Migration(_) | CoreError::Corrupt(_) | CoreError::Io(_) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

impl IntoResponse for BridgeError {
    fn into_response(self) -> Response {
        if self.status().is_server_error() {
            tracing::error!(code = self.code(), "{self}");
        }
        let body = ErrorBody {
            code: self.code().to_owned(),
            message: self.to_string(),
        };
        (self.status(), Json(body)).into_response()
    }
}
