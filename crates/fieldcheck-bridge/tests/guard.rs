//! Attacks on the bridge by a web page the inspector visits, over real HTTP against the real
//! bridge (port 0, a demo device): a `text/plain` form post, a cross-origin `fetch`, DNS
//! rebinding (a foreign `Host`), no or a stale session secret, and a bridge started on the
//! network. Each is refused with a stable code and changes nothing on the device.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::Bridge;
use fieldcheck_bridge::{ErrorBody, SESSION_HEADER};
use serde_json::{Value, json};

async fn refused(req: reqwest::RequestBuilder) -> (u16, String) {
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let body: ErrorBody = res.json().await.expect("a JSON error body");
    assert!(!body.message.is_empty());
    (status, body.code)
}

#[tokio::test]
async fn a_text_plain_form_post_cannot_sign_the_device_in_as_admin() {
    let b = Bridge::signed_in_demo().await;
    assert_eq!(b.session_header, SESSION_HEADER);
    // What an HTML form or a `no-cors` fetch can send: no custom header, text/plain.
    let attack = b
        .http
        .post(format!("{}/bridge/login", b.base))
        .header("content-type", "text/plain")
        .body(r#"{"user_id":"usr-admin-1"}"#);
    assert_eq!(refused(attack).await, (403, "session_required".into()));
    // Even with the secret, a JSON command must say it is JSON.
    let typed = b
        .http
        .post(format!("{}/bridge/login", b.base))
        .header(SESSION_HEADER, &b.secret)
        .header("content-type", "text/plain;charset=UTF-8")
        .body(r#"{"user_id":"usr-admin-1"}"#);
    assert_eq!(refused(typed).await, (415, "unsupported_media_type".into()));
    let untyped = b
        .http
        .post(format!("{}/bridge/login", b.base))
        .header(SESSION_HEADER, &b.secret)
        .body(r#"{"user_id":"usr-admin-1"}"#);
    assert_eq!(
        refused(untyped).await,
        (415, "unsupported_media_type".into())
    );
    // A photo upload takes image bytes only.
    let photo = b
        .http
        .post(format!("{}/bridge/photos", b.base))
        .header(SESSION_HEADER, &b.secret)
        .header("content-type", "text/plain")
        .body("x");
    assert_eq!(refused(photo).await, (415, "unsupported_media_type".into()));
    let photo = b
        .http
        .post(format!("{}/bridge/photos", b.base))
        .header("content-type", "image/jpeg")
        .body("x");
    assert_eq!(refused(photo).await, (403, "session_required".into()));
    assert_eq!(b.who().await, "usr-insp-1");
    b.stop().await;
}

#[tokio::test]
async fn a_cross_origin_page_is_refused_even_with_the_secret() {
    let b = Bridge::signed_in_demo().await;
    for origin in [
        "http://evil.example",
        "http://localhost:1",
        "https://127.0.0.1",
        "null",
    ] {
        let attack = b
            .command("unenroll", json!({"discard_pending": true}))
            .header("origin", origin);
        assert_eq!(
            refused(attack).await,
            (403, "origin_not_allowed".into()),
            "{origin}"
        );
    }
    // Another page on this machine (another port is the same site, not the same origin).
    let same_site = b
        .command("login", json!({"user_id": "usr-admin-1"}))
        .header("sec-fetch-site", "same-site");
    assert_eq!(refused(same_site).await, (403, "cross_site_request".into()));
    // It cannot read the secret either.
    let steal = b
        .http
        .get(format!("{}/bridge/session", b.base))
        .header("origin", "http://evil.example");
    assert_eq!(refused(steal).await, (403, "origin_not_allowed".into()));
    let steal = b
        .http
        .get(format!("{}/bridge/session", b.base))
        .header("sec-fetch-site", "cross-site");
    assert_eq!(refused(steal).await, (403, "cross_site_request".into()));
    // The bridge's own page, under each of its names, is served.
    for name in [
        b.host.clone(),
        b.host.replace("127.0.0.1", "localhost"),
        b.host.replace("127.0.0.1", "[::1]"),
    ] {
        let own = b
            .command("login", json!({"user_id": "usr-insp-1"}))
            .header("origin", format!("http://{name}"))
            .header("sec-fetch-site", "same-origin");
        let res = own.send().await.unwrap();
        assert_eq!(res.status(), 200, "{name}");
    }
    assert_eq!(b.who().await, "usr-insp-1");
    b.stop().await;
}

#[tokio::test]
async fn dns_rebinding_cannot_read_the_ledger_the_secret_photos_or_the_ui() {
    let b = Bridge::signed_in_demo().await;
    // A photo to try to read back.
    let up: Value = b.upload_as("image/png", png()).await.json().await.unwrap();
    let hash = up["hash"].as_str().expect("uploaded").to_owned();
    let own = b
        .http
        .get(format!("{}/bridge/photos/{hash}/thumb", b.base))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);

    // The page's own name, now resolving to 127.0.0.1: the browser sends it as Host.
    let rebound = b.host.replace("127.0.0.1", "attacker.example");
    let ledger = b
        .command("ledger", json!({}))
        .header("host", rebound.as_str());
    assert_eq!(refused(ledger).await, (403, "host_not_allowed".into()));
    for path in [
        "/bridge/session".to_owned(),
        format!("/bridge/photos/{hash}/thumb"),
        format!("/bridge/photos/{hash}/display"),
        "/".to_owned(),
        "/index.html".to_owned(),
    ] {
        let get = b
            .http
            .get(format!("{}{path}", b.base))
            .header("host", rebound.as_str());
        assert_eq!(
            refused(get).await,
            (403, "host_not_allowed".into()),
            "{path}"
        );
    }
    // Right name, wrong port (another local service's name for itself) is refused too.
    let other_port = b.command("me", json!({})).header("host", "127.0.0.1:1");
    assert_eq!(refused(other_port).await, (403, "host_not_allowed".into()));
    let ui = b.http.get(format!("{}/", b.base)).send().await.unwrap();
    assert_eq!(ui.status(), 200);
    b.stop().await;
}

#[tokio::test]
async fn commands_need_this_starts_session_secret() {
    let b = Bridge::signed_in_demo().await;
    let missing = b
        .http
        .post(format!("{}/bridge/ledger", b.base))
        .json(&json!({}));
    assert_eq!(refused(missing).await, (403, "session_required".into()));
    let wrong = b
        .http
        .post(format!("{}/bridge/login", b.base))
        .header(SESSION_HEADER, "0".repeat(64))
        .json(&json!({"user_id": "usr-admin-1"}));
    assert_eq!(refused(wrong).await, (403, "session_invalid".into()));
    // A second bridge has its own secret: one start's secret does not open another.
    let other = Bridge::signed_in_demo().await;
    assert_ne!(other.secret, b.secret);
    let stale = other
        .http
        .post(format!("{}/bridge/login", other.base))
        .header(SESSION_HEADER, &b.secret)
        .json(&json!({"user_id": "usr-admin-1"}));
    assert_eq!(refused(stale).await, (403, "session_invalid".into()));
    // Commands that only read need it too (a GET is not a way around it).
    let get = b.http.get(format!("{}/bridge/me", b.base));
    assert_eq!(refused(get).await, (403, "session_required".into()));
    assert_eq!(b.who().await, "usr-insp-1");
    assert_eq!(other.who().await, "usr-insp-1");
    b.stop().await;
    other.stop().await;
}

/// The real binary: `--bind` on a non-loopback address is refused before anything is opened,
/// and accepted with `--allow-remote` and a loud warning.
#[test]
fn a_network_bind_needs_allow_remote() {
    let bin = env!("CARGO_BIN_EXE_fieldcheck-bridge");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("device.sqlite3");
    let out = Command::new(bin)
        .args(["--bind", "0.0.0.0:0", "--db"])
        .arg(&db)
        .env_remove("FIELDCHECK_BRIDGE_BIND")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not a loopback address") && stderr.contains("--allow-remote"),
        "{stderr}"
    );
    assert!(!db.exists(), "a refused start creates no database");

    let mut child = Command::new(bin)
        .args(["--bind", "0.0.0.0:0", "--allow-remote", "--db"])
        .arg(&db)
        .env_remove("FIELDCHECK_BRIDGE_BIND")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The line scripts wait for (log lines may come first).
    let line = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(Result::unwrap)
        .find(|l| l.starts_with("FieldCheck bridge:"))
        .unwrap_or_default();
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        line.starts_with("FieldCheck bridge: http://0.0.0.0:"),
        "{line}"
    );
    assert!(stderr.contains("WARNING"), "{stderr}");
}

fn png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(32, 24, |x, y| {
        image::Rgb([200, (x * 7) as u8, (y * 9) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}
