//! Issue 19, "Scale out": two `fieldcheck-server` instances on one PostgreSQL schema and one
//! S3-compatible bucket (moto), behind a proxy that sends every request to either at random
//! and injects faults (uploads cut mid-chunk, answers lost, requests doubled), so an upload
//! begun on one instance is resumed on the other. Four devices of different roles take
//! problems with photos through their lifecycle with the real sync client. The result equals a
//! single-server run of the same script: every record in the same state with the same number
//! of events and photos, every event stored once, every photo stored once and downloadable
//! from both instances, nothing left staged, every replica equal to what the server shows.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use fieldcheck_core::ProblemAction;
use fieldcheck_core::domain::ProblemStatus;
use fieldcheck_core::protocol::sync::PROTOCOL_HEADER;
use fieldcheck_e2e::proxy::Proxy;
use fieldcheck_e2e::{
    Converged, Device, assert_converged, assert_converged_with, code_of, noisy_png, quick_options,
    seed, sync_all_until_quiescent,
};
use fieldcheck_server::demo::DemoLogin;
use fieldcheck_server::{Config, Store as ServerStore};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use uuid::Uuid;

const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";
const BUCKET: &str = "fc-scale";

/// What a run ends with, per problem (by description): status, events, photos.
type Summary = BTreeMap<String, (String, usize, usize)>;

fn required(what: &str) -> bool {
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    let pg = what == "pg" && std::env::var("FIELDCHECK_REQUIRE_PG").is_ok_and(|v| v.trim() == "1");
    ci || pg
}

fn skip(what: &str, why: &str) {
    use std::io::Write;
    if required(what) {
        panic!("{why}, and this test must run (CI / FIELDCHECK_REQUIRE_PG=1)");
    }
    let _ = writeln!(std::io::stderr(), "\n*** SKIPPED: {why} ***\n");
}

/// `moto_server` on a free port with one bucket; killed on drop.
struct Moto {
    endpoint: String,
    child: std::process::Child,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn moto() -> Option<Moto> {
    let bin = std::env::var("FIELDCHECK_MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = match std::process::Command::new(&bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            skip("s3", &format!("{bin} cannot be started ({e})"));
            return None;
        }
    };
    let mut m = Moto {
        endpoint: format!("http://127.0.0.1:{port}"),
        child,
    };
    let http = reqwest::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while http.get(&m.endpoint).send().await.is_err() {
        assert!(m.child.try_wait().unwrap().is_none(), "{bin} exited");
        assert!(std::time::Instant::now() < deadline, "{bin} did not listen");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let r = http
        .put(format!("{}/{BUCKET}", m.endpoint))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "create bucket: {}", r.status());
    Some(m)
}

/// A fresh schema on the test PostgreSQL: (url, schema, a pool inside it).
async fn pg_schema() -> Option<(String, String, PgPool)> {
    let url = std::env::var("FIELDCHECK_TEST_PG").unwrap_or_else(|_| DEFAULT_PG.to_owned());
    let admin = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        PgPoolOptions::new().max_connections(1).connect(&url),
    )
    .await;
    let admin = match admin {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => {
            skip("pg", &format!("PostgreSQL not reachable at {url} ({e})"));
            return None;
        }
        Err(_) => {
            skip(
                "pg",
                &format!("PostgreSQL not reachable at {url} (timed out)"),
            );
            return None;
        }
    };
    let schema = format!("e2e_scale_{}", Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let opts: PgConnectOptions = url.parse().unwrap();
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(opts.options([("search_path", schema.as_str())]))
        .await
        .unwrap();
    Some((url, schema, pool))
}

async fn drop_schema(url: &str, schema: &str) {
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
}

/// One server instance in this process on its own port and data directory.
struct Instance {
    addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Instance {
    async fn start(store: Arc<dyn ServerStore>, tweak: impl FnOnce(&mut Config)) -> Instance {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            blob_dir: dir.path().join("blobs"),
            export_dir: dir.path().join("exports"),
            ..Config::default()
        };
        tweak(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(fieldcheck_server::serve_with_store(
            config,
            store,
            listener,
            async move {
                let _ = rx.await;
            },
        ));
        Instance {
            addr,
            stop: Some(tx),
            task,
            _dir: dir,
        }
    }

    fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn partial_files(&self) -> Vec<std::ffi::OsString> {
        std::fs::read_dir(self._dir.path().join("blobs/partial"))
            .map(|d| d.map(|e| e.unwrap().file_name()).collect())
            .unwrap_or_default()
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        (&mut self.task).await.unwrap().unwrap();
    }
}

fn opts() -> fieldcheck_core::sync::SyncOptions {
    let mut o = quick_options();
    // Photos span several chunks, so cuts land between and inside them.
    o.chunk_bytes = 8 * 1024;
    o.retry.max_attempts = 8;
    o
}

/// The script: reports with photos from a volunteer and an inspector, the office files and
/// dispatches, the unit accepts and rectifies with photos, the inspector verifies. Each step
/// starts from a full sync, so no two devices act on one record at once: the end state is
/// the same whatever order requests reach the server in.
async fn script(proxy: &Proxy, logins: &[DemoLogin]) -> (Vec<Device>, Summary) {
    let front = proxy.url.as_str();
    let enroll = |u: &'static str| {
        let code = code_of(logins, u);
        async move { Device::enroll(front, &code, u, opts()).await }
    };
    // Enrollment answers are not lost here (the enroll tests cover that); everything after is.
    proxy.set_faults(false);
    let vol = enroll("usr-vol-1").await;
    let insp = enroll("usr-insp-1").await;
    let admin = enroll("usr-admin-1").await;
    let hdl = enroll("usr-hdl-1").await;
    proxy.set_faults(true);
    let photo = |d: &Device, n: u64| {
        d.store
            .lock()
            .unwrap()
            .add_photo_bytes(&noisy_png(160, 120, n))
            .unwrap()
            .hash
    };
    for i in 0..4u64 {
        let p = photo(&vol, 100 + i);
        vol.report(&format!("志愿者上报 {i}"), vec![p]);
        let p = photo(&insp, 200 + i);
        insp.report(&format!("巡查上报 {i}"), vec![p]);
    }
    // Both reporters at once: their pushes and uploads interleave on the two instances.
    let _ = tokio::join!(vol.sync_until_quiet(60), insp.sync_until_quiet(60));
    admin.sync_until_quiet(60).await;
    for id in admin.problem_ids() {
        admin.act(id, ProblemAction::File { note: None }).unwrap();
        admin
            .act(
                id,
                ProblemAction::Dispatch {
                    unit_id: "u-s-dj".into(),
                    deadline: None,
                    note: None,
                },
            )
            .unwrap();
    }
    admin.sync_until_quiet(60).await;
    hdl.sync_until_quiet(60).await;
    for (n, id) in hdl.problem_ids().into_iter().enumerate() {
        hdl.act(id, ProblemAction::Accept { note: None }).unwrap();
        let p = photo(&hdl, 300 + n as u64);
        hdl.act(
            id,
            ProblemAction::Rectify {
                photos: vec![p],
                note: Some("已清理".into()),
            },
        )
        .unwrap();
    }
    // The unit uploads its after-photos while the office and the inspector pull.
    let _ = tokio::join!(
        hdl.sync_until_quiet(60),
        admin.sync_until_quiet(60),
        insp.sync_until_quiet(60)
    );
    insp.sync_until_quiet(60).await;
    for id in insp.problem_ids() {
        if insp.problem(id).status == ProblemStatus::Rectified {
            insp.act(
                id,
                ProblemAction::Verify {
                    passed: true,
                    note: None,
                    photos: vec![],
                },
            )
            .unwrap();
        }
    }
    let devices = vec![vol, insp, admin, hdl];
    let all: Vec<&Device> = devices.iter().collect();
    sync_all_until_quiescent(&all, 12).await;
    let office = &devices[2];
    let events = office.event_map();
    let summary = office
        .problem_ids()
        .into_iter()
        .map(|id| {
            let p = office.problem(id);
            let n = events.get(&id).map_or(0, BTreeSet::len);
            (
                p.description.clone(),
                (p.status.as_str().to_owned(), n, p.photos.len()),
            )
        })
        .collect();
    (devices, summary)
}

/// Every photo the devices hold, as the server's instances serve it to the office.
async fn photos_served(bases: &[String], token: &str, devices: &[Device]) -> usize {
    let http = reqwest::Client::new();
    let mut hashes = BTreeMap::new();
    for d in devices {
        let s = d.store.lock().unwrap();
        let mut st = s.connection().prepare("SELECT hash FROM photos").unwrap();
        let rows: Vec<String> = st
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for h in rows {
            if let Ok(path) = s.display_path(&h)
                && let Ok(bytes) = std::fs::read(path)
            {
                hashes.insert(h, bytes);
            }
        }
    }
    for (hash, bytes) in &hashes {
        for base in bases {
            let r = http
                .get(format!("{base}/api/v1/blobs/{hash}"))
                .header(PROTOCOL_HEADER, "1")
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200, "{hash} from {base}");
            assert_eq!(
                &r.bytes().await.unwrap()[..],
                &bytes[..],
                "{hash} from {base}"
            );
        }
    }
    hashes.len()
}

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_behind_a_random_proxy_equal_one_server() {
    let seed = seed("scale_out");
    let Some(moto) = moto().await else {
        return;
    };
    let Some((url, schema, pool)) = pg_schema().await else {
        return;
    };

    // The baseline: one server (SQLite), the same script, the same fault rate.
    let single = fieldcheck_e2e::Server::start().await;
    let proxy = Proxy::start(single.addr, seed, 0.25).await;
    let (devices, want) = script(&proxy, &single.logins).await;
    let all: Vec<&Device> = devices.iter().collect();
    assert_converged(&single.base, &single.db_path, single.store.as_ref(), &all).await;
    drop(devices);
    drop(proxy);
    drop(single);

    // Two instances: one schema, one bucket, each its own pool and disk.
    let open = || fieldcheck_server::store::PgStore::open(&url, Some(&schema));
    let store_a: Arc<dyn ServerStore> = Arc::new(open().await.unwrap());
    let store_b: Arc<dyn ServerStore> = Arc::new(open().await.unwrap());
    let logins =
        fieldcheck_server::demo::seed(store_a.as_ref(), chrono::Utc::now().timestamp_millis())
            .await
            .unwrap();
    let s3 = |c: &mut Config| {
        c.blob_store = format!("s3://{BUCKET}/photos");
        c.s3.endpoint = moto.endpoint.clone();
        c.s3.region = "us-east-1".into();
        c.s3.access_key_id = "fieldcheck-test".into();
        c.s3.secret_access_key = "fieldcheck-test-secret".into();
        c.s3.allow_http = true;
    };
    let a = Instance::start(store_a.clone(), s3).await;
    let b = Instance::start(store_b.clone(), s3).await;
    let proxy = Proxy::start_many(vec![a.addr, b.addr], seed, 0.25).await;
    let (devices, got) = script(&proxy, &logins).await;
    assert_eq!(got, want, "two instances end where one server does");
    assert!(got.len() == 8, "{got:?}");

    let stats = proxy.stats();
    eprintln!(
        "seed {seed}: {} requests ({:?} per instance), {} faults {:?}",
        stats.requests, stats.by_upstream, stats.faults, stats.by_fault
    );
    assert_eq!(stats.by_upstream.len(), 2, "both instances served");
    assert!(
        stats.log.iter().any(|l| l.contains("/blobs/")),
        "uploads were interrupted: {:?}",
        stats.log
    );

    // Every event once, every replica what the server shows it (asked of either instance).
    let rows = count(&pool, "SELECT COUNT(*) FROM events").await as u64;
    let ids: BTreeSet<Uuid> = sqlx::query_scalar::<_, String>("SELECT event_id FROM events")
        .fetch_all(&pool)
        .await
        .unwrap()
        .into_iter()
        .map(|s| Uuid::parse_str(&s).unwrap())
        .collect();
    let all: Vec<&Device> = devices.iter().collect();
    let c: Converged = assert_converged_with(&b.base(), rows, &ids, store_a.as_ref(), &all).await;
    assert_eq!(c.records, 8);
    // Every photo once: one blob row per hash, each served by both instances, nothing staged.
    let token = devices[2].token();
    let photos = photos_served(&[a.base(), b.base()], &token, &devices).await;
    assert_eq!(
        photos, 32,
        "8 reports and 8 rectifications, one photo each, each with its stamped copy"
    );
    assert_eq!(
        count(&pool, "SELECT COUNT(*) FROM blobs WHERE complete").await,
        photos as i64
    );
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM blob_chunks").await, 0);
    assert!(a.partial_files().is_empty() && b.partial_files().is_empty());

    drop(devices);
    drop(proxy);
    a.stop().await;
    b.stop().await;
    pool.close().await;
    drop_schema(&url, &schema).await;
}
