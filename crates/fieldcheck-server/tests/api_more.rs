//! Over real HTTP on port 0: the OpenAPI document, admin enrollment codes and their QR images,
//! request limits and error bodies, blobs on object storage, the role × action matrix, and a
//! server restarted in the middle of an upload.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::DateTime;
use common::*;
use fieldcheck_domain::event::{EventBody, PhotoRef, PhotoRole, ProblemEdit, RejectReason};
use fieldcheck_domain::reference::User;
use fieldcheck_domain::{Event, EventOutcome};
use fieldcheck_protocol::sync::{
    BlobState, CreateEnrollCodeResponse, EnrollResponse, PROTOCOL_HEADER, PushStatus,
};
use fieldcheck_server::blobs::{BlobStore, ObjectBlobs};
use fieldcheck_server::demo::DemoLogin;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

fn blob_data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

// ---------------------------------------------------------------------------------------------
// 1. OpenAPI document

/// Written out by hand from the issue and the device client's needs, not read from the router.
const ROUTES: &[(&str, &str)] = &[
    ("post", "/api/v1/enroll"),
    ("post", "/api/v1/login"),
    ("post", "/api/v1/logout"),
    ("get", "/api/v1/me"),
    ("post", "/api/v1/push"),
    ("get", "/api/v1/pull"),
    ("post", "/api/v1/blobs/check"),
    ("put", "/api/v1/blobs/{hash}"),
    ("get", "/api/v1/blobs/{hash}"),
    ("get", "/api/v1/reference"),
    ("post", "/api/v1/admin/enroll-codes"),
    ("get", "/api/v1/admin/enroll-codes/{code}/qr.svg"),
    ("get", "/api/v1/admin/enroll-codes/{code}/qr.png"),
    ("post", "/api/v1/admin/devices/{device_id}/revoke"),
    ("post", "/api/v1/admin/users/{user_id}/revoke"),
    ("post", "/api/v1/admin/users/{user_id}/disable"),
    ("post", "/api/v1/admin/users/{user_id}/enable"),
    ("post", "/api/v1/admin/open311-keys"),
    ("get", "/api/v1/admin/open311-keys"),
    ("post", "/api/v1/admin/open311-keys/{id}/revoke"),
    ("post", "/api/v1/console/session"),
    ("get", "/api/v1/console/session"),
    ("delete", "/api/v1/console/session"),
    ("get", "/api/v1/console/problems"),
    ("get", "/api/v1/console/problems/{id}"),
    ("post", "/api/v1/console/problems/{id}/actions"),
    ("get", "/api/v1/console/problems/{id}/dispatch-preview"),
    ("post", "/api/v1/console/problems/bulk"),
    ("get", "/api/v1/console/photos/{hash}"),
    ("post", "/api/v1/console/photos"),
    ("get", "/api/v1/console/reference"),
    ("get", "/api/v1/console/overview"),
    ("get", "/api/v1/console/ranking"),
    ("get", "/api/v1/console/map"),
    ("post", "/api/v1/console/exports"),
    ("get", "/api/v1/console/exports"),
    ("get", "/api/v1/console/exports/{id}/file"),
    ("get", "/api/v1/console/report-schedules"),
    ("post", "/api/v1/console/report-schedules"),
    ("post", "/api/v1/console/report-schedules/{id}/stop"),
    ("post", "/api/v1/console/setup/import/preview"),
    ("post", "/api/v1/console/setup/import/apply"),
    ("get", "/api/v1/console/setup/template.xlsx"),
    ("get", "/api/v1/console/setup/export.xlsx"),
    ("get", "/api/v1/console/setup/users"),
    ("post", "/api/v1/console/setup/users"),
    ("post", "/api/v1/console/setup/users/{id}"),
    ("post", "/api/v1/console/setup/users/{id}/disable"),
    ("post", "/api/v1/console/setup/users/{id}/enable"),
    ("post", "/api/v1/console/setup/users/{id}/reset-password"),
    ("post", "/api/v1/console/setup/users/{id}/enroll-code"),
    ("get", "/api/v1/console/setup/devices"),
    ("post", "/api/v1/console/setup/devices/{id}/revoke"),
    ("get", "/api/v1/console/setup/audit"),
    ("get", "/api/v1/console/setup/points"),
    ("post", "/api/v1/console/setup/points"),
    ("post", "/api/v1/console/setup/points/{id}"),
    ("post", "/api/v1/console/setup/points/{id}/deactivate"),
    ("post", "/api/v1/console/setup/points/{id}/activate"),
    ("get", "/api/v1/console/setup/calendar"),
    ("post", "/api/v1/console/setup/calendar"),
    ("get", "/api/v1/console/setup/categories"),
    ("post", "/api/v1/console/setup/categories/{code}/deadline"),
    ("get", "/api/v1/console/setup/templates"),
    ("get", "/api/v1/console/rounds"),
    ("post", "/api/v1/console/rounds"),
    ("get", "/api/v1/console/rounds/{id}"),
    ("get", "/api/v1/console/rounds/{id}/results"),
    ("get", "/api/v1/console/volunteers"),
    ("post", "/api/v1/console/volunteers/teams"),
    ("post", "/api/v1/console/volunteers/teams/{id}/invite"),
    ("post", "/api/v1/console/volunteers/members/{user_id}"),
    ("put", "/api/v1/console/volunteers/settings"),
    // The volunteers' report page (`api/volunteer.rs`): its own cookie session.
    ("get", "/api/v1/volunteer/city"),
    ("get", "/api/v1/volunteer/invite/{code}"),
    ("post", "/api/v1/volunteer/join"),
    ("post", "/api/v1/volunteer/anonymous"),
    ("get", "/api/v1/volunteer/me"),
    ("post", "/api/v1/volunteer/signout"),
    ("get", "/api/v1/volunteer/nearby"),
    ("get", "/api/v1/volunteer/reports"),
    ("post", "/api/v1/volunteer/reports"),
    ("post", "/api/v1/volunteer/reports/{id}/photos"),
    ("get", "/api/v1/volunteer/photos/{hash}"),
    ("get", "/api/v1/volunteer/team/members"),
    ("post", "/api/v1/volunteer/team/members/{user_id}"),
    ("get", "/api/v1/tasks"),
    ("get", "/api/v1/map"),
    ("get", "/api/v1/map/package"),
    ("get", "/api/v1/openapi.json"),
    // The operators' routes (`ops.rs`): no protocol header.
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    // Open311 GeoReport v2 (`api/open311.rs`): the spec's shapes, no protocol header.
    ("get", "/open311/v2/discovery.{format}"),
    ("get", "/open311/v2/services.{format}"),
    ("get", "/open311/v2/services/{service_code}.{format}"),
    ("post", "/open311/v2/requests.{format}"),
    ("get", "/open311/v2/requests.{format}"),
    ("get", "/open311/v2/requests/{service_request_id}.{format}"),
    ("get", "/open311/v2/tokens/{token}.{format}"),
];

#[tokio::test]
async fn openapi_document_parses_and_lists_every_route() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), None, true).await;
    // Tools fetch it without the protocol header.
    let r = reqwest::get(s.url("/openapi.json")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let doc: Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    let paths = doc["paths"].as_object().unwrap();
    for (method, path) in ROUTES {
        let op = &paths.get(*path).unwrap_or_else(|| panic!("{path} missing"))[*method];
        assert!(op.is_object(), "{method} {path} missing");
        assert!(
            op["responses"].is_object(),
            "{method} {path} has no responses"
        );
    }
    let documented: usize = paths
        .values()
        .map(|item| {
            ["get", "post", "put", "delete", "patch"]
                .iter()
                .filter(|m| item.get(**m).is_some())
                .count()
        })
        .sum();
    assert_eq!(
        documented,
        ROUTES.len(),
        "no undocumented extras: {paths:?}"
    );
    // The push operation names its protocol header, bearer auth and the wire types.
    let push = &paths["/api/v1/push"]["post"];
    assert!(
        push["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == PROTOCOL_HEADER && p["in"] == "header")
    );
    assert!(push["requestBody"].to_string().contains("PushRequest"));
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "ApiError",
        "EnrollRequest",
        "EnrollResponse",
        "LoginRequest",
        "PushRequest",
        "PushResponse",
        "PushResult",
        "PushStatus",
        "PullResponse",
        "PullItem",
        "BlobCheckRequest",
        "BlobState",
        "ReferenceResponse",
        "Me",
        "CreateEnrollCodeRequest",
        "CreateEnrollCodeResponse",
    ] {
        assert!(schemas.contains_key(name), "schema {name} missing");
    }
    assert_eq!(
        schemas["BlobState"]["required"],
        json!(["hash", "complete", "offset"])
    );

    // Every documented route exists on the server (no 404 from the router).
    let hash = sha(b"x");
    for (method, path) in ROUTES {
        let concrete = path
            .replace("{hash}", &hash)
            .replace("{code}", "ABCDE-FGHJK")
            .replace("{device_id}", &Uuid::nil().to_string())
            .replace("{id}", &Uuid::nil().to_string())
            .replace("{user_id}", "usr-vol-1")
            .replace("{format}", "json")
            .replace("{service_code}", "SR-02")
            .replace("{service_request_id}", "GL-20260101-OPEN-0001")
            .replace("{token}", &Uuid::nil().to_string());
        let url = format!("{}{}", s.base.trim_end_matches("/api/v1"), concrete);
        let req = match *method {
            "get" => s.http.get(&url),
            "post" => s.http.post(&url).json(&json!({})),
            "put" => s.http.put(&url).body(Vec::new()),
            "delete" => s.http.delete(&url),
            _ => unreachable!(),
        };
        let r = req.send().await.unwrap();
        if path.starts_with("/open311/") && r.status() == StatusCode::NOT_FOUND {
            // An unknown request or token: the route answered with the spec's errors document,
            // not the router's fallback.
            let v: Value = r.json().await.unwrap();
            assert_eq!(v[0]["code"], 404, "{method} {path}: {v}");
            continue;
        }
        if *path == "/api/v1/volunteer/invite/{code}" && r.status() == StatusCode::NOT_FOUND {
            // A public lookup of an invite that does not exist: the handler's answer.
            let v: Value = r.json().await.unwrap();
            assert!(v["message"].as_str().unwrap().contains("invite"), "{v}");
            continue;
        }
        assert_ne!(r.status(), StatusCode::NOT_FOUND, "{method} {path}");
        assert_ne!(
            r.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
    }
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 2. Enrollment codes issued by the office, as QR codes

/// What the extractors and the protocol check answer before any handler runs is documented
/// on every operation it applies to (the `Conventions` modifier), so generated clients know
/// every status they can get; and the wire types' domain contents have real schemas.
#[tokio::test]
async fn every_operation_documents_the_statuses_every_request_can_get() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), None, true).await;
    let doc: Value = reqwest::get(s.url("/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let name = format!("{method} {path}");
            let responses = op["responses"].as_object().unwrap();
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            if path.ends_with("/openapi.json") || !path.starts_with("/api/") {
                assert!(
                    params.iter().all(|p| p["in"] != "header"),
                    "{name} needs no header"
                );
                continue;
            }
            checked += 1;
            let header = params
                .iter()
                .find(|p| p["name"] == PROTOCOL_HEADER)
                .unwrap_or_else(|| panic!("{name}: no protocol header"));
            assert_eq!(header["in"], "header", "{name}");
            assert_eq!(header["required"], true, "{name}");
            // The server's minimum: every version the document allows is accepted.
            assert_eq!(header["schema"]["minimum"], 1, "{name}");
            assert!(responses.contains_key("426"), "{name}: no 426");
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            if secured {
                assert!(responses.contains_key("401"), "{name}: secured but no 401");
            }
            let has_body = op.get("requestBody").is_some();
            let has_query = params.iter().any(|p| p["in"] == "query");
            if has_body || has_query {
                assert!(responses.contains_key("400"), "{name}: input but no 400");
            }
            if has_body {
                assert!(responses.contains_key("413"), "{name}: body but no 413");
            }
            for (status, r) in responses {
                if status.starts_with('4') {
                    assert!(is_api_error(&doc, r), "{name} {status} is not an ApiError");
                }
            }
        }
    }
    let with_header = ROUTES
        .iter()
        .filter(|(_, p)| p.starts_with("/api/") && !p.ends_with("/openapi.json"))
        .count();
    assert_eq!(checked, with_header);
    assert_eq!(doc["paths"]["/api/v1/login"]["post"].get("security"), None);

    let schemas = &doc["components"]["schemas"];
    // Events are described as serde reads them: the flattened, tagged body and an HLC string.
    assert_eq!(
        schemas["PushRequest"]["properties"]["events"]["items"]["$ref"],
        "#/components/schemas/Event"
    );
    assert!(schemas["Event"].to_string().contains("EventBody"));
    assert!(
        schemas["EventBody"]
            .to_string()
            .contains("problem.dispatched")
    );
    assert_eq!(schemas["Hlc"]["type"], "string");
    // Unsigned integers have their real range (the derive would say int32/int64).
    let ttl = &schemas["CreateEnrollCodeRequest"]["properties"]["ttl_minutes"];
    assert_eq!(
        (ttl["minimum"].clone(), ttl["maximum"].clone()),
        (json!(1), json!(43200))
    );
    assert_eq!(ttl.get("format"), None);
    assert_eq!(
        schemas["BlobState"]["properties"]["offset"]["maximum"],
        json!(u64::MAX)
    );

    // What the document allows, the server takes; what it does not, is a 400 naming the field.
    let admin = s.login("usr-admin-1").await;
    let create = |ttl: Value| {
        s.http
            .post(s.url("/admin/enroll-codes"))
            .bearer_auth(admin.clone())
            .json(&json!({"user_id": "usr-vol-2", "ttl_minutes": ttl}))
            .send()
    };
    // JSON Schema's integer 30 may be written 30.0 (generated clients, JavaScript).
    assert_eq!(create(json!(30.0)).await.unwrap().status(), StatusCode::OK);
    let e = api_error(
        create(json!(30.5)).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "malformed_request",
    )
    .await;
    assert!(e.message.contains("ttl_minutes"), "{e:?}");
    let pull = |query: &'static str| {
        s.http
            .get(s.url(&format!("/pull?{query}")))
            .bearer_auth(admin.clone())
            .send()
    };
    let e = api_error(
        pull("limit=0").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "malformed_request",
    )
    .await;
    assert!(e.message.contains("limit"), "{e:?}");
    // The whole documented range of a cursor is accepted.
    let r = pull("since=18446744073709551615&limit=4294967295")
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn admin_issues_enrollment_codes_rendered_as_qr() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), None, true).await;
    let admin = s.login("usr-admin-1").await;
    let insp = s.enroll("usr-insp-1").await;
    let create = |token: String, body: Value| {
        s.http
            .post(s.url("/admin/enroll-codes"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let r = create(
        admin.clone(),
        json!({"user_id": "usr-vol-2", "ttl_minutes": 30}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let issued: CreateEnrollCodeResponse = r.json().await.unwrap();
    assert_eq!(issued.user_id, "usr-vol-2");
    assert_eq!(issued.code.len(), 11);
    let ttl = issued.expires_at_ms - now_ms();
    assert!(ttl > 29 * 60_000 && ttl <= 30 * 60_000, "{ttl}");

    // Only the office issues codes and sees their QR images.
    let r = create(
        insp.clone(),
        json!({"user_id": "usr-vol-2", "ttl_minutes": 30}),
    )
    .await
    .unwrap();
    api_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = create(
        admin.clone(),
        json!({"user_id": "nobody", "ttl_minutes": 30}),
    )
    .await
    .unwrap();
    api_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = create(
        admin.clone(),
        json!({"user_id": "usr-vol-2", "ttl_minutes": 0}),
    )
    .await
    .unwrap();
    let e = api_error(r, StatusCode::BAD_REQUEST, "malformed_request").await;
    assert!(e.message.contains("ttl_minutes"), "{e:?}");
    let r = create(
        admin.clone(),
        json!({"user_id": "usr-vol-2", "ttl_minutes": "soon"}),
    )
    .await
    .unwrap();
    let e = api_error(r, StatusCode::BAD_REQUEST, "malformed_request").await;
    assert!(e.message.contains("ttl_minutes"), "names the field: {e:?}");

    let get = |token: &str, path: &str| {
        s.http
            .get(format!("{}{}", s.base.trim_end_matches("/api/v1"), path))
            .bearer_auth(token)
            .send()
    };
    let r = get(&admin, &issued.qr_svg).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    let svg = r.text().await.unwrap();
    assert!(svg.contains("<svg"), "{svg}");
    let r = get(&admin, &issued.qr_png).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/png");
    let png = r.bytes().await.unwrap();
    let img = image::load_from_memory(&png).unwrap();
    assert!(img.width() >= 240 && img.width() == img.height());
    let r = get(&insp, &issued.qr_png).await.unwrap();
    api_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = get(&admin, "/api/v1/admin/enroll-codes/ZZZZZ-ZZZZZ/qr.svg")
        .await
        .unwrap();
    api_error(r, StatusCode::NOT_FOUND, "not_found").await;

    // The issued code enrolls once; then neither it nor its QR works any more.
    let enroll = |code: String| {
        s.http
            .post(s.url("/enroll"))
            .json(&json!({"code": code, "device_id": Uuid::now_v7(), "device_name": "t"}))
            .send()
    };
    let r = enroll(issued.code.clone()).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let e: EnrollResponse = r.json().await.unwrap();
    assert_eq!(e.user.id, "usr-vol-2");
    let r = enroll(issued.code.clone()).await.unwrap();
    api_error(r, StatusCode::BAD_REQUEST, "enroll_code_invalid").await;
    let r = get(&admin, &issued.qr_svg).await.unwrap();
    api_error(r, StatusCode::NOT_FOUND, "not_found").await;

    // An expired code: no QR, no enrollment, no token stored.
    let expired = "QRSTV-WXYZ0";
    s.store
        .create_enroll_code(
            &fieldcheck_server::auth::hash_secret(&fieldcheck_server::auth::normalize_enroll_code(
                expired,
            )),
            "usr-vol-3",
            now_ms() - 1,
        )
        .await
        .unwrap();
    let r = get(
        &admin,
        &format!("/api/v1/admin/enroll-codes/{expired}/qr.png"),
    )
    .await
    .unwrap();
    api_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = enroll(expired.to_owned()).await.unwrap();
    api_error(r, StatusCode::BAD_REQUEST, "enroll_code_invalid").await;
    s.stop().await;
}

#[test]
fn demo_writes_enrollment_qr_pngs() {
    let dir = tempfile::tempdir().unwrap();
    let logins: Vec<DemoLogin> = ["usr-admin-1", "usr-vol-1"]
        .iter()
        .map(|id| DemoLogin {
            user_id: (*id).to_owned(),
            name: "x".into(),
            role: fieldcheck_domain::Role::Volunteer,
            enroll_code: "ABCDE-FGHJK".into(),
        })
        .collect();
    let out = dir.path().join("qr");
    let paths: Vec<PathBuf> =
        fieldcheck_server::demo::write_qr_pngs(&logins, &out, "http://127.0.0.1:8080").unwrap();
    assert_eq!(
        paths,
        vec![out.join("usr-admin-1.png"), out.join("usr-vol-1.png")]
    );
    for p in paths {
        image::open(&p).unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Limits, malformed bodies, wrong tokens

#[tokio::test]
async fn oversized_requests_are_413_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), None, true).await;
    let tok = s.enroll("usr-vol-1").await;

    // A push body over the limit.
    let big = format!(r#"{{"events": [], "pad": "{}"}}"#, "x".repeat(BODY_LIMIT));
    let r = s
        .http
        .post(s.url("/push"))
        .bearer_auth(&tok)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    let e = api_error(r, StatusCode::PAYLOAD_TOO_LARGE, "too_large").await;
    assert!(e.message.contains(&BODY_LIMIT.to_string()), "{e:?}");
    assert_eq!(s.store.event_count().await.unwrap(), 0);

    // A blob chunk over the chunk limit.
    let data = blob_data(CHUNK_LIMIT + 1);
    let hash = sha(&data);
    let r = s.put_chunk(&tok, &hash, 0, data.len(), data.clone()).await;
    let e = api_error(r, StatusCode::PAYLOAD_TOO_LARGE, "too_large").await;
    assert!(e.message.contains("chunk"), "{e:?}");
    assert_eq!(s.blob_state(&tok, &hash).await.offset, 0);
    // A blob announced over the total cap: refused before any byte is staged.
    let r = s
        .put_chunk(&tok, &hash, 0, BLOB_LIMIT as usize + 1, data[..10].to_vec())
        .await;
    let e = api_error(r, StatusCode::PAYLOAD_TOO_LARGE, "too_large").await;
    assert!(e.message.contains(&BLOB_LIMIT.to_string()), "{e:?}");
    assert_eq!(s.blob_state(&tok, &hash).await.offset, 0);
    // A blob that grows past the cap chunk by chunk without announcing its size.
    let big = blob_data(BLOB_LIMIT as usize + CHUNK_LIMIT);
    let big_hash = sha(&big);
    let mut offset = 0;
    let mut last = None;
    for chunk in big.chunks(CHUNK_LIMIT) {
        let r = s
            .http
            .put(s.url(&format!(
                "/blobs/{big_hash}?offset={offset}&size={}",
                big.len() + 1
            )))
            .bearer_auth(&tok)
            .body(chunk.to_vec())
            .send()
            .await
            .unwrap();
        if r.status() != StatusCode::OK {
            last = Some(r);
            break;
        }
        offset += chunk.len();
    }
    // The announced size is over the cap, so the very first chunk is refused.
    assert_eq!(offset, 0);
    api_error(last.unwrap(), StatusCode::PAYLOAD_TOO_LARGE, "too_large").await;
    let mut offset = 0;
    let mut refused = None;
    for chunk in big.chunks(CHUNK_LIMIT) {
        // Announcing exactly the cap and then sending more: the running total stops it.
        let r = s
            .http
            .put(s.url(&format!(
                "/blobs/{big_hash}?offset={offset}&size={}",
                BLOB_LIMIT
            )))
            .bearer_auth(&tok)
            .body(chunk.to_vec())
            .send()
            .await
            .unwrap();
        if r.status() != StatusCode::OK {
            refused = Some(r);
            break;
        }
        offset += chunk.len();
    }
    api_error(refused.unwrap(), StatusCode::PAYLOAD_TOO_LARGE, "too_large").await;
    assert_eq!(offset as u64, BLOB_LIMIT - BLOB_LIMIT % CHUNK_LIMIT as u64);
    assert_eq!(s.blob_state(&tok, &big_hash).await.offset, offset as u64);
    assert!(
        !dir.path().join("blobs").join(&big_hash).exists(),
        "nothing kept"
    );
    s.stop().await;
}

#[tokio::test]
async fn malformed_bodies_name_the_field_and_bad_tokens_are_401() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), None, true).await;
    let tok = s.enroll("usr-insp-1").await;
    let post = |path: &str, token: Option<&str>, body: &str| {
        let mut r = s
            .http
            .post(s.url(path))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    let r = post("/enroll", None, r#"{"code": 5, "device_id": "x"}"#)
        .await
        .unwrap();
    let e = api_error(r, StatusCode::BAD_REQUEST, "malformed_request").await;
    assert!(e.message.contains("`code`"), "{e:?}");
    let r = post(
        "/enroll",
        None,
        &format!(
            r#"{{"code": "AAAAA", "device_id": "{}", "device_name": []}}"#,
            Uuid::now_v7()
        ),
    )
    .await
    .unwrap();
    let e = api_error(r, StatusCode::BAD_REQUEST, "malformed_request").await;
    assert!(e.message.contains("`device_name`"), "{e:?}");
    let r = post("/blobs/check", Some(&tok), r#"{"hashes": ["a", 7]}"#)
        .await
        .unwrap();
    let e = api_error(r, StatusCode::BAD_REQUEST, "malformed_request").await;
    assert!(e.message.contains("hashes[1]"), "{e:?}");
    let r = post("/login", None, r#"{"username": "usr-admin-1"}"#)
        .await
        .unwrap();
    let e = api_error(r, StatusCode::BAD_REQUEST, "malformed_request").await;
    assert!(e.message.contains("password"), "{e:?}");
    let r = post("/push", Some(&tok), r#"{"events": []} trailing"#)
        .await
        .unwrap();
    api_error(r, StatusCode::BAD_REQUEST, "malformed_request").await;
    let r = post("/push", Some(&tok), r#"{"events": [{"id": 1}]}"#)
        .await
        .unwrap();
    let e = api_error(r, StatusCode::BAD_REQUEST, "malformed_request").await;
    assert!(e.message.contains("events[0]"), "{e:?}");

    // Wrong tokens: another scheme, a revoked-looking token, an expired session.
    for auth in ["Basic dXNyOnB3", "Bearer ", "Bearer x y"] {
        let r = s
            .http
            .get(s.url("/me"))
            .header("authorization", auth)
            .send()
            .await
            .unwrap();
        api_error(r, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    let session = "s".repeat(64);
    s.store
        .create_session(
            &fieldcheck_server::auth::hash_secret(&session),
            "usr-admin-1",
            now_ms() - 10_000,
            now_ms() - 1,
        )
        .await
        .unwrap();
    let r = s
        .http
        .post(s.url("/push"))
        .bearer_auth(&session)
        .json(&json!({"events": [report(&user("usr-admin-1"), Uuid::now_v7(), "c-dm", now_ms())]}))
        .send()
        .await
        .unwrap();
    // Still 401, with the code that says why (issue 12: expired, revoked, disabled differ).
    api_error(r, StatusCode::UNAUTHORIZED, "token_expired").await;
    // A token is not a QR/admin pass either.
    let r = s
        .http
        .get(s.url("/admin/enroll-codes/ABCDE-FGHJK/qr.svg"))
        .send()
        .await
        .unwrap();
    api_error(r, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_eq!(s.store.event_count().await.unwrap(), 0, "nothing stored");
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 4. Blobs on object storage: one conformance run on object_store's in-memory backend and on
//    a real S3-compatible server (moto) selected by the server's own `blob_store` config.

/// Upload in chunks with resume, nothing in the store before the hash is verified, a wrong
/// hash refused, the exists check, download; `raw` reads the object storage behind the
/// server's back, under `prefix`.
async fn object_blob_conformance(
    s: &Server,
    dir: &std::path::Path,
    raw: &dyn object_store::ObjectStore,
    prefix: &str,
) {
    use object_store::ObjectStoreExt;
    let key = |hash: &str| object_store::path::Path::from(format!("{prefix}/{hash}"));
    let stored = |hash: String| async move {
        match raw.get(&key(&hash)).await {
            Ok(r) => Some(r.bytes().await.unwrap().to_vec()),
            Err(object_store::Error::NotFound { .. }) => None,
            Err(e) => panic!("object storage: {e}"),
        }
    };
    let tok = s.enroll("usr-insp-1").await;
    let data = blob_data(20_000);
    let hash = sha(&data);
    let r = s
        .put_chunk(&tok, &hash, 0, data.len(), data[..12_000].to_vec())
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(stored(hash.clone()).await, None, "not before verified");
    let state = s.blob_state(&tok, &hash).await;
    assert_eq!((state.offset, state.complete), (12_000, false));
    let r = s
        .put_chunk(&tok, &hash, 12_000, data.len(), data[12_000..].to_vec())
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(stored(hash.clone()).await.as_deref(), Some(data.as_slice()));
    // Staging is cleaned up and nothing lands in the local blob directory.
    assert!(!dir.join("blobs").join(&hash).exists());
    assert!(!dir.join("blobs/partial").join(&hash).exists());
    let state = s.blob_state(&tok, &hash).await;
    assert!(state.complete);
    let got = s.get_blob(&tok, &hash).await;
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.bytes().await.unwrap().as_ref(), data.as_slice());
    // A re-upload of a complete blob is a no-op.
    let r = s
        .put_chunk(&tok, &hash, 0, data.len(), data[..10_000].to_vec())
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // A mismatch never reaches object storage, and the upload starts over.
    let wrong = sha(b"other");
    let r = s
        .put_chunk(&tok, &wrong, 0, 10_000, data[..10_000].to_vec())
        .await;
    api_error(r, StatusCode::UNPROCESSABLE_ENTITY, "hash_mismatch").await;
    assert_eq!(stored(wrong.clone()).await, None);
    let state = s.blob_state(&tok, &wrong).await;
    assert_eq!((state.offset, state.complete), (0, false));
    api_error(
        s.get_blob(&tok, &wrong).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn blobs_on_object_storage_resume_verify_and_serve() {
    let dir = tempfile::tempdir().unwrap();
    let mem = Arc::new(object_store::memory::InMemory::new());
    let blobs: Arc<dyn BlobStore> = Arc::new(ObjectBlobs::new(mem.clone(), "fc/blobs", "memory"));
    let s = Server::start_in(dir.path(), Some(blobs), true).await;
    object_blob_conformance(&s, dir.path(), mem.as_ref(), "fc/blobs").await;
    s.stop().await;
}

#[cfg(feature = "s3")]
#[tokio::test]
async fn blobs_on_a_real_s3_server_resume_verify_and_serve() {
    let Some(s3) = S3::start("fc-photos").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = fieldcheck_server::Config {
        blob_store: "s3://fc-photos/fc/blobs".into(),
        s3: s3.config(),
        ..test_config(dir.path())
    };
    // No blob store handed in: the server builds its S3 client from the config.
    let s = Server::start_with(config, None, true).await;
    object_blob_conformance(&s, dir.path(), s3.client().as_ref(), "fc/blobs").await;
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 5. Role × action matrix

#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    /// Stored and applied by the fold.
    Applied,
    /// Not stored: the push answers `refused` with this code.
    Refused(&'static str),
}
use Want::{Applied as A, Refused as R};

const OOS: &str = "out_of_scope";
const RNA: &str = "role_not_allowed";

/// The five callers of the matrix, in column order.
const CALLERS: [&str; 5] = [
    "usr-admin-1", // admin
    "usr-insp-1",  // inspector of s-dj (where the problem is)
    "usr-hdl-1",   // handler of u-s-dj, the unit the problem is dispatched to
    "usr-hdl-2",   // handler of u-jjdd, another unit
    "usr-vol-1",   // volunteer who reported the problem
];

/// Hand-written from the role rules in domain.md / ARCHITECTURE.md: who may send what onto a
/// problem reported by usr-vol-1 in 东门社区 (c-dm, street s-dj) that is in the state the
/// action needs (dispatched problems go to u-s-dj).
const MATRIX: &[(&str, [Want; 5])] = &[
    //                             admin     inspector  hdl own   hdl other  volunteer
    ("problem.reported", [A, A, A, A, A]),
    ("problem.edited", [A, A, R(OOS), R(OOS), A]),
    ("problem.photos_added", [A, A, R(OOS), R(OOS), A]),
    ("problem.filed", [A, R(RNA), R(RNA), R(RNA), R(RNA)]),
    ("problem.rejected", [A, R(RNA), R(RNA), R(RNA), R(RNA)]),
    ("problem.dispatched", [A, R(RNA), R(RNA), R(RNA), R(RNA)]),
    ("problem.accepted", [R(RNA), R(RNA), A, R(OOS), R(RNA)]),
    ("problem.returned", [R(RNA), R(RNA), A, R(OOS), R(RNA)]),
    ("problem.rectified", [R(RNA), R(RNA), A, R(OOS), R(RNA)]),
    (
        "problem.extension_requested",
        [R(RNA), R(RNA), A, R(OOS), R(RNA)],
    ),
    (
        "problem.extension_decided",
        [A, R(RNA), R(RNA), R(RNA), R(RNA)],
    ),
    ("problem.verified", [A, A, R(RNA), R(RNA), R(RNA)]),
    ("problem.closed", [A, R(RNA), R(RNA), R(RNA), R(RNA)]),
    ("problem.rechecked", [A, A, R(RNA), R(RNA), R(RNA)]),
];

struct Clock(i64);

impl Clock {
    fn tick(&mut self) -> i64 {
        self.0 += 1000;
        self.0
    }
}

fn photo(role: PhotoRole) -> Vec<PhotoRef> {
    vec![PhotoRef {
        hash: sha(format!("{role:?}").as_bytes()),
        role,
    }]
}

fn action(kind: &str, u: &User, p: Uuid, t: i64) -> Event {
    let deadline = DateTime::from_timestamp_millis(t + 5 * 86_400_000).unwrap();
    let body = match kind {
        "problem.reported" => return report(u, p, "c-dm", t),
        "problem.edited" => EventBody::ProblemEdited(ProblemEdit {
            description: Some("垃圾堆放（已补充）".into()),
            ..ProblemEdit::default()
        }),
        "problem.photos_added" => {
            return ev(u, p, t, EventBody::ProblemPhotosAdded { note: None })
                .with_photos(photo(PhotoRole::Evidence));
        }
        "problem.filed" => EventBody::ProblemFiled { note: None },
        "problem.rejected" => EventBody::ProblemRejected {
            reason: RejectReason::Invalid {
                reason: "现场核实不存在".into(),
            },
        },
        "problem.dispatched" => EventBody::ProblemDispatched {
            unit_id: "u-s-dj".into(),
            deadline,
            note: None,
        },
        "problem.accepted" => EventBody::ProblemAccepted { note: None },
        "problem.returned" => EventBody::ProblemReturned {
            reason: "不属于本单位职责".into(),
        },
        "problem.rectified" => {
            return ev(u, p, t, EventBody::ProblemRectified { note: None })
                .with_photos(photo(PhotoRole::After));
        }
        "problem.extension_requested" => EventBody::ExtensionRequested {
            until: deadline,
            reason: "需要采购材料".into(),
        },
        "problem.extension_decided" => EventBody::ExtensionDecided {
            approved: true,
            note: None,
        },
        "problem.verified" => EventBody::ProblemVerified {
            passed: true,
            note: None,
            deadline: None,
        },
        "problem.closed" => EventBody::ProblemClosed { note: None },
        "problem.rechecked" => EventBody::ProblemRechecked {
            passed: true,
            note: None,
        },
        other => panic!("no builder for {other}"),
    };
    ev(u, p, t, body)
}

/// The actions that bring a new problem into the state `kind` needs, each by the one who
/// legitimately does it, in order.
fn path_to(kind: &str) -> &'static [&'static str] {
    const FILED: &[&str] = &["problem.filed"];
    const DISPATCHED: &[&str] = &["problem.filed", "problem.dispatched"];
    const RECTIFYING: &[&str] = &["problem.filed", "problem.dispatched", "problem.accepted"];
    const RECTIFIED: &[&str] = &[
        "problem.filed",
        "problem.dispatched",
        "problem.accepted",
        "problem.rectified",
    ];
    const VERIFIED: &[&str] = &[
        "problem.filed",
        "problem.dispatched",
        "problem.accepted",
        "problem.rectified",
        "problem.verified",
    ];
    const CLOSED: &[&str] = &[
        "problem.filed",
        "problem.dispatched",
        "problem.accepted",
        "problem.rectified",
        "problem.verified",
        "problem.closed",
    ];
    const EXTENSION: &[&str] = &[
        "problem.filed",
        "problem.dispatched",
        "problem.extension_requested",
    ];
    match kind {
        "problem.reported"
        | "problem.edited"
        | "problem.photos_added"
        | "problem.filed"
        | "problem.rejected" => &[],
        "problem.dispatched" => FILED,
        "problem.accepted" | "problem.returned" | "problem.extension_requested" => DISPATCHED,
        "problem.rectified" => RECTIFYING,
        "problem.verified" => RECTIFIED,
        "problem.closed" => VERIFIED,
        "problem.rechecked" => CLOSED,
        "problem.extension_decided" => EXTENSION,
        other => panic!("no path to {other}"),
    }
}

fn by_whom(kind: &str) -> &'static str {
    match kind {
        "problem.accepted"
        | "problem.returned"
        | "problem.rectified"
        | "problem.extension_requested" => "usr-hdl-1",
        _ => "usr-admin-1",
    }
}

#[tokio::test]
async fn role_action_matrix_through_push() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), None, true).await;
    let mut tokens = std::collections::HashMap::new();
    tokens.insert("usr-admin-1", s.login("usr-admin-1").await);
    for u in &CALLERS[1..] {
        tokens.insert(*u, s.enroll(u).await);
    }
    let mut clock = Clock(now_ms() - 3_600_000);
    let mut failures = Vec::new();
    for (kind, row) in MATRIX {
        for (caller, want) in CALLERS.iter().zip(row) {
            // A fresh problem per cell, reported by the volunteer and brought to the state.
            let p = Uuid::now_v7();
            let r = s
                .push(
                    &tokens["usr-vol-1"],
                    vec![report(&user("usr-vol-1"), p, "c-dm", clock.tick())],
                )
                .await;
            assert_eq!(r.results[0].status, PushStatus::Applied);
            for step in path_to(kind) {
                let who = by_whom(step);
                let r = s
                    .push(
                        &tokens[who],
                        vec![action(step, &user(who), p, clock.tick())],
                    )
                    .await;
                assert_eq!(
                    (&r.results[0].status, &r.results[0].outcome),
                    (&PushStatus::Applied, &Some(EventOutcome::Applied)),
                    "setup {step} for {kind}"
                );
            }
            let before = s.store.event_count().await.unwrap();
            let target = if *kind == "problem.reported" {
                Uuid::now_v7()
            } else {
                p
            };
            let e = action(kind, &user(caller), target, clock.tick());
            let r = s.push(&tokens[caller], vec![e]).await;
            let got = match (&r.results[0].status, &r.results[0].outcome) {
                (PushStatus::Applied, Some(EventOutcome::Applied)) => Some(A),
                (PushStatus::Refused { code, .. }, None) => {
                    [OOS, RNA, "role_mismatch", "actor_mismatch", "invalid_event"]
                        .into_iter()
                        .find(|c| c == code)
                        .map(R)
                }
                _ => None,
            };
            if got != Some(*want) {
                failures.push(format!(
                    "{caller} {kind}: want {want:?}, got {:?} / {:?}",
                    r.results[0].status, r.results[0].outcome
                ));
            }
            let after = s.store.event_count().await.unwrap();
            let stored = if *want == A { 1 } else { 0 };
            assert_eq!(after - before, stored, "{caller} {kind}: stored events");
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Allowed senders in the wrong state: stored, and visibly rejected by the fold.
    let p = Uuid::now_v7();
    let vol = user("usr-vol-1");
    let admin = user("usr-admin-1");
    s.push(
        &tokens["usr-vol-1"],
        vec![report(&vol, p, "c-dm", clock.tick())],
    )
    .await;
    let stale = [
        (
            "usr-admin-1",
            action("problem.closed", &admin, p, clock.tick()),
            "invalid_transition",
        ),
        (
            "usr-admin-1",
            action("problem.filed", &admin, p, clock.tick()),
            "",
        ),
        (
            "usr-vol-1",
            action("problem.edited", &vol, p, clock.tick()),
            "invalid_transition",
        ),
    ];
    for (who, e, code) in stale {
        let r = s.push(&tokens[who], vec![e]).await;
        assert_eq!(r.results[0].status, PushStatus::Applied);
        match (&r.results[0].outcome, code) {
            (Some(EventOutcome::Applied), "") => {}
            (Some(EventOutcome::Rejected { code: c, .. }), want) => {
                assert_eq!(c.as_str(), want)
            }
            other => panic!("{who}: {other:?}"),
        }
    }
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 6. Server stopped and restarted in the middle of an upload

#[tokio::test]
async fn partial_upload_survives_server_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = blob_data(30_000);
    let hash = sha(&data);
    let a = Server::start_in(dir.path(), None, true).await;
    let tok = a.enroll("usr-insp-1").await;
    let r = a
        .put_chunk(&tok, &hash, 0, data.len(), data[..10_000].to_vec())
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    // The next chunk is cut off mid-body while the server goes away.
    let mut raw = a
        .raw_chunk_head(&tok, &hash, 10_000, data.len(), 10_000)
        .await;
    raw.write_all(&data[10_000..15_000]).await.unwrap();
    raw.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Dropping the serve future is what a kill does to it; the half-sent request dies with
    // its connection.
    a.task.abort();
    drop(raw);
    tokio::time::sleep(Duration::from_millis(200)).await;

    let b = Server::start_in(dir.path(), None, false).await;
    let state = b.blob_state(&tok, &hash).await;
    assert_eq!(
        state,
        BlobState {
            hash: hash.clone(),
            complete: false,
            offset: 10_000
        },
        "the token and the resume offset survive the restart; the cut chunk left nothing"
    );
    let r = b
        .put_chunk(
            &tok,
            &hash,
            10_000,
            data.len(),
            data[10_000..20_000].to_vec(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = b
        .put_chunk(&tok, &hash, 20_000, data.len(), data[20_000..].to_vec())
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let got = b
        .http
        .get(b.url(&format!("/blobs/{hash}")))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    assert_eq!(got.bytes().await.unwrap().as_ref(), data.as_slice());

    // And a graceful stop between chunks resumes just the same.
    let data2 = blob_data(20_000).into_iter().rev().collect::<Vec<u8>>();
    let hash2 = sha(&data2);
    let r = b
        .put_chunk(&tok, &hash2, 0, data2.len(), data2[..5_000].to_vec())
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    b.stop().await;
    let c = Server::start_in(dir.path(), None, false).await;
    assert_eq!(c.blob_state(&tok, &hash2).await.offset, 5_000);
    let r = c
        .put_chunk(&tok, &hash2, 5_000, data2.len(), data2[5_000..].to_vec())
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert!(c.blob_state(&tok, &hash2).await.complete);
    c.stop().await;
}

/// Whether a response's body is an `ApiError` or a schema that extends one (its fields
/// flattened in, as `ImportRefused` adds the rows of an import's errors).
fn is_api_error(doc: &Value, response: &Value) -> bool {
    const API_ERROR: &str = "#/components/schemas/ApiError";
    let Some(r#ref) = response["content"]["application/json"]["schema"]["$ref"].as_str() else {
        return false;
    };
    r#ref == API_ERROR
        || r#ref
            .strip_prefix("#/components/schemas/")
            .is_some_and(|name| {
                doc["components"]["schemas"][name]["allOf"]
                    .to_string()
                    .contains(API_ERROR)
            })
}

// ---------------------------------------------------------------------------------------------
// The city's offline map (issue 18): `fieldcheck-server map-package` against a tile server the
// test starts, then the package handed to devices by `GET /map` and `GET /map/package`.

/// A tile server: every tile a PNG whose colour encodes z/x/y; counts requests.
async fn tile_server() -> (String, Arc<std::sync::atomic::AtomicU64>) {
    use axum::extract::Path as P;
    let hits = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted = hits.clone();
    let app = axum::Router::new().route(
        "/{z}/{x}/{y}",
        axum::routing::get(move |P((z, x, y)): P<(u8, u32, String)>| {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let y: u32 = y.trim_end_matches(".png").parse().unwrap();
                let img = image::RgbImage::from_pixel(
                    4,
                    4,
                    image::Rgb([z, (x % 256) as u8, (y % 256) as u8]),
                );
                let mut out = std::io::Cursor::new(Vec::new());
                img.write_to(&mut out, image::ImageFormat::Png).unwrap();
                ([("content-type", "image/png")], out.into_inner())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), hits)
}

/// Runs a command to its end off the test's (single-threaded) runtime, which keeps serving
/// the tile server meanwhile.
async fn run_off_runtime(mut cmd: std::process::Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn map_package_is_built_from_a_tile_server_and_handed_to_devices_once_per_version() {
    let dir = tempfile::tempdir().unwrap();
    let (tiles, hits) = tile_server().await;
    let out = dir.path().join("city.mbtiles");
    let bbox = [119.28, 26.06, 119.32, 26.10];
    let expected: u64 = (12..=13)
        .map(|z| fieldcheck_tiles::grid::TileRange::for_bbox(bbox, z).count())
        .sum();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_fieldcheck-server"));
    cmd.args([
        "map-package",
        "--bbox",
        "119.28,26.06,119.32,26.10",
        "--zoom",
        "12-13",
    ])
    .args(["--url", &format!("{tiles}/{{z}}/{{x}}/{{y}}.png")])
    .args(["--name", "鼓楼区离线地图", "--attribution", "test tiles"])
    .arg("--out")
    .arg(&out);
    let run = run_off_runtime(cmd).await;
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains(&format!("{expected} tiles to fetch")),
        "{stdout}"
    );
    assert_eq!(hits.load(std::sync::atomic::Ordering::Relaxed), expected);
    let pkg = fieldcheck_tiles::MbTiles::open(&out).unwrap();
    assert_eq!(pkg.metadata().name, "鼓楼区离线地图");
    assert_eq!((pkg.metadata().minzoom, pkg.metadata().maxzoom), (12, 13));
    // The tile of Gulou at zoom 12 is the one the tile server drew for that z/x/y.
    let (x, y) = (
        fieldcheck_tiles::grid::lon_to_x(119.30, 12),
        fieldcheck_tiles::grid::lat_to_y(26.08, 12),
    );
    let png = image::load_from_memory(&pkg.tile(12, x, y).unwrap().unwrap()).unwrap();
    assert_eq!(
        png.to_rgb8().get_pixel(0, 0).0,
        [12, (x % 256) as u8, (y % 256) as u8]
    );
    // A bad area is refused before any request, saying what is wrong.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_fieldcheck-server"));
    cmd.args(["map-package", "--bbox", "119.3,26.1,119.2", "--url", &tiles])
        .arg("--out")
        .arg(dir.path().join("bad.mbtiles"));
    let bad = run_off_runtime(cmd).await;
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--bbox"));
    assert!(!dir.path().join("bad.mbtiles").exists());

    // Settings that cannot work are refused when the server starts.
    for (source, key, package, what) in [
        ("google", "", PathBuf::new(), "map_source"),
        ("tianditu", "", PathBuf::new(), "tianditu_key"),
        ("osm", "", dir.path().join("missing.mbtiles"), "map_package"),
    ] {
        let c = fieldcheck_server::Config {
            map_source: source.into(),
            tianditu_key: key.into(),
            map_package: package,
            ..fieldcheck_server::Config::default()
        };
        let e = c.check().unwrap_err().to_string();
        assert!(e.contains(what), "{source}: {e}");
    }

    // Served: the devices learn the source and the package's version; only devices get it.
    let config = fieldcheck_server::Config {
        map_source: "tianditu".into(),
        tianditu_key: "city-browser-key".into(),
        map_package: out.clone(),
        ..test_config(dir.path())
    };
    let s = Server::start_with(config, None, true).await;
    let r = s.http.get(s.url("/map")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = s.http.get(s.url("/map/package")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let token = s.enroll("usr-insp-1").await;
    let city: Value = s.get(&token, "/map").await.json().await.unwrap();
    assert_eq!(
        city["online"],
        json!({"source": "tianditu", "key": "city-browser-key"})
    );
    assert_eq!(city["package"]["name"], "鼓楼区离线地图");
    let size = std::fs::metadata(&out).unwrap().len();
    assert_eq!(city["package"]["bytes"], size);
    let r = s.get(&token, "/map/package").await;
    assert_eq!(r.status(), StatusCode::OK);
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(
        etag,
        format!("\"{}\"", city["package"]["version"].as_str().unwrap())
    );
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        std::fs::read(&out).unwrap()
    );
    let r = s
        .http
        .get(s.url("/map/package"))
        .bearer_auth(&token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    s.stop().await;

    // Without a package: none offered, and the download is a 404 with the API's error.
    let plain = tempfile::tempdir().unwrap();
    let s = Server::start_in(plain.path(), None, true).await;
    let token = s.enroll("usr-vol-1").await;
    let city: Value = s.get(&token, "/map").await.json().await.unwrap();
    assert_eq!(city, json!({}));
    let r = s.get(&token, "/map/package").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "not_found");
    s.stop().await;
}

/// A token the device made that another enrollment holds already is refused like a wrong code
/// (schemathesis found it answered 500), and the code stays good for a fresh token.
#[tokio::test]
async fn an_enrollment_token_in_use_is_refused_and_the_code_kept() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), None, true).await;
    let token = "a".repeat(64);
    let enroll = |code: String, token: String| {
        let s = &s;
        async move {
            s.enroll_raw(&json!({"code": code, "device_id": Uuid::now_v7(), "device_name": "t", "token": token}))
                .await
        }
    };
    let r = enroll(s.code_of("usr-insp-1"), token.clone()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = enroll(s.code_of("usr-insp-2"), token.clone()).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "enroll_code_invalid", "{v}");
    let r = enroll(s.code_of("usr-insp-2"), "b".repeat(64)).await;
    assert_eq!(r.status(), StatusCode::OK, "the code was not used up");
    s.stop().await;
}
