//! The two sqlx backends. The SQL is the same text on both (`$n` placeholders, `ON CONFLICT`,
//! `RETURNING`, integers for times, JSON as text), so one macro body implements [`Store`] for
//! each; only opening a write transaction differs. Pushes go through the group commit
//! (`push.rs`), whose set-oriented statements differ per backend (`batch.rs`).
//!
//! * SQLite: `BEGIN IMMEDIATE` takes the write lock up front (a deferred transaction that reads
//!   and then writes could fail to upgrade under concurrency).
//! * PostgreSQL: a transaction-scoped advisory lock serialises appends. Identity values are
//!   handed out at INSERT time and transactions could otherwise commit out of order (seq 8
//!   visible before seq 7), letting a pull at cursor 8 skip 7 forever. Under the lock a batch
//!   allocates and commits its seqs before the next batch allocates any, so what a reader sees
//!   is always a prefix of the log (rolled-back batches leave harmless holes that never fill).

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use fieldcheck_domain::event::Event;
use fieldcheck_domain::problem::Problem;
use fieldcheck_domain::reference::User;
use fieldcheck_protocol::ReferenceBundle;
use fieldcheck_protocol::sync::{BlobState, PullItem, PullResponse, PushResponse};
use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use uuid::Uuid;

use super::batch::{PgBatch, SqliteBatch};
use super::ledger::{self, Arg, LedgerFilter, LedgerPage, LedgerRow};
use super::push::{self, GroupCommit};
use super::{
    AppendCtx, BlobUpload, ConsoleSession, Enrolled, PoolStats, SchemaState, Store, StoredUser,
    TokenInfo, TokenRecord,
};
use crate::error::StoreError;
use crate::policy::{ScopeAttrs, Viewer};

/// Records (or refreshes) who stages which blob on PostgreSQL: the same statement outside and
/// inside a chunk's transaction.
const PG_RECORD_UPLOADER: &str = "INSERT INTO blob_uploads (hash, user_id, user_key, size, \
     complete, updated_at) VALUES ($1, $2, $3, $4, FALSE, $5) \
     ON CONFLICT (hash, user_id) DO UPDATE SET \
     size = COALESCE(excluded.size, blob_uploads.size), updated_at = excluded.updated_at";

/// The migrations of each backend, embedded at build time (also what `/readyz` compares the
/// database's applied migrations with).
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator =
    sqlx::migrate!("../../migrations/server-sqlite");
static PG_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/server-postgres");

/// Key of the advisory lock that serialises appends on PostgreSQL ("FCEV").
pub(crate) const APPEND_LOCK_KEY: i64 = 0x4643_4556;

pub struct SqliteStore {
    pool: SqlitePool,
    group: Arc<GroupCommit>,
}

impl SqliteStore {
    /// Opens `sqlite://path` (creating the file and its directory) and migrates it.
    pub async fn open(url: &str) -> Result<SqliteStore, StoreError> {
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        if let Some(dir) = opts.get_filename().parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Corrupt(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts)
            .await?;
        SQLITE_MIGRATIONS.run(&pool).await?;
        super::ledger::backfill_search(&pool).await?;
        Ok(SqliteStore {
            pool,
            group: Arc::default(),
        })
    }

    fn batch(&self) -> SqliteBatch {
        SqliteBatch(self.pool.clone())
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Staging a chunk reads the upload's end and then writes: on SQLite that must hold the
    /// write lock from the start.
    async fn begin_stage(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        self.begin_write().await
    }
}

pub struct PgStore {
    pool: PgPool,
    group: Arc<GroupCommit>,
}

impl PgStore {
    /// Connects and migrates. With `schema`, every connection uses that schema (tests run in a
    /// fresh schema each).
    pub async fn open(url: &str, schema: Option<&str>) -> Result<PgStore, StoreError> {
        let mut opts = PgConnectOptions::from_str(url)?;
        if let Some(schema) = schema {
            opts = opts.options([("search_path", schema)]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await?;
        PG_MIGRATIONS.run(&pool).await?;
        super::ledger::backfill_search(&pool).await?;
        Ok(PgStore {
            pool,
            group: Arc::default(),
        })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The newest migration applied (a backup's manifest).
    pub async fn newest_migration(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    fn batch(&self) -> PgBatch {
        PgBatch(self.pool.clone())
    }

    /// Staging a chunk needs no lock of its own: the chunk's key settles a race.
    async fn begin_stage(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError> {
        Ok(self.pool.begin().await?)
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(APPEND_LOCK_KEY)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn parse_uuid(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|e| corrupt("uuid", e))
}

pub(super) fn attrs_from_row<R: Row>(row: &R) -> ScopeAttrs
where
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
{
    ScopeAttrs {
        district: row.get("scope_district"),
        unit: row.get("scope_unit"),
        owner: row.get("scope_owner"),
    }
}

macro_rules! impl_store {
    ($store:ty, $backend:literal, $migrations:ident) => {
        #[async_trait]
        impl Store for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            async fn push(
                &self,
                events: Vec<Event>,
                ctx: &AppendCtx<'_>,
            ) -> Result<PushResponse, StoreError> {
                // Read when the request comes in: the device built it with what it had then.
                let mark: Option<i64> =
                    sqlx::query_scalar("SELECT seq FROM pull_marks WHERE user_id = $1")
                        .bind(&ctx.viewer.user.id)
                        .fetch_optional(&self.pool)
                        .await?;
                push::submit(
                    self.batch(),
                    self.group.clone(),
                    push::JobInput::new(events, ctx, mark.unwrap_or(0))?,
                )
                .await
            }

            async fn pull_page(
                &self,
                viewer: &Viewer,
                since: u64,
                limit: u32,
                max_bytes: usize,
            ) -> Result<PullResponse, StoreError> {
                let since_i = i64::try_from(since).unwrap_or(i64::MAX);
                // One snapshot for the whole page, so "before" and "after" agree.
                let mut tx = self.pool.begin().await?;
                let mut rows = sqlx::query(
                    "SELECT seq, entity_id, body, scope_district, scope_unit, scope_owner \
                     FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
                )
                .bind(since_i)
                .bind(i64::from(limit.max(1)))
                .fetch_all(&mut *tx)
                .await?;
                let mut more = rows.len() >= limit.max(1) as usize;
                // Bounded by bytes too: the bodies of the events the viewer may see, up to the
                // first that would pass the limit (never fewer than one row).
                let mut bytes = 0usize;
                let mut keep = rows.len();
                for (i, row) in rows.iter().enumerate() {
                    if !viewer.can_see(&attrs_from_row(row)) {
                        continue;
                    }
                    bytes = bytes.saturating_add(row.get::<String, _>("body").len());
                    if bytes > max_bytes && i > 0 {
                        keep = i;
                        break;
                    }
                }
                if keep < rows.len() {
                    rows.truncate(keep);
                    more = true;
                }
                let cursor = rows
                    .last()
                    .map(|r| r.get::<i64, _>("seq") as u64)
                    .unwrap_or(since);
                // Per record in the page: visible at `since`? visible at the page end?
                let mut page: BTreeMap<String, (ScopeAttrs, i64)> = BTreeMap::new();
                for row in &rows {
                    page.insert(
                        row.get("entity_id"),
                        (attrs_from_row(row), row.get::<i64, _>("seq")),
                    );
                }
                let mut items: Vec<PullItem> = Vec::new();
                for (entity, (after, last_seq)) in &page {
                    let prev = sqlx::query(
                        "SELECT scope_district, scope_unit, scope_owner FROM events \
                         WHERE entity_id = $1 AND seq <= $2 ORDER BY seq DESC LIMIT 1",
                    )
                    .bind(entity)
                    .bind(since_i)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let was = prev.as_ref().is_some_and(|r| viewer.can_see(&attrs_from_row(r)));
                    let is = viewer.can_see(after);
                    if was && !is {
                        items.push(PullItem::Remove {
                            seq: *last_seq as u64,
                            entity_id: parse_uuid(entity)?,
                        });
                    } else if !was && is {
                        // Entered the scope: the device never saw its earlier events.
                        let old = sqlx::query(
                            "SELECT seq, body FROM events WHERE entity_id = $1 AND seq <= $2 \
                             ORDER BY seq",
                        )
                        .bind(entity)
                        .bind(since_i)
                        .fetch_all(&mut *tx)
                        .await?;
                        for r in old {
                            let body: String = r.get("body");
                            items.push(PullItem::Event {
                                seq: r.get::<i64, _>("seq") as u64,
                                event: Box::new(serde_json::from_str(&body)?),
                            });
                        }
                    }
                }
                for row in &rows {
                    let entity: String = row.get("entity_id");
                    if viewer.can_see(&page[&entity].0) {
                        let body: String = row.get("body");
                        items.push(PullItem::Event {
                            seq: row.get::<i64, _>("seq") as u64,
                            event: Box::new(serde_json::from_str(&body)?),
                        });
                    }
                }
                tx.commit().await?;
                // Before the answer leaves: from now on this user has been sent all of it.
                if cursor > since {
                    sqlx::query(
                        "INSERT INTO pull_marks (user_id, seq) VALUES ($1, $2) \
                         ON CONFLICT (user_id) DO UPDATE SET seq = CASE \
                         WHEN excluded.seq > pull_marks.seq THEN excluded.seq \
                         ELSE pull_marks.seq END",
                    )
                    .bind(&viewer.user.id)
                    .bind(cursor as i64)
                    .execute(&self.pool)
                    .await?;
                }
                Ok(PullResponse {
                    items,
                    cursor,
                    more,
                })
            }

            async fn problem(&self, id: Uuid) -> Result<Option<Problem>, StoreError> {
                let state: Option<String> =
                    sqlx::query_scalar("SELECT state FROM problems WHERE id = $1")
                        .bind(id.to_string())
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(match state {
                    Some(s) => Some(serde_json::from_str(&s)?),
                    None => None,
                })
            }

            async fn problem_events(
                &self,
                id: Uuid,
            ) -> Result<Vec<(Event, fieldcheck_domain::event::EventOutcome)>, StoreError> {
                let rows = sqlx::query(
                    "SELECT body, outcome FROM events \
                     WHERE entity_id = $1 AND entity_kind = 'problem' ORDER BY seq",
                )
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?;
                let mut out = Vec::with_capacity(rows.len());
                for r in rows {
                    let ev: Event = serde_json::from_str(&r.get::<String, _>("body"))?;
                    let outcome = serde_json::from_str(&r.get::<String, _>("outcome"))?;
                    out.push((ev, outcome));
                }
                out.sort_by(|a, b| a.0.fold_key().cmp(&b.0.fold_key()));
                Ok(out)
            }

            async fn problem_code_exists(&self, code: &str) -> Result<bool, StoreError> {
                let found: Option<i32> =
                    sqlx::query_scalar("SELECT 1 FROM problems WHERE code = $1 LIMIT 1")
                        .bind(code)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(found.is_some())
            }

            async fn event_count(&self) -> Result<u64, StoreError> {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(n as u64)
            }

            async fn put_user(
                &self,
                user: &User,
                password_hash: Option<&str>,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO users (id, role, unit_id, user_json, password_hash) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET \
                     role = excluded.role, unit_id = excluded.unit_id, \
                     user_json = excluded.user_json, \
                     password_hash = COALESCE(excluded.password_hash, users.password_hash)",
                )
                .bind(&user.id)
                .bind(user.role.as_str())
                .bind(&user.unit_id)
                .bind(serde_json::to_string(user)?)
                .bind(password_hash)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn user(&self, id: &str) -> Result<Option<StoredUser>, StoreError> {
                let row = sqlx::query(
                    "SELECT user_json, password_hash, disabled_at, removed_at FROM users \
                     WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else { return Ok(None) };
                let json: String = row.get("user_json");
                let user: User = serde_json::from_str(&json)?;
                Ok(Some(StoredUser {
                    user,
                    password_hash: row.get("password_hash"),
                    disabled: row.get::<Option<i64>, _>("disabled_at").is_some(),
                    removed: row.get::<Option<i64>, _>("removed_at").is_some(),
                }))
            }

            async fn create_enroll_code(
                &self,
                code_hash: &str,
                user_id: &str,
                expires_at_ms: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO enroll_codes (code_hash, user_id, expires_at) VALUES ($1, $2, $3)",
                )
                .bind(code_hash)
                .bind(user_id)
                .bind(expires_at_ms)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn enroll_code_user(
                &self,
                code_hash: &str,
                now_ms: i64,
            ) -> Result<Option<String>, StoreError> {
                Ok(sqlx::query_scalar(
                    "SELECT user_id FROM enroll_codes WHERE code_hash = $1 \
                     AND used_at IS NULL AND expires_at > $2",
                )
                .bind(code_hash)
                .bind(now_ms)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn redeem_enroll_code(
                &self,
                code_hash: &str,
                now_ms: i64,
                device_id: Uuid,
                device_name: &str,
                token_hash: &str,
            ) -> Result<Option<Enrolled>, StoreError> {
                let mut tx = self.begin_write().await?;
                // The conditional UPDATE is the one-time check: two concurrent redemptions
                // cannot both match `used_at IS NULL`.
                let user_id: Option<String> = sqlx::query_scalar(
                    "UPDATE enroll_codes SET used_at = $1, token_hash = $3 WHERE code_hash = $2 \
                     AND used_at IS NULL AND expires_at > $1 RETURNING user_id",
                )
                .bind(now_ms)
                .bind(code_hash)
                .bind(token_hash)
                .fetch_optional(&mut *tx)
                .await?;
                let dev = device_id.to_string();
                let Some(user_id) = user_id else {
                    // A retry whose first answer was lost: same code, token and device.
                    let again = sqlx::query(
                        "SELECT t.user_id, t.device_tag FROM enroll_codes c \
                         JOIN tokens t ON t.token_hash = c.token_hash \
                         WHERE c.code_hash = $1 AND c.token_hash = $2 AND c.expires_at > $3 \
                         AND t.device_id = $4",
                    )
                    .bind(code_hash)
                    .bind(token_hash)
                    .bind(now_ms)
                    .bind(&dev)
                    .fetch_optional(&mut *tx)
                    .await?;
                    return Ok(match again {
                        Some(row) => Some(Enrolled {
                            user_id: row.get("user_id"),
                            device_tag: row
                                .get::<Option<String>, _>("device_tag")
                                .unwrap_or_default(),
                        }),
                        None => None,
                    });
                };
                let existing = sqlx::query("SELECT tag, user_id FROM devices WHERE device_id = $1")
                    .bind(&dev)
                    .fetch_optional(&mut *tx)
                    .await?;
                let tag = match existing {
                    Some(row) => {
                        let tag: String = row.get("tag");
                        let owner: String = row.get("user_id");
                        if owner != user_id {
                            // Device ids travel in every event, so anyone can learn another
                            // person's: while that device holds an unrevoked token, its tag
                            // (the problem-code namespace) stays with it. Dropping `tx` rolls
                            // back, so the code is not used up.
                            let live: i64 = sqlx::query_scalar(
                                "SELECT COUNT(*) FROM tokens WHERE device_id = $1 \
                                 AND revoked_at IS NULL",
                            )
                            .bind(&dev)
                            .fetch_one(&mut *tx)
                            .await?;
                            if live > 0 {
                                return Err(StoreError::DeviceInUse(device_id));
                            }
                            // Handed over after the office revoked it: same phone, same tag.
                            sqlx::query("UPDATE devices SET user_id = $1 WHERE device_id = $2")
                                .bind(&user_id)
                                .bind(&dev)
                                .execute(&mut *tx)
                                .await?;
                        }
                        tag
                    }
                    None => {
                        let mut candidate = fieldcheck_domain::code::device_tag(&device_id);
                        loop {
                            let taken: Option<String> =
                                sqlx::query_scalar("SELECT device_id FROM devices WHERE tag = $1")
                                    .bind(&candidate)
                                    .fetch_optional(&mut *tx)
                                    .await?;
                            if taken.is_none() {
                                break;
                            }
                            candidate = fieldcheck_domain::code::device_tag(&Uuid::new_v4());
                        }
                        sqlx::query(
                            "INSERT INTO devices (device_id, tag, user_id) VALUES ($1, $2, $3)",
                        )
                        .bind(&dev)
                        .bind(&candidate)
                        .bind(&user_id)
                        .execute(&mut *tx)
                        .await?;
                        candidate
                    }
                };
                // A token the client made that another enrollment holds already: refused like
                // a wrong code, and the code stays unused (the transaction is dropped).
                let taken: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM tokens WHERE token_hash = $1")
                        .bind(token_hash)
                        .fetch_one(&mut *tx)
                        .await?;
                if taken > 0 {
                    return Ok(None);
                }
                sqlx::query(
                    "INSERT INTO tokens (token_hash, user_id, device_id, device_tag, device_name, \
                     created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
                )
                .bind(token_hash)
                .bind(&user_id)
                .bind(&dev)
                .bind(&tag)
                .bind(device_name)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(Some(Enrolled {
                    user_id,
                    device_tag: tag,
                }))
            }

            async fn create_session(
                &self,
                token_hash: &str,
                user_id: &str,
                now_ms: i64,
                expires_at_ms: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO tokens (token_hash, user_id, created_at, expires_at, \
                     last_used_at) VALUES ($1, $2, $3, $4, $3)",
                )
                .bind(token_hash)
                .bind(user_id)
                .bind(now_ms)
                .bind(expires_at_ms)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn token(
                &self,
                token_hash: &str,
                now_ms: i64,
            ) -> Result<Option<TokenInfo>, StoreError> {
                let row = sqlx::query(
                    "SELECT user_id, device_id FROM tokens WHERE token_hash = $1 \
                     AND (expires_at IS NULL OR expires_at > $2) AND revoked_at IS NULL",
                )
                .bind(token_hash)
                .bind(now_ms)
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else { return Ok(None) };
                let device: Option<String> = row.get("device_id");
                Ok(Some(TokenInfo {
                    user_id: row.get("user_id"),
                    device_id: device.as_deref().map(parse_uuid).transpose()?,
                }))
            }

            async fn token_record(
                &self,
                token_hash: &str,
            ) -> Result<Option<TokenRecord>, StoreError> {
                let row = sqlx::query(
                    "SELECT user_id, device_id, created_at, expires_at, last_used_at, revoked_at, \
                     app_version FROM tokens WHERE token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else { return Ok(None) };
                let device: Option<String> = row.get("device_id");
                Ok(Some(TokenRecord {
                    user_id: row.get("user_id"),
                    device_id: device.as_deref().map(parse_uuid).transpose()?,
                    created_at_ms: row.get("created_at"),
                    expires_at_ms: row.get("expires_at"),
                    last_used_at_ms: row.get("last_used_at"),
                    revoked_at_ms: row.get("revoked_at"),
                    app_version: row.get("app_version"),
                }))
            }

            async fn touch_token(
                &self,
                token_hash: &str,
                now_ms: i64,
                app: Option<&str>,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE tokens SET last_used_at = CASE WHEN last_used_at IS NULL \
                     OR last_used_at < $2 THEN $2 ELSE last_used_at END, \
                     app_version = COALESCE($3, app_version) WHERE token_hash = $1",
                )
                .bind(token_hash)
                .bind(now_ms)
                .bind(app)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn revoke_token(&self, token_hash: &str, now_ms: i64) -> Result<bool, StoreError> {
                let n = sqlx::query(
                    "UPDATE tokens SET revoked_at = $2 WHERE token_hash = $1 \
                     AND revoked_at IS NULL",
                )
                .bind(token_hash)
                .bind(now_ms)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(n > 0)
            }

            async fn revoke_device(&self, device_id: Uuid, now_ms: i64) -> Result<u64, StoreError> {
                Ok(sqlx::query(
                    "UPDATE tokens SET revoked_at = $2 WHERE device_id = $1 \
                     AND revoked_at IS NULL",
                )
                .bind(device_id.to_string())
                .bind(now_ms)
                .execute(&self.pool)
                .await?
                .rows_affected())
            }

            async fn revoke_user(&self, user_id: &str, now_ms: i64) -> Result<u64, StoreError> {
                let mut tx = self.pool.begin().await?;
                let tokens = sqlx::query(
                    "UPDATE tokens SET revoked_at = $2 WHERE user_id = $1 \
                     AND revoked_at IS NULL",
                )
                .bind(user_id)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                let sessions = sqlx::query("DELETE FROM console_sessions WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok(tokens + sessions)
            }

            async fn create_console_session(
                &self,
                id_hash: &str,
                user_id: &str,
                now_ms: i64,
                expires_at_ms: i64,
                idle_before_ms: i64,
            ) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "DELETE FROM console_sessions WHERE expires_at <= $1 OR last_used_at < $2",
                )
                .bind(now_ms)
                .bind(idle_before_ms)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO console_sessions (id_hash, user_id, created_at, last_used_at, \
                     expires_at) VALUES ($1, $2, $3, $3, $4)",
                )
                .bind(id_hash)
                .bind(user_id)
                .bind(now_ms)
                .bind(expires_at_ms)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn console_session(
                &self,
                id_hash: &str,
            ) -> Result<Option<ConsoleSession>, StoreError> {
                let row = sqlx::query(
                    "SELECT user_id, created_at, last_used_at, expires_at FROM console_sessions \
                     WHERE id_hash = $1",
                )
                .bind(id_hash)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(|r| ConsoleSession {
                    user_id: r.get("user_id"),
                    created_at_ms: r.get("created_at"),
                    last_used_at_ms: r.get("last_used_at"),
                    expires_at_ms: r.get("expires_at"),
                }))
            }

            async fn touch_console_session(
                &self,
                id_hash: &str,
                now_ms: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE console_sessions SET last_used_at = $2 WHERE id_hash = $1 \
                     AND last_used_at < $2",
                )
                .bind(id_hash)
                .bind(now_ms)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn delete_console_session(&self, id_hash: &str) -> Result<bool, StoreError> {
                let n = sqlx::query("DELETE FROM console_sessions WHERE id_hash = $1")
                    .bind(id_hash)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(n > 0)
            }

            async fn ledger(
                &self,
                filter: &LedgerFilter,
                scope: &fieldcheck_domain::scope::Scope,
            ) -> Result<LedgerPage, StoreError> {
                let pg_text = match $backend {
                    "postgres" => ledger::pg_text_search(filter, scope),
                    _ => None,
                };
                let (count, page, w) = pg_text.unwrap_or_else(|| {
                    let w = ledger::where_clause(filter, scope);
                    let cond = w.sql();
                    let page = ledger::page_sql(filter, &cond, w.args.len());
                    (format!("SELECT COUNT(*) FROM problems WHERE {cond}"), page, w)
                });
                // One snapshot: the total and the page agree.
                let mut tx = self.pool.begin().await?;
                let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count));
                for a in &w.args {
                    q = match a {
                        Arg::Text(t) => q.bind(t.clone()),
                        Arg::Int(i) => q.bind(*i),
                    };
                }
                let total = q.fetch_one(&mut *tx).await?;
                let mut q = sqlx::query(sqlx::AssertSqlSafe(page));
                for a in &w.args {
                    q = match a {
                        Arg::Text(t) => q.bind(t.clone()),
                        Arg::Int(i) => q.bind(*i),
                    };
                }
                let rows = q
                    .bind(i64::from(filter.limit))
                    .bind(i64::from(filter.offset))
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                let rows = rows
                    .iter()
                    .map(|r| LedgerRow {
                        id: r.get("id"),
                        code: r.get("code"),
                        status: r.get("status"),
                        category: r.get("category"),
                        description: r.get("description"),
                        address: r.get("address"),
                        district_id: r.get("district_id"),
                        point_id: r.get("point_id"),
                        unit_id: r.get("unit_id"),
                        reporter: r.get("reporter"),
                        reporter_role: r.get("reporter_role"),
                        source: r.get("source"),
                        severity: r.get("severity"),
                        rework_count: r.get("rework_count"),
                        reported_at_ms: r.get("reported_at"),
                        updated_at_ms: r.get("updated_at"),
                        deadline_ms: r.get("deadline"),
                        dispatched_at_ms: r.get("dispatched_at"),
                        closed_at_ms: r.get("closed_at"),
                    })
                    .collect();
                Ok(LedgerPage {
                    total: total as u64,
                    rows,
                })
            }

            async fn select(
                &self,
                statements: &[ledger::Select],
            ) -> Result<Vec<Vec<Vec<ledger::Value>>>, StoreError> {
                let mut tx = self.pool.begin().await?;
                let mut out = Vec::with_capacity(statements.len());
                for s in statements {
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(s.sql.clone()));
                    for a in &s.args {
                        q = match a {
                            Arg::Text(t) => q.bind(t.clone()),
                            Arg::Int(i) => q.bind(*i),
                        };
                    }
                    let mut rows = Vec::new();
                    for r in q.fetch_all(&mut *tx).await? {
                        let mut vals = Vec::with_capacity(s.columns.len());
                        for (i, c) in s.columns.iter().enumerate() {
                            vals.push(match c {
                                ledger::Col::Int => ledger::Value::Int(r.try_get(i)?),
                                ledger::Col::Real => ledger::Value::Real(r.try_get(i)?),
                                ledger::Col::Text => ledger::Value::Text(r.try_get(i)?),
                            });
                        }
                        rows.push(vals);
                    }
                    out.push(rows);
                }
                tx.commit().await?;
                Ok(out)
            }

            async fn set_user_disabled(
                &self,
                user_id: &str,
                disabled: bool,
                now_ms: i64,
            ) -> Result<Option<StoredUser>, StoreError> {
                // Disabling again keeps the first time (when access actually ended).
                let at: Option<i64> = disabled.then_some(now_ms);
                sqlx::query(
                    "UPDATE users SET disabled_at = CASE WHEN $2 IS NULL THEN NULL \
                     ELSE COALESCE(disabled_at, $2) END WHERE id = $1",
                )
                .bind(user_id)
                .bind(at)
                .execute(&self.pool)
                .await?;
                self.user(user_id).await
            }

            async fn blob_states(&self, hashes: &[String]) -> Result<Vec<BlobState>, StoreError> {
                let mut out = Vec::with_capacity(hashes.len());
                for h in hashes {
                    let row = sqlx::query("SELECT received, complete FROM blobs WHERE hash = $1")
                        .bind(h)
                        .fetch_optional(&self.pool)
                        .await?;
                    out.push(match row {
                        Some(r) => BlobState {
                            hash: h.clone(),
                            complete: r.get("complete"),
                            offset: r.get::<i64, _>("received") as u64,
                        },
                        None => BlobState {
                            hash: h.clone(),
                            complete: false,
                            offset: 0,
                        },
                    });
                }
                Ok(out)
            }

            async fn set_blob(
                &self,
                hash: &str,
                received: u64,
                size: Option<u64>,
                complete: bool,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO blobs (hash, size, received, complete) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (hash) DO UPDATE SET size = excluded.size, \
                     received = excluded.received, complete = excluded.complete",
                )
                .bind(hash)
                .bind(size.map(|s| s as i64))
                .bind(received as i64)
                .bind(complete)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn delete_blob(&self, hash: &str) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM blobs WHERE hash = $1")
                    .bind(hash)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn photo_record_scopes(
                &self,
                hash: &str,
            ) -> Result<Vec<ScopeAttrs>, StoreError> {
                // A record's last stored event carries its scope as it stands now.
                let rows = sqlx::query(
                    "SELECT e.scope_district, e.scope_unit, e.scope_owner \
                     FROM event_photos p JOIN events e ON e.seq = \
                     (SELECT MAX(l.seq) FROM events l WHERE l.entity_id = p.entity_id) \
                     WHERE p.hash = $1",
                )
                .bind(hash)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.iter().map(attrs_from_row).collect())
            }

            async fn blob_upload(
                &self,
                hash: &str,
                user_id: &str,
            ) -> Result<Option<BlobUpload>, StoreError> {
                let row = sqlx::query(
                    "SELECT size, complete FROM blob_uploads WHERE hash = $1 AND user_id = $2",
                )
                .bind(hash)
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(|r| BlobUpload {
                    size: r.get::<Option<i64>, _>("size").map(|s| s as u64),
                    complete: r.get("complete"),
                }))
            }

            async fn stage_blob_upload(
                &self,
                hash: &str,
                user_id: &str,
                user_key: &str,
                size: Option<u64>,
                now_ms: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    PG_RECORD_UPLOADER,
                )
                .bind(hash)
                .bind(user_id)
                .bind(user_key)
                .bind(size.map(|s| s as i64))
                .bind(now_ms)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn complete_blob_upload(
                &self,
                hash: &str,
                user_key: Option<&str>,
                size: u64,
                now_ms: i64,
            ) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO blobs (hash, size, received, complete) VALUES ($1, $2, $2, TRUE) \
                     ON CONFLICT (hash) DO UPDATE SET size = excluded.size, \
                     received = excluded.received, complete = TRUE",
                )
                .bind(hash)
                .bind(size as i64)
                .execute(&mut *tx)
                .await?;
                if let Some(key) = user_key {
                    // Chunks staged in the database have served their purpose.
                    sqlx::query(
                        "DELETE FROM blob_chunks WHERE hash = $1 AND user_id IN \
                         (SELECT user_id FROM blob_uploads WHERE hash = $1 AND user_key = $2)",
                    )
                    .bind(hash)
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "UPDATE blob_uploads SET complete = TRUE, size = $3, updated_at = $4 \
                         WHERE hash = $1 AND user_key = $2",
                    )
                    .bind(hash)
                    .bind(key)
                    .bind(size as i64)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn discard_blob_upload(
                &self,
                hash: &str,
                user_key: &str,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "DELETE FROM blob_uploads WHERE hash = $1 AND user_key = $2 AND NOT complete",
                )
                .bind(hash)
                .bind(user_key)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn expire_blob_uploads(&self, before_ms: i64) -> Result<u64, StoreError> {
                let done = sqlx::query(
                    "DELETE FROM blob_uploads WHERE NOT complete AND updated_at < $1",
                )
                .bind(before_ms)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected())
            }

            async fn stage_blob_chunk(
                &self,
                hash: &str,
                user_id: &str,
                user_key: &str,
                size: Option<u64>,
                start: u64,
                bytes: &[u8],
                now_ms: i64,
            ) -> Result<Result<u64, u64>, StoreError> {
                let end_of = "SELECT COALESCE(MAX(start + len), 0) FROM blob_chunks \
                              WHERE hash = $1 AND user_id = $2";
                let mut tx = self.begin_stage().await?;
                let have: i64 = sqlx::query_scalar(end_of)
                    .bind(hash)
                    .bind(user_id)
                    .fetch_one(&mut *tx)
                    .await?;
                if have as u64 != start {
                    return Ok(Err(have as u64));
                }
                sqlx::query(
                    PG_RECORD_UPLOADER,
                )
                .bind(hash)
                .bind(user_id)
                .bind(user_key)
                .bind(size.map(|s| s as i64))
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
                if bytes.is_empty() {
                    tx.commit().await?;
                    return Ok(Ok(start));
                }
                // Two instances that both read `have` insert at the same `start`: the key lets
                // exactly one of them stage (the other waits for it, then inserts nothing).
                let done = sqlx::query(
                    "INSERT INTO blob_chunks (hash, user_id, start, len, bytes) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind(hash)
                .bind(user_id)
                .bind(start as i64)
                .bind(bytes.len() as i64)
                .bind(bytes)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    let have: i64 = sqlx::query_scalar(end_of)
                        .bind(hash)
                        .bind(user_id)
                        .fetch_one(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    return Ok(Err(have as u64));
                }
                tx.commit().await?;
                Ok(Ok(start + bytes.len() as u64))
            }

            async fn staged_blob_len(&self, hash: &str, user_id: &str) -> Result<u64, StoreError> {
                let have: i64 = sqlx::query_scalar(
                    "SELECT COALESCE(MAX(start + len), 0) FROM blob_chunks \
                     WHERE hash = $1 AND user_id = $2",
                )
                .bind(hash)
                .bind(user_id)
                .fetch_one(&self.pool)
                .await?;
                Ok(have as u64)
            }

            async fn staged_blob_chunk(
                &self,
                hash: &str,
                user_id: &str,
                start: u64,
            ) -> Result<Option<Vec<u8>>, StoreError> {
                Ok(sqlx::query_scalar(
                    "SELECT bytes FROM blob_chunks WHERE hash = $1 AND user_id = $2 AND start = $3",
                )
                .bind(hash)
                .bind(user_id)
                .bind(start as i64)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn count_in_window(
                &self,
                key: &str,
                limit: u64,
                window_ms: i64,
                now_ms: i64,
            ) -> Result<bool, StoreError> {
                // One statement, atomic on both backends: a window that has ended starts
                // over at 1; a live one counts on only while under the limit (otherwise no
                // row is updated and none returned).
                let n: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO rate_counts (counter, window_start, n) VALUES ($1, $2, 1) \
                     ON CONFLICT (counter) DO UPDATE SET \
                     n = CASE WHEN rate_counts.window_start <= $2 - $3 THEN 1 \
                         ELSE rate_counts.n + 1 END, \
                     window_start = CASE WHEN rate_counts.window_start <= $2 - $3 THEN $2 \
                         ELSE rate_counts.window_start END \
                     WHERE rate_counts.window_start <= $2 - $3 OR rate_counts.n < $4 \
                     RETURNING n",
                )
                .bind(key)
                .bind(now_ms)
                .bind(window_ms)
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_optional(&self.pool)
                .await?;
                Ok(n.is_some_and(|n| n as u64 <= limit))
            }

            async fn take_token(
                &self,
                key: &str,
                interval_ms: i64,
                tolerance_ms: i64,
                now_ms: i64,
            ) -> Result<Result<(), i64>, StoreError> {
                // GCRA in one atomic statement: the arrival time moves on by one interval from
                // now or from where it stood, unless it already stands beyond the tolerance.
                let tat: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO rate_counts (counter, window_start, n) VALUES ($1, $2 + $3, 0) \
                     ON CONFLICT (counter) DO UPDATE SET window_start = \
                     CASE WHEN rate_counts.window_start > $2 THEN rate_counts.window_start \
                     ELSE $2 END + $3 \
                     WHERE rate_counts.window_start - $2 <= $4 \
                     RETURNING window_start",
                )
                .bind(key)
                .bind(now_ms)
                .bind(interval_ms)
                .bind(tolerance_ms)
                .fetch_optional(&self.pool)
                .await?;
                if tat.is_some() {
                    return Ok(Ok(()));
                }
                let tat: Option<i64> =
                    sqlx::query_scalar("SELECT window_start FROM rate_counts WHERE counter = $1")
                        .bind(key)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(Err(tat.map_or(0, |t| t - now_ms - tolerance_ms).max(1)))
            }

            async fn uncount(&self, key: &str) -> Result<(), StoreError> {
                sqlx::query("UPDATE rate_counts SET n = n - 1 WHERE counter = $1 AND n > 0")
                    .bind(key)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn reset_count(&self, key: &str) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM rate_counts WHERE counter = $1")
                    .bind(key)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn expire_counts(&self, before_ms: i64) -> Result<u64, StoreError> {
                let done = sqlx::query("DELETE FROM rate_counts WHERE window_start < $1")
                    .bind(before_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn put_reference(&self, bundle: &ReferenceBundle) -> Result<u64, StoreError> {
                Ok(self.put_reference_if(bundle, None).await?.unwrap_or_default())
            }

            async fn put_reference_if(
                &self,
                bundle: &ReferenceBundle,
                expected: Option<u64>,
            ) -> Result<Option<u64>, StoreError> {
                // Devices would refuse to install it; every caller (demo seeding, the office)
                // comes through here.
                crate::policy::check_bundle(bundle).map_err(StoreError::InvalidReference)?;
                let mut tx = self.begin_write().await?;
                let v: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM reference")
                    .fetch_one(&mut *tx)
                    .await?;
                // Checked inside the write transaction: two applies of previews made against
                // the same version cannot both land.
                if expected.is_some_and(|e| e as i64 != v) {
                    return Ok(None);
                }
                let next = v + 1;
                sqlx::query("INSERT INTO reference (version, bundle, created_at) VALUES ($1, $2, $3)")
                    .bind(next)
                    .bind(serde_json::to_string(bundle)?)
                    .bind(chrono::Utc::now().timestamp_millis())
                    .execute(&mut *tx)
                    .await?;
                // Users in the bundle become server users (passwords are set separately).
                // A bundle that lists users is the whole list: whoever it leaves out is marked
                // removed (their tokens stop working at once) until a bundle lists them again.
                if !bundle.users.is_empty() {
                    sqlx::query("UPDATE users SET removed_at = $1 WHERE removed_at IS NULL")
                        .bind(chrono::Utc::now().timestamp_millis())
                        .execute(&mut *tx)
                        .await?;
                }
                for u in &bundle.users {
                    sqlx::query(
                        "INSERT INTO users (id, role, unit_id, user_json) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (id) DO UPDATE SET role = excluded.role, \
                         unit_id = excluded.unit_id, user_json = excluded.user_json, \
                         removed_at = NULL",
                    )
                    .bind(&u.id)
                    .bind(u.role.as_str())
                    .bind(&u.unit_id)
                    .bind(serde_json::to_string(u)?)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(Some(next as u64))
            }

            async fn reference_version(&self) -> Result<u64, StoreError> {
                let v: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM reference")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(v as u64)
            }

            async fn reference(&self) -> Result<Option<(u64, ReferenceBundle)>, StoreError> {
                let row = sqlx::query(
                    "SELECT version, bundle FROM reference ORDER BY version DESC LIMIT 1",
                )
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else { return Ok(None) };
                let bundle: String = row.get("bundle");
                Ok(Some((
                    row.get::<i64, _>("version") as u64,
                    serde_json::from_str(&bundle)?,
                )))
            }

            async fn schema_state(&self) -> Result<SchemaState, StoreError> {
                let applied: Vec<(i64, bool)> =
                    sqlx::query_as("SELECT version, success FROM _sqlx_migrations")
                        .fetch_all(&self.pool)
                        .await?;
                Ok(compare_migrations(&$migrations, &applied))
            }

            async fn instance(&self) -> Result<String, StoreError> {
                Ok(sqlx::query_scalar("SELECT epoch FROM instance WHERE id = 1")
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn renew_instance(&self, now_ms: i64) -> Result<String, StoreError> {
                let epoch = Uuid::new_v4().simple().to_string();
                sqlx::query(
                    "UPDATE instance SET epoch = $1, created_at_ms = $2 WHERE id = 1",
                )
                .bind(&epoch)
                .bind(now_ms)
                .execute(&self.pool)
                .await?;
                Ok(epoch)
            }

            async fn newest_seq(&self) -> Result<u64, StoreError> {
                let n: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM events")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(n as u64)
            }

            fn pool_stats(&self) -> PoolStats {
                PoolStats {
                    size: self.pool.size(),
                    idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
                    max: self.pool.options().get_max_connections(),
                }
            }

            async fn drain(&self) {
                push::drain(&self.group).await;
            }

            async fn shutdown(&self) {
                push::drain(&self.group).await;
                self.pool.close().await;
            }
        }
    };
}

impl_store!(SqliteStore, "sqlite", SQLITE_MIGRATIONS);
impl_store!(PgStore, "postgres", PG_MIGRATIONS);

/// What the database applied compared with the migrations this build carries (down
/// migrations are not used: every embedded one is an "up").
fn compare_migrations(embedded: &sqlx::migrate::Migrator, applied: &[(i64, bool)]) -> SchemaState {
    if let Some((v, _)) = applied.iter().find(|(_, ok)| !ok) {
        return SchemaState::Failed(*v);
    }
    let ours: std::collections::BTreeSet<i64> = embedded
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| m.version)
        .collect();
    let theirs: std::collections::BTreeSet<i64> = applied.iter().map(|(v, _)| *v).collect();
    let ahead: Vec<i64> = theirs.difference(&ours).copied().collect();
    if !ahead.is_empty() {
        return SchemaState::Ahead(ahead);
    }
    let pending: Vec<i64> = ours.difference(&theirs).copied().collect();
    if !pending.is_empty() {
        return SchemaState::Pending(pending);
    }
    SchemaState::Current
}
