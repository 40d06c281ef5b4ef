//! The console web app's files at `/console/`: served from `console_dir`, every screen's
//! link answered by the app, the browser protections on, nothing outside the directory
//! reachable, and a plain explanation when the files were never built.

mod common;

use common::{Server, test_config};

fn origin(s: &Server) -> String {
    s.base.trim_end_matches("/api/v1").to_owned()
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn serves_the_app_with_its_protections_and_every_screen_link() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("console");
    std::fs::create_dir_all(app.join("assets")).unwrap();
    std::fs::write(
        app.join("index.html"),
        "<!doctype html><title>创文巡查 控制台</title>",
    )
    .unwrap();
    std::fs::write(app.join("assets/app-1a2b.js"), "console.log('console')").unwrap();
    // Beside the app, never to be served through it.
    std::fs::write(dir.path().join("secret.txt"), "not for browsers").unwrap();
    let mut config = test_config(dir.path());
    config.console_dir = app.clone();
    let s = Server::start_with(config, None, true).await;
    let http = no_redirects();
    let root = origin(&s);

    let index = http.get(format!("{root}/console/")).send().await.unwrap();
    assert_eq!(index.status(), 200);
    let h = index.headers();
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(index.text().await.unwrap().contains("控制台"));

    let js = http
        .get(format!("{root}/console/assets/app-1a2b.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );

    // A link into a screen (the app's own router takes it from there).
    for path in [
        "/console/problems/0193a1b2-0000-7000-8000-000000000001",
        "/console/ledger?status=dispatched,rectifying&overdue=true",
    ] {
        let r = http.get(format!("{root}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert!(r.text().await.unwrap().contains("控制台"), "{path}");
    }

    // Nothing beside the app's directory, however the path is spelled.
    for path in [
        "/console/../secret.txt",
        "/console/%2e%2e/secret.txt",
        "/console/..%2fsecret.txt",
    ] {
        let r = http.get(format!("{root}{path}")).send().await.unwrap();
        let body = r.text().await.unwrap();
        assert!(!body.contains("not for browsers"), "{path} leaked: {body}");
    }

    // The server's own address opens the console.
    let home = http.get(format!("{root}/")).send().await.unwrap();
    assert!(home.status().is_redirection());
    assert_eq!(home.headers()["location"], "/console/");

    // The API is unchanged beside it.
    let api = http
        .get(format!("{root}/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 200);
    s.stop().await;
}

#[tokio::test]
async fn unbuilt_console_says_how_to_build_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.console_dir = dir.path().join("no-such-dir");
    let s = Server::start_with(config, None, true).await;
    let r = no_redirects()
        .get(format!("{}/console/", origin(&s)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let text = r.text().await.unwrap();
    assert!(text.contains("npm run build"), "{text}");
    assert!(text.contains("console_dir"), "{text}");
    s.stop().await;
}

#[tokio::test]
async fn the_city_tianditu_key_reaches_its_console_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.tianditu_key = "city-browser-key".into();
    let s = Server::start_with(config, None, true).await;
    let office = s.console_sign_in("usr-admin-1").await;
    let r = s.console_get(&office.cookie, "/console/reference").await;
    assert_eq!(r.status(), 200);
    let reference: serde_json::Value = r.json().await.unwrap();
    assert_eq!(reference["tianditu_key"], "city-browser-key");
    // Not to anyone who is not signed in.
    let r = s
        .http
        .get(s.url("/console/reference"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(!r.text().await.unwrap().contains("city-browser-key"));
    s.stop().await;

    // A city without a key: no Tianditu.
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), None, true).await;
    let office = s.console_sign_in("usr-admin-1").await;
    let reference: serde_json::Value = s
        .console_get(&office.cookie, "/console/reference")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        reference["tianditu_key"].is_null(),
        "{}",
        reference["tianditu_key"]
    );
    s.stop().await;
}
