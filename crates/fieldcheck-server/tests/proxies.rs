//! The client address behind reverse proxies (`client_ip.rs`, `trusted_proxies`), over real
//! HTTP: the tests' connections come from 127.0.0.1 and play the proxy by sending
//! `X-Forwarded-For` as nginx would (whatever the client sent, then the client's address).
//! What is observed is the sign-in and enrollment limits' buckets and `/metrics`' loopback
//! check, the places that use the address.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

const XFF: &str = "x-forwarded-for";
const CLIENT_A: &str = "198.51.100.7";
const CLIENT_B: &str = "203.0.113.9";

/// A seeded server with small failure limits, trusting `trusted` (empty: none).
async fn server(dir: &std::path::Path, trusted: &[&str]) -> Server {
    let config = fieldcheck_server::Config {
        login_failures_per_user: 2,
        login_failures_per_ip: 3,
        enroll_failures_per_ip: 3,
        trusted_proxies: fieldcheck_server::client_ip::TrustedProxies::parse(
            trusted.iter().copied(),
        )
        .unwrap(),
        ..test_config(dir)
    };
    Server::start_with(config, None, true).await
}

/// `POST /enroll` with a code nobody issued, as forwarded with `xff` (none: no header).
async fn wrong_code(s: &Server, xff: Option<&str>) -> StatusCode {
    let mut r = s.http.post(s.url("/enroll")).json(&json!({
        "code": "WRONG-CODE-1", "device_id": Uuid::now_v7(), "device_name": "proxy test"
    }));
    if let Some(x) = xff {
        r = r.header(XFF, x);
    }
    r.send().await.unwrap().status()
}

/// `POST /login` as `user` with `password`, forwarded with `xff`.
async fn login(s: &Server, xff: &str, user: &str, password: &str) -> StatusCode {
    s.http
        .post(s.url("/login"))
        .header(XFF, xff)
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
}

/// `POST /console/session` (the console's sign-in shares `/login`'s limits).
async fn console_sign_in(s: &Server, xff: &str, user: &str) -> StatusCode {
    s.http
        .post(s.url("/console/session"))
        .header(XFF, xff)
        .json(&json!({"username": user, "password": fieldcheck_server::demo::DEMO_PASSWORD}))
        .send()
        .await
        .unwrap()
        .status()
}

const RIGHT: &str = fieldcheck_server::demo::DEMO_PASSWORD;

#[tokio::test]
async fn a_forged_forwarded_for_from_an_untrusted_peer_changes_no_bucket() {
    // Trusting nobody, and trusting only other proxies than the peer (127.0.0.1): the same.
    for trusted in [&[][..], &["10.0.0.0/8", "::1"][..]] {
        let dir = tempfile::tempdir().unwrap();
        let s = server(dir.path(), trusted).await;
        // A new "address" on every guess: all of them are the peer's.
        for (i, forged) in ["192.0.2.1", "192.0.2.2", "10.0.0.1, 192.0.2.3"]
            .into_iter()
            .enumerate()
        {
            assert_eq!(
                wrong_code(&s, Some(forged)).await,
                StatusCode::BAD_REQUEST,
                "guess {i} ({trusted:?})"
            );
        }
        for forged in [Some("192.0.2.4"), Some(CLIENT_B), None] {
            assert_eq!(
                wrong_code(&s, forged).await,
                StatusCode::TOO_MANY_REQUESTS,
                "{forged:?} escaped the limit ({trusted:?})"
            );
        }
        // Sign-ins too: the per-address budget across usernames is one.
        for (i, user) in ["usr-admin-1", "usr-vol-1", "usr-insp-1"]
            .iter()
            .enumerate()
        {
            let xff = format!("192.0.2.{}", 10 + i);
            assert_eq!(
                login(&s, &xff, user, "wrong").await,
                StatusCode::UNAUTHORIZED
            );
        }
        assert_eq!(
            login(&s, CLIENT_B, "usr-admin-1", RIGHT).await,
            StatusCode::TOO_MANY_REQUESTS
        );
        s.stop().await;
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), &["127.0.0.1/32"]).await;

    // Client A guesses enrollment codes until it is stopped; B is not.
    for _ in 0..3 {
        assert_eq!(
            wrong_code(&s, Some(CLIENT_A)).await,
            StatusCode::BAD_REQUEST
        );
    }
    assert_eq!(
        wrong_code(&s, Some(CLIENT_A)).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // A writing B's address in front of its own (nginx appends A's) is still A.
    let forged = format!("{CLIENT_B}, {CLIENT_A}");
    assert_eq!(
        wrong_code(&s, Some(&forged)).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        wrong_code(&s, Some(CLIENT_B)).await,
        StatusCode::BAD_REQUEST
    );
    // Nor the proxy's own requests (no header: the peer is the client).
    assert_eq!(wrong_code(&s, None).await, StatusCode::BAD_REQUEST);
    // B's right code enrolls.
    let r = s
        .http
        .post(s.url("/enroll"))
        .header(XFF, CLIENT_B)
        .json(&json!({"code": s.code_of("usr-insp-1"), "device_id": Uuid::now_v7(), "device_name": "b"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // A's wrong passwords lock the admin account for A only.
    for _ in 0..2 {
        assert_eq!(
            login(&s, CLIENT_A, "usr-admin-1", "wrong").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login(&s, CLIENT_A, "usr-admin-1", RIGHT).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        console_sign_in(&s, CLIENT_A, "usr-admin-1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        login(&s, CLIENT_B, "usr-admin-1", RIGHT).await,
        StatusCode::OK
    );
    assert_eq!(
        console_sign_in(&s, CLIENT_B, "usr-admin-1").await,
        StatusCode::OK
    );
    // IPv6 clients are clients too.
    assert_eq!(
        login(&s, "2001:db8::7", "usr-admin-1", RIGHT).await,
        StatusCode::OK
    );

    // A proxy that forwards garbage: the request counts against the proxy itself (the peer),
    // not against the client it names nor nobody.
    // The proxy's own bucket had one failure already: these are its second and third.
    for _ in 0..2 {
        assert_eq!(
            wrong_code(&s, Some("unknown")).await,
            StatusCode::BAD_REQUEST
        );
    }
    assert_eq!(
        wrong_code(&s, Some("not-an-address")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(wrong_code(&s, None).await, StatusCode::TOO_MANY_REQUESTS);
    // Garbage the client wrote left of its own address is not read.
    let c = "192.0.2.77";
    assert_eq!(
        wrong_code(&s, Some(&format!("unknown, {c}"))).await,
        StatusCode::BAD_REQUEST
    );
    s.stop().await;
}

#[tokio::test]
async fn proxies_in_a_chain_are_skipped_to_the_client() {
    let dir = tempfile::tempdir().unwrap();
    // nginx on this machine behind a load balancer on 10.0.0.0/8.
    let s = server(dir.path(), &["127.0.0.1", "10.0.0.0/8"]).await;
    // A's guesses arrive through different balancers: one bucket.
    for chain in [
        format!("{CLIENT_A}, 10.1.1.1"),
        format!("{CLIENT_A}, 10.2.2.2"),
        format!("192.0.2.1, {CLIENT_A}, 10.2.2.2, 10.3.3.3"),
    ] {
        assert_eq!(
            wrong_code(&s, Some(&chain)).await,
            StatusCode::BAD_REQUEST,
            "{chain}"
        );
    }
    assert_eq!(
        wrong_code(&s, Some(&format!("{CLIENT_A}, 10.1.1.1"))).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        wrong_code(&s, Some(&format!("{CLIENT_B}, 10.1.1.1"))).await,
        StatusCode::BAD_REQUEST
    );
    s.stop().await;

    // Without the balancer listed, the balancer is the client: everyone behind it shares.
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), &["127.0.0.1"]).await;
    for c in [CLIENT_A, "192.0.2.1", "192.0.2.2"] {
        assert_eq!(
            wrong_code(&s, Some(&format!("{c}, 10.1.1.1"))).await,
            StatusCode::BAD_REQUEST
        );
    }
    assert_eq!(
        wrong_code(&s, Some(&format!("{CLIENT_B}, 10.1.1.1"))).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        wrong_code(&s, Some(&format!("{CLIENT_B}, 10.9.9.9"))).await,
        StatusCode::BAD_REQUEST
    );
    s.stop().await;
}

/// `/metrics` without a token serves loopback clients: the client behind a trusted proxy,
/// so what nginx on this machine forwards from the network is refused.
#[tokio::test]
async fn metrics_judge_the_forwarded_client_not_the_local_proxy() {
    let plain = reqwest::Client::new();
    let scrape = |s: &Server, xff: Option<&str>| {
        let mut r = plain.get(s.url("/metrics").replace("/api/v1", ""));
        if let Some(x) = xff {
            r = r.header(XFF, x);
        }
        async move { r.send().await.unwrap().status() }
    };
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), &["127.0.0.1"]).await;
    // Prometheus on this machine, directly or through the proxy.
    assert_eq!(scrape(&s, None).await, StatusCode::OK);
    assert_eq!(scrape(&s, Some("127.0.0.1")).await, StatusCode::OK);
    // Someone on the network, through the proxy, also claiming to be local.
    for xff in [CLIENT_A, "127.0.0.1, 198.51.100.7", "2001:db8::1"] {
        assert_eq!(scrape(&s, Some(xff)).await, StatusCode::FORBIDDEN, "{xff}");
    }
    s.stop().await;

    // Trusting no proxy, the header is not read: the loopback peer is served.
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), &[]).await;
    assert_eq!(scrape(&s, Some(CLIENT_A)).await, StatusCode::OK);
    s.stop().await;
}
