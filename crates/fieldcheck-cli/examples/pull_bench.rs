//! Pull benchmark (issue 4, benchmark 2): a server holding 100,000 events; a freshly enrolled
//! device pulls them all. Baseline in the same run: raw rusqlite inserting the same event rows
//! (id, record, HLC, full JSON) into one table in one transaction, on the same kind of file
//! (WAL, `synchronous=NORMAL`, like the device store).
//!
//! ```text
//! cargo run --release -p fieldcheck-cli --example pull_bench -- [--events 100000]
//!     [--pull-limit 500]
//! ```
//!
//! The server is seeded through its store's push API (the same code path as `POST /push`:
//! dedup, authorization, fold, projections) in batches of 500 `problem.reported` events by a
//! volunteer, one event per record. The device signs in as an admin (sees the whole city) and
//! runs `SyncClient::run()`: timed from start to done, so every pull page is fetched over
//! loopback HTTP, parsed, inserted and refolded into the device projections (and the FTS
//! index) in one transaction per page.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use fieldcheck_core::Store;
use fieldcheck_core::sync::{SyncClient, SyncOptions, enroll};
use fieldcheck_server::policy::Viewer;
use fieldcheck_server::store::AppendCtx;

#[path = "common/mod.rs"]
mod common;
use common::{EventMaker, Server, flag, machine_note};

fn main() {
    let n: usize = flag("events", 100_000);
    let pull_limit: u32 = flag("pull-limit", SyncOptions::default().pull_limit);
    println!(
        "pull_bench: {n} events, pull pages of {pull_limit}; {}",
        machine_note()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(Server::start(None));

    // Seed (untimed) through the store's push path.
    let t = Instant::now();
    let user = server
        .refs
        .users
        .iter()
        .find(|u| u.id == "usr-vol-1")
        .unwrap()
        .clone();
    let viewer = Viewer::new(user, &server.refs);
    let mut maker = EventMaker::new(&server.refs, server.actor("usr-vol-1"), "SEED");
    let mut rows: Vec<(String, String, String, String)> = Vec::with_capacity(n);
    let refs = Arc::new(server.refs.clone());
    let mut left = n;
    while left > 0 {
        let k = left.min(500);
        left -= k;
        let events: Vec<_> = (0..k).map(|_| maker.next()).collect();
        for e in &events {
            rows.push((
                e.id.to_string(),
                e.entity_id.to_string(),
                e.hlc.to_string(),
                serde_json::to_string(e).unwrap(),
            ));
        }
        let ctx = AppendCtx {
            viewer: &viewer,
            refs: &refs,
            now_ms: chrono::Utc::now().timestamp_millis(),
            max_future_ms: 300_000,
        };
        let resp = rt.block_on(server.store.push(events, &ctx)).unwrap();
        assert_eq!(resp.results.len(), k);
    }
    assert_eq!(rt.block_on(server.store.event_count()).unwrap() as usize, n);
    println!("seeded {n} events in {:.1} s", t.elapsed().as_secs_f64());

    // Timed: a fresh device pulls everything.
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Mutex::new(
        Store::open(dir.path().join("device.db")).unwrap(),
    ));
    let opts = SyncOptions {
        pull_limit,
        ..SyncOptions::default()
    };
    let code = rt.block_on(server.enroll_code("usr-admin-1"));
    rt.block_on(enroll(store.clone(), &server.base, &code, &opts))
        .unwrap();
    let client = SyncClient::new(store.clone(), opts).unwrap();
    let t = Instant::now();
    let report = rt.block_on(client.run()).unwrap();
    let pull_s = t.elapsed().as_secs_f64();
    assert_eq!(report.events_pulled, n, "{report:?}");
    let problems: i64 = store
        .lock()
        .unwrap()
        .connection()
        .query_row("SELECT count(*) FROM problems", [], |r| r.get(0))
        .unwrap();
    assert_eq!(problems as usize, n);
    println!(
        "device pull: {pull_s:.2} s, {:.0} events/s, {:.1} MB down",
        n as f64 / pull_s,
        report.bytes_down as f64 / 1e6
    );

    // Baseline: the same rows into one table with raw rusqlite, one transaction.
    let raw_path = dir.path().join("raw.db");
    let mut conn = rusqlite::Connection::open(&raw_path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    conn.execute_batch(
        "CREATE TABLE events (id TEXT PRIMARY KEY, entity_id TEXT NOT NULL, hlc TEXT NOT NULL,
             body TEXT NOT NULL)",
    )
    .unwrap();
    let t = Instant::now();
    let tx = conn.transaction().unwrap();
    {
        let mut st = tx
            .prepare("INSERT INTO events (id, entity_id, hlc, body) VALUES (?1, ?2, ?3, ?4)")
            .unwrap();
        for r in &rows {
            st.execute((&r.0, &r.1, &r.2, &r.3)).unwrap();
        }
    }
    tx.commit().unwrap();
    let raw_s = t.elapsed().as_secs_f64();
    println!(
        "rusqlite baseline: {raw_s:.2} s, {:.0} rows/s",
        n as f64 / raw_s
    );
    println!(
        "RESULT pull_bench: {n} events in {pull_s:.2} s ({:.0} events/s; target <= 10 s: {}), \
         raw insert {raw_s:.2} s, ratio {:.1}x",
        n as f64 / pull_s,
        if pull_s <= 10.0 { "met" } else { "MISSED" },
        pull_s / raw_s
    );
    println!("machine after: {}", machine_note());
    rt.block_on(server.stop());
}
