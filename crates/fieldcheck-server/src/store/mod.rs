//! Storage: one trait, two backends (SQLite, PostgreSQL) chosen by URL scheme.
//!
//! Everything that must be atomic with the event log (deduplication, authorization against
//! the record's current scope, the fold, projections) happens inside one write transaction,
//! so a retried or concurrent batch can never double an event or interleave folds. Concurrent
//! pushes are group-committed: one writer applies every queued batch, in order, in one
//! transaction (`push.rs`), with the same result as applying them one after another.

use std::sync::Arc;

use async_trait::async_trait;
use fieldcheck_domain::event::Event;
use fieldcheck_domain::reference::User;
use fieldcheck_protocol::ReferenceBundle;
use fieldcheck_protocol::sync::{BlobState, PullResponse, PushResponse};
use uuid::Uuid;

use crate::error::StoreError;
use crate::policy::{ScopeAttrs, Viewer};

mod batch;
pub mod ledger;
pub(crate) mod push;
mod sql;

/// The push work and storage bounds (`push.rs`).
pub use push::{GROUP_FOLD_BUDGET, MAX_RECORD_EVENTS, MAX_REJECTED_PER_HOUR};
pub use sql::{PgStore, SqliteStore};

/// What a push needs besides the events: who sends them, the reference data (points and
/// templates for inspections) and the clock for the HLC clamp.
pub struct AppendCtx<'a> {
    pub viewer: &'a Viewer,
    pub refs: &'a Arc<ReferenceBundle>,
    pub now_ms: i64,
    pub max_future_ms: i64,
}

/// A user as stored: the reference record and an optional argon2 password hash (shown as
/// `<redacted>` by `Debug`).
#[derive(Clone)]
pub struct StoredUser {
    pub user: User,
    pub password_hash: Option<String>,
    /// Disabled by the office (`/admin/users/{id}/disable`).
    pub disabled: bool,
    /// Not in the latest reference bundle that lists users.
    pub removed: bool,
}

impl std::fmt::Debug for StoredUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredUser")
            .field("user", &self.user)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "<redacted>"),
            )
            .field("disabled", &self.disabled)
            .field("removed", &self.removed)
            .finish()
    }
}

impl StoredUser {
    /// Whether the user may act at all now (sign in, use any token, enroll).
    pub fn active(&self) -> bool {
        !self.disabled && !self.removed
    }
}

/// A bearer token row, whatever its state, so the caller can say *why* it no longer works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub user_id: String,
    /// Set for device tokens (enrollment), `None` for web sessions.
    pub device_id: Option<Uuid>,
    pub created_at_ms: i64,
    /// Fixed end of a session; `None` for device tokens (they expire by idleness).
    pub expires_at_ms: Option<i64>,
    pub last_used_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
    /// The app it was last used with (`User-Agent`).
    pub app_version: Option<String>,
}

/// What a bearer token resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub user_id: String,
    pub device_id: Option<Uuid>,
}

/// One user's upload of a blob (`Store::blob_upload`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobUpload {
    /// The total size the uploader announced, when it did.
    pub size: Option<u64>,
    /// The uploader's bytes verified (they may read the blob back).
    pub complete: bool,
}

/// A console session row (`console_sessions`), whatever its state, for the caller to decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub user_id: String,
    pub created_at_ms: i64,
    pub last_used_at_ms: i64,
    /// The absolute end, fixed at sign-in.
    pub expires_at_ms: i64,
}

/// Result of redeeming an enrollment code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolled {
    pub user_id: String,
    pub device_tag: String,
}

#[async_trait]
pub trait Store: Send + Sync {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Stores a batch in order: per event applied (folded; its outcome may be a rejection),
    /// duplicate (stored earlier; the stored result is returned) or refused (not stored).
    async fn push(
        &self,
        events: Vec<Event>,
        ctx: &AppendCtx<'_>,
    ) -> Result<PushResponse, StoreError>;

    /// Events after `since` the viewer may see, at most `limit` scanned, with `remove` items
    /// for records that left the viewer's scope and full histories for records that entered it.
    async fn pull(
        &self,
        viewer: &Viewer,
        since: u64,
        limit: u32,
    ) -> Result<PullResponse, StoreError> {
        self.pull_page(viewer, since, limit, usize::MAX).await
    }

    /// [`Store::pull`] with the page also bounded by bytes: it stops before the event whose
    /// body would take the page's bodies past `max_bytes`, but always holds at least one (a
    /// record entering scope brings its history with it). The page's end becomes the viewer's
    /// pull mark: their later pushes are placed after what it sent (`store/push.rs`).
    async fn pull_page(
        &self,
        viewer: &Viewer,
        since: u64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<PullResponse, StoreError>;

    /// The server's current state of a problem (the projection).
    async fn problem(
        &self,
        id: Uuid,
    ) -> Result<Option<fieldcheck_domain::problem::Problem>, StoreError>;

    /// Every stored event of one problem with the fold's verdict on it, in fold order (HLC,
    /// then event id): the console's timeline and the record's version.
    async fn problem_events(
        &self,
        id: Uuid,
    ) -> Result<Vec<(Event, fieldcheck_domain::event::EventOutcome)>, StoreError>;

    /// Whether a problem with this code is stored (what a rejection as a duplicate names).
    async fn problem_code_exists(&self, code: &str) -> Result<bool, StoreError>;

    /// Number of stored events (diagnostics and tests).
    async fn event_count(&self) -> Result<u64, StoreError>;

    async fn put_user(&self, user: &User, password_hash: Option<&str>) -> Result<(), StoreError>;
    async fn user(&self, id: &str) -> Result<Option<StoredUser>, StoreError>;

    async fn create_enroll_code(
        &self,
        code_hash: &str,
        user_id: &str,
        expires_at_ms: i64,
    ) -> Result<(), StoreError>;
    /// The user of a code that could still be redeemed now (known, unexpired, unused).
    async fn enroll_code_user(
        &self,
        code_hash: &str,
        now_ms: i64,
    ) -> Result<Option<String>, StoreError>;
    /// Marks the code used (remembering `token_hash`) and creates the device token in one
    /// transaction. A repeat of an enrollment that succeeded — the same code, token and
    /// device, the code not yet expired — answers the same enrollment again and changes
    /// nothing. `None` when the code is unknown, expired, or used with another token.
    async fn redeem_enroll_code(
        &self,
        code_hash: &str,
        now_ms: i64,
        device_id: Uuid,
        device_name: &str,
        token_hash: &str,
    ) -> Result<Option<Enrolled>, StoreError>;
    async fn create_session(
        &self,
        token_hash: &str,
        user_id: &str,
        now_ms: i64,
        expires_at_ms: i64,
    ) -> Result<(), StoreError>;
    async fn token(&self, token_hash: &str, now_ms: i64) -> Result<Option<TokenInfo>, StoreError>;
    /// The token row in any state (revoked, expired), for the caller to decide.
    async fn token_record(&self, token_hash: &str) -> Result<Option<TokenRecord>, StoreError>;
    /// Notes a use of the token (device tokens expire by idleness since their last use).
    /// Notes a use of a device token at `now_ms` (never moving it back) and, when given, the
    /// app it came from.
    async fn touch_token(
        &self,
        token_hash: &str,
        now_ms: i64,
        app: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Revokes one token (sign-out). False when it was unknown or already revoked.
    async fn revoke_token(&self, token_hash: &str, now_ms: i64) -> Result<bool, StoreError>;
    /// Revokes every token of a device; the number that stopped working.
    async fn revoke_device(&self, device_id: Uuid, now_ms: i64) -> Result<u64, StoreError>;
    /// Stores a new console session (its id hashed) and deletes the sessions whose absolute
    /// end has passed or that were idle since before `idle_before_ms`.
    async fn create_console_session(
        &self,
        id_hash: &str,
        user_id: &str,
        now_ms: i64,
        expires_at_ms: i64,
        idle_before_ms: i64,
    ) -> Result<(), StoreError>;
    async fn console_session(&self, id_hash: &str) -> Result<Option<ConsoleSession>, StoreError>;
    /// Notes a use of the session (its idle expiry slides from here).
    async fn touch_console_session(&self, id_hash: &str, now_ms: i64) -> Result<(), StoreError>;
    /// Ends a session (sign-out, expiry); false when there was none.
    async fn delete_console_session(&self, id_hash: &str) -> Result<bool, StoreError>;
    /// One page of the problem ledger inside `scope` (`store/ledger.rs`).
    async fn ledger(
        &self,
        filter: &ledger::LedgerFilter,
        scope: &fieldcheck_domain::scope::Scope,
    ) -> Result<ledger::LedgerPage, StoreError>;
    /// Read-only statements the console's statistics build (`store/ledger.rs`), run in one
    /// transaction; each statement's rows as the values its [`ledger::Select::columns`] name.
    async fn select(
        &self,
        statements: &[ledger::Select],
    ) -> Result<Vec<Vec<Vec<ledger::Value>>>, StoreError>;

    /// Statements that write small bookkeeping rows (the console's export jobs,
    /// `api/console_exports.rs`): run exactly as [`Store::select`] runs them — in order, in one
    /// transaction that commits — with any `RETURNING` rows coming back the same way.
    async fn write(
        &self,
        statements: &[ledger::Select],
    ) -> Result<Vec<Vec<Vec<ledger::Value>>>, StoreError> {
        self.select(statements).await
    }

    /// Revokes every token (devices and sessions, console sessions included) of a user; the
    /// number that stopped working.
    async fn revoke_user(&self, user_id: &str, now_ms: i64) -> Result<u64, StoreError>;
    /// Disables or enables a user; `None` when there is no such user.
    async fn set_user_disabled(
        &self,
        user_id: &str,
        disabled: bool,
        now_ms: i64,
    ) -> Result<Option<StoredUser>, StoreError>;

    async fn blob_states(&self, hashes: &[String]) -> Result<Vec<BlobState>, StoreError>;
    async fn set_blob(
        &self,
        hash: &str,
        received: u64,
        size: Option<u64>,
        complete: bool,
    ) -> Result<(), StoreError>;
    async fn delete_blob(&self, hash: &str) -> Result<(), StoreError>;

    /// The current scope of every record one of whose stored events refers to photo `hash`
    /// (whoever may see one of them may read the photo).
    async fn photo_record_scopes(&self, hash: &str) -> Result<Vec<ScopeAttrs>, StoreError>;
    /// `user_id`'s upload of `hash`, if they staged any of it.
    async fn blob_upload(
        &self,
        hash: &str,
        user_id: &str,
    ) -> Result<Option<BlobUpload>, StoreError>;
    /// Notes that `user_id` stages bytes of `hash` now (the first chunk records the uploader;
    /// every chunk moves `updated_at`, the expiry clock). A verified upload stays verified.
    async fn stage_blob_upload(
        &self,
        hash: &str,
        user_id: &str,
        user_key: &str,
        size: Option<u64>,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// In one transaction: blob `hash` of `size` bytes is stored, and the upload staged under
    /// `user_key` (if any) verified.
    async fn complete_blob_upload(
        &self,
        hash: &str,
        user_key: Option<&str>,
        size: u64,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// Forgets the unfinished upload of `hash` staged under `user_key` (discarded or expired).
    async fn discard_blob_upload(&self, hash: &str, user_key: &str) -> Result<(), StoreError>;
    /// Deletes unfinished uploads last touched before `before_ms`; returns how many.
    async fn expire_blob_uploads(&self, before_ms: i64) -> Result<u64, StoreError>;

    /// Stages `bytes` of `user_id`'s upload of `hash` at `start` in the database, so the next
    /// chunk may go to any server instance; notes the upload as
    /// [`Store::stage_blob_upload`] does, in the same transaction. `Ok(end)`: staged, the
    /// upload holds `end` bytes; `Err(have)`: the upload stands at `have`, not `start`
    /// (also when another instance staged a chunk at `start` first), nothing staged.
    #[allow(clippy::too_many_arguments)]
    async fn stage_blob_chunk(
        &self,
        hash: &str,
        user_id: &str,
        user_key: &str,
        size: Option<u64>,
        start: u64,
        bytes: &[u8],
        now_ms: i64,
    ) -> Result<Result<u64, u64>, StoreError>;
    /// How many bytes of `user_id`'s upload of `hash` are staged in the database.
    async fn staged_blob_len(&self, hash: &str, user_id: &str) -> Result<u64, StoreError>;
    /// The chunk of that upload staged at `start`, if there is one.
    async fn staged_blob_chunk(
        &self,
        hash: &str,
        user_id: &str,
        start: u64,
    ) -> Result<Option<Vec<u8>>, StoreError>;

    /// Counts one event for `key` in a fixed window of `window_ms` shared by every instance
    /// on this database: true when counted, false (nothing counted) when the window already
    /// holds `limit`.
    async fn count_in_window(
        &self,
        key: &str,
        limit: u64,
        window_ms: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError>;
    /// Takes back one counted event of `key`.
    async fn uncount(&self, key: &str) -> Result<(), StoreError>;
    /// Forgets `key`'s count.
    async fn reset_count(&self, key: &str) -> Result<(), StoreError>;
    /// A token bucket shared by every instance, as a generic cell rate: one request per
    /// `interval_ms` on average, `tolerance_ms` of them ahead at once (`(burst - 1) ×
    /// interval`). `Ok(())`: taken; `Err(ms)`: refused, one is allowed in `ms`. The row holds
    /// the bucket's theoretical arrival time in `window_start`.
    async fn take_token(
        &self,
        key: &str,
        interval_ms: i64,
        tolerance_ms: i64,
        now_ms: i64,
    ) -> Result<Result<(), i64>, StoreError>;
    /// Deletes counters whose window began before `before_ms`.
    async fn expire_counts(&self, before_ms: i64) -> Result<u64, StoreError>;

    /// Stores a new reference bundle version and returns its number (1, 2, ...). A bundle
    /// that fails `policy::check_bundle` is refused (`StoreError::InvalidReference`) and
    /// nothing changes.
    async fn put_reference(&self, bundle: &ReferenceBundle) -> Result<u64, StoreError>;
    /// [`Store::put_reference`] only if the current version is still `expected` (checked in
    /// the same transaction); `None` when it moved (the office's import preview is stale).
    /// `expected: None` always stores.
    async fn put_reference_if(
        &self,
        bundle: &ReferenceBundle,
        expected: Option<u64>,
    ) -> Result<Option<u64>, StoreError>;
    async fn reference_version(&self) -> Result<u64, StoreError>;
    async fn reference(&self) -> Result<Option<(u64, ReferenceBundle)>, StoreError>;

    /// `/readyz` (`ops.rs`): one round trip to the database, then whether the migrations it
    /// has applied are exactly the ones this build carries.
    async fn schema_state(&self) -> Result<SchemaState, StoreError>;

    /// The connection pool as `/metrics` shows it.
    fn pool_stats(&self) -> PoolStats;

    /// This database's instance id (migration 0014): sent to devices on every answer
    /// (`INSTANCE_HEADER`), changed only by a restore.
    async fn instance(&self) -> Result<String, StoreError>;

    /// Gives the database a new random instance id and returns it (`restore`): devices that
    /// synced with the data before see another id and send again what it may lack.
    async fn renew_instance(&self, now_ms: i64) -> Result<String, StoreError>;

    /// The newest event sequence number (0 when there is none), for a backup's manifest.
    async fn newest_seq(&self) -> Result<u64, StoreError>;

    /// Waits until no push group is being applied or waits in the queue (graceful shutdown:
    /// a group whose requests were all abandoned by their clients still commits first).
    async fn drain(&self) {}

    /// [`Store::drain`], then closes the connection pool (SQLite checkpoints its WAL). The
    /// store answers nothing after this.
    async fn shutdown(&self) {
        self.drain().await;
    }
}

/// The migrations a database has applied compared with the ones this build carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaState {
    Current,
    /// Migrations of this build the database has not applied (an old backup restored under
    /// a running server, say).
    Pending(Vec<i64>),
    /// Migrations applied that this build does not know: a newer server migrated the
    /// database (a rolling upgrade); this one should not take requests.
    Ahead(Vec<i64>),
    /// A migration that failed half-way (`success = false`).
    Failed(i64),
}

/// The database pool's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Open connections (idle or in use).
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

/// Opens (creating and migrating) the store a URL names: `sqlite://…` or `postgres://…`.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::open(url, None).await?))
    } else {
        Err(StoreError::UnsupportedUrl(crate::config::redact_url(url)))
    }
}
