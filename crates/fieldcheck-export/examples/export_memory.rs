//! Peak memory and time of the writers alone (no database): `--rows` ledger rows with a before
//! and an after photo each (distinct cell-sized JPEGs, so rust_xlsxwriter cannot share them),
//! written as CSV (the baseline), GeoJSON and XLSX, each in a child process of its own so each
//! peak RSS (`VmHWM`) is its own.
//!
//! ```sh
//! cargo run --release -p fieldcheck-export --example export_memory -- --rows 10000
//! ```

use std::time::Instant;

use chrono::{FixedOffset, TimeZone, Utc};
use fieldcheck_domain::problem::{ProblemSource, ProblemStatus};
use fieldcheck_export::{
    CELL_IMAGE_PX, ExportError, ExportKind, ExportRow, PhotoRef, PhotoSource, TimeFormat,
};
use fieldcheck_protocol::console::ConsoleProblemRow;

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A cell-sized JPEG whose bytes differ per photo (a counter in the pixels).
struct Synthetic {
    n: u64,
}

impl Synthetic {
    fn jpeg(&mut self) -> Vec<u8> {
        self.n += 1;
        let (w, h) = (CELL_IMAGE_PX as u16, (CELL_IMAGE_PX * 3 / 4) as u16);
        let seed = self.n;
        let px: Vec<u8> = (0..(w as u64 * h as u64))
            .flat_map(|i| {
                let v = (i.wrapping_mul(2654435761).wrapping_add(seed * 97)) % 251;
                [v as u8, ((i / w as u64) * 2) as u8, (seed % 256) as u8]
            })
            .collect();
        let mut out = Vec::new();
        jpeg_encoder::Encoder::new(&mut out, 80)
            .encode(&px, w, h, jpeg_encoder::ColorType::Rgb)
            .expect("jpeg");
        out
    }
}

impl PhotoSource for Synthetic {
    fn photo(&mut self, _hash: &str) -> Result<Option<Vec<u8>>, ExportError> {
        Ok(Some(self.jpeg()))
    }
    fn cell_image(&mut self, _hash: &str) -> Result<Option<Vec<u8>>, ExportError> {
        Ok(Some(self.jpeg()))
    }
}

fn row(i: usize) -> ExportRow {
    let at = Utc.with_ymd_and_hms(2026, 11, 23, 6, 5, 0).unwrap();
    let p = |role: &str| PhotoRef {
        hash: format!("{role}{i:060}"),
        url: format!("https://fc.example/api/v1/console/photos/{role}{i:060}"),
    };
    ExportRow {
        api: ConsoleProblemRow {
            id: format!("0190a000-0000-7000-8000-{i:012}"),
            code: format!("GL-20261123-K7Q2-{i:05}"),
            status: ProblemStatus::Closed,
            category: "SR-02".into(),
            excerpt: "道路两侧有暴露垃圾，影响市容".into(),
            address: "鼓楼区中山路 1 号".into(),
            district_id: Some("c-dm".into()),
            point_id: Some("p-001".into()),
            unit_id: Some("u-s-dj".into()),
            reporter: "usr-insp-1".into(),
            reporter_role: None,
            source: ProblemSource::Inspection,
            severity: None,
            rework_count: 0,
            reported_at: at,
            updated_at: at,
            deadline: Some(at),
            dispatched_at: Some(at),
            closed_at: Some(at),
            overdue: false,
        },
        description: "道路两侧有暴露垃圾，影响市容，请责任单位及时清理并保持整洁。".into(),
        lon_lat: Some((119.3, 26.08)),
        place: "中山路 / 鼓楼区中山路 1 号".into(),
        area: "鼓楼区 / 东街街道 / 东门社区".into(),
        category_name: "市容环境 / 暴露垃圾".into(),
        item: "无暴露垃圾、无乱堆乱放".into(),
        unit_name: "东街街道办事处".into(),
        rectification: "已清理完毕，安排专人巡查".into(),
        verifier: "王检查".into(),
        rectified_at: Some(at),
        on_time: Some(true),
        remark: String::new(),
        before: vec![p("b")],
        after: vec![p("a")],
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rows = 10_000usize;
    let mut kind: Option<String> = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--rows" => rows = it.next().ok_or("--rows N")?.parse()?,
            "--kind" => kind = it.next(),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let Some(kind) = kind else {
        // The parent: one child per kind.
        println!("export_memory: {rows} rows, 2 photos each ({CELL_IMAGE_PX} px cell copies)");
        println!(
            "{:<10} {:>8} {:>10} {:>10} {:>10}",
            "kind", "time s", "file MiB", "peak MiB", "vs csv"
        );
        let mut base = None;
        for k in ["csv", "geojson", "xlsx"] {
            let out = std::process::Command::new(std::env::current_exe()?)
                .args(["--rows", &rows.to_string(), "--kind", k])
                .output()?;
            let line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if !out.status.success() {
                return Err(format!("{k}: {}", String::from_utf8_lossy(&out.stderr)).into());
            }
            let peak: f64 = line.split_whitespace().nth(3).unwrap_or("0").parse()?;
            let b = *base.get_or_insert(peak);
            println!("{line} {:>9.2}×", peak / b);
        }
        return Ok(());
    };
    let kind = ExportKind::parse(&kind).ok_or("kind")?;
    let dir = tempfile::tempdir()?;
    let path = dir
        .path()
        .join(format!("out.{}", fieldcheck_export::extension(kind)));
    let tf = TimeFormat {
        tz: FixedOffset::east_opt(8 * 3600).ok_or("tz")?,
    };
    let start = Instant::now();
    let mut photos = Synthetic { n: 0 };
    fieldcheck_export::write_file(kind, &path, (0..rows).map(|i| Ok(row(i))), &mut photos, tf)?;
    let took = start.elapsed().as_secs_f64();
    let size = std::fs::metadata(&path)?.len() as f64 / 1024.0 / 1024.0;
    println!(
        "{:<10} {:>8.2} {:>10.1} {:>10.0}",
        kind.as_str(),
        took,
        size,
        peak_rss_mib()
    );
    Ok(())
}
