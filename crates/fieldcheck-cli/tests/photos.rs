//! Photos through the CLI: ingest on report, EXIF location when no GPS is given, after-photos
//! for rectification, the same photo stored once, corrupt files refused.

#[path = "../../fieldcheck-photo/tests/common/mod.rs"]
mod fixtures;

use std::path::Path;
use std::process::{Command, Output};

use fixtures::{LE, gps_entries, jpeg, quadrants, with_exif_jpeg};
use serde_json::Value;

fn run(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fieldcheck"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env("FIELDCHECK_NOW", "2026-11-23T02:00:00Z")
        .output()
        .unwrap()
}

fn ok_json(db: &Path, args: &[&str]) -> (Value, String) {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let o = run(db, &a);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    (
        serde_json::from_slice(&o.stdout).unwrap(),
        String::from_utf8(o.stderr).unwrap(),
    )
}

#[test]
fn photos_on_report_and_rectification() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.db");
    assert!(run(&db, &["demo"]).status.success());

    // A camera photo with GPS in its EXIF, 2000×1500.
    let tiff = LE.build(vec![], None, Some(gps_entries(&LE, 26.087_12, 119.305_44)));
    let before = with_exif_jpeg(&jpeg(&quadrants(2000, 1500), 90), &tiff);
    let before_path = dir.path().join("before.jpg");
    std::fs::write(&before_path, &before).unwrap();

    let (p, note) = ok_json(
        &db,
        &[
            "--as",
            "usr-vol-1",
            "problem",
            "add",
            "--category",
            "SR-02",
            "--description",
            "巷口暴露垃圾",
            "--photo",
            before_path.to_str().unwrap(),
        ],
    );
    // No GPS was given: the photo's EXIF position is used, and the CLI says so.
    assert_eq!(p["location"]["source"], "exif");
    assert!((p["location"]["lat"].as_f64().unwrap() - 26.087_12).abs() < 1e-5);
    assert!(note.contains("EXIF"), "{note}");
    let photos = p["photos"].as_array().unwrap();
    assert_eq!(photos.len(), 1);
    assert_eq!(photos[0]["role"], "before");
    let hash = photos[0]["hash"].as_str().unwrap().to_owned();

    // The display copy is on disk, 1600 px on the long edge, without metadata.
    let (shown, _) = ok_json(&db, &["photo", "show", &hash]);
    let display = std::fs::read(shown["display_path"].as_str().unwrap()).unwrap();
    let img = image::load_from_memory(&display).unwrap();
    assert_eq!((img.width(), img.height()), (1600, 1200));
    assert!(!display.windows(4).any(|w| w == b"Exif"));

    // The same photo again is stored once.
    let (again, _) = ok_json(&db, &["photo", "add", before_path.to_str().unwrap()]);
    assert_eq!(again[0]["hash"], hash.as_str());
    assert_eq!(again[0]["new"], false);

    // Through the loop to rectification with an after-photo.
    let code = p["code"].as_str().unwrap().to_owned();
    ok_json(&db, &["--as", "usr-admin-1", "problem", "file", &code]);
    ok_json(
        &db,
        &[
            "--as",
            "usr-admin-1",
            "problem",
            "dispatch",
            &code,
            "--unit",
            "u-hwc",
        ],
    );
    let handler = {
        let b: Vec<Value> = serde_json::from_str(
            &std::fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/demo/users.json"),
            )
            .unwrap(),
        )
        .unwrap();
        b.iter().find(|u| u["unit_id"] == "u-hwc").unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    ok_json(&db, &["--as", &handler, "problem", "accept", &code]);
    let after_path = dir.path().join("after.png");
    quadrants(800, 600).save(&after_path).unwrap();
    let (r, _) = ok_json(
        &db,
        &[
            "--as",
            &handler,
            "problem",
            "rectify",
            &code,
            "--photo",
            after_path.to_str().unwrap(),
        ],
    );
    assert_eq!(r["status"], "rectified");
    let roles: Vec<&str> = r["photos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["before", "after"]);

    // A corrupt photo is refused with a clear error and the action is not taken.
    let bad = dir.path().join("bad.jpg");
    std::fs::write(&bad, &before[..before.len() / 3]).unwrap();
    let o = run(
        &db,
        &[
            "--as",
            "usr-insp-1",
            "problem",
            "verify",
            &code,
            "--pass",
            "--photo",
            bad.to_str().unwrap(),
        ],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("photo_truncated") || err.contains("photo_corrupt"),
        "{err}"
    );
    let text = dir.path().join("notes.jpg");
    std::fs::write(&text, "这不是照片").unwrap();
    let o = run(&db, &["photo", "add", text.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("photo_unsupported_format"));
    let (shown, _) = ok_json(&db, &["show", &code]);
    assert_eq!(shown["problem"]["status"], "rectified");
}
