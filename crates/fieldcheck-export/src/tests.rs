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

/// Photos whose bytes differ per photo (rust_xlsxwriter shares identical pictures).
fn distinct_photos(n: usize) -> Photos {
    let mut m = HashMap::new();
    for i in 0..n {
        m.insert(format!("b{i}"), jpeg(120, 90, (i * 40 % 250) as u8));
        m.insert(format!("a{i}"), jpeg(90, 120, (i * 40 % 250 + 3) as u8));
    }
    Photos(m)
}

/// The drawing streamed beside the workbook is, byte for byte, the one rust_xlsxwriter writes
/// for the same pictures with `insert_image_fit_to_cell(.., true)` and a URL: the shape Excel,
/// WPS and LibreOffice are known to read.
#[test]
fn the_streamed_drawing_is_what_rust_xlsxwriter_writes_itself() {
    use rust_xlsxwriter::{Image, Workbook};
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours.xlsx");
    let rows: Vec<ExportRow> = (0..5).map(|i| row(i, i != 1)).collect();
    let mut src = distinct_photos(5);
    // A photo the store lost: no picture, the link text stays.
    src.0.remove("a3");
    write_file(
        ExportKind::Xlsx,
        &ours,
        rows.iter().cloned().map(Ok),
        &mut src,
        tf(),
    )
    .unwrap();

    let reference = dir.path().join("reference.xlsx");
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    for (i, w) in xlsx::WIDTHS.iter().enumerate() {
        ws.set_column_width(i as u16, *w).unwrap();
    }
    ws.set_row_height(0, xlsx::HEADER_ROW_PT).unwrap();
    for (i, r) in rows.iter().enumerate() {
        let n = i as u32 + 1;
        if !r.before.is_empty() || !r.after.is_empty() {
            ws.set_row_height(n, xlsx::PHOTO_ROW_PT).unwrap();
        }
        for (col, list) in [(BEFORE_COL, &r.before), (AFTER_COL, &r.after)] {
            let Some(p) = list.first() else { continue };
            let Some(bytes) = src.0.get(&p.hash) else {
                continue;
            };
            let image = Image::new_from_buffer(bytes)
                .unwrap()
                .set_alt_text(format!("{} {}", r.api.code, COLUMNS[col as usize]))
                .set_url(p.url.as_str())
                .unwrap();
            ws.insert_image_fit_to_cell(n, col, &image, true).unwrap();
        }
    }
    wb.save(&reference).unwrap();

    let (a, b) = (read_zip(&ours), read_zip(&reference));
    for part in [
        "xl/drawings/drawing1.xml",
        "xl/drawings/_rels/drawing1.xml.rels",
        "xl/worksheets/_rels/sheet1.xml.rels",
    ] {
        assert_eq!(
            String::from_utf8_lossy(&a[part]),
            String::from_utf8_lossy(&b[part]),
            "{part}"
        );
    }
    for i in 1..=7 {
        let media = format!("xl/media/image{i}.jpeg");
        assert_eq!(a[&media], b[&media], "{media}");
    }
    assert!(!a.contains_key("xl/media/image8.jpeg"));
    let types = String::from_utf8_lossy(&a["[Content_Types].xml"]);
    assert!(
        types.contains(r#"<Default Extension="jpeg" ContentType="image/jpeg"/>"#)
            && types.contains(r#"<Override PartName="/xl/drawings/drawing1.xml" ContentType="application/vnd.openxmlformats-officedocument.drawing+xml"/>"#),
        "{types}"
    );
    // The sheet's <drawing> sits where the schema puts it: after the page setup, last here.
    let sheet = String::from_utf8_lossy(&a["xl/worksheets/sheet1.xml"]);
    assert!(
        sheet.ends_with(r#"<pageSetup paperSize="9" fitToHeight="0" orientation="landscape" horizontalDpi="200" verticalDpi="200"/><drawing r:id="rId1"/></worksheet>"#),
        "{}",
        &sheet[sheet.len().saturating_sub(400)..]
    );
    // Each row once, in order (rust_xlsxwriter's repeated last row is gone).
    let rows: Vec<u32> = sheet
        .split("<row r=\"")
        .skip(1)
        .map(|r| r.split('"').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(rows, (1..=6).collect::<Vec<_>>());
    // Cells keep the photo's link as text, also where the picture is missing.
    assert!(sheet.contains("https://fc.example/api/v1/console/photos/a3"));
}

fn soffice(input: &Path, to: &str, outdir: &Path) -> std::path::PathBuf {
    let found = std::process::Command::new("sh")
        .args(["-c", "command -v soffice"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "LibreOffice (soffice) opens the XLSX in these tests (scripts/test.sh installs it)"
    );
    let o = std::process::Command::new("soffice")
        .args(["--headless", "--norestore"])
        .arg(format!(
            "-env:UserInstallation=file://{}",
            outdir.join("lo-profile").display()
        ))
        .args(["--convert-to", to, "--outdir"])
        .arg(outdir)
        .arg(input)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ext = to.split(':').next().unwrap();
    let out = outdir.join(input.with_extension(ext).file_name().unwrap());
    assert!(
        out.exists(),
        "LibreOffice wrote no {}: {}",
        out.display(),
        String::from_utf8_lossy(&o.stdout)
    );
    out
}

/// The pictures as LibreOffice sees them: it opens the XLSX and saves it again as XLSX, and
/// its own drawing gives, for each picture, the cell it is anchored in (0-based row, column)
/// and the link it carries.
fn lo_pictures(xlsx: &Path, dir: &Path) -> Vec<((u32, u16), String)> {
    let saved = soffice(xlsx, "xlsx", &dir.join("lo"));
    let z = read_zip(&saved);
    let drawing = String::from_utf8_lossy(&z["xl/drawings/drawing1.xml"]);
    let rels = String::from_utf8_lossy(&z["xl/drawings/_rels/drawing1.xml.rels"]);
    let media = z.keys().filter(|k| k.starts_with("xl/media/")).count();
    let target = |id: &str| -> String {
        rels.split(&format!("Id=\"{id}\""))
            .nth(1)
            .and_then(|s| s.split("Target=\"").nth(1))
            .and_then(|s| s.split('"').next())
            .unwrap_or_default()
            .to_owned()
    };
    let attr = |s: &str, name: &str| -> Option<String> {
        Some(s.split(name).nth(1)?.split('"').nth(1)?.to_owned())
    };
    let pictures: Vec<((u32, u16), String)> = drawing
        .split("<xdr:twoCellAnchor")
        .skip(1)
        .map(|a| {
            assert!(a.contains("<a:blip"), "a picture: {a}");
            let from = a.split("<xdr:from>").nth(1).unwrap();
            let num = |tag: &str| -> String {
                from.split(&format!("<xdr:{tag}>"))
                    .nth(1)
                    .unwrap()
                    .split('<')
                    .next()
                    .unwrap()
                    .to_owned()
            };
            let link = a
                .split("<a:hlinkClick")
                .nth(1)
                .and_then(|h| attr(h, "r:id="))
                .map(|id| target(&id))
                .unwrap_or_default();
            (
                (num("row").parse().unwrap(), num("col").parse().unwrap()),
                link,
            )
        })
        .collect();
    // LibreOffice stores identical pictures once.
    assert!(media >= 1 && media <= pictures.len(), "{media} images");
    pictures
}

#[test]
fn libreoffice_shows_each_picture_in_its_photo_cell() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.xlsx");
    let rows = (0..4).map(|i| Ok(row(i, i != 1)));
    write_file(ExportKind::Xlsx, &path, rows, &mut distinct_photos(4), tf()).unwrap();
    let pics = lo_pictures(&path, dir.path());
    let cells: Vec<(u32, u16)> = pics.iter().map(|p| p.0).collect();
    assert_eq!(
        cells,
        [(1, 8), (1, 13), (3, 8), (3, 13), (4, 8), (4, 13)],
        "{pics:?}"
    );
    for ((r, c), link) in &pics {
        let role = if *c == BEFORE_COL { "b" } else { "a" };
        assert_eq!(
            link,
            &format!("https://fc.example/api/v1/console/photos/{role}{}", r - 1)
        );
    }
}

/// More pictures than rust_xlsxwriter could hold in 300 MB before (12,000): every one is
/// placed, and LibreOffice opens the file with every row. (Its pictures are checked on the
/// small ledger above: LibreOffice takes minutes to save 12,000 of them again.)
#[test]
fn more_pictures_than_the_old_cap_open_in_libreoffice() {
    const ROWS: usize = 6_001;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.xlsx");
    let mut src = Photos(HashMap::new());
    for i in 0..ROWS {
        // Tiny pictures keep it quick; distinct so nothing is shared.
        src.0.insert(format!("b{i}"), jpeg(8, 6, (i % 256) as u8));
        src.0.insert(format!("a{i}"), jpeg(6, 8, (i / 256) as u8));
    }
    let mut w = XlsxLedger::new(tf()).unwrap();
    for i in 0..ROWS {
        w.write_row(&row(i, true), &mut src).unwrap();
    }
    assert_eq!(w.counts(), (ROWS as u32, 2 * ROWS as u64, 0));
    w.save(&path).unwrap();
    let z = read_zip(&path);
    let drawing = String::from_utf8_lossy(&z["xl/drawings/drawing1.xml"]);
    assert_eq!(drawing.matches("<xdr:from>").count(), 2 * ROWS);
    let csv = soffice(
        &path,
        "csv:Text - txt - csv (StarCalc):44,34,76,1",
        &dir.path().join("lo"),
    );
    let bytes = std::fs::read(&csv).unwrap();
    let mut r = csv::Reader::from_reader(&bytes[..]);
    let headers: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(headers, COLUMNS);
    let recs: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(recs.len(), ROWS, "LibreOffice reads every row");
    let last = row(ROWS - 1, true);
    assert_eq!(&recs[ROWS - 1][1], last.api.code);
    assert_eq!(&recs[ROWS - 1][13], last.after[0].url);
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
