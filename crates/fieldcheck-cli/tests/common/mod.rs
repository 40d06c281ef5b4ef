//! What the CLI tests share: a device (the `fieldcheck` binary on its own database, in a
//! temporary directory) and the server devices sync with: `fieldcheck-server` seeded with the
//! demo city, in this process on its own runtime, over real HTTP on a 127.0.0.1 port
//! (`sync.rs`, `photo_kill.rs`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use fieldcheck_core::domain::Problem;
use fieldcheck_core::protocol::sync::{PROTOCOL_HEADER, PullItem, PullResponse};
use fieldcheck_server::demo::{DEMO_PASSWORD, DemoLogin};
use fieldcheck_server::{Config, Store as ServerStore};
use serde_json::{Value, json};
use uuid::Uuid;

/// Stops serving when dropped.
pub struct Server {
    pub base: String,
    pub addr: std::net::SocketAddr,
    pub config: Config,
    pub store: Arc<dyn ServerStore>,
    pub logins: Vec<DemoLogin>,
    pub rt: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl Server {
    pub fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let config = Config {
            database_url: format!("sqlite://{}/fc.db", dir.path().display()),
            blob_dir: dir.path().join("blobs"),
            ..Config::default()
        };
        let (store, logins, listener) = rt.block_on(async {
            let store = fieldcheck_server::open_store(&config.database_url)
                .await
                .unwrap();
            let logins = fieldcheck_server::demo::seed(
                store.as_ref(),
                chrono::Utc::now().timestamp_millis(),
            )
            .await
            .unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            (store, logins, listener)
        });
        let addr = listener.local_addr().unwrap();
        let mut server = Server {
            base: format!("http://{addr}"),
            addr,
            config,
            store,
            logins,
            rt,
            stop: None,
            task: None,
            _dir: dir,
        };
        server.serve(listener);
        server
    }

    pub fn serve(&mut self, listener: tokio::net::TcpListener) {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        self.task = Some(self.rt.spawn(fieldcheck_server::serve_with_store(
            self.config.clone(),
            self.store.clone(),
            listener,
            async move {
                let _ = rx.await;
            },
        )));
        self.stop = Some(tx);
    }

    /// Stops the server now and starts it again on the same address after `down`, in the
    /// background: a device syncing meanwhile meets refused connections first.
    pub fn restart_after(&mut self, down: std::time::Duration) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            self.rt.block_on(task).unwrap().unwrap();
        }
        let addr = self.addr;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let config = self.config.clone();
        let store = self.store.clone();
        self.task = Some(self.rt.spawn(async move {
            tokio::time::sleep(down).await;
            let listener = tokio::net::TcpListener::bind(addr).await?;
            fieldcheck_server::serve_with_store(config, store, listener, async move {
                let _ = rx.await;
            })
            .await
        }));
        self.stop = Some(tx);
    }

    pub fn code_of(&self, user: &str) -> String {
        self.logins
            .iter()
            .find(|l| l.user_id == user)
            .unwrap()
            .enroll_code
            .clone()
    }

    pub fn problem(&self, id: Uuid) -> Problem {
        self.rt.block_on(self.store.problem(id)).unwrap().unwrap()
    }

    pub fn event_count(&self) -> u64 {
        self.rt.block_on(self.store.event_count()).unwrap()
    }

    pub fn http(&self) -> reqwest::Client {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(PROTOCOL_HEADER, "1".parse().unwrap());
        reqwest::Client::builder()
            .default_headers(h)
            .build()
            .unwrap()
    }

    /// Event ids of a record as the server holds them, read through the API as an admin.
    pub fn event_ids(&self, entity: Uuid) -> Vec<Uuid> {
        let token = self.login("usr-admin-2");
        let http = self.http();
        let base = self.base.clone();
        self.rt.block_on(async move {
            let mut ids = Vec::new();
            let mut since = 0;
            loop {
                let page: PullResponse = json_of(
                    http.get(format!("{base}/api/v1/pull?since={since}"))
                        .bearer_auth(&token),
                )
                .await;
                for item in page.items {
                    if let PullItem::Event { event, .. } = item
                        && event.entity_id == entity
                    {
                        ids.push(event.id);
                    }
                }
                if !page.more || page.cursor == since {
                    break;
                }
                since = page.cursor;
            }
            ids.sort();
            ids
        })
    }
    /// A session token for `user` (demo password), over the API.
    pub fn login(&self, user: &str) -> String {
        let http = self.http();
        let base = self.base.clone();
        let login: Value = self.rt.block_on(json_of(
            http.post(format!("{base}/api/v1/login"))
                .json(&json!({"username": user, "password": DEMO_PASSWORD})),
        ));
        login["token"].as_str().unwrap().to_owned()
    }

    /// A stored photo, downloaded over the API with `token` (`None`: not there).
    pub fn blob(&self, token: &str, hash: &str) -> Option<Vec<u8>> {
        let http = self.http();
        self.rt.block_on(async {
            let r = http
                .get(format!("{}/api/v1/blobs/{hash}", self.base))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            if r.status().is_success() {
                Some(r.bytes().await.unwrap().to_vec())
            } else {
                None
            }
        })
    }

    pub fn has_problem(&self, id: Uuid) -> bool {
        self.rt.block_on(self.store.problem(id)).unwrap().is_some()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Sends `req` and reads the answer's JSON body.
pub async fn json_of<T: serde::de::DeserializeOwned>(req: reqwest::RequestBuilder) -> T {
    req.send().await.unwrap().json().await.unwrap()
}

/// The clock most CLI tests pin: Monday 2026-11-23, 10:00 in the demo city (UTC+8).
pub const MONDAY_MORNING: &str = "2026-11-23T02:00:00Z";

/// A file of the repository's `data/` directory.
pub fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data")
        .join(rel)
}

/// The `fieldcheck` binary on a database of its own, in English or Chinese only as asked
/// (the machine's `LANG` is removed) and on a pinned clock unless told otherwise.
pub struct Device {
    dir: tempfile::TempDir,
    pub db: PathBuf,
    /// `FIELDCHECK_NOW`; `None`: the real clock (removed from the environment).
    now: Option<String>,
    env: Vec<(String, String)>,
}

impl Device {
    /// An empty device, its clock pinned to [`MONDAY_MORNING`].
    pub fn new() -> Device {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("device.db");
        Device {
            dir,
            db,
            now: Some(MONDAY_MORNING.to_owned()),
            env: Vec::new(),
        }
    }

    /// A device with the demo city's reference data and calendar.
    pub fn with_demo() -> Device {
        let d = Device::new();
        d.import_demo(&["districts", "units", "points", "users", "calendar"]);
        d
    }

    /// The clock pinned to `now` (RFC 3339) instead.
    pub fn pinned_at(mut self, now: &str) -> Device {
        self.now = Some(now.to_owned());
        self
    }

    /// The machine's own clock, for a device that talks to a live server.
    pub fn real_clock(mut self) -> Device {
        self.now = None;
        self
    }

    /// One more environment variable for every command.
    pub fn env(mut self, key: &str, value: &str) -> Device {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Imports `data/demo/<name>.json` for each name, in order.
    pub fn import_demo(&self, names: &[&str]) {
        for f in names {
            self.ok(&["import", data(&format!("demo/{f}.json")).to_str().unwrap()]);
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_fieldcheck"));
        c.arg("--db")
            .arg(&self.db)
            .args(args)
            .env_remove("LANG")
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES");
        match &self.now {
            Some(now) => c.env("FIELDCHECK_NOW", now),
            None => c.env_remove("FIELDCHECK_NOW"),
        };
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c.output().unwrap()
    }

    /// Runs a command that must succeed and returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "{args:?} failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// Runs a command that must succeed with `--json` and returns what it printed.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let out = self.ok(&a);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
    }

    /// A command that must fail: its one-line JSON error.
    pub fn error(&self, args: &[&str]) -> Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let o = self.run(&a);
        assert!(!o.status.success(), "{args:?} should have failed");
        serde_json::from_slice::<Value>(&o.stderr).unwrap()["error"].clone()
    }

    /// Runs a command that must fail: one line on stderr, nothing written.
    pub fn refused(&self, args: &[&str]) -> String {
        let before = self.fingerprint();
        let o = self.run(args);
        assert!(!o.status.success(), "{args:?} should have failed");
        let err = String::from_utf8(o.stderr).unwrap();
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert_eq!(before, self.fingerprint(), "{args:?} wrote something");
        err
    }

    /// Everything stored, as text.
    pub fn fingerprint(&self) -> Vec<String> {
        let c = rusqlite::Connection::open(&self.db).unwrap();
        let mut out = Vec::new();
        for t in [
            "meta",
            "events",
            "problems",
            "inspections",
            "photo_links",
            "ref_points",
            "ref_units",
            "ref_users",
            "ref_districts",
            "ref_categories",
            "ref_templates",
        ] {
            let mut st = c.prepare(&format!("SELECT * FROM {t} ORDER BY 1")).unwrap();
            let n = st.column_count();
            let rows: Vec<String> = st
                .query_map([], |r| {
                    (0..n)
                        .map(|i| {
                            r.get::<_, rusqlite::types::Value>(i)
                                .map(|v| format!("{v:?}"))
                        })
                        .collect::<Result<Vec<_>, _>>()
                        .map(|v| v.join("|"))
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            out.push(format!("{t}:{}", rows.join("\n")));
        }
        out
    }
}
