//! The console's sign-in (issue 14) over real HTTP, on SQLite and on PostgreSQL: the session
//! cookie and its attributes, wrong passwords, idle and absolute expiry, sign-out, CSRF and
//! cross-site refusals, and a disabled or revoked user's session dying at once.

mod common;

use common::*;
use fieldcheck_server::demo::DEMO_PASSWORD;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A server on the chosen backend. PostgreSQL must be there: these tests never pass by
/// skipping.
pub async fn env(pg: bool, tweak: impl FnOnce(&mut fieldcheck_server::Config)) -> Env {
    Env::new(pg, tweak)
        .await
        .expect("PostgreSQL at 127.0.0.1:5432 (db test) must be reachable for console tests")
}

pub struct Console {
    pub cookie: String,
    pub set_cookie: String,
    pub info: Value,
}

impl Console {
    pub fn csrf(&self) -> &str {
        self.info["csrf_token"].as_str().unwrap()
    }
}

pub async fn sign_in_raw(s: &Server, user: &str, password: &str) -> reqwest::Response {
    s.http
        .post(s.url("/console/session"))
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
        .unwrap()
}

pub async fn sign_in(s: &Server, user: &str) -> Console {
    let r = sign_in_raw(s, user, DEMO_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    let set_cookie = r
        .headers()
        .get("set-cookie")
        .expect("a session cookie")
        .to_str()
        .unwrap()
        .to_owned();
    let cookie = set_cookie.split(';').next().unwrap().trim().to_owned();
    Console {
        cookie,
        set_cookie,
        info: r.json().await.unwrap(),
    }
}

pub async fn get_session(s: &Server, cookie: &str) -> reqwest::Response {
    s.http
        .get(s.url("/console/session"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

async fn sign_out(s: &Server, cookie: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = s
        .http
        .delete(s.url("/console/session"))
        .header("cookie", cookie);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

async fn sign_in_and_out_with_csrf(pg: bool) {
    let e = env(pg, |_| {}).await;
    let s = &e.s;
    let c = sign_in(s, "usr-admin-1").await;
    // The cookie: a 256-bit id, HttpOnly, SameSite=Strict, Path=/, not Secure over http.
    let (name, id) = c.cookie.split_once('=').unwrap();
    assert_eq!(name, "fieldcheck_console");
    assert_eq!(id.len(), 64);
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(c.set_cookie.contains(attr), "{}", c.set_cookie);
    }
    assert!(!c.set_cookie.contains("Secure"), "{}", c.set_cookie);
    assert_eq!(c.info["role"], "admin");
    assert_eq!(c.csrf().len(), 64);
    // Who am I: the same user and CSRF token.
    let r = get_session(s, &c.cookie).await;
    assert_eq!(r.status(), StatusCode::OK);
    let me: Value = r.json().await.unwrap();
    assert_eq!(me["user_id"], "usr-admin-1");
    assert_eq!(me["csrf_token"], c.csrf());
    // A second sign-in is another session with another token.
    let other = sign_in(s, "usr-admin-1").await;
    assert_ne!(other.cookie, c.cookie);
    assert_ne!(other.csrf(), c.csrf());
    // Sign-out needs the session's own CSRF token, from this site.
    let r = sign_out(s, &c.cookie, &[]).await;
    let err = api_error(r, StatusCode::FORBIDDEN, "csrf_rejected").await;
    assert!(err.message.contains("X-CSRF-Token"), "{err:?}");
    let r = sign_out(s, &c.cookie, &[("x-csrf-token", other.csrf())]).await;
    api_error(r, StatusCode::FORBIDDEN, "csrf_rejected").await;
    let r = sign_out(
        s,
        &c.cookie,
        &[
            ("x-csrf-token", c.csrf()),
            ("origin", "https://evil.example"),
        ],
    )
    .await;
    let err = api_error(r, StatusCode::FORBIDDEN, "csrf_rejected").await;
    assert!(err.message.contains("cross-site"), "{err:?}");
    let r = sign_out(
        s,
        &c.cookie,
        &[("x-csrf-token", c.csrf()), ("sec-fetch-site", "cross-site")],
    )
    .await;
    api_error(r, StatusCode::FORBIDDEN, "csrf_rejected").await;
    // None of the refused requests ended the session.
    assert_eq!(get_session(s, &c.cookie).await.status(), StatusCode::OK);
    let own_origin = s.base.trim_end_matches("/api/v1").to_owned();
    let r = sign_out(
        s,
        &c.cookie,
        &[
            ("x-csrf-token", c.csrf()),
            ("origin", &own_origin),
            ("sec-fetch-site", "same-origin"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let cleared = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    // Signed out: the cookie no longer works; the other session still does.
    let r = get_session(s, &c.cookie).await;
    api_error(r, StatusCode::UNAUTHORIZED, "not_signed_in").await;
    assert_eq!(get_session(s, &other.cookie).await.status(), StatusCode::OK);
    // No cookie, or a made-up one.
    let r = s.http.get(s.url("/console/session")).send().await.unwrap();
    api_error(r, StatusCode::UNAUTHORIZED, "not_signed_in").await;
    let r = get_session(s, &format!("fieldcheck_console={}", "ab".repeat(32))).await;
    api_error(r, StatusCode::UNAUTHORIZED, "not_signed_in").await;
    e.finish().await;
}
both_backends!(sign_in_and_out_with_csrf);

async fn wrong_passwords_volunteers_and_cross_site_sign_ins_are_refused(pg: bool) {
    let e = env(pg, |_| {}).await;
    let s = &e.s;
    let r = sign_in_raw(s, "usr-admin-1", "wrong").await;
    let err = api_error(r, StatusCode::UNAUTHORIZED, "wrong_credentials").await;
    assert!(
        err.message.contains("wrong username or password"),
        "{err:?}"
    );
    let r = sign_in_raw(s, "nobody", "wrong").await;
    api_error(r, StatusCode::UNAUTHORIZED, "wrong_credentials").await;
    // A volunteer's right password: told plainly there is no console for them.
    let r = sign_in_raw(s, "usr-vol-1", DEMO_PASSWORD).await;
    assert!(r.headers().get("set-cookie").is_none());
    let err = api_error(r, StatusCode::FORBIDDEN, "no_console_access").await;
    assert!(err.message.contains("volunteer"), "{err:?}");
    // Another site's page cannot sign a browser in (login CSRF).
    let r = s
        .http
        .post(s.url("/console/session"))
        .header("origin", "http://evil.example")
        .json(&json!({"username": "usr-admin-1", "password": DEMO_PASSWORD}))
        .send()
        .await
        .unwrap();
    api_error(r, StatusCode::FORBIDDEN, "csrf_rejected").await;
    // Every other role signs in.
    for (user, role) in [("usr-hdl-1", "unit_handler"), ("usr-insp-1", "inspector")] {
        let c = sign_in(s, user).await;
        assert_eq!(c.info["role"], role);
    }
    let c = sign_in(s, "usr-hdl-1").await;
    assert_eq!(c.info["unit_id"], "u-s-dj");
    assert_eq!(c.info["district_ids"], json!(["s-dj"]));
    e.finish().await;
}
both_backends!(wrong_passwords_volunteers_and_cross_site_sign_ins_are_refused);

async fn idle_sessions_expire_and_use_slides_the_expiry(pg: bool) {
    let e = env(pg, |c| c.console_idle_secs = 1).await;
    let s = &e.s;
    let c = sign_in(s, "usr-admin-1").await;
    // Used every 0.6 s, it outlives its 1 s idle period...
    for _ in 0..3 {
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        assert_eq!(get_session(s, &c.cookie).await.status(), StatusCode::OK);
    }
    // ...and ends after 1 s unused.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let r = get_session(s, &c.cookie).await;
    let err = api_error(r, StatusCode::UNAUTHORIZED, "session_expired").await;
    assert!(err.message.contains("sign in again"), "{err:?}");
    // Gone for good: asked again, the server no longer knows it.
    let r = get_session(s, &c.cookie).await;
    api_error(r, StatusCode::UNAUTHORIZED, "not_signed_in").await;
    e.finish().await;
}
both_backends!(idle_sessions_expire_and_use_slides_the_expiry);

async fn sessions_end_at_their_absolute_lifetime(pg: bool) {
    let e = env(pg, |c| c.console_max_secs = 0).await;
    let c = sign_in(&e.s, "usr-admin-1").await;
    let r = get_session(&e.s, &c.cookie).await;
    api_error(r, StatusCode::UNAUTHORIZED, "session_expired").await;
    e.finish().await;
}
both_backends!(sessions_end_at_their_absolute_lifetime);

async fn disabled_or_revoked_users_lose_their_sessions_at_once(pg: bool) {
    let e = env(pg, |_| {}).await;
    let s = &e.s;
    let admin = s.login("usr-admin-1").await;
    let hdl = sign_in(s, "usr-hdl-1").await;
    let insp = sign_in(s, "usr-insp-1").await;
    let r = s.post(&admin, "/admin/users/usr-hdl-1/disable").await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = get_session(s, &hdl.cookie).await;
    api_error(r, StatusCode::UNAUTHORIZED, "user_disabled").await;
    // A disabled user cannot sign in again either.
    let r = sign_in_raw(s, "usr-hdl-1", DEMO_PASSWORD).await;
    api_error(r, StatusCode::UNAUTHORIZED, "user_disabled").await;
    // Revoking a user ends their console sessions too.
    assert_eq!(get_session(s, &insp.cookie).await.status(), StatusCode::OK);
    let r = s.post(&admin, "/admin/users/usr-insp-1/revoke").await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = get_session(s, &insp.cookie).await;
    api_error(r, StatusCode::UNAUTHORIZED, "not_signed_in").await;
    e.finish().await;
}
both_backends!(disabled_or_revoked_users_lose_their_sessions_at_once);

/// Behind https (an `https://` public URL) the cookie is `Secure`.
#[tokio::test]
async fn the_cookie_is_secure_behind_https() {
    let e = env(false, |c| c.public_url = "https://fc.example.gov.cn".into()).await;
    let c = sign_in(&e.s, "usr-admin-1").await;
    assert!(c.set_cookie.contains("; Secure"), "{}", c.set_cookie);
    // The configured origin is this server's; a request naming it passes, another does not.
    let r = sign_out(
        &e.s,
        &c.cookie,
        &[
            ("x-csrf-token", c.csrf()),
            ("origin", "http://fc.example.gov.cn"),
        ],
    )
    .await;
    api_error(r, StatusCode::FORBIDDEN, "csrf_rejected").await;
    let r = sign_out(
        &e.s,
        &c.cookie,
        &[
            ("x-csrf-token", c.csrf()),
            ("origin", "https://fc.example.gov.cn"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    e.finish().await;
}
