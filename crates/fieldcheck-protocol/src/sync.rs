//! The sync API (`/api/v1`): push, pull, blobs, enrollment, reference data.
//!
//! Every request carries `X-FieldCheck-Protocol: <PROTOCOL_VERSION>`; a server answers a
//! client below its minimum with 426 and code `protocol_too_old`.

use fieldcheck_domain::EventOutcome;
use fieldcheck_domain::event::Event;
use fieldcheck_domain::problem::Problem;
use fieldcheck_domain::role::Role;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ReferenceBundle;

/// Header that carries the client's protocol version.
pub const PROTOCOL_HEADER: &str = "x-fieldcheck-protocol";

/// Largest batch a client sends and a server accepts in one push.
pub const MAX_PUSH_EVENTS: usize = 500;

/// `POST /api/v1/enroll` — a device exchanges a one-time code for a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrollRequest {
    pub code: String,
    pub device_id: Uuid,
    /// Shown to the office in the device list, e.g. "Pixel 7 / 黄志强".
    #[serde(default)]
    pub device_name: String,
    /// The bearer token the device asks for: a secret it generated itself (32–256 visible
    /// ASCII characters from a CSPRNG; the server stores only its hash). It makes enrollment
    /// idempotent: when the answer is lost, the same code with the same token and device,
    /// while the code is still valid, answers the same enrollment again; the code with any
    /// other token is refused as used. Without it the server makes up the token, and a lost
    /// answer leaves the code used and the device unenrolled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// Shortest and longest device-chosen token ([`EnrollRequest::token`]).
pub const ENROLL_TOKEN_LEN: std::ops::RangeInclusive<usize> = 32..=256;

/// What a person typed → the canonical enrollment code: upper case, no separators. Shared by
/// the server (which hashes it) and the device (which keys a pending attempt by it), so that
/// `abcd-1234` retried as `ABCD1234` is the same attempt.
pub fn normalize_enroll_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrollResponse {
    /// Bearer token; the server keeps only its hash.
    pub token: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub user: fieldcheck_domain::reference::User,
    /// Server-assigned short tag used in problem codes, unique among devices.
    pub device_tag: String,
}

/// `POST /api/v1/push` — events in device order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PushStatus {
    /// Stored and folded (its fold outcome may still be a rejection: see `outcome`).
    Applied,
    /// Already stored earlier (a retried batch); the stored result is returned.
    Duplicate,
    /// Not stored: the sender may not send it (role, scope, malformed).
    Refused { code: String, message: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushResult {
    pub event_id: Uuid,
    #[serde(flatten)]
    pub status: PushStatus,
    /// The event's outcome in the server's fold (applied, or rejected with a code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub outcome: Option<EventOutcome>,
    /// The HLC the server stored (clamped when the device clock ran ahead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub hlc: Option<fieldcheck_domain::Hlc>,
    /// The record's state on the server after this batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub state: Option<Box<Problem>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushResponse {
    pub results: Vec<PushResult>,
    /// Photo hashes the pushed events refer to that the server does not have yet.
    pub missing_blobs: Vec<String>,
}

/// `GET /api/v1/pull?since=<cursor>&limit=<n>`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PullResponse {
    pub items: Vec<PullItem>,
    /// Pass back as `since` to continue; equal to the request's when nothing new.
    pub cursor: u64,
    pub more: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PullItem {
    Event {
        seq: u64,
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        event: Box<Event>,
    },
    /// The record left the user's scope: drop it locally (it is not deleted).
    Remove { seq: u64, entity_id: Uuid },
}

/// `POST /api/v1/blobs/check` — which of these hashes the server already has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlobCheckRequest {
    pub hashes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlobCheckResponse {
    /// Per requested hash: stored completely, or the bytes received so far (resume offset).
    pub blobs: Vec<BlobState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlobState {
    pub hash: String,
    pub complete: bool,
    /// Bytes already received of an incomplete upload; upload continues from here.
    pub offset: u64,
}

/// `GET /api/v1/reference?since_version=<v>` — reference data when it changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReferenceResponse {
    pub version: u64,
    /// None when the client already has `version`.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub bundle: Option<ReferenceBundle>,
}

/// What the server says about the caller (`GET /api/v1/me`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    pub user_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub role: Role,
    pub unit_id: Option<String>,
    pub district_ids: Vec<String>,
    pub device_id: Option<Uuid>,
}

/// Stable codes of API errors (`ApiError::code`).
pub mod codes {
    pub const PROTOCOL_TOO_OLD: &str = "protocol_too_old";
    pub const UNAUTHORIZED: &str = "unauthorized";
    pub const FORBIDDEN: &str = "forbidden";
    pub const MALFORMED: &str = "malformed_request";
    pub const TOO_LARGE: &str = "too_large";
    pub const ENROLL_CODE_INVALID: &str = "enroll_code_invalid";
    pub const HASH_MISMATCH: &str = "hash_mismatch";
    pub const BAD_OFFSET: &str = "bad_offset";
    pub const INVALID_HASH: &str = "invalid_hash";
    pub const RATE_LIMITED: &str = "rate_limited";
    pub const NOT_FOUND: &str = "not_found";
    pub const INTERNAL: &str = "internal";
}

/// `POST /api/v1/login` — a person signs in to the web office with a password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginResponse {
    /// Bearer session token; the server keeps only its hash.
    pub token: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub user: fieldcheck_domain::reference::User,
    /// Unix milliseconds after which the token stops working.
    pub expires_at_ms: i64,
}

/// `POST /api/v1/admin/enroll-codes` (admin only) — a new one-time enrollment code for a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateEnrollCodeRequest {
    pub user_id: String,
    /// How long the code stays redeemable; the server caps it (see its docs).
    pub ttl_minutes: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateEnrollCodeResponse {
    /// The code as a person types it (`XXXXX-XXXXX`); the server keeps only its hash, so this
    /// is the only time it is shown.
    pub code: String,
    pub user_id: String,
    pub expires_at_ms: i64,
    /// Paths (under the server's origin) of the code rendered as a QR image.
    pub qr_svg: String,
    pub qr_png: String,
}
