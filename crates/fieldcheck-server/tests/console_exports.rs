//! The console's exports (issue 16) over real HTTP on a real SQLite file with the demo city
//! (photos included), each file opened by a real program: the XLSX by LibreOffice (converted
//! to CSV, and saved again as XLSX to see where it puts the pictures) and its drawing read
//! from the archive, the GeoJSON by GDAL's `ogr2ogr`, the CSV by
//! the csv crate, the ZIP by the zip crate. Then a hostile user's attempts.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The server's public address, which the exports' photo links start with (a server without
/// one can only name photos by path).
const PUBLIC_URL: &str = "https://cw.example.gov.cn";

/// Queues an export and waits for it; the finished job.
async fn export(s: &Server, who: &ConsoleLogin, kind: &str, filter: Value) -> Value {
    let r = s
        .console_post(
            who,
            "/console/exports",
            json!({"kind": kind, "filter": filter}),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::ACCEPTED,
        "{}",
        r.text().await.unwrap()
    );
    let job: Value = r.json().await.unwrap();
    assert_eq!(job["state"], "queued");
    let id = job["id"].as_str().unwrap().to_owned();
    for _ in 0..600 {
        let list: Value = s
            .console_get(&who.cookie, "/console/exports")
            .await
            .json()
            .await
            .unwrap();
        let j = list["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["id"] == id.as_str())
            .expect("my job is listed")
            .clone();
        match j["state"].as_str().unwrap() {
            "done" => return j,
            "failed" => panic!("export failed: {j}"),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    panic!("export {id} did not finish");
}

async fn download(
    s: &Server,
    who: &ConsoleLogin,
    job: &Value,
    to: &Path,
) -> reqwest::header::HeaderMap {
    let r = s
        .console_get(
            &who.cookie,
            &format!("/console/exports/{}/file", job["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let headers = r.headers().clone();
    std::fs::write(to, r.bytes().await.unwrap()).unwrap();
    headers
}

/// Every ledger row the API shows `who` for `query`, in its order.
async fn ledger_rows(s: &Server, who: &ConsoleLogin, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let page: Value = s
            .console_get(
                &who.cookie,
                &format!("/console/problems?limit=200&offset={}&{query}", out.len()),
            )
            .await
            .json()
            .await
            .unwrap();
        let rows = page["rows"].as_array().unwrap();
        out.extend(rows.iter().cloned());
        if out.len() as u64 >= page["total"].as_u64().unwrap() || rows.is_empty() {
            return out;
        }
    }
}

fn codes(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r["code"].as_str().unwrap().to_owned())
        .collect()
}

fn read_csv(bytes: &[u8]) -> Vec<csv::StringRecord> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes)
        .records()
        .map(Result::unwrap)
        .collect()
}

/// The cells (row, column) a workbook's pictures are anchored in, and its drawing's
/// relationships (the pictures' links).
fn pictures(xlsx: &Path) -> (BTreeSet<(usize, u16)>, String) {
    let mut z = zip::ZipArchive::new(std::fs::File::open(xlsx).unwrap()).unwrap();
    let mut drawing = String::new();
    z.by_name("xl/drawings/drawing1.xml")
        .unwrap()
        .read_to_string(&mut drawing)
        .unwrap();
    let mut rels = String::new();
    z.by_name("xl/drawings/_rels/drawing1.xml.rels")
        .unwrap()
        .read_to_string(&mut rels)
        .unwrap();
    let anchors = drawing
        .split("<xdr:from>")
        .skip(1)
        .map(|a| {
            let num = |tag: &str| -> String {
                a.split(&format!("<xdr:{tag}>"))
                    .nth(1)
                    .unwrap()
                    .split('<')
                    .next()
                    .unwrap()
                    .to_owned()
            };
            (num("row").parse().unwrap(), num("col").parse().unwrap())
        })
        .collect();
    (anchors, rels)
}

fn tool(name: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{name} is needed to open the export with a real program (scripts/test.sh installs it)"
    );
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_export_opens_in_a_real_program_and_matches_the_ledger() {
    let (dir, s) = Server::start_seeded_city(|c| c.public_url = PUBLIC_URL.to_owned()).await;
    let admin = s.console_sign_in("usr-admin-1").await;
    let out = dir.path().join("downloads");
    std::fs::create_dir_all(&out).unwrap();

    // The console's current filter: everything, newest first (the ledger's default order).
    let api = ledger_rows(&s, &admin, "").await;
    assert!(api.len() >= 60, "{}", api.len());

    // CSV: BOM, the columns, every row in the ledger's order.
    let job = export(&s, &admin, "csv", json!({})).await;
    assert_eq!(job["rows_done"].as_u64().unwrap(), api.len() as u64);
    assert_eq!(job["rows_total"].as_u64().unwrap(), api.len() as u64);
    let path = out.join("l.csv");
    let h = download(&s, &admin, &job, &path).await;
    let cd = h["content-disposition"].to_str().unwrap();
    assert!(
        cd.contains("filename*=UTF-8''%E9%97%AE%E9%A2%98%E5%8F%B0%E8%B4%A6_"),
        "{cd}"
    );
    assert!(h["content-type"].to_str().unwrap().starts_with("text/csv"));
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..3], b"\xef\xbb\xbf", "UTF-8 byte-order mark");
    let recs = read_csv(&bytes[3..]);
    assert_eq!(
        recs[0].iter().collect::<Vec<_>>(),
        fieldcheck_export::COLUMNS
    );
    let csv_codes: Vec<String> = recs[1..].iter().map(|r| r[1].to_owned()).collect();
    assert_eq!(csv_codes, codes(&api));
    for (r, a) in recs[1..].iter().zip(&api) {
        let status =
            fieldcheck_domain::problem::ProblemStatus::parse(a["status"].as_str().unwrap())
                .unwrap()
                .label(fieldcheck_domain::i18n::Lang::Zh);
        assert_eq!(&r[17], status, "{}", a["code"]);
    }
    // A row with a before-photo carries the full photo's link.
    assert!(
        recs[1..]
            .iter()
            .any(|r| r[8].starts_with(&format!("{PUBLIC_URL}/api/v1/console/photos/"))),
        "some problem has a before-photo"
    );

    // XLSX: LibreOffice reads it; the same rows and values as the CSV.
    let job = export(&s, &admin, "xlsx", json!({})).await;
    let xlsx = out.join("ledger.xlsx");
    download(&s, &admin, &job, &xlsx).await;
    if tool("soffice") {
        let conv = out.join("conv");
        let o = Command::new("soffice")
            .args(["--headless", "--norestore"])
            .arg(format!(
                "-env:UserInstallation=file://{}",
                out.join("lo-profile").display()
            ))
            .args([
                "--convert-to",
                "csv:Text - txt - csv (StarCalc):44,34,76,1",
                "--outdir",
            ])
            .arg(&conv)
            .arg(&xlsx)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let lo = read_csv(&std::fs::read(conv.join("ledger.csv")).unwrap());
        assert_eq!(
            lo.len(),
            recs.len(),
            "LibreOffice sees every row and the header"
        );
        for (a, b) in lo.iter().zip(&recs) {
            assert_eq!(
                a.iter().collect::<Vec<_>>(),
                b.iter().collect::<Vec<_>>(),
                "LibreOffice's cells equal the CSV export's"
            );
        }
    }
    // The pictures: anchored in the photo cells (columns I and N) of rows with photos, each
    // linking to its photo.
    let (anchors, rels) = pictures(&xlsx);
    let mut want = BTreeSet::new();
    for (i, r) in recs[1..].iter().enumerate() {
        if !r[8].is_empty() {
            want.insert((i + 1, 8u16));
        }
        if !r[13].is_empty() {
            want.insert((i + 1, 13u16));
        }
    }
    assert!(!want.is_empty());
    assert_eq!(anchors, want, "one picture in each photo cell");
    let first_before = recs[1..].iter().find(|r| !r[8].is_empty()).unwrap()[8]
        .lines()
        .next()
        .unwrap()
        .to_owned();
    assert!(
        rels.contains(&first_before),
        "the picture links to {first_before}"
    );
    if tool("soffice") {
        // LibreOffice sees them there too: opened and saved again by LibreOffice, its own
        // drawing anchors a picture in each photo cell, with the photo's link.
        let again = out.join("lo-xlsx");
        let o = Command::new("soffice")
            .args(["--headless", "--norestore"])
            .arg(format!(
                "-env:UserInstallation=file://{}",
                out.join("lo-profile").display()
            ))
            .args(["--convert-to", "xlsx", "--outdir"])
            .arg(&again)
            .arg(&xlsx)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let (lo_anchors, lo_rels) = pictures(&again.join("ledger.xlsx"));
        assert_eq!(
            lo_anchors, want,
            "LibreOffice shows a picture in each photo cell"
        );
        assert!(lo_rels.contains(&first_before), "{lo_rels}");
    }

    // GeoJSON: GDAL reads it; WGS-84 [lon, lat]; properties named as the API's rows.
    let job = export(&s, &admin, "geojson", json!({})).await;
    let gj = out.join("l.geojson");
    download(&s, &admin, &job, &gj).await;
    let v: Value = serde_json::from_slice(&std::fs::read(&gj).unwrap()).unwrap();
    assert_eq!(v["type"], "FeatureCollection");
    let features = v["features"].as_array().unwrap();
    assert_eq!(features.len(), api.len());
    for (f, a) in features.iter().zip(&api) {
        assert_eq!(&f["properties"], a, "properties are the ledger row");
    }
    if tool("ogr2ogr") {
        let gcsv = out.join("gdal.csv");
        let o = Command::new("ogr2ogr")
            .args(["-f", "CSV"])
            .arg(&gcsv)
            .arg(&gj)
            .args(["-lco", "GEOMETRY=AS_XY"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let g = read_csv(&std::fs::read(&gcsv).unwrap());
        let head: Vec<&str> = g[0].iter().collect();
        let col = |n: &str| head.iter().position(|h| *h == n).unwrap();
        let (x, y, code) = (col("X"), col("Y"), col("code"));
        assert_eq!(g.len() - 1, api.len());
        let by_code: BTreeMap<&str, &Value> = features
            .iter()
            .map(|f| (f["properties"]["code"].as_str().unwrap(), f))
            .collect();
        let mut placed = 0;
        for r in &g[1..] {
            let f = by_code[&r[code]];
            if f["geometry"].is_null() {
                continue;
            }
            placed += 1;
            let lon: f64 = r[x].parse().unwrap();
            let lat: f64 = r[y].parse().unwrap();
            assert!((lon - f["geometry"]["coordinates"][0].as_f64().unwrap()).abs() < 1e-9);
            assert!((lat - f["geometry"]["coordinates"][1].as_f64().unwrap()).abs() < 1e-9);
            // The demo city (福州): longitude first.
            assert!(
                (118.0..121.0).contains(&lon) && (25.0..27.0).contains(&lat),
                "{lon} {lat}"
            );
        }
        assert!(placed > 0);
    }

    // The photo ZIP: every photo named by code and role, the bytes as stored.
    let job = export(&s, &admin, "photos_zip", json!({"status": "closed"})).await;
    let zp = out.join("p.zip");
    download(&s, &admin, &job, &zp).await;
    let mut z = zip::ZipArchive::new(std::fs::File::open(&zp).unwrap()).unwrap();
    let closed = codes(&ledger_rows(&s, &admin, "status=closed").await);
    assert!(!z.is_empty());
    for i in 0..z.len() {
        let f = z.by_index(i).unwrap();
        let name = f.name().unwrap().to_string();
        let (code, rest) = name
            .rsplit_once(if name.contains("_before_") {
                "_before_"
            } else {
                "_after_"
            })
            .unwrap();
        assert!(closed.iter().any(|c| c == code), "{name}");
        assert!(rest.ends_with(".jpg"), "{name}");
        let mut head = [0u8; 3];
        f.take(3).read_exact(&mut head).unwrap();
        assert_eq!(head, [0xff, 0xd8, 0xff], "{name} is a JPEG");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_users_get_nothing_outside_their_scope() {
    let (_dir, s) = Server::start_seeded_city(|_| {}).await;
    let admin = s.console_sign_in("usr-admin-1").await;
    let hdl = s.console_sign_in("usr-hdl-1").await;
    let insp = s.console_sign_in("usr-insp-2").await;

    // No session.
    let r = s.http.get(s.url("/console/exports")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = s
        .http
        .post(s.url("/console/exports"))
        .json(&json!({"kind": "csv"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // A session but no CSRF token, or another site's page.
    let r = s
        .http
        .post(s.url("/console/exports"))
        .header("cookie", &admin.cookie)
        .json(&json!({"kind": "csv"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = s
        .http
        .post(s.url("/console/exports"))
        .header("cookie", &admin.cookie)
        .header("x-csrf-token", &admin.csrf)
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .json(&json!({"kind": "csv"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Malformed kinds and filters: 400 naming what is wrong.
    for (body, says) in [
        (json!({"kind": "pdf"}), "kind"),
        (
            json!({"kind": "csv", "filter": {"colour": "red"}}),
            "colour",
        ),
        (
            json!({"kind": "csv", "filter": {"status": "lost"}}),
            "unknown status",
        ),
        (
            json!({"kind": "csv", "filter": {"from": "yesterday"}}),
            "from must be a date",
        ),
        (
            json!({"kind": "csv", "filter": {"overdue": "maybe"}}),
            "filter.overdue",
        ),
        (
            json!({"kind": "csv", "filter": "status=closed"}),
            "filter must be an object",
        ),
        (json!({"kind": "csv", "extra": 1}), "extra"),
    ] {
        let r = s
            .console_post(&admin, "/console/exports", body.clone())
            .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["code"], "malformed_request", "{body}");
        assert!(e["message"].as_str().unwrap().contains(says), "{body}: {e}");
    }

    // A unit handler's export holds exactly their ledger, even when the filter asks for the
    // whole city.
    let job = export(&s, &hdl, "geojson", json!({"district": "d-gl"})).await;
    let r = s
        .console_get(
            &hdl.cookie,
            &format!("/console/exports/{}/file", job["id"].as_str().unwrap()),
        )
        .await;
    let v: Value = r.json().await.unwrap();
    let got: Vec<String> = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["code"].as_str().unwrap().to_owned())
        .collect();
    let mine = codes(&ledger_rows(&s, &hdl, "district=d-gl").await);
    assert_eq!(got, mine);
    let all = ledger_rows(&s, &admin, "").await;
    assert!(got.len() < all.len(), "the handler sees less than the city");

    // Another user's job: the same answer as no job; an admin may download it.
    let path = format!("/console/exports/{}/file", job["id"].as_str().unwrap());
    let r = s.console_get(&insp.cookie, &path).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = s
        .console_get(
            &insp.cookie,
            &format!("/console/exports/{}/file", uuid::Uuid::now_v7()),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = s.console_get(&admin.cookie, &path).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = s
        .console_get(&insp.cookie, "/console/exports/..%2F..%2Fetc/file")
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Nor does it appear in their list.
    let list: Value = s
        .console_get(&insp.cookie, "/console/exports")
        .await
        .json()
        .await
        .unwrap();
    assert!(list["jobs"].as_array().unwrap().is_empty());
    s.stop().await;
}
