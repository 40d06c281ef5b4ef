//! Errors of the server library. Each carries a stable code (the `ApiError::code` clients switch
//! on); the mapping to HTTP happens only in `api`.

use std::path::PathBuf;

use fieldcheck_protocol::sync::codes;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file: {0}")]
    Parse(String),
    #[error("invalid environment variable {key}: {message}")]
    Env { key: String, message: String },
    #[error("invalid setting {key}: {message}")]
    Invalid { key: &'static str, message: String },
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    #[error("unsupported database URL {0:?}: expected sqlite:// or postgres://")]
    UnsupportedUrl(String),
    /// Enrollment refused: the device id belongs to another user's unrevoked device.
    #[error("device {0} is enrolled for another user")]
    DeviceInUse(uuid::Uuid),
    /// A reference bundle that does not hold together (`policy::check_bundle`): nothing of it
    /// was stored. The message names the record and what is wrong with it.
    #[error("reference data refused, nothing stored: {0}")]
    InvalidReference(fieldcheck_domain::DomainError),
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

/// Stable codes of the console's own refusals (`ApiError::code`), next to the protocol's.
pub mod console_codes {
    pub const NOT_SIGNED_IN: &str = "not_signed_in";
    pub const SESSION_EXPIRED: &str = "session_expired";
    pub const WRONG_CREDENTIALS: &str = "wrong_credentials";
    pub const CSRF_REJECTED: &str = "csrf_rejected";
    pub const NO_CONSOLE_ACCESS: &str = "no_console_access";
}

/// What a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("protocol version {got} is too old; this server needs at least {min}")]
    ProtocolTooOld { got: String, min: u32 },
    #[error("missing or invalid token")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Malformed(String),
    #[error("request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("a push may carry at most {max} events, this one has {got}")]
    TooManyEvents { got: usize, max: usize },
    #[error("blob chunk is larger than {0} bytes; send smaller chunks")]
    ChunkTooLarge(usize),
    #[error("blob of {size} bytes exceeds the limit of {max} bytes")]
    BlobTooLarge { size: u64, max: u64 },
    #[error("enrollment code is unknown, expired or already used")]
    EnrollCodeInvalid,
    #[error("uploaded bytes do not match hash {0}")]
    HashMismatch(String),
    #[error("upload offset {got} does not match the {expected} bytes received so far")]
    BadOffset { got: u64, expected: u64 },
    #[error("invalid blob hash: expected 64 lowercase hex characters")]
    InvalidHash,
    #[error("too many failed logins; try again in a minute")]
    RateLimited,
    #[error("too many wrong enrollment codes from this address; try again in a few minutes")]
    EnrollRateLimited,
    #[error("token expired; sign in or enroll again")]
    TokenExpired,
    #[error("token revoked (signed out or revoked by the office); sign in or enroll again")]
    TokenRevoked,
    /// The message says whether the office disabled the user or the reference data dropped them.
    #[error("{0}")]
    UserDisabled(String),
    #[error(
        "device {0} is enrolled for another user; the office revokes that device first \
         (POST /api/v1/admin/devices/{0}/revoke)"
    )]
    DeviceInUse(uuid::Uuid),
    #[error("too many pushes from this device; try again in {retry_after_secs} s")]
    PushRateLimited { retry_after_secs: u64 },
    #[error("{0} not found")]
    NotFound(String),
    /// Console: no session cookie, or one the server does not know (signed out).
    #[error("not signed in to the console (or signed out); sign in")]
    NotSignedIn,
    /// Console: the session was idle too long or reached its absolute lifetime.
    #[error("the console session has expired; sign in again")]
    SessionExpired,
    /// Console sign-in with a wrong username or password (which one is not said).
    #[error("wrong username or password")]
    WrongCredentials,
    /// Console: a state-changing request without the session's CSRF token, or from another
    /// site; the message says which.
    #[error("{0}")]
    CsrfRejected(String),
    /// Console: the user's role has no console (volunteers).
    #[error("{0}")]
    NoConsoleAccess(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Blob(#[from] crate::blobs::BlobError),
}

impl ServerError {
    pub fn code(&self) -> &'static str {
        match self {
            ServerError::ProtocolTooOld { .. } => codes::PROTOCOL_TOO_OLD,
            ServerError::Unauthorized => codes::UNAUTHORIZED,
            ServerError::Forbidden(_) => codes::FORBIDDEN,
            ServerError::Malformed(_) => codes::MALFORMED,
            ServerError::TooLarge(_)
            | ServerError::TooManyEvents { .. }
            | ServerError::ChunkTooLarge(_)
            | ServerError::BlobTooLarge { .. } => codes::TOO_LARGE,
            ServerError::EnrollCodeInvalid => codes::ENROLL_CODE_INVALID,
            ServerError::HashMismatch(_) => codes::HASH_MISMATCH,
            ServerError::BadOffset { .. } => codes::BAD_OFFSET,
            ServerError::InvalidHash => codes::INVALID_HASH,
            ServerError::RateLimited | ServerError::EnrollRateLimited => codes::RATE_LIMITED,
            ServerError::TokenExpired => codes::TOKEN_EXPIRED,
            ServerError::TokenRevoked => codes::TOKEN_REVOKED,
            ServerError::UserDisabled(_) => codes::USER_DISABLED,
            ServerError::DeviceInUse(_) => codes::DEVICE_IN_USE,
            ServerError::PushRateLimited { .. } => codes::RATE_LIMITED,
            ServerError::NotFound(_) => codes::NOT_FOUND,
            ServerError::NotSignedIn => console_codes::NOT_SIGNED_IN,
            ServerError::SessionExpired => console_codes::SESSION_EXPIRED,
            ServerError::WrongCredentials => console_codes::WRONG_CREDENTIALS,
            ServerError::CsrfRejected(_) => console_codes::CSRF_REJECTED,
            ServerError::NoConsoleAccess(_) => console_codes::NO_CONSOLE_ACCESS,
            ServerError::Store(_) | ServerError::Io(_) | ServerError::Blob(_) => codes::INTERNAL,
        }
    }
}
