//! Running the server (`ops.rs`): `/healthz`, `/readyz` (and what makes it fail), `/metrics`
//! (counters that move, route templates, who may scrape), request ids, JSON logs of the real
//! binary, and a graceful SIGTERM with a push in flight.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use fieldcheck_protocol::sync::PushStatus;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::Connection;
use uuid::Uuid;

/// The server's root (`http://127.0.0.1:port`), where the ops routes live.
fn root(s: &Server) -> String {
    s.base.trim_end_matches("/api/v1").to_owned()
}

/// A plain client: no protocol header, as a load balancer or Prometheus sends.
fn plain() -> reqwest::Client {
    reqwest::Client::new()
}

async fn readyz(base: &str) -> (StatusCode, Value) {
    let r = plain().get(format!("{base}/readyz")).send().await.unwrap();
    (r.status(), r.json().await.unwrap())
}

/// `/readyz` until it answers `status` (the answer is cached for a second), at most 15 s.
async fn readyz_until(base: &str, status: StatusCode) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (got, body) = readyz(base).await;
        if got == status {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "readyz stayed {got}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn healthz_and_readyz_answer_without_protocol_header_or_sign_in() {
    let s = Server::start_temp().await;
    let base = root(&s);
    let r = plain().get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        serde_json::json!({"status": "ok"})
    );
    let (status, body) = readyz(&base).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        serde_json::json!({"status": "ready",
            "checks": {"database": "ok", "migrations": "ok", "blobs": "ok"}})
    );
    // Only GET.
    for path in ["/healthz", "/readyz", "/metrics"] {
        let r = plain().post(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
    }
    s.stop().await;
}

#[tokio::test]
async fn readyz_says_which_part_failed() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), None, true).await;
    let base = root(&s);
    readyz_until(&base, StatusCode::OK).await;
    let db_url = format!("sqlite://{}/fc.db", dir.path().display());
    let mut db = sqlx::SqliteConnection::connect(&db_url).await.unwrap();

    // A migration of this build missing from the database (an old backup restored under a
    // running server): pending.
    let newest: i64 = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(&mut db)
        .await
        .unwrap();
    let row: (String, Vec<u8>) =
        sqlx::query_as("SELECT description, checksum FROM _sqlx_migrations WHERE version = $1")
            .bind(newest)
            .fetch_one(&mut db)
            .await
            .unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1")
        .bind(newest)
        .execute(&mut db)
        .await
        .unwrap();
    let body = readyz_until(&base, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["migrations"], "pending");
    assert_eq!(body["checks"]["blobs"], "ok");
    // A migration this build does not know (a newer server migrated it): ahead.
    let put_back = "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
                    execution_time) VALUES ($1, $2, TRUE, $3, 0)";
    for (v, d) in [
        (newest, row.0.clone()),
        (99_999, "from a newer build".to_owned()),
    ] {
        sqlx::query(put_back)
            .bind(v)
            .bind(d)
            .bind(row.1.clone())
            .execute(&mut db)
            .await
            .unwrap();
    }
    let body = readyz_until(&base, StatusCode::SERVICE_UNAVAILABLE).await;
    // The cache may still hold "pending" for a moment.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, body2) = readyz(&base).await;
    assert_eq!(body2["checks"]["migrations"], "ahead", "{body} {body2}");
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 99999")
        .execute(&mut db)
        .await
        .unwrap();
    readyz_until(&base, StatusCode::OK).await;
    db.close().await.unwrap();

    // The staging directory gone (a volume not mounted): blobs failed.
    std::fs::rename(dir.path().join("blobs"), dir.path().join("moved")).unwrap();
    let body = readyz_until(&base, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(body["checks"]["blobs"], "failed", "{body}");
    assert_eq!(body["checks"]["database"], "ok");
    std::fs::rename(dir.path().join("moved"), dir.path().join("blobs")).unwrap();
    readyz_until(&base, StatusCode::OK).await;

    // The database gone (its pool closed): database failed, migrations not checked; the
    // process itself is still alive.
    s.store.shutdown().await;
    let body = readyz_until(&base, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(body["checks"]["database"], "failed", "{body}");
    assert_eq!(body["checks"]["migrations"], "skipped");
    let r = plain().get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    s.stop().await;
}

/// An S3 endpoint that refuses connections: the blob store check fails (or times out: the S3
/// client retries a refused connection), within the probe's 3 s.
#[tokio::test]
async fn readyz_503_when_the_s3_endpoint_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut config = test_config(dir.path());
    config.blob_store = "s3://photos/fieldcheck".into();
    config.s3 = fieldcheck_server::config::S3Config {
        endpoint: format!("http://127.0.0.1:{port}"),
        region: "us-east-1".into(),
        access_key_id: "k".into(),
        secret_access_key: "s".into(),
        allow_http: true,
    };
    let s = Server::start_with(config, None, true).await;
    let started = std::time::Instant::now();
    let (status, body) = readyz(&root(&s)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body["checks"]["blobs"] == "failed" || body["checks"]["blobs"] == "timeout",
        "{body}"
    );
    assert_eq!(body["checks"]["database"], "ok");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    s.stop().await;
}

/// A TCP forwarder to PostgreSQL that the test can cut: the database "goes away" under a
/// running server.
struct Cuttable {
    port: u16,
    task: tokio::task::JoinHandle<()>,
    conns: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Cuttable {
    async fn to(target: String) -> Cuttable {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let conns: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let c = conns.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                c.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(mut out) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                }));
            }
        });
        Cuttable { port, task, conns }
    }

    fn cut(&self) {
        self.task.abort();
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }
}

#[tokio::test]
async fn readyz_503_when_postgresql_goes_away() {
    let url = std::env::var("FIELDCHECK_TEST_PG").unwrap_or_else(|_| DEFAULT_PG.to_owned());
    // The schema, made over the direct connection (and dropped at the end).
    let Some(pg) = Pg::new().await else { return };
    let schema = pg.schema().to_owned();
    let parsed = reqwest::Url::parse(&url).unwrap();
    let target = format!(
        "{}:{}",
        parsed.host_str().unwrap(),
        parsed.port().unwrap_or(5432)
    );
    let proxy = Cuttable::to(target).await;
    let mut via = parsed.clone();
    via.set_host(Some("127.0.0.1")).unwrap();
    via.set_port(Some(proxy.port)).unwrap();
    let store = Arc::new(
        fieldcheck_server::store::PgStore::open(via.as_str(), Some(&schema))
            .await
            .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_on(test_config(dir.path()), store.clone(), None, false).await;
    let base = root(&s);
    let body = readyz_until(&base, StatusCode::OK).await;
    assert_eq!(body["checks"]["database"], "ok");
    proxy.cut();
    let started = std::time::Instant::now();
    let body = readyz_until(&base, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(
        body["checks"]["database"] == "failed" || body["checks"]["database"] == "timeout",
        "{body}"
    );
    assert_eq!(body["checks"]["migrations"], "skipped");
    assert!(started.elapsed() < Duration::from_secs(8));
    s.stop().await;
    pg.finish().await;
}

/// The value of the series `name` with these labels (summed over the other labels); 0 when
/// no such series was written yet.
fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (n, rest) = match series.split_once('{') {
                Some((n, rest)) => (n, rest),
                None => (series, ""),
            };
            (n == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\""))))
            .then(|| value.parse::<f64>().unwrap())
        })
        .sum()
}

async fn scrape(base: &str) -> String {
    let r = plain().get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"),
    );
    r.text().await.unwrap()
}

#[tokio::test]
async fn metrics_move_with_pushes_pulls_photos_and_failed_sign_ins() {
    let s = Server::start_temp().await;
    let base = root(&s);
    let vol = s.enroll("usr-vol-1").await;
    let before = scrape(&base).await;

    let t = now_ms();
    let p = Uuid::now_v7();
    let first = report(&user("usr-vol-1"), p, "c-dm", t);
    let r = s.push(&vol, vec![first.clone()]).await;
    assert_eq!(r.results[0].status, PushStatus::Applied);
    // The same event again (duplicate) and one claiming to be the admin (refused).
    let forged = report(&user("usr-admin-1"), Uuid::now_v7(), "c-dm", t);
    let r = s.push(&vol, vec![first, forged]).await;
    assert_eq!(r.results[0].status, PushStatus::Duplicate);
    assert!(matches!(r.results[1].status, PushStatus::Refused { .. }));
    s.pull(&vol, 0).await;
    let r = s.login_as("usr-vol-1", "wrong password").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let bytes = png_bytes();
    let hash = sha(&bytes);
    let r = s
        .put_chunk(&vol, &hash, 0, bytes.len(), bytes.clone())
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    let r = s.get_blob(&vol, &hash).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = s.get(&vol, "/no-such-route/12345").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let after = scrape(&base).await;
    let delta = |name: &str, labels: &[(&str, &str)]| {
        metric(&after, name, labels) - metric(&before, name, labels)
    };
    assert_eq!(
        delta("fieldcheck_push_events_total", &[("result", "applied")]),
        1.0
    );
    assert_eq!(
        delta("fieldcheck_push_events_total", &[("result", "duplicate")]),
        1.0
    );
    assert_eq!(
        delta("fieldcheck_push_events_total", &[("result", "refused")]),
        1.0
    );
    assert_eq!(
        delta(
            "fieldcheck_push_refused_total",
            &[("code", "actor_mismatch")]
        ),
        1.0
    );
    assert_eq!(delta("fieldcheck_push_group_batches_count", &[]), 2.0);
    assert_eq!(delta("fieldcheck_push_group_events_sum", &[]), 3.0);
    let push = [("method", "POST"), ("route", "/api/v1/push")];
    assert_eq!(
        delta(
            "fieldcheck_http_requests_total",
            &[push[0], push[1], ("status", "200")]
        ),
        2.0
    );
    assert_eq!(
        delta("fieldcheck_http_request_duration_seconds_count", &push),
        2.0
    );
    assert!(delta("fieldcheck_http_request_duration_seconds_sum", &push) > 0.0);
    assert_eq!(delta("fieldcheck_pull_pages_total", &[]), 1.0);
    assert!(delta("fieldcheck_pull_items_total", &[]) >= 1.0);
    assert!(delta("fieldcheck_pull_bytes_total", &[]) > 100.0);
    assert_eq!(
        delta(
            "fieldcheck_login_failures_total",
            &[("reason", "wrong_credentials")]
        ),
        1.0
    );
    assert_eq!(
        delta("fieldcheck_blob_bytes_in_total", &[]),
        bytes.len() as f64
    );
    assert_eq!(
        delta("fieldcheck_blob_bytes_out_total", &[]),
        bytes.len() as f64
    );
    // Route templates, never raw paths: the hash and the invented path are not series.
    assert!(
        delta(
            "fieldcheck_http_requests_total",
            &[("route", "/api/v1/blobs/{hash}"), ("method", "PUT")]
        ) >= 1.0
    );
    assert!(!after.contains(&hash), "a raw path became a label");
    assert!(!after.contains("no-such-route"));
    assert_eq!(
        delta(
            "fieldcheck_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        ),
        1.0
    );
    // The pool, as it is at the scrape.
    assert!(metric(&after, "fieldcheck_db_pool_max_connections", &[]) >= 1.0);
    assert!(after.contains("fieldcheck_db_pool_connections{state=\"idle\"}"));
    assert!(after.contains("# HELP fieldcheck_push_events_total"));
    s.stop().await;
}

/// A small valid PNG (the server stores any bytes that hash to their name).
fn png_bytes() -> Vec<u8> {
    let img = image::RgbImage::from_pixel(4, 4, image::Rgb([200, 30, 30]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[tokio::test]
async fn metrics_token_guards_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.metrics_token = "scrape-secret-0123456789".into();
    let s = Server::start_with(config, None, false).await;
    let url = format!("{}/metrics", root(&s));
    let r = plain().get(&url).send().await.unwrap();
    api_error(r, StatusCode::UNAUTHORIZED, "unauthorized").await;
    for wrong in ["scrape-secret", "scrape-secret-01234567890", ""] {
        let r = plain().get(&url).bearer_auth(wrong).send().await.unwrap();
        api_error(r, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    // A device token is not the metrics token.
    let r = plain()
        .get(&url)
        .header("authorization", "Basic c2NyYXBlOnNlY3JldA==")
        .send()
        .await
        .unwrap();
    api_error(r, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let r = plain()
        .get(&url)
        .bearer_auth("scrape-secret-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("fieldcheck_http_requests_total")
    );
    s.stop().await;
}

#[tokio::test]
async fn request_id_is_echoed_in_the_header_and_in_error_bodies() {
    let s = Server::start_temp().await;
    // Made by the server when the client sends none: in the header and the error body.
    let r = s.http.get(s.url("/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(Uuid::parse_str(&id).is_ok(), "{id}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "unauthorized");
    assert_eq!(body["request_id"], id.as_str());

    // A proxy's id is kept.
    let r = s
        .http
        .get(s.url("/me"))
        .header("x-request-id", "lb-7f3a.42:x_1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "lb-7f3a.42:x_1");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["request_id"], "lb-7f3a.42:x_1");

    // Successful answers carry it too; error bodies of every kind (426, 404, 400).
    let token = s.login("usr-admin-1").await;
    let r = s.get(&token, "/me").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().contains_key("x-request-id"));
    let r = plain().get(s.url("/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UPGRADE_REQUIRED);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(r.json::<Value>().await.unwrap()["request_id"], id.as_str());
    let r = s.get(&token, "/nowhere").await;
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(r.json::<Value>().await.unwrap()["request_id"], id.as_str());
    let r = s
        .http
        .post(s.url("/push"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["request_id"], id.as_str());
    assert_eq!(body["code"], "malformed_request");

    // Hostile ids are replaced, not logged or echoed: too long, odd characters, two of them.
    let long = "a".repeat(129);
    for bad in [long.as_str(), "has space", "semi;colon", "quote\"d", "ü"] {
        let r = s
            .http
            .get(s.url("/me"))
            .header(
                "x-request-id",
                reqwest::header::HeaderValue::from_bytes(bad.as_bytes()).unwrap(),
            )
            .send()
            .await
            .unwrap();
        let got = r.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert!(Uuid::parse_str(&got).is_ok(), "{bad:?} -> {got:?}");
    }
    let r = s
        .http
        .get(s.url("/me"))
        .header("x-request-id", "one")
        .header("x-request-id", "two")
        .send()
        .await
        .unwrap();
    let got = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(Uuid::parse_str(&got).is_ok(), "{got}");
    s.stop().await;
}

#[tokio::test]
async fn openapi_documents_the_ops_routes_without_the_protocol_header() {
    let s = Server::start_temp().await;
    let doc = s.openapi().await;
    for path in ["/healthz", "/readyz", "/metrics"] {
        let op = &doc["paths"][path]["get"];
        assert!(op.is_object(), "{path} documented");
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        assert!(
            params.iter().all(|p| p["name"] != "x-fieldcheck-protocol"),
            "{path} needs no protocol header"
        );
    }
    assert!(doc["paths"]["/readyz"]["get"]["responses"]["503"].is_object());
    assert!(
        doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]["text/plain"].is_object()
    );
    assert_eq!(
        doc["components"]["schemas"]["ApiError"]["properties"]["request_id"]["type"],
        "string"
    );
    // The sync API still requires it.
    let params = doc["paths"]["/api/v1/push"]["post"]["parameters"]
        .as_array()
        .unwrap();
    assert!(params.iter().any(|p| p["name"] == "x-fieldcheck-protocol"));
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// The real binary.

/// `fieldcheck-server serve` over a SQLite file seeded here (users, codes), on a free port,
/// with `env` on top; stdout read line by line on a thread.
struct Binary {
    child: Child,
    base: String,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Binary {
    fn start(dir: &std::path::Path, env: &[(&str, &str)]) -> Binary {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fieldcheck-server"));
        cmd.arg("serve")
            .env(
                "FIELDCHECK_DATABASE_URL",
                format!("sqlite://{}/fc.db", dir.display()),
            )
            .env("FIELDCHECK_BLOB_DIR", dir.join("blobs"))
            .env("FIELDCHECK_BIND", "127.0.0.1:0")
            .env("FIELDCHECK_PUSH_PER_MINUTE", "600000")
            .env("FIELDCHECK_PUSH_BURST", "100000")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        let out = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in out.lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut b = Binary {
            child,
            base: String::new(),
            lines,
        };
        let line = b
            .wait_line(|l| l.contains("listening"))
            .expect("the server says where it listens");
        let addr = match serde_json::from_str::<Value>(&line) {
            Ok(v) => v["addr"].as_str().unwrap().to_owned(),
            Err(_) => line.rsplit("http://").next().unwrap().trim().to_owned(),
        };
        b.base = format!("http://{addr}");
        b
    }

    /// The next line (within 20 s) that satisfies `f`; the lines before it are dropped.
    fn wait_line(&mut self, f: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if f(&l) => return Some(l),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    fn sigterm(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    /// Waits for the process to exit (at most `secs`).
    fn wait_exit(&mut self, secs: u64) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the server did not exit within {secs} s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Seeds `dir/fc.db` with the demo users and codes; returns (user id, enrollment code).
async fn seed_db(dir: &std::path::Path) -> Vec<(String, String)> {
    let store = fieldcheck_server::open_store(&format!("sqlite://{}/fc.db", dir.display()))
        .await
        .unwrap();
    let logins = fieldcheck_server::demo::seed(store.as_ref(), now_ms())
        .await
        .unwrap();
    store.shutdown().await;
    logins
        .into_iter()
        .map(|l| (l.user_id, l.enroll_code))
        .collect()
}

async fn enroll_at(base: &str, code: &str) -> String {
    let r = http_client()
        .post(format!("{base}/api/v1/enroll"))
        .json(&serde_json::json!({"code": code, "device_id": Uuid::now_v7(), "device_name": "ops"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn json_logs_are_json_and_carry_the_request_id() {
    let dir = tempfile::tempdir().unwrap();
    seed_db(dir.path()).await;
    let mut b = Binary::start(
        dir.path(),
        &[
            ("FIELDCHECK_LOG_FORMAT", "json"),
            // The trace layer's per-request lines are at DEBUG.
            ("RUST_LOG", "info,tower_http=debug"),
            // This test's client plays nginx: the span names the client it forwards.
            ("FIELDCHECK_TRUSTED_PROXIES", "127.0.0.1, ::1"),
        ],
    );
    let r = http_client()
        .get(format!("{}/api/v1/me", b.base))
        .header("x-request-id", "ops-json-log-1")
        .header("x-forwarded-for", "192.0.2.1, 198.51.100.7")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let line = b
        .wait_line(|l| l.contains("ops-json-log-1"))
        .expect("a log line of the request");
    b.sigterm();
    assert!(b.wait_exit(20).success());
    let mut all = vec![line];
    while let Ok(l) = b.lines.recv_timeout(Duration::from_secs(5)) {
        all.push(l);
    }
    for l in &all {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(v["level"].is_string() && v["timestamp"].is_string(), "{l}");
    }
    let first: Value = serde_json::from_str(&all[0]).unwrap();
    let spans = first["spans"].as_array().expect("spans");
    assert!(
        spans
            .iter()
            .any(|s| s["name"] == "request" && s["request_id"] == "ops-json-log-1"),
        "{first}"
    );
    // The request's lines after the client was worked out carry it (the right-most
    // address not trusted), never what the client wrote in front of it.
    let spans_of = |l: &String| -> Vec<Value> {
        let v: Value = serde_json::from_str(l).unwrap();
        v["spans"].as_array().cloned().unwrap_or_default()
    };
    assert!(
        all.iter().flat_map(spans_of).any(|s| s["name"] == "request"
            && s["request_id"] == "ops-json-log-1"
            && s["client"] == "198.51.100.7"),
        "{all:?}"
    );
    assert!(!all.iter().any(|l| l.contains("192.0.2.1")), "{all:?}");
    assert!(
        all.iter().any(|l| l.contains("\"stopped\"")),
        "the last words of a graceful stop: {all:?}"
    );
}

/// SIGTERM while a push is in the group commit (held back by another writer's lock on the
/// SQLite file): the server stops accepting connections, still commits and answers that
/// push in full, then exits 0; the events are stored.
#[tokio::test]
async fn sigterm_answers_the_push_in_flight_then_exits() {
    let dir = tempfile::tempdir().unwrap();
    let codes = seed_db(dir.path()).await;
    let code = |u: &str| codes.iter().find(|(id, _)| id == u).unwrap().1.clone();
    let mut b = Binary::start(dir.path(), &[]);
    let base = b.base.clone();
    let token = enroll_at(&base, &code("usr-vol-1")).await;

    // Another writer holds the database: the group commit waits (busy timeout 10 s).
    let db_url = format!("sqlite://{}/fc.db", dir.path().display());
    let mut blocker = sqlx::SqliteConnection::connect(&db_url).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut blocker)
        .await
        .unwrap();

    let vol = user("usr-vol-1");
    let t = now_ms();
    let events: Vec<_> = (0..20)
        .map(|i| report(&vol, Uuid::now_v7(), "c-dm", t + i))
        .collect();
    let (h, tok) = (http_client(), token.clone());
    let push_url = format!("{base}/api/v1/push");
    let in_flight = tokio::spawn(async move {
        h.post(push_url)
            .bearer_auth(tok)
            .json(&serde_json::json!({ "events": events }))
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!in_flight.is_finished(), "the push waits for the lock");
    b.sigterm();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        b.child.try_wait().unwrap().is_none(),
        "still finishing the push"
    );
    // No new connections meanwhile.
    let addr = base.trim_start_matches("http://").to_owned();
    assert!(
        tokio::net::TcpStream::connect(&addr).await.is_err(),
        "a stopping server accepts no connection"
    );

    sqlx::query("ROLLBACK").execute(&mut blocker).await.unwrap();
    blocker.close().await.unwrap();
    let r = in_flight.await.unwrap().expect("a complete answer");
    assert_eq!(r.status(), StatusCode::OK);
    let body: fieldcheck_protocol::sync::PushResponse = r.json().await.unwrap();
    assert_eq!(body.results.len(), 20);
    assert!(body.results.iter().all(|r| r.status == PushStatus::Applied));
    let status = b.wait_exit(20);
    assert!(status.success(), "{status}");

    let store = fieldcheck_server::open_store(&db_url).await.unwrap();
    assert_eq!(store.event_count().await.unwrap(), 20);
    store.shutdown().await;
}

/// A device pushing batch after batch while the server gets SIGTERM: each push gets a
/// complete answer or a connection error; after a restart the device sends again what was
/// not answered (and, as devices do, what it is unsure of): every event is stored once.
#[tokio::test]
async fn a_device_pushing_through_a_sigterm_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let codes = seed_db(dir.path()).await;
    let code = |u: &str| codes.iter().find(|(id, _)| id == u).unwrap().1.clone();
    let b = Binary::start(dir.path(), &[]);
    let token = enroll_at(&b.base, &code("usr-vol-1")).await;
    let vol = user("usr-vol-1");
    let t = now_ms();
    let batches: Vec<Vec<_>> = (0..150)
        .map(|n| {
            (0..10)
                .map(|i| report(&vol, Uuid::now_v7(), "c-dm", t + n * 10 + i))
                .collect()
        })
        .collect();
    let total: usize = batches.iter().map(Vec::len).sum();

    let h = http_client();
    let mut answered = 0usize;
    let mut failed_at = None;
    let push_url = format!("{}/api/v1/push", b.base);
    let b = Arc::new(std::sync::Mutex::new(b));
    for (n, batch) in batches.iter().enumerate() {
        if n == 5 {
            // From another thread, while the next pushes are on their way.
            let b = b.clone();
            std::thread::spawn(move || b.lock().unwrap().sigterm());
        }
        let r = h
            .post(&push_url)
            .bearer_auth(&token)
            .json(&serde_json::json!({ "events": batch }))
            .send()
            .await;
        match r {
            Ok(r) if r.status() == StatusCode::OK => {
                let body: fieldcheck_protocol::sync::PushResponse = r.json().await.unwrap();
                // A complete answer: every event of the batch.
                assert_eq!(body.results.len(), batch.len());
                assert!(body.results.iter().all(|r| r.status == PushStatus::Applied));
                answered += 1;
            }
            Ok(r) => panic!("batch {n}: {}", r.status()),
            Err(e) => {
                // A connection error: the device keeps the batch and sends it again later.
                eprintln!("batch {n}: {e}");
                failed_at = Some(n);
                break;
            }
        }
    }
    let failed_at = failed_at.expect("the server stopped during the pushes");
    assert!(answered >= 5, "{answered}");
    assert!(b.lock().unwrap().wait_exit(20).success());

    // Restarted on the same data; the device resends from the first batch it is unsure of
    // (the failed one) to the end.
    let b2 = Binary::start(dir.path(), &[]);
    for batch in &batches[failed_at..] {
        let r = h
            .post(format!("{}/api/v1/push", b2.base))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "events": batch }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let body: fieldcheck_protocol::sync::PushResponse = r.json().await.unwrap();
        assert!(
            body.results
                .iter()
                .all(|r| matches!(r.status, PushStatus::Applied | PushStatus::Duplicate)),
            "{body:?}"
        );
    }
    drop(b2);
    let store = fieldcheck_server::open_store(&format!("sqlite://{}/fc.db", dir.path().display()))
        .await
        .unwrap();
    assert_eq!(store.event_count().await.unwrap(), total as u64);
    store.shutdown().await;
}
