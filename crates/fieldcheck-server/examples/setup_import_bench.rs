//! Importing a 10,000-point city workbook into a server (issue 15: ≤ 10 s).
//!
//! `cargo run --release -p fieldcheck-server --example setup_import_bench [-- POINTS]`
//!
//! Builds a workbook of two districts (14 districts in all), 200 units, 10,000 points and 300
//! users, then times reading it alone (the baseline: `fieldcheck_refdata::read_bytes_report`)
//! and the whole import into a fresh SQLite store (`setup::apply`: read, plan, check, store
//! one reference version), and prints the ratio.

use std::time::Instant;

use fieldcheck_refdata::Format;
use rust_xlsxwriter::Workbook;

fn workbook(points: usize, units: usize, users: usize) -> Vec<u8> {
    let mut wb = Workbook::new();
    let mut communities = Vec::new();
    let ws = wb.add_worksheet();
    ws.set_name("区域").unwrap();
    for (c, t) in ["编号", "名称", "层级", "上级编号", "编号前缀"]
        .iter()
        .enumerate()
    {
        ws.write_string(0, c as u16, *t).unwrap();
    }
    let mut r = 1;
    for (d, zh, prefix) in [("b-gl", "鼓楼区", "GL"), ("b-tj", "台江区", "TJ")] {
        for (c, v) in [d, zh, "区", "", prefix].iter().enumerate() {
            ws.write_string(r, c as u16, *v).unwrap();
        }
        r += 1;
        for st in 1..=2 {
            let sid = format!("{d}-s{st}");
            for (c, v) in [sid.as_str(), "街道", "街道", d].iter().enumerate() {
                ws.write_string(r, c as u16, *v).unwrap();
            }
            r += 1;
            for cc in 1..=2 {
                let cid = format!("{sid}-c{cc}");
                for (c, v) in [cid.as_str(), "社区", "社区", sid.as_str()]
                    .iter()
                    .enumerate()
                {
                    ws.write_string(r, c as u16, *v).unwrap();
                }
                r += 1;
                communities.push(cid);
            }
        }
    }
    let ws = wb.add_worksheet();
    ws.set_name("单位").unwrap();
    for (c, t) in ["编号", "名称", "类型", "所属区域"].iter().enumerate() {
        ws.write_string(0, c as u16, *t).unwrap();
    }
    for i in 0..units {
        let row = [
            format!("bu-{i:04}"),
            format!("单位{i}"),
            "社区居委会".to_owned(),
            communities[i % communities.len()].clone(),
        ];
        for (c, v) in row.iter().enumerate() {
            ws.write_string(i as u32 + 1, c as u16, v).unwrap();
        }
    }
    let ws = wb.add_worksheet();
    ws.set_name("点位").unwrap();
    for (c, t) in [
        "编号",
        "名称",
        "类型",
        "纬度",
        "经度",
        "地址",
        "所属区域",
        "属地单位",
        "行业单位",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string(0, c as u16, *t).unwrap();
    }
    for i in 0..points {
        let r = i as u32 + 1;
        ws.write_string(r, 0, format!("bp-{i:05}")).unwrap();
        ws.write_string(r, 1, format!("点位{i}")).unwrap();
        ws.write_string(
            r,
            2,
            if i % 3 == 0 {
                "背街小巷"
            } else {
                "主干道"
            },
        )
        .unwrap();
        ws.write_number(r, 3, 26.0 + (i % 100) as f64 * 0.001)
            .unwrap();
        ws.write_number(r, 4, 119.2 + (i / 100) as f64 * 0.001)
            .unwrap();
        ws.write_string(r, 5, format!("某路{i}号")).unwrap();
        ws.write_string(r, 6, &communities[i % communities.len()])
            .unwrap();
        ws.write_string(r, 7, format!("bu-{:04}", i % units))
            .unwrap();
        ws.write_string(r, 8, format!("bu-{:04}", (i + 1) % units))
            .unwrap();
    }
    let ws = wb.add_worksheet();
    ws.set_name("用户").unwrap();
    for (c, t) in ["编号", "姓名", "角色", "所属单位", "负责区域"]
        .iter()
        .enumerate()
    {
        ws.write_string(0, c as u16, *t).unwrap();
    }
    for i in 0..users {
        let r = i as u32 + 1;
        ws.write_string(r, 0, format!("busr-{i:04}")).unwrap();
        ws.write_string(r, 1, format!("用户{i}")).unwrap();
        ws.write_string(
            r,
            2,
            if i % 2 == 0 {
                "巡查员"
            } else {
                "责任单位"
            },
        )
        .unwrap();
        if i % 2 == 1 {
            ws.write_string(r, 3, format!("bu-{:04}", i % units))
                .unwrap();
        }
        ws.write_string(r, 4, if i % 2 == 0 { "b-gl" } else { "b-tj" })
            .unwrap();
    }
    wb.save_to_buffer().unwrap()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let points: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10_000);
    let bytes = workbook(points, 200, 300);
    println!(
        "workbook: {points} points, {:.1} KB",
        bytes.len() as f64 / 1024.0
    );

    let t = Instant::now();
    let report =
        fieldcheck_refdata::read_bytes_report(&bytes, Format::Xlsx, None, Some("city.xlsx"))?;
    let parse = t.elapsed().as_secs_f64();
    assert!(report.errors.is_empty(), "{:?}", report.errors.first());
    assert_eq!(report.bundle.points.len(), points);

    let dir = tempfile::tempdir()?;
    let store =
        fieldcheck_server::open_store(&format!("sqlite://{}/bench.db", dir.path().display()))
            .await?;
    let t = Instant::now();
    let applied = fieldcheck_server::setup::apply(
        store.as_ref(),
        "bench",
        &bytes,
        Format::Xlsx,
        Some("city.xlsx"),
        Some(0),
    )
    .await
    .map_err(|e| anyhow::anyhow!("[{}] {e}", e.code()))?;
    let import = t.elapsed().as_secs_f64();
    assert!(applied.changed);
    let (_, bundle) = store.reference().await?.unwrap_or_default();
    assert_eq!(bundle.points.len(), points);
    println!("parse alone (baseline): {parse:.2} s");
    println!("whole import (read, plan, check, store one version): {import:.2} s  (target ≤ 10 s)");
    println!("ratio import / parse: {:.2}", import / parse.max(1e-9));
    store.shutdown().await;
    Ok(())
}
