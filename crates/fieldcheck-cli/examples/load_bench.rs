//! Load benchmark (issue 4, benchmark 3): 200 simulated devices push 50-event batches of
//! valid new problems concurrently for a fixed time, against the server on SQLite and then on
//! PostgreSQL; events/s and p50/p99 request latency per backend. Baseline in the same run: the
//! same requests to a trivial axum endpoint that parses the push JSON and returns a fixed
//! answer — the HTTP + JSON cost without storage.
//!
//! ```text
//! cargo run --release -p fieldcheck-cli --example load_bench -- [--devices 200] [--batch 50]
//!     [--secs 20] [--postgres postgres://postgres@127.0.0.1:5432/test] [--no-postgres]
//!     [--pace-ms 2000] [--no-paced]
//! ```
//!
//! Two scenarios, each on the baseline, SQLite and PostgreSQL:
//!
//! 1. **closed loop** (the issue's benchmark): every device sends its next batch as soon as
//!    the last one is answered, so the server is always saturated and by Little's law the
//!    latency is about `devices / (requests/s)`;
//! 2. **paced** (added, clearly a different scenario): every device sends one batch every
//!    `--pace-ms` (default 2 s, i.e. 200 × 50 / 2 s = 5,000 events/s offered), spread evenly;
//!    the latency is then the service time of a batch under that load, as a phone syncing
//!    after an offline stretch sees it.
//!
//! Each device is a tokio task with its own reqwest client (own connection) and its own
//! bearer token from a real enrollment (`POST /enroll`, volunteer `usr-vol-1`), sending
//! `POST /api/v1/push` with 50 fresh `problem.reported` events (distinct ids and codes,
//! category SR-02 at a demo point) back to back until the time is up; requests in flight at
//! the deadline finish and count. Clients and server share this process and its 2-core
//! machine (one tokio runtime), so client-side JSON and HTTP work is part of every figure,
//! baseline included. PostgreSQL (default `$FIELDCHECK_TEST_PG` or the URL above, as the
//! server tests) runs in a fresh schema that is dropped afterwards.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use fieldcheck_core::protocol::sync::{PROTOCOL_HEADER, PushRequest, PushResponse, PushStatus};
use fieldcheck_server::Store as ServerStore;
use fieldcheck_server::store::PgStore;

#[path = "common/mod.rs"]
mod common;
use common::{EventMaker, Server, flag, has_flag, machine_note, percentiles};

struct Run {
    name: String,
    events: u64,
    requests: u64,
    errors: u64,
    secs: f64,
    p50: f64,
    p99: f64,
}

impl Run {
    fn rate(&self) -> f64 {
        self.events as f64 / self.secs
    }
    fn print(&self) {
        println!(
            "{:<38} {:>9.0} events/s  {:>7} requests  {:>3} errors  p50 {:>7.1} ms  p99 {:>7.1} ms",
            self.name,
            self.rate(),
            self.requests,
            self.errors,
            self.p50,
            self.p99
        );
    }
}

/// Runs the devices against `base` and gathers the figures. `pace`: `None` is the closed
/// loop (next batch as soon as the last is answered); `Some(p)`: each device sends one batch
/// every `p` (devices spread evenly over the first period; a device that falls behind sends
/// its next batch at once, never a burst to catch up).
async fn drive(
    name: String,
    base: &str,
    devices: Vec<(String, EventMaker)>,
    batch: usize,
    secs: u64,
    check_applied: bool,
    pace: Option<Duration>,
) -> Run {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let n_devices = devices.len().max(1) as u32;
    let mut tasks = Vec::new();
    for (i, (token, mut maker)) in devices.into_iter().enumerate() {
        let url = format!("{base}/api/v1/push");
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let (mut events, mut errors, mut lat) = (0u64, 0u64, Vec::new());
            let mut next_at = pace.map(|p| start + p * i as u32 / n_devices);
            loop {
                if let Some(at) = next_at {
                    if at >= deadline {
                        break;
                    }
                    tokio::time::sleep_until(at.into()).await;
                } else if Instant::now() >= deadline {
                    break;
                }
                let req = PushRequest {
                    events: (0..batch).map(|_| maker.next()).collect(),
                };
                let body = serde_json::to_vec(&req).unwrap();
                let t = Instant::now();
                let resp = http
                    .post(&url)
                    .bearer_auth(&token)
                    .header(PROTOCOL_HEADER, "1")
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                let ok = match resp {
                    Ok(r) if r.status().is_success() => {
                        let bytes = r.bytes().await.unwrap_or_default();
                        lat.push(t.elapsed().as_secs_f64() * 1000.0);
                        if check_applied {
                            match serde_json::from_slice::<PushResponse>(&bytes) {
                                Ok(p) => {
                                    events +=
                                        p.results
                                            .iter()
                                            .filter(|r| matches!(r.status, PushStatus::Applied))
                                            .count() as u64;
                                    p.results.len() == batch
                                }
                                Err(_) => false,
                            }
                        } else {
                            events += batch as u64;
                            true
                        }
                    }
                    _ => false,
                };
                if !ok {
                    errors += 1;
                }
                if let (Some(at), Some(p)) = (next_at, pace) {
                    next_at = Some((at + p).max(Instant::now()));
                }
            }
            (events, errors, lat)
        }));
    }
    let (mut events, mut errors, mut lat) = (0, 0, Vec::new());
    for t in tasks {
        let (e, x, l) = t.await.unwrap();
        events += e;
        errors += x;
        lat.extend(l);
    }
    let secs = start.elapsed().as_secs_f64();
    let requests = lat.len() as u64;
    let (p50, p99) = percentiles(lat);
    Run {
        name,
        events,
        requests,
        errors,
        secs,
        p50,
        p99,
    }
}

async fn trivial(req: Json<PushRequest>) -> Json<serde_json::Value> {
    // The parsed body is dropped; the answer is fixed.
    let _ = req.events.len();
    Json(serde_json::json!({"results": []}))
}

/// 200 enrolled devices on a real server.
async fn enroll_all(server: &Server, n: usize) -> Vec<(String, EventMaker)> {
    let http = reqwest::Client::new();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let (token, tag) = server.enroll_raw(&http, "usr-vol-1").await;
        out.push((
            token,
            EventMaker::new(&server.refs, server.actor("usr-vol-1"), &tag),
        ));
    }
    out
}

async fn real(
    name: String,
    store: Option<Arc<dyn ServerStore>>,
    n: usize,
    batch: usize,
    secs: u64,
    pace: Option<Duration>,
) -> Run {
    let server = Server::start(store).await;
    let devices = enroll_all(&server, n).await;
    let before = server.store.event_count().await.unwrap();
    let run = drive(name, &server.base, devices, batch, secs, true, pace).await;
    let stored = server.store.event_count().await.unwrap() - before;
    assert_eq!(stored, run.events, "every applied event is stored");
    server.stop().await;
    run
}

/// The trivial axum endpoint: parse the push, answer a fixed body.
async fn baseline(n: usize, batch: usize, secs: u64, pace: Option<Duration>, name: String) -> Run {
    let refs = fieldcheck_core::protocol::demo_bundle();
    let u = refs.users.iter().find(|u| u.id == "usr-vol-1").unwrap();
    let actor = fieldcheck_core::domain::Actor {
        user_id: u.id.clone(),
        role: u.role,
        unit_id: u.unit_id.clone(),
    };
    let app = axum::Router::new().route("/api/v1/push", axum::routing::post(trivial));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
    });
    let devices = (0..n)
        .map(|i| {
            let tag = format!("T{i:03}");
            (
                "none".to_owned(),
                EventMaker::new(&refs, actor.clone(), &tag),
            )
        })
        .collect();
    let run = drive(name, &base, devices, batch, secs, false, pace).await;
    let _ = tx.send(());
    task.await.unwrap().unwrap();
    run
}

/// The server on PostgreSQL in a fresh schema (dropped afterwards); `None` when unreachable.
async fn postgres(
    pg_url: &str,
    name: String,
    n: usize,
    batch: usize,
    secs: u64,
    pace: Option<Duration>,
) -> Option<Run> {
    let admin = match sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect(pg_url)
        .await
    {
        Ok(p) => p,
        Err(e) => {
            println!("PostgreSQL at {pg_url} not reachable ({e}): skipped");
            return None;
        }
    };
    let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .unwrap();
    let store = Arc::new(PgStore::open(pg_url, Some(&schema)).await.unwrap());
    let run = real(
        name,
        Some(store.clone() as Arc<dyn ServerStore>),
        n,
        batch,
        secs,
        pace,
    )
    .await;
    store.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&admin)
        .await
        .unwrap();
    Some(run)
}

fn main() {
    let n: usize = flag("devices", 200);
    let batch: usize = flag("batch", 50);
    let secs: u64 = flag("secs", 20);
    let pace_ms: u64 = flag("pace-ms", 2000);
    let pg_url: String = flag(
        "postgres",
        std::env::var("FIELDCHECK_TEST_PG")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned()),
    );
    println!(
        "load_bench: {n} devices x {batch}-event batches for {secs} s per backend; {}",
        machine_note()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // Scenario 1 (the issue's): closed loop. Scenario 2: paced devices (skipped with
    // --pace-ms 0 or --no-paced).
    let mut scenarios: Vec<(Option<Duration>, String)> = vec![(None, String::new())];
    if pace_ms > 0 && !has_flag("no-paced") {
        let offered = n as f64 * batch as f64 * 1000.0 / pace_ms as f64;
        println!(
            "paced scenario: each device pushes one batch every {pace_ms} ms \
             (offered load {offered:.0} events/s)"
        );
        scenarios.push((
            Some(Duration::from_millis(pace_ms)),
            format!(", paced {pace_ms} ms"),
        ));
    }
    for (pace, suffix) in scenarios {
        let scenario = if pace.is_some() {
            "paced"
        } else {
            "closed loop"
        };
        println!("-- {scenario}");
        let mut runs = Vec::new();
        // Baseline: parse and answer, no storage.
        runs.push(rt.block_on(baseline(
            n,
            batch,
            secs,
            pace,
            format!("trivial axum (baseline){suffix}"),
        )));
        runs.last().unwrap().print();
        println!("machine: {}", machine_note());

        runs.push(rt.block_on(real(
            format!("server on SQLite{suffix}"),
            None,
            n,
            batch,
            secs,
            pace,
        )));
        runs.last().unwrap().print();
        println!("machine: {}", machine_note());

        if !has_flag("no-postgres") {
            let name = format!("server on PostgreSQL{suffix}");
            if let Some(r) = rt.block_on(postgres(&pg_url, name, n, batch, secs, pace)) {
                r.print();
                runs.push(r);
                println!("machine: {}", machine_note());
            }
        }

        let base = &runs[0];
        for r in &runs[1..] {
            println!(
                "RESULT load_bench {}: {:.0} events/s (target >= 5000: {}), p50 {:.1} ms, p99 \
                 {:.1} ms (target <= 300 ms: {}); baseline {:.0} events/s, p99 {:.1} ms; \
                 baseline/server throughput ratio {:.1}x",
                r.name,
                r.rate(),
                if r.rate() >= 5000.0 { "met" } else { "MISSED" },
                r.p50,
                r.p99,
                if r.p99 <= 300.0 { "met" } else { "MISSED" },
                base.rate(),
                base.p99,
                base.rate() / r.rate()
            );
        }
    }
    println!("machine after: {}", machine_note());
}
