mod common;

use common::{fixture, only, repo_root};
use fieldcheck_domain::calendar::WorkCalendar;
use fieldcheck_refdata::{Format, Kind, ReferenceBundle, read, read_bytes, write, write_bytes};

const FORMATS: [Format; 3] = [Format::Json, Format::Csv, Format::Xlsx];

#[test]
fn every_kind_round_trips_through_every_format_by_file_name() {
    let bundle = fixture();
    let dir = tempfile::tempdir().unwrap();
    for kind in Kind::ALL {
        for format in FORMATS {
            // Named after the kind and read without naming it: the file name must suffice.
            let path = dir
                .path()
                .join(format!("{}.{}", kind.as_str(), format.extension()));
            write(&path, &bundle, Some(kind)).unwrap();
            let back = read(&path, None).unwrap_or_else(|e| panic!("{kind} {format:?}: {e}"));
            assert_eq!(back, only(&bundle, kind), "{kind} via {format:?}");
        }
    }
}

#[test]
fn every_kind_round_trips_through_bytes() {
    let bundle = fixture();
    for kind in Kind::ALL {
        for format in FORMATS {
            let bytes = write_bytes(&bundle, format, Some(kind)).unwrap();
            let back = read_bytes(&bytes, format, Some(kind))
                .unwrap_or_else(|e| panic!("{kind} {format:?}: {e}"));
            assert_eq!(back, only(&bundle, kind), "{kind} via {format:?}");
        }
    }
}

#[test]
fn whole_bundle_round_trips_through_json_and_xlsx() {
    let bundle = fixture();
    for format in [Format::Json, Format::Xlsx] {
        let bytes = write_bytes(&bundle, format, None).unwrap();
        let back = read_bytes(&bytes, format, None).unwrap();
        assert_eq!(back, bundle, "{format:?}");
        // One kind picked out of the whole file.
        let points = read_bytes(&bytes, format, Some(Kind::Points)).unwrap();
        assert_eq!(points, only(&bundle, Kind::Points), "{format:?}");
    }
}

#[test]
fn json_of_one_kind_is_an_array_and_of_all_a_bundle() {
    let bundle = fixture();
    let one: serde_json::Value =
        serde_json::from_slice(&write_bytes(&bundle, Format::Json, Some(Kind::Points)).unwrap())
            .unwrap();
    assert!(one.is_array());
    let all: serde_json::Value =
        serde_json::from_slice(&write_bytes(&bundle, Format::Json, None).unwrap()).unwrap();
    assert!(all.get("points").is_some() && all.get("calendar").is_some());
}

#[test]
fn xlsx_export_has_one_sheet_per_non_empty_kind() {
    let mut bundle = only(&fixture(), Kind::Points);
    bundle.users = fixture().users;
    let bytes = write_bytes(&bundle, Format::Xlsx, None).unwrap();
    let back = read_bytes(&bytes, Format::Xlsx, None).unwrap();
    assert_eq!(back, bundle);
    // Without a calendar sheet the calendar stays absent rather than becoming the default.
    assert!(back.calendar.is_none());
}

#[test]
fn an_empty_bundle_exports_as_a_blank_form_and_reads_back_empty() {
    let empty = ReferenceBundle::default();
    let bytes = write_bytes(&empty, Format::Xlsx, None).unwrap();
    assert_eq!(read_bytes(&bytes, Format::Xlsx, None).unwrap(), empty);
    for kind in Kind::ALL {
        for format in FORMATS {
            let bytes = write_bytes(&empty, format, Some(kind)).unwrap();
            let back = read_bytes(&bytes, format, Some(kind))
                .unwrap_or_else(|e| panic!("{kind} {format:?}: {e}"));
            assert_eq!(back, empty, "{kind} {format:?}");
        }
    }
}

#[test]
fn csv_without_a_kind_writes_the_only_kind_present() {
    let bundle = only(&fixture(), Kind::Units);
    let bytes = write_bytes(&bundle, Format::Csv, None).unwrap();
    assert_eq!(
        read_bytes(&bytes, Format::Csv, Some(Kind::Units)).unwrap(),
        bundle
    );
    let err = write_bytes(&fixture(), Format::Csv, None).unwrap_err();
    assert_eq!(err.code(), "refdata_unknown_kind");
}

#[test]
fn a_calendar_without_weekdays_or_with_default_settings_round_trips() {
    let mut bundle = ReferenceBundle {
        calendar: Some(WorkCalendar::default()),
        ..ReferenceBundle::default()
    };
    for format in FORMATS {
        let bytes = write_bytes(&bundle, format, Some(Kind::Calendar)).unwrap();
        assert_eq!(
            read_bytes(&bytes, format, Some(Kind::Calendar)).unwrap(),
            bundle
        );
    }
    if let Some(c) = bundle.calendar.as_mut() {
        c.working_weekdays.clear();
        c.utc_offset_minutes = -300;
    }
    for format in FORMATS {
        let bytes = write_bytes(&bundle, format, Some(Kind::Calendar)).unwrap();
        assert_eq!(
            read_bytes(&bytes, format, Some(Kind::Calendar)).unwrap(),
            bundle
        );
    }
}

#[test]
fn writing_replaces_the_file_and_leaves_no_temporary_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("points.csv");
    std::fs::write(&path, "old").unwrap();
    write(&path, &fixture(), None).unwrap();
    assert_eq!(read(&path, None).unwrap(), only(&fixture(), Kind::Points));
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("points.csv")]);
}

#[cfg(unix)]
#[test]
fn written_files_keep_the_replaced_files_mode_or_are_world_readable() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    // The temporary file starts private (0600); a new export must not stay that way.
    let new = dir.path().join("bundle.json");
    write(&new, &fixture(), None).unwrap();
    assert_eq!(mode(&new), 0o644);
    let existing = dir.path().join("users.csv");
    std::fs::write(&existing, "old").unwrap();
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o640)).unwrap();
    write(&existing, &fixture(), None).unwrap();
    assert_eq!(mode(&existing), 0o640);
}

/// The data FieldCheck ships: categories, default templates (one object per file) and the
/// demo city, through every format.
#[test]
fn shipped_data_round_trips_through_every_format() {
    let root = repo_root().join("data");
    let mut shipped = ReferenceBundle::default();
    let categories = read(&root.join("categories.json"), None).unwrap();
    assert!(!categories.categories.is_empty());
    shipped.categories = categories.categories;
    let mut templates: Vec<_> = std::fs::read_dir(root.join("templates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    templates.sort();
    for path in &templates {
        let one = read(path, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(one.templates.len(), 1, "{}", path.display());
        shipped.templates.extend(one.templates);
    }
    assert!(shipped.templates.len() >= 6);
    let demo = root.join("demo");
    if demo.is_dir() {
        for kind in [
            Kind::Districts,
            Kind::Units,
            Kind::Points,
            Kind::Users,
            Kind::Calendar,
        ] {
            let path = demo.join(format!("{}.json", kind.as_str()));
            if !path.exists() {
                continue;
            }
            let part = read(&path, None).unwrap_or_else(|e| panic!("{e}"));
            match kind {
                Kind::Districts => shipped.districts = part.districts,
                Kind::Units => shipped.units = part.units,
                Kind::Points => shipped.points = part.points,
                Kind::Users => shipped.users = part.users,
                Kind::Calendar => shipped.calendar = part.calendar,
                _ => {}
            }
        }
    }

    for format in [Format::Json, Format::Xlsx] {
        let bytes = write_bytes(&shipped, format, None).unwrap();
        let back = read_bytes(&bytes, format, None).unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert_eq!(back, shipped, "whole bundle via {format:?}");
    }
    for kind in Kind::ALL {
        for format in FORMATS {
            let bytes = write_bytes(&shipped, format, Some(kind)).unwrap();
            let back = read_bytes(&bytes, format, Some(kind))
                .unwrap_or_else(|e| panic!("{kind} {format:?}: {e}"));
            assert_eq!(back, only(&shipped, kind), "{kind} via {format:?}");
        }
    }
}
