//! The console's city screens (issue 15) over real HTTP on a real SQLite file. Points: the
//! list and its filters against the demo city, add / edit / move / deactivate each audited and
//! each a new reference version the device sees, work pending on a device at a point
//! deactivated meanwhile landing. The work calendar and the categories' deadline rules: what
//! the device gets, what the next dispatch uses, what an earlier dispatch keeps. Hostile and
//! wrong requests refused with a clear code and nothing changed.

mod common;

use common::{ConsoleLogin, Server, api_error, now_ms, report, user};
use fieldcheck_domain::event::{EventBody, EventOutcome};
use fieldcheck_domain::scope::DistrictTree;
use fieldcheck_protocol::sync::PushStatus;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

const ADMIN: &str = "usr-admin-1";
const INSPECTOR: &str = "usr-insp-1";

async fn list(server: &Server, login: &ConsoleLogin, query: &str) -> Value {
    let r = server
        .console_get(&login.cookie, &format!("/console/setup/points?{query}"))
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{query}");
    r.json().await.unwrap()
}

fn ids(page: &Value) -> Vec<String> {
    page["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_list_filters_by_district_below_type_unit_state_and_text() {
    let server = Server::start_temp().await;
    let admin = server.console_sign_in(ADMIN).await;
    let bundle = common::bundle();
    let page = list(&server, &admin, "limit=20000").await;
    assert_eq!(page["total"], bundle.points.len() as u64);
    let mut all: Vec<String> = bundle.points.iter().map(|p| p.id.clone()).collect();
    all.sort();
    assert_eq!(ids(&page), all, "every point, by id");

    // A district takes the districts below it: a top-level district's points are those of
    // its streets and communities.
    let tree = DistrictTree::new(&bundle.districts);
    let top = bundle
        .districts
        .iter()
        .find(|d| d.parent_id.is_none())
        .unwrap();
    let below = tree.descendants_of(std::iter::once(top.id.as_str()));
    let mut want: Vec<String> = bundle
        .points
        .iter()
        .filter(|p| below.contains(&p.district_id))
        .map(|p| p.id.clone())
        .collect();
    want.sort();
    assert!(!want.is_empty() && want.len() < bundle.points.len() || below.len() > 1);
    let page = list(
        &server,
        &admin,
        &format!("district_id={}&limit=20000", top.id),
    )
    .await;
    assert_eq!(ids(&page), want);

    // Type, unit (territorial or sector), text in the name or address.
    let p = &bundle.points[0];
    let t = serde_json::to_value(p.point_type).unwrap();
    let page = list(
        &server,
        &admin,
        &format!("point_type={}&limit=20000", t.as_str().unwrap()),
    )
    .await;
    assert_eq!(
        page["total"],
        bundle
            .points
            .iter()
            .filter(|x| x.point_type == p.point_type)
            .count() as u64
    );
    let sector = bundle
        .points
        .iter()
        .find_map(|p| p.sector_unit_ids.first())
        .unwrap();
    let page = list(&server, &admin, &format!("unit_id={sector}&limit=20000")).await;
    assert_eq!(
        page["total"],
        bundle
            .points
            .iter()
            .filter(|x| x.territorial_unit_id.as_ref() == Some(sector)
                || x.sector_unit_ids.contains(sector))
            .count() as u64
    );
    let word: String = p.name.chars().take(2).collect();
    let page = list(&server, &admin, &format!("q={}", urlencode(&word))).await;
    assert!(ids(&page).contains(&p.id), "{word}: {page}");
    // Pages: limit and offset over the same order.
    let first = list(&server, &admin, "limit=2").await;
    let second = list(&server, &admin, "limit=2&offset=2").await;
    assert_eq!(ids(&first), all[..2]);
    assert_eq!(ids(&second), all[2..4]);
}

/// A district with nothing below it (a community) inside the user's districts.
fn community_of(
    bundle: &fieldcheck_protocol::ReferenceBundle,
    u: &fieldcheck_domain::reference::User,
) -> fieldcheck_domain::reference::District {
    let tree = DistrictTree::new(&bundle.districts);
    let theirs = tree.descendants_of(u.district_ids.iter().map(String::as_str));
    bundle
        .districts
        .iter()
        .find(|d| theirs.contains(&d.id) && tree.descendants_of([d.id.as_str()]).len() == 1)
        .cloned()
        .expect("the user's districts hold a community")
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

#[tokio::test]
async fn points_are_added_edited_moved_and_deactivated_each_audited_and_seen_by_devices() {
    let server = Server::start_temp().await;
    let admin = server.console_sign_in(ADMIN).await;
    let bundle = common::bundle();
    let inspector = user(INSPECTOR);
    let district = community_of(&bundle, &inspector).id;
    let unit = bundle.units[0].id.clone();
    let before_version = list(&server, &admin, "limit=1").await["version"]
        .as_u64()
        .unwrap();

    // Add without an id: the next free p-NNNN.
    let r = server
        .console_post(
            &admin,
            "/console/setup/points",
            json!({"name": "新建农贸市场", "point_type": "farmers_market",
            "location": {"lat": 26.08, "lon": 119.30}, "address": "测试路 8 号",
            "district_id": district, "territorial_unit_id": unit}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let added: Value = r.json().await.unwrap();
    let id = added["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("p-"), "{id}");
    assert!(!bundle.points.iter().any(|p| p.id == id));
    assert_eq!(added["active"], true);
    assert_eq!(added["territorial_unit_id"], unit.as_str());

    // Move the pin, clear the territorial unit, set sector units; the id stays.
    let r = server
        .console_post(
            &admin,
            &format!("/console/setup/points/{id}"),
            json!({"location": {"lat": 26.081, "lon": 119.301}, "territorial_unit_id": "",
            "sector_unit_ids": [unit.clone(), unit.clone()]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let moved: Value = r.json().await.unwrap();
    assert_eq!(moved["location"], json!({"lat": 26.081, "lon": 119.301}));
    assert!(moved.get("territorial_unit_id").is_none_or(Value::is_null));
    assert_eq!(moved["sector_unit_ids"], json!([unit]));
    assert_eq!(moved["name"], "新建农贸市场");

    // The office adds its own code too.
    let r = server
        .console_post(
            &admin,
            "/console/setup/points",
            json!({"id": "GL-SC-01", "name": "南门菜市场", "point_type": "farmers_market",
            "location": {"lat": 26.07, "lon": 119.29}, "district_id": district}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    // Deactivate: the list's active filter and the device's reference data both say so.
    let r = server
        .console_post(
            &admin,
            "/console/setup/points/GL-SC-01/deactivate",
            json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["active"], false);
    let active = list(&server, &admin, "active=true&limit=20000").await;
    assert!(!ids(&active).contains(&"GL-SC-01".to_owned()));
    assert!(ids(&active).contains(&id));
    let inactive = list(&server, &admin, "active=false&limit=20000").await;
    assert_eq!(ids(&inactive), ["GL-SC-01"]);
    let token = server.enroll(INSPECTOR).await;
    let refs: fieldcheck_protocol::sync::ReferenceResponse =
        server.get(&token, "/reference").await.json().await.unwrap();
    let device_bundle = refs.bundle.unwrap();
    assert!(refs.version > before_version);
    let on_device = |pid: &str| device_bundle.points.iter().find(|p| p.id == pid).cloned();
    assert!(!on_device("GL-SC-01").unwrap().active);
    assert_eq!(on_device(&id).unwrap().location.lat, 26.081);

    // Work a device recorded there before it learnt of the deactivation still lands: the
    // point stays in the reference data, only off the lists for new work.
    let entity = Uuid::now_v7();
    let mut e = report(&inspector, entity, &district, now_ms());
    if let EventBody::ProblemReported(r) = &mut e.body {
        r.point_id = Some("GL-SC-01".into());
    }
    let pushed = server.push(&token, vec![e]).await;
    assert_eq!(pushed.results[0].status, PushStatus::Applied, "{pushed:?}");
    assert_eq!(pushed.results[0].outcome, Some(EventOutcome::Applied));

    // Activate again; nothing to do twice is not audited twice.
    for _ in 0..2 {
        let r = server
            .console_post(&admin, "/console/setup/points/GL-SC-01/activate", json!({}))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }

    // The audit names each change, with who made it and what was there before.
    let r = server
        .console_get(&admin.cookie, "/console/setup/audit?limit=200")
        .await;
    let audit: Value = r.json().await.unwrap();
    let entries: Vec<(String, String)> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("point."))
        .map(|e| {
            assert_eq!(e["actor"], ADMIN);
            (
                e["action"].as_str().unwrap().to_owned(),
                e["target"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let s = |a: &str, t: &str| (a.to_owned(), t.to_owned());
    assert_eq!(
        entries,
        [
            s("point.activate", "GL-SC-01"),
            s("point.deactivate", "GL-SC-01"),
            s("point.add", "GL-SC-01"),
            s("point.edit", &id),
            s("point.add", &id),
        ]
    );
    let edit = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "point.edit")
        .unwrap();
    assert_eq!(
        edit["before"]["location"],
        json!({"lat": 26.08, "lon": 119.30})
    );
    assert_eq!(
        edit["after"]["location"],
        json!({"lat": 26.081, "lon": 119.301})
    );
}

#[tokio::test]
async fn hostile_and_wrong_point_requests_are_refused_and_change_nothing() {
    let server = Server::start_temp().await;
    let admin = server.console_sign_in(ADMIN).await;
    let bundle = common::bundle();
    let district = bundle.points[0].district_id.clone();
    let existing = bundle.points[0].id.clone();
    let version = || async { server.store.reference_version().await.unwrap() };
    let v0 = version().await;
    let good = json!({"name": "点位", "point_type": "back_alley",
        "location": {"lat": 26.0, "lon": 119.3}, "district_id": district});
    let with = |k: &str, v: Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    let cases = [
        (
            with("district_id", json!("no-such")),
            StatusCode::BAD_REQUEST,
            "invalid_point",
        ),
        (
            with("territorial_unit_id", json!("no-such")),
            StatusCode::BAD_REQUEST,
            "invalid_point",
        ),
        (
            with("sector_unit_ids", json!(["no-such"])),
            StatusCode::BAD_REQUEST,
            "invalid_point",
        ),
        (
            with("location", json!({"lat": 91.0, "lon": 119.3})),
            StatusCode::BAD_REQUEST,
            "invalid_point",
        ),
        (
            with("location", json!({"lat": 0.0, "lon": 0.0})),
            StatusCode::BAD_REQUEST,
            "invalid_point",
        ),
        (
            with("name", json!("=HYPERLINK(\"http://x\")")),
            StatusCode::BAD_REQUEST,
            "invalid_point",
        ),
        (
            with("name", json!("  ")),
            StatusCode::BAD_REQUEST,
            "invalid_point",
        ),
        (
            with("name", json!("长".repeat(101))),
            StatusCode::BAD_REQUEST,
            "invalid_point",
        ),
        (
            with("id", json!("有空格 的编号")),
            StatusCode::BAD_REQUEST,
            "invalid_point",
        ),
        (
            with("id", json!(existing)),
            StatusCode::CONFLICT,
            "point_exists",
        ),
        (
            with("point_type", json!("castle")),
            StatusCode::BAD_REQUEST,
            "malformed_request",
        ),
        (
            with("owner", json!("me")),
            StatusCode::BAD_REQUEST,
            "malformed_request",
        ),
        (
            json!({"name": "无类型", "location": {"lat": 26.0, "lon": 119.3}, "district_id": district}),
            StatusCode::BAD_REQUEST,
            "invalid_point",
        ),
        (
            json!([good.clone()]),
            StatusCode::BAD_REQUEST,
            "malformed_request",
        ),
    ];
    for (body, status, code) in cases {
        let r = server
            .console_post(&admin, "/console/setup/points", body.clone())
            .await;
        let e = api_error(r, status, code).await;
        assert!(!e.message.is_empty(), "{body}");
    }
    // Edits: another id, an unknown point, an unknown district.
    let r = server
        .console_post(
            &admin,
            &format!("/console/setup/points/{existing}"),
            json!({"id": "renamed"}),
        )
        .await;
    api_error(r, StatusCode::BAD_REQUEST, "invalid_point").await;
    for path in [
        "/console/setup/points/nope",
        "/console/setup/points/nope/deactivate",
    ] {
        let r = server.console_post(&admin, path, json!({})).await;
        api_error(r, StatusCode::NOT_FOUND, "unknown_point").await;
    }
    let r = server
        .console_post(
            &admin,
            &format!("/console/setup/points/{existing}"),
            json!({"district_id": "no-such"}),
        )
        .await;
    api_error(r, StatusCode::BAD_REQUEST, "invalid_point").await;
    // A huge body is refused before it is read.
    let r = server
        .console_post(
            &admin,
            "/console/setup/points",
            with("address", json!("x".repeat(2 * 1024 * 1024))),
        )
        .await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // Other roles, no CSRF token, another site.
    let inspector = server.console_sign_in(INSPECTOR).await;
    let r = server
        .console_post(&inspector, "/console/setup/points", good.clone())
        .await;
    api_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = server
        .console_get(&inspector.cookie, "/console/setup/points")
        .await;
    api_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = server
        .http
        .post(server.url(&format!("/console/setup/points/{existing}/deactivate")))
        .header("cookie", &admin.cookie)
        .send()
        .await
        .unwrap();
    api_error(r, StatusCode::FORBIDDEN, "csrf_rejected").await;
    let r = server
        .http
        .post(server.url(&format!("/console/setup/points/{existing}/deactivate")))
        .header("cookie", &admin.cookie)
        .header("x-csrf-token", &admin.csrf)
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A device token is not a console session.
    let token = server.enroll(INSPECTOR).await;
    let r = server
        .http
        .get(server.url("/console/setup/points"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Bad queries say what is wrong.
    for q in ["limit=x", "point_type=castle", "active=maybe", "other=1"] {
        let r = server
            .console_get(&admin.cookie, &format!("/console/setup/points?{q}"))
            .await;
        api_error(r, StatusCode::BAD_REQUEST, "malformed_request").await;
    }

    assert_eq!(version().await, v0, "nothing was stored");
    let page = list(&server, &admin, "active=true&limit=20000").await;
    assert_eq!(
        page["total"],
        bundle.points.iter().filter(|p| p.active).count() as u64
    );
}

#[tokio::test]
async fn the_calendar_and_a_deadline_rule_change_later_dispatches_only() {
    let server = Server::start_temp().await;
    let admin = server.console_sign_in(ADMIN).await;
    let r = server
        .console_get(&admin.cookie, "/console/setup/calendar")
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page: Value = r.json().await.unwrap();
    let mut cal = page["calendar"].clone();
    // Next year's holidays entered ahead, with a make-up Sunday (调休) and a shorter lunch.
    cal["holidays"] = json!(["2027-02-08", "2027-01-01", "2027-02-09", "2027-01-01"]);
    cal["extra_working_days"] = json!(["2027-02-07"]);
    cal["periods"] = json!([{"start": "08:30:00", "end": "12:00:00"},
        {"start": "13:30:00", "end": "17:30:00"}]);
    let r = server
        .console_post(&admin, "/console/setup/calendar", cal.clone())
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let stored: Value = r.json().await.unwrap();
    assert_eq!(stored["set"], true);
    assert_eq!(
        stored["calendar"]["holidays"],
        json!(["2027-01-01", "2027-02-08", "2027-02-09"]),
        "sorted, once each"
    );
    let token = server.enroll(INSPECTOR).await;
    let refs: fieldcheck_protocol::sync::ReferenceResponse =
        server.get(&token, "/reference").await.json().await.unwrap();
    let device_cal = refs.bundle.unwrap().calendar.unwrap();
    assert!(device_cal.is_working_day(chrono::NaiveDate::from_ymd_opt(2027, 2, 7).unwrap()));
    assert!(!device_cal.is_working_day(chrono::NaiveDate::from_ymd_opt(2027, 2, 8).unwrap()));

    // Calendars that do not hold are refused with what is wrong, nothing stored.
    let v = server.store.reference_version().await.unwrap();
    let mut both = cal.clone();
    both["extra_working_days"] = json!(["2027-01-01"]);
    let mut overlap = cal.clone();
    overlap["periods"] = json!([{"start": "08:30:00", "end": "14:00:00"},
        {"start": "13:30:00", "end": "17:30:00"}]);
    let mut weekday = cal.clone();
    weekday["working_weekdays"] = json!([1, 2, 9]);
    for bad in [both, overlap, weekday] {
        let r = server
            .console_post(&admin, "/console/setup/calendar", bad)
            .await;
        api_error(r, StatusCode::BAD_REQUEST, "invalid_calendar").await;
    }
    let mut bad_date = cal.clone();
    bad_date["holidays"] = json!(["2027-02-30"]);
    let r = server
        .console_post(&admin, "/console/setup/calendar", bad_date)
        .await;
    api_error(r, StatusCode::BAD_REQUEST, "malformed_request").await;
    assert_eq!(server.store.reference_version().await.unwrap(), v);

    // A problem dispatched under the old rule keeps its deadline.
    let inspector = user(INSPECTOR);
    let bundle = common::bundle();
    let district = community_of(&bundle, &inspector).id;
    let unit = bundle.units[0].id.clone();
    let category = "SR-01";
    let reported = |entity| {
        let mut e = report(&inspector, entity, &district, now_ms());
        if let EventBody::ProblemReported(r) = &mut e.body {
            r.category = category.into();
        }
        e
    };
    let first = Uuid::now_v7();
    server.push(&token, vec![reported(first)]).await;
    let preview = |id: Uuid| {
        let (server, cookie, unit) = (&server, admin.cookie.clone(), unit.clone());
        async move {
            let r = server
                .console_get(
                    &cookie,
                    &format!("/console/problems/{id}/dispatch-preview?unit={unit}"),
                )
                .await;
            assert_eq!(r.status(), StatusCode::OK);
            r.json::<Value>().await.unwrap()
        }
    };
    let old_rule = preview(first).await["rule"].clone();
    let admin_user = user(ADMIN);
    let admin_token = server.enroll(ADMIN).await;
    let t = now_ms();
    server
        .file_and_dispatch(&admin_token, &admin_user, first, &unit, (t, t + 1))
        .await;
    let deadline_of = |id: Uuid| {
        let (server, cookie) = (&server, admin.cookie.clone());
        async move {
            let r = server
                .console_get(&cookie, &format!("/console/problems/{id}"))
                .await;
            assert_eq!(r.status(), StatusCode::OK);
            r.json::<Value>().await.unwrap()["problem"]["deadline"].clone()
        }
    };
    let kept = deadline_of(first).await;
    assert!(kept.is_string(), "{kept}");

    let new_rule = json!({"amount": 5, "unit": "natural_hours"});
    assert_ne!(old_rule, new_rule);
    let r = server
        .console_post(
            &admin,
            &format!("/console/setup/categories/{category}/deadline"),
            new_rule.clone(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["deadline"], new_rule);
    let r = server
        .console_get(&admin.cookie, "/console/setup/categories")
        .await;
    let cats: Value = r.json().await.unwrap();
    let listed = cats
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == category)
        .unwrap();
    assert_eq!(listed["deadline"], new_rule);

    // The next dispatch is counted by the new rule; the earlier case keeps its deadline.
    let second = Uuid::now_v7();
    server.push(&token, vec![reported(second)]).await;
    let p = preview(second).await;
    assert_eq!(p["rule"], new_rule);
    let due = chrono::DateTime::parse_from_rfc3339(p["deadline"].as_str().unwrap()).unwrap();
    let hours = (due.timestamp_millis() - now_ms()) as f64 / 3_600_000.0;
    assert!(
        (4.9..=5.01).contains(&hours),
        "5 natural hours from now: {hours}"
    );
    assert_eq!(deadline_of(first).await, kept);

    // Wrong rules and codes.
    for (body, status, code) in [
        (
            json!({"amount": 0, "unit": "working_days"}),
            StatusCode::BAD_REQUEST,
            "invalid_category",
        ),
        (
            json!({"amount": 400, "unit": "working_days"}),
            StatusCode::BAD_REQUEST,
            "invalid_category",
        ),
        (
            json!({"amount": 2, "unit": "fortnights"}),
            StatusCode::BAD_REQUEST,
            "malformed_request",
        ),
        (
            json!({"amount": -1, "unit": "working_days"}),
            StatusCode::BAD_REQUEST,
            "malformed_request",
        ),
    ] {
        let r = server
            .console_post(
                &admin,
                &format!("/console/setup/categories/{category}/deadline"),
                body,
            )
            .await;
        api_error(r, status, code).await;
    }
    let r = server
        .console_post(
            &admin,
            "/console/setup/categories/NO-SUCH/deadline",
            json!({"amount": 2, "unit": "working_days"}),
        )
        .await;
    api_error(r, StatusCode::NOT_FOUND, "unknown_category").await;
    let inspector_login = server.console_sign_in(INSPECTOR).await;
    for path in ["/console/setup/calendar", "/console/setup/categories"] {
        let r = server.console_get(&inspector_login.cookie, path).await;
        api_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let r = server
        .console_post(&inspector_login, "/console/setup/calendar", cal)
        .await;
    api_error(r, StatusCode::FORBIDDEN, "forbidden").await;

    // Both changes are audited with before and after.
    let audit: Value = server
        .console_get(&admin.cookie, "/console/setup/audit?limit=200")
        .await
        .json()
        .await
        .unwrap();
    let entries = audit["entries"].as_array().unwrap();
    let deadline = entries
        .iter()
        .find(|e| e["action"] == "category.deadline")
        .unwrap();
    assert_eq!(deadline["target"], category);
    assert_eq!(deadline["before"], old_rule);
    assert_eq!(deadline["after"], new_rule);
    assert!(entries.iter().any(|e| e["action"] == "calendar.edit"));
}

#[tokio::test]
async fn the_checklist_templates_are_listed_every_version_newest_first() {
    let server = Server::start_temp().await;
    let admin = server.console_sign_in(ADMIN).await;
    let r = server
        .console_get(&admin.cookie, "/console/setup/templates")
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let listed: Vec<fieldcheck_domain::checklist::ChecklistTemplate> = r.json().await.unwrap();
    let mut want = common::bundle().templates;
    want.sort_by(|a, b| a.id.cmp(&b.id).then(b.version.cmp(&a.version)));
    assert!(!want.is_empty());
    assert_eq!(listed, want);
    let inspector = server.console_sign_in(INSPECTOR).await;
    let r = server
        .console_get(&inspector.cookie, "/console/setup/templates")
        .await;
    api_error(r, StatusCode::FORBIDDEN, "forbidden").await;
}

/// Issue 15's edge cases: an import that renames a district and leaves a unit out (so it is
/// deactivated) keeps every record's history, and a device's work still pending against that
/// unit lands after the import.
#[tokio::test]
async fn a_renamed_district_and_a_removed_unit_keep_every_record_and_pending_work_lands() {
    let server = Server::start_temp().await;
    let admin = server.console_sign_in(ADMIN).await;
    let bundle = common::bundle();
    let inspector = user(INSPECTOR);
    let office = user(ADMIN);
    let district = community_of(&bundle, &inspector);
    let unit = bundle.units.iter().find(|u| u.active).unwrap().id.clone();
    let inspector_token = server.enroll(INSPECTOR).await;
    let office_token = server.enroll(ADMIN).await;
    let (first, second) = (Uuid::now_v7(), Uuid::now_v7());
    let t = now_ms();
    server
        .push(
            &inspector_token,
            vec![
                report(&inspector, first, &district.id, t),
                report(&inspector, second, &district.id, t + 1),
            ],
        )
        .await;
    server
        .file_and_dispatch(&office_token, &office, first, &unit, (t + 2, t + 3))
        .await;
    // The office's device files and dispatches the second to the unit while offline; the
    // events wait on it (made now, pushed after the import).
    let pending = vec![
        common::filed(&office, second, t + 4),
        common::dispatched(&office, second, &unit, t + 5),
    ];

    // The import: the district renamed under its id, the unit left out of the units.
    let mut renamed = district.clone();
    renamed.name.zh = "更名后的社区".into();
    let units: Vec<_> = bundle
        .units
        .iter()
        .filter(|u| u.id != unit)
        .cloned()
        .collect();
    let file = serde_json::to_vec(&json!({"districts": [renamed], "units": units})).unwrap();
    let r = server
        .http
        .post(server.url("/console/setup/import/preview?filename=city.json"))
        .header("cookie", &admin.cookie)
        .header("x-csrf-token", &admin.csrf)
        .body(file.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let preview: Value = r.json().await.unwrap();
    assert_eq!(preview["errors"], json!([]), "{preview}");
    let kind = |k: &str| {
        preview["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["kind"] == k)
            .cloned()
            .unwrap()
    };
    assert_eq!(kind("districts")["changed"], json!([district.id]));
    assert_eq!(kind("units")["deactivated"], json!([unit]));
    let base = preview["base_version"].as_u64().unwrap();
    let r = server
        .http
        .post(server.url(&format!(
            "/console/setup/import/apply?filename=city.json&base_version={base}"
        )))
        .header("cookie", &admin.cookie)
        .header("x-csrf-token", &admin.csrf)
        .body(file)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // The pending dispatch to the deactivated unit lands.
    let pushed = server.push(&office_token, pending).await;
    for r in &pushed.results {
        assert_eq!(r.status, PushStatus::Applied, "{pushed:?}");
        assert_eq!(r.outcome, Some(EventOutcome::Applied), "{pushed:?}");
    }
    // Both records keep their district and unit; the ledger finds them under the district
    // and the unit, and names the district by its new name.
    let r = server
        .console_get(
            &admin.cookie,
            &format!("/console/problems?district={}&unit={unit}", district.id),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page: Value = r.json().await.unwrap();
    let mut found: Vec<String> = page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    found.sort();
    let mut want = vec![first.to_string(), second.to_string()];
    want.sort();
    assert_eq!(found, want, "{page}");
    let r = server
        .console_get(&admin.cookie, "/console/reference")
        .await;
    let refs: Value = r.json().await.unwrap();
    let named = refs["districts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == district.id.as_str())
        .cloned()
        .unwrap();
    assert_eq!(named["name"], "更名后的社区");
}
