//! Today's tasks (issue 18) through the `fieldcheck` binary against a real server: an
//! inspector's device syncs the points of an evaluation round only from the round's date, keeps
//! them offline and lists them nearest first.

mod common;

use chrono::{Days, Utc};
use common::{Device, Server, json_of};
use fieldcheck_core::domain::reference::LatLon;
use serde_json::{Value, json};

const INSPECTOR: &str = "usr-insp-1";

/// Creates a round as the office would in the console (session cookie and CSRF token).
fn create_round(server: &Server, name: &str, days_ahead: u64) -> Value {
    let http = server.http();
    let base = server.base.clone();
    let today = fieldcheck_core::protocol::demo_bundle()
        .calendar
        .unwrap_or_default()
        .local_day(Utc::now());
    let date = today + Days::new(days_ahead);
    server.rt.block_on(async move {
        let r = http
            .post(format!("{base}/api/v1/console/session"))
            .json(&json!({"username": "usr-admin-1", "password": fieldcheck_server::demo::DEMO_PASSWORD}))
            .send()
            .await
            .unwrap();
        let cookie = r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let info: Value = r.json().await.unwrap();
        json_of(
            http.post(format!("{base}/api/v1/console/rounds"))
                .header("cookie", cookie)
                .header("x-csrf-token", info["csrf_token"].as_str().unwrap())
                .json(&json!({
                    "name": name,
                    "date": date.to_string(),
                    "seed": name,
                    "quotas": [{"point_type": "back_alley", "district_id": "s-dj", "count": 2}],
                    "inspectors": [INSPECTOR],
                })),
        )
        .await
    })
}

#[test]
fn an_inspector_gets_a_rounds_points_only_from_its_date_and_keeps_them_offline() {
    let server = Server::start();
    let d = Device::new().real_clock();
    d.json(&[
        "enroll",
        "--server",
        &server.base,
        "--code",
        &server.code_of(INSPECTOR),
    ]);
    let tomorrow = create_round(&server, "明日测评", 1);
    assert_eq!(tomorrow["points_total"], 2, "{tomorrow}");
    d.json(&["sync"]);
    let t = d.json(&["tasks"]);
    assert_eq!(t["tasks"], json!([]), "nothing before the round's day: {t}");

    let today = create_round(&server, "今日测评", 0);
    d.json(&["sync"]);
    let t = d.json(&["tasks"]);
    let tasks = t["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2, "{t}");
    assert!(tasks.iter().all(|x| x["round_id"] == today["id"]));
    assert!(tasks.iter().all(|x| x["done"] == false));

    // Nearest first from a position next to the farther one of the two.
    let at = |x: &Value| LatLon {
        lat: x["location"]["lat"].as_f64().unwrap(),
        lon: x["location"]["lon"].as_f64().unwrap(),
    };
    let last = at(&tasks[1]);
    let t = d.json(&["tasks", "--near", &format!("{},{}", last.lat, last.lon)]);
    let near = t["tasks"].as_array().unwrap();
    assert_eq!(near[0]["point_id"], tasks[1]["point_id"], "{t}");
    assert!(near[0]["distance_m"].as_f64().unwrap() < 1.0);
    assert!(near[1]["distance_m"].as_f64().unwrap() >= near[0]["distance_m"].as_f64().unwrap());

    // Offline: the list is on the device with the server gone.
    drop(server);
    assert_eq!(d.json(&["tasks"])["tasks"].as_array().unwrap().len(), 2);
    // The table in Chinese by default.
    let table = d.ok(&["tasks"]);
    assert!(table.contains("今日测评"), "{table}");
}
