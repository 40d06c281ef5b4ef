//! Shared test helpers: stores on both backends, demo users, event builders, and a server on
//! a 127.0.0.1 port driven over real HTTP (`http.rs`, `api_more.rs`).
#![allow(dead_code)]

use std::io::Write;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use fieldcheck_domain::event::{EventBody, PhotoRef, PhotoRole, ProblemReported};
use fieldcheck_domain::reference::User;
use fieldcheck_domain::{Actor, Event, Hlc, Severity};
use fieldcheck_protocol::ReferenceBundle;
use fieldcheck_server::Store;
use fieldcheck_server::store::{PgStore, SqliteStore};
use uuid::Uuid;

/// Runs `$name(pg)` as two tests, `$name::sqlite` and `$name::postgres`.
#[allow(unused_macros)] // only the files with tests on both backends use it
macro_rules! both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(false).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$name(true).await
            }
        }
    };
}

#[allow(unused_imports)]
pub(crate) use both_backends;

pub const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn bundle() -> ReferenceBundle {
    fieldcheck_protocol::demo_bundle()
}

pub fn user(id: &str) -> User {
    bundle()
        .users
        .into_iter()
        .find(|u| u.id == id)
        .unwrap_or_else(|| panic!("no demo user {id}"))
}

pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

pub async fn sqlite() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let store = SqliteStore::open(&url).await.unwrap();
    store.put_reference(&bundle()).await.unwrap();
    (dir, Arc::new(store))
}

/// Says so where the person running the tests sees it: the harness captures `eprintln!`
/// of passing tests, but not direct writes to stderr.
pub fn loud(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

/// A PostgreSQL store in a fresh schema, dropped by [`Pg::finish`].
pub struct Pg {
    pub store: Arc<PgStore>,
    url: String,
    schema: String,
}

impl Pg {
    /// `None` (after a loud SKIPPED line) when PostgreSQL is not reachable, unless it is
    /// required ([`pg_required`]: `CI` or `FIELDCHECK_REQUIRE_PG=1`, which `scripts/test.sh`
    /// sets after starting one): then an unreachable PostgreSQL fails the test.
    pub async fn new() -> Option<Pg> {
        let url = std::env::var("FIELDCHECK_TEST_PG").unwrap_or_else(|_| DEFAULT_PG.to_owned());
        let admin = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(&url),
        )
        .await;
        let admin = match admin {
            Ok(Ok(pool)) => pool,
            Ok(Err(e)) => return unreachable(&url, &e.to_string()),
            Err(_) => return unreachable(&url, "timed out"),
        };
        let schema = format!("t_{}", Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        let store = PgStore::open(&url, Some(&schema)).await.unwrap();
        store.put_reference(&bundle()).await.unwrap();
        Some(Pg {
            store: Arc::new(store),
            url,
            schema,
        })
    }

    /// The test's own schema.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The server's URL (a second instance opens its own pool on it, in [`Pg::schema`]).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub async fn finish(self) {
        self.store.close().await;
        let admin = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&self.url)
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA {} CASCADE",
            self.schema
        )))
        .execute(&admin)
        .await
        .unwrap();
        admin.close().await;
    }
}

/// Whether a PostgreSQL test that cannot connect must fail rather than skip: in CI, and
/// whenever `FIELDCHECK_REQUIRE_PG=1` (`scripts/test.sh`, which makes sure one runs).
pub fn pg_required() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
        || std::env::var("FIELDCHECK_REQUIRE_PG").is_ok_and(|v| v.trim() == "1")
}

fn unreachable(url: &str, why: &str) -> Option<Pg> {
    if pg_required() {
        panic!(
            "PostgreSQL not reachable at {url} ({why}) and CI or FIELDCHECK_REQUIRE_PG=1 is \
             set: PostgreSQL tests must run (scripts/test.sh starts one)"
        );
    }
    loud(&format!(
        "\n*** SKIPPED: PostgreSQL not reachable at {url} ({why}); set FIELDCHECK_TEST_PG ***\n"
    ));
    None
}

pub fn actor(u: &User) -> Actor {
    Actor {
        user_id: u.id.clone(),
        role: u.role,
        unit_id: u.unit_id.clone(),
    }
}

pub fn hlc(ms: i64, node: &str) -> Hlc {
    Hlc::new(ms, 0, node)
}

pub fn ev(u: &User, entity: Uuid, ms: i64, body: EventBody) -> Event {
    Event::new(entity, &actor(u), "dev-test", hlc(ms, "dev-test"), body)
}

pub fn report(u: &User, entity: Uuid, district: &str, ms: i64) -> Event {
    ev(
        u,
        entity,
        ms,
        EventBody::ProblemReported(Box::new(ProblemReported {
            // The random end of the id: a UUIDv7 begins with its timestamp.
            code: format!("GL-TEST-{}", &entity.simple().to_string()[20..]),
            category: "litter".into(),
            description: "垃圾堆放".into(),
            location: None,
            address: "测试路 1 号".into(),
            district_id: Some(district.into()),
            point_id: None,
            item_id: None,
            inspection_id: None,
            severity: Severity::default(),
            placement: None,
        })),
    )
}

pub fn filed(u: &User, entity: Uuid, ms: i64) -> Event {
    ev(u, entity, ms, EventBody::ProblemFiled { note: None })
}

pub fn dispatched(u: &User, entity: Uuid, unit: &str, ms: i64) -> Event {
    let deadline: DateTime<Utc> = DateTime::from_timestamp_millis(ms + 3 * 86_400_000).unwrap();
    ev(
        u,
        entity,
        ms,
        EventBody::ProblemDispatched {
            unit_id: unit.into(),
            deadline,
            note: None,
        },
    )
}

pub fn accepted(u: &User, entity: Uuid, ms: i64) -> Event {
    ev(u, entity, ms, EventBody::ProblemAccepted { note: None })
}

pub fn rectified(u: &User, entity: Uuid, ms: i64, photo: &str) -> Event {
    ev(u, entity, ms, EventBody::ProblemRectified { note: None }).with_photos(vec![PhotoRef {
        hash: photo.into(),
        role: PhotoRole::After,
    }])
}

pub fn closed(u: &User, entity: Uuid, ms: i64) -> Event {
    ev(u, entity, ms, EventBody::ProblemClosed { note: None })
}

// ---------------------------------------------------------------------------------------------
// A server over real HTTP.

/// JSON body limit of the test servers (small, so the limit tests stay fast).
pub const BODY_LIMIT: usize = 64 * 1024;
pub const CHUNK_LIMIT: usize = 16 * 1024;
pub const BLOB_LIMIT: u64 = 40 * 1024;

/// The configuration of [`Server::start_in`]: SQLite file and blobs in `dir`, small limits.
pub fn test_config(dir: &std::path::Path) -> fieldcheck_server::Config {
    fieldcheck_server::Config {
        database_url: format!("sqlite://{}/fc.db", dir.display()),
        blob_dir: dir.join("blobs"),
        max_body_bytes: BODY_LIMIT,
        max_chunk_bytes: CHUNK_LIMIT,
        max_blob_bytes: BLOB_LIMIT,
        // Role matrices push request after request from one token; the push rate limit has
        // its own test (`push_limits.rs`).
        push_per_minute: 600_000,
        push_burst: 100_000,
        ..fieldcheck_server::Config::default()
    }
}

/// A reqwest client that sends the protocol header on every request.
pub fn http_client() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        fieldcheck_protocol::sync::PROTOCOL_HEADER,
        "1".parse().unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

/// A console session (`Server::console_sign_in`).
pub struct ConsoleLogin {
    /// `fieldcheck_console=…`, as a `Cookie` header value.
    pub cookie: String,
    pub csrf: String,
}

pub struct Server {
    /// `http://127.0.0.1:<port>/api/v1`
    pub base: String,
    pub store: Arc<dyn Store>,
    pub logins: Vec<fieldcheck_server::demo::DemoLogin>,
    pub http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// A seeded server in a fresh temporary directory: 64 KiB JSON bodies, default blob limits.
    pub async fn start_temp() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let config = fieldcheck_server::Config {
            database_url: format!("sqlite://{}/fc.db", dir.path().display()),
            blob_dir: dir.path().join("blobs"),
            max_body_bytes: BODY_LIMIT,
            ..fieldcheck_server::Config::default()
        };
        let mut s = Server::start_with(config, None, true).await;
        s._dir = Some(dir);
        s
    }

    /// A server over the SQLite file and blob directory in `dir` ([`test_config`]); `seed`
    /// imports the demo city and issues codes (a restarted server does not).
    pub async fn start_in(
        dir: &std::path::Path,
        blobs: Option<Arc<dyn fieldcheck_server::blobs::BlobStore>>,
        seed: bool,
    ) -> Server {
        Server::start_with(test_config(dir), blobs, seed).await
    }

    pub async fn start_with(
        config: fieldcheck_server::Config,
        blobs: Option<Arc<dyn fieldcheck_server::blobs::BlobStore>>,
        seed: bool,
    ) -> Server {
        let store = fieldcheck_server::open_store(&config.database_url)
            .await
            .unwrap();
        Server::start_on(config, store, blobs, seed).await
    }

    /// A server over an already opened store (PostgreSQL in a test schema, say);
    /// `config.database_url` is not used.
    pub async fn start_on(
        config: fieldcheck_server::Config,
        store: Arc<dyn Store>,
        blobs: Option<Arc<dyn fieldcheck_server::blobs::BlobStore>>,
        seed: bool,
    ) -> Server {
        let logins = if seed {
            fieldcheck_server::demo::seed(store.as_ref(), now_ms())
                .await
                .unwrap()
        } else {
            Vec::new()
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async move {
            let _ = rx.await;
        };
        let task = match blobs {
            Some(b) => tokio::spawn(fieldcheck_server::serve_with(
                config,
                store.clone(),
                b,
                listener,
                shutdown,
            )),
            None => tokio::spawn(fieldcheck_server::serve_with_store(
                config,
                store.clone(),
                listener,
                shutdown,
            )),
        };
        Server {
            base: format!("http://{addr}/api/v1"),
            store,
            logins,
            http: http_client(),
            stop: Some(tx),
            task,
            _dir: None,
        }
    }

    /// A server on a fresh directory with a small demo city seeded (60 problems over 20
    /// days, with photos), as the console's exports and reports are tested on; `tweak`
    /// adjusts its config.
    pub async fn start_seeded_city(
        tweak: impl FnOnce(&mut fieldcheck_server::Config),
    ) -> (tempfile::TempDir, Server) {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        tweak(&mut config);
        let s = Server::start_with(config, None, true).await;
        let plan = fieldcheck_server::demo::city::CityPlan {
            seed: 16,
            problems: 60,
            days: 20,
            now: Utc::now(),
            own_photos: 6,
            pool_photos: 4,
        };
        fieldcheck_server::demo::seed_city_if_empty(
            s.store.as_ref(),
            &fieldcheck_server::blobs::LocalBlobs::new(dir.path().join("blobs")),
            &dir.path().join("blobs"),
            &plan,
        )
        .await
        .unwrap()
        .expect("seeded");
        (dir, s)
    }

    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        (&mut self.task).await.unwrap().unwrap();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn code_of(&self, user: &str) -> String {
        self.logins
            .iter()
            .find(|l| l.user_id == user)
            .unwrap()
            .enroll_code
            .clone()
    }

    /// Enrolls a device for `user` with the demo code; returns the token.
    pub async fn enroll(&self, user: &str) -> String {
        let r = self
            .http
            .post(self.url("/enroll"))
            .json(&serde_json::json!({"code": self.code_of(user), "device_id": Uuid::now_v7(), "device_name": "test"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::OK);
        r.json::<fieldcheck_protocol::sync::EnrollResponse>()
            .await
            .unwrap()
            .token
    }

    pub async fn login(&self, user: &str) -> String {
        let r = self
            .http
            .post(self.url("/login"))
            .json(&serde_json::json!({"username": user, "password": fieldcheck_server::demo::DEMO_PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::OK);
        r.json::<fieldcheck_protocol::sync::LoginResponse>()
            .await
            .unwrap()
            .token
    }

    /// Signs `user` in to the console (demo password): the cookie to send back and the CSRF
    /// token of its state-changing requests.
    pub async fn console_sign_in(&self, user: &str) -> ConsoleLogin {
        let r = self
            .http
            .post(self.url("/console/session"))
            .json(&serde_json::json!({"username": user, "password": fieldcheck_server::demo::DEMO_PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            reqwest::StatusCode::OK,
            "console sign-in of {user}"
        );
        let cookie = r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let info: serde_json::Value = r.json().await.unwrap();
        ConsoleLogin {
            cookie,
            csrf: info["csrf_token"].as_str().unwrap().to_owned(),
        }
    }

    /// A console request that changes something: the session's cookie and CSRF token, a JSON
    /// body.
    pub async fn console_post(
        &self,
        login: &ConsoleLogin,
        path: &str,
        body: serde_json::Value,
    ) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .header("cookie", &login.cookie)
            .header("x-csrf-token", &login.csrf)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// A console GET with a session cookie.
    pub async fn console_get(&self, cookie: &str, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
    }

    pub async fn push(
        &self,
        token: &str,
        events: Vec<Event>,
    ) -> fieldcheck_protocol::sync::PushResponse {
        let r = self
            .http
            .post(self.url("/push"))
            .bearer_auth(token)
            .json(&serde_json::json!({ "events": events }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::OK);
        r.json().await.unwrap()
    }

    pub async fn pull(&self, token: &str, since: u64) -> fieldcheck_protocol::sync::PullResponse {
        let r = self
            .http
            .get(self.url(&format!("/pull?since={since}&limit=100")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::OK);
        r.json().await.unwrap()
    }

    pub async fn put_chunk(
        &self,
        token: &str,
        hash: &str,
        offset: usize,
        size: usize,
        body: Vec<u8>,
    ) -> reqwest::Response {
        self.http
            .put(self.url(&format!("/blobs/{hash}?offset={offset}&size={size}")))
            .bearer_auth(token)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_blob(&self, token: &str, hash: &str) -> reqwest::Response {
        self.http
            .get(self.url(&format!("/blobs/{hash}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn blob_state(
        &self,
        token: &str,
        hash: &str,
    ) -> fieldcheck_protocol::sync::BlobState {
        let c: fieldcheck_protocol::sync::BlobCheckResponse = self
            .http
            .post(self.url("/blobs/check"))
            .bearer_auth(token)
            .json(&serde_json::json!({ "hashes": [hash] }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        c.blobs.into_iter().next().unwrap()
    }
}

impl Server {
    /// `GET path` with `token`.
    pub async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// `POST path` with `token` and no body (logout, the office's revoke/disable/enable).
    pub async fn post(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// `POST path` with `token` and a JSON body.
    pub async fn post_json(
        &self,
        token: &str,
        path: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// `POST /enroll` with this body, whatever the answer.
    pub async fn enroll_raw(&self, body: &serde_json::Value) -> reqwest::Response {
        self.http
            .post(self.url("/enroll"))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// `POST /enroll` with `code` for `device`, whatever the answer.
    pub async fn enroll_with(&self, code: &str, device: Uuid) -> reqwest::Response {
        self.enroll_raw(
            &serde_json::json!({"code": code, "device_id": device, "device_name": "test"}),
        )
        .await
    }

    /// `POST /login`, whatever the answer.
    pub async fn login_as(&self, user: &str, password: &str) -> reqwest::Response {
        self.http
            .post(self.url("/login"))
            .json(&serde_json::json!({"username": user, "password": password}))
            .send()
            .await
            .unwrap()
    }

    /// `GET /me` with `token`, whatever the answer.
    pub async fn me(&self, token: &str) -> reqwest::Response {
        self.get(token, "/me").await
    }

    /// A fresh enrollment code for `user`, issued by the office (`admin`) over HTTP.
    pub async fn new_code(&self, admin: &str, user: &str) -> String {
        let r = self
            .post_json(
                admin,
                "/admin/enroll-codes",
                &serde_json::json!({"user_id": user, "ttl_minutes": 30}),
            )
            .await;
        assert_eq!(r.status(), reqwest::StatusCode::OK);
        r.json::<fieldcheck_protocol::sync::CreateEnrollCodeResponse>()
            .await
            .unwrap()
            .code
    }

    /// The office (`admin`, with `token`) files `p` at `at.0` and dispatches it to `unit` at
    /// `at.1`; both must apply.
    pub async fn file_and_dispatch(
        &self,
        token: &str,
        admin: &User,
        p: Uuid,
        unit: &str,
        at: (i64, i64),
    ) {
        let r = self
            .push(
                token,
                vec![filed(admin, p, at.0), dispatched(admin, p, unit, at.1)],
            )
            .await;
        assert!(
            r.results
                .iter()
                .all(|x| x.status == fieldcheck_protocol::sync::PushStatus::Applied),
            "{r:?}"
        );
    }

    /// The server's OpenAPI document.
    pub async fn openapi(&self) -> serde_json::Value {
        let r = self.http.get(self.url("/openapi.json")).send().await;
        r.unwrap().json().await.unwrap()
    }

    /// A raw connection that has sent the head of `PUT /blobs/{hash}?offset&size` with
    /// `content_length` body bytes to come: the test sends (part of) the body itself.
    pub async fn raw_chunk_head(
        &self,
        token: &str,
        hash: &str,
        offset: usize,
        size: usize,
        content_length: usize,
    ) -> tokio::net::TcpStream {
        use tokio::io::AsyncWriteExt;
        let addr = self
            .base
            .trim_start_matches("http://")
            .trim_end_matches("/api/v1")
            .to_owned();
        let mut raw = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let head = format!(
            "PUT /api/v1/blobs/{hash}?offset={offset}&size={size} HTTP/1.1\r\nhost: {addr}\r\n\
             authorization: Bearer {token}\r\n{}: 1\r\ncontent-length: {content_length}\r\n\r\n",
            fieldcheck_protocol::sync::PROTOCOL_HEADER
        );
        raw.write_all(head.as_bytes()).await.unwrap();
        raw
    }
}

/// A seeded server in a temporary directory ([`test_config`], then `tweak`) on SQLite or
/// (when `pg`) PostgreSQL in a test schema; `None` when PostgreSQL is skipped.
pub struct Env {
    pub s: Server,
    pub pg: Option<Pg>,
    _dir: tempfile::TempDir,
}

impl Env {
    pub async fn new(pg: bool, tweak: impl FnOnce(&mut fieldcheck_server::Config)) -> Option<Env> {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        tweak(&mut config);
        let (s, pg) = if pg {
            let pg = Pg::new().await?;
            let store: Arc<dyn Store> = pg.store.clone();
            (Server::start_on(config, store, None, true).await, Some(pg))
        } else {
            (Server::start_with(config, None, true).await, None)
        };
        Some(Env { s, pg, _dir: dir })
    }

    pub async fn finish(self) {
        self.s.stop().await;
        if let Some(pg) = self.pg {
            pg.finish().await;
        }
    }
}

/// Asserts an `ApiError` answer with this status and code (and a message).
pub async fn api_error(
    r: reqwest::Response,
    status: reqwest::StatusCode,
    code: &str,
) -> fieldcheck_protocol::ApiError {
    assert_eq!(r.status(), status);
    let e: fieldcheck_protocol::ApiError = r.json().await.expect("ApiError body");
    assert_eq!(e.code, code, "{e:?}");
    assert!(!e.message.is_empty());
    e
}

pub fn sha(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

// ---------------------------------------------------------------------------------------------
// A real S3-compatible server: moto (`moto_server`, from PyPI; scripts/test.sh installs it).

/// `moto_server` on a free 127.0.0.1 port with one empty bucket; killed on drop.
#[cfg(feature = "s3")]
pub struct S3 {
    pub endpoint: String,
    pub bucket: String,
    child: std::process::Child,
}

#[cfg(feature = "s3")]
impl S3 {
    /// `None` (after a loud SKIPPED line) when `moto_server` is not installed outside CI; in
    /// CI a missing one fails the test. `FIELDCHECK_MOTO_SERVER` names another binary.
    pub async fn start(bucket: &str) -> Option<S3> {
        let bin =
            std::env::var("FIELDCHECK_MOTO_SERVER").unwrap_or_else(|_| "moto_server".to_owned());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let spawned = std::process::Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(c) => c,
            Err(e) => {
                let why = format!("{bin} cannot be started ({e})");
                if std::env::var_os("CI").is_some() {
                    panic!(
                        "{why} and CI is set: the S3 tests must run (scripts/test.sh installs moto)"
                    );
                }
                loud(&format!(
                    "\n*** SKIPPED: {why}; run scripts/test.sh or `pip install 'moto[server]'` \
                     (or set FIELDCHECK_MOTO_SERVER) for the S3 blob tests ***\n"
                ));
                return None;
            }
        };
        let mut s3 = S3 {
            endpoint: format!("http://127.0.0.1:{port}"),
            bucket: bucket.to_owned(),
            child,
        };
        // moto takes a second or two to import; it answers `GET /` once it listens.
        let http = reqwest::Client::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if http.get(&s3.endpoint).send().await.is_ok() {
                break;
            }
            if let Some(status) = s3.child.try_wait().unwrap() {
                panic!("{bin} exited before it listened: {status}");
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{bin} did not listen on port {port} within 60 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        // Bucket creation is outside what the server does (an operator makes the bucket).
        let r = http
            .put(format!("{}/{bucket}", s3.endpoint))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "create bucket: {}", r.status());
        Some(s3)
    }

    /// The server's `[s3]` settings for this endpoint (moto takes any credentials).
    pub fn config(&self) -> fieldcheck_server::config::S3Config {
        fieldcheck_server::config::S3Config {
            endpoint: self.endpoint.clone(),
            region: "us-east-1".into(),
            access_key_id: "fieldcheck-test".into(),
            secret_access_key: "fieldcheck-test-secret".into(),
            allow_http: true,
        }
    }

    /// A client of its own, to look at the bucket behind the server's back.
    pub fn client(&self) -> Arc<dyn object_store::ObjectStore> {
        let c = self.config();
        let store = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(&self.bucket)
            .with_endpoint(&c.endpoint)
            .with_region(&c.region)
            .with_access_key_id(&c.access_key_id)
            .with_secret_access_key(&c.secret_access_key)
            .with_allow_http(true)
            .build()
            .unwrap();
        Arc::new(store)
    }
}

#[cfg(feature = "s3")]
impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A multipart/form-data body of text `fields` and one file part `file_field` (when `file` is
/// not empty): its content type and bytes.
pub fn multipart(fields: &[(&str, &str)], file_field: &str, file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "fieldcheck-test-boundary";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    if !file.is_empty() {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{file_field}\"; \
                 filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(file);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A small PNG photo.
pub fn png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 3, y as u8 * 5, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}
