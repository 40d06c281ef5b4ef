//! The bridge over real HTTP (port 0) against a real SQLite device store in a temp dir.

mod common;

use common::Bridge;
use fieldcheck_bridge::ErrorBody;
use serde_json::{Value, json};

fn jpeg(seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([seed, (x * 4) as u8, (y * 5) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

#[tokio::test]
async fn fresh_device_has_no_user_until_the_demo_is_seeded() {
    let b = Bridge::start(None).await;
    let me = b.ok("me", json!({})).await;
    assert!(me["user"].is_null());
    assert_eq!(me["pending_sync"], 0);
    let (status, e) = b.err("home", json!({})).await;
    assert_eq!((status, e.code.as_str()), (401, "no_user"));

    let seeded = b.ok("demo_seed", json!({})).await;
    assert_eq!(seeded["me"]["user"]["id"], "usr-insp-1");
    assert!(seeded["me"]["pending_sync"].as_u64().unwrap() > 0);
    // Seeding again changes nothing.
    assert_eq!(b.ok("demo_seed", json!({})).await["created"], 0);

    let home = b.ok("home", json!({})).await;
    assert_eq!(home["me"]["user"]["role"], "inspector");
    assert!(home["todo"]["total"].is_u64());

    let me = b.ok("login", json!({"user_id": "usr-admin-1"})).await;
    assert_eq!(me["user"]["role"], "admin");
    let (status, e) = b.err("login", json!({"user_id": "nobody"})).await;
    assert_eq!((status, e.code.as_str()), (404, "not_found"));
    b.stop().await;
}

#[tokio::test]
async fn points_filter_by_type_and_sort_by_distance() {
    let b = Bridge::demo().await;
    let all = b.ok("points", json!({})).await;
    assert!(all.as_array().unwrap().len() > 30);

    let markets = b
        .ok(
            "points",
            json!({"point_type": "farmers_market", "lat": 26.0836, "lon": 119.2915}),
        )
        .await;
    let rows = markets.as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r["type"] == "farmers_market"));
    let d: Vec<f64> = rows
        .iter()
        .map(|r| r["distance_m"].as_f64().unwrap())
        .collect();
    assert!(
        d.windows(2).all(|w| w[0] <= w[1]),
        "sorted by distance: {d:?}"
    );

    let (status, e) = b.err("points", json!({"point_type": "moon_base"})).await;
    assert_eq!((status, e.code.as_str()), (422, "invalid_input"));

    let detail = b.ok("point", json!({"id": "p-009"})).await;
    assert_eq!(detail["point"]["id"], "p-009");
    assert_eq!(detail["template"]["point_type"], "farmers_market");
    assert!(detail["open_problems"]["total"].as_u64().unwrap() >= 1);
    b.stop().await;
}

#[tokio::test]
async fn inspection_scores_requires_photo_on_fail_and_raises_problems() {
    let b = Bridge::demo().await;
    let started = b
        .ok(
            "inspection_start",
            json!({"point_id": "p-010", "location": {"lat": 26.08, "lon": 119.29, "accuracy_m": 6.0, "source": "gps"}}),
        )
        .await;
    let id = started["inspection"]["id"].as_str().unwrap().to_owned();
    assert_eq!(started["template"]["id"], "tpl-farmers-market");
    let home = b.ok("home", json!({})).await;
    assert_eq!(home["open_inspections"][0]["inspection"]["id"], id.as_str());
    assert_eq!(
        home["open_inspections"][0]["point_name"],
        "南街光禄坊农贸市场"
    );

    let v = b
        .ok(
            "inspection_record",
            json!({"inspection_id": id, "item_id": "fm-04", "result": {"result": "pass"}}),
        )
        .await;
    assert_eq!(v["inspection"]["score"]["percent"], 100.0);

    // fm-08 needs a photo when it fails.
    let (status, e) = b
        .err(
            "inspection_record",
            json!({"inspection_id": id, "item_id": "fm-08", "result": {"result": "fail"}}),
        )
        .await;
    assert_eq!((status, e.code.as_str()), (409, "photo_required"));

    let photo = b.upload(jpeg(7)).await;
    let hash = photo["hash"].as_str().unwrap();
    let v = b
        .ok(
            "inspection_record",
            json!({"inspection_id": id, "item_id": "fm-08", "result": {"result": "fail"},
                   "note": "排水沟堵塞", "photos": [hash]}),
        )
        .await;
    assert_eq!(v["inspection"]["score"]["failed_items"], 1);
    assert!(v["inspection"]["score"]["percent"].as_f64().unwrap() < 100.0);

    let p = b
        .ok(
            "inspection_raise",
            json!({"inspection_id": id, "item_id": "fm-08"}),
        )
        .await;
    assert_eq!(p["point_id"], "p-010");
    assert_eq!(p["item_id"], "fm-08");
    assert_eq!(p["category"], "SS-05");
    assert_eq!(p["status"], "reported");
    assert_eq!(p["photos"][0]["hash"], hash);
    assert!(p["description"].as_str().unwrap().contains("排水沟堵塞"));

    // A passed item raises nothing.
    let (status, e) = b
        .err(
            "inspection_raise",
            json!({"inspection_id": id, "item_id": "fm-04"}),
        )
        .await;
    assert_eq!((status, e.code.as_str()), (422, "invalid_input"));

    // Finishing needs every item recorded.
    let (status, e) = b
        .err("inspection_finish", json!({"inspection_id": id}))
        .await;
    assert_eq!((status, e.code.as_str()), (409, "invalid_transition"));
    for item in started["template"]["items"].as_array().unwrap() {
        let item_id = item["id"].as_str().unwrap();
        if item_id != "fm-04" && item_id != "fm-08" {
            b.ok(
                "inspection_record",
                json!({"inspection_id": id, "item_id": item_id, "result": {"result": "not_applicable"}}),
            )
            .await;
        }
    }
    let fin = b
        .ok("inspection_finish", json!({"inspection_id": id}))
        .await;
    assert_eq!(fin["inspection"]["score"]["recorded_items"], 15);
    assert_eq!(fin["inspection"]["status"], "finished");
    let (status, e) = b
        .err(
            "inspection_record",
            json!({"inspection_id": id, "item_id": "fm-05", "result": {"result": "pass"}}),
        )
        .await;
    assert_eq!((status, e.code.as_str()), (409, "inspection_finished"));

    let detail = b.ok("point", json!({"id": "p-010"})).await;
    assert_eq!(detail["inspections"][0]["id"], id.as_str());
    assert_eq!(b.ok("home", json!({})).await["inspections_today"], 1);
    b.stop().await;
}

#[tokio::test]
async fn photos_upload_as_raw_bytes_and_come_back_as_images() {
    let b = Bridge::start(None).await;
    let bytes = jpeg(42);
    let first = b.upload(bytes.clone()).await;
    let hash = first["hash"].as_str().unwrap().to_owned();
    assert_eq!(hash.len(), 64);
    assert_eq!(first["new"], true);
    let again = b.upload(bytes).await;
    assert_eq!(again["hash"], hash.as_str());
    assert_eq!(again["new"], false);

    for size in ["display", "thumb"] {
        let res = b
            .client
            .get(format!("{}/bridge/photos/{hash}/{size}", b.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "image/jpeg");
        assert!(
            res.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
        let body = res.bytes().await.unwrap();
        assert_eq!(&body[..2], &[0xFF, 0xD8], "a JPEG");
    }
    let missing = "0".repeat(64);
    let res = b
        .client
        .get(format!("{}/bridge/photos/{missing}/display", b.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    let res = b
        .client
        .post(format!("{}/bridge/photos", b.base))
        .header("content-type", "image/jpeg")
        .body(b"not an image".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let e: ErrorBody = res.json().await.unwrap();
    assert!(e.code.starts_with("photo_"), "{e:?}");

    let s = b.ok("settings", json!({})).await;
    assert!(s["photo_files"].as_u64().unwrap() >= 2);
    assert!(s["photo_bytes"].as_u64().unwrap() > 0);
    assert!(s["db_bytes"].as_u64().unwrap() > 0);
    b.stop().await;
}

#[tokio::test]
async fn quick_report_then_lifecycle_actions_by_role() {
    let b = Bridge::demo().await;
    let photo = b.upload(jpeg(1)).await;
    let p = b
        .ok(
            "problem_report",
            json!({
                "category": "SR-02",
                "description": "桥下暴露垃圾一堆",
                "location": {"lat": 26.0801, "lon": 119.2950, "accuracy_m": 12.0, "source": "gps"},
                "district_id": "c-tx",
                "photos": [photo["hash"]],
            }),
        )
        .await;
    let id = p["id"].as_str().unwrap().to_owned();
    assert_eq!(p["status"], "reported");
    assert_eq!(p["reporter"], "usr-insp-1");

    // The inspector may not file; the detail does not offer it either.
    let d = b.ok("problem", json!({"id": id})).await;
    let allowed: Vec<&str> = d["allowed_actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(!allowed.contains(&"file"), "{allowed:?}");
    let (status, e) = b
        .err(
            "problem_act",
            json!({"id": id, "action": {"action": "file"}}),
        )
        .await;
    assert_eq!((status, e.code.as_str()), (403, "role_not_allowed"));

    b.ok("login", json!({"user_id": "usr-admin-1"})).await;
    let d = b.ok("problem", json!({"id": p["code"]})).await;
    assert!(
        d["allowed_actions"]
            .as_array()
            .unwrap()
            .contains(&json!("file"))
    );
    let d = b
        .ok(
            "problem_act",
            json!({"id": id, "action": {"action": "file", "note": "立案"}}),
        )
        .await;
    assert_eq!(d["problem"]["status"], "filed");
    let d = b
        .ok(
            "problem_act",
            json!({"id": id, "action": {"action": "dispatch", "unit_id": "u-hwc"}}),
        )
        .await;
    assert_eq!(d["problem"]["status"], "dispatched");
    assert!(d["problem"]["deadline"].is_string());
    assert!(
        d["allowed_actions"]
            .as_array()
            .unwrap()
            .contains(&json!("dispatch"))
    );

    // The unit handler accepts, then cannot rectify without an after-photo.
    b.ok("login", json!({"user_id": "usr-hdl-5"})).await;
    let d = b
        .ok(
            "problem_act",
            json!({"id": id, "action": {"action": "accept"}}),
        )
        .await;
    assert_eq!(d["problem"]["status"], "rectifying");
    assert!(
        d["allowed_actions"]
            .as_array()
            .unwrap()
            .contains(&json!("rectify"))
    );
    let (status, e) = b
        .err(
            "problem_act",
            json!({"id": id, "action": {"action": "rectify", "photos": []}}),
        )
        .await;
    assert_eq!((status, e.code.as_str()), (409, "after_photo_required"));
    let after = b.upload(jpeg(2)).await;
    let d = b
        .ok(
            "problem_act",
            json!({"id": id, "action": {"action": "rectify", "photos": [after["hash"]]}}),
        )
        .await;
    assert_eq!(d["problem"]["status"], "rectified");
    let roles: Vec<&str> = d["problem"]["photos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["before", "after"]);
    let kinds: Vec<&str> = d["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["event"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "problem.reported",
            "problem.filed",
            "problem.dispatched",
            "problem.accepted",
            "problem.rectified"
        ]
    );
    assert!(
        d["history"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["outcome"] == "applied")
    );

    let (status, e) = b
        .err(
            "problem_act",
            json!({"id": id, "action": {"action": "fly"}}),
        )
        .await;
    assert_eq!((status, e.code.as_str()), (400, "invalid_input"));
    b.stop().await;
}

#[tokio::test]
async fn ledger_filters_searches_and_pages() {
    let b = Bridge::demo().await;
    let all = b.ok("ledger", json!({})).await;
    let total = all["total"].as_u64().unwrap();
    assert!(total >= 6);

    let reported = b
        .ok("ledger", json!({"query": {"statuses": ["reported"]}}))
        .await;
    assert!(
        reported["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "reported")
    );

    let found = b.ok("ledger", json!({"query": {"text": "井盖"}})).await;
    assert_eq!(found["total"], 1);
    assert!(
        found["items"][0]["description"]
            .as_str()
            .unwrap()
            .contains("井盖")
    );
    assert!(found["items"][0]["overdue"].is_boolean());

    let page = b
        .ok(
            "ledger",
            json!({"query": {"limit": 2, "offset": 2, "sort": "oldest"}}),
        )
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["total"], total);

    let mine = b.ok("ledger", json!({"mine": true})).await;
    assert!(
        mine["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["reporter"] == "usr-insp-1")
    );

    let (status, e) = b.err("ledger", json!({"query": {"limit": 0}})).await;
    assert_eq!((status, e.code.as_str()), (422, "invalid_input"));

    let stats = b.ok("stats", json!({})).await;
    assert_eq!(stats["total"], total);
    let reference = b.ok("reference", json!({})).await;
    assert!(reference["categories"].as_array().unwrap().len() > 10);
    assert_eq!(reference["point_types"].as_array().unwrap().len(), 18);
    b.stop().await;
}

#[tokio::test]
async fn errors_are_json_with_stable_codes() {
    let b = Bridge::demo().await;
    let res = b
        .client
        .post(format!("{}/bridge/problem", b.base))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let e: ErrorBody = res.json().await.unwrap();
    assert_eq!(e.code, "invalid_input");

    let (status, e) = b
        .err("problem", json!({"id": "GL-20000101-XXXX-0001"}))
        .await;
    assert_eq!((status, e.code.as_str()), (404, "not_found"));
    let (status, e) = b.err("no_such_command", json!({})).await;
    assert_eq!((status, e.code.as_str()), (404, "not_found"));
    b.stop().await;
}

#[tokio::test]
async fn serves_the_ui_with_index_fallback() {
    let ui = tempfile::tempdir().unwrap();
    std::fs::write(
        ui.path().join("index.html"),
        "<!doctype html><title>FieldCheck</title>",
    )
    .unwrap();
    std::fs::create_dir(ui.path().join("assets")).unwrap();
    std::fs::write(ui.path().join("assets/app.js"), "console.log(1)").unwrap();
    let b = Bridge::start(Some(ui.path().to_path_buf())).await;
    let get = |p: &'static str| {
        let url = format!("{}{p}", b.base);
        let c = b.client.clone();
        async move { c.get(url).send().await.unwrap() }
    };
    let root = get("/").await;
    assert_eq!(root.status(), 200);
    assert!(root.text().await.unwrap().contains("FieldCheck"));
    let js = get("/assets/app.js").await;
    assert_eq!(js.status(), 200);
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    let deep = get("/ledger/some-route").await;
    assert_eq!(deep.status(), 200);
    assert!(deep.text().await.unwrap().contains("FieldCheck"));
    // The API is still the API.
    assert_eq!(b.ok("me", json!({})).await["user"], Value::Null);
    b.stop().await;
}

#[tokio::test]
async fn rejected_events_from_elsewhere_show_on_the_record() {
    use fieldcheck_core::domain::{Event, EventBody, Hlc};
    let mut code = String::new();
    let b = Bridge::start_with(None, |st| {
        fieldcheck_core::demo::seed_demo(st).unwrap();
        st.set_current_user(Some("usr-admin-1")).unwrap();
        // A problem the office already filed here ...
        let p = st
            .list_problems(&fieldcheck_core::ProblemQuery {
                statuses: vec![fieldcheck_core::domain::ProblemStatus::Reported],
                ..Default::default()
            })
            .unwrap()
            .items
            .remove(0)
            .problem;
        let admin = st.actor("usr-admin-1").unwrap();
        st.act(
            &admin,
            p.id,
            fieldcheck_core::ProblemAction::File { note: None },
        )
        .unwrap();
        // ... and a second "file" from another office device arriving later: kept, rejected.
        let late = Event::new(
            p.id,
            &admin,
            "other-device",
            Hlc::new(st.now().timestamp_millis() + 60_000, 0, "other-device"),
            EventBody::ProblemFiled {
                note: Some("也立案".into()),
            },
        );
        st.apply_remote(&[late]).unwrap();
        code = p.code;
    })
    .await;
    let d = b.ok("problem", json!({"id": code})).await;
    assert_eq!(d["problem"]["status"], "filed");
    let last = d["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["event"]["kind"], "problem.filed");
    assert_eq!(last["outcome"], "rejected");
    assert_eq!(last["code"], "invalid_transition");
    assert!(last["message"].as_str().unwrap().len() > 3);
    assert_eq!(last["origin"], "remote");
    let conflicts = b
        .ok("ledger", json!({"query": {"with_rejections": true}}))
        .await;
    assert_eq!(conflicts["total"], 1);
    assert_eq!(conflicts["items"][0]["rejected_events"], 1);
    b.stop().await;
}

// ---------------------------------------------------------------- enrollment and sync

/// A real `fieldcheck-server` in process (SQLite + blobs in a temp dir, port 0, demo city).
struct Server {
    base: String,
    logins: Vec<fieldcheck_server::demo::DemoLogin>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start() -> Server {
        Server::start_with(|_| {}).await
    }

    async fn start_with(tweak: impl FnOnce(&mut fieldcheck_server::Config)) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut config = fieldcheck_server::Config {
            database_url: format!("sqlite://{}/fc.db", dir.path().display()),
            blob_dir: dir.path().join("blobs"),
            ..fieldcheck_server::Config::default()
        };
        tweak(&mut config);
        let store = fieldcheck_server::open_store(&config.database_url)
            .await
            .unwrap();
        let now = chrono::Utc::now().timestamp_millis();
        let logins = fieldcheck_server::demo::seed(store.as_ref(), now)
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(fieldcheck_server::serve_with_store(
            config,
            store,
            listener,
            async move {
                let _ = rx.await;
            },
        ));
        Server {
            base: format!("http://{addr}"),
            logins,
            stop: Some(tx),
            task: Some(task),
            _dir: dir,
        }
    }

    fn code_of(&self, role: &str) -> (String, String) {
        let l = self
            .logins
            .iter()
            .find(|l| l.role.as_str() == role)
            .unwrap();
        (l.user_id.clone(), l.enroll_code.clone())
    }

    /// Every `problem.reported` event on the server, as the admin sees it: (code, photo hashes).
    async fn reported(&self) -> Vec<(String, Vec<String>)> {
        let http = reqwest::Client::new();
        let (admin, _) = self.code_of("admin");
        let login: Value = http
            .post(format!("{}/api/v1/login", self.base))
            .header("x-fieldcheck-protocol", "1")
            .json(&json!({"username": admin, "password": fieldcheck_server::demo::DEMO_PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = login["token"].as_str().expect("admin login").to_owned();
        let mut out = Vec::new();
        let mut since = 0;
        loop {
            let page: Value = http
                .get(format!("{}/api/v1/pull?since={since}", self.base))
                .header("x-fieldcheck-protocol", "1")
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            for it in page["items"].as_array().unwrap() {
                let ev = &it["event"];
                if ev["kind"] == "problem.reported" {
                    let photos = ev["photos"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|p| p["hash"].as_str().unwrap().to_owned())
                                .collect()
                        })
                        .unwrap_or_default();
                    out.push((ev["payload"]["code"].as_str().unwrap().to_owned(), photos));
                }
            }
            since = page["cursor"].as_u64().unwrap();
            if page["more"] != true {
                break;
            }
        }
        // The photos are really there.
        for (_, photos) in &out {
            for h in photos {
                let res = http
                    .get(format!("{}/api/v1/blobs/{h}", self.base))
                    .header("x-fieldcheck-protocol", "1")
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                assert!(res.status().is_success(), "blob {h}: {}", res.status());
            }
        }
        out
    }

    async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        self.task.take().unwrap().await.unwrap().unwrap();
    }
}

impl Bridge {
    /// Polls `sync_status` until the background run has finished.
    async fn sync_to_end(&self) -> Value {
        let started = self.ok("sync_start", json!({})).await;
        assert_eq!(started["running"], true, "{started}");
        for _ in 0..300 {
            let s = self.ok("sync_status", json!({})).await;
            if s["running"] == false {
                return s;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("sync did not finish");
    }

    async fn report_with_photo(&self, seed: u8, description: &str) -> String {
        let photo = self.upload(jpeg(seed)).await;
        let p = self
            .ok(
                "problem_report",
                json!({
                    "category": "SR-02",
                    "description": description,
                    "location": {"lat": 26.0801, "lon": 119.2950, "accuracy_m": 12.0, "source": "gps"},
                    "photos": [photo["hash"]],
                }),
            )
            .await;
        p["code"].as_str().unwrap().to_owned()
    }
}

#[tokio::test]
async fn enroll_sync_and_unenroll_against_a_real_server() {
    let server = Server::start().await;
    let b = Bridge::start(None).await;

    // Not enrolled: the status says so and a sync is refused with a stable code.
    let s = b.ok("sync_status", json!({})).await;
    assert_eq!(s["enrolled"], false);
    assert_eq!(s["running"], false);
    let (status, e) = b.err("sync_start", json!({})).await;
    assert_eq!((status, e.code.as_str()), (409, "not_enrolled"));

    // Bad input is refused with stable codes and nothing is stored.
    let (status, e) = b
        .err("enroll", json!({"server": "not a url", "code": "X"}))
        .await;
    assert_eq!((status, e.code.as_str()), (422, "invalid_server_url"));
    let (status, e) = b
        .err(
            "enroll",
            json!({"server": server.base, "code": "WRONG-CODE"}),
        )
        .await;
    assert_eq!((status, e.code.as_str()), (422, "enroll_code_invalid"));
    let (status, e) = b
        .err(
            "enroll",
            json!({"server": server.base, "code": "X", "ca_cert": "not a certificate"}),
        )
        .await;
    assert_eq!((status, e.code.as_str()), (422, "invalid_ca_cert"));
    let (status, e) = b.err("enroll", json!({"server": server.base})).await;
    assert_eq!((status, e.code.as_str()), (400, "invalid_input"));
    assert_eq!(b.ok("sync_status", json!({})).await["enrolled"], false);

    // Enrollment signs the device in as the enrolled user with the server's reference data.
    let (user_id, code) = server.code_of("inspector");
    let enrolled = b
        .ok("enroll", json!({"server": server.base, "code": code}))
        .await;
    assert_eq!(enrolled["user"]["id"], user_id.as_str());
    assert_eq!(enrolled["me"]["user"]["id"], user_id.as_str());
    assert!(enrolled["reference_error"].is_null(), "{enrolled}");
    let s = b.ok("sync_status", json!({})).await;
    assert_eq!(s["enrolled"], true);
    assert_eq!(s["user_id"], user_id.as_str());

    // Two reports with photos wait to sync ...
    let c1 = b.report_with_photo(11, "桥下暴露垃圾一堆").await;
    let c2 = b.report_with_photo(12, "人行道共享单车乱停放").await;
    let s = b.ok("sync_status", json!({})).await;
    assert_eq!(s["pending_records"], 2);
    assert_eq!(s["pending_photos"], 2);

    // ... a background run sends them (progress as it goes, the report at the end) ...
    let s = b.sync_to_end().await;
    assert!(s["last_error"].is_null(), "{s}");
    assert_eq!(s["pending_records"], 0);
    assert_eq!(s["pending_photos"], 0);
    assert_eq!(s["last_report"]["pushed"], 2);
    assert_eq!(s["last_report"]["photos_uploaded"], 2);
    assert_eq!(s["progress"]["phase"], "done");
    assert!(s["last_success_ms"].as_u64().unwrap() > 0);
    // ... and the server has both, with their photos.
    let on_server = server.reported().await;
    for c in [&c1, &c2] {
        let (_, photos) = on_server
            .iter()
            .find(|(code, _)| code == c)
            .unwrap_or_else(|| panic!("{c} is not on the server"));
        assert_eq!(photos.len(), 1);
    }

    // Sign out refuses while records wait to sync, unless told to discard them.
    b.report_with_photo(13, "井盖缺失").await;
    let (status, e) = b.err("unenroll", json!({})).await;
    assert_eq!((status, e.code.as_str()), (409, "pending_sync"));
    assert_eq!(b.ok("sync_status", json!({})).await["enrolled"], true);
    let s = b.ok("unenroll", json!({"discard_pending": true})).await;
    assert_eq!(s["enrolled"], false);
    assert!(s["server"].is_null());
    let (status, e) = b.err("sync_start", json!({})).await;
    assert_eq!((status, e.code.as_str()), (409, "not_enrolled"));

    b.stop().await;
    server.stop().await;
}

#[tokio::test]
async fn sync_with_the_server_gone_reports_a_network_error_and_keeps_the_records() {
    let server = Server::start().await;
    let b = Bridge::start(None).await;
    let (_, code) = server.code_of("inspector");
    b.ok("enroll", json!({"server": server.base, "code": code}))
        .await;
    b.report_with_photo(21, "路边垃圾堆积").await;
    server.stop().await;

    let s = b.sync_to_end().await;
    assert_eq!(s["last_error"]["code"], "network", "{s}");
    assert!(s["last_success_ms"].is_null());
    assert_eq!(s["pending_records"], 1);
    assert_eq!(s["pending_photos"], 1);
    // Sign out is refused: the record would be lost.
    let (status, e) = b.err("unenroll", json!({})).await;
    assert_eq!((status, e.code.as_str()), (409, "pending_sync"));
    b.stop().await;
}

#[tokio::test]
async fn a_volunteer_sees_only_their_own_reports() {
    let b = Bridge::demo().await;
    b.ok("login", json!({"user_id": "usr-admin-1"})).await;
    let all = b.ok("ledger", json!({})).await;
    let others: Vec<&Value> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["reporter"] != "usr-vol-1")
        .collect();
    assert!(!others.is_empty(), "the demo has reports by other people");

    b.ok("login", json!({"user_id": "usr-vol-1"})).await;
    let mine = b.ok("ledger", json!({})).await;
    let items = mine["items"].as_array().unwrap();
    assert!(!items.is_empty(), "the demo volunteer has reports");
    assert!(items.iter().all(|p| p["reporter"] == "usr-vol-1"));
    let own = b.ok("problem", json!({"id": items[0]["id"]})).await;
    assert_eq!(own["problem"]["reporter"], "usr-vol-1");
    let (status, e) = b.err("problem", json!({"id": others[0]["id"]})).await;
    assert_eq!((status, e.code.as_str()), (404, "not_found"));
}

#[tokio::test]
async fn an_enrolled_device_belongs_to_its_enrolled_user() {
    let server = Server::start().await;
    let b = Bridge::start(None).await;
    let (user_id, code) = server.code_of("inspector");
    b.ok("enroll", json!({"server": server.base, "code": code}))
        .await;
    // The demo's user switch would act locally as the city office: refused, and no sign-out.
    for other in [json!("usr-admin-1"), Value::Null] {
        let (status, e) = b.err("login", json!({"user_id": other})).await;
        assert_eq!(
            (status, e.code.as_str()),
            (403, "enrolled_device"),
            "{other}"
        );
    }
    assert_eq!(b.ok("me", json!({})).await["user"]["id"], user_id.as_str());
    // Nor may the demo city (with its office users) be seeded over the city's reference data.
    let (status, e) = b.err("demo_seed", json!({})).await;
    assert_eq!((status, e.code.as_str()), (403, "enrolled_device"));
    // Signing in as the enrolled user again is no switch.
    let me = b.ok("login", json!({"user_id": user_id})).await;
    assert_eq!(me["user"]["id"], user_id.as_str());
    // Unenrolled, the device is a demo device again.
    b.ok("unenroll", json!({"discard_pending": true})).await;
    let me = b.ok("login", json!({"user_id": "usr-admin-1"})).await;
    assert_eq!(me["user"]["role"], "admin");
    b.stop().await;
    server.stop().await;
}

#[tokio::test]
async fn an_unenrolled_device_can_be_handed_to_another_person() {
    let server = Server::start().await;
    let b = Bridge::start(None).await;
    let (_, code) = server.code_of("inspector");
    b.ok("enroll", json!({"server": server.base, "code": code}))
        .await;
    // Unenrolling revokes the device's token on the server, so the same device (same id)
    // can be enrolled for a volunteer without the office revoking it first; a live token
    // for another user would make the server refuse it as `device_in_use`.
    b.ok("unenroll", json!({})).await;
    let (volunteer, code) = server.code_of("volunteer");
    let st = b
        .ok("enroll", json!({"server": server.base, "code": code}))
        .await;
    assert_eq!(st["me"]["user"]["id"], volunteer.as_str(), "{st}");
    b.stop().await;
    server.stop().await;
}

#[tokio::test]
async fn enrolling_over_plain_http_to_another_machine_asks_first() {
    let b = Bridge::start(None).await;
    // Not loopback and not https: refused until the person has confirmed, before any request.
    let (status, e) = b
        .err(
            "enroll",
            json!({"server": "http://0.0.0.0:9", "code": "ABC"}),
        )
        .await;
    assert_eq!((status, e.code.as_str()), (409, "insecure_server"));
    assert!(e.message.contains("http://0.0.0.0:9"), "{}", e.message);
    // Confirmed, the enrollment goes ahead (and here fails on the network, not on the warning).
    let (_, e) = b
        .err(
            "enroll",
            json!({"server": "http://0.0.0.0:9", "code": "ABC", "allow_insecure": true}),
        )
        .await;
    assert_ne!(e.code, "insecure_server");
    assert_eq!(b.ok("sync_status", json!({})).await["enrolled"], false);
    b.stop().await;
}

/// A GPS-only report with a photo at 三坊七巷南后街 (p-001, 南街), no point, no district.
async fn street_report(b: &Bridge, seed: u8, description: &str) -> Value {
    let photo = b.upload(jpeg(seed)).await;
    b.ok(
        "problem_report",
        json!({
            "category": "SR-02",
            "description": description,
            "location": {"lat": 26.08366, "lon": 119.29156, "accuracy_m": 6.0, "source": "gps"},
            "photos": [photo["hash"]],
        }),
    )
    .await
}

#[tokio::test]
async fn a_refused_report_is_shown_with_its_reason_resent_corrected_or_discarded() {
    let server = Server::start().await;
    let b = Bridge::start(None).await;
    let (user_id, code) = server.code_of("volunteer");
    assert_eq!(user_id, "usr-vol-1", "the 东街 volunteer");
    b.ok("enroll", json!({"server": server.base, "code": code}))
        .await;
    // Placed at p-001 on the device: outside the volunteer's districts.
    let p = street_report(&b, 31, "南街口暴露垃圾").await;
    assert_eq!(p["district_id"], "c-tx", "{p}");
    assert_eq!(p["point_id"], "p-001", "{p}");
    assert_eq!(p["placement"]["source"], "near_point", "{p}");
    let other = street_report(&b, 32, "拍错了").await;
    let s = b.sync_to_end().await;
    assert_eq!(
        s["last_report"]["refused"].as_array().unwrap().len(),
        2,
        "{s}"
    );

    // The ledger and the record keep them, with the server's reason and only the way forward.
    let ledger = b.ok("ledger", json!({})).await;
    assert_eq!(ledger["total"], 2, "{ledger}");
    for row in ledger["items"].as_array().unwrap() {
        assert_eq!(row["refused"]["code"], "out_of_scope", "{row}");
    }
    let d = b.ok("problem", json!({"id": p["id"]})).await;
    assert_eq!(d["refused"]["code"], "out_of_scope");
    assert_eq!(d["allowed_actions"], json!(["resend", "discard"]));
    let refused_event = d["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["server_refusal"].is_object())
        .unwrap_or_else(|| panic!("no refusal in the history: {d}"));
    assert_eq!(refused_event["server_refusal"]["code"], "out_of_scope");
    let (status, e) = b
        .err(
            "problem_act",
            json!({"id": p["id"], "action": {"action": "edit", "description": "改"}}),
        )
        .await;
    assert_eq!((status, e.code.as_str()), (409, "refused_by_server"));

    // Corrected and sent again: the server has it once, in the volunteer's street.
    let (status, e) = b
        .err(
            "problem_resend",
            json!({"id": p["id"], "district_id": "nowhere"}),
        )
        .await;
    assert_eq!((status, e.code.as_str()), (404, "not_found"));
    let d = b
        .ok(
            "problem_resend",
            json!({"id": p["id"], "point_id": "p-032"}),
        )
        .await;
    assert!(d["refused"].is_null(), "{d}");
    assert_eq!(d["problem"]["district_id"], "s-dj");
    assert_eq!(d["problem"]["point_id"], "p-032");
    let s = b.sync_to_end().await;
    assert_eq!(s["last_report"]["pushed"], 1, "{s}");
    assert!(
        s["last_report"]["refused"].as_array().unwrap().is_empty(),
        "{s}"
    );
    let on_server = server.reported().await;
    let code = p["code"].as_str().unwrap();
    assert_eq!(on_server.iter().filter(|(c, _)| c == code).count(), 1);
    assert_eq!(
        on_server.len(),
        1,
        "the discarded one never reaches the server"
    );
    let (status, e) = b.err("problem_resend", json!({"id": p["id"]})).await;
    assert_eq!((status, e.code.as_str()), (422, "invalid_input"));

    // Discarded only when the person confirmed.
    let (status, e) = b.err("problem_discard", json!({"id": other["id"]})).await;
    assert_eq!((status, e.code.as_str()), (400, "confirmation_required"));
    let (status, e) = b
        .err("problem_discard", json!({"id": p["id"], "confirm": true}))
        .await;
    assert_eq!((status, e.code.as_str()), (422, "invalid_input"));
    let gone = b
        .ok(
            "problem_discard",
            json!({"id": other["id"], "confirm": true}),
        )
        .await;
    assert_eq!(gone["code"], other["code"]);
    let (status, _) = b.err("problem", json!({"id": other["id"]})).await;
    assert_eq!(status, 404);
    assert_eq!(b.ok("ledger", json!({})).await["total"], 1);
    b.stop().await;
    server.stop().await;
}

#[tokio::test]
async fn only_a_refused_inspection_can_be_discarded_and_only_when_confirmed() {
    let b = Bridge::demo().await;
    let started = b.ok("inspection_start", json!({"point_id": "p-010"})).await;
    let id = started["inspection"]["id"].as_str().unwrap().to_owned();
    // Nothing refused it: the view says so, and it cannot be discarded.
    assert!(started["refused"].is_null(), "{started}");
    let (status, e) = b.err("inspection_discard", json!({"id": id})).await;
    assert_eq!((status, e.code.as_str()), (400, "confirmation_required"));
    let (_, e) = b
        .err("inspection_discard", json!({"id": id, "confirm": true}))
        .await;
    assert_eq!(e.code, "invalid_input", "{}", e.message);
    assert!(
        e.message.contains("not refused by the server"),
        "{}",
        e.message
    );
    let v = b.ok("inspection", json!({"id": id})).await;
    assert_eq!(v["inspection"]["id"], id.as_str());
    b.stop().await;
}

/// Today's tasks as the last sync stored them: nearest first from the phone's position, the
/// done ones last, counted on Home; a position off the globe or half of one is a clear 400.
#[tokio::test]
async fn tasks_come_nearest_first_and_refuse_a_bad_position() {
    use fieldcheck_core::domain::reference::{LatLon, PointType};
    use fieldcheck_core::protocol::tasks::{Task, TaskList};

    // Before any sync fetched tasks: none, and the screen is told so (no `today`).
    let fresh = Bridge::signed_in_demo().await;
    let v = fresh.ok("tasks", json!({})).await;
    assert!(v["today"].is_null(), "{v}");
    assert_eq!(v["tasks"], json!([]));
    assert_eq!(fresh.ok("home", json!({})).await["tasks_open"], 0);
    fresh.stop().await;

    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let task = |point: &str, lat: f64, done: bool| Task {
        round_id: "r-e2e".into(),
        round_name: "十一月模拟测评".into(),
        date: today,
        point_id: point.into(),
        point_name: format!("点位 {point}"),
        point_type: PointType::FarmersMarket,
        location: LatLon { lat, lon: 119.29 },
        address: String::new(),
        done,
    };
    let list = TaskList {
        today,
        tasks: vec![
            task("p-far", 26.10, false),
            task("p-done", 26.0801, true),
            task("p-near", 26.081, false),
        ],
    };
    let b = Bridge::start_with(None, |store| {
        fieldcheck_core::demo::seed_demo(store).unwrap();
        store.set_current_user(Some("usr-insp-1")).unwrap();
        store.save_tasks(&list).unwrap();
    })
    .await;
    let v = b.ok("tasks", json!({"lat": 26.08, "lon": 119.29})).await;
    assert_eq!(v["today"], "2026-11-23");
    assert_eq!(v["open"], 2);
    let order: Vec<&str> = v["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["point_id"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["p-near", "p-far", "p-done"]);
    let first = &v["tasks"][0];
    assert_eq!(first["round_name"], "十一月模拟测评");
    assert_eq!(first["point_type"], "farmers_market");
    assert_eq!(first["done"], false);
    let d = first["distance_m"].as_f64().unwrap();
    assert!((100.0..125.0).contains(&d), "{d}");
    // Without a position: no distances, still not-done first.
    let v = b.ok("tasks", json!({})).await;
    assert!(v["tasks"][0]["distance_m"].is_null());
    assert_eq!(v["tasks"][2]["point_id"], "p-done");
    assert_eq!(b.ok("home", json!({})).await["tasks_open"], 2);

    for (args, says) in [
        (json!({"lat": 91.0, "lon": 119.29}), "lat must be within"),
        (json!({"lat": 26.0, "lon": -181.0}), "lon within"),
        (json!({"lat": 26.0}), "both lat and lon"),
        (json!({"lat": "north", "lon": 119.0}), "invalid arguments"),
    ] {
        let (status, e) = b.err("tasks", args.clone()).await;
        assert_eq!((status, e.code.as_str()), (400, "invalid_input"), "{args}");
        assert!(e.message.contains(says), "{args}: {}", e.message);
    }
    b.stop().await;
}

/// "附近已有同类问题": the open problems of the category within 50 m, nearest first, with the
/// report's photo as a thumbnail; what the ledger shows the person only; bad input is a 400.
#[tokio::test]
async fn nearby_lists_open_problems_of_the_category_within_50_m() {
    let b = Bridge::signed_in_demo().await;
    // At 26.0801, 119.2950 (report_with_photo's position).
    let code = b.report_with_photo(31, "桥下暴露垃圾一堆").await;
    let photo_hash = b.ok("problem", json!({"id": code})).await["problem"]["photos"][0]["hash"]
        .as_str()
        .unwrap()
        .to_owned();
    // 30 m north of it.
    let here = json!({"category": "SR-02", "lat": 26.0801 + 30.0 / 111_195.0, "lon": 119.2950});
    let rows = b.ok("nearby", here.clone()).await;
    let rows = rows.as_array().unwrap();
    let mine = rows
        .iter()
        .find(|r| r["code"] == code.as_str())
        .unwrap_or_else(|| panic!("{code} is not nearby: {rows:?}"));
    let d = mine["distance_m"].as_f64().unwrap();
    assert!((29.9..30.1).contains(&d), "{d}");
    assert_eq!(mine["status"], "reported");
    assert_eq!(mine["photo"], photo_hash.as_str());
    assert!(rows.iter().all(|r| r["category"] == "SR-02"
        && r["distance_m"].as_f64().unwrap() <= 50.0
        && r["status"] != "closed"
        && r["status"] != "rejected"));
    let ds: Vec<f64> = rows
        .iter()
        .map(|r| r["distance_m"].as_f64().unwrap())
        .collect();
    assert!(ds.windows(2).all(|w| w[0] <= w[1]), "{ds:?}");
    // The thumbnail the hint shows is served.
    let thumb = b
        .client
        .get(format!("{}/bridge/photos/{photo_hash}/thumb", b.base))
        .send()
        .await
        .unwrap();
    assert!(thumb.status().is_success(), "{}", thumb.status());

    // Another category, or 60 m away: not this one.
    let other = b
        .ok(
            "nearby",
            json!({"category": "SR-03", "lat": 26.0801, "lon": 119.2950}),
        )
        .await;
    assert!(
        !other
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["code"] == code.as_str())
    );
    let far = b
        .ok(
            "nearby",
            json!({"category": "SR-02", "lat": 26.0801 + 60.0 / 111_195.0, "lon": 119.2950}),
        )
        .await;
    assert!(
        !far.as_array()
            .unwrap()
            .iter()
            .any(|r| r["code"] == code.as_str())
    );
    // A volunteer is shown only their own reports, as in the ledger.
    b.ok("login", json!({"user_id": "usr-vol-1"})).await;
    let vol = b.ok("nearby", here.clone()).await;
    assert!(
        vol.as_array()
            .unwrap()
            .iter()
            .all(|r| r["code"] != code.as_str())
    );

    for (args, says) in [
        (
            json!({"category": "SR-02", "lat": 95.0, "lon": 119.0}),
            "lat must be within",
        ),
        (
            json!({"category": "SR-02", "lat": 26.0, "lon": 999.0}),
            "lon within",
        ),
        (
            json!({"category": "SR-02", "lat": 26.0}),
            "invalid arguments",
        ),
        (json!({"lat": 26.0, "lon": 119.0}), "invalid arguments"),
        (
            json!({"category": "  ", "lat": 26.0, "lon": 119.0}),
            "category is required",
        ),
    ] {
        let (status, e) = b.err("nearby", args.clone()).await;
        assert_eq!((status, e.code.as_str()), (400, "invalid_input"), "{args}");
        assert!(e.message.contains(says), "{args}: {}", e.message);
    }
    b.stop().await;
}

/// Home's "deadlines for me" and the ledger's due-within-24-hours filter over the bridge.
#[tokio::test]
async fn home_counts_deadlines_and_the_ledger_filters_due_soon() {
    let b = Bridge::signed_in_demo().await;
    let code = b.report_with_photo(41, "人行道暴露垃圾").await;
    let id = b.ok("problem", json!({"id": code})).await["problem"]["id"].clone();
    let before = b.ok("home", json!({})).await;
    b.ok("login", json!({"user_id": "usr-admin-1"})).await;
    b.ok(
        "problem_act",
        json!({"id": id, "action": {"action": "file"}}),
    )
    .await;
    let deadline = (chrono::Utc::now() + chrono::Duration::hours(5)).to_rfc3339();
    b.ok(
        "problem_act",
        json!({"id": id, "action": {"action": "dispatch", "unit_id": "u-hwc", "deadline": deadline,
                            "note": "限5小时内整改"}}),
    )
    .await;
    b.ok("login", json!({"user_id": "usr-insp-1"})).await;
    let home = b.ok("home", json!({})).await;
    assert_eq!(
        home["my_due_soon"].as_u64().unwrap(),
        before["my_due_soon"].as_u64().unwrap() + 1
    );
    let mut q = home["deadlines_query"].clone();
    q["due_soon"] = json!(true);
    let page = b.ok("ledger", json!({"query": q})).await;
    assert_eq!(page["total"], home["my_due_soon"]);
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["code"] == code.as_str())
    );
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["reporter"] == "usr-insp-1" && r["overdue"] == false)
    );
    // The unit's handler counts it among their unit's.
    b.ok("login", json!({"user_id": "usr-hdl-5"})).await;
    let hdl = b.ok("home", json!({})).await;
    assert!(hdl["my_due_soon"].as_u64().unwrap() >= 1);
    assert_eq!(hdl["deadlines_query"]["unit_id"], "u-hwc");
    b.stop().await;
}

// ---------------------------------------------------------------- offline map

/// A small PNG whose colour says which tile it is.
fn png(seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(8, 8, image::Rgb([seed, 200, 100]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A tile's XYZ address and its bytes.
type TileAt = ((u8, u32, u32), Vec<u8>);

/// An MBTiles 1.3 file as any tool writes it: `tiles` rows in TMS order (y flipped).
fn mbtiles(path: &std::path::Path, name: &str, tiles: &[TileAt]) {
    let c = rusqlite::Connection::open(path).unwrap();
    c.execute_batch(
        "CREATE TABLE metadata (name TEXT, value TEXT);
         CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB);
         CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row);",
    )
    .unwrap();
    for (k, v) in [
        ("name", name),
        ("format", "png"),
        ("minzoom", "12"),
        ("maxzoom", "13"),
        ("bounds", "119.28,26.06,119.32,26.10"),
        ("attribution", "© OpenStreetMap"),
    ] {
        c.execute("INSERT INTO metadata VALUES (?1, ?2)", [k, v])
            .unwrap();
    }
    for ((z, x, y), data) in tiles {
        let tms = (1u32 << z) - 1 - y;
        c.execute(
            "INSERT INTO tiles VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![z, x, tms, data],
        )
        .unwrap();
    }
}

impl Bridge {
    async fn import_map(&self, content_type: &str, bytes: Vec<u8>) -> reqwest::Response {
        self.client
            .post(format!("{}/bridge/map_package_import", self.base))
            .header("content-type", content_type)
            .body(bytes)
            .send()
            .await
            .unwrap()
    }

    /// A tile as the map's `<img>` asks for it: no session secret, no JSON.
    async fn tile(&self, z: u8, x: u32, y: u32) -> reqwest::Response {
        self.http
            .get(format!("{}/bridge/tiles/{z}/{x}/{y}", self.base))
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn an_offline_map_imported_from_a_file_serves_its_tiles() {
    let b = Bridge::signed_in_demo().await;
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        b.ok("map_package", json!({})).await,
        json!({"online": null, "package": null})
    );
    assert_eq!(b.tile(12, 3405, 1714).await.status(), 404);

    // Not a package: refused with its code, nothing changes.
    let res = b
        .import_map("application/octet-stream", b"not sqlite at all".to_vec())
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        res.json::<ErrorBody>().await.unwrap().code,
        "tiles_not_mbtiles"
    );
    let res = b.import_map("application/json", b"{}".to_vec()).await;
    assert_eq!(res.status(), 415, "a JSON body is not a package");
    assert!(b.ok("map_package", json!({})).await["package"].is_null());

    // A package with two tiles of zoom 12 and one of 13.
    let file = dir.path().join("city.mbtiles");
    let tiles = [
        ((12, 3405, 1714), png(1)),
        ((12, 3406, 1714), png(2)),
        ((13, 6811, 3428), png(3)),
    ];
    mbtiles(&file, "福州鼓楼", &tiles);
    let res = b
        .import_map("application/vnd.sqlite3", std::fs::read(&file).unwrap())
        .await;
    assert_eq!(res.status(), 200);
    let pkg: Value = res.json().await.unwrap();
    assert_eq!(pkg["name"], "福州鼓楼");
    assert_eq!(
        (pkg["minzoom"].as_u64(), pkg["maxzoom"].as_u64()),
        (Some(12), Some(13))
    );
    assert_eq!(pkg["bounds"], json!([119.28, 26.06, 119.32, 26.1]));
    assert_eq!(b.ok("map_package", json!({})).await["package"], pkg);

    // Each XYZ tile comes back as the package holds it (the TMS row flipped inside).
    for ((z, x, y), data) in &tiles {
        let res = b.tile(*z, *x, *y).await;
        assert_eq!(res.status(), 200, "{z}/{x}/{y}");
        assert_eq!(res.headers()["content-type"], "image/png");
        assert_eq!(res.bytes().await.unwrap().as_ref(), data.as_slice());
    }
    assert_eq!(
        b.tile(12, 3407, 1714).await.status(),
        404,
        "not in the package"
    );
    assert_eq!(
        b.tile(12, 9999, 1714).await.status(),
        422,
        "off the zoom's grid"
    );
    // Another site's page cannot read the tiles (the guard's origin check still applies).
    let res = b
        .http
        .get(format!("{}/bridge/tiles/12/3405/1714", b.base))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // A broken file later does not take the working package away.
    let res = b
        .import_map("application/octet-stream", vec![0u8; 4096])
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(b.tile(12, 3405, 1714).await.status(), 200);

    // Removing asks for confirmation.
    let (status, e) = b.err("map_package_remove", json!({})).await;
    assert_eq!((status, e.code.as_str()), (400, "invalid_input"));
    assert!(
        b.ok("map_package_remove", json!({"confirm": true}))
            .await
            .is_null()
    );
    assert!(b.ok("map_package", json!({})).await["package"].is_null());
    assert_eq!(b.tile(12, 3405, 1714).await.status(), 404);
    b.stop().await;
}

#[tokio::test]
async fn the_citys_map_comes_with_the_sync_once_per_version() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("city.mbtiles");
    mbtiles(&file, "福州全市", &[((12, 3405, 1714), png(7))]);
    let served = file.clone();
    let server = Server::start_with(move |c| {
        c.map_source = "osm".into();
        c.map_package = served;
    })
    .await;
    let b = Bridge::start(None).await;
    let (_, code) = server.code_of("inspector");
    b.ok("enroll", json!({"server": server.base, "code": code}))
        .await;

    let s = b.sync_to_end().await;
    assert!(s["last_error"].is_null(), "{s}");
    assert_eq!(s["last_report"]["map_package"], "福州全市", "{s}");
    let info = b.ok("map_package", json!({})).await;
    assert_eq!(info["online"], json!({"source": "osm"}));
    assert_eq!(info["package"]["name"], "福州全市");
    let res = b.tile(12, 3405, 1714).await;
    assert_eq!(res.bytes().await.unwrap().as_ref(), png(7).as_slice());

    // The same version is not downloaded again.
    let s = b.sync_to_end().await;
    assert!(s["last_error"].is_null(), "{s}");
    assert!(s["last_report"]["map_package"].is_null(), "{s}");

    // The office replaces the package: the next sync brings the new one.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let next = dir.path().join("next.mbtiles");
    mbtiles(&next, "福州全市 2027", &[((12, 3405, 1714), png(8))]);
    std::fs::rename(&next, &file).unwrap();
    let s = b.sync_to_end().await;
    assert_eq!(s["last_report"]["map_package"], "福州全市 2027", "{s}");
    let res = b.tile(12, 3405, 1714).await;
    assert_eq!(res.bytes().await.unwrap().as_ref(), png(8).as_slice());

    b.stop().await;
    server.stop().await;
}
