//! Errors handed to the webview: always `{code, message}` with a stable `code` (the UI's
//! `tauriTransport` turns it into a `CoreCallError` and switches on `code`).

use serde::{Deserialize, Serialize};

/// What a rejected `invoke` carries. Same shape as the bridge's error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AppError {
    pub code: String,
    pub message: String,
}

impl AppError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        AppError {
            code: code.into(),
            message: message.into(),
        }
    }

    /// An app-level failure (startup, IPC plumbing) rather than one of the core's.
    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::new("internal", message.to_string())
    }
}

impl From<fieldcheck_core::CoreError> for AppError {
    fn from(e: fieldcheck_core::CoreError) -> Self {
        AppError::new(e.code(), e.to_string())
    }
}

impl From<fieldcheck_core::sync::SyncError> for AppError {
    fn from(e: fieldcheck_core::sync::SyncError) -> Self {
        AppError::new(e.code(), e.to_string())
    }
}
