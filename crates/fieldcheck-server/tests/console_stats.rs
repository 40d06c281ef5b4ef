//! The console's overview, ranking, map and reference lists (issue 14) over real HTTP, on
//! SQLite and on PostgreSQL, against problems pushed through the real push path by the
//! reporters', the office's and the units' devices with known dispatch, deadline, rectify and
//! close times: closed on time, closed late, overdue and unhandled, reworked, returned, and
//! one outside the period; each role's scope; bad periods; no session.

mod common;

use chrono::{DateTime, Utc};
use common::*;
use fieldcheck_domain::event::{EventBody, ProblemReported};
use fieldcheck_domain::problem::{Location, LocationSource};
use fieldcheck_domain::reference::User;
use fieldcheck_domain::{Event, Severity};
use fieldcheck_protocol::sync::PushStatus;
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn t(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap()
}

struct Report {
    district: &'static str,
    point: Option<&'static str>,
    location: Option<(f64, f64)>,
    at: i64,
}

fn report_event(u: &User, entity: Uuid, r: &Report) -> Event {
    ev(
        u,
        entity,
        r.at,
        EventBody::ProblemReported(Box::new(ProblemReported {
            code: format!("GL-STATS-{}", &entity.simple().to_string()[20..]),
            category: "SR-02".into(),
            description: "暴露垃圾".into(),
            location: r.location.map(|(lat, lon)| Location {
                lat,
                lon,
                accuracy_m: None,
                source: LocationSource::Gps,
            }),
            address: "测试路 1 号".into(),
            district_id: Some(r.district.into()),
            point_id: r.point.map(str::to_owned),
            item_id: None,
            inspection_id: None,
            severity: Severity::default(),
            placement: None,
        })),
    )
}

fn dispatch(u: &User, id: Uuid, unit: &str, at: i64, deadline: i64) -> Event {
    ev(
        u,
        id,
        at,
        EventBody::ProblemDispatched {
            unit_id: unit.into(),
            deadline: t(deadline),
            note: None,
        },
    )
}

fn verify(u: &User, id: Uuid, at: i64, passed: bool, new_deadline: Option<i64>) -> Event {
    ev(
        u,
        id,
        at,
        EventBody::ProblemVerified {
            passed,
            note: (!passed).then(|| "还有垃圾".to_owned()),
            deadline: new_deadline.map(t),
        },
    )
}

fn returned(u: &User, id: Uuid, at: i64) -> Event {
    ev(
        u,
        id,
        at,
        EventBody::ProblemReturned {
            reason: "不属于本单位".into(),
        },
    )
}

const PHOTO: &str = "4f3c2a1b4f3c2a1b4f3c2a1b4f3c2a1b4f3c2a1b4f3c2a1b4f3c2a1b4f3c2a1b";

/// Pushes and checks each event was stored and applied by the fold (or, with `rejected`,
/// stored and rejected by it).
async fn push(s: &Server, token: &str, events: Vec<Event>, rejected: bool) {
    let r = s.push(token, events).await;
    for res in &r.results {
        assert!(matches!(res.status, PushStatus::Applied), "{res:?}");
        let was_rejected = matches!(
            res.outcome,
            Some(fieldcheck_domain::event::EventOutcome::Rejected { .. })
        );
        assert_eq!(was_rejected, rejected, "{res:?}");
    }
}

/// The city of this test, `D` = 20 days ago:
///
/// | | district | unit | dispatched | deadline | then |
/// |---|---|---|---|---|---|
/// | A | c-dm (p-009, a farmers' market) | u-s-dj | D | D+3d | rectified D+1d, verified, closed: on time |
/// | B | c-dm, GPS | u-s-dj | D | D+1d | rectified D+2d, closed: late |
/// | C | c-dm | u-s-dj | D | D+1d | nothing: overdue, unhandled |
/// | E | c-dm | u-s-dj | D | D+3d | rectified D+1d, check failed (new deadline D+5d), rectified D+4d, closed: reworked, on time |
/// | F | c-gl | u-jjdd | D | now+10h | accepted: due within 24 h |
/// | G | c-gl | u-jjdd | D | D+3d | returned: counts for nobody |
/// | L | c-dm | u-jjdd | D | D+3d | rectified D+1d: waits for the check |
/// | H | c-dm | u-s-dj | now-60d | now-57d | nothing: overdue, in an earlier period |
/// | K | c-dm | — | — | — | reported now, a closing on it rejected by the fold (a conflict) |
struct City {
    now: i64,
    a: Uuid,
    b: Uuid,
    k: Uuid,
}

async fn city(s: &Server) -> City {
    let now = now_ms();
    let d = now - 20 * DAY;
    let insp = user("usr-insp-1");
    let admin = user("usr-admin-1");
    let hdl1 = user("usr-hdl-1");
    let hdl2 = user("usr-hdl-2");
    let insp_t = s.enroll("usr-insp-1").await;
    let admin_t = s.enroll("usr-admin-1").await;
    let hdl1_t = s.enroll("usr-hdl-1").await;
    let hdl2_t = s.enroll("usr-hdl-2").await;
    let ids: Vec<Uuid> = (0..9).map(|_| Uuid::now_v7()).collect();
    let [a, b, c, e, f, g, l, h, k] = ids[..] else {
        unreachable!()
    };
    let rep = |district, at| Report {
        district,
        point: None,
        location: None,
        at,
    };
    let reports = vec![
        report_event(
            &insp,
            a,
            &Report {
                point: Some("p-009"),
                ..rep("c-dm", d - HOUR)
            },
        ),
        report_event(
            &insp,
            b,
            &Report {
                location: Some((26.08, 119.29)),
                ..rep("c-dm", d - HOUR)
            },
        ),
        report_event(&insp, c, &rep("c-dm", d - HOUR)),
        report_event(&insp, e, &rep("c-dm", d - HOUR)),
        report_event(&insp, f, &rep("c-gl", d - HOUR)),
        report_event(&insp, g, &rep("c-gl", d - HOUR)),
        report_event(&insp, l, &rep("c-dm", d - HOUR)),
        report_event(&insp, h, &rep("c-dm", now - 61 * DAY)),
        report_event(&insp, k, &rep("c-dm", now)),
    ];
    push(s, &insp_t, reports, false).await;
    let mut office = Vec::new();
    for (id, unit, at, deadline) in [
        (a, "u-s-dj", d, d + 3 * DAY),
        (b, "u-s-dj", d, d + DAY),
        (c, "u-s-dj", d, d + DAY),
        (e, "u-s-dj", d, d + 3 * DAY),
        (f, "u-jjdd", d, now + 10 * HOUR),
        (g, "u-jjdd", d, d + 3 * DAY),
        (l, "u-jjdd", d, d + 3 * DAY),
        (h, "u-s-dj", now - 60 * DAY, now - 57 * DAY),
    ] {
        office.push(filed(&admin, id, at - HOUR / 2));
        office.push(dispatch(&admin, id, unit, at, deadline));
    }
    push(s, &admin_t, office, false).await;
    let mut unit1 = Vec::new();
    for (id, done) in [(a, d + DAY), (b, d + 2 * DAY), (e, d + DAY)] {
        unit1.push(accepted(&hdl1, id, d + HOUR));
        unit1.push(rectified(&hdl1, id, done, PHOTO));
    }
    push(s, &hdl1_t, unit1, false).await;
    push(
        s,
        &hdl2_t,
        vec![
            accepted(&hdl2, f, d + HOUR),
            returned(&hdl2, g, d + HOUR),
            accepted(&hdl2, l, d + HOUR),
            rectified(&hdl2, l, d + DAY, PHOTO),
        ],
        false,
    )
    .await;
    // E fails its check and goes back with a new deadline.
    push(
        s,
        &admin_t,
        vec![
            verify(&admin, e, d + DAY + HOUR, false, Some(d + 5 * DAY)),
            verify(&admin, a, d + 2 * DAY, true, None),
            closed(&admin, a, d + 2 * DAY + HOUR),
            verify(&admin, b, d + 3 * DAY, true, None),
            closed(&admin, b, d + 3 * DAY + HOUR),
        ],
        false,
    )
    .await;
    push(
        s,
        &hdl1_t,
        vec![
            accepted(&hdl1, e, d + 2 * DAY),
            rectified(&hdl1, e, d + 4 * DAY, PHOTO),
        ],
        false,
    )
    .await;
    push(
        s,
        &admin_t,
        vec![
            verify(&admin, e, d + 4 * DAY + HOUR, true, None),
            closed(&admin, e, d + 4 * DAY + 2 * HOUR),
        ],
        false,
    )
    .await;
    // Closing a report nobody filed: kept, and rejected by the fold.
    push(s, &admin_t, vec![closed(&admin, k, now + 1000)], true).await;
    City { now, a, b, k }
}

async fn cookie(s: &Server, u: &str) -> String {
    s.console_sign_in(u).await.cookie
}

async fn get(s: &Server, cookie: &str, path: &str) -> Value {
    let r = s.console_get(cookie, path).await;
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    r.json().await.unwrap()
}

fn day(ms: i64) -> chrono::NaiveDate {
    bundle().calendar.unwrap().local_day(t(ms))
}

/// `(received, due, rectified, closed, closed_on_time, overdue_unhandled, reworked)`.
fn counts(r: &Value) -> [u64; 7] {
    [
        "received",
        "due",
        "rectified",
        "closed",
        "closed_on_time",
        "overdue_unhandled",
        "reworked",
    ]
    .map(|k| r[k].as_u64().unwrap_or_else(|| panic!("{k} in {r}")))
}

fn rates(r: &Value) -> [f64; 3] {
    ["rectification_rate", "on_time_rate", "rework_rate"].map(|k| r[k].as_f64().unwrap())
}

fn ids(rows: &Value) -> Vec<&str> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect()
}

async fn ranking_counts_each_kind_of_case(pg: bool) {
    let env = Env::new(pg, |_| {})
        .await
        .expect("PostgreSQL at 127.0.0.1:5432 (db test) must be reachable");
    let s = &env.s;
    let c = city(s).await;
    let admin = cookie(s, "usr-admin-1").await;
    let period = format!(
        "period=custom&from={}&to={}",
        day(c.now - 25 * DAY),
        day(c.now)
    );
    let r = get(s, &admin, &format!("/console/ranking?{period}")).await;
    assert_eq!(r["by"], "unit");
    assert_eq!(r["period"], "custom");
    assert_eq!(r["from"], day(c.now - 25 * DAY).to_string());
    assert_eq!(r["to"], day(c.now).to_string());
    assert_eq!(ids(&r["rows"]), ["u-s-dj", "u-jjdd"]);
    let dj = &r["rows"][0];
    assert_eq!(dj["rank"], 1);
    assert_eq!(dj["name"], "东街街道办事处");
    // A on time, B late, C overdue, E reworked and on time; H was received earlier.
    assert_eq!(counts(dj), [4, 4, 3, 3, 2, 1, 1]);
    assert_eq!(rates(dj), [0.75, 0.5, 0.25]);
    // F due tomorrow, L waiting for the check; G returned counts for nobody.
    let jj = &r["rows"][1];
    assert_eq!(jj["rank"], 2);
    assert_eq!(counts(jj), [2, 1, 1, 0, 0, 0, 0]);
    assert_eq!(rates(jj), [0.5, 0.0, 0.0]);
    // The trend: the six periods of the same length before, then this one.
    let trend = r["trend"].as_array().unwrap();
    assert_eq!(trend.len(), 7);
    assert_eq!(trend[6]["period_start"], r["from"]);
    assert_eq!(trend[6]["period_end"], r["to"]);
    assert_eq!(ids(&trend[6]["rows"]), ["u-s-dj", "u-jjdd"]);
    assert_eq!(trend[6]["rows"][0]["rectification_rate"], 0.75);
    // H, dispatched 60 days ago, lies two periods (of 26 days) back, unhandled.
    assert_eq!(ids(&trend[4]["rows"]), ["u-s-dj"]);
    assert_eq!(trend[4]["rows"][0]["received"], 1);
    assert_eq!(trend[4]["rows"][0]["rectification_rate"], 0.0);
    for i in [0, 1, 2, 3, 5] {
        assert!(trend[i]["rows"].as_array().unwrap().is_empty(), "{i}");
    }
    let starts: Vec<&str> = trend
        .iter()
        .map(|p| p["period_start"].as_str().unwrap())
        .collect();
    assert!(starts.windows(2).all(|w| w[0] < w[1]), "{starts:?}");

    // The same by street: c-dm lies in 东街 (s-dj), c-gl in 南街 (s-nj).
    let r = get(s, &admin, &format!("/console/ranking?{period}&by=district")).await;
    assert_eq!(r["level"], "street");
    assert_eq!(ids(&r["rows"]), ["s-dj", "s-nj"]);
    assert_eq!(r["rows"][0]["name"], "东街街道");
    // A, B, C, E and L (dispatched to the traffic police, in 东门社区).
    assert_eq!(counts(&r["rows"][0]), [5, 5, 4, 3, 2, 1, 1]);
    assert_eq!(counts(&r["rows"][1]), [1, 0, 0, 0, 0, 0, 0]);
    let r = get(
        s,
        &admin,
        &format!("/console/ranking?{period}&by=district&level=community"),
    )
    .await;
    assert_eq!(ids(&r["rows"]), ["c-dm", "c-gl"]);
    let r = get(
        s,
        &admin,
        &format!("/console/ranking?{period}&by=district&level=district"),
    )
    .await;
    assert_eq!(ids(&r["rows"]), ["d-gl"]);
    assert_eq!(counts(&r["rows"][0])[0], 6);

    // A period that ended before D: only H's.
    let old = format!(
        "period=custom&from={}&to={}",
        day(c.now - 61 * DAY),
        day(c.now - 40 * DAY)
    );
    let r = get(s, &admin, &format!("/console/ranking?{old}")).await;
    assert_eq!(ids(&r["rows"]), ["u-s-dj"]);
    // H's deadline passed inside that period: due, overdue now.
    assert_eq!(counts(&r["rows"][0]), [1, 1, 0, 0, 0, 1, 0]);

    // Calendar periods: this month (from its first day), this week (from Monday).
    let r = get(s, &admin, "/console/ranking").await;
    assert_eq!(r["period"], "month");
    let today = day(c.now);
    assert_eq!(r["from"], today.format("%Y-%m-01").to_string());
    assert_eq!(r["trend"].as_array().unwrap().len(), 7);
    let r = get(s, &admin, "/console/ranking?period=week").await;
    let monday: chrono::NaiveDate = serde_json::from_value(r["from"].clone()).unwrap();
    assert_eq!(chrono::Datelike::weekday(&monday), chrono::Weekday::Mon);
    assert!(r["to"].as_str().unwrap() >= today.to_string().as_str());
    let r = get(s, &admin, "/console/ranking?period=quarter&from=2026-05-20").await;
    assert_eq!(
        (r["from"].as_str(), r["to"].as_str()),
        (Some("2026-04-01"), Some("2026-06-30"))
    );
    assert_eq!(r["trend"][0]["period_start"], "2024-10-01");
    env.finish().await;
}
both_backends!(ranking_counts_each_kind_of_case);

async fn overview_counts_and_todo(pg: bool) {
    let env = Env::new(pg, |_| {})
        .await
        .expect("PostgreSQL at 127.0.0.1:5432 (db test) must be reachable");
    let s = &env.s;
    let c = city(s).await;
    let admin = cookie(s, "usr-admin-1").await;
    let o = get(s, &admin, "/console/overview").await;
    let by = &o["counts_by_status"];
    assert_eq!(by["closed"], 3, "{o}");
    assert_eq!(by["dispatched"], 2);
    assert_eq!(by["rectifying"], 1);
    assert_eq!(by["returned"], 1);
    assert_eq!(by["rectified"], 1);
    assert_eq!(by["reported"], 1);
    assert_eq!(by["verified"], 0);
    assert_eq!(o["total"], 9);
    assert_eq!(o["overdue"], 2, "C and H");
    assert_eq!(o["due_within_24h"], 1, "F");
    assert_eq!(o["new_today"], 1, "K");
    assert_eq!(o["awaiting_verification"], 1, "L");
    let days = o["per_day"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    assert_eq!(days[29]["day"], day(c.now).to_string());
    let sum = |k: &str| days.iter().map(|d| d[k].as_u64().unwrap()).sum::<u64>();
    // H was reported 61 days ago; A, B, E closed 17–18 days ago.
    assert_eq!((sum("reported"), sum("closed")), (8, 3));
    assert_eq!(days[29]["reported"], 1);
    let closed_a = day(c.now - 20 * DAY + 2 * DAY + HOUR).to_string();
    let on = days.iter().find(|d| d["day"] == closed_a.as_str()).unwrap();
    assert!(on["closed"].as_u64().unwrap() >= 1);
    // The office's to-do: K to file, G to re-dispatch.
    assert_eq!(o["todo_total"], 2);
    assert_eq!(o["todo"].as_array().unwrap().len(), 2);
    assert!(
        o["todo_query"]
            .as_str()
            .unwrap()
            .starts_with("status=reported,returned")
    );

    // A unit handler: their unit's problems only; their to-do is C and H (the ones to work
    // on), earliest deadline first.
    let hdl = cookie(s, "usr-hdl-1").await;
    let o = get(s, &hdl, "/console/overview").await;
    assert_eq!(o["total"], 5, "A, B, C, E, H");
    assert_eq!(o["overdue"], 2);
    assert_eq!(o["due_within_24h"], 0);
    assert_eq!(o["new_today"], 0);
    assert_eq!(o["todo_total"], 2);
    let todo: Vec<&str> = o["todo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(todo, ["dispatched", "dispatched"]);
    assert!(o["todo"][0]["deadline"].as_str() < o["todo"][1]["deadline"].as_str());
    assert!(o["todo_query"].as_str().unwrap().contains("unit=u-s-dj"));
    // An inspector of 东街: everything in it (not F, G in 南街); to check: L.
    let insp = cookie(s, "usr-insp-1").await;
    let o = get(s, &insp, "/console/overview").await;
    // The inspector reported all nine; their own reports are theirs to see.
    assert_eq!(o["total"], 9);
    assert_eq!(o["todo_total"], 1);
    let insp2 = cookie(s, "usr-insp-2").await;
    let o = get(s, &insp2, "/console/overview").await;
    assert_eq!(o["total"], 2, "F and G in 南街");
    assert_eq!(o["due_within_24h"], 1);
    env.finish().await;
}
both_backends!(overview_counts_and_todo);

async fn scope_bounds_the_ranking(pg: bool) {
    let env = Env::new(pg, |_| {})
        .await
        .expect("PostgreSQL at 127.0.0.1:5432 (db test) must be reachable");
    let s = &env.s;
    let c = city(s).await;
    let period = format!(
        "period=custom&from={}&to={}",
        day(c.now - 25 * DAY),
        day(c.now)
    );
    // A unit handler sees their unit only.
    let hdl = cookie(s, "usr-hdl-1").await;
    let r = get(s, &hdl, &format!("/console/ranking?{period}")).await;
    assert_eq!(ids(&r["rows"]), ["u-s-dj"]);
    assert_eq!(counts(&r["rows"][0]), [4, 4, 3, 3, 2, 1, 1]);
    let hdl2 = cookie(s, "usr-hdl-2").await;
    let r = get(s, &hdl2, &format!("/console/ranking?{period}&by=district")).await;
    assert_eq!(ids(&r["rows"]), ["s-dj", "s-nj"]);
    assert_eq!(counts(&r["rows"][0])[0], 1, "L only");
    // An inspector of 南街: what lies in 南街 (F; G was returned).
    let insp2 = cookie(s, "usr-insp-2").await;
    let r = get(s, &insp2, &format!("/console/ranking?{period}")).await;
    assert_eq!(ids(&r["rows"]), ["u-jjdd"]);
    assert_eq!(counts(&r["rows"][0]), [1, 0, 0, 0, 0, 0, 0]);
    // An inspector of 温泉 sees nothing.
    let insp3 = cookie(s, "usr-insp-3").await;
    let r = get(s, &insp3, &format!("/console/ranking?{period}")).await;
    assert!(r["rows"].as_array().unwrap().is_empty());
    let o = get(s, &insp3, "/console/overview").await;
    assert_eq!(o["total"], 0);
    let m = get(s, &insp3, "/console/map").await;
    assert!(m["problems"].as_array().unwrap().is_empty());
    env.finish().await;
}
both_backends!(scope_bounds_the_ranking);

async fn map_reference_and_new_ledger_filters(pg: bool) {
    let env = Env::new(pg, |_| {})
        .await
        .expect("PostgreSQL at 127.0.0.1:5432 (db test) must be reachable");
    let s = &env.s;
    let c = city(s).await;
    let admin = cookie(s, "usr-admin-1").await;
    let m = get(s, &admin, "/console/map").await;
    assert_eq!(m["truncated"], false);
    let probs = m["problems"].as_array().unwrap();
    // Only A (at its point) and B (GPS) have a place.
    assert_eq!(probs.len(), 2, "{m}");
    let a = probs
        .iter()
        .find(|p| p["id"] == c.a.to_string().as_str())
        .unwrap();
    let p009 = bundle()
        .points
        .into_iter()
        .find(|p| p.id == "p-009")
        .unwrap();
    assert_eq!(a["at_point"], true);
    assert_eq!(a["lat"].as_f64(), Some(p009.location.lat));
    assert_eq!(a["status"], "closed");
    let b = probs
        .iter()
        .find(|p| p["id"] == c.b.to_string().as_str())
        .unwrap();
    assert_eq!(
        (b["lat"].as_f64(), b["lon"].as_f64()),
        (Some(26.08), Some(119.29))
    );
    assert_eq!(b["at_point"], false);
    let active = bundle().points.iter().filter(|p| p.active).count();
    assert_eq!(m["points"].as_array().unwrap().len(), active);
    // The ledger's filters apply.
    let m = get(s, &admin, "/console/map?point_type=farmers_market").await;
    assert_eq!(ids(&m["problems"]), [c.a.to_string().as_str()]);
    assert!(
        m["points"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["point_type"] == "farmers_market")
    );
    let m = get(s, &admin, "/console/map?status=dispatched").await;
    assert!(m["problems"].as_array().unwrap().is_empty());

    // The ledger: point type (by code or name) and conflicts.
    let page = get(s, &admin, "/console/problems?point_type=farmers_market").await;
    assert_eq!(page["total"], 1);
    assert_eq!(ids(&page["rows"]), [c.a.to_string().as_str()]);
    let page = get(s, &admin, "/console/problems?point_type=农贸市场").await;
    assert_eq!(page["total"], 1);
    let page = get(s, &admin, "/console/problems?point_type=station").await;
    assert_eq!(page["total"], 0);
    let page = get(s, &admin, "/console/problems?conflicts=true").await;
    assert_eq!(ids(&page["rows"]), [c.k.to_string().as_str()]);
    let page = get(s, &admin, "/console/problems?conflicts=false").await;
    assert_eq!(page["total"], 8);
    let page = get(s, &admin, "/console/problems?conflicts=true&status=closed").await;
    assert_eq!(page["total"], 0);
    // Inside the scope: 南街's inspector sees no conflict (K is in 东街).
    let insp2 = cookie(s, "usr-insp-2").await;
    let page = get(s, &insp2, "/console/problems?conflicts=true").await;
    assert_eq!(page["total"], 0);
    let r = s
        .console_get(&admin, "/console/problems?point_type=spaceport")
        .await;
    let e = api_error(r, StatusCode::BAD_REQUEST, "malformed_request").await;
    assert!(e.message.contains("unknown point_type"), "{e:?}");

    // The reference lists.
    let r = get(s, &admin, "/console/reference").await;
    let b = bundle();
    assert_eq!(r["districts"].as_array().unwrap().len(), b.districts.len());
    assert_eq!(r["units"].as_array().unwrap().len(), b.units.len());
    assert_eq!(
        r["categories"].as_array().unwrap().len(),
        b.categories.len()
    );
    assert_eq!(r["points"].as_array().unwrap().len(), active);
    assert_eq!(r["statuses"].as_array().unwrap().len(), 10);
    assert_eq!(r["point_types"].as_array().unwrap().len(), 18);
    assert_eq!(r["calendar"]["utc_offset_minutes"], 480);
    let sr02 = r["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == "SR-02")
        .unwrap();
    assert_eq!(sr02["major_code"], "SR");
    assert!(!sr02["deadline_text"].as_str().unwrap().is_empty());
    let gl = r["districts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "s-dj")
        .unwrap();
    assert_eq!(
        (gl["parent_id"].as_str(), gl["level"].as_str()),
        (Some("d-gl"), Some("street"))
    );
    env.finish().await;
}
both_backends!(map_reference_and_new_ledger_filters);

async fn bad_requests_and_no_session(pg: bool) {
    let env = Env::new(pg, |_| {})
        .await
        .expect("PostgreSQL at 127.0.0.1:5432 (db test) must be reachable");
    let s = &env.s;
    let admin = cookie(s, "usr-admin-1").await;
    for (query, says) in [
        ("period=year", "unknown period \"year\""),
        ("period=custom", "needs both from and to"),
        ("period=custom&from=2026-03-01", "needs both from and to"),
        ("period=custom&from=2026-03-02&to=2026-03-01", "after"),
        (
            "period=custom&from=2020-01-01&to=2026-01-01",
            "at most 731 days",
        ),
        ("period=month&to=2026-03-01", "to is only for period=custom"),
        ("from=2026-13-45", "from must be a date"),
        ("period=custom&from=2026-01-01&to=soon", "to must be a date"),
        ("by=team", "unknown by"),
        ("by=district&level=planet", "unknown level"),
        ("level=street", "level is only for by=district"),
        ("perod=week", "perod"),
    ] {
        let r = s
            .console_get(&admin, &format!("/console/ranking?{query}"))
            .await;
        let e = api_error(r, StatusCode::BAD_REQUEST, "malformed_request").await;
        assert!(e.message.contains(says), "{query}: {e:?}");
    }
    for (query, says) in [
        ("from=yesterday", "from must be a date"),
        ("status=lost", "unknown status"),
        ("point_type=x", "unknown point_type"),
        ("conflicts=perhaps", "conflicts"),
        ("zoom=3", "zoom"),
    ] {
        let r = s
            .console_get(&admin, &format!("/console/map?{query}"))
            .await;
        let e = api_error(r, StatusCode::BAD_REQUEST, "malformed_request").await;
        assert!(e.message.contains(says), "{query}: {e:?}");
    }
    for path in [
        "/console/reference",
        "/console/overview",
        "/console/ranking",
        "/console/map",
    ] {
        let r = s.http.get(s.url(path)).send().await.unwrap();
        api_error(r, StatusCode::UNAUTHORIZED, "not_signed_in").await;
        let r = s.console_get("fieldcheck_console=forged", path).await;
        api_error(r, StatusCode::UNAUTHORIZED, "not_signed_in").await;
    }
    env.finish().await;
}
both_backends!(bad_requests_and_no_session);

/// The ranking's SQL says what the domain says: random lifecycles pushed through the real push
/// path, then every period of the ranking and its trend compared with
/// `rates::tally_period_by_unit` over the folded problems.
async fn ranking_sql_matches_the_domain_over_many_problems(pg: bool) {
    use fieldcheck_domain::rates;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    let env = Env::new(pg, |_| {})
        .await
        .expect("PostgreSQL at 127.0.0.1:5432 (db test) must be reachable");
    let s = &env.s;
    let mut rng = StdRng::seed_from_u64(14);
    let now = now_ms();
    let insp = user("usr-insp-1");
    let admin = user("usr-admin-1");
    let units = [
        ("u-s-dj", user("usr-hdl-1")),
        ("u-jjdd", user("usr-hdl-2")),
        ("u-scjg", user("usr-hdl-3")),
    ];
    let insp_t = s.enroll("usr-insp-1").await;
    let admin_t = s.enroll("usr-admin-1").await;
    let mut unit_t = Vec::new();
    for (_, u) in &units {
        unit_t.push(s.enroll(&u.id).await);
    }
    let mut ids = Vec::new();
    // Each problem's events by sender (0 reporter, 1 office, 2.. units), in time order.
    let mut batches: Vec<Vec<Event>> = vec![Vec::new(); 2 + units.len()];
    for _ in 0..120 {
        let id = Uuid::now_v7();
        ids.push(id);
        let mut at = now - rng.random_range(0..200) * DAY / 2 - HOUR;
        batches[0].push(report_event(
            &insp,
            id,
            &Report {
                district: if rng.random_bool(0.5) { "c-dm" } else { "c-gl" },
                point: None,
                location: None,
                at,
            },
        ));
        let step = |at: &mut i64, rng: &mut StdRng| {
            *at += rng.random_range(1..(3 * DAY));
            *at < now
        };
        if !step(&mut at, &mut rng) || rng.random_bool(0.1) {
            continue;
        }
        batches[1].push(filed(&admin, id, at));
        if rng.random_bool(0.1) {
            batches[1].push(ev(
                &admin,
                id,
                at + 1000,
                EventBody::ProblemRejected {
                    reason: fieldcheck_domain::event::RejectReason::Invalid {
                        reason: "不属实".into(),
                    },
                },
            ));
            continue;
        }
        if !step(&mut at, &mut rng) {
            continue;
        }
        let k = rng.random_range(0..units.len());
        let (unit, hdl) = &units[k];
        let mut deadline = at + rng.random_range(HOUR..(5 * DAY));
        batches[1].push(dispatch(&admin, id, unit, at, deadline));
        if !step(&mut at, &mut rng) {
            continue;
        }
        if rng.random_bool(0.1) {
            batches[2 + k].push(returned(hdl, id, at));
            continue;
        }
        batches[2 + k].push(accepted(hdl, id, at));
        for round in 0..2 {
            if !step(&mut at, &mut rng) || rng.random_bool(0.2) {
                break;
            }
            batches[2 + k].push(rectified(hdl, id, at, PHOTO));
            if !step(&mut at, &mut rng) {
                break;
            }
            let pass = round == 1 || rng.random_bool(0.7);
            if !pass {
                deadline = at + rng.random_range(HOUR..(4 * DAY));
                batches[1].push(verify(&admin, id, at, false, Some(deadline)));
                if !step(&mut at, &mut rng) {
                    break;
                }
                batches[2 + k].push(accepted(hdl, id, at));
                continue;
            }
            batches[1].push(verify(&admin, id, at, true, None));
            if step(&mut at, &mut rng) && rng.random_bool(0.8) {
                batches[1].push(closed(&admin, id, at));
            }
            break;
        }
    }
    // Reports first, then the office and the units in rounds, so every event lands where the
    // lifecycle allows it (the fold orders by time anyway).
    push(s, &insp_t, std::mem::take(&mut batches[0]), false).await;
    let mut all: Vec<(usize, Event)> = Vec::new();
    for (i, b) in batches.into_iter().enumerate().skip(1) {
        all.extend(b.into_iter().map(|e| (i, e)));
    }
    all.sort_by_key(|(_, e)| e.hlc.clone());
    let tokens: Vec<&String> = std::iter::once(&admin_t).chain(unit_t.iter()).collect();
    for (i, e) in all {
        push(s, tokens[i - 1], vec![e], false).await;
    }
    let mut problems = Vec::new();
    for id in &ids {
        problems.push(s.store.problem(*id).await.unwrap().unwrap());
    }
    let admin_c = cookie(s, "usr-admin-1").await;
    let cal = bundle().calendar.unwrap();
    for query in [
        format!("period=custom&from={}&to={}", day(now - 30 * DAY), day(now)),
        "period=week".to_owned(),
        "period=month".to_owned(),
    ] {
        let r = get(s, &admin_c, &format!("/console/ranking?{query}")).await;
        let now_t = t(now_ms());
        for (i, p) in r["trend"].as_array().unwrap().iter().enumerate() {
            let from: chrono::NaiveDate =
                serde_json::from_value(p["period_start"].clone()).unwrap();
            let to: chrono::NaiveDate = serde_json::from_value(p["period_end"].clone()).unwrap();
            let want = rates::tally_period_by_unit(
                &problems,
                cal.day_start(from),
                cal.day_start(to.succ_opt().unwrap()),
                now_t,
            );
            let got: Vec<(String, u64, f64)> = p["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r["id"].as_str().unwrap().to_owned(),
                        r["received"].as_u64().unwrap(),
                        r["rectification_rate"].as_f64().unwrap(),
                    )
                })
                .collect();
            let mut want: Vec<(&String, &rates::PeriodTally)> = want.iter().collect();
            want.sort_by(|a, b| rates::ranking_order((a.0, &a.1.tally), (b.0, &b.1.tally)));
            let want: Vec<(String, u64, f64)> = want
                .iter()
                .map(|(id, t)| {
                    (
                        (*id).clone(),
                        t.tally.assigned,
                        t.tally.rectification_rate(),
                    )
                })
                .collect();
            assert_eq!(got, want, "{query}, period {i}");
            if i == 6 {
                let rows = r["rows"].as_array().unwrap();
                assert_eq!(rows.len(), want.len(), "{query}");
                let full = rates::tally_period_by_unit(
                    &problems,
                    cal.day_start(from),
                    cal.day_start(to.succ_opt().unwrap()),
                    now_t,
                );
                for row in rows {
                    let t = full[row["id"].as_str().unwrap()];
                    let x = t.tally;
                    assert_eq!(
                        counts(row),
                        [
                            x.assigned,
                            t.due,
                            x.rectified,
                            x.closed,
                            x.closed_on_time,
                            x.overdue_open,
                            x.reworked
                        ],
                        "{query}: {row}"
                    );
                    assert_eq!(
                        rates(row),
                        [x.rectification_rate(), x.on_time_rate(), x.rework_rate()]
                    );
                }
            }
        }
    }
    // Something of every kind was counted.
    let r = get(
        s,
        &admin_c,
        &format!(
            "/console/ranking?period=custom&from={}&to={}",
            day(now - 200 * DAY),
            day(now)
        ),
    )
    .await;
    let sum = |k: &str| {
        r["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r[k].as_u64().unwrap())
            .sum::<u64>()
    };
    for k in [
        "received",
        "due",
        "rectified",
        "closed",
        "closed_on_time",
        "overdue_unhandled",
        "reworked",
    ] {
        assert!(sum(k) > 0, "no {k} in {r}");
    }
    env.finish().await;
}
both_backends!(ranking_sql_matches_the_domain_over_many_problems);
