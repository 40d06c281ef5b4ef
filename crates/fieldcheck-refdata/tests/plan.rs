//! What an import would do (`plan::plan_import`): the office's workbook round trip, partial
//! files, deactivation instead of deletion, and every row error collected with its place.

use fieldcheck_protocol::ReferenceBundle;
use fieldcheck_refdata::plan::plan_import;
use fieldcheck_refdata::{Format, Kind, read_bytes_report, workbook_zh};

fn demo() -> ReferenceBundle {
    fieldcheck_protocol::demo_bundle()
}

fn changes<'a>(
    plan: &'a fieldcheck_refdata::plan::ImportPlan,
    kind: &str,
) -> &'a fieldcheck_refdata::plan::KindChanges {
    plan.changes.iter().find(|c| c.kind == kind).unwrap()
}

#[test]
fn the_workbook_of_a_city_imports_back_without_a_change() {
    let city = demo();
    let bytes = workbook_zh(&city).unwrap();
    let report = read_bytes_report(&bytes, Format::Xlsx, None, Some("city.xlsx")).unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    // Every kind's sheet is there, the notes sheet is skipped.
    assert_eq!(report.sources.kinds.len(), Kind::ALL.len());
    let plan = plan_import(&city, &report);
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    assert!(!plan.changes_anything(), "{:?}", plan.changes);
    assert_eq!(plan.bundle, city);
    // Into an empty server: everything is added and holds together.
    let plan = plan_import(&ReferenceBundle::default(), &report);
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    assert_eq!(changes(&plan, "points").added.len(), city.points.len());
}

#[test]
fn the_template_holds_together_on_its_own() {
    let bytes = workbook_zh(&fieldcheck_refdata::example_bundle()).unwrap();
    let report = read_bytes_report(&bytes, Format::Xlsx, None, Some("t.xlsx")).unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let plan = plan_import(&ReferenceBundle::default(), &report);
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    assert_eq!(plan.bundle.points.len(), 1);
}

#[test]
fn points_left_out_are_deactivated_and_other_kinds_stay() {
    let city = demo();
    let mut only = ReferenceBundle {
        points: city.points[1..].to_vec(),
        ..ReferenceBundle::default()
    };
    only.points[0].name = "改名".into();
    let bytes = fieldcheck_refdata::write_bytes(&only, Format::Csv, Some(Kind::Points)).unwrap();
    let report = read_bytes_report(&bytes, Format::Csv, None, Some("点位.csv")).unwrap();
    let plan = plan_import(&city, &report);
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    assert_eq!(plan.changes.len(), 1);
    let c = changes(&plan, "points");
    assert_eq!(c.deactivated, vec![city.points[0].id.clone()]);
    assert_eq!(c.changed, vec![city.points[1].id.clone()]);
    assert_eq!(plan.bundle.points.len(), city.points.len());
    assert!(!plan.bundle.points[0].active);
    assert_eq!(plan.bundle.units, city.units);
    assert_eq!(plan.bundle.users, city.users);
}

#[test]
fn every_bad_row_is_reported_with_its_place_in_one_reading() {
    let csv = "编号,名称,类型,纬度,经度,所属区域\n\
               p1,东街,主干道,26.1,119.3,nowhere\n\
               p2,西街,主干道,abc,119.3,d-gl\n\
               p3,南街,火星路,26.1,119.3,d-gl\n\
               p1,北街,主干道,26.1,119.3,d-gl\n\
               p5,=cmd(),主干道,26.1,119.3,d-gl\n";
    let report = read_bytes_report(csv.as_bytes(), Format::Csv, None, Some("points.csv")).unwrap();
    assert_eq!(report.errors.len(), 3, "{:?}", report.errors);
    let plan = plan_import(&demo(), &report);
    let places: Vec<(Option<u64>, Option<String>, String)> = plan
        .errors
        .iter()
        .map(|e| (e.row, e.column.clone(), e.code.clone()))
        .collect();
    assert!(places.contains(&(Some(2), Some("所属区域".into()), "unknown_district".into())));
    assert!(places.contains(&(Some(3), Some("纬度".into()), "refdata_bad_value".into())));
    assert!(places.contains(&(Some(4), Some("类型".into()), "refdata_bad_value".into())));
    assert!(places.contains(&(Some(5), Some("编号".into()), "refdata_bad_value".into())));
    assert!(places.contains(&(Some(6), Some("名称".into()), "formula_text".into())));
    assert_eq!(plan.errors.len(), 5, "{places:?}");
}
