#![allow(dead_code)] // each test file uses a different part of this module

use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveTime};
use fieldcheck_domain::calendar::{WorkCalendar, WorkPeriod};
use fieldcheck_domain::category::{Category, DeadlineRule, DeadlineUnit};
use fieldcheck_domain::checklist::{ChecklistItem, ChecklistTemplate, Comparison, ItemKind};
use fieldcheck_domain::i18n::Text;
use fieldcheck_domain::reference::{
    District, DistrictLevel, LatLon, Point, PointType, Unit, UnitKind, User,
};
use fieldcheck_domain::role::Role;
use fieldcheck_refdata::{Kind, RefDataError, ReferenceBundle};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A bundle that exercises every optional field, separator and awkward character the
/// tables must carry: commas, quotes and line breaks in text, leading zeros and numeric
/// ids, empty English, lines, several sector units, an inactive point, every item kind,
/// a template without items, and a calendar unlike the default.
pub fn fixture() -> ReferenceBundle {
    let ll = |lat, lon| LatLon { lat, lon };
    ReferenceBundle {
        districts: vec![
            District {
                id: "gl".into(),
                name: Text::new("鼓楼区", "Gulou District"),
                level: DistrictLevel::District,
                parent_id: None,
                code_prefix: Some("GL".into()),
            },
            District {
                id: "1001".into(),
                name: Text::new("东街街道", ""),
                level: DistrictLevel::Street,
                parent_id: Some("gl".into()),
                code_prefix: None,
            },
            District {
                id: "007".into(),
                name: Text::new("三坊七巷社区", "Sanfang Qixiang, \"old town\""),
                level: DistrictLevel::Community,
                parent_id: Some("1001".into()),
                code_prefix: None,
            },
        ],
        units: vec![
            Unit {
                id: "u-jj".into(),
                name: Text::new("鼓楼交警大队", "Gulou traffic police"),
                kind: UnitKind::TrafficPolice,
                district_id: Some("gl".into()),
                contact: Some("0591-87654321".into()),
                active: true,
            },
            Unit {
                id: "u-007".into(),
                name: Text::new("三坊七巷社区居委会", ""),
                kind: UnitKind::Community,
                district_id: None,
                contact: None,
                active: true,
            },
        ],
        points: vec![
            Point {
                id: "p-001".into(),
                name: "南后街".into(),
                point_type: PointType::BackAlley,
                location: ll(26.083_649, 119.291_547),
                line: vec![ll(26.081, 119.2914), ll(26.082_812_345_678_9, 119.2915)],
                address: "鼓楼区南街街道南后街（光禄坊至杨桥路段），近\"衣锦坊\"".into(),
                district_id: "007".into(),
                territorial_unit_id: Some("u-007".into()),
                sector_unit_ids: vec!["u-jj".into(), "u-zfj".into()],
                active: true,
            },
            Point {
                id: "1002".into(),
                name: "东街口".into(),
                point_type: PointType::Intersection,
                location: ll(-33.5, -70.25),
                line: vec![],
                address: String::new(),
                district_id: "1001".into(),
                territorial_unit_id: None,
                sector_unit_ids: vec![],
                active: false,
            },
        ],
        categories: vec![
            Category {
                code: "SR-02".into(),
                major_code: "SR".into(),
                major: Text::new("市容环境", "City appearance"),
                minor: Text::new("暴露垃圾", "Exposed garbage"),
                deadline: DeadlineRule {
                    amount: 4,
                    unit: DeadlineUnit::WorkingHours,
                },
                filing_condition: Text::new(
                    "主要街道有暴露垃圾，\n每处 1㎡ 以内计一处",
                    "Exposed garbage, counted per 1 m²",
                ),
                closing_condition: Text::default(),
            },
            Category {
                code: "TF-01".into(),
                major_code: "TF".into(),
                major: Text::new("突发事件", ""),
                minor: Text::new("道路塌陷", ""),
                deadline: DeadlineRule {
                    amount: 2,
                    unit: DeadlineUnit::NaturalHours,
                },
                filing_condition: Text::default(),
                closing_condition: Text::new("已修复", ""),
            },
        ],
        templates: vec![
            ChecklistTemplate {
                id: "tpl-market".into(),
                version: 3,
                point_type: PointType::FarmersMarket,
                name: Text::new("农贸市场测评标准", "Farmers' market checklist"),
                items: vec![
                    ChecklistItem {
                        id: "fm-01".into(),
                        text: Text::new("地面干净，无积水", "Floor clean, no standing water"),
                        kind: ItemKind::PassFail,
                        points: 10.0,
                        photo_required_on_fail: true,
                        category: Some("SR-02".into()),
                    },
                    ChecklistItem {
                        id: "fm-02".into(),
                        text: Text::new("暴露垃圾，每处扣 0.5 分", ""),
                        kind: ItemKind::Count {
                            deduction: 0.5,
                            cap: 7.5,
                        },
                        points: 7.5,
                        photo_required_on_fail: false,
                        category: None,
                    },
                    ChecklistItem {
                        id: "fm-03".into(),
                        text: Text::new("公益广告不少于 5 处", "At least 5 posters"),
                        kind: ItemKind::Measured {
                            threshold: 5.0,
                            comparison: Comparison::AtLeast,
                            unit: "处".into(),
                        },
                        points: 5.0,
                        photo_required_on_fail: true,
                        category: None,
                    },
                    ChecklistItem {
                        id: "fm-04".into(),
                        text: Text::new("噪声", "Noise"),
                        kind: ItemKind::Measured {
                            threshold: 70.25,
                            comparison: Comparison::AtMost,
                            unit: String::new(),
                        },
                        points: 2.5,
                        photo_required_on_fail: false,
                        category: None,
                    },
                ],
            },
            ChecklistTemplate {
                id: "tpl-market".into(),
                version: 4,
                point_type: PointType::FarmersMarket,
                name: Text::new("农贸市场测评标准（新）", ""),
                items: vec![],
            },
        ],
        users: vec![
            User {
                id: "usr-1".into(),
                name: "林晓峰".into(),
                role: Role::Admin,
                unit_id: None,
                district_ids: vec![],
                phone: Some("13905910101".into()),
            },
            User {
                id: "usr-2".into(),
                name: "黄志强".into(),
                role: Role::UnitHandler,
                unit_id: Some("u-jj".into()),
                district_ids: vec!["gl".into(), "1001".into()],
                phone: None,
            },
        ],
        calendar: Some(WorkCalendar {
            utc_offset_minutes: 480,
            periods: vec![
                WorkPeriod {
                    start: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
                    end: NaiveTime::from_hms_opt(12, 0, 0).unwrap(),
                },
                WorkPeriod {
                    start: NaiveTime::from_hms_opt(13, 30, 15).unwrap(),
                    end: NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
                },
            ],
            working_weekdays: vec![1, 2, 3, 4, 5, 6],
            holidays: vec![
                NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
                NaiveDate::from_ymd_opt(2026, 10, 2).unwrap(),
            ],
            extra_working_days: vec![NaiveDate::from_ymd_opt(2026, 9, 27).unwrap()],
            // Off, unlike the default, so a round trip that dropped the row would show.
            photo_stamp: false,
        }),
    }
}

/// The part of `b` that is `kind`.
pub fn only(b: &ReferenceBundle, kind: Kind) -> ReferenceBundle {
    let mut out = ReferenceBundle::default();
    match kind {
        Kind::Districts => out.districts = b.districts.clone(),
        Kind::Units => out.units = b.units.clone(),
        Kind::Points => out.points = b.points.clone(),
        Kind::Categories => out.categories = b.categories.clone(),
        Kind::Templates => out.templates = b.templates.clone(),
        Kind::Users => out.users = b.users.clone(),
        Kind::Calendar => out.calendar = b.calendar.clone(),
    }
    out
}

/// Asserts the error's code and that its message mentions every `needle`.
pub fn assert_err(result: Result<ReferenceBundle, RefDataError>, code: &str, needles: &[&str]) {
    let err = match result {
        Ok(b) => panic!("expected {code}, got a bundle: {b:?}"),
        Err(e) => e,
    };
    let msg = err.to_string();
    assert_eq!(err.code(), code, "wrong code for: {msg}");
    for n in needles {
        assert!(msg.contains(n), "message lacks {n:?}: {msg}");
    }
}

/// Writes an .xlsx whose sheets hold the given cells, for tests that need what an office
/// produces by hand (numbers in id columns, Chinese sheet names, stray sheets).
pub fn xlsx(sheets: &[(&str, Vec<Vec<XCell>>)]) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    for (name, rows) in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(*name).unwrap();
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let (r, c) = (r as u32, c as u16);
                match cell {
                    XCell::S(s) => {
                        ws.write_string(r, c, *s).unwrap();
                    }
                    XCell::N(n) => {
                        ws.write_number(r, c, *n).unwrap();
                    }
                    XCell::B(b) => {
                        ws.write_boolean(r, c, *b).unwrap();
                    }
                    XCell::Date(y, m, d) => {
                        let f = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
                        let date = rust_xlsxwriter::ExcelDateTime::from_ymd(*y, *m, *d).unwrap();
                        ws.write_datetime_with_format(r, c, &date, &f).unwrap();
                    }
                    XCell::Blank => {}
                }
            }
        }
    }
    wb.save_to_buffer().unwrap()
}

#[derive(Debug, Clone)]
pub enum XCell {
    S(&'static str),
    N(f64),
    B(bool),
    Date(u16, u8, u8),
    Blank,
}

/// Row helper: strings become text cells.
pub fn srow(cells: &[&'static str]) -> Vec<XCell> {
    cells.iter().map(|s| XCell::S(s)).collect()
}
