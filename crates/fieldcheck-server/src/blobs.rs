//! Where complete blobs (photos) live: a local directory (the default) or S3-compatible object
//! storage through the `object_store` crate, chosen by `Config::blob_store`.
//!
//! Uploads in progress are staged as files under `blob_dir/partial/` whatever the backend:
//! object storage cannot append, and a staged file keeps the resume offset across a server
//! restart. Only once the staged bytes hash to their name does [`BlobStore::keep`] hand them
//! over, so the backend never holds an unverified blob.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::config::Config;

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
