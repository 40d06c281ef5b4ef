//! Makes the database fixtures of `tests/db_fixtures.rs`: a small demo city stored by the
//! schema of this build, kept so that later builds' migrations are tested on it.
//!
//! ```text
//! cargo run -p fieldcheck-server --example db_fixture -- \
//!     --out crates/fieldcheck-server/tests/fixtures [--pg postgres://postgres@127.0.0.1:5432/test]
//! ```
//!
//! Writes `server-sqlite-<NNNN>.db` (a single SQLite file, no WAL) and, with `--pg`,
//! `server-postgres-<NNNN>.sql` (`pg_dump --inserts` of a schema named `fcfixture0`, which the
//! test replaces by a fresh schema's name), each with a `.json` manifest of what must be found
//! after migrating: every problem's code, status and event ids, inspections, users, the
//! reference version, photos, and a search with its expected hit. `NNNN` is the newest
//! migration of that backend in the build that made it (SQLite has no 0012). Run it again
//! only to add a fixture for a new schema; the old ones stay.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::{TimeZone, Utc};
use fieldcheck_server::Store;
use fieldcheck_server::blobs::LocalBlobs;
use fieldcheck_server::demo;
use fieldcheck_server::store::{PgStore, SqliteStore};
use serde_json::json;
use sqlx::Connection;

/// The city's "now": fixed, so the same build makes the same fixture.
fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 8, 0, 0).unwrap()
}

/// The schema name inside the PostgreSQL dump.
const PG_SCHEMA: &str = "fcfixture0";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut out: Option<PathBuf> = None;
    let mut pg: Option<String> = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out = args.next().map(PathBuf::from),
            "--pg" => pg = args.next(),
            other => bail!("unknown argument {other:?} (--out DIR [--pg URL])"),
        }
    }
    let out = out.context("--out DIR is required")?;
    std::fs::create_dir_all(&out)?;
    let version = newest_migration("server-sqlite")?;

    let tmp = tempfile::tempdir()?;
    let src = tmp.path().join("src.db");
    let store = SqliteStore::open(&format!("sqlite://{}", src.display())).await?;
    let manifest = fill(&store, tmp.path(), version).await?;
    store.shutdown().await;
    let db = out.join(format!("server-sqlite-{version:04}.db"));
    let _ = std::fs::remove_file(&db);
    // One self-contained file: VACUUM INTO writes the database without its WAL.
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", src.display())).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "VACUUM INTO '{}'",
        db.display().to_string().replace('\'', "''")
    )))
    .execute(&mut conn)
    .await?;
    conn.close().await?;
    write_manifest(
        &out.join(format!("server-sqlite-{version:04}.json")),
        &manifest,
    )?;
    println!("wrote {}", db.display());

    if let Some(url) = pg {
        let admin = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"
        )))
        .execute(&admin)
        .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {PG_SCHEMA}")))
            .execute(&admin)
            .await?;
        let version = newest_migration("server-postgres")?;
        let store = PgStore::open(&url, Some(PG_SCHEMA)).await?;
        let manifest = fill(&store, tmp.path(), version).await?;
        store.shutdown().await;
        let dump = std::process::Command::new("pg_dump")
            .args([
                "--inserts",
                "--no-owner",
                "--no-privileges",
                "--no-comments",
                "--schema",
                PG_SCHEMA,
                &url,
            ])
            .output()
            .context("pg_dump (Debian's postgresql-client)")?;
        if !dump.status.success() {
            bail!("pg_dump: {}", String::from_utf8_lossy(&dump.stderr));
        }
        let sql = plain_sql(&String::from_utf8(dump.stdout)?);
        let file = out.join(format!("server-postgres-{version:04}.sql"));
        std::fs::write(&file, sql)?;
        write_manifest(
            &out.join(format!("server-postgres-{version:04}.json")),
            &manifest,
        )?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA {PG_SCHEMA} CASCADE"
        )))
        .execute(&admin)
        .await?;
        println!("wrote {}", file.display());
    }
    Ok(())
}

/// The dump as statements a client library can send: psql's meta-commands (`\restrict`) and
/// comments dropped.
fn plain_sql(dump: &str) -> String {
    dump.lines()
        .filter(|l| !l.starts_with('\\') && !l.starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The newest migration in `migrations/<backend>`.
fn newest_migration(backend: &str) -> anyhow::Result<u32> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../migrations")
        .join(backend);
    let mut newest = 0;
    for e in std::fs::read_dir(&dir)? {
        let name = e?.file_name().to_string_lossy().into_owned();
        if let Some(n) = name.split('_').next().and_then(|n| n.parse::<u32>().ok()) {
            newest = newest.max(n);
        }
    }
    Ok(newest)
}

fn write_manifest(path: &Path, manifest: &serde_json::Value) -> anyhow::Result<()> {
    std::fs::write(path, serde_json::to_string_pretty(manifest)? + "\n")?;
    Ok(())
}

/// Users with the demo password, enrollment codes, and a small city: a dozen problems in
/// every kind of state with their events, inspections and photos. Returns the manifest.
async fn fill(store: &dyn Store, tmp: &Path, version: u32) -> anyhow::Result<serde_json::Value> {
    demo::seed(store, now().timestamp_millis()).await?;
    let blob_dir = tmp.join(format!("blobs-{}", store.backend()));
    let blobs = LocalBlobs::new(&blob_dir);
    let plan = demo::city::CityPlan {
        seed: 14,
        problems: 12,
        days: 21,
        now: now(),
        own_photos: 3,
        pool_photos: 2,
    };
    let report = demo::seed_city_if_empty(store, &blobs, &blob_dir, &plan)
        .await
        .map_err(|e| anyhow::anyhow!("[{}] {e}", e.code()))?
        .context("the store was not empty")?;
    println!("{}: {report:?}", store.backend());

    let bundle = fieldcheck_protocol::demo_bundle();
    let admin = bundle
        .users
        .iter()
        .find(|u| u.role == fieldcheck_domain::role::Role::Admin)
        .context("no admin in the demo bundle")?
        .clone();
    let refs = Arc::new(bundle.clone());
    let viewer = fieldcheck_server::policy::Viewer::new(admin, &refs);
    let page = store.pull(&viewer, 0, 100_000).await?;
    let mut problems = Vec::new();
    let mut inspections = std::collections::BTreeSet::new();
    let mut photos = std::collections::BTreeSet::new();
    let mut problem_ids = std::collections::BTreeSet::new();
    for item in &page.items {
        if let fieldcheck_protocol::sync::PullItem::Event { event, .. } = item {
            for p in &event.photos {
                photos.insert(p.hash.clone());
            }
            match event.kind().split('.').next() {
                Some("problem") => {
                    problem_ids.insert(event.entity_id);
                }
                _ => {
                    inspections.insert(event.entity_id);
                }
            }
        }
    }
    for id in problem_ids {
        let p = store
            .problem(id)
            .await?
            .context("problem without a state")?;
        let events: Vec<String> = store
            .problem_events(id)
            .await?
            .into_iter()
            .map(|(e, _)| e.id.to_string())
            .collect();
        problems.push(json!({
            "id": id,
            "code": p.code,
            "status": p.status.as_str(),
            "description": p.description,
            "events": events,
        }));
    }
    // A search for two characters of a problem's description finds it.
    let probe = problems
        .iter()
        .find_map(|p| {
            let d = p["description"].as_str()?;
            let two: String = d.chars().filter(|c| c.is_alphanumeric()).take(2).collect();
            (two.chars().count() == 2).then(|| (two, p["id"].clone()))
        })
        .context("no description to search for")?;
    let users: Vec<String> = bundle.users.iter().map(|u| u.id.clone()).collect();
    Ok(json!({
        "made_with_migration": version,
        "backend": store.backend(),
        "events": store.event_count().await?,
        "reference_version": store.reference_version().await?,
        "users": users,
        "problems": problems,
        "inspections": inspections,
        "photos": photos,
        "search": { "q": probe.0, "finds": probe.1 },
    }))
}
