//! Databases made by earlier builds' schemas (`tests/fixtures/`, made by
//! `examples/db_fixture.rs`) are opened by this build, which runs its migrations on them; then
//! every record must still be there and usable over HTTP: every event, each problem's code,
//! status and event ids, the inspections, users who still sign in with their password, the
//! reference data, photo rows, a text search, and a new push on top.
//!
//! SQLite: a copy of the fixture file. PostgreSQL: the plain-SQL dump loaded into a fresh
//! schema. A fixture is never regenerated: a new schema adds a new one.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::*;
use fieldcheck_protocol::sync::{PullItem, PushStatus};
use fieldcheck_server::store::PgStore;
use serde_json::Value;
use sqlx::Connection;
use uuid::Uuid;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Each fixture of a backend with its manifest, oldest first.
fn fixtures(prefix: &str, ext: &str) -> Vec<(PathBuf, Value)> {
    let mut out: Vec<(PathBuf, Value)> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with(prefix) && name.ends_with(&format!(".{ext}"))
        })
        .map(|p| {
            let manifest = std::fs::read_to_string(p.with_extension("json")).unwrap();
            (p, serde_json::from_str(&manifest).unwrap())
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(!out.is_empty(), "no {prefix}*.{ext} fixture");
    out
}

/// The newest migration of this build in `migrations/<backend>`.
fn newest_migration(backend: &str) -> i64 {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../migrations")
        .join(backend);
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.split('_').next()?.parse::<i64>().ok()
        })
        .max()
        .unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

/// Everything the manifest lists, through the store and over HTTP.
async fn check(s: &Server, m: &Value, label: &str) {
    let store = &s.store;
    assert_eq!(
        store.event_count().await.unwrap(),
        m["events"].as_u64().unwrap(),
        "{label}: events"
    );
    assert_eq!(
        store.reference_version().await.unwrap(),
        m["reference_version"].as_u64().unwrap(),
        "{label}: reference version"
    );
    for u in strings(&m["users"]) {
        let stored = store.user(&u).await.unwrap().expect("user kept");
        assert!(
            stored.password_hash.is_some(),
            "{label}: {u} lost its password"
        );
    }
    let problems = m["problems"].as_array().unwrap();
    assert!(problems.len() >= 10, "{label}: a handful of problems");
    for p in problems {
        let id: Uuid = p["id"].as_str().unwrap().parse().unwrap();
        let state = store.problem(id).await.unwrap().expect("problem kept");
        assert_eq!(state.code, p["code"].as_str().unwrap(), "{label}");
        assert_eq!(
            state.status.as_str(),
            p["status"].as_str().unwrap(),
            "{label}: {id}"
        );
        assert_eq!(state.description, p["description"].as_str().unwrap());
        let events: Vec<String> = store
            .problem_events(id)
            .await
            .unwrap()
            .into_iter()
            .map(|(e, _)| e.id.to_string())
            .collect();
        assert_eq!(events, strings(&p["events"]), "{label}: events of {id}");
    }
    let photos = strings(&m["photos"]);
    assert!(!photos.is_empty(), "{label}: photos in the fixture");
    let blob_rows = store.blob_states(&photos).await.unwrap();
    assert!(
        blob_rows.iter().all(|b| b.complete),
        "{label}: photo rows {blob_rows:?}"
    );

    // Over HTTP: the admin still signs in with the demo password and pulls everything.
    let token = s.login("usr-admin-1").await;
    let (mut since, mut event_ids, mut entities) = (0, BTreeSet::new(), BTreeSet::new());
    loop {
        let page = s.pull(&token, since).await;
        for item in &page.items {
            if let PullItem::Event { event, .. } = item {
                event_ids.insert(event.id);
                entities.insert(event.entity_id.to_string());
            }
        }
        since = page.cursor;
        if !page.more {
            break;
        }
    }
    assert_eq!(
        event_ids.len() as u64,
        m["events"].as_u64().unwrap(),
        "{label}: pulled"
    );
    let expected: BTreeSet<String> = problems
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .chain(strings(&m["inspections"]))
        .collect();
    assert_eq!(entities, expected, "{label}: records pulled");

    // The console's text search (the search column, migration 0008) finds the problem.
    let console = s.console_sign_in("usr-admin-1").await;
    let q = m["search"]["q"].as_str().unwrap();
    let r = s
        .console_get(
            &console.cookie,
            &format!("/console/problems?q={}&limit=100", urlencode(q)),
        )
        .await;
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    let page: Value = r.json().await.unwrap();
    let found: Vec<&str> = page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(
        found.contains(&m["search"]["finds"].as_str().unwrap()),
        "{label}: search {q:?} found {found:?}"
    );

    // And the migrated database takes new work.
    let vol = s.login("usr-vol-1").await;
    let r = s
        .push(
            &vol,
            vec![report(&user("usr-vol-1"), Uuid::now_v7(), "c-dm", now_ms())],
        )
        .await;
    assert_eq!(r.results[0].status, PushStatus::Applied, "{label}: {r:?}");
    assert_eq!(
        store.event_count().await.unwrap(),
        m["events"].as_u64().unwrap() + 1
    );
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn sqlite_fixtures_migrate_with_every_record_intact() {
    for (file, manifest) in fixtures("server-sqlite-", "db") {
        let label = file.file_name().unwrap().to_string_lossy().into_owned();
        let dir = tempfile::tempdir().unwrap();
        // Never the committed file itself: migrating it would change the fixture.
        std::fs::copy(&file, dir.path().join("fc.db")).unwrap();
        let url = format!("sqlite://{}/fc.db", dir.path().display());
        let before = applied_sqlite(&url).await;
        assert_eq!(
            before.last().copied(),
            manifest["made_with_migration"].as_i64(),
            "{label}: the fixture is the schema its name says"
        );
        let s = Server::start_in(dir.path(), None, false).await;
        let after = applied_sqlite(&url).await;
        assert!(
            after.starts_with(&before),
            "{label}: {before:?} → {after:?}"
        );
        assert_eq!(
            after.last().copied(),
            Some(newest_migration("server-sqlite")),
            "{label}: migrated to this build's schema"
        );
        check(&s, &manifest, &label).await;
        s.stop().await;
    }
}

async fn applied_sqlite(url: &str) -> Vec<i64> {
    let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
    let v = sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
        .fetch_all(&mut c)
        .await
        .unwrap();
    c.close().await.unwrap();
    v
}

#[tokio::test]
async fn postgres_fixtures_migrate_with_every_record_intact() {
    let url = std::env::var("FIELDCHECK_TEST_PG").unwrap_or_else(|_| DEFAULT_PG.to_owned());
    let mut admin = match sqlx::PgConnection::connect(&url).await {
        Ok(c) => c,
        Err(e) if !pg_required() => {
            loud(&format!(
                "\n*** SKIPPED: PostgreSQL not reachable at {url} ({e}); set FIELDCHECK_TEST_PG ***\n"
            ));
            return;
        }
        Err(e) => panic!("PostgreSQL not reachable at {url} ({e}) and it is required"),
    };
    for (file, manifest) in fixtures("server-postgres-", "sql") {
        let label = file.file_name().unwrap().to_string_lossy().into_owned();
        let schema = format!("t_{}", Uuid::new_v4().simple());
        // The dump names its schema `fcfixture0` (examples/db_fixture.rs); it creates it.
        let dump = std::fs::read_to_string(&file)
            .unwrap()
            .replace("fcfixture0", &schema);
        sqlx::raw_sql(sqlx::AssertSqlSafe(dump))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("{label}: loading the dump: {e}"));
        let before: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT version FROM {schema}._sqlx_migrations ORDER BY version"
        )))
        .fetch_all(&mut admin)
        .await
        .unwrap();
        assert_eq!(
            before.last().copied(),
            manifest["made_with_migration"].as_i64()
        );
        let store = Arc::new(PgStore::open(&url, Some(&schema)).await.unwrap());
        let dir = tempfile::tempdir().unwrap();
        let s = Server::start_on(test_config(dir.path()), store.clone(), None, false).await;
        let after: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT version FROM {schema}._sqlx_migrations ORDER BY version"
        )))
        .fetch_all(&mut admin)
        .await
        .unwrap();
        assert!(
            after.starts_with(&before),
            "{label}: {before:?} → {after:?}"
        );
        assert_eq!(
            after.last().copied(),
            Some(newest_migration("server-postgres")),
            "{label}: migrated to this build's schema"
        );
        check(&s, &manifest, &label).await;
        s.stop().await;
        store.close().await;
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&mut admin)
            .await
            .unwrap();
    }
    admin.close().await.unwrap();
}
