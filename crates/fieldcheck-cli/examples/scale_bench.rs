//! Scale-out benchmark (issue 19): push throughput of one server instance and of two
//! instances on the same PostgreSQL schema, in the same run, with the same devices and load.
//!
//! ```text
//! cargo run --release -p fieldcheck-cli --example scale_bench -- [--devices 100] [--batch 50]
//!     [--secs 15] [--postgres postgres://postgres@127.0.0.1:5432/test]
//! ```
//!
//! Each simulated device (its own reqwest client and a real enrollment as `usr-vol-1`) pushes
//! 50 fresh valid `problem.reported` events per request back to back for `--secs` (closed
//! loop; requests in flight at the deadline finish and count). Run 1: every device talks to
//! instance A. Run 2: the same number of fresh devices, half to A and half to a second
//! instance B, which has its own connection pool and group commit on the same schema. Every
//! applied event is checked against the database's count. Everything (clients, both
//! instances, PostgreSQL) shares this machine, so the figure shows what a second instance
//! adds when the database, not the instance, is the bottleneck; on separate machines the
//! instances' own CPU work (TLS, JSON, authorization, fold) is what a second one relieves.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fieldcheck_core::protocol::sync::{PROTOCOL_HEADER, PushRequest, PushResponse, PushStatus};
use fieldcheck_server::Store as ServerStore;
use fieldcheck_server::store::PgStore;

#[path = "common/mod.rs"]
mod common;
use common::{EventMaker, Server, flag, machine_note, percentiles};

/// (events applied, requests, errors, latencies in ms) of one device.
type DeviceRun = (u64, u64, u64, Vec<f64>);

async fn device(
    base: String,
    token: String,
    mut maker: EventMaker,
    batch: usize,
    until: Instant,
) -> DeviceRun {
    let http = reqwest::Client::new();
    let url = format!("{base}/api/v1/push");
    let (mut events, mut requests, mut errors, mut lat) = (0, 0, 0, Vec::new());
    while Instant::now() < until {
        let body = serde_json::to_vec(&PushRequest {
            events: (0..batch).map(|_| maker.next()).collect(),
        })
        .unwrap();
        let t = Instant::now();
        let r = http
            .post(&url)
            .bearer_auth(&token)
            .header(PROTOCOL_HEADER, "1")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
        requests += 1;
        match r {
            Ok(r) if r.status().is_success() => {
                let p: PushResponse = r.json().await.unwrap();
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
                events += p
                    .results
                    .iter()
                    .filter(|r| matches!(r.status, PushStatus::Applied))
                    .count() as u64;
            }
            _ => errors += 1,
        }
    }
    (events, requests, errors, lat)
}

/// Pushes from `n` fresh devices spread over `bases` for `secs`; prints and returns events/s.
async fn run(name: &str, a: &Server, bases: &[String], n: usize, batch: usize, secs: u64) -> f64 {
    let http = reqwest::Client::new();
    let mut devices = Vec::new();
    for i in 0..n {
        let (token, tag) = a.enroll_raw(&http, "usr-vol-1").await;
        let maker = EventMaker::new(&a.refs, a.actor("usr-vol-1"), &tag);
        devices.push((bases[i % bases.len()].clone(), token, maker));
    }
    let before = a.store.event_count().await.unwrap();
    let start = Instant::now();
    let until = start + Duration::from_secs(secs);
    let tasks: Vec<_> = devices
        .into_iter()
        .map(|(base, token, maker)| tokio::spawn(device(base, token, maker, batch, until)))
        .collect();
    let (mut events, mut requests, mut errors, mut lat) = (0, 0, 0, Vec::new());
    for t in tasks {
        let (e, r, x, l) = t.await.unwrap();
        events += e;
        requests += r;
        errors += x;
        lat.extend(l);
    }
    let secs = start.elapsed().as_secs_f64();
    let stored = a.store.event_count().await.unwrap() - before;
    assert_eq!(stored, events, "every applied event is stored once");
    let (p50, p99) = percentiles(lat);
    let rate = events as f64 / secs;
    println!(
        "{name:<28} {rate:>8.0} events/s  {requests:>6} requests  {errors:>3} errors  \
         p50 {p50:>7.1} ms  p99 {p99:>7.1} ms"
    );
    println!("machine: {}", machine_note());
    rate
}

async fn bench(pg_url: &str, n: usize, batch: usize, secs: u64) {
    let admin = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect(pg_url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {pg_url}: {e}"));
    let schema = format!("scale_bench_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .unwrap();
    let store_a = Arc::new(PgStore::open(pg_url, Some(&schema)).await.unwrap());
    let store_b = Arc::new(PgStore::open(pg_url, Some(&schema)).await.unwrap());
    let a = Server::start(Some(store_a.clone() as Arc<dyn ServerStore>)).await;
    // Instance B: the same configuration, its own pool, group commit, port and disk.
    let dir_b = tempfile::tempdir().unwrap();
    let config_b = fieldcheck_server::Config {
        blob_dir: dir_b.path().join("blobs"),
        ..a.config.clone()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_b = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task_b = tokio::spawn(fieldcheck_server::serve_with_store(
        config_b,
        store_b.clone() as Arc<dyn ServerStore>,
        listener,
        async move {
            let _ = rx.await;
        },
    ));

    let one = run(
        "one instance",
        &a,
        std::slice::from_ref(&a.base),
        n,
        batch,
        secs,
    )
    .await;
    let two = run(
        "two instances, one database",
        &a,
        &[a.base.clone(), base_b],
        n,
        batch,
        secs,
    )
    .await;
    println!(
        "RESULT scale_bench: one instance {one:.0} events/s, two instances {two:.0} events/s, \
         two/one ratio {:.2}x ({n} devices x {batch}-event batches, {secs} s each)",
        two / one
    );

    let _ = tx.send(());
    task_b.await.unwrap().unwrap();
    a.stop().await;
    store_a.close().await;
    store_b.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&admin)
        .await
        .unwrap();
}

fn main() {
    let n: usize = flag("devices", 100);
    let batch: usize = flag("batch", 50);
    let secs: u64 = flag("secs", 15);
    let pg_url: String = flag(
        "postgres",
        std::env::var("FIELDCHECK_TEST_PG")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned()),
    );
    println!(
        "scale_bench: {n} devices x {batch}-event batches for {secs} s per run on PostgreSQL; {}",
        machine_note()
    );
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(bench(&pg_url, n, batch, secs));
}
