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
use crate::policy::Viewer;

mod batch;
pub(crate) mod push;
mod sql;

pub use sql::{PgStore, SqliteStore};

/// What a push needs besides the events: who sends them, the reference data (points and
/// templates for inspections) and the clock for the HLC clamp.
pub struct AppendCtx<'a> {
    pub viewer: &'a Viewer,
    pub refs: &'a Arc<ReferenceBundle>,
    pub now_ms: i64,
    pub max_future_ms: i64,
}

/// A user as stored: the reference record and an optional argon2 password hash.
#[derive(Debug, Clone)]
pub struct StoredUser {
    pub user: User,
    pub password_hash: Option<String>,
}

/// What a bearer token resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub user_id: String,
    pub device_id: Option<Uuid>,
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
    ) -> Result<PullResponse, StoreError>;

    /// The server's current state of a problem (the projection).
    async fn problem(
        &self,
        id: Uuid,
    ) -> Result<Option<fieldcheck_domain::problem::Problem>, StoreError>;

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

    async fn blob_states(&self, hashes: &[String]) -> Result<Vec<BlobState>, StoreError>;
    async fn set_blob(
        &self,
        hash: &str,
        received: u64,
        size: Option<u64>,
        complete: bool,
    ) -> Result<(), StoreError>;
    async fn delete_blob(&self, hash: &str) -> Result<(), StoreError>;

    /// Stores a new reference bundle version and returns its number (1, 2, ...).
    async fn put_reference(&self, bundle: &ReferenceBundle) -> Result<u64, StoreError>;
    async fn reference_version(&self) -> Result<u64, StoreError>;
    async fn reference(&self) -> Result<Option<(u64, ReferenceBundle)>, StoreError>;
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
