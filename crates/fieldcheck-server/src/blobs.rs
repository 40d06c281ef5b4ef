//! Where complete blobs (photos) live: a local directory (the default) or S3-compatible object
//! storage through the `object_store` crate, chosen by `Config::blob_store`.
//!
//! Uploads in progress are staged whatever the backend (object storage cannot append), and
//! the staging keeps the resume offset across a server restart: as files under
//! `blob_dir/partial/` on SQLite (one server), as chunk rows in the database on PostgreSQL,
//! where several instances share the database and a resumed upload may land on any of them.
//! Only once the staged bytes hash to their name does [`BlobStore::keep`] hand them over, so
//! the backend never holds an unverified blob. [`Uploads`] runs the staging: one upload per
//! blob and uploader, finishing that no cut connection can stop, who may read a blob, and the
//! sweeper that expires abandoned uploads.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use axum::body::Bytes;
use fieldcheck_domain::role::Role;
use fieldcheck_protocol::sync::BlobState;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::config::Config;
use crate::error::ServerError;
use crate::policy::Viewer;
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("object storage error: {0}")]
    Object(#[from] object_store::Error),
}

/// Invalid `blob_store` / `s3` settings.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BlobConfigError {
    #[error("unsupported blob_store {0:?}: expected empty, `local` or `s3://bucket[/prefix]`")]
    Unsupported(String),
    #[error("blob_store {0:?} names no bucket")]
    NoBucket(String),
    #[error("this build has no S3 support (feature `s3` of fieldcheck-server)")]
    S3Disabled,
    #[error("invalid S3 settings: {0}")]
    S3(String),
}

/// Storage of complete, verified blobs named by their SHA-256 hex digest (the caller
/// validates the name, so backends may use it as a file or key name as is).
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// For the startup log, e.g. `local:/srv/blobs` or `s3://bucket/prefix`.
    fn describe(&self) -> String;
    /// Size of the blob when it is stored.
    async fn size(&self, hash: &str) -> Result<Option<u64>, BlobError>;
    /// Takes over the verified file `staged` as blob `hash`; the staged file is gone after.
    async fn keep(&self, hash: &str, staged: &Path) -> Result<(), BlobError>;
    async fn get(&self, hash: &str) -> Result<Option<Bytes>, BlobError>;
}

/// Blobs as files `dir/<hash>` (the layout the server has always used).
pub struct LocalBlobs {
    dir: PathBuf,
}

impl LocalBlobs {
    pub fn new(dir: impl Into<PathBuf>) -> LocalBlobs {
        LocalBlobs { dir: dir.into() }
    }
}

fn absent<T>(e: std::io::Error) -> Result<Option<T>, BlobError> {
    if e.kind() == std::io::ErrorKind::NotFound {
        Ok(None)
    } else {
        Err(e.into())
    }
}

#[async_trait]
impl BlobStore for LocalBlobs {
    fn describe(&self) -> String {
        format!("local:{}", self.dir.display())
    }

    async fn size(&self, hash: &str) -> Result<Option<u64>, BlobError> {
        match tokio::fs::metadata(self.dir.join(hash)).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) => absent(e),
        }
    }

    async fn keep(&self, hash: &str, staged: &Path) -> Result<(), BlobError> {
        tokio::fs::create_dir_all(&self.dir).await?;
        // Same file system as the staging directory: the rename is atomic, so a reader sees
        // either no blob or all of it.
        tokio::fs::rename(staged, self.dir.join(hash)).await?;
        Ok(())
    }

    async fn get(&self, hash: &str) -> Result<Option<Bytes>, BlobError> {
        match tokio::fs::read(self.dir.join(hash)).await {
            Ok(b) => Ok(Some(Bytes::from(b))),
            Err(e) => absent(e),
        }
    }
}

/// Blobs as objects `<prefix>/<hash>` in any `object_store` backend (S3 in production, the
/// in-memory store in tests).
pub struct ObjectBlobs {
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    label: String,
}

impl ObjectBlobs {
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str, label: impl Into<String>) -> Self {
        ObjectBlobs {
            store,
            prefix: ObjectPath::from(prefix),
            label: label.into(),
        }
    }

    fn key(&self, hash: &str) -> ObjectPath {
        self.prefix.clone().join(hash)
    }
}

fn object_absent<T>(e: object_store::Error) -> Result<Option<T>, BlobError> {
    match e {
        object_store::Error::NotFound { .. } => Ok(None),
        e => Err(e.into()),
    }
}

#[async_trait]
impl BlobStore for ObjectBlobs {
    fn describe(&self) -> String {
        self.label.clone()
    }

    async fn size(&self, hash: &str) -> Result<Option<u64>, BlobError> {
        match self.store.head(&self.key(hash)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(e) => object_absent(e),
        }
    }

    async fn keep(&self, hash: &str, staged: &Path) -> Result<(), BlobError> {
        // Blobs are capped (`max_blob_bytes`, tens of MiB), so one PUT of the whole file is
        // simpler than a multipart upload and just as safe: the object appears atomically.
        let bytes = tokio::fs::read(staged).await?;
        self.store
            .put(&self.key(hash), PutPayload::from(bytes))
            .await?;
        // Removing the staged copy only after the PUT succeeded: a crash in between leaves a
        // complete object and a stray staged file, never a lost blob.
        tokio::fs::remove_file(staged).await?;
        Ok(())
    }

    async fn get(&self, hash: &str) -> Result<Option<Bytes>, BlobError> {
        match self.store.get(&self.key(hash)).await {
            Ok(r) => Ok(Some(r.bytes().await?)),
            Err(e) => object_absent(e),
        }
    }
}

/// What `Config::blob_store` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobLocation {
    Local,
    S3 { bucket: String, prefix: String },
}

pub fn parse_blob_store(s: &str) -> Result<BlobLocation, BlobConfigError> {
    let s = s.trim();
    if s.is_empty() || s == "local" {
        return Ok(BlobLocation::Local);
    }
    let Some(rest) = s.strip_prefix("s3://") else {
        return Err(BlobConfigError::Unsupported(s.to_owned()));
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(BlobConfigError::NoBucket(s.to_owned()));
    }
    Ok(BlobLocation::S3 {
        bucket: bucket.to_owned(),
        prefix: prefix.trim_matches('/').to_owned(),
    })
}

/// The blob store the config selects. Building an S3 client does not contact the server;
/// a wrong endpoint or credentials show up on the first upload.
pub fn from_config(config: &Config) -> Result<Arc<dyn BlobStore>, BlobConfigError> {
    match parse_blob_store(&config.blob_store)? {
        BlobLocation::Local => Ok(Arc::new(LocalBlobs::new(&config.blob_dir))),
        BlobLocation::S3 { bucket, prefix } => s3(config, &bucket, &prefix),
    }
}

#[cfg(feature = "s3")]
fn s3(config: &Config, bucket: &str, prefix: &str) -> Result<Arc<dyn BlobStore>, BlobConfigError> {
    use object_store::aws::AmazonS3Builder;
    let c = &config.s3;
    let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket);
    if !c.endpoint.is_empty() {
        b = b.with_endpoint(&c.endpoint);
    }
    if !c.region.is_empty() {
        b = b.with_region(&c.region);
    }
    if !c.access_key_id.is_empty() {
        b = b.with_access_key_id(&c.access_key_id);
    }
    if !c.secret_access_key.is_empty() {
        b = b.with_secret_access_key(&c.secret_access_key);
    }
    if c.allow_http {
        b = b.with_allow_http(true);
    }
    let store = b.build().map_err(|e| BlobConfigError::S3(e.to_string()))?;
    let label = if prefix.is_empty() {
        format!("s3://{bucket}")
    } else {
        format!("s3://{bucket}/{prefix}")
    };
    Ok(Arc::new(ObjectBlobs::new(Arc::new(store), prefix, label)))
}

#[cfg(not(feature = "s3"))]
fn s3(_: &Config, _: &str, _: &str) -> Result<Arc<dyn BlobStore>, BlobConfigError> {
    Err(BlobConfigError::S3Disabled)
}

/// What a chunk did (`PUT /blobs/{hash}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// The blob was already stored and the caller may read it: nothing staged.
    Stored(u64),
    /// Staged; the upload continues at this offset.
    Staged(u64),
    /// This request's bytes completed the blob and it verified.
    Completed(u64),
}

/// The outcome of verifying a fully staged upload.
enum Finished {
    Stored(u64),
    /// The bytes did not hash to the name (or not to the announced size): deleted, so the
    /// uploader starts again from 0.
    Discarded,
}

/// Name prefix of a file an upload staged in the database is assembled into (never a valid
/// staged name, so the file sweep leaves it to its own rule).
const ASSEMBLING: &str = "assembling-";

/// A staged file's name: `<hash>` (the layout before uploads were kept per uploader) or
/// `<hash>.<user_key>`.
fn parse_staged_name(name: &str) -> Option<(String, Option<String>)> {
    let (hash, key) = match name.split_once('.') {
        Some((h, k)) if k.len() == 16 && k.bytes().all(|b| b.is_ascii_hexdigit()) => {
            (h, Some(k.to_owned()))
        }
        Some(_) => return None,
        None => (name, None),
    };
    crate::api::valid_hash(hash).then(|| (hash.to_owned(), key))
}

/// A file-name-safe stand-in for a user id (user ids come from reference data and may hold
/// any character): 16 hex digits of its SHA-256.
pub fn user_key(user_id: &str) -> String {
    hex::encode(&Sha256::digest(user_id.as_bytes())[..8])
}

async fn file_len(path: &Path) -> u64 {
    tokio::fs::metadata(path)
        .await
        .map(|m| m.len())
        .unwrap_or(0)
}

async fn remove_if_present(path: &Path) -> Result<(), std::io::Error> {
    match tokio::fs::remove_file(path).await {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// SHA-256 (hex) and length of a file, read on a blocking thread in pieces (a blob may be
/// tens of MiB).
async fn hash_file(path: &Path) -> Result<(String, u64), ServerError> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || -> std::io::Result<(String, u64)> {
        let mut f = std::fs::File::open(&path)?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut len = 0u64;
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            len += n as u64;
        }
        Ok((hex::encode(h.finalize()), len))
    })
    .await
    .map_err(|e| ServerError::Io(std::io::Error::other(e)))?
    .map_err(ServerError::Io)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Uploads in progress and access to stored blobs.
///
/// Each uploader stages into their own file `partial/<hash>.<user_key>`: one user's bytes
/// never mix with another's, and whether someone else uploads (or has stored) the same hash is
/// never visible to a caller who may not read it. All work on one hash runs under one lock,
/// and everything after a chunk's body has arrived runs on a spawned task: a client that
/// disconnects cannot stop a chunk half way, nor the verification of a complete upload.
pub struct Uploads {
    store: Arc<dyn Store>,
    blobs: Arc<dyn BlobStore>,
    /// Staged files (SQLite), and on PostgreSQL only where a verified upload is assembled
    /// for a moment before the blob store takes it.
    dir: PathBuf,
    /// Chunks are staged in the (shared) database, not in `dir`: on PostgreSQL.
    in_database: bool,
    max_blob_bytes: u64,
    ttl: Duration,
    locks: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Uploads {
    pub fn new(store: Arc<dyn Store>, blobs: Arc<dyn BlobStore>, config: &Config) -> Uploads {
        Uploads {
            in_database: store.backend() == "postgres",
            store,
            blobs,
            dir: config.blob_dir.join("partial"),
            max_blob_bytes: config.max_blob_bytes,
            ttl: Duration::from_secs(config.staged_upload_ttl_secs),
            locks: std::sync::Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self, hash: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(hash.to_owned()).or_default().clone()
    }

    /// Where `user_id` stages `hash`.
    pub fn staged_path(&self, hash: &str, user_id: &str) -> PathBuf {
        self.dir.join(format!("{hash}.{}", user_key(user_id)))
    }

    /// May this viewer read blob `hash`? Admins always; anyone who may see a record one of
    /// whose events refers to it; and whoever uploaded it completely themselves (a device
    /// reads back its own photo before its record exists on the server). Valid for stored and
    /// unstored hashes alike, so refusing looks exactly like "not there".
    pub async fn may_read(&self, viewer: &Viewer, hash: &str) -> Result<bool, ServerError> {
        if viewer.user.role == Role::Admin {
            return Ok(true);
        }
        if self
            .store
            .blob_upload(hash, &viewer.user.id)
            .await?
            .is_some_and(|u| u.complete)
        {
            return Ok(true);
        }
        let scopes = self.store.photo_record_scopes(hash).await?;
        Ok(scopes.iter().any(|s| viewer.can_see(s)))
    }

    /// The stored blob, when there is one (the caller checked [`Uploads::may_read`]).
    pub async fn get(&self, hash: &str) -> Result<Option<Bytes>, ServerError> {
        Ok(self.blobs.get(hash).await?)
    }

    /// `blobs/check` for one hash: complete when it is stored and `readable`; otherwise the
    /// caller's own staged upload — finished now if all its bytes are there (the request that
    /// brought them was cut off before the answer, or the server stopped) — or offset 0.
    pub async fn check(
        self: &Arc<Self>,
        hash: &str,
        user_id: &str,
        stored: Option<u64>,
        readable: bool,
    ) -> Result<BlobState, ServerError> {
        if let Some(size) = stored.filter(|_| readable) {
            return Ok(BlobState {
                hash: hash.to_owned(),
                complete: true,
                offset: size,
            });
        }
        if self.in_database {
            let this = self.clone();
            let (hash, user_id) = (hash.to_owned(), user_id.to_owned());
            return tokio::spawn(
                async move { this.staged_state_in_database(hash, &user_id).await },
            )
            .await
            .map_err(|e| ServerError::Io(std::io::Error::other(e)))?;
        }
        let path = self.staged_path(hash, user_id);
        if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(BlobState {
                hash: hash.to_owned(),
                complete: false,
                offset: 0,
            });
        }
        let this = self.clone();
        let (hash, user_id) = (hash.to_owned(), user_id.to_owned());
        tokio::spawn(async move { this.staged_state(hash, &user_id, path).await })
            .await
            .map_err(|e| ServerError::Io(std::io::Error::other(e)))?
    }

    async fn staged_state(
        &self,
        hash: String,
        user_id: &str,
        path: PathBuf,
    ) -> Result<BlobState, ServerError> {
        let lock = self.lock(&hash);
        let _guard = lock.lock().await;
        let upload = self.store.blob_upload(&hash, user_id).await?;
        let len = file_len(&path).await;
        let state = |complete, offset| BlobState {
            hash: hash.clone(),
            complete,
            offset,
        };
        match upload {
            // Finished by a request that raced this one.
            Some(u) if u.complete => Ok(state(true, u.size.unwrap_or(len))),
            Some(u) if u.size.is_some_and(|size| len >= size) && len > 0 => {
                match self
                    .finish(&hash, Some(&user_key(user_id)), &path, u.size)
                    .await?
                {
                    Finished::Stored(size) => Ok(state(true, size)),
                    Finished::Discarded => Ok(state(false, 0)),
                }
            }
            _ => Ok(state(false, len)),
        }
    }

    /// [`Uploads::staged_state`] with the chunks in the database.
    async fn staged_state_in_database(
        &self,
        hash: String,
        user_id: &str,
    ) -> Result<BlobState, ServerError> {
        let lock = self.lock(&hash);
        let _guard = lock.lock().await;
        let state = |complete, offset| BlobState {
            hash: hash.clone(),
            complete,
            offset,
        };
        let Some(upload) = self.store.blob_upload(&hash, user_id).await? else {
            return Ok(state(false, 0));
        };
        if upload.complete {
            return Ok(state(true, upload.size.unwrap_or(0)));
        }
        let len = self.store.staged_blob_len(&hash, user_id).await?;
        if upload.size.is_some_and(|size| len >= size) && len > 0 {
            return match self.finish_in_database(&hash, user_id, upload.size).await? {
                Finished::Stored(size) => Ok(state(true, size)),
                Finished::Discarded => Ok(state(false, 0)),
            };
        }
        Ok(state(false, len))
    }

    /// Stages one chunk of `user_id`'s upload at `offset` and finishes the blob when this
    /// chunk completes it (`size` reached, or no `size`: the last chunk). An empty chunk at
    /// the end finishes an upload whose bytes are all staged. `readable`: the caller may read
    /// the blob, so an already stored one answers [`Put::Stored`] at once.
    pub async fn put(
        self: &Arc<Self>,
        hash: &str,
        user_id: &str,
        readable: bool,
        offset: u64,
        size: Option<u64>,
        body: Bytes,
    ) -> Result<Put, ServerError> {
        let this = self.clone();
        let (hash, user_id) = (hash.to_owned(), user_id.to_owned());
        tokio::spawn(async move {
            this.put_locked(&hash, &user_id, readable, offset, size, body)
                .await
        })
        .await
        .map_err(|e| ServerError::Io(std::io::Error::other(e)))?
    }

    async fn put_locked(
        &self,
        hash: &str,
        user_id: &str,
        readable: bool,
        offset: u64,
        size: Option<u64>,
        body: Bytes,
    ) -> Result<Put, ServerError> {
        let lock = self.lock(hash);
        let _guard = lock.lock().await;
        if readable && let Some(stored) = self.blobs.size(hash).await? {
            // Also heals a row lost between keeping a blob and recording it.
            self.store
                .complete_blob_upload(hash, None, stored, now_ms())
                .await?;
            return Ok(Put::Stored(stored));
        }
        if self.in_database {
            return self
                .put_in_database(hash, user_id, offset, size, &body)
                .await;
        }
        let path = self.staged_path(hash, user_id);
        tokio::fs::create_dir_all(&self.dir).await?;
        let have = file_len(&path).await;
        if offset != have {
            return Err(ServerError::BadOffset {
                got: offset,
                expected: have,
            });
        }
        let received = have + body.len() as u64;
        if received > self.max_blob_bytes {
            return Err(ServerError::BlobTooLarge {
                size: received,
                max: self.max_blob_bytes,
            });
        }
        let key = user_key(user_id);
        // The uploader is on record before their first byte is, so a staged file always has
        // an owner (and an expiry clock).
        self.store
            .stage_blob_upload(hash, user_id, &key, size, now_ms())
            .await?;
        if !body.is_empty() {
            let mut f = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .await?;
            f.write_all(&body).await?;
            // Durable before we answer: the client moves its offset on, and a restarted
            // server must resume from the same byte.
            f.sync_all().await?;
        }
        if size.is_some_and(|s| received < s) {
            return Ok(Put::Staged(received));
        }
        match self.finish(hash, Some(&key), &path, size).await? {
            Finished::Stored(n) => Ok(Put::Completed(n)),
            Finished::Discarded => Err(ServerError::HashMismatch(hash.to_owned())),
        }
    }

    /// [`Uploads::put_locked`] with the chunks in the database: where the upload stands and
    /// the new chunk are settled in one transaction there, so two instances taking chunks of
    /// one upload (a resumed request racing a cut one) cannot both append at one offset.
    async fn put_in_database(
        &self,
        hash: &str,
        user_id: &str,
        offset: u64,
        size: Option<u64>,
        body: &[u8],
    ) -> Result<Put, ServerError> {
        let received = offset + body.len() as u64;
        if received > self.max_blob_bytes {
            return Err(ServerError::BlobTooLarge {
                size: received,
                max: self.max_blob_bytes,
            });
        }
        let key = user_key(user_id);
        let staged = self
            .store
            .stage_blob_chunk(hash, user_id, &key, size, offset, body, now_ms())
            .await?;
        let received = staged.map_err(|have| ServerError::BadOffset {
            got: offset,
            expected: have,
        })?;
        if size.is_some_and(|s| received < s) {
            return Ok(Put::Staged(received));
        }
        match self.finish_in_database(hash, user_id, size).await? {
            Finished::Stored(n) => Ok(Put::Completed(n)),
            Finished::Discarded => Err(ServerError::HashMismatch(hash.to_owned())),
        }
    }

    /// Assembles an upload staged in the database into a local file, chunk by chunk (memory
    /// holds one chunk), hashing on the way; stores it when it verifies, discards the upload
    /// otherwise. Another instance may finish the same upload at the same time (its request
    /// was cut and the device resumed here): both verify the same bytes and store the same
    /// blob, and one that finds the chunks gone because the other completed says so.
    async fn finish_in_database(
        &self,
        hash: &str,
        user_id: &str,
        size: Option<u64>,
    ) -> Result<Finished, ServerError> {
        tokio::fs::create_dir_all(&self.dir).await?;
        let tmp = self
            .dir
            .join(format!("{ASSEMBLING}{}", uuid::Uuid::new_v4().simple()));
        let assembled = self.assemble(hash, user_id, &tmp).await;
        let (actual, len) = match assembled {
            Ok(done) => done,
            Err(e) => {
                remove_if_present(&tmp).await?;
                return Err(e);
            }
        };
        let key = user_key(user_id);
        if actual != hash || size.is_some_and(|s| s != len) {
            remove_if_present(&tmp).await?;
            if let Some(u) = self.store.blob_upload(hash, user_id).await?
                && u.complete
            {
                return Ok(Finished::Stored(u.size.unwrap_or(len)));
            }
            // Its chunks go with it (foreign key).
            self.store.discard_blob_upload(hash, &key).await?;
            return Ok(Finished::Discarded);
        }
        if let Err(e) = self.keep_verified(hash, Some(&key), &tmp, len).await {
            remove_if_present(&tmp).await?;
            return Err(e);
        }
        Ok(Finished::Stored(len))
    }

    /// Writes the staged chunks of an upload to `path`: (SHA-256 hex, length).
    async fn assemble(
        &self,
        hash: &str,
        user_id: &str,
        path: &Path,
    ) -> Result<(String, u64), ServerError> {
        let mut file = tokio::fs::File::create(path).await?;
        let mut hasher = Sha256::new();
        let mut len = 0u64;
        while let Some(chunk) = self.store.staged_blob_chunk(hash, user_id, len).await? {
            file.write_all(&chunk).await?;
            len += chunk.len() as u64;
            // A chunk is up to `max_chunk_bytes`: hashed off the async threads.
            hasher = tokio::task::spawn_blocking(move || {
                hasher.update(&chunk);
                hasher
            })
            .await
            .map_err(|e| ServerError::Io(std::io::Error::other(e)))?;
        }
        // The local blob store renames this file into place: durable first.
        file.sync_all().await?;
        Ok((hex::encode(hasher.finalize()), len))
    }

    /// Verifies a fully staged upload and stores it, or deletes it when it does not verify.
    /// The caller holds the hash's lock.
    async fn finish(
        &self,
        hash: &str,
        key: Option<&str>,
        path: &Path,
        size: Option<u64>,
    ) -> Result<Finished, ServerError> {
        let (actual, len) = if tokio::fs::try_exists(path).await? {
            hash_file(path).await?
        } else {
            (hex::encode(Sha256::digest(b"")), 0)
        };
        if actual != hash || size.is_some_and(|s| s != len) {
            remove_if_present(path).await?;
            if let Some(key) = key {
                self.store.discard_blob_upload(hash, key).await?;
            }
            return Ok(Finished::Discarded);
        }
        self.keep_verified(hash, key, path, len).await?;
        Ok(Finished::Stored(len))
    }

    async fn keep_verified(
        &self,
        hash: &str,
        key: Option<&str>,
        path: &Path,
        len: u64,
    ) -> Result<(), ServerError> {
        if self.blobs.size(hash).await?.is_some() {
            // Someone else's upload stored it first; this one only proved the caller has it.
            remove_if_present(path).await?;
        } else {
            self.blobs.keep(hash, path).await?;
        }
        self.store
            .complete_blob_upload(hash, key, len, now_ms())
            .await?;
        Ok(())
    }

    /// One pass of the sweeper at `now`: staged files untouched for the TTL are deleted with
    /// their rows. With `recover` (the first pass after a start), every staged file whose bytes
    /// already hash to their name is stored first: its upload was complete when the server
    /// stopped, and its device may never send it again (on PostgreSQL, every upload whose
    /// chunks reach its size: [`Uploads::recover_in_database`]). Returns the uploads deleted (staged
    /// files; on PostgreSQL, uploads whose chunks are in the database).
    pub async fn sweep(&self, now: SystemTime, recover: bool) -> Result<usize, ServerError> {
        let cutoff = now.checked_sub(self.ttl).unwrap_or(SystemTime::UNIX_EPOCH);
        let mut removed = 0;
        if recover && self.in_database {
            self.recover_in_database().await?;
        }
        let mut entries = match tokio::fs::read_dir(&self.dir).await {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e.into()),
        };
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name();
            let Some((hash, key)) = name.to_str().and_then(parse_staged_name) else {
                // An assembly a crash interrupted: its chunks are still in the database.
                if name.to_str().is_some_and(|n| n.starts_with(ASSEMBLING))
                    && entry.metadata().await?.modified()? < cutoff
                {
                    remove_if_present(&entry.path()).await?;
                }
                continue;
            };
            let path = entry.path();
            let lock = self.lock(&hash);
            let _guard = lock.lock().await;
            let Ok(meta) = tokio::fs::metadata(&path).await else {
                continue; // finished or removed meanwhile
            };
            if recover && meta.len() > 0 {
                let (actual, len) = hash_file(&path).await?;
                if actual == hash {
                    tracing::info!(%hash, "finishing an upload staged completely before a stop");
                    self.keep_verified(&hash, key.as_deref(), &path, len)
                        .await?;
                    continue;
                }
            }
            if meta.modified()? < cutoff {
                remove_if_present(&path).await?;
                if let Some(key) = &key {
                    self.store.discard_blob_upload(&hash, key).await?;
                }
                removed += 1;
            }
        }
        let cutoff_ms = cutoff
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let expired = self.store.expire_blob_uploads(cutoff_ms).await?;
        if self.in_database {
            // Their chunks went with them: nothing on disk to count.
            removed += expired as usize;
        }
        // Shared rate counters (PostgreSQL) of senders gone quiet; the limiters prune too,
        // but only when someone signs in.
        let day_ago = now
            .checked_sub(Duration::from_secs(86_400))
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as i64);
        self.store.expire_counts(day_ago).await?;
        // Locks of hashes nobody is working on.
        self.locks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, l| Arc::strong_count(l) > 1);
        Ok(removed)
    }

    /// The first sweep on PostgreSQL: every unfinished upload whose chunks in the database
    /// reach its declared size (the server stopped between the last chunk and its assembly,
    /// and the device may never ask again) is finished now — assembled, verified and stored,
    /// or discarded with its chunks when the bytes do not hash to its name. Several instances
    /// starting at once may finish the same upload; [`Uploads::finish_in_database`] settles
    /// that. An upload sent without a size cannot be known to be complete and is left to its
    /// device (or the TTL). Returns the uploads finished or discarded.
    pub async fn recover_in_database(&self) -> Result<usize, ServerError> {
        use crate::store::ledger::{Col, Select};
        let rows = self
            .store
            .select(&[Select {
                sql: "SELECT u.hash, u.user_id, u.size FROM blob_uploads u \
                      WHERE NOT u.complete AND u.size > 0 AND u.size <= \
                      (SELECT COALESCE(MAX(c.start + c.len), 0) FROM blob_chunks c \
                       WHERE c.hash = u.hash AND c.user_id = u.user_id)"
                    .into(),
                args: vec![],
                columns: vec![Col::Text, Col::Text, Col::Int],
            }])
            .await?;
        let mut done = 0;
        for row in &rows[0] {
            let (Some(hash), Some(user_id)) = (row[0].text(), row[1].text()) else {
                continue;
            };
            let lock = self.lock(hash);
            let _guard = lock.lock().await;
            // Finished or discarded meanwhile (a device's check, another instance)?
            match self.store.blob_upload(hash, user_id).await? {
                Some(u) if !u.complete => {}
                _ => continue,
            }
            match self
                .finish_in_database(hash, user_id, row[2].opt_int().map(|n| n as u64))
                .await?
            {
                Finished::Stored(len) => {
                    tracing::info!(%hash, len, "finished an upload staged completely before a stop");
                }
                Finished::Discarded => {
                    tracing::warn!(%hash, "discarded a staged upload whose bytes do not match its name");
                }
            }
            done += 1;
        }
        Ok(done)
    }

    /// Sweeps at start (recovering complete uploads) and then every quarter TTL (at least
    /// every second, at most every hour) until dropped.
    pub async fn run_sweeper(self: Arc<Self>) {
        let every = (self.ttl / 4).clamp(Duration::from_secs(1), Duration::from_secs(3600));
        let mut recover = true;
        loop {
            match self.sweep(SystemTime::now(), recover).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "expired unfinished uploads"),
                Err(e) => tracing::warn!(error = %e, "sweeping staged uploads failed"),
            }
            recover = false;
            tokio::time::sleep(every).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_store_urls_parse() {
        assert_eq!(parse_blob_store(""), Ok(BlobLocation::Local));
        assert_eq!(parse_blob_store("local"), Ok(BlobLocation::Local));
        assert_eq!(
            parse_blob_store("s3://photos/fc/blobs/"),
            Ok(BlobLocation::S3 {
                bucket: "photos".into(),
                prefix: "fc/blobs".into()
            })
        );
        assert_eq!(
            parse_blob_store("s3://photos"),
            Ok(BlobLocation::S3 {
                bucket: "photos".into(),
                prefix: String::new()
            })
        );
        assert!(matches!(
            parse_blob_store("s3:///x"),
            Err(BlobConfigError::NoBucket(_))
        ));
        assert!(matches!(
            parse_blob_store("gs://b"),
            Err(BlobConfigError::Unsupported(_))
        ));
    }

    #[cfg(feature = "s3")]
    #[test]
    fn s3_config_builds_a_client_without_network() {
        let mut config = Config {
            blob_store: "s3://photos/fc".into(),
            ..Config::default()
        };
        config.s3.endpoint = "http://127.0.0.1:9".into();
        config.s3.region = "us-east-1".into();
        config.s3.access_key_id = "AK".into();
        config.s3.secret_access_key = "SK".into();
        config.s3.allow_http = true;
        let store = from_config(&config).unwrap();
        assert_eq!(store.describe(), "s3://photos/fc");
    }

    #[tokio::test]
    async fn object_blobs_keep_and_get_through_the_trait() {
        let dir = tempfile::tempdir().unwrap();
        let staged = dir.path().join("staged");
        std::fs::write(&staged, b"hello").unwrap();
        let mem = Arc::new(object_store::memory::InMemory::new());
        let blobs = ObjectBlobs::new(mem.clone(), "pre/fix", "mem");
        let h = "ab".repeat(32);
        assert_eq!(blobs.size(&h).await.unwrap(), None);
        assert_eq!(blobs.get(&h).await.unwrap(), None);
        blobs.keep(&h, &staged).await.unwrap();
        assert!(!staged.exists(), "staged file handed over");
        assert_eq!(blobs.size(&h).await.unwrap(), Some(5));
        assert_eq!(blobs.get(&h).await.unwrap().unwrap().as_ref(), b"hello");
        let key = ObjectPath::from(format!("pre/fix/{h}"));
        assert!(mem.head(&key).await.is_ok(), "stored under the prefix");
    }
}
