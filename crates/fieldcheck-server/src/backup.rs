//! `fieldcheck-server backup --to DIR` and `restore --from DIR`.
//!
//! A backup is a directory: the database (SQLite: one consistent file made with `VACUUM INTO`
//! while the server serves; PostgreSQL: a `pg_dump --format=custom` archive, itself one
//! snapshot), then the photos of a local blob store (`blobs/`), then `manifest.json`, written
//! last, so a directory without it is an unfinished backup. Photos are copied *after* the
//! database: a photo is in the blob store before any row names it and none is ever deleted,
//! so the copy holds every photo the database refers to. A bucket (`blob_store = "s3://…"`)
//! is not copied: it is backed up with the object store's own tools (versioning, replication,
//! `rclone`/`aws s3 sync`), and the manifest says so.
//!
//! A restore puts the database and photos back and then gives the database a **new instance
//! id**: every device sees it on its next sync and sends again what the restored server lost
//! (`fieldcheck_core::sync`, "Sync client" in ARCHITECTURE.md). It refuses a target that holds
//! data unless forced, and must run while the server is stopped.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use sqlx::Connection;

use crate::Config;
use crate::blobs::{BlobLocation, parse_blob_store};
use crate::store::{PgStore, SqliteStore, Store};

/// The manifest's format; a restore refuses other versions.
pub const MANIFEST_FORMAT: u32 = 1;
pub const MANIFEST: &str = "manifest.json";
const SQLITE_FILE: &str = "fieldcheck.db";
const PG_FILE: &str = "fieldcheck.dump";
const BLOBS: &str = "blobs";

/// `manifest.json`: what the backup holds and what a restore needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// The database file in the backup directory.
    pub database: String,
    /// The PostgreSQL schema dumped (`--pg-schema`), if not the default one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pg_schema: Option<String>,
    pub created_at: String,
    pub server_version: String,
    /// The instance id of the data backed up (a restore replaces it with a new one).
    pub instance: String,
    /// Events and the newest `seq` in the copy (PostgreSQL: read just before the dump, so
    /// the dump holds at least these).
    pub events: u64,
    pub newest_seq: u64,
    /// The newest migration applied to the copied database.
    pub migration: i64,
    pub blobs: BlobsBackup,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BlobsBackup {
    /// Copied into `dir` (relative to the backup).
    Copied { dir: String, files: u64, bytes: u64 },
    /// In an object store this backup did not copy: back it up with the store's own tools.
    External { store: String },
}

/// Makes a backup of the configured database and blobs in `to` (a new or empty directory)
/// while the server may be serving.
pub async fn backup(
    config: &Config,
    pg_schema: Option<&str>,
    to: &Path,
) -> anyhow::Result<Manifest> {
    if to.exists() && std::fs::read_dir(to)?.next().is_some() {
        bail!(
            "{} is not empty: back up into a new directory (one per backup)",
            to.display()
        );
    }
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    let blob_location = parse_blob_store(&config.blob_store)?;
    let mut manifest = if is_sqlite(&config.database_url) {
        backup_sqlite(config, to).await?
    } else {
        backup_postgres(config, pg_schema, to).await?
    };
    manifest.blobs = match blob_location {
        BlobLocation::Local => {
            let (files, bytes) = copy_blobs(&config.blob_dir, &to.join(BLOBS))?;
            BlobsBackup::Copied {
                dir: BLOBS.to_owned(),
                files,
                bytes,
            }
        }
        BlobLocation::S3 { .. } => BlobsBackup::External {
            store: config.blob_store.clone(),
        },
    };
    write_atomically(&to.join(MANIFEST), &serde_json::to_vec_pretty(&manifest)?)?;
    Ok(manifest)
}

fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

fn sqlite_path(url: &str) -> anyhow::Result<PathBuf> {
    let opts: sqlx::sqlite::SqliteConnectOptions = url.parse()?;
    Ok(opts.get_filename().to_owned())
}

fn new_manifest(backend: &str, database: &str, pg_schema: Option<&str>) -> Manifest {
    Manifest {
        format: MANIFEST_FORMAT,
        backend: backend.to_owned(),
        database: database.to_owned(),
        pg_schema: pg_schema.map(str::to_owned),
        created_at: chrono::Utc::now().to_rfc3339(),
        server_version: env!("CARGO_PKG_VERSION").to_owned(),
        instance: String::new(),
        events: 0,
        newest_seq: 0,
        migration: 0,
        blobs: BlobsBackup::External {
            store: String::new(),
        },
    }
}

/// `VACUUM INTO` on the live database: one read transaction, so the copy is one consistent
/// state while the server keeps committing (unlike the online backup API, it does not start
/// over when a commit lands during the copy; README "Backups" has the measurements).
async fn backup_sqlite(config: &Config, to: &Path) -> anyhow::Result<Manifest> {
    let source = sqlite_path(&config.database_url)?;
    if !source.exists() {
        bail!("no database at {}", source.display());
    }
    let target = to.join(SQLITE_FILE);
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&source)
        .busy_timeout(std::time::Duration::from_secs(30));
    let mut conn = sqlx::SqliteConnection::connect_with(&opts).await?;
    sqlx::query("VACUUM INTO $1")
        .bind(target.to_string_lossy().into_owned())
        .execute(&mut conn)
        .await
        .context("VACUUM INTO")?;
    conn.close().await?;
    // The facts of the manifest come from the copy itself.
    let copy = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&target)
        .read_only(true);
    let mut c = sqlx::SqliteConnection::connect_with(&copy).await?;
    let mut m = new_manifest("sqlite", SQLITE_FILE, None);
    m.instance = sqlx::query_scalar("SELECT epoch FROM instance WHERE id = 1")
        .fetch_one(&mut c)
        .await
        .context("the database has no instance id (start this server version on it once)")?;
    let (events, newest): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM events")
            .fetch_one(&mut c)
            .await?;
    m.events = events as u64;
    m.newest_seq = newest as u64;
    m.migration = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations")
        .fetch_one(&mut c)
        .await?;
    c.close().await?;
    Ok(m)
}

/// `pg_dump --format=custom` (one snapshot); the manifest's facts are read just before.
async fn backup_postgres(
    config: &Config,
    pg_schema: Option<&str>,
    to: &Path,
) -> anyhow::Result<Manifest> {
    let store = PgStore::open(&config.database_url, pg_schema).await?;
    let mut m = new_manifest("postgres", PG_FILE, pg_schema);
    m.instance = store.instance().await?;
    m.events = store.event_count().await?;
    m.newest_seq = store.newest_seq().await?;
    m.migration = store.newest_migration().await?;
    store.close().await;
    let mut cmd = Command::new("pg_dump");
    cmd.args(["--format=custom", "--no-owner", "--file"])
        .arg(to.join(PG_FILE));
    if let Some(s) = pg_schema {
        cmd.arg(format!("--schema={s}"));
    }
    cmd.arg(format!("--dbname={}", config.database_url));
    run(cmd, "pg_dump").await?;
    Ok(m)
}

/// Runs a PostgreSQL client program off the runtime's threads; its stderr in the error.
async fn run(mut cmd: Command, what: &str) -> anyhow::Result<()> {
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await?
        .with_context(|| format!("cannot run {what} (install the PostgreSQL client programs)"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {}",
            out.status,
            crate::config::redact_url(String::from_utf8_lossy(&out.stderr).trim())
        );
    }
    Ok(())
}

/// Copies every complete blob (`dir/<hash>`, not the staging directory) into `to`; each file
/// is written under a temporary name and renamed, so `to` never holds half a photo.
fn copy_blobs(dir: &Path, to: &Path) -> anyhow::Result<(u64, u64)> {
    std::fs::create_dir_all(to)?;
    let (mut files, mut bytes) = (0u64, 0u64);
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, 0)),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        // Blobs are named by their hash; anything else (partial/, temp files) is not one.
        if fieldcheck_photo::validate_hash(name).is_err() || !entry.file_type()?.is_file() {
            continue;
        }
        let tmp = to.join(format!("{name}.tmp"));
        bytes += std::fs::copy(entry.path(), &tmp)?;
        std::fs::rename(&tmp, to.join(name))?;
        files += 1;
    }
    Ok((files, bytes))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub manifest: Manifest,
    /// The new instance id devices will see.
    pub instance: String,
    pub blobs_copied: u64,
}

/// Puts the backup in `from` back as the configured database and blobs (the server must be
/// stopped), then gives the data a new instance id. A target holding data is refused unless
/// `force`.
pub async fn restore(
    config: &Config,
    pg_schema: Option<&str>,
    from: &Path,
    force: bool,
) -> anyhow::Result<Restored> {
    let manifest: Manifest =
        serde_json::from_slice(&std::fs::read(from.join(MANIFEST)).with_context(|| {
            format!(
                "{} has no {MANIFEST}: not a finished backup",
                from.display()
            )
        })?)
        .with_context(|| format!("{}/{MANIFEST} is not a backup manifest", from.display()))?;
    if manifest.format != MANIFEST_FORMAT {
        bail!(
            "backup format {} is not supported (this server reads {MANIFEST_FORMAT})",
            manifest.format
        );
    }
    let backend = if is_sqlite(&config.database_url) {
        "sqlite"
    } else {
        "postgres"
    };
    if manifest.backend != backend {
        bail!(
            "the backup is of a {} database, the configured one is {backend}",
            manifest.backend
        );
    }
    if backend == "postgres" && manifest.pg_schema.as_deref() != pg_schema {
        bail!(
            "the backup is of schema {:?}, restoring into {:?}: pg_restore puts objects back \
             where they were dumped from",
            manifest.pg_schema.as_deref().unwrap_or("(default)"),
            pg_schema.unwrap_or("(default)")
        );
    }
    let blobs_copied = match &manifest.blobs {
        BlobsBackup::Copied { dir, .. } => {
            if !matches!(parse_blob_store(&config.blob_store)?, BlobLocation::Local) {
                bail!(
                    "the backup holds local photos but blob_store is {}; restore them into \
                     the bucket with its own tools",
                    config.blob_store
                );
            }
            if !force && holds_blobs(&config.blob_dir)? {
                bail!(
                    "{} already holds photos: pass --force to restore over it",
                    config.blob_dir.display()
                );
            }
            Some(from.join(dir))
        }
        BlobsBackup::External { .. } => None,
    };
    let store: std::sync::Arc<dyn Store> = if backend == "sqlite" {
        restore_sqlite(config, from, &manifest, force).await?
    } else {
        restore_postgres(config, pg_schema, from, &manifest, force).await?
    };
    let copied = match blobs_copied {
        Some(dir) => {
            // Uploads staged against the data being replaced start over.
            let partial = config.blob_dir.join("partial");
            if partial.exists() {
                std::fs::remove_dir_all(&partial)?;
            }
            copy_blobs(&dir, &config.blob_dir)?.0
        }
        None => 0,
    };
    let instance = store
        .renew_instance(chrono::Utc::now().timestamp_millis())
        .await?;
    store.shutdown().await;
    Ok(Restored {
        manifest,
        instance,
        blobs_copied: copied,
    })
}

fn holds_blobs(dir: &Path) -> anyhow::Result<bool> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(false);
    };
    for e in entries {
        let e = e?;
        if e.file_name()
            .to_str()
            .is_some_and(|n| fieldcheck_photo::validate_hash(n).is_ok())
        {
            return Ok(true);
        }
    }
    Ok(false)
}

async fn restore_sqlite(
    config: &Config,
    from: &Path,
    manifest: &Manifest,
    force: bool,
) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    let target = sqlite_path(&config.database_url)?;
    let source = from.join(&manifest.database);
    if !source.exists() {
        bail!("the backup has no {}", source.display());
    }
    let sidecars = ["-wal", "-shm", "-journal"].map(|s| {
        let mut p = target.clone().into_os_string();
        p.push(s);
        PathBuf::from(p)
    });
    if target.exists() {
        if !force {
            bail!(
                "{} exists: pass --force to replace it with the backup (stop the server first)",
                target.display()
            );
        }
        std::fs::remove_file(&target)?;
    }
    // A WAL left beside the old file would be replayed into the restored one.
    for s in &sidecars {
        if s.exists() {
            std::fs::remove_file(s)?;
        }
    }
    if let Some(dir) = target.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = target.with_extension("restoring");
    std::fs::copy(&source, &tmp)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, &target)?;
    // Opening migrates a backup made by an older version.
    Ok(std::sync::Arc::new(
        SqliteStore::open(&config.database_url).await?,
    ))
}

async fn restore_postgres(
    config: &Config,
    pg_schema: Option<&str>,
    from: &Path,
    manifest: &Manifest,
    force: bool,
) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    let source = from.join(&manifest.database);
    if !source.exists() {
        bail!("the backup has no {}", source.display());
    }
    let mut conn = sqlx::PgConnection::connect(&config.database_url).await?;
    let schema = pg_schema.unwrap_or("public");
    let tables: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = $1",
    )
    .bind(schema)
    .fetch_one(&mut conn)
    .await?;
    if tables > 0 && !force {
        bail!(
            "schema {schema} already holds tables: pass --force to replace them with the \
             backup (stop the server first)"
        );
    }
    let mut cmd = Command::new("pg_restore");
    cmd.args(["--no-owner", "--single-transaction", "--exit-on-error"]);
    match pg_schema {
        // Its own schema: dropped whole, so nothing made after the backup (a newer
        // migration's tables) survives; the archive creates it again.
        Some(_) => {
            let ident = schema.replace('"', "\"\"");
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS \"{ident}\" CASCADE"
            )))
            .execute(&mut conn)
            .await?;
        }
        // The default schema may hold other things: drop only what the archive holds.
        None if tables > 0 => {
            cmd.args(["--clean", "--if-exists"]);
        }
        None => {}
    }
    conn.close().await?;
    cmd.arg(format!("--dbname={}", config.database_url))
        .arg(&source);
    run(cmd, "pg_restore").await?;
    Ok(std::sync::Arc::new(
        PgStore::open(&config.database_url, pg_schema).await?,
    ))
}
