//! The `fieldcheck` binary end to end: reference data import, the closed loop by every role,
//! inspections, the ledger, and bad input that must print one clear line and write nothing.

mod common;

use common::{Device, data};
use serde_json::Value;

fn code_of(v: &Value) -> String {
    v["code"].as_str().unwrap().to_owned()
}

#[test]
fn imports_reference_data_and_lists_points() {
    let d = Device::with_demo();
    let pts = d.json(&["points"]);
    assert_eq!(pts.as_array().unwrap().len(), 37);
    let markets = d.json(&["points", "--type", "农贸市场"]);
    assert_eq!(markets.as_array().unwrap().len(), 5);
    // Sorted by distance from a fix at the first market.
    let near = d.json(&["points", "--near", "26.0868,119.3055"]);
    let dists: Vec<f64> = near
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["distance_m"].as_f64().unwrap())
        .collect();
    assert!(dists.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(near[0]["point"]["id"], "p-009");
    // Chinese by default, English on request.
    let zh = d.ok(&["units"]);
    assert!(zh.contains("名称") && zh.contains("交警"), "{zh}");
    let en = d.ok(&["--lang", "en", "units"]);
    assert!(en.contains("Name") && en.contains("Traffic police"), "{en}");
    let cats = d.ok(&["categories"]);
    assert!(cats.contains("暴露垃圾") && cats.contains("个工作时"));
    let tpl = d.ok(&["templates", "tpl-farmers-market"]);
    assert!(tpl.contains("fm-01"), "{tpl}");
}

#[test]
fn closed_loop_by_every_role() {
    let d = Device::with_demo();
    d.ok(&["login", "usr-vol-1"]);
    let p = d.json(&[
        "problem",
        "add",
        "--category",
        "SR-02",
        "--description",
        "东街农贸市场门口暴露垃圾",
        "--point",
        "p-009",
        "--gps",
        "26.0868,119.3055,6",
    ]);
    let code = code_of(&p);
    assert!(code.starts_with("GL-20261123-"), "{code}");
    assert_eq!(p["status"], "reported");
    assert_eq!(p["location"]["source"], "gps");

    let admin = ["--as", "usr-admin-1"];
    let handler_of = |unit: &str| -> String {
        let users: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(data("demo/users.json")).unwrap())
                .unwrap();
        users.iter().find(|u| u["unit_id"] == unit).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let h = handler_of("u-hwc");
    let handler = ["--as", h.as_str()];
    let step = |who: &[&str], args: &[&str]| -> Value {
        let mut a: Vec<&str> = who.to_vec();
        a.extend_from_slice(args);
        d.json(&a)
    };
    assert_eq!(step(&admin, &["problem", "file", &code])["status"], "filed");
    let disp = step(&admin, &["problem", "dispatch", &code, "--unit", "u-hwc"]);
    assert_eq!(disp["status"], "dispatched");
    assert_eq!(disp["deadline"], "2026-11-23T08:00:00Z");
    assert_eq!(
        step(&handler, &["problem", "accept", &code])["status"],
        "rectifying"
    );
    let ext = step(
        &handler,
        &[
            "problem",
            "extend",
            &code,
            "--until",
            "2026-11-25 17:30",
            "--reason",
            "需协调环卫车辆",
        ],
    );
    assert!(ext["extension"].is_object());
    let dec = step(&admin, &["problem", "decide-extension", &code, "--approve"]);
    assert_eq!(dec["deadline"], "2026-11-25T09:30:00Z");
    // Rectifying without an after-photo is refused.
    let err = d.refused(&["--as", &h, "problem", "rectify", &code]);
    assert!(err.contains("after_photo_required"), "{err}");
    // Returning needs a reason; a handler of another unit may not touch it.
    let other = handler_of("u-jjdd");
    let err = d.refused(&[
        "--as",
        &other,
        "problem",
        "return",
        &code,
        "--reason",
        "非本单位",
    ]);
    assert!(err.contains("not_assigned_unit"), "{err}");
    assert_eq!(
        step(
            &handler,
            &["problem", "return", &code, "--reason", "属交警职责"]
        )["status"],
        "returned"
    );
    assert_eq!(
        step(
            &admin,
            &[
                "problem",
                "dispatch",
                &code,
                "--unit",
                "u-jjdd",
                "--deadline",
                "2026-11-26"
            ]
        )["unit_id"],
        "u-jjdd"
    );
    let show = d.json(&["show", &code]);
    let kinds: Vec<&str> = show["history"]
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
            "problem.extension_requested",
            "problem.extension_decided",
            "problem.returned",
            "problem.dispatched"
        ]
    );
    let human = d.ok(&["show", &code]);
    assert!(
        human.contains("派遣") && human.contains("退回") && human.contains("属交警职责"),
        "{human}"
    );
    // Stats rank the unit.
    let stats = d.json(&["stats"]);
    assert_eq!(stats["total"], 1);
    assert_eq!(stats["units"][0]["unit_id"], "u-jjdd");
}

#[test]
fn ledger_list_search_and_overdue() {
    let d = Device::with_demo();
    d.ok(&["login", "usr-insp-1"]);
    for (desc, pt) in [
        ("学校门口流动摊贩占道经营", "p-020"),
        ("路口电动车逆行", "p-014"),
        ("小区楼道堆放杂物", "p-025"),
    ] {
        d.ok(&[
            "problem",
            "add",
            "--category",
            "JM-02",
            "--description",
            desc,
            "--point",
            pt,
        ]);
    }
    let all = d.json(&["list"]);
    assert_eq!(all["total"], 3);
    let hit = d.json(&["search", "占道经营"]);
    assert_eq!(hit["total"], 1);
    assert_eq!(hit["items"][0]["point_id"], "p-020");
    assert_eq!(d.json(&["search", "逆行"])["total"], 1);
    assert_eq!(d.json(&["list", "--status", "已上报"])["total"], 3);
    assert_eq!(d.json(&["list", "--status", "closed"])["total"], 0);
    assert_eq!(d.json(&["list", "--point", "p-025"])["total"], 1);
    assert_eq!(
        d.json(&["list", "--from", "2026-11-23", "--to", "2026-11-23"])["total"],
        3
    );
    assert_eq!(d.json(&["list", "--from", "2026-11-24"])["total"], 0);
    let human = d.ok(&["list", "--limit", "2"]);
    assert!(human.contains("显示 1–2 / 3"), "{human}");
    let err = d.refused(&["list", "--status", "bogus"]);
    assert!(err.contains("unknown status"), "{err}");
}

#[test]
fn inspection_of_a_market_with_two_failures() {
    let d = Device::with_demo();
    d.ok(&["login", "usr-insp-1"]);
    let i = d.json(&[
        "inspect",
        "start",
        "--point",
        "p-009",
        "--gps",
        "26.0869,119.3056,5",
    ]);
    let id = i["inspection"]["id"].as_str().unwrap().to_owned();
    let tpl: Value = serde_json::from_str(
        &std::fs::read_to_string(data("templates/farmers_market.json")).unwrap(),
    )
    .unwrap();
    for item in tpl["items"].as_array().unwrap() {
        let iid = item["id"].as_str().unwrap();
        let args: Vec<String> = match (iid, item["kind"].as_str().unwrap()) {
            ("fm-01", _) => vec![
                "--value".into(),
                "1".into(),
                "--note".into(),
                "仅1处".into(),
            ],
            ("fm-04", _) => vec!["--fail".into()],
            (_, "count") => vec!["--count".into(), "0".into()],
            (_, "measured") => vec!["--value".into(), item["threshold"].to_string()],
            _ => vec!["--pass".into()],
        };
        let mut a = vec!["inspect", "record", &id, iid];
        a.extend(args.iter().map(String::as_str));
        d.ok(&a);
    }
    let done = d.json(&["inspect", "finish", &id]);
    assert_eq!(done["inspection"]["status"], "finished");
    assert_eq!(done["inspection"]["score"]["failed_items"], 2);
    let p1 = d.json(&["inspect", "raise", &id, "fm-01"]);
    let p2 = d.json(&["inspect", "raise", &id, "fm-04"]);
    assert_eq!(p1["point_id"], "p-009");
    assert_eq!(p2["item_id"], "fm-04");
    assert_eq!(d.json(&["list", "--point", "p-009"])["total"], 2);
    let err = d.refused(&["inspect", "record", &id, "fm-02", "--pass"]);
    assert!(err.contains("inspection_finished"), "{err}");
    let hist = d.json(&["inspect", "history", "p-009"]);
    assert_eq!(hist.as_array().unwrap().len(), 1);
}

#[test]
fn bad_input_says_what_is_wrong_and_writes_nothing() {
    let d = Device::with_demo();
    d.ok(&["login", "usr-vol-1"]);
    let p = d.json(&[
        "problem",
        "add",
        "--category",
        "SR-02",
        "--description",
        "垃圾",
        "--point",
        "p-001",
    ]);
    let code = code_of(&p);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "problem",
                "add",
                "--category",
                "SR-02",
                "--description",
                "x",
                "--point",
                "p-999",
            ],
            "point p-999 not found",
        ),
        (
            vec![
                "problem",
                "add",
                "--category",
                "ZZ-99",
                "--description",
                "x",
            ],
            "category ZZ-99 not found",
        ),
        (
            vec![
                "problem",
                "add",
                "--category",
                "SR-02",
                "--description",
                "x",
                "--gps",
                "300,10",
            ],
            "outside WGS-84",
        ),
        (
            vec!["problem", "add", "--category", "SR-02"],
            "description or a photo",
        ),
        (vec!["problem", "file", &code], "role_not_allowed"),
        (
            vec!["--as", "usr-admin-1", "problem", "close", &code],
            "invalid_transition",
        ),
        (
            vec![
                "--as",
                "usr-admin-1",
                "problem",
                "dispatch",
                &code,
                "--unit",
                "u-nope",
            ],
            "unit u-nope not found",
        ),
        (
            vec!["--as", "usr-nobody", "problem", "file", &code],
            "user usr-nobody not found",
        ),
        (
            vec!["problem", "file", "GL-00000000-XXXX-0001"],
            "not found",
        ),
        (
            vec![
                "--as",
                "usr-admin-1",
                "problem",
                "reject",
                &code,
                "--duplicate-of",
                "GL-NOPE",
            ],
            "not found",
        ),
        (
            vec!["inspect", "start", "--point", "p-009"],
            "role_not_allowed",
        ),
    ];
    for (args, want) in cases {
        let err = d.refused(&args);
        assert!(err.contains(want), "{args:?}: {err}");
    }
    // Malformed reference files.
    let bad = d.dir().join("points.json");
    std::fs::write(&bad, "[{\"id\": \"p-x\", ").unwrap();
    d.refused(&["import", bad.to_str().unwrap()]);
    std::fs::write(&bad, r#"[{"id":"p-x","name":"x","type":"back_alley","location":{"lat":26,"lon":119},"district_id":"nowhere"}]"#).unwrap();
    let err = d.refused(&["import", bad.to_str().unwrap()]);
    assert!(err.contains("unknown district nowhere"), "{err}");
    // Without a signed-in user, actions say so.
    d.ok(&["logout"]);
    let err = d.refused(&[
        "problem",
        "add",
        "--category",
        "SR-02",
        "--description",
        "x",
    ]);
    assert!(err.contains("no_user"), "{err}");
    // Human errors are in Chinese by default.
    assert!(err.starts_with("错误"), "{err}");
}

#[test]
fn reference_data_round_trips_through_xlsx_and_csv() {
    let a = Device::with_demo();
    let xlsx = a.dir().join("鼓楼区基础数据.xlsx");
    a.ok(&["export", xlsx.to_str().unwrap()]);
    let csv = a.dir().join("points.csv");
    a.ok(&["export", csv.to_str().unwrap(), "--kind", "points"]);
    let b = Device::new();
    let out = b.ok(&["import", xlsx.to_str().unwrap()]);
    assert!(out.contains("37 个点位"), "{out}");
    assert_eq!(a.json(&["points"]), b.json(&["points"]));
    assert_eq!(a.json(&["units"]), b.json(&["units"]));
    // The CSV of points alone imports on a device that knows the districts and units.
    let c = Device::new();
    c.ok(&["import", xlsx.to_str().unwrap(), "--kind", "districts"]);
    c.ok(&["import", xlsx.to_str().unwrap(), "--kind", "units"]);
    c.ok(&["import", csv.to_str().unwrap()]);
    assert_eq!(a.json(&["points"]), c.json(&["points"]));
    // A spreadsheet with a typo in a column is refused, naming the column.
    std::fs::write(
        c.dir().join("units.csv"),
        "编号,名称,类别错字\nu-x,测试单位,其他\n",
    )
    .unwrap();
    let err = c.refused(&["import", c.dir().join("units.csv").to_str().unwrap()]);
    assert!(err.contains("类别错字"), "{err}");
}

#[test]
fn enrolling_over_plain_http_to_another_machine_warns() {
    let d = Device::new();
    let warned = |server: &str| {
        // Nothing listens there: the enrollment fails after the warning (or without one).
        let o = d.run(&[
            "enroll",
            "--server",
            server,
            "--code",
            "X",
            "--attempts",
            "1",
        ]);
        assert!(!o.status.success());
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        let warned = stderr.contains("不是 https") || stderr.contains("not https");
        (warned, stderr)
    };
    let (remote, stderr) = warned("http://0.0.0.0:9");
    assert!(remote && stderr.contains("http://0.0.0.0:9"), "{stderr}");
    let (local, stderr) = warned("http://127.0.0.1:9");
    assert!(!local, "{stderr}");
}
