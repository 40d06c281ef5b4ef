//! The API over real HTTP: a server on port 0, reqwest as the client.

mod common;

use common::*;
use fieldcheck_domain::event::EventBody;
use fieldcheck_protocol::sync::{
    BlobCheckResponse, BlobState, EnrollResponse, Me, PROTOCOL_HEADER, PullItem, PushResponse,
    PushStatus, ReferenceResponse,
};
use fieldcheck_server::demo::DEMO_PASSWORD;
use fieldcheck_server::policy::refusal;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn enroll_good_expired_and_reused_codes() {
    let s = Server::start_temp().await;
    let dev = Uuid::now_v7();
    let code = s.code_of("usr-insp-1");
    let r = s
        .http
        .post(s.url("/enroll"))
        .json(&json!({"code": code.to_lowercase(), "device_id": dev, "device_name": "Pixel"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let e: EnrollResponse = r.json().await.unwrap();
    assert_eq!(e.user.id, "usr-insp-1");
    assert_eq!(e.device_tag.len(), 4);
    let me: Me = s
        .http
        .get(s.url("/me"))
        .bearer_auth(&e.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me.user_id, "usr-insp-1");
    assert_eq!(me.device_id, Some(dev));
    assert_eq!(me.district_ids, vec!["s-dj".to_owned()]);

    // Reused.
    let r = s
        .http
        .post(s.url("/enroll"))
        .json(&json!({"code": code, "device_id": Uuid::now_v7()}))
        .send()
        .await
        .unwrap();
    api_error(r, StatusCode::BAD_REQUEST, "enroll_code_invalid").await;
    // Expired.
    let expired = "ABCDE-FGHJK";
    s.store
        .create_enroll_code(
            &fieldcheck_server::auth::hash_secret(&fieldcheck_server::auth::normalize_enroll_code(
                expired,
            )),
            "usr-vol-1",
            now_ms() - 1,
        )
        .await
        .unwrap();
    let r = s
        .http
        .post(s.url("/enroll"))
        .json(&json!({"code": expired, "device_id": Uuid::now_v7()}))
        .send()
        .await
        .unwrap();
    api_error(r, StatusCode::BAD_REQUEST, "enroll_code_invalid").await;
    s.stop().await;
}

/// The answer to an enrollment is lost: the device retries with the same code and its own
/// token and gets the same enrollment; another device with the same code is refused.
#[tokio::test]
async fn enrollment_with_a_device_token_survives_a_lost_answer() {
    let s = Server::start_temp().await;
    let dev = Uuid::now_v7();
    let code = s.code_of("usr-insp-1");
    let token = "t".repeat(20) + &Uuid::new_v4().simple().to_string();
    let body = json!({"code": code, "device_id": dev, "device_name": "Pixel", "token": token});
    // First attempt: the server commits, the answer never arrives (we drop it).
    let first = s
        .http
        .post(s.url("/enroll"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let first: EnrollResponse = first.json().await.unwrap();
    assert_eq!(first.token, token);
    // The retry: same code, token and device -> the same enrollment.
    let again = s
        .http
        .post(s.url("/enroll"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    let again: EnrollResponse = again.json().await.unwrap();
    assert_eq!(again.token, token);
    assert_eq!(again.user.id, "usr-insp-1");
    assert_eq!(again.device_tag, first.device_tag);
    let me: Me = s
        .http
        .get(s.url("/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me.device_id, Some(dev));
    // Another device (or token) with the same code: refused as used.
    let other_token = "o".repeat(40);
    for (device, tok) in [
        (Uuid::now_v7(), token.as_str()),
        (dev, other_token.as_str()),
    ] {
        let r = s
            .http
            .post(s.url("/enroll"))
            .json(&json!({"code": code, "device_id": device, "token": tok}))
            .send()
            .await
            .unwrap();
        api_error(r, StatusCode::BAD_REQUEST, "enroll_code_invalid").await;
    }
    // The refused attempts created no token.
    let r = s
        .http
        .get(s.url("/me"))
        .bearer_auth(&other_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // A short or non-ASCII token is a bad request and does not use up a code.
    let fresh = s.code_of("usr-vol-1");
    for bad in ["short", &"密".repeat(40)] {
        let r = s
            .http
            .post(s.url("/enroll"))
            .json(&json!({"code": fresh, "device_id": Uuid::now_v7(), "token": bad}))
            .send()
            .await
            .unwrap();
        api_error(r, StatusCode::BAD_REQUEST, "malformed_request").await;
    }
    let ok = s
        .http
        .post(s.url("/enroll"))
        .json(&json!({"code": fresh, "device_id": Uuid::now_v7()}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    s.stop().await;
}

#[tokio::test]
async fn wrong_or_absent_token_is_401_and_old_protocol_is_426() {
    let s = Server::start_temp().await;
    let r = s.http.get(s.url("/me")).send().await.unwrap();
    api_error(r, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let r = s
        .http
        .get(s.url("/me"))
        .bearer_auth("0".repeat(64))
        .send()
        .await
        .unwrap();
    api_error(r, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let r = s
        .http
        .post(s.url("/push"))
        .bearer_auth("nope")
        .json(&json!({"events": []}))
        .send()
        .await
        .unwrap();
    api_error(r, StatusCode::UNAUTHORIZED, "unauthorized").await;

    let bare = reqwest::Client::new();
    let r = bare.get(s.url("/me")).send().await.unwrap();
    api_error(r, StatusCode::UPGRADE_REQUIRED, "protocol_too_old").await;
    let r = bare
        .get(s.url("/me"))
        .header(PROTOCOL_HEADER, "0")
        .send()
        .await
        .unwrap();
    api_error(r, StatusCode::UPGRADE_REQUIRED, "protocol_too_old").await;
    let r = s.http.get(s.url("/no/such/route")).send().await.unwrap();
    api_error(r, StatusCode::NOT_FOUND, "not_found").await;
    s.stop().await;
}

#[tokio::test]
async fn login_works_and_is_rate_limited() {
    let s = Server::start_temp().await;
    let token = s.login("usr-admin-1").await;
    let r = s
        .http
        .get(s.url("/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    for _ in 0..5 {
        let r = s
            .http
            .post(s.url("/login"))
            .json(&json!({"username": "usr-admin-2", "password": "wrong"}))
            .send()
            .await
            .unwrap();
        api_error(r, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    // Even the right password is refused while the limit holds.
    let r = s
        .http
        .post(s.url("/login"))
        .json(&json!({"username": "usr-admin-2", "password": DEMO_PASSWORD}))
        .send()
        .await
        .unwrap();
    api_error(r, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // Other users are unaffected.
    s.login("usr-admin-1").await;
    s.stop().await;
}

#[tokio::test]
async fn push_pull_round_trip() {
    let s = Server::start_temp().await;
    let vol = s.enroll("usr-vol-1").await;
    let admin = s.login("usr-admin-1").await;
    let handler = s.enroll("usr-hdl-1").await;
    let p = Uuid::now_v7();
    let t = now_ms() - 60_000;
    let rep = report(&user("usr-vol-1"), p, "c-dm", t);
    let r = s.push(&vol, vec![rep.clone()]).await;
    assert_eq!(r.results[0].status, PushStatus::Applied);
    // Retried batch: duplicate, nothing doubled.
    let r = s.push(&vol, vec![rep.clone()]).await;
    assert_eq!(r.results[0].status, PushStatus::Duplicate);

    let a = user("usr-admin-1");
    let r = s
        .push(
            &admin,
            vec![filed(&a, p, t + 1), dispatched(&a, p, "u-s-dj", t + 2)],
        )
        .await;
    assert!(r.results.iter().all(|x| x.status == PushStatus::Applied));
    assert_eq!(
        r.results[1].state.as_ref().unwrap().unit_id.as_deref(),
        Some("u-s-dj")
    );

    let pulled = s.pull(&handler, 0).await;
    let kinds: Vec<&str> = pulled
        .items
        .iter()
        .map(|i| match i {
            PullItem::Event { event, .. } => event.kind(),
            PullItem::Remove { .. } => "remove",
        })
        .collect();
    assert_eq!(
        kinds,
        ["problem.reported", "problem.filed", "problem.dispatched"]
    );
    let h = user("usr-hdl-1");
    let r = s.push(&handler, vec![accepted(&h, p, t + 3)]).await;
    assert_eq!(r.results[0].status, PushStatus::Applied);
    // The volunteer follows their own report.
    let all = s.pull(&vol, 0).await;
    assert_eq!(all.items.len(), 4);
    assert_eq!(s.store.event_count().await.unwrap(), 4);
    s.stop().await;
}

fn refused_code(r: &PushResponse, i: usize) -> String {
    match &r.results[i].status {
        PushStatus::Refused { code, .. } => code.clone(),
        other => panic!("expected refused, got {other:?}"),
    }
}

#[tokio::test]
async fn role_and_scope_refusals_through_push() {
    let s = Server::start_temp().await;
    let admin = s.login("usr-admin-1").await;
    let vol = s.enroll("usr-vol-1").await;
    let insp2 = s.enroll("usr-insp-2").await;
    let hdl2 = s.enroll("usr-hdl-2").await;
    let a = user("usr-admin-1");
    let p = Uuid::now_v7();
    let t = now_ms() - 60_000;
    s.push(
        &admin,
        vec![
            report(&a, p, "c-dm", t),
            filed(&a, p, t + 1),
            dispatched(&a, p, "u-s-dj", t + 2),
        ],
    )
    .await;
    let before = s.store.event_count().await.unwrap();

    // A volunteer may not file.
    let r = s
        .push(&vol, vec![filed(&user("usr-vol-1"), p, t + 5)])
        .await;
    assert_eq!(refused_code(&r, 0), refusal::ROLE_NOT_ALLOWED);
    // Claiming to be someone else.
    let r = s.push(&vol, vec![filed(&a, p, t + 5)]).await;
    assert_eq!(refused_code(&r, 0), refusal::ACTOR_MISMATCH);
    // Claiming another role.
    let mut fake = report(&user("usr-vol-1"), Uuid::now_v7(), "c-dm", t);
    fake.role = fieldcheck_domain::Role::Admin;
    let r = s.push(&vol, vec![fake]).await;
    assert_eq!(refused_code(&r, 0), refusal::ROLE_MISMATCH);
    // An inspector of s-nj verifying a problem in s-dj.
    let r = s
        .push(
            &insp2,
            vec![ev(
                &user("usr-insp-2"),
                p,
                t + 6,
                EventBody::ProblemVerified {
                    passed: true,
                    note: None,
                    deadline: None,
                },
            )],
        )
        .await;
    assert_eq!(refused_code(&r, 0), refusal::OUT_OF_SCOPE);
    // A handler of another unit accepting it.
    let r = s
        .push(&hdl2, vec![accepted(&user("usr-hdl-2"), p, t + 7)])
        .await;
    assert_eq!(refused_code(&r, 0), refusal::OUT_OF_SCOPE);
    // A handler claiming another unit.
    let mut claim = accepted(&user("usr-hdl-2"), p, t + 7);
    claim.actor_unit = Some("u-s-dj".into());
    let r = s.push(&hdl2, vec![claim]).await;
    assert_eq!(refused_code(&r, 0), refusal::ROLE_MISMATCH);
    assert_eq!(
        s.store.event_count().await.unwrap(),
        before,
        "nothing stored"
    );
    // And the legitimate handler may.
    let hdl1 = s.enroll("usr-hdl-1").await;
    let r = s
        .push(&hdl1, vec![accepted(&user("usr-hdl-1"), p, t + 8)])
        .await;
    assert_eq!(r.results[0].status, PushStatus::Applied);
    s.stop().await;
}

#[tokio::test]
async fn malformed_and_oversized_requests_are_clear_4xx_and_store_nothing() {
    let s = Server::start_temp().await;
    let admin = s.login("usr-admin-1").await;
    let send = |body: Vec<u8>| {
        s.http
            .post(s.url("/push"))
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let r = send(b"{not json".to_vec()).await.unwrap();
    api_error(r, StatusCode::BAD_REQUEST, "malformed_request").await;
    let r = send(br#"{"events": 5}"#.to_vec()).await.unwrap();
    let e = api_error(r, StatusCode::BAD_REQUEST, "malformed_request").await;
    assert!(e.message.contains("invalid type"), "{e:?}");
    let r = send(br#"{"events": [{"id": "x"}]}"#.to_vec())
        .await
        .unwrap();
    api_error(r, StatusCode::BAD_REQUEST, "malformed_request").await;
    let big = format!(
        r#"{{"events": [], "pad": "{}"}}"#,
        "x".repeat(BODY_LIMIT + 10)
    );
    let r = send(big.into_bytes()).await.unwrap();
    api_error(r, StatusCode::PAYLOAD_TOO_LARGE, "too_large").await;
    let r = s
        .http
        .get(s.url("/pull?since=abc"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    api_error(r, StatusCode::BAD_REQUEST, "malformed_request").await;
    assert_eq!(s.store.event_count().await.unwrap(), 0);
    s.stop().await;
}

#[tokio::test]
async fn blobs_resume_verify_and_reject_bad_ids() {
    let s = Server::start_temp().await;
    let tok = s.enroll("usr-insp-1").await;
    let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    let hash = sha(&data);
    let check = |hashes: Vec<String>| {
        s.http
            .post(s.url("/blobs/check"))
            .bearer_auth(&tok)
            .json(&json!({ "hashes": hashes }))
            .send()
    };
    let put = |h: String, offset: usize, size: usize, body: Vec<u8>| {
        s.http
            .put(s.url(&format!("/blobs/{h}?offset={offset}&size={size}")))
            .bearer_auth(&tok)
            .body(body)
            .send()
    };
    let c: BlobCheckResponse = check(vec![hash.clone()])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        c.blobs[0],
        BlobState {
            hash: hash.clone(),
            complete: false,
            offset: 0
        }
    );

    let r = put(hash.clone(), 0, data.len(), data[..4000].to_vec())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let c: BlobCheckResponse = check(vec![hash.clone()])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(c.blobs[0].offset, 4000, "resume offset");
    let r = put(hash.clone(), 100, data.len(), data[100..].to_vec())
        .await
        .unwrap();
    api_error(r, StatusCode::CONFLICT, "bad_offset").await;
    let r = put(hash.clone(), 4000, data.len(), data[4000..].to_vec())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let got = s.get_blob(&tok, &hash).await;
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.bytes().await.unwrap().as_ref(), data.as_slice());

    // Bytes that do not match their hash: 422 and nothing kept.
    let wrong = sha(b"something else");
    let r = put(wrong.clone(), 0, data.len(), data.clone())
        .await
        .unwrap();
    api_error(r, StatusCode::UNPROCESSABLE_ENTITY, "hash_mismatch").await;
    let c: BlobCheckResponse = check(vec![wrong.clone()])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        c.blobs[0],
        BlobState {
            hash: wrong.clone(),
            complete: false,
            offset: 0
        }
    );
    let r = s.get_blob(&tok, &wrong).await;
    api_error(r, StatusCode::NOT_FOUND, "not_found").await;

    // Ids that are not lowercase SHA-256 hex, including traversal attempts.
    for bad in [
        "..%2F..%2Fetc%2Fpasswd",
        // A bare ".." never reaches the server: URL parsing folds it into the parent path.
        "ABCDEF",
        &hash.to_uppercase(),
        "a%2F..%2Fb",
    ] {
        let r = s
            .http
            .put(s.url(&format!("/blobs/{bad}?offset=0")))
            .bearer_auth(&tok)
            .body(b"x".to_vec())
            .send()
            .await
            .unwrap();
        api_error(r, StatusCode::BAD_REQUEST, "invalid_hash").await;
    }
    let r = check(vec!["../x".into()]).await.unwrap();
    api_error(r, StatusCode::BAD_REQUEST, "invalid_hash").await;
    s.stop().await;
}

#[tokio::test]
async fn reference_data_is_versioned() {
    let s = Server::start_temp().await;
    let tok = s.enroll("usr-vol-2").await;
    let r: ReferenceResponse = s
        .http
        .get(s.url("/reference"))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r.version, 1);
    assert_eq!(r.bundle.unwrap().points.len(), bundle().points.len());
    let r: ReferenceResponse = s
        .http
        .get(s.url("/reference?since_version=1"))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(r.bundle.is_none());
    s.stop().await;
}
