//! What offices actually hand over: Chinese headers in their own order, BOMs, GBK, numbers
//! typed into id columns, Chinese sheet names, labels instead of codes.

mod common;

use std::path::Path;

use chrono::{NaiveDate, NaiveTime};
use common::{XCell, fixture, only, srow, xlsx};
use fieldcheck_domain::category::DeadlineUnit;
use fieldcheck_domain::checklist::{Comparison, ItemKind};
use fieldcheck_domain::reference::{DistrictLevel, LatLon, PointType, UnitKind};
use fieldcheck_domain::role::Role;
use fieldcheck_refdata::{Format, Kind, kind_from_path, read, read_bytes, write_bytes};

const POINTS_ZH: &str = "\
名称,编号,类型,纬度,经度,地址,所属区域,属地单位,行业单位,启用,线路
南后街,p-1,背街小巷,26.08,119.29,南街街道,c-tx,u-c-tx,u-zfj；u-hwc,是,\"26.081,119.2914;26.0828,119.2915\"
东街口,p-2,交通路口,26.09,119.30,,c-dj,,\"u-jj, u-zfj\",否,
";

fn csv(text: &str, kind: Kind) -> fieldcheck_refdata::ReferenceBundle {
    read_bytes(text.as_bytes(), Format::Csv, Some(kind)).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn chinese_headers_in_any_order_with_chinese_values() {
    let b = csv(POINTS_ZH, Kind::Points);
    assert_eq!(b.points.len(), 2);
    let p = &b.points[0];
    assert_eq!((p.id.as_str(), p.name.as_str()), ("p-1", "南后街"));
    assert_eq!(p.point_type, PointType::BackAlley);
    assert_eq!(
        p.location,
        LatLon {
            lat: 26.08,
            lon: 119.29
        }
    );
    assert_eq!(p.sector_unit_ids, ["u-zfj", "u-hwc"]);
    assert_eq!(p.line.len(), 2);
    assert!(p.active);
    let q = &b.points[1];
    assert_eq!(q.point_type, PointType::Intersection);
    assert_eq!(q.sector_unit_ids, ["u-jj", "u-zfj"]);
    assert_eq!(q.territorial_unit_id, None);
    assert_eq!(q.address, "");
    assert!(!q.active);
}

#[test]
fn chinese_labels_for_every_enum() {
    let b = csv(
        "编号,名称,层级,上级编号\nd,鼓楼区,区,\ns,东街街道,街道,d\nc,南门社区,社区,s\n",
        Kind::Districts,
    );
    let levels: Vec<_> = b.districts.iter().map(|d| d.level).collect();
    assert_eq!(
        levels,
        [
            DistrictLevel::District,
            DistrictLevel::Street,
            DistrictLevel::Community
        ]
    );

    let b = csv(
        "编号,名称,类型\nu1,鼓楼交警大队,交警大队\nu2,某单位,Market regulation\n",
        Kind::Units,
    );
    assert_eq!(b.units[0].kind, UnitKind::TrafficPolice);
    assert_eq!(b.units[1].kind, UnitKind::MarketRegulation);

    let b = csv(
        "编号,姓名,角色,负责区域\na,林,创城办,\nb,黄,巡查员,d1、d2\nc,陈,责任单位,\nd,王,志愿者,\n",
        Kind::Users,
    );
    let roles: Vec<_> = b.users.iter().map(|u| u.role).collect();
    assert_eq!(
        roles,
        [
            Role::Admin,
            Role::Inspector,
            Role::UnitHandler,
            Role::Volunteer
        ]
    );
    assert_eq!(b.users[1].district_ids, ["d1", "d2"]);

    let b = csv(
        "编码,大类编码,大类,小类,处置时限,时限单位,立案条件\nSR-1,SR,市容环境,暴露垃圾,4,工作小时,有垃圾\n",
        Kind::Categories,
    );
    let c = &b.categories[0];
    assert_eq!(c.deadline.unit, DeadlineUnit::WorkingHours);
    assert_eq!(c.filing_condition.zh, "有垃圾");
}

#[test]
fn template_rows_group_into_templates_in_order_with_blank_repeats() {
    let text = "\
检查表编号,版本,点位类型,检查表名称,条目编号,检查内容,评分方式,分值,每处扣分,扣分上限,标准值,比较,计量单位,不合格须拍照,问题分类
t-m,2,农贸市场,农贸市场标准,a,地面干净,是否,10,,,,,,是,SR-02
t-m,,,,b,暴露垃圾,计数扣分,8,2,8,,,,,
t-a,,背街小巷,背街标准,x,路面平整,pass_fail,5,,,,,,0,
t-m,2,,,c,公益广告,测量值,5,,,5,不少于,处,,
";
    let b = csv(text, Kind::Templates);
    assert_eq!(b.templates.len(), 2);
    let m = &b.templates[0];
    assert_eq!((m.id.as_str(), m.version), ("t-m", 2));
    assert_eq!(m.point_type, PointType::FarmersMarket);
    let ids: Vec<_> = m.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["a", "b", "c"]);
    assert!(m.items[0].photo_required_on_fail);
    assert_eq!(m.items[0].category.as_deref(), Some("SR-02"));
    assert_eq!(
        m.items[1].kind,
        ItemKind::Count {
            deduction: 2.0,
            cap: 8.0
        }
    );
    assert_eq!(
        m.items[2].kind,
        ItemKind::Measured {
            threshold: 5.0,
            comparison: Comparison::AtLeast,
            unit: "处".into()
        }
    );
    // No version column value: version 1.
    assert_eq!(
        (b.templates[1].id.as_str(), b.templates[1].version),
        ("t-a", 1)
    );
}

#[test]
fn a_list_of_holidays_alone_is_a_calendar_with_office_defaults() {
    let b = csv(
        "日期,类型\n2026-10-01,节假日\n2026/10/2,休\n2026-09-27,调休上班\n",
        Kind::Calendar,
    );
    let c = b.calendar.unwrap();
    assert_eq!(
        c.holidays,
        [
            NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
            NaiveDate::from_ymd_opt(2026, 10, 2).unwrap()
        ]
    );
    assert_eq!(
        c.extra_working_days,
        [NaiveDate::from_ymd_opt(2026, 9, 27).unwrap()]
    );
    let default = fieldcheck_domain::calendar::WorkCalendar::default();
    assert_eq!(
        (c.periods, c.working_weekdays, c.utc_offset_minutes),
        (
            default.periods,
            default.working_weekdays,
            default.utc_offset_minutes
        )
    );

    let b = csv(
        "type,value\nperiod,09:00-12:00\nperiod,13:00~17:00\nweekdays,1-6\n",
        Kind::Calendar,
    );
    let c = b.calendar.unwrap();
    assert_eq!(c.working_weekdays, [1, 2, 3, 4, 5, 6]);
    assert_eq!(c.periods[1].end, NaiveTime::from_hms_opt(17, 0, 0).unwrap());
    // Photos are stamped unless the sheet switches it off (in its Chinese words too).
    assert!(c.photo_stamp);
    let b = csv("类型,值\n照片水印,否\n", Kind::Calendar);
    assert!(!b.calendar.unwrap().photo_stamp);
}

#[test]
fn utf8_bom_is_ignored() {
    let mut bytes = b"\xef\xbb\xbf".to_vec();
    bytes.extend_from_slice(POINTS_ZH.as_bytes());
    let b = read_bytes(&bytes, Format::Csv, Some(Kind::Points)).unwrap();
    assert_eq!(b, csv(POINTS_ZH, Kind::Points));
}

#[test]
fn gbk_csv_from_chinese_excel_is_decoded() {
    let (gbk, _, lossy) = encoding_rs::GBK.encode(POINTS_ZH);
    assert!(!lossy);
    assert!(
        std::str::from_utf8(&gbk).is_err(),
        "the fixture must really be GBK"
    );
    let b = read_bytes(&gbk, Format::Csv, Some(Kind::Points)).unwrap();
    assert_eq!(b, csv(POINTS_ZH, Kind::Points));
    assert_eq!(b.points[0].name, "南后街");
}

#[test]
fn utf16_tab_separated_and_semicolon_separated_text_are_read() {
    // Excel's "Unicode text" export: UTF-16LE with a BOM, tab-separated.
    let tabbed = "编号\t姓名\t角色\t负责区域\nu1\t林晓峰\t巡查员\t\"d1,d2\"\n";
    let mut utf16 = vec![0xff, 0xfe];
    for unit in tabbed.encode_utf16() {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    let b = read_bytes(&utf16, Format::Csv, Some(Kind::Users)).unwrap();
    assert_eq!(b.users[0].name, "林晓峰");
    assert_eq!(b.users[0].district_ids, ["d1", "d2"]);

    let semi = "id;name;role\nu1;林;admin\n";
    assert_eq!(csv(semi, Kind::Users).users[0].role, Role::Admin);
}

#[test]
fn headers_ignore_case_spacing_and_blank_rows() {
    let b = csv(
        "  ID , Name ZH ,KIND\n\n,,\nu1, 交警 ,traffic_police\n",
        Kind::Units,
    );
    assert_eq!(b.units.len(), 1);
    assert_eq!(b.units[0].name.zh, "交警");
}

#[test]
fn a_street_given_only_as_a_line_is_located_at_its_middle_vertex() {
    let b = csv(
        "id,name,type,lat,lon,district_id,line\ns,街,main_road,,,d,\"1,1;2,2;3,3\"\n",
        Kind::Points,
    );
    assert_eq!(b.points[0].location, LatLon { lat: 2.0, lon: 2.0 });
}

#[test]
fn xlsx_numbers_in_id_columns_become_plain_ids() {
    let bytes = xlsx(&[(
        "点位",
        vec![
            srow(&[
                "编号",
                "名称",
                "类型",
                "纬度",
                "经度",
                "所属区域",
                "启用",
                "行业单位",
            ]),
            vec![
                XCell::N(1001.0),
                XCell::S("东街口"),
                XCell::S("交通路口"),
                XCell::N(26.0871),
                XCell::N(119.3012),
                XCell::N(350102.0),
                XCell::B(true),
                XCell::N(42.0),
            ],
            vec![XCell::Blank; 8],
            vec![
                XCell::N(1002.0),
                XCell::S("南后街"),
                XCell::S("back_alley"),
                XCell::N(26.0),
                XCell::N(119.0),
                XCell::S("c-tx"),
                XCell::N(0.0),
                XCell::Blank,
            ],
        ],
    )]);
    let b = read_bytes(&bytes, Format::Xlsx, None).unwrap();
    let ids: Vec<_> = b.points.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["1001", "1002"]);
    assert_eq!(b.points[0].district_id, "350102");
    assert_eq!(b.points[0].sector_unit_ids, ["42"]);
    assert_eq!(
        b.points[0].location,
        LatLon {
            lat: 26.0871,
            lon: 119.3012
        }
    );
    assert!(b.points[0].active);
    assert!(!b.points[1].active);
}

#[test]
fn xlsx_with_chinese_sheet_names_reads_into_one_bundle() {
    let f = fixture();
    let bytes = xlsx(&[
        (
            "区域",
            vec![
                srow(&["编号", "名称", "层级", "编号前缀"]),
                srow(&["gl", "鼓楼区", "区", "GL"]),
            ],
        ),
        (
            "用户",
            vec![
                srow(&["编号", "姓名", "角色", "电话"]),
                vec![
                    XCell::S("u1"),
                    XCell::S("林"),
                    XCell::S("巡查员"),
                    XCell::N(13905910101.0),
                ],
            ],
        ),
        (
            "工作日历",
            vec![
                srow(&["类型", "日期"]),
                vec![XCell::S("节假日"), XCell::Date(2026, 10, 1)],
            ],
        ),
        ("Sheet3", vec![]),
    ]);
    let b = read_bytes(&bytes, Format::Xlsx, None).unwrap();
    assert_eq!(b.districts[0].code_prefix.as_deref(), Some("GL"));
    assert_eq!(b.users[0].phone.as_deref(), Some("13905910101"));
    assert_eq!(
        b.calendar.unwrap().holidays,
        [NaiveDate::from_ymd_opt(2026, 10, 1).unwrap()]
    );
    assert!(b.points.is_empty() && f.points.len() == 2);
}

#[test]
fn xlsx_with_one_unnamed_sheet_takes_the_kind_from_the_argument_or_file_name() {
    let bytes = xlsx(&[(
        "Sheet1",
        vec![srow(&["id", "name", "role"]), srow(&["u1", "林", "admin"])],
    )]);
    assert_eq!(
        read_bytes(&bytes, Format::Xlsx, Some(Kind::Users))
            .unwrap()
            .users
            .len(),
        1
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("鼓楼区用户.xlsx");
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(read(&path, None).unwrap().users.len(), 1);
}

#[test]
fn kind_is_inferred_from_file_stem_or_folder() {
    let k = |p: &str| kind_from_path(Path::new(p));
    assert_eq!(k("points.csv"), Some(Kind::Points));
    assert_eq!(k("点位.csv"), Some(Kind::Points));
    assert_eq!(k("gulou-points-2026.csv"), Some(Kind::Points));
    assert_eq!(k("Districts.XLSX"), Some(Kind::Districts));
    assert_eq!(k("data/templates/back_alley.json"), Some(Kind::Templates));
    assert_eq!(k("单位点位.csv"), None);
    assert_eq!(k("export.csv"), None);
    assert_eq!(Kind::parse("问题分类"), Some(Kind::Categories));
    assert_eq!(Kind::parse("Checklists"), Some(Kind::Templates));
}

#[test]
fn json_array_or_record_takes_the_kind_from_the_name_and_a_bundle_filters_by_kind() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let arr = dir.path().join("users.json");
    std::fs::write(&arr, serde_json::to_vec(&f.users).unwrap()).unwrap();
    assert_eq!(read(&arr, None).unwrap(), only(&f, Kind::Users));

    let one = dir.path().join("templates").join("market.json");
    std::fs::create_dir(one.parent().unwrap()).unwrap();
    std::fs::write(&one, serde_json::to_vec(&f.templates[0]).unwrap()).unwrap();
    assert_eq!(
        read(&one, None).unwrap().templates,
        [f.templates[0].clone()]
    );

    let bundle = serde_json::to_vec(&f).unwrap();
    let b = read_bytes(&bundle, Format::Json, Some(Kind::Units)).unwrap();
    assert_eq!(b, only(&f, Kind::Units));
    assert_eq!(
        read_bytes(b"{}", Format::Json, None).unwrap(),
        Default::default()
    );
}

#[test]
fn format_comes_from_the_extension() {
    assert_eq!(
        Format::from_path(Path::new("a.JSON")).unwrap(),
        Format::Json
    );
    assert_eq!(Format::from_path(Path::new("a.csv")).unwrap(), Format::Csv);
    assert_eq!(
        Format::from_path(Path::new("a.xlsx")).unwrap(),
        Format::Xlsx
    );
    for bad in ["a.xls", "a.txt", "a"] {
        let e = Format::from_path(Path::new(bad)).unwrap_err();
        assert_eq!(e.code(), "refdata_unsupported_format", "{bad}");
    }
}

#[test]
fn csv_written_for_one_kind_reads_back_with_chinese_headers_too() {
    // Offices rename English headers to Chinese ones; the data must still load.
    let f = fixture();
    let bytes = write_bytes(&f, Format::Csv, Some(Kind::Units)).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let (header, body) = text.split_once('\n').unwrap();
    assert!(header.starts_with("\u{feff}id,name_zh"));
    let zh_header: Vec<&str> = Kind::Units.columns().iter().map(|c| c.zh).collect();
    let renamed = format!("{}\n{body}", zh_header.join(","));
    assert_eq!(csv(&renamed, Kind::Units), only(&f, Kind::Units));
}
