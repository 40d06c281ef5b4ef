//! Setting up a city from the console (issue 15): importing reference data (preview, then
//! apply), users, enrollment codes, devices and the audit of every change
//! (`/api/v1/console/setup/...`). The server's `setup` module fills these; the console's
//! TypeScript types are generated from them.

use fieldcheck_domain::calendar::WorkCalendar;
use fieldcheck_domain::reference::{LatLon, Point, PointType};
use fieldcheck_domain::role::Role;
use serde::{Deserialize, Serialize};

use crate::ApiError;

/// One thing wrong with an imported file, where the person editing it would look.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RowError {
    /// The sheet (XLSX), or the kind for CSV and JSON files.
    pub sheet: Option<String>,
    /// The row as Excel numbers it (the header is row 1); for JSON the item's position.
    pub row: Option<u64>,
    /// The column title (as written in the file for reading errors, the Chinese title for
    /// reference errors).
    pub column: Option<String>,
    /// Stable: `refdata_*` for reading, `unknown_district`, `unknown_unit`, `bad_parent`,
    /// `unit_required`, `bad_coordinates`, `formula_text`, `admin_by_import`,
    /// `template_version_changed`, `invalid_reference`.
    pub code: String,
    pub message_zh: String,
    pub message_en: String,
}

/// What an import does to one kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct KindChanges {
    /// `districts`, `units`, `points`, `categories`, `templates`, `users`, `calendar`.
    pub kind: String,
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub deactivated: Vec<String>,
    pub unchanged: usize,
}

impl KindChanges {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.deactivated.is_empty()
    }
}

/// What an import would do (`POST /console/setup/import/preview`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImportPreview {
    /// The reference version the preview was made against: apply with it.
    pub base_version: u64,
    /// Every row that cannot be taken; applying is refused while there are any.
    pub errors: Vec<RowError>,
    /// Per kind the file holds: ids added, changed, deactivated, and how many stay the same.
    pub changes: Vec<KindChanges>,
    /// Whether applying would change anything (import → export → import: false).
    pub changes_anything: bool,
}

/// What an applied import did (`POST /console/setup/import/apply`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImportApplied {
    /// The reference version now current (unchanged when the import changed nothing).
    pub version: u64,
    pub changed: bool,
    pub changes: Vec<KindChanges>,
}

/// An import refused: the API's error (`import_invalid`) and the file's errors, each with its
/// sheet, row and column.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImportRefused {
    #[serde(flatten)]
    #[cfg_attr(feature = "ts", ts(flatten))]
    pub error: ApiError,
    pub errors: Vec<RowError>,
}

/// A user as the office manages them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UserRow {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub unit_id: Option<String>,
    pub district_ids: Vec<String>,
    pub phone: Option<String>,
    /// Disabled by the office: every token refused (`user_disabled`).
    pub disabled: bool,
    /// Left out of the reference data (an import deactivated them): refused too.
    pub removed: bool,
    pub has_password: bool,
    pub devices: Vec<DeviceRow>,
}

/// An enrolled device.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DeviceRow {
    pub device_id: String,
    pub user_id: String,
    pub name: String,
    /// The device's tag in problem codes.
    pub tag: Option<String>,
    pub enrolled_at_ms: i64,
    /// The last request the device made with its token (push, pull, reference, photos),
    /// noted at most hourly.
    pub last_sync_ms: Option<i64>,
    /// The app it last synced with, as its `User-Agent` said (`fieldcheck/0.1.0`); null
    /// until its first request after enrolling.
    pub app_version: Option<String>,
    /// Every token of the device was revoked.
    pub revoked: bool,
}

/// A user to add, or the fields to change (`None`: keep).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    pub id: Option<String>,
    pub name: Option<String>,
    pub role: Option<Role>,
    /// `""` clears it.
    pub unit_id: Option<String>,
    pub district_ids: Option<Vec<String>>,
    /// `""` clears it.
    pub phone: Option<String>,
    /// A password for the console and `/login`; at least 8 characters.
    pub password: Option<String>,
}

/// A new password, or none for a random one.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
#[serde(deny_unknown_fields)]
pub struct PasswordRequest {
    pub password: Option<String>,
}

/// A reset password, shown only in this answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PasswordReset {
    pub user_id: String,
    pub password: String,
}

/// Default lifetime of an enrollment code: a week.
pub const DEFAULT_CODE_TTL_MINUTES: u32 = 7 * 24 * 60;

fn week() -> u32 {
    DEFAULT_CODE_TTL_MINUTES
}

/// `POST /console/setup/users/{id}/enroll-code`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
#[serde(deny_unknown_fields)]
pub struct EnrollCodeRequest {
    /// Minutes the code stays valid (1 to 43,200; default 7 days).
    #[serde(default = "week")]
    pub ttl_minutes: u32,
}

/// A new enrollment code (stored hashed, shown only now).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EnrollCode {
    pub code: String,
    pub user_id: String,
    pub expires_at_ms: i64,
    /// `fieldcheck://enroll?server=…&code=…`, what the QR code holds.
    pub uri: String,
    /// The QR code as SVG.
    pub qr_svg: String,
}

/// A device whose tokens were revoked.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RevokedDevice {
    pub device_id: String,
    /// Tokens that stopped working (0: already revoked or unknown).
    pub revoked: u64,
}

/// One audited setup change.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AuditEntry {
    pub id: i64,
    pub at_ms: i64,
    /// The user who made it (`cli` for a server subcommand without `--actor`).
    pub actor: String,
    /// `reference.import`, `user.add`, `user.edit`, `user.disable`, `user.enable`,
    /// `user.reset_password`, `enroll_code.issue`, `device.revoke`, `point.add`, `point.edit`,
    /// `point.deactivate`, `point.activate`, `calendar.edit`, `category.deadline`.
    pub action: String,
    pub target: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown> | null"))]
    pub before: Option<serde_json::Value>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown> | null"))]
    pub after: Option<serde_json::Value>,
}

/// A page of the audit, newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AuditPage {
    pub total: u64,
    pub entries: Vec<AuditEntry>,
}

/// A point to add, or the fields to change (`None`: keep). Moving the pin is a new
/// `location`; a street's centre line stays as imported.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
#[serde(deny_unknown_fields)]
pub struct PointInput {
    /// On add: the office's own point code; none makes the next free `p-NNNN`. Never changes.
    pub id: Option<String>,
    pub name: Option<String>,
    pub point_type: Option<PointType>,
    /// WGS-84.
    pub location: Option<LatLon>,
    pub address: Option<String>,
    pub district_id: Option<String>,
    /// 属地 unit; `""` clears it.
    pub territorial_unit_id: Option<String>,
    /// 行业 units (replaces the list).
    pub sector_unit_ids: Option<Vec<String>>,
}

/// A page of the city's points (`GET /console/setup/points`), by id.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PointPage {
    /// The reference version the points are from.
    pub version: u64,
    /// Points matching the filter, in all pages.
    pub total: u64,
    pub points: Vec<Point>,
}

/// The city's work calendar (`GET /console/setup/calendar`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CalendarPage {
    /// The reference version it is from.
    pub version: u64,
    /// The office has set it; otherwise it is the built-in one shown for editing.
    pub set: bool,
    pub calendar: WorkCalendar,
}
