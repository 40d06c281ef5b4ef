//! Each report made for real and read back by poppler's `pdftotext`, `pdffonts` and
//! `pdfimages` (Debian's poppler-utils; fonts-noto-cjk supplies the font).

use std::process::Command;
use std::sync::OnceLock;

use chrono::{Duration, TimeZone};
use fieldcheck_domain::rates::{PeriodTally, UnitTally};

use super::*;

fn fonts() -> &'static Fonts {
    static FONTS: OnceLock<Fonts> = OnceLock::new();
    FONTS.get_or_init(|| {
        Fonts::load_default()
            .unwrap_or_else(|e| panic!("{e} (scripts/test.sh installs fonts-noto-cjk)"))
    })
}

fn meta() -> Meta {
    Meta {
        issuer: "鼓楼区文明办".into(),
        generated_at: Utc.with_ymd_and_hms(2026, 11, 30, 2, 0, 0).unwrap(),
        tz: FixedOffset::east_opt(8 * 3600).unwrap(),
    }
}

/// Runs a poppler tool on the PDF and returns what it printed.
fn poppler(tool: &str, args: &[&str], pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.pdf");
    std::fs::write(&path, pdf).unwrap();
    let mut cmd = Command::new(tool);
    cmd.args(args).arg(&path);
    if tool == "pdftotext" {
        cmd.arg("-");
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{tool} (poppler-utils) did not run: {e}"));
    assert!(
        out.status.success(),
        "{tool}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn text(pdf: &[u8]) -> String {
    poppler("pdftotext", &["-layout", "-enc", "UTF-8"], pdf)
}

/// A line of the text holding every one of `cells`, in that order.
fn row<'a>(text: &'a str, cells: &[&str]) -> Option<&'a str> {
    text.lines().find(|l| {
        let mut rest = *l;
        cells.iter().all(|c| match rest.find(c) {
            Some(i) => {
                rest = &rest[i + c.len()..];
                true
            }
            None => false,
        })
    })
}

fn jpeg(w: u16, h: u16, shade: u8) -> Vec<u8> {
    let pixels: Vec<u8> = (0..usize::from(w) * usize::from(h))
        .flat_map(|i| [shade, (i % 251) as u8, 255 - shade])
        .collect();
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 85)
        .encode(&pixels, w, h, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    out
}

fn at(day: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, h, 0, 0).unwrap()
}

fn sheet(code: &str, description: &str, shade: u8) -> CaseSheet {
    CaseSheet {
        code: code.into(),
        found_at: Some(at(23, 1)),
        place: "鼓楼农贸市场 / 东街 12 号".into(),
        area: "鼓楼区 / 东街街道 / 花园社区".into(),
        category: "市容环境 / 暴露垃圾".into(),
        item: "市场周边无暴露垃圾".into(),
        description: description.into(),
        before: vec![jpeg(64, 48, shade)],
        after: vec![jpeg(64, 48, shade + 100)],
        unit: "东街街道办事处".into(),
        dispatched_at: Some(at(23, 2)),
        deadline: Some(at(23, 6)),
        status: "已结案".into(),
        rectification: "已清运垃圾并增设垃圾桶".into(),
        verifier: "王核查".into(),
        timeline: vec![
            TimelineEntry {
                at: at(23, 1),
                what: "上报".into(),
                who: "李志愿".into(),
                note: String::new(),
            },
            TimelineEntry {
                at: at(23, 2),
                what: "派遣".into(),
                who: "张办公室".into(),
                note: "请尽快处理".into(),
            },
        ],
    }
}

#[test]
fn case_sheets_print_every_field_photo_and_the_timeline_one_per_page() {
    let hostile = "垃圾堆放 #let x = 1 *粗体* $x^2$ <lbl> @ref [链接](http://x) \\ 未清理";
    let pdf = case_sheets(
        fonts(),
        &meta(),
        &[
            sheet("GL-20261123-K7Q2-0007", hostile, 10),
            sheet("GL-20261123-K7Q2-0008", "第二件：路面破损", 50),
        ],
    )
    .unwrap();
    let t = text(&pdf);
    for s in [
        "整改通知单",
        "GL-20261123-K7Q2-0007",
        "GL-20261123-K7Q2-0008",
        "鼓楼农贸市场 / 东街 12 号",
        "鼓楼区 / 东街街道 / 花园社区",
        "市容环境 / 暴露垃圾",
        "市场周边无暴露垃圾",
        "东街街道办事处",
        "已清运垃圾并增设垃圾桶",
        "王核查",
        "处理过程",
        "请尽快处理",
        "第二件：路面破损",
    ] {
        assert!(t.contains(s), "{s:?} missing from:\n{t}");
    }
    // The description is text, never markup: every character is printed as given.
    assert!(
        t.contains("#let x = 1 *粗体* $x^2$ <lbl> @ref"),
        "markup was interpreted:\n{t}"
    );
    // Times in the city's clock (UTC+8).
    assert!(
        row(&t, &["发现时间", "2026-11-23 09:00", "责任单位"]).is_some(),
        "{t}"
    );
    assert!(
        row(&t, &["2026-11-23 10:00", "派遣", "张办公室", "请尽快处理"]).is_some(),
        "{t}"
    );
    // One sheet a page: two problems, two pages (form feeds between pages).
    assert_eq!(t.matches('\u{c}').count(), 2, "{t}");
    // Before and after photos of both sheets are pictures in the file.
    let images = poppler("pdfimages", &["-list"], &pdf);
    assert_eq!(images.lines().skip(2).count(), 4, "{images}");
}

fn tally(assigned: u64, rectified: u64, closed: u64, on_time: u64, overdue: u64) -> PeriodTally {
    PeriodTally {
        tally: UnitTally {
            assigned,
            rectified,
            closed,
            closed_on_time: on_time,
            overdue_open: overdue,
            reworked: 0,
        },
        due: assigned - 1,
    }
}

fn bulletin_data() -> Bulletin {
    Bulletin {
        period: BulletinPeriod::Week,
        from: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        to: NaiveDate::from_ymd_opt(2026, 11, 29).unwrap(),
        reported: 57,
        filed: 51,
        units: vec![
            UnitLine {
                id: "unit-b".into(),
                name: "城管执法局".into(),
                tally: tally(10, 5, 4, 3, 2),
            },
            UnitLine {
                id: "unit-a".into(),
                name: "东街街道办事处".into(),
                tally: tally(20, 18, 16, 15, 0),
            },
            UnitLine {
                id: "unit-c".into(),
                name: "市政公司".into(),
                tally: tally(8, 6, 6, 6, 1),
            },
        ],
        categories: vec![
            Count {
                name: "市容环境 / 暴露垃圾".into(),
                count: 19,
            },
            Count {
                name: "交通秩序 / 违规停车".into(),
                count: 7,
            },
        ],
        points: vec![Count {
            name: "鼓楼农贸市场".into(),
            count: 9,
        }],
        overdue: vec![OverdueLine {
            code: "GL-20261120-AB12-0003".into(),
            unit: "城管执法局".into(),
            category: "市容环境 / 暴露垃圾".into(),
            place: "东街 12 号".into(),
            deadline: meta().generated_at - Duration::hours(36),
        }],
        overdue_total: 3,
    }
}

#[test]
fn the_bulletin_prints_totals_ranking_chart_and_lists_with_a_subset_font() {
    let pdf = bulletin(fonts(), &meta(), &bulletin_data()).unwrap();
    let t = text(&pdf);
    for s in [
        "鼓楼区文明办周通报",
        "统计周期：2026-11-23 至 2026-11-29",
        "总体情况",
        "责任单位排名",
        "整改率对比",
        "高发问题类别与点位",
        "超期未办问题（共 3 件）",
        "GL-20261120-AB12-0003",
        "仅列出最早到期的 1 件",
    ] {
        assert!(t.contains(s), "{s:?} missing from:\n{t}");
    }
    // Totals: 受理 57, 立案 51, then the units' sums: 38 received, 35 due, 26 closed, 24 on
    // time; 结案率 26/38, 按期结案率 24/38.
    assert!(
        row(&t, &["57", "51", "38", "35", "26", "24", "68.4%", "63.2%"]).is_some(),
        "{t}"
    );
    // Ranked by the domain's order: 90 % first, then 75 %, then 50 %.
    assert!(
        row(
            &t,
            &[
                "1",
                "东街街道办事处",
                "20",
                "19",
                "18",
                "16",
                "15",
                "0",
                "90.0%",
                "75.0%"
            ]
        )
        .is_some(),
        "{t}"
    );
    assert!(
        row(
            &t,
            &["2", "市政公司", "8", "7", "6", "6", "6", "1", "75.0%"]
        )
        .is_some(),
        "{t}"
    );
    assert!(
        row(
            &t,
            &["3", "城管执法局", "10", "9", "5", "4", "3", "2", "50.0%"]
        )
        .is_some(),
        "{t}"
    );
    assert!(row(&t, &["表现最好", "东街街道办事处"]).is_some(), "{t}");
    assert!(row(&t, &["表现最差", "城管执法局"]).is_some(), "{t}");
    assert!(
        row(&t, &["1", "市容环境 / 暴露垃圾", "19"]).is_some(),
        "{t}"
    );
    assert!(row(&t, &["鼓楼农贸市场", "9"]).is_some(), "{t}");
    assert!(
        row(&t, &["GL-20261120-AB12-0003", "城管执法局", "1.5"]).is_some(),
        "{t}"
    );
    // The font is subset into the file (poppler marks a subset with a six-letter prefix).
    let fonts_list = poppler("pdffonts", &[], &pdf);
    assert!(
        fonts_list
            .lines()
            .skip(2)
            .all(|l| l.split('+').next().is_some_and(|p| p.len() == 6) && l.contains(" yes ")),
        "{fonts_list}"
    );
    assert!(pdf.len() < 1_000_000, "{} bytes", pdf.len());
}

#[test]
fn an_empty_period_still_makes_a_bulletin() {
    let mut b = bulletin_data();
    b.units.clear();
    b.overdue.clear();
    b.overdue_total = 0;
    b.categories.clear();
    b.points.clear();
    b.period = BulletinPeriod::Month;
    let t = text(&bulletin(fonts(), &meta(), &b).unwrap());
    assert!(t.contains("鼓楼区文明办月通报"), "{t}");
    assert!(t.contains("本期没有派遣给责任单位的问题"), "{t}");
    assert!(
        row(&t, &["57", "51", "0", "0", "0", "0", "0.0%", "0.0%"]).is_some(),
        "{t}"
    );
}

#[test]
fn the_compliance_list_groups_points_and_judges_them_by_the_domain_rule() {
    let line = |t, d: &str, name: &str, score, open| PointLine {
        point_type: t,
        district: d.into(),
        name: name.into(),
        address: format!("{name}地址"),
        last_score: score,
        last_inspected_at: score.map(|_| at(20, 3)),
        open_problems: open,
    };
    let list = ComplianceList {
        points: vec![
            line(
                PointType::FarmersMarket,
                "东街街道",
                "鼓楼农贸市场",
                Some(95.0),
                0,
            ),
            line(
                PointType::FarmersMarket,
                "东街街道",
                "南门菜市场",
                Some(96.5),
                2,
            ),
            line(
                PointType::FarmersMarket,
                "西湖街道",
                "西湖菜市场",
                Some(80.0),
                0,
            ),
            line(PointType::MainRoad, "东街街道", "东街主干道", None, 0),
        ],
    };
    let t = text(&point_compliance(fonts(), &meta(), &list).unwrap());
    for s in [
        "点位达标清单",
        "点位 4 个，达标 1 个，未达标 2 个，未测评 1 个，达标率 25.0%",
        "不低于 90 分",
    ] {
        assert!(t.contains(s), "{s:?} missing from:\n{t}");
    }
    assert!(
        row(&t, &["鼓楼农贸市场", "2026-11-20", "95.0", "0", "达标"]).is_some(),
        "{t}"
    );
    assert!(
        row(&t, &["南门菜市场", "96.5", "2", "未达标"]).is_some(),
        "{t}"
    );
    assert!(
        row(&t, &["西湖菜市场", "80.0", "0", "未达标"]).is_some(),
        "{t}"
    );
    assert!(row(&t, &["东街主干道", "0", "未测评"]).is_some(), "{t}");
    // Grouped by type (the domain's order: main roads before markets), then district.
    let farmers = PointType::FarmersMarket.label(Lang::Zh);
    let main = PointType::MainRoad.label(Lang::Zh);
    let g1 = t.find(&format!("{main} · 东街街道（1 个点位，达标 0 个）"));
    let g2 = t.find(&format!("{farmers} · 东街街道（2 个点位，达标 1 个）"));
    let g3 = t.find(&format!("{farmers} · 西湖街道（1 个点位，达标 0 个）"));
    assert!(g1.is_some() && g2.is_some() && g3.is_some(), "{t}");
    assert!(g1 < g2 && g2 < g3, "{t}");
}

#[test]
fn without_a_cjk_font_the_error_says_what_to_install() {
    let empty = tempfile::tempdir().unwrap();
    let e = Fonts::load(&[empty.path()]).unwrap_err();
    assert_eq!(e.code(), "report_no_cjk_font");
    let msg = e.to_string();
    assert!(
        msg.contains("fonts-noto-cjk") && msg.contains("report_font_dirs"),
        "{msg}"
    );
    assert!(msg.contains(&empty.path().display().to_string()), "{msg}");
}

#[test]
fn the_noto_cjk_collection_is_found_with_every_face() {
    let f = fonts();
    assert_eq!(f.family(), "Noto Sans CJK SC", "{f:?}");
    // Regular and Bold collections, each several faces (SC, TC, JP, KR, HK and their mono).
    assert!(f.slots_len() >= 10, "{f:?}");
}
