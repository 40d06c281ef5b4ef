use serde::{Deserialize, Serialize};

/// Why an action or an event was refused. The code is stable: UIs and the server switch on it,
/// never on the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum RefusalCode {
    NotFound,
    AlreadyExists,
    RoleNotAllowed,
    NotAssignedUnit,
    NotOwnRecord,
    InvalidTransition,
    AfterPhotoRequired,
    PhotoRequired,
    ReasonRequired,
    UnitRequired,
    DeadlineNotLater,
    ExtensionPending,
    NoPendingExtension,
    InspectionFinished,
    UnknownItem,
    InvalidResult,
    InvalidLocation,
    InvalidField,
    WrongEntity,
}

impl RefusalCode {
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalCode::NotFound => "not_found",
            RefusalCode::AlreadyExists => "already_exists",
            RefusalCode::RoleNotAllowed => "role_not_allowed",
            RefusalCode::NotAssignedUnit => "not_assigned_unit",
            RefusalCode::NotOwnRecord => "not_own_record",
            RefusalCode::InvalidTransition => "invalid_transition",
            RefusalCode::AfterPhotoRequired => "after_photo_required",
            RefusalCode::PhotoRequired => "photo_required",
            RefusalCode::ReasonRequired => "reason_required",
            RefusalCode::UnitRequired => "unit_required",
            RefusalCode::DeadlineNotLater => "deadline_not_later",
            RefusalCode::ExtensionPending => "extension_pending",
            RefusalCode::NoPendingExtension => "no_pending_extension",
            RefusalCode::InspectionFinished => "inspection_finished",
            RefusalCode::UnknownItem => "unknown_item",
            RefusalCode::InvalidResult => "invalid_result",
            RefusalCode::InvalidLocation => "invalid_location",
            RefusalCode::InvalidField => "invalid_field",
            RefusalCode::WrongEntity => "wrong_entity",
        }
    }

    /// Every code, for lookups and for the tests that pin each one to its words in the UI.
    pub const ALL: [RefusalCode; 19] = {
        use RefusalCode::*;
        [
            NotFound,
            AlreadyExists,
            RoleNotAllowed,
            NotAssignedUnit,
            NotOwnRecord,
            InvalidTransition,
            AfterPhotoRequired,
            PhotoRequired,
            ReasonRequired,
            UnitRequired,
            DeadlineNotLater,
            ExtensionPending,
            NoPendingExtension,
            InspectionFinished,
            UnknownItem,
            InvalidResult,
            InvalidLocation,
            InvalidField,
            WrongEntity,
        ]
    };

    pub fn parse(s: &str) -> Option<RefusalCode> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// A refused action or event: stable code plus a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message} [{code}]", code = .code.as_str())]
pub struct Refusal {
    pub code: RefusalCode,
    pub message: String,
}

impl Refusal {
    pub fn new(code: RefusalCode, message: impl Into<String>) -> Self {
        Refusal {
            code,
            message: message.into(),
        }
    }
}

/// Errors of the pure domain layer that are not lifecycle refusals: bad reference data,
/// bad calendars, bad templates.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DomainError {
    #[error("invalid checklist template {template}: {reason}")]
    InvalidTemplate { template: String, reason: String },
    #[error("invalid work calendar: {0}")]
    InvalidCalendar(String),
    #[error("unknown category {0}")]
    UnknownCategory(String),
    #[error("invalid reference data: {0}")]
    InvalidReference(String),
    /// A record of the input is incomplete or names something that does not exist (a point
    /// in an unknown district). The devices' stable code for bad input, wherever it is found.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error(transparent)]
    Refused(#[from] Refusal),
}

impl DomainError {
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::InvalidTemplate { .. } => "invalid_template",
            DomainError::InvalidCalendar(_) => "invalid_calendar",
            DomainError::UnknownCategory(_) => "unknown_category",
            DomainError::InvalidReference(_) => "invalid_reference",
            DomainError::InvalidInput(_) => "invalid_input",
            DomainError::Refused(r) => r.code.as_str(),
        }
    }
}
