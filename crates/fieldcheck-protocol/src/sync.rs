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

/// Header on every `/api/v1` answer: this server's instance id (its data's epoch), which a
/// restore from a backup changes. A device keeps the id it last synced with; another one
/// means the server may have lost what the device sent after the backup, so the device sends
/// its events and photos again and pulls from 0 (ARCHITECTURE.md "Sync client"). A header,
/// not a body field, so every answer (the first of a run is the reference check) carries it
/// and older devices, which do not read it, are unaffected.
pub const INSTANCE_HEADER: &str = "x-fieldcheck-instance";

/// Largest batch a client sends and a server accepts in one push.
pub const MAX_PUSH_EVENTS: usize = 500;

/// `POST /api/v1/enroll` — a device exchanges a one-time code for a token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 32, max_length = 256, pattern = "^[!-~]{32,256}$")
    )]
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

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrollResponse {
    /// Bearer token; the server keeps only its hash.
    pub token: String,
    pub user: fieldcheck_domain::reference::User,
    /// Server-assigned short tag used in problem codes, unique among devices.
    pub device_tag: String,
}

/// `POST /api/v1/push` — events in device order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushRequest {
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
    pub outcome: Option<EventOutcome>,
    /// The HLC the server stored (clamped when the device clock ran ahead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hlc: Option<fieldcheck_domain::Hlc>,
    /// The record's state on the server after this batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
        event: Box<Event>,
    },
    /// The record left the user's scope: drop it locally (it is not deleted).
    Remove {
        seq: u64,
        entity_id: Uuid,
    },
}

/// `POST /api/v1/blobs/check` — which of these hashes the server already has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlobCheckRequest {
    /// SHA-256 (64 lowercase hex characters) of each photo.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9a-f]{64}$"))]
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
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9a-f]{64}$"))]
    pub hash: String,
    /// Stored, verified, and readable by the caller. Only this makes a photo uploaded: an
    /// `offset` equal to the size without `complete` is an upload still to be finished.
    pub complete: bool,
    /// Bytes of the caller's own upload staged so far (0 when it has none); the upload
    /// continues from here.
    pub offset: u64,
}

/// `GET /api/v1/reference?since_version=<v>` — reference data when it changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReferenceResponse {
    pub version: u64,
    /// None when the client already has `version`.
    pub bundle: Option<ReferenceBundle>,
}

/// What the server says about the caller (`GET /api/v1/me`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    pub user_id: String,
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
    /// The token was valid but has passed its lifetime (a session) or idle limit (a device).
    pub const TOKEN_EXPIRED: &str = "token_expired";
    /// The token was signed out (`/logout`) or revoked by the office.
    pub const TOKEN_REVOKED: &str = "token_revoked";
    /// The user was disabled by the office or dropped from the reference data.
    pub const USER_DISABLED: &str = "user_disabled";
    /// The device id is enrolled for another user; the office revokes it first.
    pub const DEVICE_IN_USE: &str = "device_in_use";
}

/// `POST /api/v1/login` — a person signs in to the web office with a password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    /// The user id; longer than [`MAX_USERNAME_CHARS`] is refused (400) before any lookup.
    #[cfg_attr(feature = "openapi", schema(max_length = 128))]
    pub username: String,
    /// Longer than [`MAX_PASSWORD_CHARS`] is refused (400) before any hashing.
    #[cfg_attr(feature = "openapi", schema(max_length = 1024))]
    pub password: String,
}

/// Longest username (characters, as JSON Schema's `maxLength` counts) a login may name.
pub const MAX_USERNAME_CHARS: usize = 128;
/// Longest password (characters) a login may carry: argon2 hashes whatever it gets, so the cap
/// keeps one request's work (and the limiter's keys) bounded.
pub const MAX_PASSWORD_CHARS: usize = 1024;

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginResponse {
    /// Bearer session token; the server keeps only its hash.
    pub token: String,
    pub user: fieldcheck_domain::reference::User,
    /// Unix milliseconds after which the token stops working.
    pub expires_at_ms: i64,
}

/// `POST /api/v1/admin/enroll-codes` (admin only) — a new one-time enrollment code for a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateEnrollCodeRequest {
    pub user_id: String,
    /// How long the code stays redeemable: 1 minute to 30 days.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 43200))]
    #[serde(deserialize_with = "fieldcheck_domain::wire::whole_u32")]
    pub ttl_minutes: u32,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// `POST /api/v1/admin/devices/{device_id}/revoke`, `/admin/users/{id}/revoke` (admin only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevokeResponse {
    /// Tokens that stopped working now (already revoked ones are not counted again).
    pub revoked: u64,
}

/// `POST /api/v1/admin/users/{id}/disable|enable` (admin only): the user's access as it
/// stands after the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserAccess {
    pub user_id: String,
    /// Disabled by the office: every token of the user is refused with `user_disabled`.
    pub disabled: bool,
    /// Dropped from the current reference data: refused the same way until a bundle lists
    /// the user again.
    pub removed: bool,
}

/// Secrets never reach logs through `{:?}`: codes, tokens and passwords print redacted.
const REDACTED: &str = "<redacted>";

impl std::fmt::Debug for EnrollRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrollRequest")
            .field("code", &REDACTED)
            .field("device_id", &self.device_id)
            .field("device_name", &self.device_name)
            .field("token", &self.token.as_ref().map(|_| REDACTED))
            .finish()
    }
}

impl std::fmt::Debug for EnrollResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrollResponse")
            .field("token", &REDACTED)
            .field("user", &self.user)
            .field("device_tag", &self.device_tag)
            .finish()
    }
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("username", &self.username)
            .field("password", &REDACTED)
            .finish()
    }
}

impl std::fmt::Debug for LoginResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginResponse")
            .field("token", &REDACTED)
            .field("user", &self.user)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish()
    }
}

impl std::fmt::Debug for CreateEnrollCodeResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateEnrollCodeResponse")
            .field("code", &REDACTED)
            .field("user_id", &self.user_id)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod redaction_tests {
    use super::*;

    #[test]
    fn debug_output_carries_no_secret() {
        let user = fieldcheck_domain::reference::User {
            id: "u".into(),
            name: "n".into(),
            role: Role::Volunteer,
            unit_id: None,
            district_ids: vec![],
            phone: None,
        };
        let printed = [
            format!(
                "{:?}",
                EnrollRequest {
                    code: "SECRETCODE".into(),
                    device_id: Uuid::nil(),
                    device_name: "p".into(),
                    token: Some("SECRETTOKEN".into()),
                }
            ),
            format!(
                "{:?}",
                EnrollResponse {
                    token: "SECRETTOKEN".into(),
                    user: user.clone(),
                    device_tag: "K7Q2".into(),
                }
            ),
            format!(
                "{:?}",
                LoginRequest {
                    username: "u".into(),
                    password: "SECRETPASS".into(),
                }
            ),
            format!(
                "{:?}",
                LoginResponse {
                    token: "SECRETTOKEN".into(),
                    user,
                    expires_at_ms: 1,
                }
            ),
            format!(
                "{:?}",
                CreateEnrollCodeResponse {
                    code: "SECRETCODE".into(),
                    user_id: "u".into(),
                    expires_at_ms: 1,
                    qr_svg: "/api/v1/admin/enroll-codes/SECRETCODE/qr.svg".into(),
                    qr_png: "/api/v1/admin/enroll-codes/SECRETCODE/qr.png".into(),
                }
            ),
        ];
        for p in printed {
            assert!(!p.contains("SECRET"), "{p}");
            assert!(p.contains(REDACTED), "{p}");
        }
    }
}
