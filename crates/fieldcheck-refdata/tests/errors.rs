//! Every bad input is a clear error with a stable code and the place to fix it; none panics.

mod common;

use common::{XCell, assert_err, fixture, srow, xlsx};
use fieldcheck_refdata::{Format, Kind, RefDataError, read, read_bytes, write_bytes};

fn csv(text: &str, kind: Kind) -> Result<fieldcheck_refdata::ReferenceBundle, RefDataError> {
    read_bytes(text.as_bytes(), Format::Csv, Some(kind))
}

fn write_file(name: &str, bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

#[test]
fn bad_enum_value_names_file_row_column_and_the_accepted_values() {
    let (_dir, path) = write_file(
        "points.csv",
        "编号,名称,类型,纬度,经度,所属区域\np1,南后街,背街小巷,26,119,d\np2,东门菜场,菜场,26,119,d\n"
            .as_bytes(),
    );
    let err = read(&path, None).unwrap_err();
    assert_eq!(err.code(), "refdata_bad_value");
    let msg = err.to_string();
    let expected_start = format!(
        "{} row 3, column \"类型\": unknown point type \"菜场\" (expected one of main_road/主干道, secondary_road/次干道,",
        path.display()
    );
    assert!(msg.starts_with(&expected_start), "{msg}");
    assert!(msg.contains("farmers_market/农贸市场"), "{msg}");
    let at = err.location();
    assert_eq!((at.row, at.column.as_deref()), (Some(3), Some("类型")));
    assert_eq!(at.sheet, None);
}

#[test]
fn bad_numbers_and_coordinates() {
    let head = "id,name,type,lat,lon,district_id\n";
    assert_err(
        csv(
            &format!("{head}p1,a,main_road,北纬26,119,d\n"),
            Kind::Points,
        ),
        "refdata_bad_value",
        &["row 2, column \"lat\"", "expected a number", "北纬26"],
    );
    assert_err(
        csv(&format!("{head}p1,a,main_road,96,119,d\n"), Kind::Points),
        "refdata_bad_value",
        &["row 2, column \"lat\"", "latitude -90..90"],
    );
    assert_err(
        csv(&format!("{head}p1,a,main_road,26,NaN,d\n"), Kind::Points),
        "refdata_bad_value",
        &["column \"lon\"", "expected a number"],
    );
    assert_err(
        csv(
            &format!("{head}p1,a,main_road,,,d\n")
                .replace("district_id", "district_id,line")
                .replace(",d\n", ",d,\"26,119;abc\"\n"),
            Kind::Points,
        ),
        "refdata_bad_value",
        &["column \"line\"", "vertex 2"],
    );
    assert_err(
        csv(
            "code,major_code,major_zh,minor_zh,deadline_amount,deadline_unit\nA-1,A,大,小,4.5,working_days\n",
            Kind::Categories,
        ),
        "refdata_bad_value",
        &["row 2, column \"deadline_amount\"", "whole number"],
    );
    assert_err(
        csv(
            "id,name,type,lat,lon,district_id,active\np,a,main_road,1,1,d,maybe\n",
            Kind::Points,
        ),
        "refdata_bad_value",
        &[
            "column \"active\"",
            "unknown yes/no value \"maybe\"",
            "1/是",
            "0/否",
        ],
    );
}

#[test]
fn unknown_columns_are_named_with_the_accepted_titles() {
    let err = csv("id,nmae,role,foo\nu1,a,admin,x\n", Kind::Users).unwrap_err();
    assert_eq!(err.code(), "refdata_unknown_column");
    let msg = err.to_string();
    assert!(msg.contains("row 1"), "{msg}");
    assert!(msg.contains("unknown columns \"nmae\", \"foo\""), "{msg}");
    assert!(msg.contains("name|姓名"), "{msg}");
    match err {
        RefDataError::UnknownColumn { columns, .. } => assert_eq!(columns, ["nmae", "foo"]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn missing_required_columns_are_named() {
    let err = csv(
        "编号,名称,类型,经度,所属区域\np,a,main_road,1,d\n",
        Kind::Points,
    )
    .unwrap_err();
    assert_eq!(err.code(), "refdata_missing_column");
    assert!(
        err.to_string()
            .contains("missing required column \"lat\" (纬度)"),
        "{err}"
    );
    match err {
        RefDataError::MissingColumn { columns, .. } => assert_eq!(columns, ["lat"]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_same_column_twice_is_refused() {
    assert_err(
        csv("id,name,名称,role\nu,a,b,admin\n", Kind::Users),
        "refdata_duplicate_column",
        &["\"name\"", "\"名称\""],
    );
}

#[test]
fn values_outside_titled_columns_are_refused() {
    assert_err(
        csv("id,name,role\nu1,a,admin\nu2,b,admin,stray\n", Kind::Users),
        "refdata_unknown_column",
        &["row 3", "\"stray\"", "column D", "no column title"],
    );
}

#[test]
fn required_values_and_duplicate_ids() {
    assert_err(
        csv("id,name,role\nu1,a,admin\n,b,admin\n", Kind::Users),
        "refdata_bad_value",
        &["row 3, column \"id\"", "a value is required"],
    );
    assert_err(
        csv(
            "id,name,role\nu1,a,admin\nu2,b,admin\nu1,c,admin\n",
            Kind::Users,
        ),
        "refdata_bad_value",
        &[
            "row 4, column \"id\"",
            "\"u1\" appears again (first on row 2)",
        ],
    );
}

#[test]
fn row_numbers_count_a_multi_line_cell_as_one_row_and_blank_lines_as_rows() {
    let text = "id,name_zh,kind,contact\nu1,a,other,\"line one\nline two\"\n\nu2,b,nonsense,\n";
    assert_err(
        csv(text, Kind::Units),
        "refdata_bad_value",
        &[
            "row 4, column \"kind\"",
            "unknown unit kind \"nonsense\"",
            "traffic_police/交警大队",
        ],
    );
    // Excel on Windows ends lines with CRLF, inside quoted cells too.
    let crlf = text.replace('\n', "\r\n");
    assert_err(
        csv(&crlf, Kind::Units),
        "refdata_bad_value",
        &["row 4, column \"kind\""],
    );
    let last_without_newline = "id,name_zh,kind\r\n\r\n\r\nu2,b,nonsense";
    assert_err(
        csv(last_without_newline, Kind::Units),
        "refdata_bad_value",
        &["row 4, column \"kind\""],
    );
}

#[test]
fn template_rows_that_contradict_themselves() {
    let head = "template_id,version,point_type,template_name_zh,item_id,text_zh,kind,points,deduction,cap,threshold,comparison\n";
    assert_err(
        csv(
            &format!("{head}t,1,main_road,主干道,a,x,count,5,1,,,\n"),
            Kind::Templates,
        ),
        "refdata_bad_value",
        &["row 2, column \"cap\"", "a count item needs a value here"],
    );
    assert_err(
        csv(
            &format!("{head}t,1,main_road,主干道,a,x,pass_fail,5,,,3,\n"),
            Kind::Templates,
        ),
        "refdata_bad_value",
        &[
            "column \"threshold\"",
            "a pass_fail item takes no \"threshold\"",
        ],
    );
    assert_err(
        csv(
            &format!("{head}t,1,main_road,主干道,a,x,measured,5,,,3,about\n"),
            Kind::Templates,
        ),
        "refdata_bad_value",
        &["column \"comparison\"", "unknown comparison \"about\""],
    );
    assert_err(
        csv(
            &format!(
                "{head}t,1,main_road,主干道,a,x,pass_fail,5,,,,\nt,1,back_alley,,b,y,pass_fail,5,,,,\n"
            ),
            Kind::Templates,
        ),
        "refdata_bad_value",
        &[
            "row 3, column \"point_type\"",
            "differs from \"main_road\"",
            "row 2",
        ],
    );
    assert_err(
        csv(
            &format!("{head}t,1,main_road,主干道,a,x,pass_fail,5,,,,\nt,1,,,a,y,pass_fail,5,,,,\n"),
            Kind::Templates,
        ),
        "refdata_bad_value",
        &[
            "row 3, column \"item_id\"",
            "appears again (first on row 2)",
        ],
    );
    assert_err(
        csv(
            &format!("{head}t,1,main_road,主干道,,x,,,,,,\n"),
            Kind::Templates,
        ),
        "refdata_bad_value",
        &["column \"item_id\"", "\"text_zh\" but no item id"],
    );
}

#[test]
fn calendar_rows_are_checked() {
    assert_err(
        csv("type,date\nholiday,2026-13-01\n", Kind::Calendar),
        "refdata_bad_value",
        &["row 2, column \"date\"", "like 2026-10-01"],
    );
    assert_err(
        csv("type,value\nweekdays,1-5\nweekdays,1-6\n", Kind::Calendar),
        "refdata_bad_value",
        &["row 3, column \"type\"", "first on row 2"],
    );
    assert_err(
        csv("type,value\nperiod,8:30 to 12\n", Kind::Calendar),
        "refdata_bad_value",
        &["08:30-12:00"],
    );
    assert_err(
        csv(
            "type,value\nholiday,2026-10-01\nworkday,2026-10-01\n",
            Kind::Calendar,
        ),
        "refdata_bad_value",
        &["row 3", "appears again"],
    );
}

#[test]
fn empty_files_are_an_error_in_every_format() {
    for format in [Format::Json, Format::Csv, Format::Xlsx] {
        let r = read_bytes(b"", format, Some(Kind::Points));
        assert_err(r, "refdata_empty", &["empty"]);
    }
    assert_err(csv(" \r\n\n", Kind::Points), "refdata_empty", &["empty"]);
    assert_err(
        csv(",,,\n,,\n", Kind::Points),
        "refdata_empty",
        &["no header row", "id|编号"],
    );
    // A header alone is a valid, empty table.
    assert_eq!(
        csv("id,name,role\n", Kind::Users).unwrap(),
        Default::default()
    );
}

fn garbage(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.max(1);
    (0..len)
        .map(|_| {
            // xorshift: deterministic noise without a dependency.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn binary_garbage_is_refused_clearly() {
    let junk = garbage(4096, 7);
    assert_err(
        read_bytes(&junk, Format::Csv, Some(Kind::Points)),
        "refdata_parse",
        &["input.csv"],
    );
    assert_err(
        read_bytes(&junk, Format::Json, None),
        "refdata_parse",
        &["UTF-8"],
    );
    assert_err(
        read_bytes(&junk, Format::Xlsx, None),
        "refdata_parse",
        &["not an XLSX workbook"],
    );
    let mut zipish = b"PK\x03\x04".to_vec();
    zipish.extend(garbage(2048, 9));
    assert_err(
        read_bytes(&zipish, Format::Xlsx, None),
        "refdata_parse",
        &["XLSX"],
    );
    assert_err(
        read_bytes(
            b"id,name\x00\x01\x02,role\n",
            Format::Csv,
            Some(Kind::Users),
        ),
        "refdata_parse",
        &["binary"],
    );
    assert_err(
        read_bytes(
            b"id,name,role\nu1,\x81\x20,admin\n",
            Format::Csv,
            Some(Kind::Users),
        ),
        "refdata_parse",
        &["neither UTF-8 nor GBK"],
    );
}

#[test]
fn a_text_file_named_xlsx_and_a_workbook_named_csv_are_called_what_they_are() {
    let (_dir, path) = write_file("points.xlsx", "id,name\np1,a\n".as_bytes());
    assert_err(
        read(&path, None),
        "refdata_unsupported_format",
        &["points.xlsx", "text, not an XLSX workbook", ".csv"],
    );
    let workbook = write_bytes(&fixture(), Format::Xlsx, None).unwrap();
    assert_err(
        read_bytes(&workbook, Format::Csv, Some(Kind::Points)),
        "refdata_unsupported_format",
        &["Excel workbook (.xlsx), not CSV"],
    );
    assert_err(
        read_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", Format::Xlsx, None),
        "refdata_unsupported_format",
        &[".xls"],
    );
}

#[test]
fn xlsx_errors_name_the_sheet_row_and_column() {
    let bytes = xlsx(&[(
        "点位",
        vec![
            srow(&["编号", "名称", "类型", "纬度", "经度", "所属区域"]),
            srow(&["p1", "a", "main_road", "26", "119", "d"]),
            vec![XCell::Blank; 6],
            vec![
                XCell::S("p2"),
                XCell::S("b"),
                XCell::S("菜场"),
                XCell::N(26.0),
                XCell::N(119.0),
                XCell::S("d"),
            ],
        ],
    )]);
    let err = read_bytes(&bytes, Format::Xlsx, None).unwrap_err();
    assert_eq!(err.code(), "refdata_bad_value");
    assert!(
        err.to_string().starts_with(
            "input.xlsx sheet \"点位\" row 4, column \"类型\": unknown point type \"菜场\""
        ),
        "{err}"
    );
}

#[test]
fn xlsx_sheets_that_are_not_a_kind() {
    let users = || vec![srow(&["id", "name", "role"]), srow(&["u1", "a", "admin"])];
    let bytes = xlsx(&[("users", users()), ("点为", users())]);
    assert_err(
        read_bytes(&bytes, Format::Xlsx, None),
        "refdata_unknown_kind",
        &["sheet \"点为\" is not named after a kind", "points/点位"],
    );
    // Naming the kind reads that sheet and leaves the others alone.
    assert_eq!(
        read_bytes(&bytes, Format::Xlsx, Some(Kind::Users))
            .unwrap()
            .users
            .len(),
        1
    );
    assert_err(
        read_bytes(&bytes, Format::Xlsx, Some(Kind::Points)),
        "refdata_unknown_kind",
        &["no sheet is named points/点位", "\"users\", \"点为\""],
    );
    let bytes = xlsx(&[("users", users()), ("用户", users())]);
    assert_err(
        read_bytes(&bytes, Format::Xlsx, None),
        "refdata_unknown_kind",
        &["\"users\" and \"用户\" both hold users"],
    );
    // A lone sheet named after another kind is not read as the kind asked for.
    let bytes = xlsx(&[("users", users())]);
    assert_err(
        read_bytes(&bytes, Format::Xlsx, Some(Kind::Points)),
        "refdata_unknown_kind",
        &["no sheet is named points/点位"],
    );
    let bytes = xlsx(&[("Sheet1", users())]);
    assert_err(
        read_bytes(&bytes, Format::Xlsx, None),
        "refdata_unknown_kind",
        &["\"Sheet1\""],
    );
}

#[test]
fn csv_and_json_arrays_need_a_kind() {
    let (_dir, path) = write_file("export.csv", b"id,name,role\nu1,a,admin\n");
    assert_err(
        read(&path, None),
        "refdata_unknown_kind",
        &["export.csv", "points.csv", "users/用户"],
    );
    assert_err(
        read_bytes(b"[]", Format::Json, None),
        "refdata_unknown_kind",
        &["points.json"],
    );
    assert_err(
        read_bytes(b"{\"id\": \"x\"}", Format::Json, None),
        "refdata_unknown_kind",
        &["not a reference bundle"],
    );
}

#[test]
fn json_errors_give_line_and_column() {
    let text = "[\n  {\"id\": \"p1\", \"name\": \"a\", \"type\": \"菜场\",\n   \"location\": {\"lat\": 1, \"lon\": 1}, \"district_id\": \"d\"}\n]";
    assert_err(
        read_bytes(text.as_bytes(), Format::Json, Some(Kind::Points)),
        "refdata_parse",
        &[
            "input.json: line 2, column",
            "unknown variant `菜场`",
            "main_road",
        ],
    );
    assert_err(
        read_bytes(b"{\"points\": [], \"pionts\": []}", Format::Json, None),
        "refdata_unknown_column",
        &["unknown key \"pionts\""],
    );
    assert_err(
        read_bytes(b"{\"points\": [", Format::Json, None),
        "refdata_parse",
        &["line 1"],
    );
    assert_err(
        read_bytes(b"42", Format::Json, None),
        "refdata_parse",
        &["expected a JSON object"],
    );
}

#[test]
fn a_missing_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    assert_err(
        read(&dir.path().join("points.csv"), None),
        "refdata_io",
        &["points.csv"],
    );
}

/// Damaged copies of valid files and plain noise, in every format and kind: each must come
/// back as a value, never a panic.
#[test]
fn no_input_panics() {
    let bundle = fixture();
    let mut inputs: Vec<Vec<u8>> = (0..20)
        .map(|s| garbage(64 + s * 97, s as u64 + 1))
        .collect();
    for format in [Format::Json, Format::Csv, Format::Xlsx] {
        for kind in [Some(Kind::Templates), Some(Kind::Points), None] {
            if let Ok(valid) = write_bytes(&bundle, format, kind) {
                for seed in 0..25u64 {
                    let mut damaged = valid.clone();
                    let noise = garbage(8, seed + 100);
                    for (i, b) in noise.iter().enumerate() {
                        let at = (usize::from(*b) * 131 + i * 977 + seed as usize * 7919)
                            % damaged.len();
                        damaged[at] = damaged[at].wrapping_add(*b | 1);
                    }
                    inputs.push(damaged);
                    let cut = valid.len() * (seed as usize + 1) / 27;
                    inputs.push(valid[..cut].to_vec());
                }
            }
        }
    }
    for input in &inputs {
        for format in [Format::Json, Format::Csv, Format::Xlsx] {
            for kind in [
                None,
                Some(Kind::Points),
                Some(Kind::Templates),
                Some(Kind::Calendar),
            ] {
                let _ = read_bytes(input, format, kind);
            }
        }
    }
}
