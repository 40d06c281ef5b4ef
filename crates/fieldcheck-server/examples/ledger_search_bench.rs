//! The console ledger's text search at 100,000 problems (issue 14, "Speed": p95 ≤ 100 ms for
//! every ledger page): the bigram index (migration 0008) next to the plain `LIKE '%q%'` it
//! replaced, measured in the same run on the same store, on SQLite and on PostgreSQL.
//!
//! Run: `cargo run -p fieldcheck-server --example ledger_search_bench`
//! (`FIELDCHECK_BENCH_PROBLEMS=…` for another size, `FIELDCHECK_TEST_PG=postgres://…` for
//! another PostgreSQL; it works in a fresh schema and drops it afterwards, unless
//! `FIELDCHECK_BENCH_KEEP=1`, which keeps both databases for a look at the plans).
//!
//! Each page is what `GET /console/problems?q=…` runs (an office user's whole-city scope, 50
//! rows newest first, with the total). The baseline is the same count and page with the old
//! WHERE clause, through `Store::select` (one transaction, like the ledger).

use std::sync::Arc;
use std::time::{Duration, Instant};

use fieldcheck_domain::event::{EventBody, ProblemReported};
use fieldcheck_domain::reference::User;
use fieldcheck_domain::scope::Scope;
use fieldcheck_domain::{Actor, Event, Hlc, Severity};
use fieldcheck_protocol::ReferenceBundle;
use fieldcheck_server::Store;
use fieldcheck_server::policy::Viewer;
use fieldcheck_server::store::ledger::{Arg, Col, LedgerFilter, LedgerSort, Select};
use fieldcheck_server::store::{AppendCtx, PgStore, SqliteStore};
use uuid::Uuid;

const ROUNDS: usize = 40;

/// Everyday complaints (common) and a few rare ones, joined two or three to a description.
const COMMON: &[&str] = &[
    "垃圾堆放",
    "暴露垃圾",
    "井盖缺失",
    "井盖破损",
    "占道经营",
    "道路积水",
    "广告牌破损",
    "路灯不亮",
    "绿化带杂物",
    "共享单车乱停放",
    "违章搭建",
    "污水外溢",
    "垃圾桶满溢",
    "人行道破损",
    "店外经营",
    "乱拉横幅",
    "车辆乱停",
    "树木倒伏",
    "施工围挡破损",
    "沿街晾晒",
];
const SEPARATORS: &[&str] = &["，", "。", " ", "；", "，现场"];
const PLACES: &[&str] = &[
    "鼓楼区八一七北路",
    "台江区东街口",
    "仓山区上渡路",
    "晋安区福新中路",
    "鼓楼区五四路",
    "台江区江滨西大道",
];
/// One problem in this many carries the rare complaint.
const RARE_EVERY: usize = 5_000;
const RARE: &str = "消防栓漏水";

fn actor(u: &User) -> Actor {
    Actor {
        user_id: u.id.clone(),
        role: u.role,
        unit_id: u.unit_id.clone(),
    }
}

struct Rng(u64);

impl Rng {
    fn pick(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % n
    }
}

fn report(u: &User, i: usize, rng: &mut Rng, base_ms: i64) -> Event {
    let id = Uuid::now_v7();
    let mut parts: Vec<&str> = (0..2 + rng.pick(2))
        .map(|_| COMMON[rng.pick(COMMON.len())])
        .collect();
    if i % RARE_EVERY == 7 {
        parts.insert(1, RARE);
    }
    let sep = SEPARATORS[rng.pick(SEPARATORS.len())];
    let place = PLACES[rng.pick(PLACES.len())];
    let at = base_ms + i as i64 * 1_000;
    Event::new(
        id,
        &actor(u),
        "bench",
        Hlc::new(at, 0, "bench"),
        EventBody::ProblemReported(Box::new(ProblemReported {
            code: format!(
                "GL-2026{:02}{:02}-{:04X}-{:04}",
                1 + i % 12,
                1 + i % 28,
                rng.pick(0x10000),
                i % 10_000
            ),
            category: "SR-02".into(),
            description: format!("{}{sep}{}", place, parts.join(sep)),
            location: None,
            address: format!("{place} {} 号", 1 + rng.pick(300)),
            district_id: Some("c-dm".into()),
            point_id: None,
            item_id: None,
            inspection_id: None,
            severity: Severity::default(),
            placement: None,
        })),
    )
}

async fn fill(store: &dyn Store, refs: &Arc<ReferenceBundle>, n: usize) {
    let reporter = refs
        .users
        .iter()
        .find(|u| u.id == "usr-insp-1")
        .expect("demo inspector")
        .clone();
    let viewer = Viewer::new(reporter.clone(), refs);
    let now = chrono::Utc::now().timestamp_millis();
    let base = now - n as i64 * 1_000 - 60_000;
    let mut rng = Rng(0x1ed9e5);
    let started = Instant::now();
    let mut i = 0;
    while i < n {
        let batch: Vec<Event> = (i..(i + 500).min(n))
            .map(|k| report(&reporter, k, &mut rng, base))
            .collect();
        i += batch.len();
        let ctx = AppendCtx {
            viewer: &viewer,
            refs,
            now_ms: now,
            max_future_ms: 0,
        };
        store.push(batch, &ctx).await.expect("push");
    }
    println!(
        "  filled {n} problems through Store::push in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

fn filter(text: &str) -> LedgerFilter {
    LedgerFilter {
        statuses: vec![],
        categories: vec![],
        unit: None,
        districts: None,
        point: None,
        points: None,
        source: None,
        reporter: None,
        reported_from_ms: None,
        reported_before_ms: None,
        dispatched_from_ms: None,
        dispatched_before_ms: None,
        overdue: None,
        text: Some(text.to_owned()),
        conflicts: None,
        sort: LedgerSort::ReportedAt,
        descending: true,
        limit: 50,
        offset: 0,
        now_ms: chrono::Utc::now().timestamp_millis(),
    }
}

/// The ledger page as it was before the index: count and page with the plain LIKE.
fn baseline(text: &str) -> Vec<Select> {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let cond = "(code LIKE $1 ESCAPE '\\' OR description LIKE $1 ESCAPE '\\')";
    let arg = || vec![Arg::Text(format!("%{escaped}%"))];
    vec![
        Select {
            sql: format!("SELECT count(*) FROM problems WHERE {cond}"),
            args: arg(),
            columns: vec![Col::Int],
        },
        Select {
            sql: format!(
                "SELECT id FROM problems WHERE {cond} ORDER BY reported_at DESC, id DESC LIMIT 50"
            ),
            args: arg(),
            columns: vec![Col::Text],
        },
    ]
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

async fn measure(store: &dyn Store, scope: &Scope) {
    let queries: &[(&str, &str)] = &[
        ("栓", "rare, 1 char"),
        ("栓漏", "rare, 2 chars"),
        ("消防栓漏", "rare, 4 chars"),
        ("垃", "common, 1 char"),
        ("垃圾", "common, 2 chars"),
        ("垃圾堆放", "common, 4 chars"),
        ("井盖", "common, 2 chars"),
        ("占道", "common, 2 chars"),
        ("0007", "code part"),
        ("找不到", "no match"),
    ];
    println!(
        "  {:<10} {:<16} {:>7} {:>9} {:>9} {:>12} {:>12}",
        "q", "kind", "total", "idx p50", "idx p95", "LIKE p50", "LIKE p95"
    );
    for (q, kind) in queries {
        let f = filter(q);
        let mut idx = Vec::with_capacity(ROUNDS);
        let mut like = Vec::with_capacity(ROUNDS);
        let mut total = 0;
        let mut like_total = 0;
        // One warm-up each, then alternate so both see the same cache.
        store.ledger(&f, scope).await.expect("ledger");
        store.select(&baseline(q)).await.expect("baseline");
        for _ in 0..ROUNDS {
            let t = Instant::now();
            let page = store.ledger(&f, scope).await.expect("ledger");
            idx.push(t.elapsed());
            total = page.total;
            let t = Instant::now();
            let rows = store.select(&baseline(q)).await.expect("baseline");
            like.push(t.elapsed());
            like_total = rows[0][0][0].count();
        }
        assert_eq!(total, like_total, "{q}: index and LIKE disagree");
        idx.sort();
        like.sort();
        println!(
            "  {:<10} {:<16} {:>7} {:>7.1}ms {:>7.1}ms {:>10.1}ms {:>10.1}ms",
            q,
            kind,
            total,
            pct(&idx, 0.5),
            pct(&idx, 0.95),
            pct(&like, 0.5),
            pct(&like, 0.95)
        );
    }
}

/// Diagnostics: SQLite's plans and the count and the page timed apart.
async fn plans(store: &dyn Store) {
    let cond = "last_seq IN (SELECT rowid FROM problems_search('\"垃圾\"'))";
    for sql in [
        format!("SELECT count(*) FROM problems WHERE {cond}"),
        format!(
            "SELECT id, code, description FROM problems WHERE {cond} ORDER BY reported_at DESC, id DESC LIMIT 50"
        ),
        "SELECT count(*) FROM problems_search('\"垃圾\"')".to_owned(),
    ] {
        let plan = Select {
            sql: format!("EXPLAIN QUERY PLAN {sql}"),
            args: vec![],
            columns: vec![Col::Int, Col::Int, Col::Int, Col::Text],
        };
        let rows = store.select(&[plan]).await.expect("plan");
        println!("  {sql}");
        for r in &rows[0] {
            println!("    {}", r[3].text().unwrap_or(""));
        }
        let mut ts = Vec::new();
        for _ in 0..10 {
            let t = Instant::now();
            store
                .select(&[Select {
                    sql: sql.clone(),
                    args: vec![],
                    columns: vec![],
                }])
                .await
                .expect("run");
            ts.push(t.elapsed());
        }
        ts.sort();
        println!("    p50 {:.1} ms", pct(&ts, 0.5));
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::var("FIELDCHECK_BENCH_PROBLEMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let refs = Arc::new(fieldcheck_protocol::demo_bundle());
    let admin = refs
        .users
        .iter()
        .find(|u| u.id == "usr-admin-1")
        .expect("demo admin")
        .clone();
    let scope = Viewer::new(admin, &refs).scope;

    let dir = tempfile::tempdir()?;
    println!("SQLite ({} problems, file in a temp dir)", n);
    let sqlite = SqliteStore::open(&format!("sqlite://{}/bench.db", dir.path().display())).await?;
    sqlite.put_reference(&refs).await?;
    fill(&sqlite, &refs, n).await;
    if std::env::var_os("FIELDCHECK_BENCH_PLANS").is_some() {
        plans(&sqlite).await;
    }
    measure(&sqlite, &scope).await;

    let url = std::env::var("FIELDCHECK_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let schema = format!("bench_{}", Uuid::new_v4().simple());
    let admin_pool = sqlx::PgPool::connect(&url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin_pool)
        .await?;
    println!("PostgreSQL ({} problems, schema {schema})", n);
    let pg = PgStore::open(&url, Some(&schema)).await?;
    pg.put_reference(&refs).await?;
    fill(&pg, &refs, n).await;
    // What autovacuum does after that many inserts: statistics for the planner and the
    // visibility map for index-only scans.
    let analyze = sqlx::postgres::PgPoolOptions::new()
        .connect_with(
            url.parse::<sqlx::postgres::PgConnectOptions>()?
                .options([("search_path", schema.as_str())]),
        )
        .await?;
    sqlx::query("VACUUM ANALYZE problems, problems_search_docs")
        .execute(&analyze)
        .await?;
    analyze.close().await;
    measure(&pg, &scope).await;
    pg.close().await;
    if std::env::var_os("FIELDCHECK_BENCH_KEEP").is_some() {
        println!("  kept schema {schema} and {}", dir.keep().display());
    } else {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&admin_pool)
            .await?;
    }
    Ok(())
}
