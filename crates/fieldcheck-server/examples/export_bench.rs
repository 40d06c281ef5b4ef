//! The console's exports at scale (issue 16, "Scale"), through HTTP against a real server on
//! SQLite: each export kind run as the background job the console starts, timed, with the
//! server process's peak RSS over that job (`VmHWM`, reset before each job through
//! `/proc/self/clear_refs`) and the push latency of a device syncing meanwhile, beside the
//! same pushes with the server idle.
//!
//! ```sh
//! cargo run --release -p fieldcheck-server --example export_bench -- --problems 10000
//! cargo run --release -p fieldcheck-server --example export_bench -- --problems 100000 --dir /tmp/fc-export
//! ```
//!
//! The city is the demo generator's (`demo::city`: about two photos per problem, the newest
//! `--own-photos` problems with photos of their own, the rest sharing a pool). `--dir` keeps
//! it for a later run. The CSV export (no photos) is the baseline the others are held to.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use fieldcheck_domain::Actor;
use fieldcheck_domain::event::{EventBody, ProblemReported};
use fieldcheck_domain::hlc::Hlc;
use fieldcheck_domain::role::Role;
use fieldcheck_domain::{Event, Severity};
use fieldcheck_server::blobs::{BlobStore, LocalBlobs};
use fieldcheck_server::demo::{self, city};
use fieldcheck_server::store::{SqliteStore, Store};
use serde_json::{Value, json};
use uuid::Uuid;

struct Args {
    problems: usize,
    own_photos: usize,
    dir: Option<PathBuf>,
    kinds: Vec<String>,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        problems: 10_000,
        own_photos: 2_000,
        dir: None,
        kinds: vec![
            "csv".into(),
            "geojson".into(),
            "xlsx".into(),
            "photos_zip".into(),
        ],
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().with_context(|| format!("{k} needs a value"));
        match k.as_str() {
            "--problems" => a.problems = v()?.parse()?,
            "--own-photos" => a.own_photos = v()?.parse()?,
            "--dir" => a.dir = Some(PathBuf::from(v()?)),
            "--kinds" => a.kinds = v()?.split(',').map(str::to_owned).collect(),
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(a)
}

/// This process's peak resident set since the last [`reset_peak`], in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Sets the peak back to the current resident set (Linux: `5` to `clear_refs`).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn pct(t: &mut [Duration], p: f64) -> Duration {
    if t.is_empty() {
        return Duration::ZERO;
    }
    t.sort();
    t[((t.len() - 1) as f64 * p).round() as usize]
}

struct Device {
    http: reqwest::Client,
    base: String,
    token: String,
    user: fieldcheck_domain::reference::User,
}

impl Device {
    /// One quick report pushed; how long the push took.
    async fn push_one(&self) -> anyhow::Result<Duration> {
        let entity = Uuid::now_v7();
        let now = chrono::Utc::now().timestamp_millis();
        let actor = Actor {
            user_id: self.user.id.clone(),
            role: self.user.role,
            unit_id: self.user.unit_id.clone(),
        };
        let e = Event::new(
            entity,
            &actor,
            "bench",
            Hlc::new(now, 0, "bench"),
            EventBody::ProblemReported(Box::new(ProblemReported {
                code: format!("GL-BENCH-{}", &entity.simple().to_string()[20..]),
                category: "SR-02".into(),
                description: "导出时的同步".into(),
                location: None,
                address: "测试路 1 号".into(),
                district_id: self.user.district_ids.first().cloned(),
                point_id: None,
                item_id: None,
                inspection_id: None,
                severity: Severity::default(),
                placement: None,
            })),
        );
        let start = Instant::now();
        let r = self
            .http
            .post(format!("{}/push", self.base))
            .bearer_auth(&self.token)
            .json(&json!({ "events": [e] }))
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("push: {} {}", r.status(), r.text().await?);
        }
        r.bytes().await?;
        Ok(start.elapsed())
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    let tmp = tempfile::tempdir()?;
    let dir = a.dir.clone().unwrap_or_else(|| tmp.path().to_owned());
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}/fieldcheck.db", dir.display());
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&url).await?);
    let now = chrono::Utc::now();
    let logins = demo::seed(store.as_ref(), now.timestamp_millis()).await?;
    let blob_dir = dir.join("blobs");
    let blobs: Arc<dyn BlobStore> = Arc::new(LocalBlobs::new(&blob_dir));
    let plan = city::CityPlan {
        problems: a.problems,
        own_photos: a.own_photos,
        pool_photos: 12,
        ..city::CityPlan::demo(now)
    };
    let start = Instant::now();
    match demo::seed_city_if_empty(store.as_ref(), blobs.as_ref(), &blob_dir, &plan).await? {
        Some(r) => println!(
            "seeded {} problems, {} events, {} photos in {:.1} s",
            r.problems,
            r.events,
            r.photos,
            start.elapsed().as_secs_f64()
        ),
        None => println!("reusing the city in {}", dir.display()),
    }
    let config = fieldcheck_server::Config {
        blob_dir: blob_dir.clone(),
        export_dir: dir.join("exports"),
        push_per_minute: 1_000_000,
        push_burst: 1_000_000,
        ..fieldcheck_server::Config::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let origin = format!("http://{}", listener.local_addr()?);
    let base = format!("{origin}/api/v1");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(fieldcheck_server::serve_with(
        config,
        store.clone(),
        blobs,
        listener,
        async move {
            let _ = stopped.await;
        },
    ));
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        fieldcheck_protocol::sync::PROTOCOL_HEADER,
        fieldcheck_protocol::PROTOCOL_VERSION.to_string().parse()?,
    );
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()?;

    // The office signs in to the console.
    let r = http
        .post(format!("{base}/console/session"))
        .json(&json!({"username": "usr-admin-1", "password": demo::DEMO_PASSWORD}))
        .send()
        .await?;
    let cookie = r.headers()["set-cookie"]
        .to_str()?
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned();
    let info: Value = r.json().await?;
    let csrf = info["csrf_token"].as_str().context("csrf")?.to_owned();

    // An inspector's device, enrolled.
    let insp = logins
        .iter()
        .find(|l| l.role == Role::Inspector)
        .context("an inspector")?;
    let r: Value = http
        .post(format!("{base}/enroll"))
        .json(
            &json!({"code": insp.enroll_code, "device_id": Uuid::now_v7(), "device_name": "bench"}),
        )
        .send()
        .await?
        .json()
        .await?;
    let token = r["token"].as_str().context("token")?.to_owned();
    let user = store
        .user(&insp.user_id)
        .await?
        .context("inspector stored")?
        .user;
    let device = Arc::new(Device {
        http: http.clone(),
        base: base.clone(),
        token,
        user,
    });

    let mut idle = Vec::new();
    for _ in 0..60 {
        idle.push(device.push_one().await?);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let total: u64 = {
        let r: Value = http
            .get(format!("{base}/console/problems?limit=1"))
            .header("cookie", &cookie)
            .send()
            .await?
            .json()
            .await?;
        r["total"].as_u64().unwrap_or(0)
    };
    println!(
        "export_bench: {total} problems, SQLite, {} CPUs; server RSS before the exports {:.0} MiB",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        rss_mib()
    );
    println!(
        "push of one event, server idle: p50 {:.1} ms, p95 {:.1} ms",
        ms(pct(&mut idle.clone(), 0.5)),
        ms(pct(&mut idle, 0.95))
    );
    println!();
    println!(
        "{:<11} {:>9} {:>10} {:>12} {:>10} {:>11} {:>11}",
        "kind", "rows", "time s", "file MiB", "peak MiB", "push p50", "push p95"
    );
    let mut baseline: Option<(f64, f64)> = None;
    for kind in &a.kinds {
        reset_peak();
        let before = rss_mib();
        let started = Instant::now();
        let r = http
            .post(format!("{base}/console/exports"))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .json(&json!({"kind": kind, "filter": {}}))
            .send()
            .await?;
        if r.status() != reqwest::StatusCode::ACCEPTED {
            bail!("export {kind}: {} {}", r.status(), r.text().await?);
        }
        let job: Value = r.json().await?;
        let id = job["id"].as_str().context("job id")?.to_owned();
        // The device keeps syncing while the job runs.
        let dev = device.clone();
        let (halt, mut halted) = tokio::sync::oneshot::channel::<()>();
        let pusher = tokio::spawn(async move {
            let mut t = Vec::new();
            loop {
                match dev.push_one().await {
                    Ok(d) => t.push(d),
                    Err(e) => eprintln!("push failed: {e}"),
                }
                tokio::select! {
                    _ = &mut halted => break,
                    () = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            }
            t
        });
        let done = loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let list: Value = http
                .get(format!("{base}/console/exports"))
                .header("cookie", &cookie)
                .send()
                .await?
                .json()
                .await?;
            let j = list["jobs"]
                .as_array()
                .and_then(|js| js.iter().find(|j| j["id"] == id.as_str()).cloned())
                .context("job listed")?;
            match j["state"].as_str() {
                Some("done") => break j,
                Some("failed") => bail!("export {kind} failed: {}", j["error"]),
                _ => {}
            }
        };
        let took = started.elapsed();
        let _ = halt.send(());
        let mut pushes = pusher.await?;
        let peak = peak_rss_mib();
        let file_mib = done["bytes"].as_f64().unwrap_or(0.0) / 1024.0 / 1024.0;
        println!(
            "{:<11} {:>9} {:>10.1} {:>12.1} {:>10.0} {:>9.1}ms {:>9.1}ms",
            kind,
            done["rows_done"],
            took.as_secs_f64(),
            file_mib,
            peak,
            ms(pct(&mut pushes, 0.5)),
            ms(pct(&mut pushes, 0.95)),
        );
        println!(
            "            (RSS {before:.0} MiB at the start, {} pushes meanwhile)",
            pushes.len()
        );
        match baseline {
            None => baseline = Some((took.as_secs_f64(), peak)),
            Some((t, p)) => println!(
                "            vs {}: {:.1}× the time, {:.2}× the peak RSS",
                a.kinds[0],
                took.as_secs_f64() / t,
                peak / p
            ),
        }
    }
    let _ = stop.send(());
    server.await??;
    Ok(())
}
