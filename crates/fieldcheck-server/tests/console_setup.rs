//! City setup (issue 15) over real HTTP on a real SQLite file, and the setup subcommands
//! run as the real `fieldcheck-server` binary (SQLite, and PostgreSQL in a schema of their
//! own): importing a two-district city from a workbook made here, errors reported by sheet,
//! row and column with nothing changed, users and devices, and hostile requests.

mod common;

use std::io::Write as _;

use common::{ConsoleLogin, Pg, Server};
use fieldcheck_server::Store as _;
use reqwest::StatusCode;
use rust_xlsxwriter::Workbook;
use serde_json::Value;
use uuid::Uuid;

const ADMIN: &str = "usr-admin-1";
const INSPECTOR: &str = "usr-insp-1";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// A sheet: its name, Chinese column titles and rows of text cells.
struct Sheet {
    name: &'static str,
    columns: &'static [&'static str],
    rows: Vec<Vec<String>>,
}

fn workbook(sheets: &[Sheet]) -> Vec<u8> {
    let mut wb = Workbook::new();
    for s in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(s.name).unwrap();
        for (c, t) in s.columns.iter().enumerate() {
            ws.write_string(0, c as u16, *t).unwrap();
        }
        for (r, row) in s.rows.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                if v.is_empty() {
                    continue;
                }
                // Coordinates as numbers, as Excel keeps them.
                match v.parse::<f64>() {
                    Ok(n) if s.columns[c] == "纬度" || s.columns[c] == "经度" => {
                        ws.write_number(r as u32 + 1, c as u16, n).unwrap()
                    }
                    _ => ws.write_string(r as u32 + 1, c as u16, v).unwrap(),
                };
            }
        }
    }
    wb.save_to_buffer().unwrap()
}

const DISTRICT_COLS: &[&str] = &["编号", "名称", "层级", "上级编号", "编号前缀"];
const UNIT_COLS: &[&str] = &["编号", "名称", "类型", "所属区域"];
const POINT_COLS: &[&str] = &[
    "编号",
    "名称",
    "类型",
    "纬度",
    "经度",
    "所属区域",
    "属地单位",
    "行业单位",
];
const USER_COLS: &[&str] = &["编号", "姓名", "角色", "所属单位", "负责区域", "电话"];

fn s(v: &str) -> String {
    v.to_owned()
}

/// Two districts (鼓楼 and 台江), two streets each, two communities per street; `units`
/// units, `points` points and `users` users spread over them.
fn city(points: usize, units: usize, users: usize) -> Vec<Sheet> {
    let mut districts = Vec::new();
    let mut communities = Vec::new();
    for (d, zh, prefix) in [("cd-gl", "鼓楼区", "GL"), ("cd-tj", "台江区", "TJ")] {
        districts.push(vec![s(d), s(zh), s("区"), s(""), s(prefix)]);
        for st in 1..=2 {
            let sid = format!("{d}-s{st}");
            districts.push(vec![
                sid.clone(),
                format!("{zh}第{st}街道"),
                s("街道"),
                s(d),
                s(""),
            ]);
            for c in 1..=2 {
                let cid = format!("{sid}-c{c}");
                districts.push(vec![
                    cid.clone(),
                    format!("{zh}{st}街{c}社区"),
                    s("社区"),
                    sid.clone(),
                    s(""),
                ]);
                communities.push(cid);
            }
        }
    }
    let unit_rows: Vec<Vec<String>> = (0..units)
        .map(|i| {
            let kind = if i % 2 == 0 {
                "社区居委会"
            } else {
                "交警大队"
            };
            vec![
                format!("cu-{i:03}"),
                format!("单位{i}"),
                s(kind),
                communities[i % communities.len()].clone(),
            ]
        })
        .collect();
    let point_rows: Vec<Vec<String>> = (0..points)
        .map(|i| {
            vec![
                format!("cp-{i:05}"),
                format!("点位{i}"),
                s(if i % 3 == 0 {
                    "背街小巷"
                } else {
                    "主干道"
                }),
                format!("{:.6}", 26.0 + (i % 100) as f64 * 0.001),
                format!("{:.6}", 119.2 + (i / 100) as f64 * 0.001),
                communities[i % communities.len()].clone(),
                format!("cu-{:03}", (i * 2) % units),
                format!("cu-{:03}", (i * 2 + 1) % units),
            ]
        })
        .collect();
    let user_rows: Vec<Vec<String>> = (0..users)
        .map(|i| {
            let (role, unit) = match i % 3 {
                0 => ("巡查员", String::new()),
                1 => ("责任单位", format!("cu-{:03}", i % units)),
                _ => ("志愿者", String::new()),
            };
            vec![
                format!("cusr-{i:03}"),
                format!("用户{i}"),
                s(role),
                unit,
                s(if i % 2 == 0 { "cd-gl" } else { "cd-tj" }),
                format!("1380000{i:04}"),
            ]
        })
        .collect();
    vec![
        Sheet {
            name: "区域",
            columns: DISTRICT_COLS,
            rows: districts,
        },
        Sheet {
            name: "单位",
            columns: UNIT_COLS,
            rows: unit_rows,
        },
        Sheet {
            name: "点位",
            columns: POINT_COLS,
            rows: point_rows,
        },
        Sheet {
            name: "用户",
            columns: USER_COLS,
            rows: user_rows,
        },
    ]
}

async fn post_file(
    server: &Server,
    login: &ConsoleLogin,
    path: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    server
        .http
        .post(server.url(path))
        .header("cookie", &login.cookie)
        .header("x-csrf-token", &login.csrf)
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .unwrap()
}

fn changes<'a>(preview: &'a Value, kind: &str) -> &'a Value {
    preview["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == kind)
        .unwrap_or_else(|| panic!("no changes for {kind}: {preview}"))
}

async fn import(server: &Server, login: &ConsoleLogin, name: &str, file: Vec<u8>) -> Value {
    let r = post_file(
        server,
        login,
        &format!("/console/setup/import/preview?filename={name}"),
        file.clone(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let preview: Value = r.json().await.unwrap();
    assert_eq!(preview["errors"], serde_json::json!([]), "{preview}");
    let base = preview["base_version"].as_u64().unwrap();
    let r = post_file(
        server,
        login,
        &format!("/console/setup/import/apply?filename={name}&base_version={base}"),
        file,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

#[tokio::test]
async fn a_two_district_city_imports_from_a_workbook_and_exports_back_unchanged() {
    let server = Server::start_temp().await;
    let admin = server.console_sign_in(ADMIN).await;
    let file = workbook(&city(500, 40, 60));
    let r = post_file(
        &server,
        &admin,
        "/console/setup/import/preview?filename=city.xlsx",
        file.clone(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let preview: Value = r.json().await.unwrap();
    assert_eq!(preview["errors"], serde_json::json!([]), "{preview}");
    assert_eq!(
        changes(&preview, "points")["added"]
            .as_array()
            .unwrap()
            .len(),
        500
    );
    assert_eq!(
        changes(&preview, "units")["added"]
            .as_array()
            .unwrap()
            .len(),
        40
    );
    assert_eq!(
        changes(&preview, "users")["added"]
            .as_array()
            .unwrap()
            .len(),
        60
    );
    assert_eq!(
        changes(&preview, "districts")["added"]
            .as_array()
            .unwrap()
            .len(),
        14,
        "{}",
        changes(&preview, "districts")
    );
    // The demo city's points, units and users the file leaves out are deactivated, its
    // admins kept.
    let (v0, before) = server.store.reference().await.unwrap().unwrap();
    assert_eq!(
        changes(&preview, "points")["deactivated"]
            .as_array()
            .unwrap()
            .len(),
        before.points.iter().filter(|p| p.active).count()
    );
    let deactivated_users = changes(&preview, "users")["deactivated"]
        .as_array()
        .unwrap()
        .clone();
    assert!(!deactivated_users.iter().any(|u| u == ADMIN));
    // The preview changed nothing.
    assert_eq!(server.store.reference_version().await.unwrap(), v0);

    let applied = import(&server, &admin, "city.xlsx", file).await;
    assert_eq!(applied["changed"], true);
    assert_eq!(applied["version"].as_u64().unwrap(), v0 + 1);
    let (v1, after) = server.store.reference().await.unwrap().unwrap();
    assert_eq!(v1, v0 + 1);
    let active: Vec<_> = after.points.iter().filter(|p| p.active).collect();
    assert_eq!(active.len(), 500);
    // Deactivated points stay (old records resolve).
    assert_eq!(after.points.len(), 500 + before.points.len());
    assert!(after.users.iter().any(|u| u.id == ADMIN));
    let removed = server.store.user("usr-insp-1").await.unwrap().unwrap();
    assert!(removed.removed, "a user the file leaves out is deactivated");

    // Export, import it back: nothing to change.
    let r = server
        .console_get(&admin.cookie, "/console/setup/export.xlsx")
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], XLSX);
    let exported = r.bytes().await.unwrap().to_vec();
    let r = post_file(
        &server,
        &admin,
        "/console/setup/import/preview?filename=export.xlsx",
        exported.clone(),
    )
    .await;
    let again: Value = r.json().await.unwrap();
    assert_eq!(again["errors"], serde_json::json!([]), "{again}");
    assert_eq!(again["changes_anything"], false, "{again}");
    let applied = import(&server, &admin, "export.xlsx", exported).await;
    assert_eq!(applied["changed"], false);
    assert_eq!(server.store.reference_version().await.unwrap(), v1);

    // The template: every kind's sheet with an example row, and the notes; it imports.
    let r = server
        .console_get(&admin.cookie, "/console/setup/template.xlsx")
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let template = r.bytes().await.unwrap().to_vec();
    let r = post_file(
        &server,
        &admin,
        "/console/setup/import/preview?filename=t.xlsx",
        template,
    )
    .await;
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["errors"], serde_json::json!([]), "{t}");
    assert_eq!(
        changes(&t, "points")["added"],
        serde_json::json!(["p-0001"])
    );

    // Audited.
    let r = server
        .console_get(&admin.cookie, "/console/setup/audit?limit=10")
        .await;
    let audit: Value = r.json().await.unwrap();
    assert_eq!(audit["total"], 1, "{audit}");
    assert_eq!(audit["entries"][0]["action"], "reference.import");
    assert_eq!(audit["entries"][0]["actor"], ADMIN);
    server.stop().await;
}

#[tokio::test]
async fn five_errors_are_each_reported_where_they_are_and_nothing_changes() {
    let server = Server::start_temp().await;
    let admin = server.console_sign_in(ADMIN).await;
    let mut sheets = city(20, 4, 6);
    // 单位 row 3: a district that does not exist.
    sheets[1].rows[1][3] = s("nowhere");
    // 点位 row 2: a district that does not exist; row 4: latitude not a number;
    // row 6: the id of row 5 again.
    sheets[2].rows[0][5] = s("c-xx");
    sheets[2].rows[2][3] = s("北纬26度");
    sheets[2].rows[4][0] = sheets[2].rows[3][0].clone();
    // 用户 row 3: a unit that does not exist.
    sheets[3].rows[1][3] = s("cu-999");
    let file = workbook(&sheets);
    let r = post_file(
        &server,
        &admin,
        "/console/setup/import/preview?filename=city.xlsx",
        file.clone(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let preview: Value = r.json().await.unwrap();
    let mut got: Vec<(String, u64, String, String)> = preview["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(!e["message_zh"].as_str().unwrap().is_empty());
            assert!(!e["message_en"].as_str().unwrap().is_empty());
            (
                e["sheet"].as_str().unwrap().to_owned(),
                e["row"].as_u64().unwrap(),
                e["column"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    got.sort();
    let mut want = vec![
        (s("单位"), 3, s("所属区域"), s("unknown_district")),
        (s("点位"), 2, s("所属区域"), s("unknown_district")),
        (s("点位"), 4, s("纬度"), s("refdata_bad_value")),
        (s("点位"), 6, s("编号"), s("refdata_bad_value")),
        (s("用户"), 3, s("所属单位"), s("unknown_unit")),
    ];
    want.sort();
    assert_eq!(got, want, "{preview}");

    let v0 = server.store.reference_version().await.unwrap();
    let r = post_file(
        &server,
        &admin,
        &format!("/console/setup/import/apply?filename=city.xlsx&base_version={v0}"),
        file,
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused: Value = r.json().await.unwrap();
    assert_eq!(refused["code"], "import_invalid");
    assert_eq!(refused["errors"].as_array().unwrap().len(), 5);
    assert_eq!(server.store.reference_version().await.unwrap(), v0);
    server.stop().await;
}

#[tokio::test]
async fn a_stale_preview_is_refused_with_409() {
    let server = Server::start_temp().await;
    let admin = server.console_sign_in(ADMIN).await;
    let file = workbook(&city(10, 4, 3));
    let v0 = server.store.reference_version().await.unwrap();
    // Someone else changes the reference data between preview and apply.
    let r = server
        .console_post(
            &admin,
            "/console/setup/users",
            serde_json::json!({"id": "newcomer", "name": "新人", "role": "inspector"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = post_file(
        &server,
        &admin,
        &format!("/console/setup/import/apply?filename=city.xlsx&base_version={v0}"),
        file,
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["code"], "reference_changed");
    assert_eq!(server.store.reference_version().await.unwrap(), v0 + 1);
    server.stop().await;
}

#[tokio::test]
async fn a_new_user_enrolls_sees_the_new_points_and_is_refused_once_disabled() {
    let server = Server::start_temp().await;
    let admin = server.console_sign_in(ADMIN).await;
    import(&server, &admin, "city.xlsx", workbook(&city(50, 4, 3))).await;
    let r = server
        .console_post(
            &admin,
            "/console/setup/users",
            serde_json::json!({"id": "wang", "name": "王五", "role": "inspector",
            "district_ids": ["cd-gl"], "phone": "13900000000", "password": "long enough"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let row: Value = r.json().await.unwrap();
    assert_eq!(row["role"], "inspector");
    assert_eq!(row["has_password"], true);
    let r = server
        .console_post(
            &admin,
            "/console/setup/users/wang/enroll-code",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let code: Value = r.json().await.unwrap();
    assert!(
        code["qr_svg"].as_str().unwrap().starts_with("<?xml")
            || code["qr_svg"].as_str().unwrap().contains("<svg")
    );
    assert!(
        code["uri"]
            .as_str()
            .unwrap()
            .starts_with("fieldcheck://enroll?")
    );
    // The device enrolls with the code, as the app does.
    let device = Uuid::now_v7();
    let r = server
        .http
        .post(server.url("/enroll"))
        .json(&serde_json::json!({"code": code["code"], "device_id": device, "device_name": "王五的手机"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let token = r
        .json::<fieldcheck_protocol::sync::EnrollResponse>()
        .await
        .unwrap()
        .token;
    // Its sync fetches the reference data: the new points are there.
    let r = server
        .http
        .get(server.url("/reference"))
        .bearer_auth(&token)
        .header("user-agent", "fieldcheck/9.8.7")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let refs: fieldcheck_protocol::sync::ReferenceResponse = r.json().await.unwrap();
    let bundle = refs.bundle.unwrap();
    assert_eq!(
        bundle
            .points
            .iter()
            .filter(|p| p.active && p.id.starts_with("cp-"))
            .count(),
        50
    );
    assert!(bundle.users.iter().any(|u| u.id == "wang"));
    let pulled = server.pull(&token, 0).await;
    let _ = pulled;
    // The office sees the device and its last sync.
    let r = server
        .console_get(&admin.cookie, "/console/setup/users")
        .await;
    let users: Value = r.json().await.unwrap();
    let wang = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == "wang")
        .unwrap()
        .clone();
    assert_eq!(wang["devices"][0]["device_id"], device.to_string());
    assert!(
        wang["devices"][0]["last_sync_ms"].as_i64().is_some(),
        "{wang}"
    );
    // …and the app it synced with (the sync client's User-Agent).
    assert_eq!(wang["devices"][0]["app_version"], "fieldcheck/9.8.7");
    // Disabled: the device's next sync is refused with a clear code.
    let r = server
        .console_post(
            &admin,
            "/console/setup/users/wang/disable",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = server
        .http
        .get(server.url("/pull?since=0"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["code"], "user_disabled");
    // Revoking the device; the audit has every step.
    let r = server
        .console_post(
            &admin,
            &format!("/console/setup/devices/{device}/revoke"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let revoked: Value = r.json().await.unwrap();
    assert_eq!(revoked["revoked"], 1);
    let audit: Value = server
        .console_get(&admin.cookie, "/console/setup/audit")
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "device.revoke",
            "user.disable",
            "enroll_code.issue",
            "user.add",
            "reference.import"
        ]
    );
    // The edit keeps history: before and after.
    let r = server
        .console_post(
            &admin,
            "/console/setup/users/wang",
            serde_json::json!({"name": "王五五"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let audit: Value = server
        .console_get(&admin.cookie, "/console/setup/audit?limit=1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit["entries"][0]["before"]["name"], "王五");
    assert_eq!(audit["entries"][0]["after"]["user"]["name"], "王五五");
    server.stop().await;
}

#[tokio::test]
async fn hostile_requests_are_refused() {
    let server = Server::start_temp().await;
    let admin = server.console_sign_in(ADMIN).await;
    let inspector = server.console_sign_in(INSPECTOR).await;
    let file = workbook(&city(5, 2, 2));
    let v0 = server.store.reference_version().await.unwrap();
    // Not an admin: every endpoint, reading or writing.
    for path in [
        "/console/setup/template.xlsx",
        "/console/setup/export.xlsx",
        "/console/setup/users",
        "/console/setup/devices",
        "/console/setup/audit",
    ] {
        let r = server.console_get(&inspector.cookie, path).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let r = post_file(
        &server,
        &inspector,
        "/console/setup/import/apply?filename=c.xlsx",
        file.clone(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = server
        .console_post(
            &inspector,
            "/console/setup/users/usr-insp-2/disable",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // No session at all.
    let r = server
        .http
        .get(server.url("/console/setup/users"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // No CSRF token.
    let r = server
        .http
        .post(server.url("/console/setup/import/apply?filename=c.xlsx"))
        .header("cookie", &admin.cookie)
        .body(file.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Another site's page.
    let r = server
        .http
        .post(server.url("/console/setup/import/apply?filename=c.xlsx"))
        .header("cookie", &admin.cookie)
        .header("x-csrf-token", &admin.csrf)
        .header("origin", "https://evil.example")
        .body(file.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(server.store.reference_version().await.unwrap(), v0);

    // Huge: refused before it is read.
    let r = post_file(
        &server,
        &admin,
        "/console/setup/import/preview?filename=c.xlsx",
        vec![b'x'; 17 * 1024 * 1024],
    )
    .await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Not a workbook under an .xlsx name; not a known extension.
    let r = post_file(
        &server,
        &admin,
        "/console/setup/import/preview?filename=c.xlsx",
        b"id,name\n1,x\n".to_vec(),
    )
    .await;
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["errors"][0]["code"], "refdata_unsupported_format", "{p}");
    let r = post_file(
        &server,
        &admin,
        "/console/setup/import/preview?filename=c.exe",
        file.clone(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // A zip bomb: a small file whose sheet unpacks to 300 MB.
    let bomb = {
        let mut out = std::io::Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("xl/worksheets/sheet1.xml", opts).unwrap();
        let chunk = vec![b' '; 1024 * 1024];
        for _ in 0..300 {
            zip.write_all(&chunk).unwrap();
        }
        zip.finish().unwrap();
        out.into_inner()
    };
    assert!(bomb.len() < 2 * 1024 * 1024, "{}", bomb.len());
    let started = std::time::Instant::now();
    let r = post_file(
        &server,
        &admin,
        "/console/setup/import/preview?filename=c.xlsx",
        bomb,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["errors"][0]["code"], "refdata_unsupported_format", "{p}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // A damaged workbook.
    let mut broken = file.clone();
    broken.truncate(broken.len() / 2);
    let r = post_file(
        &server,
        &admin,
        "/console/setup/import/preview?filename=c.xlsx",
        broken,
    )
    .await;
    let p: Value = r.json().await.unwrap();
    assert!(
        p["errors"][0]["code"]
            .as_str()
            .unwrap()
            .starts_with("refdata_"),
        "{p}"
    );

    // An import that makes a user an admin, or a name a formula.
    let mut sheets = city(5, 2, 2);
    sheets[3].rows[0][2] = s("admin");
    sheets[2].rows[0][1] = s("=HYPERLINK(\"http://evil.example\",\"点我\")");
    let r = post_file(
        &server,
        &admin,
        "/console/setup/import/preview?filename=c.xlsx",
        workbook(&sheets),
    )
    .await;
    let p: Value = r.json().await.unwrap();
    let codes: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"admin_by_import"), "{p}");
    assert!(codes.contains(&"formula_text"), "{p}");
    // Demoting the demo's admin by import, too.
    let mut sheets = city(5, 2, 2);
    sheets[3].rows.push(vec![
        s(ADMIN),
        s("管理员"),
        s("巡查员"),
        s(""),
        s(""),
        s(""),
    ]);
    let r = post_file(
        &server,
        &admin,
        "/console/setup/import/preview?filename=c.xlsx",
        workbook(&sheets),
    )
    .await;
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["errors"][0]["code"], "admin_by_import", "{p}");
    // The office cannot disable itself.
    let r = server
        .console_post(
            &admin,
            &format!("/console/setup/users/{ADMIN}/disable"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Users: unknown, bad fields.
    let r = server
        .console_post(
            &admin,
            "/console/setup/users/nobody/disable",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = server
        .console_post(
            &admin,
            "/console/setup/users",
            serde_json::json!({"id": "x y", "name": "n", "role": "inspector"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = server
        .console_post(
            &admin,
            "/console/setup/users",
            serde_json::json!({"id": "u1", "name": "=1+1", "role": "inspector"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = server.console_post(&admin, "/console/setup/users", serde_json::json!({"id": "u2", "name": "n", "role": "unit_handler", "unit_id": "no-such-unit"})).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = server
        .console_post(
            &admin,
            "/console/setup/users",
            serde_json::json!({"id": "u3", "name": "n", "role": "inspector", "extra": 1}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = server
        .console_post(
            &admin,
            "/console/setup/devices/not-a-uuid/revoke",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(server.store.reference_version().await.unwrap(), v0);
    server.stop().await;
}

fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_fieldcheck-server"))
}

fn run(cmd: &mut std::process::Command) -> (bool, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// Two workers: `run` blocks its thread until the subcommand exits, and the server must go
// on (a write it had begun would otherwise hold SQLite's lock until the subcommand gave up).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subcommands_set_up_a_city_on_sqlite_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), None, true).await;
    let db = format!("sqlite://{}/fc.db", dir.path().display());
    let file = dir.path().join("city.xlsx");
    std::fs::write(&file, workbook(&city(100, 10, 12))).unwrap();
    let with_db = |args: &[&str]| {
        let mut c = bin();
        c.args(args).env("FIELDCHECK_DATABASE_URL", &db);
        c
    };
    let v0 = server.store.reference_version().await.unwrap();
    let (ok, out, err) = run(&mut with_db(&[
        "import",
        file.to_str().unwrap(),
        "--dry-run",
    ]));
    assert!(ok, "{out}{err}");
    assert!(out.contains("dry run"), "{out}");
    assert_eq!(server.store.reference_version().await.unwrap(), v0);
    let (ok, out, err) = run(&mut with_db(&["import", file.to_str().unwrap()]));
    assert!(ok, "{out}{err}");
    assert_eq!(server.store.reference_version().await.unwrap(), v0 + 1);
    // A file with an error: listed with its place, exit status 1, nothing changed.
    let mut sheets = city(100, 10, 12);
    sheets[2].rows[9][5] = s("c-none");
    let bad = dir.path().join("bad.xlsx");
    std::fs::write(&bad, workbook(&sheets)).unwrap();
    let (ok, out, err) = run(&mut with_db(&["import", bad.to_str().unwrap()]));
    assert!(!ok);
    assert!(
        err.contains("sheet 点位, row 11, column 所属区域 [unknown_district]"),
        "{out}{err}"
    );
    assert_eq!(server.store.reference_version().await.unwrap(), v0 + 1);

    let (ok, out, err) = run(&mut with_db(&[
        "user",
        "add",
        "li",
        "--name",
        "李四",
        "--role",
        "unit_handler",
        "--unit",
        "cu-001",
        "--password",
        "a long password",
    ]));
    assert!(ok, "{out}{err}");
    let qr = dir.path().join("li.png");
    let (ok, out, err) = run(&mut with_db(&[
        "enroll-code",
        "li",
        "--qr",
        qr.to_str().unwrap(),
    ]));
    assert!(ok, "{out}{err}");
    let code = out.trim().to_owned();
    assert!(std::fs::read(&qr).unwrap().starts_with(b"\x89PNG"));
    // The running server takes the code.
    let device = Uuid::now_v7();
    let r = server
        .http
        .post(server.url("/enroll"))
        .json(&serde_json::json!({"code": code, "device_id": device, "device_name": "li"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let token = r
        .json::<fieldcheck_protocol::sync::EnrollResponse>()
        .await
        .unwrap()
        .token;
    let (ok, out, _) = run(&mut with_db(&["devices"]));
    assert!(ok && out.contains(&device.to_string()), "{out}");
    let (ok, out, _) = run(&mut with_db(&["user", "list"]));
    assert!(ok && out.contains("李四"), "{out}");
    let (ok, out, err) = run(&mut with_db(&["user", "disable", "li"]));
    assert!(ok, "{out}{err}");
    let r = server
        .http
        .get(server.url("/pull?since=0"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let (ok, _, err) = run(&mut with_db(&["devices", "--revoke", &device.to_string()]));
    assert!(ok, "{err}");
    let audit = fieldcheck_server::setup::audit_page(server.store.as_ref(), 50, 0)
        .await
        .unwrap();
    assert_eq!(audit.total, 5);
    assert!(audit.entries.iter().all(|e| e.actor == "cli"));
    server.stop().await;
}

#[tokio::test]
async fn the_import_subcommand_works_on_postgresql() {
    let Some(pg) = Pg::new().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("city.xlsx");
    std::fs::write(&file, workbook(&city(500, 40, 60))).unwrap();
    let url = std::env::var("FIELDCHECK_TEST_PG").unwrap_or_else(|_| common::DEFAULT_PG.to_owned());
    let v0 = pg.store.reference_version().await.unwrap();
    let (ok, out, err) = run(bin()
        .args(["import", file.to_str().unwrap(), "--pg-schema", pg.schema()])
        .env("FIELDCHECK_DATABASE_URL", &url));
    assert!(ok, "{out}{err}");
    let (v1, bundle) = pg.store.reference().await.unwrap().unwrap();
    assert_eq!(v1, v0 + 1);
    assert_eq!(
        bundle
            .points
            .iter()
            .filter(|p| p.active && p.id.starts_with("cp-"))
            .count(),
        500
    );
    assert_eq!(
        bundle
            .users
            .iter()
            .filter(|u| u.id.starts_with("cusr-"))
            .count(),
        60
    );
    let (ok, out, err) = run(bin()
        .args(["user", "list", "--pg-schema", pg.schema()])
        .env("FIELDCHECK_DATABASE_URL", &url));
    assert!(ok && out.contains("cusr-059"), "{out}{err}");
    let audit = fieldcheck_server::setup::audit_page(pg.store.as_ref(), 10, 0)
        .await
        .unwrap();
    assert_eq!(audit.entries[0].action, "reference.import");
    pg.finish().await;
}
