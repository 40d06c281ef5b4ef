//! Evaluation rounds (模拟测评 / 四不两直, issue 18) over real HTTP, on SQLite and PostgreSQL:
//! a round drawn with a seed is the domain's draw of the city's points (reproducible, quotas
//! kept, recently checked points left out when asked); an inspector's device gets its points
//! only from the round's date; inspections done roll up as `fieldcheck_domain::evaluation`
//! defines, compared with the round before. Hostile and wrong requests refused with a code.

mod common;

use chrono::{Days, NaiveDate, Utc};
use common::{ConsoleLogin, Env, Server, actor, api_error, both_backends, bundle, hlc, user};
use fieldcheck_domain::checklist::{ItemKind, ItemResult, score};
use fieldcheck_domain::evaluation::{Candidate, DrawSpec, Quota, draw};
use fieldcheck_domain::event::{Event, EventBody, PhotoRef, PhotoRole};
use fieldcheck_domain::reference::PointType;
use fieldcheck_domain::scope::DistrictTree;
use fieldcheck_protocol::console::rounds::{RoundDetail, RoundResultsView, RoundSummary};
use fieldcheck_protocol::tasks::TaskList;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

const ADMIN: &str = "usr-admin-1";
const INSP_1: &str = "usr-insp-1";
const INSP_4: &str = "usr-insp-4";
/// Both inspectors cover this street, so each may inspect any point drawn in it.
const STREET: &str = "s-dj";

fn today() -> NaiveDate {
    bundle().calendar.unwrap_or_default().local_day(Utc::now())
}

/// The point types with at least two points in the street, and how many each has.
fn street_types() -> Vec<(PointType, u32)> {
    let b = bundle();
    let below = DistrictTree::new(&b.districts).descendants_of([STREET]);
    let mut out: Vec<(PointType, u32)> = Vec::new();
    for p in b
        .points
        .iter()
        .filter(|p| p.active && below.contains(&p.district_id))
    {
        match out.iter_mut().find(|(t, _)| *t == p.point_type) {
            Some((_, n)) => *n += 1,
            None => out.push((p.point_type, 1)),
        }
    }
    out.retain(|(_, n)| *n >= 2);
    out.sort_by_key(|(t, _)| t.as_str());
    out
}

fn quotas() -> Vec<Quota> {
    street_types()
        .into_iter()
        .take(2)
        .map(|(t, _)| Quota {
            point_type: t,
            district_id: Some(STREET.into()),
            count: 2,
        })
        .collect()
}

fn round_body(name: &str, date: NaiveDate, seed: &str, quotas: &[Quota]) -> Value {
    json!({
        "name": name,
        "date": date.to_string(),
        "seed": seed,
        "quotas": quotas,
        "inspectors": [INSP_4, INSP_1],
    })
}

async fn create(s: &Server, admin: &ConsoleLogin, body: Value) -> RoundSummary {
    let r = s.console_post(admin, "/console/rounds", body).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

async fn detail(s: &Server, admin: &ConsoleLogin, id: &str) -> RoundDetail {
    let r = s
        .console_get(&admin.cookie, &format!("/console/rounds/{id}"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

async fn tasks(s: &Server, token: &str) -> TaskList {
    let r = s.get(token, "/tasks").await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

fn point_set(d: &RoundDetail) -> Vec<String> {
    let mut v: Vec<String> = d.points.iter().map(|p| p.point_id.clone()).collect();
    v.sort();
    v
}

/// A finished inspection of `point` by `who` at `ms`: every item passes but the first
/// pass/fail item, which fails (with a photo). Returns its events and its expected score.
fn inspection(who: &str, point: &str, ms: i64) -> (Vec<Event>, f64, String) {
    let b = bundle();
    let u = user(who);
    let p = b.points.iter().find(|p| p.id == point).unwrap();
    let tpl = b
        .templates
        .iter()
        .find(|t| t.point_type == p.point_type)
        .unwrap_or_else(|| panic!("no template for {:?}", p.point_type));
    let id = Uuid::now_v7();
    let a = actor(&u);
    let mut n = 0;
    let mut next = |body: EventBody| {
        n += 1;
        Event::new(id, &a, "dev-test", hlc(ms + n, "dev-test"), body)
    };
    let mut events = vec![next(EventBody::InspectionStarted {
        point_id: point.into(),
        template_id: tpl.id.clone(),
        template_version: tpl.version,
        location: None,
    })];
    let fail_id = tpl
        .items
        .iter()
        .find(|i| i.kind == ItemKind::PassFail)
        .unwrap()
        .id
        .clone();
    let mut results = Vec::new();
    for item in &tpl.items {
        let result = match &item.kind {
            ItemKind::PassFail if item.id == fail_id => ItemResult::Fail,
            ItemKind::PassFail => ItemResult::Pass,
            ItemKind::Count { .. } => ItemResult::Count { count: 0 },
            ItemKind::Measured { threshold, .. } => ItemResult::Value { value: *threshold },
        };
        let mut e = next(EventBody::InspectionItemRecorded {
            item_id: item.id.clone(),
            result: result.clone(),
            note: None,
        });
        if item.id == fail_id {
            e = e.with_photos(vec![PhotoRef {
                hash: common::sha(point.as_bytes()),
                role: PhotoRole::Evidence,
            }]);
        }
        results.push((item.id.clone(), result));
        events.push(e);
    }
    events.push(next(EventBody::InspectionFinished { location: None }));
    let sc = score(tpl, results.iter().map(|(k, v)| (k.as_str(), v))).unwrap();
    (events, sc.percent, fail_id)
}

async fn a_seeded_round_is_reproducible_reaches_devices_on_its_date_and_rolls_up(pg: bool) {
    let Some(e) = Env::new(pg, |_| {}).await else {
        return;
    };
    let s = &e.s;
    let admin = s.console_sign_in(ADMIN).await;
    let qs = quotas();
    assert_eq!(qs.len(), 2, "the demo street has two types with two points");
    let day = today();
    let yesterday = day - Days::new(1);
    let tomorrow = day + Days::new(1);

    // The draw is the domain's over the city's active points: anyone with the seed can redo it.
    let b = bundle();
    let tree = DistrictTree::new(&b.districts);
    let cands: Vec<Candidate> = b
        .points
        .iter()
        .filter(|p| p.active)
        .map(|p| Candidate {
            point_id: p.id.clone(),
            point_type: p.point_type,
            district_id: p.district_id.clone(),
            last_inspected: None,
        })
        .collect();
    let spec = DrawSpec {
        seed: "2026-冬-1",
        quotas: &qs,
        date: yesterday,
        exclude_recent_days: 0,
    };
    let mut want: Vec<String> = draw(&cands, &tree, &spec)
        .unwrap()
        .into_iter()
        .map(|d| d.point_id)
        .collect();
    want.sort();

    let before = create(s, &admin, round_body("上轮", yesterday, "2026-冬-1", &qs)).await;
    assert_eq!((before.points_total, before.points_done), (4, 0));
    assert_eq!(before.seed, "2026-冬-1");
    let d_before = detail(s, &admin, &before.id).await;
    assert_eq!(point_set(&d_before), want);
    // Quotas kept: two of each type, all in the street.
    let below = tree.descendants_of([STREET]);
    for (i, q) in qs.iter().enumerate() {
        let mine: Vec<_> = d_before
            .points
            .iter()
            .filter(|p| p.quota == i as u32)
            .collect();
        assert_eq!(mine.len(), 2);
        assert!(
            mine.iter()
                .all(|p| p.point_type == q.point_type && below.contains(&p.district_id))
        );
    }
    // Shared two and two between the inspectors.
    assert_eq!(
        d_before
            .progress
            .iter()
            .map(|p| (p.inspector.as_str(), p.total))
            .collect::<Vec<_>>(),
        vec![(INSP_1, 2), (INSP_4, 2)]
    );

    // Same seed, another day: the same points. Another seed: a round for tomorrow.
    let round = create(s, &admin, round_body("本轮", day, "2026-冬-1", &qs)).await;
    let d_round = detail(s, &admin, &round.id).await;
    assert_eq!(point_set(&d_round), want);
    let later = create(s, &admin, round_body("明日", tomorrow, "another seed", &qs)).await;

    // The inspector's device: today's and yesterday's points, never tomorrow's.
    let insp_dev = s.enroll(INSP_1).await;
    let t = tasks(s, &insp_dev).await;
    assert_eq!(t.today, day);
    assert!(t.tasks.iter().all(|x| x.round_id != later.id), "{t:?}");
    let mine_today: Vec<String> = d_round
        .points
        .iter()
        .filter(|p| p.inspector == INSP_1)
        .map(|p| p.point_id.clone())
        .collect();
    let got_today: Vec<String> = t
        .tasks
        .iter()
        .filter(|x| x.round_id == round.id)
        .map(|x| x.point_id.clone())
        .collect();
    assert_eq!(got_today, mine_today);
    assert!(t.tasks.iter().any(|x| x.round_id == before.id));
    assert!(t.tasks.iter().all(|x| !x.done));
    // The other inspector sees only theirs; a unit handler has no tasks.
    let t4 = tasks(s, &s.enroll(INSP_4).await).await;
    let theirs: Vec<String> = d_round
        .points
        .iter()
        .filter(|p| p.inspector == INSP_4)
        .map(|p| p.point_id.clone())
        .collect();
    let got4: Vec<String> = t4
        .tasks
        .iter()
        .filter(|x| x.round_id == round.id)
        .map(|x| x.point_id.clone())
        .collect();
    assert_eq!(got4, theirs);
    api_error(
        s.get(&s.login("usr-hdl-1").await, "/tasks").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // Inspections today: insp-1 does their two points of today's round.
    let session = s.login(INSP_1).await;
    let mut expected = Vec::new();
    for (k, point) in mine_today.iter().enumerate() {
        let (events, percent, fail) = inspection(INSP_1, point, common::now_ms() + k as i64 * 100);
        let res = s.push(&session, events).await;
        assert!(
            res.results.iter().all(
                |r| r.status == fieldcheck_protocol::sync::PushStatus::Applied
                    && r.outcome == Some(fieldcheck_domain::event::EventOutcome::Applied)
            ),
            "{res:?}"
        );
        expected.push((point.clone(), percent, fail));
    }
    let d_round = detail(s, &admin, &round.id).await;
    assert_eq!(d_round.round.points_done, 2);
    let p1 = d_round
        .progress
        .iter()
        .find(|p| p.inspector == INSP_1)
        .unwrap();
    assert_eq!((p1.done, p1.total), (2, 2));
    let p4 = d_round
        .progress
        .iter()
        .find(|p| p.inspector == INSP_4)
        .unwrap();
    assert_eq!((p4.done, p4.total), (0, 2));
    // Yesterday's round does not take today's inspections (its window ended at midnight).
    assert_eq!(detail(s, &admin, &before.id).await.round.points_done, 0);
    let t = tasks(s, &insp_dev).await;
    assert!(
        t.tasks
            .iter()
            .filter(|x| x.round_id == round.id)
            .all(|x| x.done)
    );

    // Results: each point's 得分率 is its checklist score; the whole is earned ÷ possible.
    let r = s
        .console_get(
            &admin.cookie,
            &format!("/console/rounds/{}/results", round.id),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: RoundResultsView = r.json().await.unwrap();
    let res = &v.results;
    assert_eq!((res.overall.points, res.overall.inspected), (4, 2));
    for (point, percent, fail) in &expected {
        let p = res.points.iter().find(|p| &p.point_id == point).unwrap();
        assert_eq!(p.percent, Some(*percent));
        assert_eq!(&p.failed_items, &vec![fail.clone()]);
    }
    let earned: f64 = res.points.iter().map(|p| p.earned).sum();
    let possible: f64 = res.points.iter().map(|p| p.possible).sum();
    assert!((res.overall.earned - earned).abs() < 1e-9);
    assert_eq!(
        res.overall.percent,
        fieldcheck_domain::evaluation::percent(earned, possible)
    );
    assert_eq!(res.by_district.keys().collect::<Vec<_>>(), vec!["d-gl"]);
    assert_eq!(
        res.failing_items.iter().map(|f| f.points).sum::<u32>(),
        2,
        "{:?}",
        res.failing_items
    );
    assert!(res.failing_items.iter().all(|f| f.text.is_some()));
    assert!(res.standards > 0 && res.overall.observations >= res.standards);
    // Compared with the round before (nothing inspected then).
    assert_eq!(
        v.previous.as_ref().map(|p| p.id.as_str()),
        Some(before.id.as_str())
    );
    let c = v.comparison.unwrap();
    assert_eq!(c.overall.percent, res.overall.percent);
    assert_eq!(c.overall.previous_percent, None);
    assert!(c.failing_items.iter().all(|f| f.previous_points == 0));

    // Left out when checked in the last days: the whole of a type inspected today cannot be
    // drawn again for tomorrow with a 3-day exclusion, but can without it.
    let (t0, n0) = street_types()
        .into_iter()
        .find(|(t, _)| {
            expected
                .iter()
                .any(|(p, _, _)| b.points.iter().any(|x| &x.id == p && x.point_type == *t))
        })
        .unwrap();
    let all_of_type = [Quota {
        point_type: t0,
        district_id: Some(STREET.into()),
        count: n0,
    }];
    let mut body = round_body("排除", tomorrow, "x", &all_of_type);
    body["exclude_recent_days"] = json!(3);
    let err = api_error(
        s.console_post(&admin, "/console/rounds", body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "quota_unfilled",
    )
    .await;
    assert!(err.message.contains(&n0.to_string()), "{err:?}");
    create(s, &admin, round_body("不排除", tomorrow, "x", &all_of_type)).await;

    let list: Value = s
        .console_get(&admin.cookie, "/console/rounds")
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list["rounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert_eq!(&names[2..], ["本轮", "上轮"], "newest date first");
    e.finish().await;
}
both_backends!(a_seeded_round_is_reproducible_reaches_devices_on_its_date_and_rolls_up);

async fn hostile_and_wrong_requests_are_refused(pg: bool) {
    let Some(e) = Env::new(pg, |_| {}).await else {
        return;
    };
    let s = &e.s;
    let admin = s.console_sign_in(ADMIN).await;
    let qs = quotas();
    let body = round_body("r", today(), "seed", &qs);
    // Other roles: 403, nothing stored.
    for who in [INSP_1, "usr-hdl-1"] {
        let login = s.console_sign_in(who).await;
        api_error(
            s.console_post(&login, "/console/rounds", body.clone())
                .await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
        for path in [
            "/console/rounds",
            &format!("/console/rounds/{}", Uuid::nil()),
        ] {
            api_error(
                s.console_get(&login.cookie, path).await,
                StatusCode::FORBIDDEN,
                "forbidden",
            )
            .await;
        }
    }
    // No CSRF token.
    let r = s
        .http
        .post(s.url("/console/rounds"))
        .header("cookie", &admin.cookie)
        .json(&body)
        .send()
        .await
        .unwrap();
    api_error(r, StatusCode::FORBIDDEN, "csrf_rejected").await;
    // Malformed bodies.
    for bad in [
        json!({}),
        json!({"name": "r", "date": "tomorrow", "quotas": [], "inspectors": [INSP_1]}),
        json!({"name": "r", "date": "2026-12-01", "quotas": [{"point_type": "volcano", "count": 1}], "inspectors": [INSP_1]}),
        json!({"name": "r", "date": "2026-12-01", "quotas": [{"point_type": "back_alley", "count": -1}], "inspectors": [INSP_1]}),
        json!({"name": "r", "date": "2026-12-01", "quotas": [], "inspectors": [INSP_1], "extra": 1}),
    ] {
        api_error(
            s.console_post(&admin, "/console/rounds", bad).await,
            StatusCode::BAD_REQUEST,
            "malformed_request",
        )
        .await;
    }
    let with = |f: &dyn Fn(&mut Value)| {
        let mut b = body.clone();
        f(&mut b);
        b
    };
    for (b, code) in [
        (with(&|b| b["name"] = json!("  ")), "invalid_round"),
        (with(&|b| b["seed"] = json!("")), "invalid_seed"),
        (with(&|b| b["quotas"] = json!([])), "empty_round"),
        (
            with(&|b| b["quotas"] = json!([qs[0], qs[0]])),
            "duplicate_quota",
        ),
        (
            with(&|b| b["quotas"][0]["district_id"] = json!("nowhere")),
            "unknown_district",
        ),
        (
            with(&|b| b["quotas"][0]["count"] = json!(5000)),
            "too_many_points",
        ),
        (with(&|b| b["inspectors"] = json!([])), "no_inspectors"),
        (
            with(&|b| b["inspectors"] = json!(["usr-hdl-1"])),
            "unknown_inspector",
        ),
        (
            with(&|b| b["inspectors"] = json!(["nobody"])),
            "unknown_inspector",
        ),
    ] {
        api_error(
            s.console_post(&admin, "/console/rounds", b).await,
            StatusCode::BAD_REQUEST,
            code,
        )
        .await;
    }
    // More points than there are: 422 naming the quota.
    let err = api_error(
        s.console_post(
            &admin,
            "/console/rounds",
            with(&|b| b["quotas"][0]["count"] = json!(500)),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "quota_unfilled",
    )
    .await;
    assert!(err.message.contains("500"), "{err:?}");
    // The street's points drawn for an inspector of another street only: none may inspect
    // them (their push would be refused), so the round is refused, naming a point.
    let err = api_error(
        s.console_post(
            &admin,
            "/console/rounds",
            with(&|b| b["inspectors"] = json!(["usr-insp-2"])),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "no_inspector_for_point",
    )
    .await;
    let below = DistrictTree::new(&bundle().districts).descendants_of([STREET]);
    assert!(
        below
            .iter()
            .any(|d| err.message.contains(&format!("district {d},"))),
        "{err:?}"
    );
    // Nothing was stored by any of these.
    let list: Value = s
        .console_get(&admin.cookie, "/console/rounds")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["rounds"], json!([]));
    // Unknown rounds.
    for path in ["/console/rounds/nope", "/console/rounds/nope/results"] {
        api_error(
            s.console_get(&admin.cookie, path).await,
            StatusCode::NOT_FOUND,
            "unknown_round",
        )
        .await;
    }
    // Not signed in; no token for tasks.
    let r = s.http.get(s.url("/console/rounds")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = s.http.get(s.url("/tasks")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // With an inspector of the street and one of another street, every point goes to the
    // one whose districts hold it.
    let round = create(
        s,
        &admin,
        with(&|b| b["inspectors"] = json!(["usr-insp-2", INSP_1])),
    )
    .await;
    let d = detail(s, &admin, &round.id).await;
    assert!(!d.points.is_empty());
    assert!(
        d.points.iter().all(|p| p.inspector == INSP_1),
        "{:?}",
        d.points
    );
    e.finish().await;
}
both_backends!(hostile_and_wrong_requests_are_refused);
