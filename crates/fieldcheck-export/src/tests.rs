use std::collections::HashMap;
use std::io::Read;

use chrono::TimeZone;
use fieldcheck_domain::problem::{ProblemSource, ProblemStatus};

use super::*;

fn jpeg(w: u16, h: u16, shade: u8) -> Vec<u8> {
    let mut out = Vec::new();
    let px: Vec<u8> = (0..(w as usize * h as usize))
        .flat_map(|i| [shade, (i % 251) as u8, 255 - shade])
        .collect();
    jpeg_encoder::Encoder::new(&mut out, 80)
        .encode(&px, w, h, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    out
}

struct Photos(HashMap<String, Vec<u8>>);

impl PhotoSource for Photos {
    fn photo(&mut self, hash: &str) -> Result<Option<Vec<u8>>, ExportError> {
        Ok(self.0.get(hash).cloned())
    }
    fn cell_image(&mut self, hash: &str) -> Result<Option<Vec<u8>>, ExportError> {
        Ok(self.0.get(hash).cloned())
    }
}

fn tf() -> TimeFormat {
    TimeFormat {
        tz: FixedOffset::east_opt(8 * 3600).unwrap(),
    }
}

fn row(i: usize, photos: bool) -> ExportRow {
    let at = Utc.with_ymd_and_hms(2026, 11, 23, 6, 5, 0).unwrap();
    let p = |role: &str| PhotoRef {
        hash: format!("{role}{i}"),
        url: format!("https://fc.example/api/v1/console/photos/{role}{i}"),
    };
    ExportRow {
        api: ConsoleProblemRow {
            id: format!("0190-{i}"),
            code: format!("GL-20261123-K7Q2-{i:04}"),
            status: if i.is_multiple_of(2) {
                ProblemStatus::Closed
            } else {
                ProblemStatus::Dispatched
            },
            category: "SR-02".into(),
            excerpt: "垃圾, \"堆放\"".into(),
            address: "鼓楼区中山路1号".into(),
            district_id: Some("gl".into()),
            point_id: None,
            unit_id: Some("u1".into()),
            reporter: "usr-insp-1".into(),
            reporter_role: None,
            source: ProblemSource::QuickReport,
            severity: None,
            rework_count: 0,
            reported_at: at,
            updated_at: at,
            deadline: Some(at),
            dispatched_at: Some(at),
            closed_at: None,
            overdue: false,
        },
        description: "垃圾, \"堆放\"\n第二行".into(),
        lon_lat: (!i.is_multiple_of(3)).then_some((119.3, 26.08)),
        place: "中山路 / 鼓楼区中山路1号".into(),
        area: "鼓楼区 / 东街街道".into(),
        category_name: "市容环境 / 暴露垃圾".into(),
        item: "无暴露垃圾".into(),
        unit_name: "鼓楼区城管局".into(),
        rectification: "已清理".into(),
        verifier: "王检查".into(),
        rectified_at: Some(at),
        on_time: Some(i.is_multiple_of(2)),
        remark: String::new(),
        before: if photos { vec![p("b")] } else { vec![] },
        after: if photos { vec![p("a")] } else { vec![] },
    }
}

fn photos(n: usize) -> Photos {
    let mut m = HashMap::new();
    for i in 0..n {
        m.insert(format!("b{i}"), jpeg(120, 90, 40));
        m.insert(format!("a{i}"), jpeg(90, 120, 200));
    }
    Photos(m)
}

fn read_zip(path: &Path) -> HashMap<String, Vec<u8>> {
    let mut z = zip::ZipArchive::new(File::open(path).unwrap()).unwrap();
    let mut out = HashMap::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let mut b = Vec::new();
        f.read_to_end(&mut b).unwrap();
        out.insert(f.name().unwrap().to_string(), b);
    }
    out
}

#[test]
fn csv_has_a_bom_the_columns_and_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.csv");
    let rows = (0..5).map(|i| Ok(row(i, i % 2 == 0)));
    let n = write_file(ExportKind::Csv, &path, rows, &mut photos(5), tf()).unwrap();
    assert_eq!(n, 5);
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.starts_with(&[0xef, 0xbb, 0xbf]));
    let mut r = csv::Reader::from_reader(&bytes[3..]);
    let headers: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(headers, COLUMNS);
    let recs: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(recs.len(), 5);
    assert_eq!(&recs[0][0], "1");
    assert_eq!(&recs[0][1], "GL-20261123-K7Q2-0000");
    // Local time (UTC+8).
    assert_eq!(&recs[0][2], "2026-11-23 14:05");
    assert_eq!(&recs[0][7], "垃圾, \"堆放\"\n第二行");
    assert_eq!(&recs[0][8], "https://fc.example/api/v1/console/photos/b0");
    assert_eq!(&recs[1][8], "");
    assert_eq!(&recs[0][16], "是");
    assert_eq!(&recs[1][16], "否");
    assert_eq!(&recs[0][17], "已结案");
    assert_eq!(&recs[1][17], "已派遣");
}

#[test]
fn geojson_is_a_feature_collection_with_lon_lat_and_the_api_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.geojson");
    let rows = (0..4).map(|i| Ok(row(i, false)));
    write_file(ExportKind::Geojson, &path, rows, &mut photos(0), tf()).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(v["type"], "FeatureCollection");
    let f = v["features"].as_array().unwrap();
    assert_eq!(f.len(), 4);
    assert!(f[0]["geometry"].is_null());
    assert_eq!(
        f[1]["geometry"],
        serde_json::json!({"type": "Point", "coordinates": [119.3, 26.08]})
    );
    let api = serde_json::to_value(&row(1, false).api).unwrap();
    assert_eq!(f[1]["properties"], api);
    assert_eq!(f[1]["properties"]["status"], "dispatched");
}

#[test]
fn the_photo_zip_names_photos_by_code_and_role() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.zip");
    let mut src = photos(3);
    src.0.remove("a2");
    let rows = (0..3).map(|i| Ok(row(i, true)));
    write_file(ExportKind::PhotosZip, &path, rows, &mut src, tf()).unwrap();
    let z = read_zip(&path);
    let mut names: Vec<&String> = z.keys().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "GL-20261123-K7Q2-0000_after_1.jpg",
            "GL-20261123-K7Q2-0000_before_1.jpg",
            "GL-20261123-K7Q2-0001_after_1.jpg",
            "GL-20261123-K7Q2-0001_before_1.jpg",
            "GL-20261123-K7Q2-0002_before_1.jpg",
        ]
    );
    assert_eq!(z["GL-20261123-K7Q2-0001_before_1.jpg"], src.0["b1"]);
    assert_eq!(safe_name("../x/y"), "___x_y");
}

#[test]
fn the_xlsx_anchors_each_picture_in_its_photo_cell_with_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.xlsx");
    let rows = (0..4).map(|i| Ok(row(i, i != 1)));
    write_file(ExportKind::Xlsx, &path, rows, &mut photos(4), tf()).unwrap();
    let z = read_zip(&path);
    let drawing = String::from_utf8(z["xl/drawings/drawing1.xml"].clone()).unwrap();
    let anchors: Vec<(u32, u32)> = drawing
        .split("<xdr:from>")
        .skip(1)
        .map(|a| {
            let num = |tag: &str| -> u32 {
                let s = a.split(&format!("<xdr:{tag}>")).nth(1).unwrap();
                s.split('<').next().unwrap().parse().unwrap()
            };
            (num("row"), num("col"))
        })
        .collect();
    // Rows 1, 3, 4 (0-based, after the header) have pictures in columns I and N.
    assert_eq!(
        anchors,
        [(1, 8), (1, 13), (3, 8), (3, 13), (4, 8), (4, 13)],
        "{drawing}"
    );
    let rels = String::from_utf8(z["xl/drawings/_rels/drawing1.xml.rels"].clone()).unwrap();
    assert!(
        rels.contains("https://fc.example/api/v1/console/photos/b0"),
        "{rels}"
    );
    let sheet = String::from_utf8(z["xl/worksheets/sheet1.xml"].clone()).unwrap();
    assert!(sheet.contains(r#"<pane ySplit="1""#), "frozen header");
    assert!(sheet.contains(r#"<autoFilter ref="A1:S5"/>"#), "{sheet}");
    assert!(sheet.contains(r#"orientation="landscape""#) && sheet.contains(r#"paperSize="9""#));
    let wb = String::from_utf8(z["xl/workbook.xml"].clone()).unwrap();
    assert!(wb.contains("_xlnm.Print_Titles"), "{wb}");
}

#[test]
fn pictures_past_the_cap_leave_the_link_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.xlsx");
    let mut w = XlsxLedger::new(tf()).unwrap();
    w.set_max_pictures(3);
    let mut src = photos(4);
    for i in 0..4 {
        w.write_row(&row(i, true), &mut src).unwrap();
    }
    assert_eq!(w.counts(), (4, 3, 0));
    w.save(&path).unwrap();
    let z = read_zip(&path);
    let drawing = String::from_utf8(z["xl/drawings/drawing1.xml"].clone()).unwrap();
    assert_eq!(drawing.matches("<xdr:from>").count(), 3);
}

#[test]
fn kinds_and_names() {
    for k in ExportKind::ALL {
        assert_eq!(ExportKind::parse(k.as_str()), Some(k));
        assert_eq!(
            serde_json::to_value(k).unwrap(),
            serde_json::json!(k.as_str())
        );
    }
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 19, 15, 0).unwrap();
    assert_eq!(
        file_name(ExportKind::Xlsx, at, &tf()),
        "问题台账_20261202-0315.xlsx"
    );
}
