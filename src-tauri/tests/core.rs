//! The app's command layer without a window: commands reach the bridge's implementation in
//! process, errors keep their stable codes, photos go in as raw bytes and come out through the
//! `photo` scheme handler with content type, caching, and 404 for unknown hashes.

use fieldcheck_app_lib::core::{Core, is_command_name};
use fieldcheck_app_lib::error::AppError;
use fieldcheck_app_lib::{open_store, photo};
use serde_json::{Value, json};

fn jpeg(seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([seed, (x * 4) as u8, (y * 5) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

fn fresh() -> (tempfile::TempDir, Core) {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir.path().join("device.sqlite3")).unwrap();
    (dir, Core::new(store))
}

async fn call(core: &Core, command: &str, args: Value) -> Result<Value, AppError> {
    core.call(command, args)
        .await
        .map(|s| serde_json::from_str(&s).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_app_is_seeded_and_signed_in() {
    let (_dir, core) = fresh();
    let me = call(&core, "me", json!({})).await.unwrap();
    assert_eq!(me["user"]["id"], "usr-insp-1");
    let home = call(&core, "home", json!({})).await.unwrap();
    assert!(home["todo"].is_object(), "{home}");
    let ledger = call(&core, "ledger", json!({})).await.unwrap();
    assert!(
        ledger["total"].as_u64().unwrap() > 0,
        "demo problems: {ledger}"
    );
    let points = call(&core, "points", json!({"lat": 26.08, "lon": 119.29}))
        .await
        .unwrap();
    assert!(points.as_array().unwrap().len() > 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_does_not_seed_twice() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("device.sqlite3");
    let total = |core: Core| async move {
        call(&core, "ledger", json!({})).await.unwrap()["total"]
            .as_u64()
            .unwrap()
    };
    let first = total(Core::new(open_store(&db).unwrap())).await;
    let second = total(Core::new(open_store(&db).unwrap())).await;
    assert_eq!(first, second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_keep_stable_codes() {
    let (_dir, core) = fresh();
    let e = call(&core, "problem", json!({"id": "no-such-problem"}))
        .await
        .unwrap_err();
    assert_eq!(e.code, "not_found");
    let e = call(&core, "problem", json!({"nope": 1}))
        .await
        .unwrap_err();
    assert_eq!(e.code, "invalid_input", "{e:?}");
    let e = call(&core, "no_such_command", json!({})).await.unwrap_err();
    assert_eq!(e.code, "not_found");
    // Route names only: no path tricks, and the upload route only through photo_upload.
    for bad in ["../me", "photos", "Me", "photos/x/display", ""] {
        assert!(!is_command_name(bad), "{bad}");
        assert_eq!(
            call(&core, bad, json!({})).await.unwrap_err().code,
            "not_found"
        );
    }
    let e = core
        .upload_photo(b"not an image".to_vec())
        .await
        .unwrap_err();
    assert!(e.code.starts_with("photo_"), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_with_photo_and_serve_it() {
    let (_dir, core) = fresh();
    let info: Value = serde_json::from_str(&core.upload_photo(jpeg(7)).await.unwrap()).unwrap();
    let hash = info["hash"].as_str().unwrap().to_owned();

    let reference = call(&core, "reference", json!({})).await.unwrap();
    let category = reference["categories"][0]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let p = call(
        &core,
        "problem_report",
        json!({
            "category": category,
            "description": "应用测试：路边垃圾",
            "location": {"lat": 26.0799, "lon": 119.2899, "accuracy_m": 8.0, "source": "gps"},
            "photos": [hash],
        }),
    )
    .await
    .unwrap();
    let ledger = call(&core, "ledger", json!({"query": {"text": "应用测试"}}))
        .await
        .unwrap();
    assert_eq!(ledger["total"], 1, "{ledger}");
    assert_eq!(ledger["items"][0]["id"], p["id"]);

    // convertFileSrc('<hash>/display', 'photo') → photo://localhost/<hash>%2Fdisplay
    for (path, min_len) in [
        (format!("/{hash}%2Fdisplay"), 100),
        (format!("/{hash}%2Fthumb"), 100),
        (format!("/{hash}/thumb"), 100),
    ] {
        let res = photo::respond(&core, &path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["content-type"], "image/jpeg");
        assert!(
            res.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
        assert!(res.body().len() >= min_len);
    }
    let unknown = "0".repeat(64);
    for path in [
        format!("/{unknown}%2Fdisplay"),
        format!("/{hash}%2Fhuge"),
        "/..%2F..%2Fetc%2Fpasswd".to_owned(),
        "/".to_owned(),
    ] {
        let res = photo::respond(&core, &path).await;
        assert_eq!(res.status(), 404, "{path}");
        let body: Value = serde_json::from_slice(res.body()).unwrap();
        assert_eq!(body["code"], "not_found", "{path}: {body}");
    }
}

#[test]
fn photo_paths_parse_in_both_forms() {
    assert_eq!(
        photo::parse_path("/abc%2Fthumb"),
        Some(("abc".into(), "thumb".into()))
    );
    assert_eq!(
        photo::parse_path("/abc/display"),
        Some(("abc".into(), "display".into()))
    );
    assert_eq!(photo::parse_path("/abc"), None);
}
