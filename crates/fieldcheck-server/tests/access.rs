//! Accounts and tokens under attack, over real HTTP against the real server (issue 12, items 1,
//! 8, 9 and parts of 10): login limits, logout/revoke/disable/expiry, what `/reference` shows
//! each role, enrollment-code guessing, a reused device id, the QR's server and secrets in logs.
//! Store-touching tests run on SQLite and on PostgreSQL.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use fieldcheck_protocol::sync::{
    EnrollResponse, Me, ReferenceResponse, RevokeResponse, UserAccess,
};
use fieldcheck_server::Config;
use fieldcheck_server::demo::DEMO_PASSWORD;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

// ---------------------------------------------------------------------------------------------
// Item 1: login

/// 80 logins with huge usernames used to be kept in the limiter forever (memory growth);
/// now they are refused before any lookup, hashing or counting.
#[tokio::test]
async fn oversized_usernames_and_passwords_are_refused_before_any_work() {
    let s = Server::start_temp().await;
    // Under the test server's 64 KiB body limit, far over the 128-byte name limit.
    let huge = "u".repeat(32 * 1024);
    for i in 0..80 {
        let r = s.login_as(&format!("{huge}{i}"), "wrong").await;
        let e = api_error(r, StatusCode::BAD_REQUEST, "malformed_request").await;
        assert!(e.message.contains("username"), "{e:?}");
    }
    let r = s.login_as("usr-admin-1", &"p".repeat(1025)).await;
    let e = api_error(r, StatusCode::BAD_REQUEST, "malformed_request").await;
    assert!(e.message.contains("password"), "{e:?}");
    // The limits count characters, as the schema's `maxLength` does.
    let r = s.login_as(&"名".repeat(128), "wrong").await;
    api_error(r, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let r = s.login_as(&"名".repeat(129), "wrong").await;
    api_error(r, StatusCode::BAD_REQUEST, "malformed_request").await;
    // None of the refused requests counted against this address.
    s.login("usr-admin-1").await;
    s.stop().await;
}

/// 30 concurrent wrong passwords for one user used to get 30 × 401: each checked the limit
/// before any of them had failed.
#[tokio::test]
async fn concurrent_wrong_passwords_for_one_user_hit_the_limit() {
    let s = Server::start_temp().await;
    let attempts = (0..30).map(|i| s.login_as("usr-admin-2", if i % 2 == 0 { "a" } else { "b" }));
    let answers = futures_join_all(attempts).await;
    let unauthorized = answers
        .iter()
        .filter(|r| r.status() == StatusCode::UNAUTHORIZED)
        .count();
    let limited = answers
        .iter()
        .filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(unauthorized + limited, 30);
    assert!(
        unauthorized <= Config::default().login_failures_per_user as usize,
        "{unauthorized} wrong passwords were checked"
    );
    assert!(limited >= 25, "{limited} refused");
    // Even the right password waits out the window.
    let r = s.login_as("usr-admin-2", DEMO_PASSWORD).await;
    api_error(r, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    s.stop().await;
}

/// One address trying one password across many usernames (spraying) is stopped, whether the
/// names exist or not.
#[tokio::test]
async fn password_spraying_from_one_address_is_limited() {
    let s = Server::start_temp().await;
    let per_ip = Config::default().login_failures_per_ip as usize;
    let names: Vec<String> = s
        .logins
        .iter()
        .map(|l| l.user_id.clone())
        .chain((0..20).map(|i| format!("nobody-{i}")))
        .collect();
    assert!(names.len() > per_ip);
    for (i, name) in names.iter().enumerate() {
        let r = s.login_as(name, "Spring2026!").await;
        if i < per_ip {
            api_error(r, StatusCode::UNAUTHORIZED, "unauthorized").await;
        } else {
            api_error(r, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
        }
    }
    s.stop().await;
}

/// A login for a user who does not exist still runs argon2 (against a dummy hash), so it
/// takes as long as a wrong password for a real user. Asserted by structure, not by time.
#[tokio::test]
async fn an_unknown_user_costs_a_full_password_check() {
    let s = Server::start_temp().await;
    let before = fieldcheck_server::auth::dummy_verifications();
    let r = s.login_as("no-such-user", "guess").await;
    api_error(r, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert!(fieldcheck_server::auth::dummy_verifications() > before);
    s.stop().await;
}

fn futures_join_all<F: std::future::Future>(
    fs: impl IntoIterator<Item = F>,
) -> impl std::future::Future<Output = Vec<F::Output>> {
    let set: Vec<_> = fs.into_iter().collect();
    async move {
        let mut out = Vec::new();
        let mut pinned: Vec<_> = set.into_iter().map(Box::pin).collect();
        // Poll all together: a hand-rolled join_all, enough for a test.
        let mut results: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
        std::future::poll_fn(|cx| {
            let mut pending = false;
            for (i, f) in pinned.iter_mut().enumerate() {
                if results[i].is_none() {
                    match f.as_mut().poll(cx) {
                        std::task::Poll::Ready(v) => results[i] = Some(v),
                        std::task::Poll::Pending => pending = true,
                    }
                }
            }
            if pending {
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(())
            }
        })
        .await;
        out.extend(results.into_iter().map(Option::unwrap));
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Item 9: revocation

async fn logout_revokes_the_callers_token(pg: bool) {
    let Some(e) = Env::new(pg, |_| {}).await else {
        return;
    };
    let s = &e.s;
    let session = s.login("usr-admin-1").await;
    let other = s.login("usr-admin-1").await;
    let device = s.enroll("usr-insp-1").await;
    for token in [&session, &device] {
        let r = s.post(token, "/logout").await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        api_error(s.me(token).await, StatusCode::UNAUTHORIZED, "token_revoked").await;
        let r = s.post(token, "/logout").await;
        api_error(r, StatusCode::UNAUTHORIZED, "token_revoked").await;
    }
    // Only that token: the same user's other session still works.
    assert_eq!(s.me(&other).await.status(), StatusCode::OK);
    // An unknown token stays plain `unauthorized`.
    api_error(
        s.me(&"0".repeat(64)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    e.finish().await;
}
both_backends!(logout_revokes_the_callers_token);

async fn the_office_revokes_a_device_or_all_of_a_users_tokens(pg: bool) {
    let Some(e) = Env::new(pg, |_| {}).await else {
        return;
    };
    let s = &e.s;
    let admin = s.login("usr-admin-1").await;
    let dev = Uuid::now_v7();
    let r = s.enroll_with(&s.code_of("usr-insp-1"), dev).await;
    assert_eq!(r.status(), StatusCode::OK);
    let insp: EnrollResponse = r.json().await.unwrap();
    let insp_session = s.login("usr-insp-1").await;

    // Only the office.
    let r = s
        .post(&insp.token, &format!("/admin/devices/{dev}/revoke"))
        .await;
    api_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = s.post(&admin, "/admin/devices/not-a-uuid/revoke").await;
    let err = api_error(r, StatusCode::BAD_REQUEST, "malformed_request").await;
    assert!(err.message.contains("device_id"), "{err:?}");

    let r = s
        .post(&admin, &format!("/admin/devices/{dev}/revoke"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<RevokeResponse>().await.unwrap().revoked, 1);
    api_error(
        s.me(&insp.token).await,
        StatusCode::UNAUTHORIZED,
        "token_revoked",
    )
    .await;
    // The device's revocation leaves the user's browser session alone ...
    assert_eq!(s.me(&insp_session).await.status(), StatusCode::OK);
    // ... revoking the user ends it too.
    let r = s.post(&admin, "/admin/users/usr-insp-1/revoke").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<RevokeResponse>().await.unwrap().revoked, 1);
    api_error(
        s.me(&insp_session).await,
        StatusCode::UNAUTHORIZED,
        "token_revoked",
    )
    .await;
    let r = s.post(&admin, "/admin/users/nobody/revoke").await;
    api_error(r, StatusCode::NOT_FOUND, "not_found").await;
    // A revoked user may sign in again (revocation is not disabling).
    s.login("usr-insp-1").await;
    e.finish().await;
}
both_backends!(the_office_revokes_a_device_or_all_of_a_users_tokens);

async fn a_disabled_user_is_refused_at_once_until_enabled(pg: bool) {
    let Some(e) = Env::new(pg, |_| {}).await else {
        return;
    };
    let s = &e.s;
    let admin = s.login("usr-admin-1").await;
    let vol = s.enroll("usr-vol-1").await;
    let vol_session = s.login("usr-vol-1").await;

    let r = s.post(&vol, "/admin/users/usr-vol-1/disable").await;
    api_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = s.post(&admin, "/admin/users/usr-vol-1/disable").await;
    assert_eq!(r.status(), StatusCode::OK);
    let access: UserAccess = r.json().await.unwrap();
    assert!(access.disabled && !access.removed, "{access:?}");

    // The very next request of every token fails with the stable code.
    for token in [&vol, &vol_session] {
        api_error(s.me(token).await, StatusCode::UNAUTHORIZED, "user_disabled").await;
    }
    let r = s.post_json(&vol, "/push", &json!({"events": []})).await;
    api_error(r, StatusCode::UNAUTHORIZED, "user_disabled").await;
    let r = s.get(&vol, "/pull?since=0").await;
    api_error(r, StatusCode::UNAUTHORIZED, "user_disabled").await;
    // Signing in: the right password says why; a wrong one says nothing more.
    let r = s.login_as("usr-vol-1", DEMO_PASSWORD).await;
    api_error(r, StatusCode::UNAUTHORIZED, "user_disabled").await;
    let r = s.login_as("usr-vol-1", "wrong").await;
    api_error(r, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // No new device either.
    let code = s.new_code(&admin, "usr-vol-1").await;
    let r = s.enroll_with(&code, Uuid::now_v7()).await;
    api_error(r, StatusCode::UNAUTHORIZED, "user_disabled").await;
    // The office cannot lock itself out.
    let r = s.post(&admin, "/admin/users/usr-admin-1/disable").await;
    api_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = s.post(&admin, "/admin/users/nobody/disable").await;
    api_error(r, StatusCode::NOT_FOUND, "not_found").await;

    // Enabled again: the same tokens work.
    let r = s.post(&admin, "/admin/users/usr-vol-1/enable").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(!r.json::<UserAccess>().await.unwrap().disabled);
    assert_eq!(s.me(&vol).await.status(), StatusCode::OK);
    assert_eq!(s.me(&vol_session).await.status(), StatusCode::OK);
    let r = s.enroll_with(&code, Uuid::now_v7()).await;
    assert_eq!(r.status(), StatusCode::OK);
    e.finish().await;
}
both_backends!(a_disabled_user_is_refused_at_once_until_enabled);

async fn a_user_dropped_from_the_reference_data_loses_access(pg: bool) {
    let Some(e) = Env::new(pg, |_| {}).await else {
        return;
    };
    let s = &e.s;
    let vol = s.enroll("usr-vol-1").await;
    let other = s.enroll("usr-vol-2").await;
    let mut without = bundle();
    without.users.retain(|u| u.id != "usr-vol-1");
    s.store.put_reference(&without).await.unwrap();
    let err = api_error(s.me(&vol).await, StatusCode::UNAUTHORIZED, "user_disabled").await;
    assert!(err.message.contains("reference data"), "{err:?}");
    let r = s.login_as("usr-vol-1", DEMO_PASSWORD).await;
    api_error(r, StatusCode::UNAUTHORIZED, "user_disabled").await;
    assert_eq!(s.me(&other).await.status(), StatusCode::OK);
    // Listed again: back.
    s.store.put_reference(&bundle()).await.unwrap();
    assert_eq!(s.me(&vol).await.status(), StatusCode::OK);
    e.finish().await;
}
both_backends!(a_user_dropped_from_the_reference_data_loses_access);

/// Sessions end at a fixed time, device tokens after an idle period; a lifetime of 0 makes
/// both end at once, so no test waits.
async fn expired_sessions_and_idle_device_tokens_are_refused(pg: bool) {
    let Some(e) = Env::new(pg, |c| {
        c.session_ttl_secs = 0;
        c.device_token_idle_secs = 0;
    })
    .await
    else {
        return;
    };
    let s = &e.s;
    let session = s.login("usr-admin-1").await;
    let device = s.enroll("usr-insp-1").await;
    for token in [&session, &device] {
        api_error(s.me(token).await, StatusCode::UNAUTHORIZED, "token_expired").await;
    }
    e.finish().await;
}
both_backends!(expired_sessions_and_idle_device_tokens_are_refused);

/// With the default lifetimes, tokens keep working across requests (each use of a device
/// token restarts its idle period).
#[tokio::test]
async fn default_lifetimes_keep_tokens_working() {
    let s = Server::start_temp().await;
    let c = Config::default();
    assert_eq!(c.device_token_idle_secs, 180 * 86_400);
    assert_eq!(c.session_ttl_secs, 12 * 3600);
    let device = s.enroll("usr-insp-1").await;
    for _ in 0..3 {
        assert_eq!(s.me(&device).await.status(), StatusCode::OK);
    }
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Item 8: what /reference shows each role

async fn reference_phone_numbers_only_for_the_office(pg: bool) {
    let Some(e) = Env::new(pg, |_| {}).await else {
        return;
    };
    let s = &e.s;
    let get = |token: String| {
        let s = &s;
        async move {
            let r = s.get(&token, "/reference").await;
            assert_eq!(r.status(), StatusCode::OK);
            r.json::<ReferenceResponse>().await.unwrap().bundle.unwrap()
        }
    };
    for user in ["usr-vol-1", "usr-insp-1", "usr-hdl-1"] {
        let b = get(s.enroll(user).await).await;
        assert_eq!(
            b.users.len(),
            bundle().users.len(),
            "names stay for display"
        );
        for u in &b.users {
            if u.id == user {
                assert!(u.phone.is_some(), "{user} sees their own number");
            } else {
                assert_eq!(u.phone, None, "{user} sees {}'s number", u.id);
                assert!(!u.name.is_empty());
            }
        }
    }
    let b = get(s.login("usr-admin-1").await).await;
    assert!(
        b.users.iter().all(|u| u.phone.is_some()),
        "the office sees all"
    );
    e.finish().await;
}
both_backends!(reference_phone_numbers_only_for_the_office);

// ---------------------------------------------------------------------------------------------
// Item 10: enrollment

#[tokio::test]
async fn enrollment_code_guessing_is_rate_limited_per_address() {
    let s = Server::start_temp().await;
    let limit = Config::default().enroll_failures_per_ip as usize;
    // Guesses sent together: all are counted, not only the ones that finished first.
    let codes: Vec<String> = (0..30).map(|i| format!("ZZZZZ-{i:05}")).collect();
    let guesses = codes.iter().map(|c| s.enroll_with(c, Uuid::now_v7()));
    let answers = futures_join_all(guesses).await;
    let wrong = answers
        .iter()
        .filter(|r| r.status() == StatusCode::BAD_REQUEST)
        .count();
    let limited = answers
        .iter()
        .filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((wrong, limited), (limit, 30 - limit));
    let r = s.enroll_with("ABCDE-FGHJK", Uuid::now_v7()).await;
    api_error(r, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    s.stop().await;
}

/// Right codes do not count: a city office enrolling a roomful of phones through one NAT
/// address is not throttled.
#[tokio::test]
async fn right_codes_do_not_count_against_the_address() {
    let s = Server::start_temp().await;
    for l in &s.logins {
        s.enroll(&l.user_id).await;
    }
    assert!(s.logins.len() > Config::default().enroll_failures_per_ip as usize);
    s.stop().await;
}

/// A device whose enrollment answer keeps getting lost repeats the same code, token and device
/// (idempotent): those repeats are right answers, not guesses.
#[tokio::test]
async fn repeating_a_lost_enrollment_is_not_guessing() {
    let s = Server::start_temp().await;
    let body = json!({
        "code": s.code_of("usr-insp-1"),
        "device_id": Uuid::now_v7(),
        "token": "r".repeat(40),
    });
    for _ in 0..(Config::default().enroll_failures_per_ip + 5) {
        let r = s.enroll_raw(&body).await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    s.stop().await;
}

async fn a_reused_device_id_cannot_take_another_users_tag(pg: bool) {
    let Some(e) = Env::new(pg, |_| {}).await else {
        return;
    };
    let s = &e.s;
    let admin = s.login("usr-admin-1").await;
    let dev = Uuid::now_v7();
    let r = s.enroll_with(&s.code_of("usr-vol-1"), dev).await;
    assert_eq!(r.status(), StatusCode::OK);
    let first: EnrollResponse = r.json().await.unwrap();

    // Device ids travel in events: another user enrolls with the victim's.
    let code = s.code_of("usr-vol-2");
    let r = s.enroll_with(&code, dev).await;
    let err = api_error(r, StatusCode::CONFLICT, "device_in_use").await;
    assert!(err.message.contains(&dev.to_string()), "{err:?}");
    // The victim's device is untouched and the refused code was not used up.
    let me1: Me = s.me(&first.token).await.json().await.unwrap();
    assert_eq!(
        (me1.user_id.as_str(), me1.device_id),
        ("usr-vol-1", Some(dev))
    );
    let r = s.enroll_with(&code, Uuid::now_v7()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let second: EnrollResponse = r.json().await.unwrap();
    assert_ne!(second.device_tag, first.device_tag);

    // The same user re-enrolling the same phone keeps its tag.
    let again = s.new_code(&admin, "usr-vol-1").await;
    let r = s.enroll_with(&again, dev).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<EnrollResponse>().await.unwrap().device_tag,
        first.device_tag
    );

    // A phone handed over after the office revoked it: the new user gets it, same tag.
    let r = s
        .post(&admin, &format!("/admin/devices/{dev}/revoke"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let handover = s.new_code(&admin, "usr-vol-3").await;
    let r = s.enroll_with(&handover, dev).await;
    assert_eq!(r.status(), StatusCode::OK);
    let third: EnrollResponse = r.json().await.unwrap();
    assert_eq!(third.user.id, "usr-vol-3");
    assert_eq!(third.device_tag, first.device_tag);
    e.finish().await;
}
both_backends!(a_reused_device_id_cannot_take_another_users_tag);

/// Without `public_url`, the QR names the server's own address on the connection; a forged
/// Host header used to be written into the QR (sending the device, its records and photos to
/// the attacker's server).
#[tokio::test]
async fn the_qr_code_ignores_a_forged_host_header() {
    let s = Server::start_temp().await;
    let admin = s.login("usr-admin-1").await;
    let code = s.new_code(&admin, "usr-vol-2").await;
    let origin = s.base.trim_end_matches("/api/v1").to_owned();
    let r = s
        .http
        .get(s.url(&format!("/admin/enroll-codes/{code}/qr.svg")))
        .bearer_auth(&admin)
        .header("host", "evil.example:80")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let svg = r.text().await.unwrap();
    let honest =
        fieldcheck_server::qr::svg(&fieldcheck_server::qr::enroll_uri(&origin, &code)).unwrap();
    let forged = fieldcheck_server::qr::svg(&fieldcheck_server::qr::enroll_uri(
        "http://evil.example:80",
        &code,
    ))
    .unwrap();
    assert_ne!(svg, forged, "the QR names the forged host");
    assert_eq!(svg, honest, "the QR names {origin}");
    s.stop().await;

    // With `public_url`, that is what the QR names.
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.public_url = "https://fieldcheck.city.example".into();
    let s = Server::start_with(config, None, true).await;
    let admin = s.login("usr-admin-1").await;
    let code = s.new_code(&admin, "usr-vol-2").await;
    let svg = s
        .get(&admin, &format!("/admin/enroll-codes/{code}/qr.svg"))
        .await
        .text()
        .await
        .unwrap();
    let want = fieldcheck_server::qr::svg(&fieldcheck_server::qr::enroll_uri(
        "https://fieldcheck.city.example",
        &code,
    ))
    .unwrap();
    assert_eq!(svg, want);
    s.stop().await;
}

/// Everything the server logs at TRACE while enrolling, signing in and rendering a QR code,
/// captured: no code, token or password in it.
#[tokio::test]
async fn no_codes_tokens_or_passwords_in_the_logs() {
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // The test runtime is single-threaded: the server's tasks run on this thread.
    let _guard = tracing::subscriber::set_default(subscriber);

    let s = Server::start_temp().await;
    let admin = s.login("usr-admin-1").await;
    let code = s.new_code(&admin, "usr-vol-2").await;
    let r = s
        .get(&admin, &format!("/admin/enroll-codes/{code}/qr.png"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let device_token = "d".repeat(24) + &Uuid::new_v4().simple().to_string();
    let r = s
        .enroll_raw(&json!({"code": code, "device_id": Uuid::now_v7(), "token": device_token}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(s.me(&device_token).await.status(), StatusCode::OK);
    s.stop().await;

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("enroll-codes/***/qr.png"),
        "the request was traced, redacted: {text}"
    );
    let plain = fieldcheck_server::auth::normalize_enroll_code(&code);
    for secret in [
        code.as_str(),
        plain.as_str(),
        admin.as_str(),
        device_token.as_str(),
        DEMO_PASSWORD,
    ] {
        assert!(!text.contains(secret), "{secret} in the logs:\n{text}");
    }
}

/// The OpenAPI document says what these endpoints answer and the limits they enforce.
#[tokio::test]
async fn the_openapi_document_states_the_access_rules() {
    let s = Server::start_temp().await;
    let doc: serde_json::Value = reqwest::get(s.url("/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let statuses = |method: &str, path: &str| -> Vec<String> {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not documented");
        op["responses"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    for (method, path, want) in [
        (
            "post",
            "/api/v1/login",
            &["200", "400", "401", "413", "426", "429"][..],
        ),
        (
            "post",
            "/api/v1/enroll",
            &["200", "400", "401", "409", "413", "426", "429"],
        ),
        ("post", "/api/v1/logout", &["204", "401", "426"]),
        ("get", "/api/v1/me", &["200", "401", "426"]),
        ("get", "/api/v1/reference", &["200", "400", "401", "426"]),
        (
            "post",
            "/api/v1/admin/devices/{device_id}/revoke",
            &["200", "400", "401", "403", "426"],
        ),
        (
            "post",
            "/api/v1/admin/users/{user_id}/revoke",
            &["200", "401", "403", "404", "426"],
        ),
        (
            "post",
            "/api/v1/admin/users/{user_id}/disable",
            &["200", "401", "403", "404", "426"],
        ),
        (
            "post",
            "/api/v1/admin/users/{user_id}/enable",
            &["200", "401", "403", "404", "426"],
        ),
    ] {
        assert_eq!(statuses(method, path), want, "{method} {path}");
    }
    let schemas = &doc["components"]["schemas"];
    let login = &schemas["LoginRequest"]["properties"];
    assert_eq!(login["username"]["maxLength"], 128);
    assert_eq!(login["password"]["maxLength"], 1024);
    let token = &schemas["EnrollRequest"]["properties"]["token"];
    assert_eq!(
        (&token["minLength"], &token["maxLength"]),
        (&json!(32), &json!(256))
    );
    let ttl = &schemas["CreateEnrollCodeRequest"]["properties"]["ttl_minutes"];
    assert_eq!(
        (&ttl["minimum"], &ttl["maximum"]),
        (&json!(1), &json!(43200))
    );
    for name in ["RevokeResponse", "UserAccess"] {
        assert!(schemas[name].is_object(), "schema {name}");
    }
    s.stop().await;
}
