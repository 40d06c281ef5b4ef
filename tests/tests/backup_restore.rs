//! Issue 19, "Back up and restore": devices sync problems with photos, a backup is taken
//! with the real `fieldcheck-server backup` while the server serves and a device syncs,
//! devices keep working (new problems, dispatches, rectifications with photos) and syncing,
//! the server stops, `fieldcheck-server restore` puts the backup back (losing what came
//! after it), the server starts again and the devices sync: the server ends with every event
//! and every photo exactly once and every replica equal to the server's.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use fieldcheck_core::ProblemAction;
use fieldcheck_e2e::{
    Device, assert_converged_with, code_of, quick_options, sync_all_until_quiescent,
};
use fieldcheck_server::store::PgStore;
use fieldcheck_server::{Config, Store as ServerStore};
use uuid::Uuid;

/// The server's database: a SQLite file, or a PostgreSQL schema of this test's own.
enum Db {
    Sqlite(std::path::PathBuf),
    Pg { url: String, schema: String },
}

impl Db {
    fn url(&self) -> String {
        match self {
            Db::Sqlite(p) => format!("sqlite://{}", p.display()),
            Db::Pg { url, .. } => url.clone(),
        }
    }

    /// What `backup` and `restore` need besides the config.
    fn args(&self) -> Vec<String> {
        match self {
            Db::Sqlite(_) => vec![],
            Db::Pg { schema, .. } => vec!["--pg-schema".into(), schema.clone()],
        }
    }

    async fn open(&self) -> Arc<dyn ServerStore> {
        match self {
            Db::Sqlite(_) => fieldcheck_server::open_store(&self.url()).await.unwrap(),
            Db::Pg { url, schema } => Arc::new(PgStore::open(url, Some(schema)).await.unwrap()),
        }
    }

    /// Reads one text column of every row of a query.
    async fn column(&self, sql: &'static str) -> Vec<String> {
        match self {
            Db::Sqlite(path) => {
                let conn = rusqlite::Connection::open_with_flags(
                    path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )
                .unwrap();
                let mut st = conn.prepare(sql).unwrap();
                st.query_map([], |r| r.get::<_, String>(0))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect()
            }
            Db::Pg { url, schema } => {
                use sqlx::Connection;
                let opts: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
                let mut c = sqlx::PgConnection::connect_with(
                    &opts.options([("search_path", schema.as_str())]),
                )
                .await
                .unwrap();
                let rows: Vec<String> = sqlx::query_scalar(sql).fetch_all(&mut c).await.unwrap();
                c.close().await.unwrap();
                rows
            }
        }
    }

    /// `(rows, distinct ids)` of the event table.
    async fn events(&self) -> (u64, BTreeSet<Uuid>) {
        let ids = self.column("SELECT event_id FROM events").await;
        let rows = ids.len() as u64;
        (
            rows,
            ids.iter().map(|i| Uuid::parse_str(i).unwrap()).collect(),
        )
    }

    /// Every photo hash the server's events refer to, and the `blobs` rows.
    async fn photos(&self) -> (BTreeSet<String>, BTreeSet<String>) {
        let referenced = self.column("SELECT DISTINCT hash FROM event_photos").await;
        let rows = self.column("SELECT hash FROM blobs WHERE complete").await;
        (referenced.into_iter().collect(), rows.into_iter().collect())
    }
}

/// The server in this process on a fixed port over fixed files, so it can stop and start
/// again where the devices expect it.
struct Running {
    store: Arc<dyn ServerStore>,
    stop: tokio::sync::oneshot::Sender<()>,
    served: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn start(config: &Config, db: &Db, port: u16) -> Running {
    let store = db.open().await;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(fieldcheck_server::serve_with_store(
        config.clone(),
        store.clone(),
        listener,
        async move {
            let _ = rx.await;
        },
    ));
    Running {
        store,
        stop,
        served,
    }
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        self.served.await.unwrap().unwrap();
        self.store.shutdown().await;
    }
}

/// Runs the real server binary's subcommand (off the runtime's threads: the server under
/// test runs on them).
async fn server_cmd(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_fieldcheck-server-e2e"))
            .args(&args)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn args(list: &[&str], paths: &[&Path]) -> Vec<String> {
    list.iter()
        .map(|s| s.to_string())
        .chain(paths.iter().map(|p| p.display().to_string()))
        .collect()
}

/// Hashes of the blobs the server keeps (files named by their hash in the blob directory).
fn blob_files(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.len() == 64)
        .collect()
}

/// The office files a reported problem, then dispatches it (the lifecycle takes both steps).
fn file_and_dispatch(admin: &Device, id: Uuid) {
    admin.act(id, ProblemAction::File { note: None }).unwrap();
    let dispatch = ProblemAction::Dispatch {
        unit_id: "u-s-dj".into(),
        deadline: None,
        note: None,
    };
    admin.act(id, dispatch).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_recover_everything_after_a_sqlite_server_is_restored_from_a_backup() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::Sqlite(dir.path().join("fc.db"));
    one_case(&dir, &db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_recover_everything_after_a_postgres_server_is_restored_from_a_backup() {
    let url = std::env::var("FIELDCHECK_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let schema = format!("backup_{}", Uuid::new_v4().simple());
    let admin = match sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
    {
        Ok(p) => p,
        Err(e) if !pg_required() => {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: PostgreSQL not reachable at {url}: {e}"
            );
            return;
        }
        Err(e) => panic!("PostgreSQL not reachable at {url}: {e} (FIELDCHECK_REQUIRE_PG=1)"),
    };
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = Db::Pg {
        url,
        schema: schema.clone(),
    };
    one_case(&dir, &db).await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
}

fn pg_required() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
        || std::env::var("FIELDCHECK_REQUIRE_PG").is_ok_and(|v| v.trim() == "1")
}

async fn one_case(dir: &tempfile::TempDir, db: &Db) {
    let blob_dir = dir.path().join("blobs");
    let config = Config {
        database_url: db.url(),
        blob_dir: blob_dir.clone(),
        ..Config::default()
    };
    let config_file = dir.path().join("server.toml");
    std::fs::write(
        &config_file,
        format!(
            "database_url = {:?}\nblob_dir = {:?}\n",
            config.database_url,
            blob_dir.display().to_string()
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");

    let seeded = db.open().await;
    let logins =
        fieldcheck_server::demo::seed(seeded.as_ref(), chrono::Utc::now().timestamp_millis())
            .await
            .unwrap();
    seeded.shutdown().await;
    let server = start(&config, db, port).await;

    let enroll = |user: &'static str| {
        let code = code_of(&logins, user);
        let base = base.clone();
        async move { Device::enroll(&base, &code, user, quick_options()).await }
    };
    let insp = enroll("usr-insp-1").await;
    let admin = enroll("usr-admin-1").await;
    let hdl = enroll("usr-hdl-1").await;
    let all = [&insp, &admin, &hdl];

    // Before the backup: three problems with photos, two dispatched, one accepted.
    let mut shade = 0;
    let mut photo = |d: &Device| {
        shade += 7;
        d.photo(160, 120, shade)
    };
    let early: Vec<Uuid> = (0..3)
        .map(|i| insp.report(&format!("备份前 {i}"), vec![photo(&insp)]).id)
        .collect();
    sync_all_until_quiescent(&all, 6).await;
    file_and_dispatch(&admin, early[0]);
    file_and_dispatch(&admin, early[1]);
    sync_all_until_quiescent(&all, 6).await;
    hdl.act(early[0], ProblemAction::Accept { note: None })
        .unwrap();
    sync_all_until_quiescent(&all, 6).await;

    // The backup, while the inspector reports and syncs.
    let backup_dir = dir.path().join("backup-1");
    let during = insp.report("备份时", vec![photo(&insp)]).id;
    let (out, synced) = tokio::join!(
        server_cmd(
            args(&["backup", "--config"], &[&config_file])
                .into_iter()
                .chain(["--to".to_owned(), backup_dir.display().to_string()])
                .chain(db.args())
                .collect()
        ),
        insp.sync_until_quiet(20)
    );
    assert!(
        out.status.success(),
        "backup: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(synced.1, 0, "the sync during the backup failed");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(backup_dir.join("manifest.json")).unwrap()).unwrap();
    let backend = match db {
        Db::Sqlite(_) => "sqlite",
        Db::Pg { .. } => "postgres",
    };
    assert_eq!(manifest["backend"], backend, "{manifest}");
    assert_eq!(manifest["blobs"]["kind"], "copied", "{manifest}");
    let backed_up_instance = manifest["instance"].as_str().unwrap().to_owned();
    let again = server_cmd(
        args(&["backup", "--config"], &[&config_file])
            .into_iter()
            .chain(["--to".to_owned(), backup_dir.display().to_string()])
            .chain(db.args())
            .collect(),
    )
    .await;
    assert!(!again.status.success(), "a backup over a backup");

    // After the backup: new problems with photos, dispatches, an acceptance and a
    // rectification with an after-photo, all synced — all of it lost by the restore.
    let late: Vec<Uuid> = (0..2)
        .map(|i| insp.report(&format!("备份后 {i}"), vec![photo(&insp)]).id)
        .collect();
    sync_all_until_quiescent(&all, 6).await;
    file_and_dispatch(&admin, late[0]);
    file_and_dispatch(&admin, during);
    sync_all_until_quiescent(&all, 6).await;
    hdl.act(late[0], ProblemAction::Accept { note: None })
        .unwrap();
    hdl.act(early[1], ProblemAction::Accept { note: None })
        .unwrap();
    let after_photo = photo(&hdl);
    hdl.act(
        early[0],
        ProblemAction::Rectify {
            photos: vec![after_photo.clone()],
            note: Some("已清理".into()),
        },
    )
    .unwrap();
    sync_all_until_quiescent(&all, 6).await;
    let (_, before_restore) = db.events().await;
    let photos_before = blob_files(&blob_dir);
    assert!(photos_before.contains(&after_photo));

    // Stop; the photo directory is lost with the machine; restore (refused over the database
    // still there without --force), start.
    server.stop().await;
    std::fs::remove_dir_all(&blob_dir).unwrap();
    let restore = |force: bool| {
        let mut a = args(&["restore", "--config"], &[&config_file]);
        a.extend(["--from".to_owned(), backup_dir.display().to_string()]);
        a.extend(db.args());
        if force {
            a.push("--force".to_owned());
        }
        server_cmd(a)
    };
    let refused = restore(false).await;
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--force"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let restored = restore(true).await;
    assert!(
        restored.status.success(),
        "restore: {}",
        String::from_utf8_lossy(&restored.stderr)
    );
    let (_, after_restore) = db.events().await;
    let lost: BTreeSet<Uuid> = before_restore.difference(&after_restore).copied().collect();
    assert!(
        lost.len() >= 7,
        "the restore lost only {} events",
        lost.len()
    );
    assert!(after_restore.is_subset(&before_restore));
    let server = start(&config, db, port).await;
    let instance = server.store.instance().await.unwrap();
    assert_ne!(
        instance, backed_up_instance,
        "a restore sets a new instance id"
    );

    // The handler first: its acceptance of a problem dispatched after the backup is refused
    // until the office's dispatch is back, and kept for the next sync (deferred).
    let first = hdl.sync().await.unwrap();
    let recovery = first.server_restored.expect("the handler saw the restore");
    assert!(recovery.events_resent >= 3, "{recovery:?}");
    assert!(first.deferred >= 1, "{first:?}");
    assert!(first.refused.is_empty(), "{:?}", first.refused);
    let ins = insp.sync().await.unwrap();
    let r = ins.server_restored.expect("the inspector saw the restore");
    assert!(r.photos_rechecked >= 4 && r.cursor_was > 0, "{r:?}");
    assert!(
        ins.duplicates > 0,
        "events the server kept come back as duplicates"
    );
    assert!(
        ins.photos_uploaded >= 2,
        "lost photos are uploaded again: {ins:?}"
    );
    assert!(
        ins.photos_uploaded <= 3,
        "photos the backup kept are not sent again: {ins:?}"
    );
    let adm = admin.sync().await.unwrap();
    assert!(adm.server_restored.is_some());
    // A second run sees the same instance: nothing is queued again.
    let quiet = insp.sync().await.unwrap();
    assert_eq!(quiet.server_restored, None);
    // And the devices keep working.
    let after = insp.report("恢复后", vec![photo(&insp)]).id;
    sync_all_until_quiescent(&all, 8).await;
    file_and_dispatch(&admin, after);
    sync_all_until_quiescent(&all, 8).await;

    // Every event exactly once, nothing lost; every replica equal to the server's.
    let (rows, ids) = db.events().await;
    assert_eq!(rows, ids.len() as u64, "an event is stored twice");
    assert!(
        before_restore.is_subset(&ids),
        "events lost: {:?}",
        before_restore.difference(&ids).collect::<Vec<_>>()
    );
    for d in all {
        assert_eq!(d.refused_count(), 0, "{}: refused events", d.user);
        let s = d.store.lock().unwrap().sync_state().unwrap();
        assert_eq!((s.outbox, s.photos_pending), (0, 0), "{}", d.user);
    }
    let c = assert_converged_with(&base, rows, &ids, server.store.as_ref(), &all).await;
    assert!(c.records >= 7, "{c:?}");
    let (referenced, rows) = db.photos().await;
    let files = blob_files(&blob_dir);
    assert!(
        referenced.is_subset(&rows) && rows.is_subset(&files),
        "photos missing: referenced {referenced:?}, rows {rows:?}, files {files:?}"
    );
    assert!(photos_before.is_subset(&files));
    // Every device holds the same folded records as the server (assert_converged compared
    // each record it sees); the office sees all of them.
    let office: BTreeSet<Uuid> = admin.problem_ids().into_iter().collect();
    let mut all_ids: Vec<Uuid> = early.iter().chain(&late).copied().collect();
    all_ids.extend([during, after]);
    for id in all_ids {
        assert!(office.contains(&id), "{id} missing at the office");
        assert!(server.store.problem(id).await.unwrap().is_some());
    }
    server.stop().await;
}
