//! The console's problem ledger (issue 14) over real HTTP, on SQLite and on PostgreSQL, against
//! problems pushed through the real push path: every filter, sort, paging with the total,
//! each role's scope, and hostile query strings.

mod common;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use common::*;
use fieldcheck_domain::event::{EventBody, ProblemReported};
use fieldcheck_domain::reference::User;
use fieldcheck_domain::{Event, Severity};
use fieldcheck_protocol::sync::PushStatus;
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

const DAY: i64 = 86_400_000;

struct Spec {
    reporter: &'static str,
    district: &'static str,
    category: &'static str,
    point: Option<&'static str>,
    description: &'static str,
    at: i64,
}

fn report_event(u: &User, entity: Uuid, s: &Spec) -> Event {
    ev(
        u,
        entity,
        s.at,
        EventBody::ProblemReported(Box::new(ProblemReported {
            code: format!("GL-LEDGER-{}", &entity.simple().to_string()[20..]),
            category: s.category.into(),
            description: s.description.into(),
            location: None,
            address: "测试路 1 号".into(),
            district_id: Some(s.district.into()),
            point_id: s.point.map(str::to_owned),
            item_id: None,
            inspection_id: None,
            severity: Severity::default(),
            placement: None,
        })),
    )
}

async fn push_ok(s: &Server, token: &str, events: Vec<Event>) {
    let r = s.push(token, events).await;
    for res in &r.results {
        assert!(matches!(res.status, PushStatus::Applied), "{res:?}");
    }
}

/// Four problems, each pushed by its reporter's device and handled by the office:
/// P1 dispatched to u-s-dj long ago (overdue), P2 dispatched to u-jjdd now (due later),
/// P3 a volunteer's report, P4 another inspector's quick report.
struct City {
    ids: [String; 4],
    t0: i64,
}

async fn city(s: &Server) -> City {
    let t0 = now_ms() - 10 * DAY;
    let specs = [
        Spec {
            reporter: "usr-insp-1",
            district: "c-dm",
            category: "SR-02",
            point: None,
            description: "暴露垃圾堆放在路边",
            at: t0,
        },
        Spec {
            reporter: "usr-insp-1",
            district: "c-dm",
            category: "XC-01",
            point: Some("p-005"),
            description: "广告牌破损",
            at: t0 + DAY,
        },
        Spec {
            reporter: "usr-vol-2",
            district: "c-gl",
            category: "SR-03",
            point: None,
            description: "道路积水",
            at: t0 + 2 * DAY,
        },
        Spec {
            reporter: "usr-insp-2",
            district: "c-tx",
            category: "JM-01",
            point: None,
            description: "井盖缺失 50%_special",
            at: t0 + 3 * DAY,
        },
    ];
    let mut ids = Vec::new();
    let mut tokens = std::collections::HashMap::new();
    for spec in &specs {
        if !tokens.contains_key(spec.reporter) {
            tokens.insert(spec.reporter, s.enroll(spec.reporter).await);
        }
        let token = &tokens[spec.reporter];
        let id = Uuid::now_v7();
        push_ok(s, token, vec![report_event(&user(spec.reporter), id, spec)]).await;
        ids.push(id);
    }
    let admin = user("usr-admin-1");
    let office = s.enroll("usr-admin-1").await;
    push_ok(
        s,
        &office,
        vec![
            filed(&admin, ids[0], t0 + 3_600_000),
            dispatched(&admin, ids[0], "u-s-dj", t0 + 7_200_000),
            filed(&admin, ids[1], now_ms() - 7_200_000),
            dispatched(&admin, ids[1], "u-jjdd", now_ms() - 3_600_000),
        ],
    )
    .await;
    City {
        ids: ids
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .try_into()
            .unwrap(),
        t0,
    }
}

async fn cookie(s: &Server, u: &str) -> String {
    s.console_sign_in(u).await.cookie
}

async fn ledger_raw(s: &Server, cookie: &str, query: &str) -> reqwest::Response {
    s.console_get(cookie, &format!("/console/problems?{query}"))
        .await
}

async fn ledger(s: &Server, cookie: &str, query: &str) -> Value {
    let r = ledger_raw(s, cookie, query).await;
    assert_eq!(r.status(), StatusCode::OK, "{query}");
    r.json().await.unwrap()
}

/// Which of the city's problems (1-based) a page holds, in order; the total must agree when
/// the page holds everything.
fn which(c: &City, page: &Value) -> Vec<usize> {
    page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            c.ids
                .iter()
                .position(|id| r["id"] == id.as_str())
                .map(|i| i + 1)
                .unwrap_or(0)
        })
        .collect()
}

fn set(c: &City, page: &Value) -> BTreeSet<usize> {
    let got: BTreeSet<usize> = which(c, page).into_iter().collect();
    assert_eq!(
        page["total"].as_u64().unwrap() as usize,
        got.len(),
        "{page}"
    );
    got
}

fn s_(v: &[usize]) -> BTreeSet<usize> {
    v.iter().copied().collect()
}

async fn every_filter_sort_and_page(pg: bool) {
    let e = Env::new(pg, |_| {})
        .await
        .expect("PostgreSQL at 127.0.0.1:5432 (db test) must be reachable");
    let s = &e.s;
    let c = city(s).await;
    let admin = cookie(s, "usr-admin-1").await;
    let all = ledger(s, &admin, "").await;
    assert_eq!(set(&c, &all), s_(&[1, 2, 3, 4]));
    // Newest report first by default; each row as a ledger shows it.
    assert_eq!(which(&c, &all), vec![4, 3, 2, 1]);
    let p1 = &all["rows"][3];
    assert_eq!(p1["status"], "dispatched");
    assert_eq!(p1["category"], "SR-02");
    assert_eq!(p1["unit_id"], "u-s-dj");
    assert_eq!(p1["district_id"], "c-dm");
    assert_eq!(p1["reporter"], "usr-insp-1");
    assert_eq!(p1["source"], "quick_report");
    assert_eq!(p1["overdue"], true);
    assert_eq!(p1["excerpt"], "暴露垃圾堆放在路边");
    let reported: DateTime<Utc> = serde_json::from_value(p1["reported_at"].clone()).unwrap();
    assert_eq!(reported.timestamp_millis(), c.t0);
    assert!(p1["deadline"].is_string());
    assert_eq!(all["rows"][2]["overdue"], false);
    assert_eq!(all["rows"][2]["point_id"], "p-005");
    assert_eq!(all["rows"][1]["source"], "volunteer");

    let cases: &[(&str, &[usize])] = &[
        ("status=dispatched", &[1, 2]),
        ("status=reported", &[3, 4]),
        ("status=reported,dispatched", &[1, 2, 3, 4]),
        ("status=closed", &[]),
        ("category=SR", &[1, 3]),
        ("category=SR-02", &[1]),
        ("category=XC", &[2]),
        ("unit=u-s-dj", &[1]),
        ("unit=u-jjdd", &[2]),
        ("district=s-dj", &[1, 2]),
        ("district=d-gl", &[1, 2, 3, 4]),
        ("district=c-gl", &[3]),
        ("point=p-005", &[2]),
        ("source=volunteer", &[3]),
        ("source=quick_report", &[1, 2, 4]),
        ("source=inspection", &[]),
        ("reporter=usr-insp-2", &[4]),
        ("overdue=true", &[1]),
        ("overdue=false", &[2, 3, 4]),
        ("q=special", &[4]),
        ("q=50%25_", &[4]),
        ("q=%25", &[4]),
        ("q=GL-LEDGER", &[1, 2, 3, 4]),
        ("q=广告", &[2]),
        ("q=路", &[1, 3]),
        ("q=路&status=dispatched", &[1]),
        ("q=路&status=reported,closed", &[3]),
        ("q=路&district=c-gl", &[3]),
        ("status=dispatched&district=s-dj&overdue=false", &[2]),
    ];
    for (query, want) in cases {
        let page = ledger(s, &admin, query).await;
        assert_eq!(set(&c, &page), s_(want), "{query}");
    }
    // Dates are the city's calendar days.
    let cal = bundle().calendar.unwrap();
    let day = |ms: i64| cal.local_day(DateTime::from_timestamp_millis(ms).unwrap());
    let page = ledger(s, &admin, &format!("from={}", day(c.t0 + 2 * DAY))).await;
    assert_eq!(set(&c, &page), s_(&[3, 4]));
    let page = ledger(s, &admin, &format!("to={}", day(c.t0))).await;
    assert_eq!(set(&c, &page), s_(&[1]));
    let q = format!("from={}&to={}", day(c.t0 + DAY), day(c.t0 + 2 * DAY));
    assert_eq!(set(&c, &ledger(s, &admin, &q).await), s_(&[2, 3]));
    // Sorts.
    let page = ledger(s, &admin, "sort=reported_at&order=asc").await;
    assert_eq!(which(&c, &page), vec![1, 2, 3, 4]);
    let page = ledger(s, &admin, "sort=deadline&order=asc").await;
    assert_eq!(which(&c, &page)[..2], [1, 2], "no deadline comes last");
    let page = ledger(s, &admin, "sort=deadline&order=desc").await;
    assert_eq!(which(&c, &page)[..2], [2, 1]);
    let page = ledger(s, &admin, "sort=updated_at&order=desc").await;
    assert_eq!(which(&c, &page)[0], 2, "the last one handled");
    // Paging: the total on every page, pages that do not overlap.
    let first = ledger(s, &admin, "limit=3").await;
    let second = ledger(s, &admin, "limit=3&offset=3").await;
    assert_eq!(
        (first["total"].as_u64(), second["total"].as_u64()),
        (Some(4), Some(4))
    );
    assert_eq!(which(&c, &first), vec![4, 3, 2]);
    assert_eq!(which(&c, &second), vec![1]);
    // A plain text search (PostgreSQL reads it from the search documents alone): the same
    // order, total and pages as any other query.
    let page = ledger(s, &admin, "q=路").await;
    assert_eq!(which(&c, &page), vec![3, 1]);
    let page = ledger(s, &admin, "q=路&order=asc").await;
    assert_eq!(which(&c, &page), vec![1, 3]);
    let page = ledger(s, &admin, "q=路&limit=1&offset=1").await;
    assert_eq!(
        (which(&c, &page), page["total"].as_u64()),
        (vec![1], Some(2))
    );
    let page = ledger(s, &admin, "q=路&status=dispatched,reported&limit=1").await;
    assert_eq!(
        (which(&c, &page), page["total"].as_u64()),
        (vec![3], Some(2))
    );
    let past = ledger(s, &admin, "offset=100").await;
    assert_eq!(past["total"], 4);
    assert!(past["rows"].as_array().unwrap().is_empty());
    e.finish().await;
}
both_backends!(every_filter_sort_and_page);

async fn each_role_sees_only_its_scope(pg: bool) {
    let e = Env::new(pg, |_| {})
        .await
        .expect("PostgreSQL at 127.0.0.1:5432 (db test) must be reachable");
    let s = &e.s;
    let c = city(s).await;
    for (u, want) in [
        ("usr-admin-1", &[1, 2, 3, 4][..]),
        // Unit handlers: what is dispatched to their unit.
        ("usr-hdl-1", &[1][..]),
        ("usr-hdl-2", &[2][..]),
        ("usr-hdl-3", &[][..]),
        // Inspectors: their districts and everything below them.
        ("usr-insp-1", &[1, 2][..]),
        ("usr-insp-2", &[3, 4][..]),
        ("usr-insp-3", &[][..]),
    ] {
        let k = cookie(s, u).await;
        assert_eq!(set(&c, &ledger(s, &k, "").await), s_(want), "{u}");
        // A filter cannot reach outside the scope.
        let page = ledger(s, &k, "district=d-gl&status=reported,dispatched").await;
        assert_eq!(set(&c, &page), s_(want), "{u} filtering the whole city");
    }
    let hdl = cookie(s, "usr-hdl-1").await;
    assert_eq!(set(&c, &ledger(s, &hdl, "unit=u-jjdd").await), s_(&[]));
    // The same rule as the pull: what the ledger shows a handler, their device is sent.
    let token = s.login("usr-hdl-1").await;
    let pulled: BTreeSet<String> = s
        .pull(&token, 0)
        .await
        .items
        .iter()
        .filter_map(|i| match i {
            fieldcheck_protocol::sync::PullItem::Event { event, .. } => {
                Some(event.entity_id.to_string())
            }
            _ => None,
        })
        .collect();
    assert_eq!(pulled, [c.ids[0].clone()].into_iter().collect());
    // No session, no ledger.
    let r = s.http.get(s.url("/console/problems")).send().await.unwrap();
    api_error(r, StatusCode::UNAUTHORIZED, "not_signed_in").await;
    e.finish().await;
}
both_backends!(each_role_sees_only_its_scope);

async fn hostile_queries_get_400_naming_the_problem(pg: bool) {
    let e = Env::new(pg, |_| {})
        .await
        .expect("PostgreSQL at 127.0.0.1:5432 (db test) must be reachable");
    let s = &e.s;
    let admin = cookie(s, "usr-admin-1").await;
    for (query, says) in [
        ("limit=100000", "limit"),
        ("limit=0", "limit"),
        ("limit=99999999999999", "limit"),
        ("limit=abc", "limit"),
        ("offset=-1", "offset"),
        ("status=bogus", "unknown status \"bogus\""),
        ("status=dispatched,nope", "nope"),
        ("source=radio", "unknown source"),
        ("from=2026-13-45", "from must be a date"),
        ("to=yesterday", "to must be a date"),
        ("from=2026-03-02&to=2026-03-01", "after"),
        ("sort=code", "unknown sort"),
        ("order=sideways", "unknown order"),
        ("overdue=maybe", "overdue"),
        ("stauts=filed", "stauts"),
    ] {
        let r = ledger_raw(s, &admin, query).await;
        let err = api_error(r, StatusCode::BAD_REQUEST, "malformed_request").await;
        assert!(err.message.contains(says), "{query}: {err:?}");
    }
    let long = "x".repeat(101);
    let r = ledger_raw(s, &admin, &format!("q={long}")).await;
    let err = api_error(r, StatusCode::BAD_REQUEST, "malformed_request").await;
    assert!(err.message.contains("100 characters"), "{err:?}");
    // SQL in a filter is just text.
    let page = ledger(
        s,
        &admin,
        "q=%27%20OR%201%3D1%20--&unit=x%27%20OR%20%271%27%3D%271",
    )
    .await;
    assert_eq!(page["total"], 0);
    e.finish().await;
}
both_backends!(hostile_queries_get_400_naming_the_problem);

/// The migration fills the new columns of existing rows from their JSON state: run again over
/// rows the push path wrote (after wiping them), it gives back exactly what the push wrote.
#[tokio::test]
async fn the_migration_backfill_matches_the_write_path() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), None, true).await;
    city(&s).await;
    let url = format!("sqlite://{}/fc.db", dir.path().display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let snapshot = || async {
        sqlx::query_scalar::<_, String>(
            "SELECT json_array(id, category, description, address, point_id, inspection_id, \
             severity, reporter_role, source, rework_count, deadline, reported_at, updated_at, \
             dispatched_at, closed_at) FROM problems ORDER BY id",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
    };
    let written = snapshot().await;
    assert_eq!(written.len(), 4);
    assert!(
        written.iter().any(|r| r.contains("\"SR-02\"")),
        "{written:?}"
    );
    sqlx::query(
        "UPDATE problems SET category = '', description = '', address = '', point_id = NULL, \
         inspection_id = NULL, severity = '', reporter_role = '', source = '', \
         rework_count = -1, deadline = NULL, reported_at = 0, updated_at = 0, \
         dispatched_at = NULL, closed_at = NULL",
    )
    .execute(&pool)
    .await
    .unwrap();
    assert_ne!(snapshot().await, written);
    let migration = include_str!("../../../migrations/server-sqlite/0006_console.sql");
    let start = migration.find("UPDATE problems SET").unwrap();
    let end = start + migration[start..].find(';').unwrap();
    sqlx::query(sqlx::AssertSqlSafe(migration[start..end].to_owned()))
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(snapshot().await, written);
    pool.close().await;
    s.stop().await;
}
