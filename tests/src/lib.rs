//! Harness of the end-to-end tests: a real server (in-process on port 0, or the real binary
//! as a child process), devices driving the real sync client in-process, a fault-injecting
//! HTTP proxy between them, an https front with a city CA, and convergence checks that read
//! every replica.

pub mod proxy;
pub mod tls;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fieldcheck_core::domain::{Actor, Problem};
use fieldcheck_core::protocol::sync::{PROTOCOL_HEADER, PullItem, PullResponse};
use fieldcheck_core::sync::{RetryPolicy, SyncClient, SyncError, SyncOptions, SyncReport};
use fieldcheck_core::{NewProblem, ProblemAction, Store};
use fieldcheck_server::demo::DemoLogin;
use fieldcheck_server::{Config, Store as ServerStore};
use uuid::Uuid;

/// Event ids per record.
pub type EventMap = BTreeMap<Uuid, BTreeSet<Uuid>>;

/// The seed of a randomized test: `FIELDCHECK_SEED` replays one, otherwise a fresh one. It
/// is printed either way, so a failure names the seed that reproduces it.
pub fn seed(test: &str) -> u64 {
    let seed = std::env::var("FIELDCHECK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    eprintln!("{test}: seed {seed} (replay with FIELDCHECK_SEED={seed})");
    seed
}

/// A server in this process on port 0 with the demo city and one enrollment code per user.
pub struct Server {
    pub base: String,
    pub addr: std::net::SocketAddr,
    pub store: Arc<dyn ServerStore>,
    pub logins: Vec<DemoLogin>,
    pub db_path: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Server {
    pub async fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let db_path = dir.path().join("fc.db");
        let config = Config {
            database_url: format!("sqlite://{}", db_path.display()),
            blob_dir: dir.path().join("blobs"),
            ..Config::default()
        };
        let store = fieldcheck_server::open_store(&config.database_url)
            .await
            .unwrap();
        let logins =
            fieldcheck_server::demo::seed(store.as_ref(), chrono::Utc::now().timestamp_millis())
                .await
                .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(fieldcheck_server::serve_with_store(
            config,
            store.clone(),
            listener,
            async move {
                let _ = rx.await;
            },
        ));
        Server {
            base: format!("http://{addr}"),
            addr,
            store,
            logins,
            db_path,
            stop: Some(tx),
            _dir: dir,
        }
    }

    pub fn code_of(&self, user: &str) -> String {
        code_of(&self.logins, user)
    }

    pub async fn problem(&self, id: Uuid) -> Option<Problem> {
        self.store.problem(id).await.unwrap()
    }

    /// A session token for `user` (demo password), directly from the server.
    pub async fn login(&self, user: &str) -> String {
        let password = fieldcheck_server::demo::DEMO_PASSWORD;
        let r = reqwest::Client::new()
            .post(format!("{}/api/v1/login", self.base))
            .header(PROTOCOL_HEADER, "1")
            .json(&serde_json::json!({"username": user, "password": password}))
            .send()
            .await
            .unwrap();
        let login: fieldcheck_core::protocol::sync::LoginResponse = r.json().await.unwrap();
        login.token
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

pub fn code_of(logins: &[DemoLogin], user: &str) -> String {
    logins
        .iter()
        .find(|l| l.user_id == user)
        .unwrap_or_else(|| panic!("no demo login {user}"))
        .enroll_code
        .clone()
}

/// Runs the `fieldcheck` CLI (`bin`: the test's `CARGO_BIN_EXE_fieldcheck-e2e-cli`) on the
/// device database `db`, in English, off the runtime's worker threads (the server under test
/// runs on them).
pub async fn cli(bin: &'static str, db: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = std::process::Command::new(bin);
    cmd.arg("--db").arg(db).args(["--lang", "en"]).args(args);
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// [`cli`] that must succeed; returns its standard output.
pub async fn cli_ok(bin: &'static str, db: &Path, args: &[&str]) -> String {
    let out = cli(bin, db, args).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {stdout}{stderr}");
    stdout
}

/// [`cli`] that must fail with the stable error `code`; returns its standard error.
pub async fn cli_err(bin: &'static str, db: &Path, args: &[&str], code: &str) -> String {
    let out = cli(bin, db, args).await;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert!(stderr.contains(&format!("[{code}]")), "{args:?}: {stderr}");
    stderr
}

/// A device store opened from its file, as a new process would.
pub fn open_store(path: &Path) -> Arc<Mutex<Store>> {
    Arc::new(Mutex::new(Store::open(path).unwrap()))
}

/// The device's `meta` rows (key, value) whose key starts with `prefix`.
pub fn meta_rows(store: &Store, prefix: &str) -> Vec<(String, String)> {
    let mut st = store
        .connection()
        .prepare("SELECT key, value FROM meta WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key")
        .unwrap();
    st.query_map([prefix], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Retries quick enough for tests: a fault costs milliseconds, not seconds.
pub fn quick_options() -> SyncOptions {
    SyncOptions {
        push_batch: 7,
        pull_limit: 11,
        chunk_bytes: 16 * 1024,
        retry: RetryPolicy {
            base: Duration::from_millis(10),
            max: Duration::from_millis(200),
            max_attempts: 5,
        },
        timeout: Duration::from_secs(10),
        device_name: "e2e".into(),
    }
}

/// A device: its own store in a temp dir, enrolled as one user, syncing in-process with the
/// real client.
pub struct Device {
    pub user: String,
    pub store: Arc<Mutex<Store>>,
    pub actor: Actor,
    pub opts: SyncOptions,
    pub dir: tempfile::TempDir,
}

impl Device {
    /// Enrolls against `url` (the server or a proxy) with the user's one-time code.
    pub async fn enroll(url: &str, code: &str, user: &str, opts: SyncOptions) -> Device {
        let dir = tempfile::tempdir().unwrap();
        let store = open_store(&dir.path().join("device.db"));
        let e = fieldcheck_core::sync::enroll(store.clone(), url, code, &opts)
            .await
            .unwrap_or_else(|e| panic!("enroll {user}: {e}"));
        assert_eq!(e.user.id, user);
        assert!(e.reference_version.is_some(), "{e:?}");
        Device::from_store(user, store, opts, dir)
    }

    /// A device over a store enrolled elsewhere (another way, another process) as `user`.
    pub fn from_store(
        user: &str,
        store: Arc<Mutex<Store>>,
        opts: SyncOptions,
        dir: tempfile::TempDir,
    ) -> Device {
        let actor = store.lock().unwrap().actor(user).unwrap();
        Device {
            user: user.to_owned(),
            store,
            actor,
            opts,
            dir,
        }
    }

    pub fn client(&self) -> SyncClient {
        SyncClient::new(self.store.clone(), self.opts.clone()).unwrap()
    }

    pub async fn sync(&self) -> Result<SyncReport, SyncError> {
        self.client().run().await
    }

    /// Nothing left to push or upload.
    pub fn quiet(&self) -> bool {
        let s = self.store.lock().unwrap().sync_state().unwrap();
        s.outbox == 0 && s.photos_pending == 0
    }

    /// Syncs until a run succeeds with nothing left to send; returns the summed report
    /// of the runs and the number of runs that failed on the way.
    pub async fn sync_until_quiet(&self, max_runs: usize) -> (SyncReport, usize) {
        let mut total = SyncReport::default();
        let mut failed = 0;
        for _ in 0..max_runs {
            match self.sync().await {
                Ok(r) => {
                    add_report(&mut total, &r);
                    if self.quiet() {
                        return (total, failed);
                    }
                }
                Err(_) => failed += 1,
            }
        }
        panic!(
            "{}: no quiet sync in {max_runs} runs ({failed} failed)",
            self.user
        );
    }

    /// Stores a photo (PNG bytes, content varying with `shade`) and returns its hash.
    pub fn photo(&self, w: u32, h: u32, shade: u32) -> String {
        let bytes = png(w, h, shade);
        self.store
            .lock()
            .unwrap()
            .add_photo_bytes(&bytes)
            .unwrap()
            .hash
    }

    pub fn report(&self, desc: &str, photos: Vec<String>) -> Problem {
        self.store
            .lock()
            .unwrap()
            .report_problem(
                &self.actor,
                NewProblem {
                    category: "SR-02".into(),
                    description: desc.into(),
                    point_id: Some("p-005".into()),
                    photos,
                    ..Default::default()
                },
            )
            .unwrap()
    }

    pub fn act(&self, id: Uuid, action: ProblemAction) -> fieldcheck_core::Result<Problem> {
        self.store.lock().unwrap().act(&self.actor, id, action)
    }

    /// Event ids per record on this device, without events the server refused (those exist
    /// only here, as a visible note on the record).
    pub fn event_map(&self) -> EventMap {
        let s = self.store.lock().unwrap();
        let mut st = s
            .connection()
            .prepare("SELECT entity_id, id FROM events WHERE refused = 0")
            .unwrap();
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .unwrap();
        let mut map = EventMap::new();
        for row in rows {
            let (e, id) = row.unwrap();
            map.entry(Uuid::parse_str(&e).unwrap())
                .or_default()
                .insert(Uuid::parse_str(&id).unwrap());
        }
        map
    }

    /// Ids of the events this device wrote itself (refused ones excluded).
    pub fn local_event_ids(&self) -> BTreeSet<Uuid> {
        let s = self.store.lock().unwrap();
        let mut st = s
            .connection()
            .prepare("SELECT id FROM events WHERE origin = 'local' AND refused = 0")
            .unwrap();
        st.query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(|r| Uuid::parse_str(&r.unwrap()).unwrap())
            .collect()
    }

    pub fn refused_count(&self) -> u64 {
        let s = self.store.lock().unwrap();
        s.connection()
            .query_row("SELECT COUNT(*) FROM events WHERE refused = 1", [], |r| {
                r.get(0)
            })
            .unwrap()
    }

    /// Problems on the device.
    pub fn problem_ids(&self) -> Vec<Uuid> {
        let s = self.store.lock().unwrap();
        let mut st = s.connection().prepare("SELECT id FROM problems").unwrap();
        st.query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(|r| Uuid::parse_str(&r.unwrap()).unwrap())
            .collect()
    }

    pub fn problem(&self, id: Uuid) -> Problem {
        self.store.lock().unwrap().problem(id).unwrap()
    }

    pub fn token(&self) -> String {
        self.store
            .lock()
            .unwrap()
            .enrollment()
            .unwrap()
            .unwrap()
            .token
    }
}

pub fn add_report(total: &mut SyncReport, r: &SyncReport) {
    total.pushed += r.pushed;
    total.duplicates += r.duplicates;
    total.clamped += r.clamped;
    total.refused.extend(r.refused.iter().cloned());
    total.rejected.extend(r.rejected.iter().cloned());
    total.photos_uploaded += r.photos_uploaded;
    total.photo_bytes_uploaded += r.photo_bytes_uploaded;
    total.events_pulled += r.events_pulled;
    total.records_removed += r.records_removed;
    total.photos_downloaded += r.photos_downloaded;
}

/// Whether a run moved anything at all.
pub fn moved(r: &SyncReport) -> bool {
    r.pushed
        + r.duplicates
        + r.photos_uploaded
        + r.events_pulled
        + r.records_removed
        + r.photos_downloaded
        > 0
}

/// Rounds of syncs over all devices until one round moves nothing: quiescence.
pub async fn sync_all_until_quiescent(devices: &[&Device], max_rounds: usize) -> usize {
    let mut failed = 0;
    for _ in 0..max_rounds {
        let mut any = false;
        for d in devices {
            let (r, f) = d.sync_until_quiet(40).await;
            failed += f;
            any |= moved(&r);
        }
        if !any {
            return failed;
        }
    }
    panic!("no quiescence after {max_rounds} rounds");
}

/// A PNG whose pixels depend on `shade` (different shades, different hashes).
pub fn png(w: u32, h: u32, shade: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            ((x + shade) % 256) as u8,
            ((y * 3 + shade) % 256) as u8,
            (shade % 256) as u8,
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A photo that stays large after the display copy is made: noise does not compress.
pub fn noisy_png(w: u32, h: u32, seed: u64) -> Vec<u8> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let img = image::RgbImage::from_fn(w, h, |_, _| image::Rgb(rng.random::<[u8; 3]>()));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// What the server lets this token see: event ids per record, read with the pull API from
/// the start, directly (no proxy), honouring `remove` items.
pub async fn server_view(base: &str, token: &str) -> EventMap {
    let http = reqwest::Client::new();
    let mut map = EventMap::new();
    let mut since = 0u64;
    loop {
        let resp = http
            .get(format!("{base}/api/v1/pull?since={since}&limit=500"))
            .header(PROTOCOL_HEADER, "1")
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "pull: {}", resp.status());
        let page: PullResponse = resp.json().await.unwrap();
        for item in page.items {
            match item {
                PullItem::Event { event, .. } => {
                    map.entry(event.entity_id).or_default().insert(event.id);
                }
                PullItem::Remove { entity_id, .. } => {
                    map.remove(&entity_id);
                }
            }
        }
        if !page.more || page.cursor == since {
            return map;
        }
        since = page.cursor;
    }
}

/// `(rows, distinct event ids)` of the server's event table, and the ids, read from its
/// SQLite file.
pub fn server_events(db: &Path) -> (u64, BTreeSet<Uuid>) {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let rows: u64 = conn
        .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
        .unwrap();
    let mut st = conn.prepare("SELECT event_id FROM events").unwrap();
    let ids = st
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|r| Uuid::parse_str(&r.unwrap()).unwrap())
        .collect();
    (rows, ids)
}

/// What the convergence check saw.
#[derive(Debug, Default)]
pub struct Converged {
    pub server_events: u64,
    pub records: usize,
    pub device_records: usize,
}

/// Asserts that every device holds exactly what the server lets its user see (records and
/// event ids), folded to the same state as the server's, that every event a device wrote
/// is on the server (or was refused, visibly), and that no event is stored twice.
pub async fn assert_converged(
    base: &str,
    db: &Path,
    store: &dyn ServerStore,
    devices: &[&Device],
) -> Converged {
    assert_converged_with(base, server_events(db), store, devices).await
}

/// [`assert_converged`] with the server's event rows and ids read by the caller (any backend).
pub async fn assert_converged_with(
    base: &str,
    (rows, ids): (u64, BTreeSet<Uuid>),
    store: &dyn ServerStore,
    devices: &[&Device],
) -> Converged {
    assert_eq!(rows, ids.len() as u64, "an event is stored twice");
    assert_eq!(store.event_count().await.unwrap(), rows);
    let mut out = Converged {
        server_events: rows,
        ..Converged::default()
    };
    let mut records = BTreeSet::new();
    for d in devices {
        let want = server_view(base, &d.token()).await;
        let have = d.event_map();
        let problems: BTreeSet<Uuid> = d.problem_ids().into_iter().collect();
        let visible: BTreeSet<Uuid> = want.keys().copied().collect();
        assert_eq!(
            problems, visible,
            "{}: records differ from the server's",
            d.user
        );
        assert_eq!(have, want, "{}: event ids differ from the server's", d.user);
        for id in &problems {
            let server = store.problem(*id).await.unwrap().unwrap();
            assert_eq!(d.problem(*id), server, "{}: state of {id}", d.user);
            records.insert(*id);
        }
        out.device_records += problems.len();
        let lost: Vec<_> = d.local_event_ids().difference(&ids).copied().collect();
        assert!(lost.is_empty(), "{}: events lost: {lost:?}", d.user);
        let s = d.store.lock().unwrap();
        assert!(
            s.missing_photos().unwrap().is_empty(),
            "{}: photos missing",
            d.user
        );
    }
    out.records = records.len();
    out
}
