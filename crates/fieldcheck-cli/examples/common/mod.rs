//! Shared setup of the sync benchmarks (`push_bench`, `pull_bench`, `load_bench`): a real
//! `fieldcheck-server` on a loopback port in this process, enrollment, event synthesis and a
//! tiny flag parser. Not an example itself (no `main.rs`).

#![allow(dead_code)]

use std::str::FromStr;
use std::sync::Arc;

use fieldcheck_core::domain::event::ProblemReported;
use fieldcheck_core::domain::{Actor, Event, EventBody, Hlc, Location, LocationSource, Severity};
use fieldcheck_core::protocol::ReferenceBundle;
use fieldcheck_core::protocol::sync::{EnrollRequest, EnrollResponse, PROTOCOL_HEADER};
use fieldcheck_server::{Config, Store as ServerStore, auth};
use uuid::Uuid;

/// `--name value` from the command line, or `default`.
pub fn flag<T: FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    let key = format!("--{name}");
    match args.iter().position(|a| *a == key) {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("--{name} needs a valid value")),
        None => default,
    }
}

pub fn has_flag(name: &str) -> bool {
    std::env::args().any(|a| a == format!("--{name}"))
}

/// Load average and core count, printed with every result (the machine is shared).
pub fn machine_note() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!(
        "{cores} cores, loadavg {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    )
}

/// A server serving on 127.0.0.1:<port 0> inside the given runtime.
pub struct Server {
    pub base: String,
    pub store: Arc<dyn ServerStore>,
    pub refs: ReferenceBundle,
    pub config: Config,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    pub dir: tempfile::TempDir,
}

impl Server {
    /// Opens `database_url` (or a fresh SQLite file in a temp dir when `None`), imports the
    /// demo city and users, and serves.
    pub async fn start(store: Option<Arc<dyn ServerStore>>) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            database_url: format!("sqlite://{}/fc.db", dir.path().display()),
            blob_dir: dir.path().join("blobs"),
            ..Config::default()
        };
        let store = match store {
            Some(s) => s,
            None => fieldcheck_server::open_store(&config.database_url)
                .await
                .unwrap(),
        };
        fieldcheck_server::demo::seed(store.as_ref(), chrono::Utc::now().timestamp_millis())
            .await
            .unwrap();
        let refs = store.reference().await.unwrap().unwrap().1;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(fieldcheck_server::serve_with_store(
            config.clone(),
            store.clone(),
            listener,
            async move {
                let _ = rx.await;
            },
        ));
        Server {
            base,
            store,
            refs,
            config,
            stop: Some(tx),
            task: Some(task),
            dir,
        }
    }

    /// A fresh one-time enrollment code for `user`.
    pub async fn enroll_code(&self, user: &str) -> String {
        let code = auth::new_enroll_code();
        self.store
            .create_enroll_code(
                &auth::hash_secret(&auth::normalize_enroll_code(&code)),
                user,
                chrono::Utc::now().timestamp_millis() + 3_600_000,
            )
            .await
            .unwrap();
        code
    }

    /// Enrolls a simulated device over HTTP: (bearer token, device tag).
    pub async fn enroll_raw(&self, http: &reqwest::Client, user: &str) -> (String, String) {
        let code = self.enroll_code(user).await;
        let resp: EnrollResponse = http
            .post(format!("{}/api/v1/enroll", self.base))
            .header(PROTOCOL_HEADER, "1")
            .json(&EnrollRequest {
                code,
                device_id: Uuid::now_v7(),
                device_name: "bench".into(),
                token: None,
            })
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        (resp.token, resp.device_tag)
    }

    pub fn actor(&self, user: &str) -> Actor {
        let u = self.refs.users.iter().find(|u| u.id == user).unwrap();
        Actor {
            user_id: u.id.clone(),
            role: u.role,
            unit_id: u.unit_id.clone(),
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }
}

/// Makes valid `problem.reported` events for one device: category SR-02 at a demo point,
/// unique ids and codes, increasing HLC.
pub struct EventMaker {
    actor: Actor,
    tag: String,
    point_id: String,
    district_id: String,
    prefix: String,
    lat: f64,
    lon: f64,
    seq: u64,
    wall_ms: i64,
}

impl EventMaker {
    pub fn new(refs: &ReferenceBundle, actor: Actor, tag: &str) -> EventMaker {
        let point = refs.points.iter().find(|p| p.id == "p-005").unwrap();
        let prefix = refs
            .districts
            .iter()
            .find(|d| d.id == point.district_id)
            .and_then(|d| d.code_prefix.clone())
            .unwrap_or_else(|| "XX".into());
        EventMaker {
            actor,
            tag: tag.to_owned(),
            point_id: point.id.clone(),
            district_id: point.district_id.clone(),
            prefix,
            lat: point.location.lat,
            lon: point.location.lon,
            seq: 0,
            wall_ms: chrono::Utc::now().timestamp_millis() - 3_600_000,
        }
    }

    pub fn next(&mut self) -> Event {
        self.seq += 1;
        self.wall_ms += 1;
        let body = EventBody::ProblemReported(Box::new(ProblemReported {
            code: format!("{}-20261123-{}-{:06}", self.prefix, self.tag, self.seq),
            category: "SR-02".into(),
            description: format!("巷口暴露垃圾，第 {} 处，需要清运", self.seq),
            location: Some(Location {
                lat: self.lat + (self.seq % 100) as f64 * 1e-5,
                lon: self.lon,
                accuracy_m: Some(8.0),
                source: LocationSource::Gps,
            }),
            address: "鼓楼区某某路 12 号旁".into(),
            district_id: Some(self.district_id.clone()),
            point_id: Some(self.point_id.clone()),
            item_id: None,
            inspection_id: None,
            severity: Severity::default(),
            placement: None,
        }));
        Event::new(
            Uuid::now_v7(),
            &self.actor,
            &self.tag,
            Hlc::new(self.wall_ms, 0, self.tag.clone()),
            body,
        )
    }
}

/// p50 and p99 of latencies in milliseconds.
pub fn percentiles(mut ms: Vec<f64>) -> (f64, f64) {
    if ms.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() as f64 - 1.0) * q).round() as usize];
    (at(0.50), at(0.99))
}
