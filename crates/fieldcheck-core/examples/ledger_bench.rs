//! Store and ledger benchmark at city scale.
//!
//! ```text
//! cargo run --release -p fieldcheck-core --example ledger_bench -- [--n 100000] [--runs 200]
//!     [--seed 42] [--dir PATH] [--no-breakdown]
//! ```
//!
//! 1. Reports `n` problems through `Store::report_problem` (varied Chinese descriptions and
//!    addresses, demo points and shipped categories, a clock spread over 90 days) and moves a
//!    realistic share of them through the lifecycle with `Store::act`, scheduled in time order
//!    (file, dispatch to a unit, accept, return, extension, rectify with an after-photo,
//!    verify, close; the rest stay where they are, so old open ones end up overdue).
//!    Every `report_problem` is one transaction and is timed on its own. Every 100 reports a
//!    `catch_up_search` (what the next text search does first) indexes the records written
//!    since the last one; its time is reported apart and shared out per record.
//! 2. Times ledger queries at that size: status + unit, overdue, full-text search with a
//!    3+ character term (trigram MATCH) and a 2-character term (LIKE fallback).
//! 3. Baseline in the same run: plain rusqlite, a separate file with the same pragmas, one
//!    table with the projection's columns, one autocommit INSERT per row of the same rows
//!    through a prepared statement. Prints store/raw ratios.
//! 4. Unless `--no-breakdown`: the same raw INSERTs with the store's schema added piece by
//!    piece (thin row + indexes + state row, search note, event row, meta rows) to show where
//!    the write time goes.
//!
//! Numbers only mean something from a release build.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use fieldcheck_core::domain::event::RejectReason;
use fieldcheck_core::domain::reference::{Point, User};
use fieldcheck_core::domain::{
    Actor, Location, LocationSource, Problem, ProblemStatus, Role, Severity,
};
use fieldcheck_core::protocol::ReferenceBundle;
use fieldcheck_core::{NewProblem, ProblemAction, ProblemQuery, ProblemSort, Store};
use rusqlite::{Connection, params};
use uuid::Uuid;

// ---------------------------------------------------------------------------------------
// Small deterministic PRNG (SplitMix64): reproducible data without extra dependencies.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

// ---------------------------------------------------------------------------------------
// Word lists for realistic Chinese reports.

const STREETS: &[&str] = &[
    "东街",
    "南后街",
    "杨桥东路",
    "五一北路",
    "八一七北路",
    "湖东路",
    "温泉路",
    "五四路",
    "鼓屏路",
    "北大路",
    "华林路",
    "东大路",
    "井大路",
    "安民巷",
    "光禄坊",
    "塔巷",
    "汤边路",
    "屏西路",
    "工业路",
    "铜盘路",
    "乌山路",
    "通湖路",
    "白马北路",
    "西洪路",
    "福飞路",
    "温泉支路",
    "东门路",
    "圣庙路",
    "树兜街",
    "冶山路",
    "中山路",
    "西二环中路",
];

const SPOTS: &[&str] = &[
    "农贸市场门口",
    "小区出入口",
    "公交站旁",
    "学校门口",
    "地铁站B出口",
    "路口东北角",
    "人行道上",
    "绿化带内",
    "巷子深处",
    "垃圾站旁",
    "公厕旁",
    "商铺门前",
    "天桥下",
    "停车场入口",
    "菜市场后门",
    "十字路口西侧",
    "老旧小区楼道",
    "河道边",
    "工地围挡外",
    "幼儿园对面",
];

/// Category, and how people describe it.
const PHRASES: &[(&str, &[&str])] = &[
    (
        "SR-02",
        &[
            "暴露垃圾",
            "生活垃圾散落一地",
            "垃圾未及时清运",
            "建筑垃圾裸露堆放",
        ],
    ),
    ("SR-03", &["积存垃圾渣土", "渣土堆积多日"]),
    ("SR-04", &["路面油污", "道路不洁有泥浆"]),
    (
        "SR-08",
        &["乱堆乱放", "楼道堆放杂物", "沿街晾晒衣物乱吊乱挂"],
    ),
    (
        "JM-03",
        &["占道经营", "流动摊贩占道经营", "水果摊占用人行道"],
    ),
    ("JM-04", &["店外经营", "餐馆出店摆桌经营"]),
    ("JM-01", &["无照游商兜售", "流动摊贩叫卖"]),
    (
        "JT-01",
        &["乱停车", "机动车违停占用盲道", "车辆乱停车堵塞消防通道"],
    ),
    ("JT-08", &["共享单车乱停放", "电动车乱停放"]),
    ("XC-01", &["小广告", "电线杆张贴小广告", "墙面喷涂小广告"]),
    ("XC-06", &["店招破损", "门头招牌污损"]),
    ("SS-01", &["井盖缺失", "井盖破损下沉", "雨水井盖松动"]),
    ("SS-02", &["路灯不亮", "整排路灯夜间不亮"]),
    ("SS-05", &["垃圾桶满溢", "垃圾桶破损"]),
    ("SS-07", &["路面坑洼积水", "积水", "雨后积水严重"]),
    ("TF-03", &["道路积水内涝", "暴雨后路口积水"]),
    ("SG-03", &["施工扬尘", "工地扬尘严重"]),
    ("SG-05", &["工地围挡破损", "围挡不规范"]),
    ("SR-07", &["随地吐痰", "宠物粪便未清理"]),
    ("GY-02", &["公益广告破损褪色", "公益广告牌掉色"]),
];

const QUALIFIERS: &[&str] = &[
    "约2平方米",
    "已持续三天",
    "影响行人通行",
    "存在安全隐患",
    "群众多次反映",
    "早晚高峰尤为严重",
    "请尽快处理",
    "周边居民投诉",
    "",
    "",
];

/// Which unit the office dispatches a major class to (besides the point's territorial unit).
fn sector_units(major: &str) -> &'static [&'static str] {
    match major {
        "SR" => &["u-hwc", "u-zfj"],
        "JM" => &["u-zfj", "u-scjg"],
        "JT" => &["u-jjdd"],
        "XC" => &["u-zfj"],
        "SS" => &["u-zjj", "u-hwc"],
        "TF" => &["u-zjj"],
        "SG" => &["u-zjj", "u-zfj"],
        "GY" => &["u-ylj", "u-jyj"],
        _ => &["u-zfj"],
    }
}

// ---------------------------------------------------------------------------------------

fn demo_bundle() -> ReferenceBundle {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/demo");
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .unwrap_or_else(|e| panic!("cannot read data/demo/{name}: {e}"))
    };
    let mut b = ReferenceBundle {
        districts: serde_json::from_str(&read("districts.json")).unwrap(),
        units: serde_json::from_str(&read("units.json")).unwrap(),
        points: serde_json::from_str(&read("points.json")).unwrap(),
        users: serde_json::from_str(&read("users.json")).unwrap(),
        calendar: Some(serde_json::from_str(&read("calendar.json")).unwrap()),
        ..Default::default()
    };
    // A handler for every unit, so that every dispatched case can move on.
    let missing: Vec<String> = b
        .units
        .iter()
        .filter(|u| !b.users.iter().any(|h| h.unit_id.as_ref() == Some(&u.id)))
        .map(|u| u.id.clone())
        .collect();
    for unit in missing {
        let u: User = serde_json::from_value(serde_json::json!({
            "id": format!("usr-bench-{unit}"),
            "name": "基准测试经办人",
            "role": "unit_handler",
            "unit_id": unit,
        }))
        .unwrap();
        b.users.push(u);
    }
    b
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    File,
    Reject,
    Dispatch,
    Accept,
    Return,
    RequestExtension,
    DecideExtension,
    Rectify,
    Verify,
    Close,
}

struct Tracked {
    id: Uuid,
    major: String,
    territorial: Option<String>,
    unit: Option<String>,
    deadline: Option<DateTime<Utc>>,
}

struct Args {
    n: usize,
    runs: usize,
    seed: u64,
    dir: Option<PathBuf>,
    breakdown: bool,
}

fn parse_args() -> Args {
    let mut a = Args {
        n: 100_000,
        runs: 200,
        seed: 42,
        dir: None,
        breakdown: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = |name: &str| it.next().unwrap_or_else(|| panic!("{name} needs a value"));
        match flag.as_str() {
            "--n" => a.n = val("--n").parse().expect("--n N"),
            "--runs" => a.runs = val("--runs").parse().expect("--runs N"),
            "--seed" => a.seed = val("--seed").parse().expect("--seed N"),
            "--dir" => a.dir = Some(PathBuf::from(val("--dir"))),
            "--no-breakdown" => a.breakdown = false,
            "-h" | "--help" => {
                println!(
                    "ledger_bench [--n 100000] [--runs 200] [--seed 42] [--dir PATH] [--no-breakdown]"
                );
                std::process::exit(0);
            }
            other => panic!("unknown argument {other:?}"),
        }
    }
    a
}

/// Durations in nanoseconds, sorted.
struct Samples(Vec<u64>);

impl Samples {
    fn new(mut v: Vec<u64>) -> Samples {
        v.sort_unstable();
        Samples(v)
    }
    fn pct(&self, p: f64) -> f64 {
        let n = self.0.len();
        if n == 0 {
            return f64::NAN;
        }
        let idx = ((p / 100.0) * n as f64).ceil() as usize;
        self.0[idx.clamp(1, n) - 1] as f64 / 1000.0
    }
    fn mean(&self) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        self.0.iter().sum::<u64>() as f64 / self.0.len() as f64 / 1000.0
    }
    fn max(&self) -> f64 {
        self.0.last().copied().unwrap_or(0) as f64 / 1000.0
    }
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn main() {
    let args = parse_args();
    if cfg!(debug_assertions) {
        eprintln!("warning: debug build; run with --release for meaningful numbers");
    }
    let tmp;
    let dir = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d).unwrap();
            d.clone()
        }
        None => {
            tmp = tempfile::tempdir().unwrap();
            tmp.path().to_path_buf()
        }
    };
    let store_path = dir.join("bench-store.db");
    let raw_path = dir.join("bench-raw.db");
    for p in [&store_path, &raw_path] {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", p.display()));
        }
    }

    println!(
        "ledger_bench: n = {}, query runs = {}, seed = {}, SQLite {}, {} CPUs",
        args.n,
        args.runs,
        args.seed,
        rusqlite::version(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("files in {}", dir.display());

    // ---- Store setup -----------------------------------------------------------------
    let end: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-11-23T02:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let start = end - chrono::Duration::days(90);
    let clock = Arc::new(AtomicI64::new(ms(start)));
    let mut store = Store::open(&store_path).unwrap();
    {
        let c = clock.clone();
        store.set_now(move || {
            DateTime::from_timestamp_millis(c.load(Ordering::Relaxed)).expect("clock in range")
        });
    }
    let bundle = demo_bundle();
    store.import_reference(&bundle).unwrap();
    let points: Vec<Point> = bundle.points.clone();
    let categories = store.categories().unwrap();
    let cat_codes: Vec<String> = categories.iter().map(|c| c.code.clone()).collect();
    let cat_names: BTreeMap<String, String> = categories
        .iter()
        .map(|c| (c.code.clone(), c.minor.zh.clone()))
        .collect();
    let communities: Vec<String> = bundle
        .districts
        .iter()
        .filter(|d| d.parent_id.is_some())
        .map(|d| d.id.clone())
        .collect();
    let reporters: Vec<Actor> = ["usr-vol-1", "usr-vol-2", "usr-vol-3", "usr-vol-4"]
        .iter()
        .chain(&["usr-insp-1", "usr-insp-2", "usr-insp-3", "usr-insp-4"])
        .map(|u| store.actor(u).unwrap())
        .collect();
    let admin = store.actor("usr-admin-1").unwrap();
    let inspector = store.actor("usr-insp-1").unwrap();
    let handlers: BTreeMap<String, Actor> = bundle
        .users
        .iter()
        .filter(|u| u.role == Role::UnitHandler)
        .filter_map(|u| Some((u.unit_id.clone()?, store.actor(&u.id).unwrap())))
        .collect();
    let unit_ids: Vec<String> = bundle.units.iter().map(|u| u.id.clone()).collect();

    // After-photos for rectification: rows as the photo pipeline would leave them.
    let photo_hashes: Vec<String> = (0..64u64)
        .map(|i| format!("{:064x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
        .collect();
    for h in &photo_hashes {
        store
            .connection()
            .execute(
                "INSERT INTO photos (hash, captured_sha256, width, height, display_bytes, created_at)
                 VALUES (?1, ?1, 1600, 1200, 240000, ?2)",
                params![h, ms(start)],
            )
            .unwrap();
    }

    // ---- Phase 1: writes -------------------------------------------------------------
    let mut rng = Rng(args.seed);
    let step_ms = (ms(end) - ms(start)) / args.n.max(1) as i64;
    let mut tracked: Vec<Tracked> = Vec::with_capacity(args.n);
    let mut reported_rows: Vec<Problem> = Vec::with_capacity(args.n);
    let mut report_ns: Vec<u64> = Vec::with_capacity(args.n);
    let mut act_ns: BTreeMap<Step, Vec<u64>> = BTreeMap::new();
    let mut failures: BTreeMap<String, usize> = BTreeMap::new();
    let mut heap: BinaryHeap<Reverse<(i64, u64, usize, Step)>> = BinaryHeap::new();
    let mut job_seq = 0u64;
    let schedule = |heap: &mut BinaryHeap<Reverse<(i64, u64, usize, Step)>>,
                    job_seq: &mut u64,
                    at: i64,
                    idx: usize,
                    step: Step| {
        *job_seq += 1;
        heap.push(Reverse((at, *job_seq, idx, step)));
    };
    const MIN: i64 = 60_000;
    const HOUR: i64 = 60 * MIN;
    const DAY: i64 = 24 * HOUR;

    const CATCH_UP_EVERY: usize = 100;
    let mut catch_up_ns: Vec<u64> = Vec::new();
    let mut catch_up_records = 0usize;
    let phase1 = Instant::now();
    for i in 0..=args.n {
        let t = if i < args.n {
            ms(start) + i as i64 * step_ms + rng.range(0, step_ms - 1)
        } else {
            ms(end)
        };
        // Lifecycle actions that are due before this report, in time order.
        while let Some(Reverse((at, _, idx, step))) = heap.peek().copied() {
            if at > t {
                break;
            }
            heap.pop();
            clock.store(at, Ordering::Relaxed);
            let tr = &tracked[idx];
            let handler = tr.unit.as_ref().and_then(|u| handlers.get(u));
            let (who, action) = match step {
                Step::File => (&admin, ProblemAction::File { note: None }),
                Step::Reject => (
                    &admin,
                    ProblemAction::Reject {
                        reason: RejectReason::Invalid {
                            reason: "现场核实不属于城市管理问题".into(),
                        },
                    },
                ),
                Step::Dispatch => {
                    let pool = sector_units(&tr.major);
                    let mut unit = if rng.chance(0.3) {
                        tr.territorial
                            .clone()
                            .unwrap_or_else(|| rng.pick(pool).to_string())
                    } else {
                        rng.pick(pool).to_string()
                    };
                    if tr.unit.as_ref() == Some(&unit) {
                        // Re-dispatch after a return goes somewhere else.
                        unit = rng.pick(&unit_ids).clone();
                    }
                    (
                        &admin,
                        ProblemAction::Dispatch {
                            unit_id: unit,
                            deadline: None,
                            note: None,
                        },
                    )
                }
                Step::Accept => (handler.unwrap(), ProblemAction::Accept { note: None }),
                Step::Return => (
                    handler.unwrap(),
                    ProblemAction::Return {
                        reason: "不属于本单位职责范围".into(),
                    },
                ),
                Step::RequestExtension => (
                    handler.unwrap(),
                    ProblemAction::RequestExtension {
                        until: Some(tr.deadline.unwrap_or(end) + chrono::Duration::days(3)),
                        until_date: None,
                        reason: "需协调多个部门，申请延期".into(),
                    },
                ),
                Step::DecideExtension => {
                    let approved = rng.chance(0.8);
                    (
                        &admin,
                        ProblemAction::DecideExtension {
                            approved,
                            note: (!approved).then(|| "理由不充分".into()),
                        },
                    )
                }
                Step::Rectify => (
                    handler.unwrap(),
                    ProblemAction::Rectify {
                        photos: vec![rng.pick(&photo_hashes).clone()],
                        note: Some("已清理完毕".into()),
                    },
                ),
                Step::Verify => {
                    let passed = rng.chance(0.9);
                    (
                        &inspector,
                        ProblemAction::Verify {
                            passed,
                            note: (!passed).then(|| "现场仍有残留，需重新整改".into()),
                            photos: vec![],
                        },
                    )
                }
                Step::Close => (&admin, ProblemAction::Close { note: None }),
            };
            let passed_verify = matches!(action, ProblemAction::Verify { passed: true, .. });
            let t0 = Instant::now();
            let res = store.act(who, tr.id, action);
            act_ns
                .entry(step)
                .or_default()
                .push(t0.elapsed().as_nanos() as u64);
            let p = match res {
                Ok(p) => p,
                Err(e) => {
                    *failures
                        .entry(format!("{step:?}: {}", e.code()))
                        .or_default() += 1;
                    continue;
                }
            };
            let tr = &mut tracked[idx];
            tr.unit = p.unit_id.clone();
            tr.deadline = p.deadline;
            let next = match step {
                Step::File => rng
                    .chance(0.88)
                    .then(|| (Step::Dispatch, rng.range(5 * MIN, 3 * HOUR))),
                Step::Dispatch => {
                    let r = rng.below(100);
                    if r < 85 {
                        Some((Step::Accept, rng.range(20 * MIN, 30 * HOUR)))
                    } else if r < 89 {
                        Some((Step::Return, rng.range(HOUR, DAY)))
                    } else {
                        None // never picked up: overdue once the deadline passes
                    }
                }
                Step::Return => rng
                    .chance(0.7)
                    .then(|| (Step::Dispatch, rng.range(HOUR, DAY))),
                Step::Accept => {
                    if rng.chance(0.06) {
                        Some((Step::RequestExtension, rng.range(HOUR, DAY)))
                    } else {
                        rng.chance(0.9)
                            .then(|| (Step::Rectify, rng.range(2 * HOUR, 4 * DAY)))
                    }
                }
                Step::RequestExtension => Some((Step::DecideExtension, rng.range(HOUR, DAY))),
                Step::DecideExtension => rng
                    .chance(0.85)
                    .then(|| (Step::Rectify, rng.range(2 * HOUR, 3 * DAY))),
                Step::Rectify => rng
                    .chance(0.85)
                    .then(|| (Step::Verify, rng.range(HOUR, 2 * DAY))),
                Step::Verify if passed_verify => rng
                    .chance(0.9)
                    .then(|| (Step::Close, rng.range(HOUR, 2 * DAY))),
                Step::Verify => rng
                    .chance(0.8)
                    .then(|| (Step::Accept, rng.range(HOUR, DAY))),
                Step::Reject | Step::Close => None,
            };
            if let Some((s, delay)) = next {
                schedule(&mut heap, &mut job_seq, at + delay, idx, s);
            }
        }
        if i == args.n {
            break;
        }

        // One new report.
        clock.store(t, Ordering::Relaxed);
        let (cat, phrase) = if rng.chance(0.75) {
            let (c, ps) = rng.pick(PHRASES);
            (c.to_string(), rng.pick(ps).to_string())
        } else {
            let c = rng.pick(&cat_codes).clone();
            let name = cat_names[&c].clone();
            (c, name)
        };
        let street = *rng.pick(STREETS);
        let spot = *rng.pick(SPOTS);
        let qual = *rng.pick(QUALIFIERS);
        let description = if qual.is_empty() {
            format!("{street}{spot}{phrase}")
        } else {
            format!("{street}{spot}{phrase}，{qual}")
        };
        let severity = match rng.below(20) {
            0 => Severity::Urgent,
            1..=3 => Severity::High,
            4..=6 => Severity::Low,
            _ => Severity::Normal,
        };
        let (point, new) = if rng.chance(0.7) {
            let p = rng.pick(&points);
            let jitter = |r: &mut Rng| (r.range(-300, 300) as f64) * 1e-6;
            (
                Some(p),
                NewProblem {
                    category: cat.clone(),
                    description,
                    address: format!("{}{spot}", p.address),
                    point_id: Some(p.id.clone()),
                    location: Some(Location {
                        lat: p.location.lat + jitter(&mut rng),
                        lon: p.location.lon + jitter(&mut rng),
                        accuracy_m: Some(rng.range(3, 25) as f64),
                        source: LocationSource::Gps,
                    }),
                    severity,
                    ..Default::default()
                },
            )
        } else {
            (
                None,
                NewProblem {
                    category: cat.clone(),
                    description,
                    address: format!("鼓楼区{street}{}号{spot}", rng.range(1, 300)),
                    district_id: Some(rng.pick(&communities).clone()),
                    location: Some(Location {
                        lat: 26.07 + rng.range(0, 30_000) as f64 * 1e-6,
                        lon: 119.28 + rng.range(0, 30_000) as f64 * 1e-6,
                        accuracy_m: Some(rng.range(3, 40) as f64),
                        source: LocationSource::Gps,
                    }),
                    severity,
                    ..Default::default()
                },
            )
        };
        let who = rng.pick(&reporters);
        let t0 = Instant::now();
        let p = store.report_problem(who, new).expect("report_problem");
        report_ns.push(t0.elapsed().as_nanos() as u64);
        // The search index is brought up to date in batches, by the next text search; a
        // ledger search every CATCH_UP_EVERY reports stands for that here, timed on its own.
        if i % CATCH_UP_EVERY == CATCH_UP_EVERY - 1 {
            let t0 = Instant::now();
            catch_up_records += store.catch_up_search().unwrap();
            catch_up_ns.push(t0.elapsed().as_nanos() as u64);
        }
        let idx = tracked.len();
        tracked.push(Tracked {
            id: p.id,
            major: cat.split('-').next().unwrap_or("SR").to_string(),
            territorial: point.and_then(|p| p.territorial_unit_id.clone()),
            unit: None,
            deadline: None,
        });
        let r = rng.below(100);
        if r < 80 {
            schedule(
                &mut heap,
                &mut job_seq,
                t + rng.range(10 * MIN, 6 * HOUR),
                idx,
                Step::File,
            );
        } else if r < 87 {
            schedule(
                &mut heap,
                &mut job_seq,
                t + rng.range(10 * MIN, 6 * HOUR),
                idx,
                Step::Reject,
            );
        }
        reported_rows.push(p);
    }
    clock.store(ms(end), Ordering::Relaxed);
    {
        let t0 = Instant::now();
        catch_up_records += store.catch_up_search().unwrap();
        catch_up_ns.push(t0.elapsed().as_nanos() as u64);
    }
    let phase1_time = phase1.elapsed();
    let acts: usize = act_ns.values().map(Vec::len).sum();

    // What the ledger looks like now.
    let stats = store.stats().unwrap();
    let events: i64 = store
        .connection()
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    store
        .connection()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    let store_bytes = std::fs::metadata(&store_path).map_or(0, |m| m.len());
    println!();
    println!(
        "phase 1: {} reports + {} lifecycle actions ({} events) in {:.1} s; store file {:.0} MiB",
        report_ns.len(),
        acts,
        events,
        phase1_time.as_secs_f64(),
        store_bytes as f64 / (1024.0 * 1024.0)
    );
    let by_status: Vec<String> = stats
        .by_status
        .iter()
        .map(|(s, n)| format!("{} {n}", s.as_str()))
        .collect();
    println!("  by status: {}", by_status.join(", "));
    println!(
        "  overdue (open, deadline before the final clock): {}",
        stats.overdue
    );
    if !failures.is_empty() {
        println!("  refused actions (unexpected): {failures:?}");
    }

    // ---- Phase 2: ledger queries -----------------------------------------------------
    let dispatched_units: Vec<String> = stats
        .units
        .iter()
        .filter(|u| u.tally.assigned > 0)
        .map(|u| u.unit_id.clone())
        .collect();
    let long_terms = [
        "占道经营",
        "井盖缺失",
        "八一七北路",
        "暴露垃圾",
        "小广告",
        "乱停车",
        "积水严重",
        "农贸市场",
        "存在安全隐患",
        "共享单车",
        "路灯不亮",
        "工地扬尘严重",
        "鼓屏路",
        "地铁站B出口",
        "楼道堆放杂物",
    ];
    let short_terms = [
        "积水", "井盖", "垃圾", "广告", "东街", "路灯", "摊贩", "扬尘", "杂物", "违停", "围挡",
        "招牌",
    ];
    let mut qrng = Rng(args.seed ^ 0xA5A5);
    type MakeQuery<'a> = Box<dyn FnMut(&mut Rng) -> ProblemQuery + 'a>;
    let cases: Vec<(&str, MakeQuery)> = vec![
        (
            "status=dispatched + unit",
            Box::new(|r: &mut Rng| ProblemQuery {
                statuses: vec![ProblemStatus::Dispatched],
                unit_id: Some(r.pick(&dispatched_units).clone()),
                offset: if r.chance(0.2) { 50 } else { 0 },
                ..Default::default()
            }),
        ),
        (
            "overdue",
            Box::new(|r: &mut Rng| ProblemQuery {
                overdue: true,
                sort: if r.chance(0.5) {
                    ProblemSort::Deadline
                } else {
                    ProblemSort::Newest
                },
                offset: 50 * r.below(3) as u32,
                ..Default::default()
            }),
        ),
        (
            "text, 3+ chars (bigram phrase)",
            Box::new(|r: &mut Rng| ProblemQuery {
                text: Some(r.pick(&long_terms).to_string()),
                ..Default::default()
            }),
        ),
        (
            "text, 2 chars (one bigram)",
            Box::new(|r: &mut Rng| ProblemQuery {
                text: Some(r.pick(&short_terms).to_string()),
                ..Default::default()
            }),
        ),
    ];
    let mut query_results: Vec<(String, Samples, f64)> = Vec::new();
    for (name, mut make) in cases {
        let mut ns = Vec::with_capacity(args.runs);
        let mut totals = 0u64;
        for _ in 0..args.runs {
            let q = make(&mut qrng);
            let t0 = Instant::now();
            let page = store.list_problems(&q).unwrap();
            ns.push(t0.elapsed().as_nanos() as u64);
            totals += page.total;
        }
        query_results.push((
            name.to_string(),
            Samples::new(ns),
            totals as f64 / args.runs as f64,
        ));
    }
    drop(store);

    // ---- Phase 3: raw rusqlite baseline ----------------------------------------------
    let rows: Vec<RawRow> = reported_rows.iter().map(RawRow::from).collect();
    drop(reported_rows);
    let raw = raw_insert(&raw_path, &rows, Variant::Plain);

    // ---- Report ----------------------------------------------------------------------
    let rep = Samples::new(report_ns);
    println!();
    println!("WRITES (one transaction per record, µs)        p50      p99     mean      max");
    let row = |name: &str, s: &Samples| {
        println!(
            "  {name:<42} {:>8.1} {:>8.1} {:>8.1} {:>8.1}",
            s.pct(50.0),
            s.pct(99.0),
            s.mean(),
            s.max()
        );
    };
    row("store.report_problem", &rep);
    row("raw rusqlite INSERT (baseline)", &raw);
    let all_acts = Samples::new(act_ns.values().flatten().copied().collect());
    let slow = |s: &Samples, ms: u64| s.0.iter().filter(|&&ns| ns > ms * 1_000_000).count();
    println!(
        "  writes over 10 ms: {} reports, {} actions; over 100 ms: {} reports, {} actions",
        slow(&rep, 10),
        slow(&all_acts, 10),
        slow(&rep, 100),
        slow(&all_acts, 100)
    );
    row(
        &format!("store.act, all {} actions", all_acts.0.len()),
        &all_acts,
    );
    for (step, v) in &act_ns {
        row(
            &format!("  act {step:?} ({})", v.len()),
            &Samples::new(v.clone()),
        );
    }
    let catch_up = Samples::new(catch_up_ns);
    let catch_up_per_record = catch_up.mean() * catch_up.0.len() as f64 / catch_up_records as f64;
    row(
        &format!(
            "search catch-up, {} calls ({} records)",
            catch_up.0.len(),
            catch_up_records
        ),
        &catch_up,
    );
    println!(
        "  search catch-up per record indexed: {catch_up_per_record:.1} µs; report + its share: mean {:.1} µs",
        rep.mean() + catch_up_per_record
    );
    println!(
        "  ratio store/raw: p50 {:.2}x, mean {:.2}x, p99 {:.2}x; mean with the catch-up share {:.2}x",
        rep.pct(50.0) / raw.pct(50.0),
        rep.mean() / raw.mean(),
        rep.pct(99.0) / raw.pct(99.0),
        (rep.mean() + catch_up_per_record) / raw.mean()
    );
    println!();
    println!(
        "LEDGER QUERIES at {} problems ({} runs each, ms)   p50      p95      max   avg total",
        rows.len(),
        args.runs
    );
    for (name, s, avg_total) in &query_results {
        println!(
            "  {name:<42} {:>8.2} {:>8.2} {:>8.2} {:>10.0}",
            s.pct(50.0) / 1000.0,
            s.pct(95.0) / 1000.0,
            s.max() / 1000.0,
            avg_total
        );
    }

    println!();
    println!("TARGETS");
    let verdict = |ok: bool| if ok { "ok" } else { "MISSED" };
    println!(
        "  record write p99 <= 2 ms: {:.3} ms  {}",
        rep.pct(99.0) / 1000.0,
        verdict(rep.pct(99.0) <= 2000.0)
    );
    let ratio = rep.pct(50.0) / raw.pct(50.0);
    // The honest mean: the write itself plus its share of the search index's catch-up.
    let ratio_mean = (rep.mean() + catch_up_per_record) / raw.mean();
    println!(
        "  write cost <= 4x raw: p50 {ratio:.2}x, mean (with catch-up share) {ratio_mean:.2}x  {}",
        verdict(ratio <= 4.0 && ratio_mean <= 4.0)
    );
    for (name, s, _) in &query_results {
        println!(
            "  {name} p95 <= 20 ms: {:.2} ms  {}",
            s.pct(95.0) / 1000.0,
            verdict(s.pct(95.0) <= 20_000.0)
        );
    }

    // ---- Breakdown ---------------------------------------------------------------------
    if args.breakdown {
        println!();
        println!(
            "WHERE THE WRITE TIME GOES (raw rusqlite, same rows, store schema added step by step, µs)"
        );
        println!("                                                  p50      p99     mean");
        let mut prev = f64::NAN;
        for v in [
            Variant::Plain,
            Variant::Layout,
            Variant::LayoutSearch,
            Variant::LayoutSearchEvent,
            Variant::Full,
        ] {
            let s = raw_insert(&raw_path, &rows, v);
            let delta = if prev.is_nan() {
                String::new()
            } else {
                format!("  (+{:.1} mean)", s.mean() - prev)
            };
            prev = s.mean();
            println!(
                "  {:<44} {:>8.1} {:>8.1} {:>8.1}{delta}",
                v.label(),
                s.pct(50.0),
                s.pct(99.0),
                s.mean()
            );
        }
        println!(
            "  {:<44} {:>8.1} {:>8.1} {:>8.1}  (+{:.1} mean: reads, JSON, domain rules)",
            "store.report_problem (for comparison)",
            rep.pct(50.0),
            rep.pct(99.0),
            rep.mean(),
            rep.mean() - prev
        );
    }
}

// ---------------------------------------------------------------------------------------
// Raw baseline.

/// The projection row of a freshly reported problem, with every value already computed so
/// the timed part is SQLite alone.
struct RawRow {
    id: String,
    code: String,
    status: &'static str,
    category: String,
    description: String,
    address: String,
    lat: Option<f64>,
    lon: Option<f64>,
    district_id: Option<String>,
    point_id: Option<String>,
    reporter: String,
    severity: &'static str,
    reported_at: i64,
    state: String,
    event_id: String,
    event_body: String,
    hlc: String,
}

impl From<&Problem> for RawRow {
    fn from(p: &Problem) -> RawRow {
        let state = serde_json::to_string(p).unwrap();
        RawRow {
            id: p.id.to_string(),
            code: p.code.clone(),
            status: p.status.as_str(),
            category: p.category.clone(),
            description: p.description.clone(),
            address: p.address.clone(),
            lat: p.location.map(|l| l.lat),
            lon: p.location.map(|l| l.lon),
            district_id: p.district_id.clone(),
            point_id: p.point_id.clone(),
            reporter: p.reporter.clone(),
            severity: p.severity.as_str(),
            reported_at: p.reported_at.timestamp_millis(),
            // An event body is about the size of the state it creates.
            event_body: state.clone(),
            state,
            event_id: Uuid::now_v7().to_string(),
            hlc: format!("{:013}-0000-bench", p.reported_at.timestamp_millis()),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Variant {
    /// The baseline: one table with the projection's columns and the state, primary key only.
    Plain,
    /// The store's layout: thin `problems` (rid, unique id, five indexes) + `problem_states`.
    Layout,
    /// + the search index's pending note (trigger).
    LayoutSearch,
    /// + the event row (events table with its indexes), all in one BEGIN IMMEDIATE..COMMIT.
    LayoutSearchEvent,
    /// + the two meta rows the store updates (problem_seq, hlc_last).
    Full,
}

impl Variant {
    fn label(self) -> &'static str {
        match self {
            Variant::Plain => "plain table (baseline)",
            Variant::Layout => "store layout: thin row + 5 indexes + state row",
            Variant::LayoutSearch => "+ search index pending note (trigger)",
            Variant::LayoutSearchEvent => "+ event row (BEGIN IMMEDIATE..COMMIT)",
            Variant::Full => "+ 2 meta upserts",
        }
    }
}

const RAW_TABLE: &str = "
CREATE TABLE problems (
    id TEXT PRIMARY KEY, code TEXT NOT NULL, status TEXT NOT NULL, category TEXT NOT NULL,
    description TEXT NOT NULL, address TEXT NOT NULL, lat REAL, lon REAL, district_id TEXT,
    point_id TEXT, inspection_id TEXT, reporter TEXT NOT NULL, severity TEXT NOT NULL,
    unit_id TEXT, deadline INTEGER, rework_count INTEGER NOT NULL, reported_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL, rectified_at INTEGER, closed_at INTEGER,
    rejected_events INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL
) STRICT;";

/// migrations/device/0003_thin_ledger.sql, the parts a report writes.
const STORE_LAYOUT: &str = "
CREATE TABLE problems (
    rid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, code TEXT NOT NULL, status TEXT NOT NULL,
    category TEXT NOT NULL, description TEXT NOT NULL, address TEXT NOT NULL, lat REAL, lon REAL,
    district_id TEXT, point_id TEXT, inspection_id TEXT, reporter TEXT NOT NULL,
    severity TEXT NOT NULL, unit_id TEXT, deadline INTEGER, rework_count INTEGER NOT NULL,
    reported_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, rectified_at INTEGER,
    closed_at INTEGER, rejected_events INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE problem_states (rid INTEGER PRIMARY KEY, state TEXT NOT NULL) STRICT;
CREATE INDEX problems_code ON problems(code);
CREATE INDEX problems_status_unit ON problems(status, unit_id, reported_at);
CREATE INDEX problems_reported ON problems(reported_at);
CREATE INDEX problems_point ON problems(point_id);
CREATE INDEX problems_open_deadline ON problems(deadline, reported_at, id)
    WHERE status IN ('dispatched', 'rectifying');";

const RAW_SEARCH: &str = "
CREATE TABLE search_pending (rid INTEGER PRIMARY KEY, reindex INTEGER NOT NULL) STRICT;
CREATE TRIGGER problems_ai AFTER INSERT ON problems BEGIN
    INSERT INTO search_pending (rid, reindex) VALUES (new.rid, 0);
END;";

const RAW_EVENTS: &str = "
CREATE TABLE events (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, entity TEXT NOT NULL,
    entity_id TEXT NOT NULL, kind TEXT NOT NULL, actor TEXT NOT NULL, role TEXT NOT NULL,
    device TEXT NOT NULL, hlc TEXT NOT NULL, body TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('applied', 'rejected')), reject_code TEXT,
    reject_message TEXT, origin TEXT NOT NULL CHECK (origin IN ('local', 'remote')),
    pushed_at INTEGER, server_seq INTEGER, refused INTEGER NOT NULL DEFAULT 0,
    server_outcome TEXT
) STRICT;
CREATE INDEX events_entity ON events(entity_id, hlc, id);
CREATE INDEX events_outbox ON events(seq) WHERE pushed_at IS NULL AND origin = 'local';
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;";

fn raw_insert(path: &Path, rows: &[RawRow], v: Variant) -> Samples {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let mut conn = Connection::open(path).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    conn.pragma_update(None, "foreign_keys", "ON").unwrap();
    if matches!(v, Variant::Plain) {
        conn.execute_batch(RAW_TABLE).unwrap();
    } else {
        conn.execute_batch(STORE_LAYOUT).unwrap();
    }
    if matches!(
        v,
        Variant::LayoutSearch | Variant::LayoutSearchEvent | Variant::Full
    ) {
        conn.execute_batch(RAW_SEARCH).unwrap();
    }
    if matches!(v, Variant::LayoutSearchEvent | Variant::Full) {
        conn.execute_batch(RAW_EVENTS).unwrap();
    }
    const INSERT_PLAIN: &str = "INSERT INTO problems (id, code, status, category, description,
        address, lat, lon, district_id, point_id, inspection_id, reporter, severity, unit_id,
        deadline, rework_count, reported_at, updated_at, rectified_at, closed_at,
        rejected_events, state)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL, ?11, ?12, NULL, NULL, 0, ?13,
                ?13, NULL, NULL, 0, ?14)";
    const INSERT_THIN: &str = "INSERT INTO problems (id, code, status, category, description,
        address, lat, lon, district_id, point_id, inspection_id, reporter, severity, unit_id,
        deadline, rework_count, reported_at, updated_at, rectified_at, closed_at,
        rejected_events)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL, ?11, ?12, NULL, NULL, 0, ?13,
                ?13, NULL, NULL, 0)
        RETURNING rid";
    let problem = |conn: &Connection, r: &RawRow| {
        let columns = params![
            r.id,
            r.code,
            r.status,
            r.category,
            r.description,
            r.address,
            r.lat,
            r.lon,
            r.district_id,
            r.point_id,
            r.reporter,
            r.severity,
            r.reported_at,
        ];
        if matches!(v, Variant::Plain) {
            let mut with_state = columns.to_vec();
            with_state.push(&r.state);
            conn.prepare_cached(INSERT_PLAIN)
                .unwrap()
                .execute(with_state.as_slice())
                .unwrap();
            return;
        }
        let rid: i64 = conn
            .prepare_cached(INSERT_THIN)
            .unwrap()
            .query_row(columns, |row| row.get(0))
            .unwrap();
        conn.prepare_cached("INSERT INTO problem_states (rid, state) VALUES (?1, ?2)")
            .unwrap()
            .execute(params![rid, r.state])
            .unwrap();
    };
    let mut ns = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let t0 = Instant::now();
        if matches!(v, Variant::Plain) {
            // One autocommit statement per row: its own transaction, like one store action.
            problem(&conn, r);
        } else {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .unwrap();
            if matches!(v, Variant::LayoutSearchEvent | Variant::Full) {
                tx.prepare_cached(
                    "INSERT INTO events (id, entity, entity_id, kind, actor, role, device, hlc,
                         body, outcome, reject_code, reject_message, origin)
                     VALUES (?1, 'problem', ?2, 'problem.reported', ?3, 'volunteer', 'bench',
                             ?4, ?5, 'applied', NULL, NULL, 'local')",
                )
                .unwrap()
                .execute(params![r.event_id, r.id, r.reporter, r.hlc, r.event_body])
                .unwrap();
            }
            problem(&tx, r);
            if matches!(v, Variant::Full) {
                let mut meta = tx
                    .prepare_cached(
                        "INSERT INTO meta (key, value) VALUES (?1, ?2)
                         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    )
                    .unwrap();
                meta.execute(params!["problem_seq", (i + 1).to_string()])
                    .unwrap();
                meta.execute(params!["hlc_last", r.hlc]).unwrap();
            }
            tx.commit().unwrap();
        }
        ns.push(t0.elapsed().as_nanos() as u64);
    }
    Samples::new(ns)
}
