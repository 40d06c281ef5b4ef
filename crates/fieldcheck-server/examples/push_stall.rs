//! How long an unrelated one-event push waits behind a hostile backdated batch (issue 12,
//! item 7). Run: `cargo run --release -p fieldcheck-server --example push_stall`
//! (`FIELDCHECK_TEST_PG=postgres://…` to run it on PostgreSQL instead of SQLite).
//!
//! A volunteer grows her own report to 1,501 events, then sends 500 edits dated before all
//! of them: before the work bound, each forced a refold of the whole record under the single
//! write lock. While that request runs, another volunteer pushes one new report; its latency
//! is what everyone else feels. Printed too: the unbounded work measured in-process (500
//! folds of the growing record), what the writer did before the bound.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fieldcheck_domain::event::{EventBody, ProblemEdit, ProblemReported};
use fieldcheck_domain::fold::fold_problem;
use fieldcheck_domain::reference::User;
use fieldcheck_domain::{Actor, Event, Hlc, Severity};
use fieldcheck_protocol::sync::{EnrollResponse, PushResponse};
use fieldcheck_server::{Config, Store};
use uuid::Uuid;

const RECORD_EDITS: usize = 1_500;
const HOSTILE_BATCH: usize = 500;
const ROUNDS: usize = 5;

fn actor(u: &User) -> Actor {
    Actor {
        user_id: u.id.clone(),
        role: u.role,
        unit_id: u.unit_id.clone(),
    }
}

fn report(u: &User, p: Uuid, district: &str, ms: i64) -> Event {
    Event::new(
        p,
        &actor(u),
        "bench",
        Hlc::new(ms, 0, "bench"),
        EventBody::ProblemReported(Box::new(ProblemReported {
            code: format!("GL-BENCH-{}", &p.simple().to_string()[20..]),
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

fn edit(u: &User, p: Uuid, ms: i64) -> Event {
    Event::new(
        p,
        &actor(u),
        "bench",
        Hlc::new(ms, 0, "bench"),
        EventBody::ProblemEdited(ProblemEdit {
            description: Some(format!("改 {ms}")),
            ..ProblemEdit::default()
        }),
    )
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn enroll(&self, code: &str) -> String {
        let r: EnrollResponse = self
            .http
            .post(format!("{}/enroll", self.base))
            .json(&serde_json::json!({"code": code, "device_id": Uuid::now_v7()}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r.token
    }

    async fn push(&self, token: &str, events: &[Event]) -> PushResponse {
        let r = self
            .http
            .post(format!("{}/push", self.base))
            .bearer_auth(token)
            .json(&serde_json::json!({ "events": events }))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "push: {}", r.status());
        r.json().await.unwrap()
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        database_url: std::env::var("FIELDCHECK_TEST_PG")
            .unwrap_or_else(|_| format!("sqlite://{}/fc.db", dir.path().display())),
        blob_dir: dir.path().join("blobs"),
        push_burst: 1_000,
        push_per_minute: 60_000,
        ..Config::default()
    };
    let store: Arc<dyn Store> = fieldcheck_server::open_store(&config.database_url)
        .await
        .unwrap();
    println!("backend: {}", store.backend());
    let logins =
        fieldcheck_server::demo::seed(store.as_ref(), chrono::Utc::now().timestamp_millis())
            .await
            .unwrap();
    let code = |u: &str| {
        logins
            .iter()
            .find(|l| l.user_id == u)
            .unwrap()
            .enroll_code
            .clone()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(fieldcheck_server::serve_with_store(
        config,
        store.clone(),
        listener,
        std::future::pending(),
    ));
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-fieldcheck-protocol", "1".parse().unwrap());
    let c = Arc::new(Client {
        http: reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .unwrap(),
        base: format!("http://{addr}/api/v1"),
    });
    let bundle = fieldcheck_protocol::demo_bundle();
    let user = |id: &str| bundle.users.iter().find(|u| u.id == id).unwrap().clone();
    let (hostile, other) = (user("usr-vol-1"), user("usr-vol-2"));
    let (th, to) = (
        c.enroll(&code("usr-vol-1")).await,
        c.enroll(&code("usr-vol-2")).await,
    );

    let t0 = chrono::Utc::now().timestamp_millis() - 86_400_000;
    let mut quiet = Vec::new();
    let mut stalled = Vec::new();
    let mut hostile_ms = Vec::new();
    let mut answered = Vec::new();
    let mut unbounded = Vec::new();
    for round in 0..ROUNDS {
        // The hostile record: a report and 1,500 edits, all stored in order.
        let p = Uuid::now_v7();
        let base = t0 + round as i64 * 10_000_000;
        let mut record = vec![report(&hostile, p, "s-dj", base)];
        record.extend((0..RECORD_EDITS).map(|i| edit(&hostile, p, base + 1_000_000 + i as i64)));
        for chunk in record.chunks(500) {
            c.push(&th, chunk).await;
        }
        // Baseline: the unrelated push alone.
        let start = Instant::now();
        c.push(&to, &[report(&other, Uuid::now_v7(), "s-nj", base)])
            .await;
        quiet.push(ms(start.elapsed()));

        // 500 edits dated before every stored one: each lands first and refolds the record.
        let backdated: Vec<Event> = (0..HOSTILE_BATCH)
            .map(|i| edit(&hostile, p, base + 1 + i as i64))
            .collect();
        // What the writer did per such batch without the bound: 500 folds of the record.
        let mut all: Vec<Event> = record.clone();
        let start = Instant::now();
        for e in &backdated {
            all.push(e.clone());
            std::hint::black_box(fold_problem(all.iter()));
        }
        unbounded.push(ms(start.elapsed()));

        let h = {
            let c = c.clone();
            let th = th.clone();
            tokio::spawn(async move {
                let start = Instant::now();
                let r = c.push(&th, &backdated).await;
                (ms(start.elapsed()), r.results.len())
            })
        };
        // Let the hostile batch reach the writer first.
        tokio::time::sleep(Duration::from_millis(5)).await;
        let start = Instant::now();
        let r = c
            .push(&to, &[report(&other, Uuid::now_v7(), "s-nj", base + 1)])
            .await;
        stalled.push(ms(start.elapsed()));
        assert_eq!(r.results.len(), 1);
        let (hms, n) = h.await.unwrap();
        hostile_ms.push(hms);
        answered.push(n);
    }
    let stats = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        format!(
            "median {:.1} ms, max {:.1} ms",
            v[v.len() / 2],
            v[v.len() - 1]
        )
    };
    println!(
        "record of {} events, hostile batch of {HOSTILE_BATCH} backdated edits, {ROUNDS} rounds",
        RECORD_EDITS + 1
    );
    println!(
        "unrelated 1-event push, alone:          {}",
        stats(&mut quiet)
    );
    println!(
        "unrelated 1-event push, behind hostile: {}",
        stats(&mut stalled)
    );
    println!(
        "hostile request: {}; events answered per request: {answered:?} (the rest is sent again)",
        stats(&mut hostile_ms)
    );
    println!(
        "unbounded work per hostile batch (500 refolds, in-process, no I/O): {}",
        stats(&mut unbounded)
    );
}
