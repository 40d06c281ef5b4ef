use fieldcheck_domain::{DomainError, Refusal};

/// Errors of the device core. `code()` is stable for UIs and scripts.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{0}")]
    Refused(#[from] Refusal),
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("no user is signed in on this device (use `login` or --as)")]
    NoUser,
    /// The server refused this record's creation, so it exists only on this device: it can
    /// be corrected and sent again, or discarded, but nothing else can be done to it.
    #[error(
        "the server refused record {record} ({code}: {message}): correct it and send it again, or discard it"
    )]
    NotOnServer {
        record: String,
        code: String,
        message: String,
    },
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Photo(#[from] fieldcheck_photo::PhotoError),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The offline map package (fieldcheck-tiles), with that crate's stable code.
    #[error("{message}")]
    Map { code: &'static str, message: String },
}

impl CoreError {
    pub fn code(&self) -> &'static str {
        match self {
            CoreError::Refused(r) => r.code.as_str(),
            CoreError::NotFound { .. } => "not_found",
            CoreError::Invalid(_) => "invalid_input",
            CoreError::NoUser => "no_user",
            CoreError::NotOnServer { .. } => "refused_by_server",
            CoreError::Domain(e) => e.code(),
            CoreError::Db(_) => "database",
            CoreError::Migration(_) => "migration",
            CoreError::Corrupt(_) => "corrupt",
            CoreError::Photo(e) => e.code(),
            CoreError::Io(_) => "io",
            CoreError::Map { code, .. } => code,
        }
    }

    pub(crate) fn not_found(what: &'static str, id: impl Into<String>) -> Self {
        CoreError::NotFound {
            what,
            id: id.into(),
        }
    }
}

impl From<serde_json::Error> for CoreError {
    fn from(e: serde_json::Error) -> Self {
        CoreError::Corrupt(e.to_string())
    }
}

pub type Result<T, E = CoreError> = std::result::Result<T, E>;
