//! The office console's speed at city scale (issue 14, "Speed"), through HTTP against a real
//! server, on SQLite and on PostgreSQL:
//!
//! ```sh
//! cargo run --release -p fieldcheck-server --example console_bench -- --problems 100000
//! cargo run --release -p fieldcheck-server --example console_bench -- --problems 100000 \
//!     --pg postgres://postgres@127.0.0.1:5432/test
//! ```
//!
//! `--dir DIR` (SQLite) or `--pg-schema NAME` (PostgreSQL) keeps the seeded city, and a later
//! run over it skips the seeding and times the queries alone.
//!
//! The lived-in demo city (`demo::city`, the generator `fieldcheck-server demo` uses) is seeded
//! with `--problems` problems over 56 days (about 15 events each), a server is started over
//! it, and the office's admin signs in to the console. Then every ledger filter, text search,
//! the ranking, the overview, the map, problem details and bulk dispatches of 500 are timed,
//! each beside the baseline measured in the same run: the cheapest signed-in console request
//! (`GET /console/session`: the same HTTP stack, session check and JSON, no query). Targets:
//! ledger page p95 ≤ 100 ms, ranking for a quarter ≤ 300 ms, detail ≤ 50 ms, bulk dispatch of
//! 500 ≤ 2 s.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use fieldcheck_server::blobs::{BlobStore, LocalBlobs};
use fieldcheck_server::demo::{self, city};
use fieldcheck_server::store::{PgStore, SqliteStore, Store};
use serde_json::{Value, json};

struct Args {
    problems: usize,
    pg: Option<String>,
    runs: usize,
    dir: Option<PathBuf>,
    /// A PostgreSQL schema kept after the run, so the next run reuses its city.
    pg_schema: Option<String>,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        problems: 100_000,
        pg: None,
        runs: 40,
        dir: None,
        pg_schema: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().with_context(|| format!("{k} needs a value"));
        match k.as_str() {
            "--problems" => a.problems = v()?.parse()?,
            "--pg" => a.pg = Some(v()?),
            "--runs" => a.runs = v()?.parse()?,
            "--dir" => a.dir = Some(PathBuf::from(v()?)),
            "--pg-schema" => a.pg_schema = Some(v()?),
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(a)
}

/// A signed-in console client.
struct Console {
    http: reqwest::Client,
    base: String,
    cookie: String,
    csrf: String,
}

impl Console {
    async fn sign_in(origin: &str) -> anyhow::Result<Console> {
        let http = reqwest::Client::new();
        let r = http
            .post(format!("{origin}/api/v1/console/session"))
            .header("x-fieldcheck-protocol", "1")
            .header("origin", origin)
            .json(&json!({"username": "usr-admin-1", "password": demo::DEMO_PASSWORD}))
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("sign-in: {} {}", r.status(), r.text().await?);
        }
        let cookie = r.headers()["set-cookie"]
            .to_str()?
            .split(';')
            .next()
            .unwrap_or_default()
            .to_owned();
        let info: Value = r.json().await?;
        Ok(Console {
            http,
            base: format!("{origin}/api/v1"),
            cookie,
            csrf: info["csrf_token"].as_str().unwrap_or_default().to_owned(),
        })
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("x-fieldcheck-protocol", "1")
            .header("cookie", &self.cookie)
            .send()
            .await?;
        let status = r.status();
        let body = r.bytes().await?;
        if !status.is_success() {
            bail!("GET {path}: {status} {}", String::from_utf8_lossy(&body));
        }
        Ok(serde_json::from_slice(&body)?)
    }

    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let origin = self.base.trim_end_matches("/api/v1").to_owned();
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("x-fieldcheck-protocol", "1")
            .header("cookie", &self.cookie)
            .header("origin", origin)
            .header("x-csrf-token", &self.csrf)
            .json(body)
            .send()
            .await?;
        let status = r.status();
        let text = r.text().await?;
        if !status.is_success() {
            bail!("POST {path}: {status} {text}");
        }
        Ok(serde_json::from_str(&text)?)
    }

    /// p50 and p95 of `runs` GETs of `path`, after one warm-up.
    async fn time_get(&self, path: &str, runs: usize) -> anyhow::Result<(Duration, Duration)> {
        self.get(path).await?;
        let mut t = Vec::with_capacity(runs);
        for _ in 0..runs {
            let start = Instant::now();
            self.get(path).await?;
            t.push(start.elapsed());
        }
        Ok(percentiles(&mut t))
    }
}

fn percentiles(t: &mut [Duration]) -> (Duration, Duration) {
    t.sort();
    let at = |q: f64| t[((t.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.95))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `--pg-schema`, or one of this run's own.
fn bench_schema(a: &Args) -> String {
    a.pg_schema
        .clone()
        .unwrap_or_else(|| format!("console_bench_{}", std::process::id()))
}

async fn open_store(a: &Args, dir: &std::path::Path) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match &a.pg {
        Some(url) => {
            let schema = bench_schema(a);
            let admin = sqlx::PgPool::connect(url).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "CREATE SCHEMA IF NOT EXISTS {schema}"
            )))
            .execute(&admin)
            .await?;
            match &a.pg_schema {
                Some(_) => println!("PostgreSQL schema {schema} (kept)"),
                None => println!("PostgreSQL schema {schema} (dropped at the end)"),
            }
            Arc::new(PgStore::open(url, Some(&schema)).await?)
        }
        None => Arc::new(SqliteStore::open(&format!("sqlite://{}/fc.db", dir.display())).await?),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    let tmp = tempfile::tempdir()?;
    let dir = a.dir.clone().unwrap_or_else(|| tmp.path().to_owned());
    std::fs::create_dir_all(&dir)?;
    let store = open_store(&a, &dir).await?;
    let backend = store.backend();
    println!(
        "console_bench: {} problems, {backend}, {} runs per query, {} CPUs",
        a.problems,
        a.runs,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    // The city: reference data, users with the demo password, eight weeks of work.
    let now = chrono::Utc::now();
    demo::seed(store.as_ref(), now.timestamp_millis()).await?;
    let blob_dir = dir.join("blobs");
    let blobs: Arc<dyn BlobStore> = Arc::new(LocalBlobs::new(&blob_dir));
    let plan = city::CityPlan {
        problems: a.problems,
        own_photos: 30,
        pool_photos: 12,
        ..city::CityPlan::demo(now)
    };
    let start = Instant::now();
    // `--dir` keeps the seeded store: a second run over it skips the seeding (minutes at
    // 100,000 problems) and times the queries alone.
    match demo::seed_city_if_empty(store.as_ref(), blobs.as_ref(), &blob_dir, &plan).await? {
        Some(report) => println!(
            "seeded {} problems, {} inspections, {} events in {:.1} s; statuses {:?}",
            report.problems,
            report.inspections,
            report.events,
            start.elapsed().as_secs_f64(),
            report.statuses
        ),
        None => println!("reusing the city already seeded in {}", dir.display()),
    }
    if let Some(url) = &a.pg {
        // A city's database has been vacuumed and analysed by autovacuum long since; a bulk
        // load minutes old has not, and PostgreSQL would plan it on default statistics.
        let admin = sqlx::PgPool::connect(url).await?;
        let schema = bench_schema(&a);
        for table in ["problems", "problems_search_docs", "events"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "VACUUM (ANALYZE) {schema}.{table}"
            )))
            .execute(&admin)
            .await?;
        }
    }

    // A real server over it.
    let config = fieldcheck_server::Config {
        blob_dir: blob_dir.clone(),
        push_per_minute: 1_000_000,
        push_burst: 1_000_000,
        ..fieldcheck_server::Config::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let origin = format!("http://{}", listener.local_addr()?);
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
    let c = Console::sign_in(&origin).await?;

    let (b50, b95) = c.time_get("/console/session", a.runs * 2).await?;
    println!();
    println!(
        "{:<58} {:>9} {:>9} {:>8}",
        "request (HTTP, signed in as the city office)", "p50 ms", "p95 ms", "p95/base"
    );
    let line = |name: &str, p50: Duration, p95: Duration| {
        println!(
            "{:<58} {:>9.2} {:>9.2} {:>7.1}×",
            name,
            ms(p50),
            ms(p95),
            ms(p95) / ms(b95)
        );
    };
    line("baseline: GET /console/session", b50, b95);

    // Every ledger filter, alone, as the console sends it (first page, 50 rows, with total).
    let today = now.date_naive();
    let month_ago = today - chrono::Duration::days(30);
    let some_point = store
        .reference()
        .await?
        .and_then(|(_, r)| r.points.first().map(|p| p.id.clone()))
        .unwrap_or_default();
    let ledger: Vec<(String, String)> = vec![
        ("ledger: no filter".into(), String::new()),
        (
            "ledger: status dispatched,rectifying".into(),
            "status=dispatched,rectifying".into(),
        ),
        ("ledger: overdue".into(), "overdue=true".into()),
        ("ledger: unit u-s-dj".into(), "unit=u-s-dj".into()),
        (
            "ledger: district s-nj (and below)".into(),
            "district=s-nj".into(),
        ),
        (
            "ledger: category SR (major class)".into(),
            "category=SR".into(),
        ),
        ("ledger: point".into(), format!("point={some_point}")),
        (
            "ledger: point type back_alley".into(),
            "point_type=back_alley".into(),
        ),
        ("ledger: source volunteer".into(), "source=volunteer".into()),
        (
            "ledger: reporter usr-insp-2".into(),
            "reporter=usr-insp-2".into(),
        ),
        (
            "ledger: reported in the last 30 days".into(),
            format!("from={month_ago}&to={today}"),
        ),
        ("ledger: conflicts".into(), "conflicts=true".into()),
        (
            "ledger: sort by deadline".into(),
            "sort=deadline&order=asc".into(),
        ),
        (
            "ledger: page 100 (offset 4950)".into(),
            "offset=4950".into(),
        ),
        (
            "ledger: status + district + overdue + sort".into(),
            "status=dispatched,rectifying,returned&district=s-dj&overdue=true&sort=deadline".into(),
        ),
        (
            "ledger: text 垃圾 (2 chars, common)".into(),
            format!("q={}", enc("垃圾")),
        ),
        (
            "ledger: text 井盖 (2 chars)".into(),
            format!("q={}", enc("井盖")),
        ),
        (
            "ledger: text 乱堆乱放 (4 chars)".into(),
            format!("q={}", enc("乱堆乱放")),
        ),
        (
            "ledger: text 桥 (1 char)".into(),
            format!("q={}", enc("桥")),
        ),
        (
            "ledger: text absent 鲸鱼".into(),
            format!("q={}", enc("鲸鱼")),
        ),
        (
            "ledger: text + status".into(),
            format!("q={}&status=closed", enc("垃圾")),
        ),
    ];
    let mut worst_ledger = Duration::ZERO;
    for (name, q) in &ledger {
        let (p50, p95) = c
            .time_get(&format!("/console/problems?limit=50&{q}"), a.runs)
            .await?;
        worst_ledger = worst_ledger.max(p95);
        line(name, p50, p95);
    }

    let quarter = c
        .time_get("/console/ranking?period=quarter&by=unit", a.runs / 2)
        .await?;
    line(
        "ranking: this quarter by unit (+6 periods trend)",
        quarter.0,
        quarter.1,
    );
    let by_district = c
        .time_get("/console/ranking?period=quarter&by=district", a.runs / 2)
        .await?;
    line(
        "ranking: this quarter by district",
        by_district.0,
        by_district.1,
    );
    let month = c
        .time_get("/console/ranking?period=month&by=unit", a.runs / 2)
        .await?;
    line("ranking: this month by unit", month.0, month.1);
    let overview = c.time_get("/console/overview", a.runs / 2).await?;
    line("overview (工作台)", overview.0, overview.1);
    let map = c
        .time_get("/console/map?status=dispatched,rectifying", a.runs / 2)
        .await?;
    line("map: open problems (≤ 5,000 markers)", map.0, map.1);

    // Details of problems spread over the ledger.
    let page = c.get("/console/problems?limit=200&offset=1000").await?;
    let ids: Vec<String> = page["rows"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| r["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let mut detail = Vec::new();
    for id in ids.iter().cycle().take(a.runs) {
        let start = Instant::now();
        c.get(&format!("/console/problems/{id}")).await?;
        detail.push(start.elapsed());
    }
    let (d50, d95) = percentiles(&mut detail);
    line("problem detail (timeline, photos, actions)", d50, d95);

    // Bulk: file and dispatch 500 reported problems to one unit, then another 500.
    let mut bulks = Vec::new();
    for _ in 0..2 {
        let reported = c.get("/console/problems?status=reported&limit=200").await?["total"]
            .as_u64()
            .unwrap_or(0);
        if reported < 500 {
            println!("(only {reported} reported problems left: no bulk of 500)");
            break;
        }
        let mut ids = Vec::new();
        for off in [0, 200, 400] {
            let p = c
                .get(&format!(
                    "/console/problems?status=reported&limit=200&offset={off}&sort=reported_at"
                ))
                .await?;
            for r in p["rows"].as_array().into_iter().flatten() {
                ids.push(r["id"].clone());
            }
        }
        ids.truncate(500);
        let start = Instant::now();
        let res = c
            .post(
                "/console/problems/bulk",
                &json!({"ids": ids, "op": "file_and_dispatch", "unit_id": "u-hwc"}),
            )
            .await?;
        let took = start.elapsed();
        println!(
            "{:<58} {:>9.1} ms  done {} failed {}",
            "bulk: file and dispatch 500 to one unit",
            ms(took),
            res["done"],
            res["failed"]
        );
        bulks.push(took);
    }

    println!();
    println!(
        "targets: ledger p95 ≤ 100 ms (worst {:.1}), ranking quarter ≤ 300 ms (p95 {:.1}), detail ≤ 50 ms (p95 {:.1}), bulk 500 ≤ 2 s (worst {:.0} ms)",
        ms(worst_ledger),
        ms(quarter.1),
        ms(d95),
        bulks.iter().map(|d| ms(*d)).fold(0.0, f64::max)
    );
    let _ = stop.send(());
    server.await??;
    if let (Some(url), None) = (&a.pg, &a.pg_schema) {
        let admin = sqlx::PgPool::connect(url).await?;
        let schema = bench_schema(&a);
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&admin)
            .await?;
    }
    Ok(())
}

/// Percent-encodes a query value.
fn enc(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}
