//! Open311 GeoReport v2 over real HTTP (issue 17), on SQLite and PostgreSQL: the spec's own
//! examples (discovery, services, a service definition, a form-encoded POST, GET it back by id,
//! by service_code and dates, by status), XML read with a real XML parser and JSON, every error
//! document, a retried POST answered once, a revoked key refused, the office handling the
//! request in the console and its status showing back.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn env(pg: bool) -> Env {
    Env::new(pg, |_| {})
        .await
        .expect("PostgreSQL at 127.0.0.1:5432 (db test) must be reachable for Open311 tests")
}

/// `http://127.0.0.1:PORT/open311/v2{path}`.
fn o311(s: &Server, path: &str) -> String {
    format!("{}/open311/v2{path}", s.base.trim_end_matches("/api/v1"))
}

/// A plain client: Open311 clients send no protocol header.
fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn get(s: &Server, path: &str) -> reqwest::Response {
    client().get(o311(s, path)).send().await.unwrap()
}

async fn post_form(s: &Server, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    client()
        .post(o311(s, path))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// The XML body, parsed; checks the declaration and the content type.
async fn xml(r: reqwest::Response) -> (StatusCode, String) {
    let status = r.status();
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/xml"), "{ct}");
    let text = r.text().await.unwrap();
    assert!(
        text.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"),
        "{text}"
    );
    roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (status, text)
}

fn doc(text: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse(text).unwrap()
}

/// The text of `parent`'s child element `name`.
fn child<'a>(parent: roxmltree::Node<'a, 'a>, name: &str) -> Option<&'a str> {
    parent
        .children()
        .find(|n| n.has_tag_name(name))
        .map(|n| n.text().unwrap_or(""))
}

fn elements<'a>(parent: roxmltree::Node<'a, 'a>, name: &str) -> Vec<roxmltree::Node<'a, 'a>> {
    parent.children().filter(|n| n.has_tag_name(name)).collect()
}

/// An errors document in XML with this status; its description.
async fn xml_error(r: reqwest::Response, status: StatusCode) -> String {
    let (got, text) = xml(r).await;
    assert_eq!(got, status, "{text}");
    let d = doc(&text);
    let root = d.root_element();
    assert!(root.has_tag_name("errors"), "{text}");
    let errs = elements(root, "error");
    assert_eq!(errs.len(), 1, "{text}");
    assert_eq!(child(errs[0], "code"), Some(status.as_str()), "{text}");
    child(errs[0], "description").unwrap().to_owned()
}

/// An errors document in JSON with this status; its description.
async fn json_error(r: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(r.status(), status);
    let v: Value = r.json().await.unwrap();
    let arr = v.as_array().unwrap_or_else(|| panic!("{v}"));
    assert_eq!(arr.len(), 1, "{v}");
    assert_eq!(arr[0]["code"], status.as_u16(), "{v}");
    arr[0]["description"].as_str().unwrap().to_owned()
}

async fn new_key(s: &Server, admin: &str, name: &str) -> (String, String) {
    let r = s
        .http
        .post(s.url("/admin/open311-keys"))
        .bearer_auth(admin)
        .json(&json!({"name": name}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    (
        v["id"].as_str().unwrap().to_owned(),
        v["api_key"].as_str().unwrap().to_owned(),
    )
}

/// Form fields as `reqwest` sends them.
type Form<'a> = Vec<(&'a str, &'a str)>;

const EMAIL: &str = "li.ming@example.cn";
const PHONE: &str = "13800138000";

async fn open311_round_trip(pg: bool) {
    let e = env(pg).await;
    let s = &e.s;
    let admin = s.login("usr-admin-1").await;

    // Keys: only the office issues them.
    let insp = s.login("usr-insp-1").await;
    let r = s
        .http
        .post(s.url("/admin/open311-keys"))
        .bearer_auth(&insp)
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let (key_id, key) = new_key(s, &admin, "12345 热线").await;
    assert!(key_id.starts_with("o311-"));

    // Discovery.
    let (st, text) = xml(get(s, "/discovery.xml").await).await;
    assert_eq!(st, StatusCode::OK);
    let d = doc(&text);
    assert!(d.root_element().has_tag_name("discovery"));
    let endpoints = d
        .root_element()
        .children()
        .find(|n| n.has_tag_name("endpoints"))
        .unwrap();
    let ep = elements(endpoints, "endpoint")[0];
    assert_eq!(
        child(ep, "specification"),
        Some("http://wiki.open311.org/GeoReport_v2")
    );
    assert!(child(ep, "url").unwrap().ends_with("/open311/v2"));
    let formats: Vec<&str> = elements(
        ep.children().find(|n| n.has_tag_name("formats")).unwrap(),
        "format",
    )
    .iter()
    .map(|n| n.text().unwrap())
    .collect();
    assert_eq!(formats, ["text/xml", "application/json"]);
    let dj: Value = get(s, "/discovery.json").await.json().await.unwrap();
    assert_eq!(dj["endpoints"][0]["type"], "production");
    assert_eq!(dj["endpoints"][0]["formats"][1], "application/json");

    // Services: the minor categories, their major class as the group.
    let cats = fieldcheck_domain::category::default_categories();
    let (_, text) = xml(get(s, "/services.xml").await).await;
    let d = doc(&text);
    assert!(d.root_element().has_tag_name("services"));
    let services = elements(d.root_element(), "service");
    assert_eq!(services.len(), cats.len());
    let sr02 = services
        .iter()
        .find(|n| child(**n, "service_code") == Some("SR-02"))
        .unwrap();
    let cat = cats.iter().find(|c| c.code == "SR-02").unwrap();
    assert_eq!(child(*sr02, "service_name"), Some(cat.minor.zh.as_str()));
    assert_eq!(child(*sr02, "group"), Some(cat.major.zh.as_str()));
    assert_eq!(child(*sr02, "metadata"), Some("false"));
    assert_eq!(child(*sr02, "type"), Some("realtime"));
    assert!(!child(*sr02, "keywords").unwrap().is_empty());
    let sj: Value = get(s, "/services.json").await.json().await.unwrap();
    assert_eq!(sj.as_array().unwrap().len(), cats.len());
    assert!(
        sj.as_array()
            .unwrap()
            .iter()
            .any(|v| v["service_code"] == "SR-02"
                && v["group"] == cat.major.zh.as_str()
                && v["metadata"] == false)
    );

    // A service definition; an unknown service.
    let (st, text) = xml(get(s, "/services/SR-02.xml").await).await;
    assert_eq!(st, StatusCode::OK);
    let d = doc(&text);
    assert!(d.root_element().has_tag_name("service_definition"));
    assert_eq!(child(d.root_element(), "service_code"), Some("SR-02"));
    assert!(child(d.root_element(), "attributes").is_some(), "{text}");
    let v: Value = get(s, "/services/SR-02.json").await.json().await.unwrap();
    assert_eq!(v, json!({"service_code": "SR-02", "attributes": []}));
    let m = xml_error(get(s, "/services/NOPE-1.xml").await, StatusCode::NOT_FOUND).await;
    assert!(m.contains("NOPE-1"), "{m}");
    json_error(get(s, "/services/NOPE-1.json").await, StatusCode::NOT_FOUND).await;
    // An unknown format is answered in XML, the format the spec requires.
    xml_error(get(s, "/services.yaml").await, StatusCode::NOT_FOUND).await;

    // POST a request, form-encoded, at the registered point p-005 (东门后巷) by GPS.
    let form = [
        ("api_key", key.as_str()),
        ("service_code", "SR-02"),
        ("lat", "26.08566"),
        ("long", "119.30626"),
        ("description", "路边有暴露垃圾 <b>堆放</b> & 异味"),
        ("first_name", "明"),
        ("last_name", "李"),
        ("email", EMAIL),
        ("phone", PHONE),
        ("media_url", "https://example.cn/photos/1.jpg"),
    ];
    let events_before = s.store.event_count().await.unwrap();
    let (st, text) = xml(post_form(s, "/requests.xml", &form).await).await;
    assert_eq!(st, StatusCode::OK, "{text}");
    let d = doc(&text);
    assert!(d.root_element().has_tag_name("service_requests"));
    let req = elements(d.root_element(), "request")[0];
    let id = child(req, "service_request_id").unwrap().to_owned();
    let token = child(req, "token").unwrap().to_owned();
    assert!(id.starts_with("GL-") && id.contains("-OPEN-"), "{id}");
    assert!(!child(req, "service_notice").unwrap().is_empty());
    assert_eq!(s.store.event_count().await.unwrap(), events_before + 1);

    // A retry (the answer was lost) answers the same request and stores nothing.
    let again: Value = post_form(s, "/requests.json", &form)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again[0]["service_request_id"], id.as_str());
    assert_eq!(again[0]["token"], token.as_str());
    assert_eq!(s.store.event_count().await.unwrap(), events_before + 1);

    // The token leads to the request.
    let (_, text) = xml(get(s, &format!("/tokens/{token}.xml")).await).await;
    let d = doc(&text);
    let t = elements(d.root_element(), "request")[0];
    assert_eq!(child(t, "service_request_id"), Some(id.as_str()));
    json_error(get(s, "/tokens/nope.json").await, StatusCode::NOT_FOUND).await;

    // GET it back by id: placed at the point, the city's offset, no contact published.
    let r = get(s, &format!("/requests/{id}.json")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = r.text().await.unwrap();
    assert!(
        !body.contains(EMAIL) && !body.contains(PHONE) && !body.contains("李"),
        "{body}"
    );
    let v: Value = serde_json::from_str(&body).unwrap();
    let one = &v[0];
    assert_eq!(one["service_request_id"], id.as_str());
    assert_eq!(one["status"], "open");
    assert_eq!(one["service_code"], "SR-02");
    assert_eq!(one["service_name"], cat.minor.zh.as_str());
    assert_eq!(one["address_id"], "p-005");
    assert_eq!(one["address"], "鼓楼区东街街道东门后巷");
    assert_eq!(one["lat"], 26.08566);
    assert_eq!(one["long"], 119.30626);
    assert_eq!(one["description"], "路边有暴露垃圾 <b>堆放</b> & 异味");
    assert_eq!(one["media_url"], "https://example.cn/photos/1.jpg");
    let requested = one["requested_datetime"].as_str().unwrap();
    assert!(requested.ends_with("+08:00"), "{requested}");
    chrono::DateTime::parse_from_rfc3339(requested).unwrap();
    let (_, text) = xml(get(s, &format!("/requests/{id}.xml")).await).await;
    let d = doc(&text);
    let x = elements(d.root_element(), "request")[0];
    assert_eq!(child(x, "status"), Some("open"));
    assert_eq!(child(x, "long"), Some("119.30626"));
    // Escaped by the writer, read back whole by the parser.
    assert_eq!(
        child(x, "description"),
        Some("路边有暴露垃圾 <b>堆放</b> & 异味")
    );
    let m = json_error(
        get(s, "/requests/GL-20000101-OPEN-9999.json").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(m.contains("GL-20000101-OPEN-9999"), "{m}");
    xml_error(get(s, "/requests/nope.xml").await, StatusCode::NOT_FOUND).await;

    // A second request by address only (no place: the office places it), and one at a point.
    let (st, text) = xml(post_form(
        s,
        "/requests.xml",
        &[
            ("api_key", &key),
            ("service_code", "SR-01"),
            ("address_string", "鼓楼区某路 12 号"),
            ("description", "占道经营"),
        ],
    )
    .await)
    .await;
    assert_eq!(st, StatusCode::OK, "{text}");
    let id2 = child(
        elements(doc(&text).root_element(), "request")[0],
        "service_request_id",
    )
    .unwrap()
    .to_owned();
    assert!(id2.starts_with("FC-") && id2.contains("-OPEN-"), "{id2}");
    let third: Value = post_form(
        s,
        "/requests.json",
        &[
            ("api_key", &key),
            ("service_code", "SR-02"),
            ("address_id", "p-005"),
            ("description", "又有垃圾"),
        ],
    )
    .await
    .json()
    .await
    .unwrap();
    let id3 = third[0]["service_request_id"].as_str().unwrap().to_owned();
    let token3 = third[0]["token"].as_str().unwrap().to_owned();
    assert_ne!(id3, id);

    // GET requests: by ids, by service_code and dates, by status.
    let ids_of = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["service_request_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let list: Value = get(s, &format!("/requests.json?service_request_id={id},{id2}"))
        .await
        .json()
        .await
        .unwrap();
    let mut got = ids_of(&list);
    got.sort();
    let mut want = vec![id.clone(), id2.clone()];
    want.sort();
    assert_eq!(got, want);
    let now = chrono::Utc::now();
    let start = (now - chrono::Duration::hours(1)).to_rfc3339();
    let end = (now + chrono::Duration::hours(1)).to_rfc3339();
    let list: Value = client()
        .get(o311(s, "/requests.json"))
        .query(&[
            ("service_code", "SR-02"),
            ("start_date", &start),
            ("end_date", &end),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ids_of(&list), [id3.clone(), id.clone()], "newest first");
    let old_end = (now - chrono::Duration::days(30)).to_rfc3339();
    let list: Value = client()
        .get(o311(s, "/requests.json"))
        .query(&[("end_date", &old_end)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list, json!([]));
    let (_, text) = xml(get(s, "/requests.xml").await).await;
    assert_eq!(elements(doc(&text).root_element(), "request").len(), 3);
    let closed: Value = get(s, "/requests.json?status=closed")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(closed, json!([]));

    // The office sees the reports under the key's name and handles them in the console.
    let office = s.console_sign_in("usr-admin-1").await;
    let detail = |token: String| {
        let office = &office;
        async move {
            let r = s
                .console_get(&office.cookie, &format!("/console/problems/{token}"))
                .await;
            assert_eq!(r.status(), StatusCode::OK);
            r.json::<Value>().await.unwrap()
        }
    };
    let d1 = detail(token.clone()).await;
    assert_eq!(d1["source"], "volunteer");
    assert_eq!(d1["reporter_name"], "12345 热线");
    assert_eq!(d1["problem"]["reporter"], key_id.as_str());
    assert_eq!(d1["problem"]["point_id"], "p-005");
    let act = |token: String, version: Value, action: Value| {
        let office = &office;
        async move {
            let r = s
                .console_post(
                    office,
                    &format!("/console/problems/{token}/actions"),
                    json!({"version": version, "action": action}),
                )
                .await;
            let st = r.status();
            let body: Value = r.json().await.unwrap();
            assert_eq!(st, StatusCode::OK, "{body}");
            body
        }
    };
    // Rejected: closed for Open311, with the office's reason.
    act(
        token.clone(),
        d1["version"].clone(),
        json!({"action": "reject", "reason": {"type": "invalid", "reason": "不属于创城范围"}}),
    )
    .await;
    // Filed and dispatched: still open, the unit responsible and its deadline shown.
    let d3 = detail(token3.clone()).await;
    let d3 = act(
        token3.clone(),
        d3["version"].clone(),
        json!({"action": "file", "note": null}),
    )
    .await;
    act(
        token3.clone(),
        d3["version"].clone(),
        json!({"action": "dispatch", "unit_id": "u-c-dm", "deadline": null, "note": null}),
    )
    .await;
    let (_, text) = xml(get(s, &format!("/requests/{id}.xml")).await).await;
    let d = doc(&text);
    let x = elements(d.root_element(), "request")[0];
    assert_eq!(child(x, "status"), Some("closed"));
    let notes = child(x, "status_notes").unwrap();
    assert!(
        notes.contains("不予立案") && notes.contains("不属于创城范围"),
        "{notes}"
    );
    let v: Value = get(s, &format!("/requests/{id3}.json"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v[0]["status"], "open");
    assert!(
        !v[0]["agency_responsible"].as_str().unwrap().is_empty(),
        "{v}"
    );
    assert!(
        v[0]["expected_datetime"]
            .as_str()
            .unwrap()
            .ends_with("+08:00"),
        "{v}"
    );
    let closed: Value = get(s, "/requests.json?status=closed")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids_of(&closed), std::slice::from_ref(&id));
    let open: Value = get(s, "/requests.json?status=open")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids_of(&open), [id3.clone(), id2.clone()]);

    // Every error document.
    let k = key.as_str();
    let cases: Vec<(Form<'_>, StatusCode, &str)> = vec![
        (
            vec![
                ("service_code", "SR-02"),
                ("lat", "26.1"),
                ("long", "119.3"),
            ],
            StatusCode::FORBIDDEN,
            "api_key",
        ),
        (
            vec![("api_key", k), ("lat", "26.1"), ("long", "119.3")],
            StatusCode::BAD_REQUEST,
            "service_code",
        ),
        (
            vec![
                ("api_key", "wrong"),
                ("service_code", "SR-02"),
                ("lat", "26.1"),
                ("long", "119.3"),
            ],
            StatusCode::FORBIDDEN,
            "api_key",
        ),
        (
            vec![
                ("api_key", k),
                ("service_code", "NOPE-9"),
                ("lat", "26.1"),
                ("long", "119.3"),
            ],
            StatusCode::NOT_FOUND,
            "NOPE-9",
        ),
        (
            vec![
                ("api_key", k),
                ("service_code", "SR-02"),
                ("lat", "north"),
                ("long", "119.3"),
            ],
            StatusCode::BAD_REQUEST,
            "lat",
        ),
        (
            vec![
                ("api_key", k),
                ("service_code", "SR-02"),
                ("lat", "26.1"),
                ("long", "NaN"),
            ],
            StatusCode::BAD_REQUEST,
            "long",
        ),
        (
            vec![
                ("api_key", k),
                ("service_code", "SR-02"),
                ("lat", "91"),
                ("long", "119.3"),
            ],
            StatusCode::BAD_REQUEST,
            "lat",
        ),
        (
            vec![("api_key", k), ("service_code", "SR-02"), ("lat", "26.1")],
            StatusCode::BAD_REQUEST,
            "long",
        ),
        (
            vec![
                ("api_key", k),
                ("service_code", "SR-02"),
                ("description", "x"),
            ],
            StatusCode::BAD_REQUEST,
            "location",
        ),
        (
            vec![
                ("api_key", k),
                ("service_code", "SR-02"),
                ("address_string", "x"),
            ],
            StatusCode::BAD_REQUEST,
            "description",
        ),
        (
            vec![
                ("api_key", k),
                ("service_code", "SR-02"),
                ("address_id", "p-nope"),
            ],
            StatusCode::BAD_REQUEST,
            "address_id",
        ),
        (
            vec![
                ("api_key", k),
                ("service_code", "SR-02"),
                ("address_string", "x"),
                ("description", "x"),
                ("media_url", "file:///etc/passwd"),
            ],
            StatusCode::BAD_REQUEST,
            "media_url",
        ),
        (
            vec![
                ("api_key", k),
                ("service_code", "SR-02"),
                ("address_string", "x"),
                ("service_code", "SR-01"),
            ],
            StatusCode::BAD_REQUEST,
            "service_code",
        ),
    ];
    let long_text = "长".repeat(2001);
    let mut cases = cases;
    cases.push((
        vec![
            ("api_key", k),
            ("service_code", "SR-02"),
            ("address_string", "x"),
            ("description", &long_text),
        ],
        StatusCode::BAD_REQUEST,
        "description",
    ));
    let before = s.store.event_count().await.unwrap();
    for (form, status, names) in &cases {
        let m = json_error(post_form(s, "/requests.json", form).await, *status).await;
        assert!(m.contains(names), "{form:?}: {m}");
        let m = xml_error(post_form(s, "/requests.xml", form).await, *status).await;
        assert!(m.contains(names), "{form:?}: {m}");
    }
    // Not form-encoded; a body over the limit.
    let r = client()
        .post(o311(s, "/requests.json"))
        .header("content-type", "application/json")
        .body(r#"{"api_key": "x"}"#)
        .send()
        .await
        .unwrap();
    json_error(r, StatusCode::BAD_REQUEST).await;
    let huge = "x".repeat(BODY_LIMIT + 1);
    let r = client()
        .post(o311(s, "/requests.xml"))
        .form(&[
            ("api_key", k),
            ("service_code", "SR-02"),
            ("description", &huge),
        ])
        .send()
        .await
        .unwrap();
    xml_error(r, StatusCode::PAYLOAD_TOO_LARGE).await;
    // Bad queries.
    json_error(
        get(s, "/requests.json?start_date=yesterday").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    json_error(
        get(s, "/requests.json?status=pending").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let far = (now - chrono::Duration::days(120)).to_rfc3339();
    let r = client()
        .get(o311(s, "/requests.json"))
        .query(&[("start_date", &far), ("end_date", &end)])
        .send()
        .await
        .unwrap();
    let m = json_error(r, StatusCode::BAD_REQUEST).await;
    assert!(m.contains("90"), "{m}");
    assert_eq!(
        s.store.event_count().await.unwrap(),
        before,
        "no refusal stored anything"
    );

    // A revoked key is refused; the list shows it revoked.
    let r = s
        .http
        .post(s.url(&format!("/admin/open311-keys/{key_id}/revoke")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let m = xml_error(
        post_form(s, "/requests.xml", &form).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(m.contains("revoked"), "{m}");
    let keys: Value = s
        .http
        .get(s.url("/admin/open311-keys"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(keys[0]["revoked_at_ms"].is_i64(), "{keys}");
    assert!(
        !keys.to_string().contains(&key),
        "the key itself is never listed"
    );
    let r = s
        .http
        .post(s.url("/admin/open311-keys/o311-nope/revoke"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    e.finish().await;
}
both_backends!(open311_round_trip);

/// Every query parameter of `GET requests` that is malformed is a 400 in the errors
/// document naming it, in XML and JSON — also where `service_request_id` makes the others
/// moot — and a HEAD of it is refused alike.
async fn malformed_request_queries_are_refused(pg: bool) {
    let e = env(pg).await;
    let s = &e.s;
    let cases: &[(&str, &str)] = &[
        ("start_date=garbage", "start_date"),
        ("end_date=garbage", "end_date"),
        ("start_date=", "start_date"),
        ("start_date=2026-12-01", "start_date"),
        ("end_date=2026-13-01T00:00:00Z", "end_date"),
        (
            "start_date=2026-12-01T00:00:00%2B08:00&end_date=tomorrow",
            "end_date",
        ),
        ("service_request_id=GL-1&start_date=garbage", "start_date"),
        ("service_request_id=GL-1&end_date=%00", "end_date"),
        ("status=pending", "status"),
        ("status=open,", "status"),
        ("service_request_id=GL-1&status=nope", "status"),
        ("start_date=%ZZ", "start_date"),
    ];
    for (query, name) in cases {
        let m = json_error(
            get(s, &format!("/requests.json?{query}")).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert!(m.contains(name), "{query}: {m}");
        let m = xml_error(
            get(s, &format!("/requests.xml?{query}")).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert!(m.contains(name), "{query}: {m}");
        let r = client()
            .head(o311(s, &format!("/requests.json?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "HEAD {query}");
    }
    // The same parameters well formed are answered.
    for query in [
        "start_date=2026-12-01T00:00:00%2B08:00",
        "start_date=2026-12-01T00:00:00Z&end_date=2026-12-02T00:00:00Z&status=open,closed",
        "service_request_id=GL-1&status=closed",
    ] {
        let r = get(s, &format!("/requests.json?{query}")).await;
        assert_eq!(r.status(), StatusCode::OK, "{query}");
    }
    e.finish().await;
}
both_backends!(malformed_request_queries_are_refused);

/// Copies of one POST sent at once (a client retrying on a timeout) make one request; the
/// claims they took are all released. (Across two instances: `scale_out.rs`.)
async fn concurrent_copies_of_a_post_make_one_request(pg: bool) {
    let e = env(pg).await;
    let s = &e.s;
    let admin = s.login("usr-admin-1").await;
    let (_, key) = new_key(s, &admin, "城市 App").await;
    let before = s.store.event_count().await.unwrap();
    let form: Vec<(&str, String)> = vec![
        ("api_key", key.as_str()),
        ("service_code", "SR-02"),
        ("address_string", "东门后巷"),
        ("description", "井盖缺失"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_string()))
    .collect();
    let mut posts = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let (url, form) = (o311(s, "/requests.json"), form.clone());
        posts.spawn(async move {
            let r = client().post(url).form(&form).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            let v: Value = r.json().await.unwrap();
            v[0]["service_request_id"].as_str().unwrap().to_owned()
        });
    }
    let ids: std::collections::BTreeSet<String> = posts.join_all().await.into_iter().collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(s.store.event_count().await.unwrap(), before + 1);
    let count = |table: &str| {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        async move {
            let rows = s
                .store
                .select(&[fieldcheck_server::store::ledger::Select {
                    sql,
                    args: vec![],
                    columns: vec![fieldcheck_server::store::ledger::Col::Int],
                }])
                .await
                .unwrap();
            rows[0][0][0].int()
        }
    };
    assert_eq!(count("open311_requests").await, 1);
    let mut claims = -1;
    for _ in 0..100 {
        claims = count("open311_claims").await;
        if claims == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(claims, 0, "claims released");
    e.finish().await;
}
both_backends!(concurrent_copies_of_a_post_make_one_request);

/// Requests per key are rate-limited: past the burst, 429 in the errors document with
/// `Retry-After`.
#[tokio::test]
async fn posts_beyond_a_keys_rate_are_refused() {
    let e = Env::new(false, |c| {
        c.open311_per_minute = 1;
        c.open311_burst = 2;
    })
    .await
    .unwrap();
    let s = &e.s;
    let admin = s.login("usr-admin-1").await;
    let (_, key) = new_key(s, &admin, "城市 App").await;
    for i in 0..2 {
        let d = format!("第 {i} 条");
        let r = post_form(
            s,
            "/requests.json",
            &[
                ("api_key", &key),
                ("service_code", "SR-02"),
                ("address_string", "x"),
                ("description", &d),
            ],
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    let r = post_form(
        s,
        "/requests.xml",
        &[
            ("api_key", &key),
            ("service_code", "SR-02"),
            ("address_string", "x"),
        ],
    )
    .await;
    assert!(r.headers().contains_key("retry-after"));
    xml_error(r, StatusCode::TOO_MANY_REQUESTS).await;
    e.finish().await;
}

/// A photo uploaded with the request (multipart `media`) goes through the photo pipeline and
/// becomes the report's before photo; something that is not a photo is a 400.
#[tokio::test]
async fn a_photo_uploaded_with_the_request_is_its_before_photo() {
    let e = env(false).await;
    let s = &e.s;
    let admin = s.login("usr-admin-1").await;
    let (_, key) = new_key(s, &admin, "城市 App").await;
    let fields = [
        ("api_key", key.as_str()),
        ("service_code", "SR-02"),
        ("address_id", "p-005"),
    ];
    let (ct, body) = multipart(&fields, "media", &png());
    let r = client()
        .post(o311(s, "/requests.json"))
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    let token = v[0]["token"].as_str().unwrap().to_owned();
    let office = s.console_sign_in("usr-admin-1").await;
    let d: Value = s
        .console_get(&office.cookie, &format!("/console/problems/{token}"))
        .await
        .json()
        .await
        .unwrap();
    let photos = d["problem"]["photos"].as_array().unwrap();
    assert_eq!(photos.len(), 1, "{d}");
    assert_eq!(photos[0]["role"], "before");
    let (ct, body) = multipart(&fields, "media", b"not a photo at all");
    let r = client()
        .post(o311(s, "/requests.xml"))
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    let m = xml_error(r, StatusCode::BAD_REQUEST).await;
    assert!(m.contains("media"), "{m}");
    e.finish().await;
}

/// `fieldcheck-server open311-key add|list|revoke` on the configured database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shell_issues_lists_and_revokes_keys() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_fieldcheck-server"))
            .args(args)
            .env(
                "FIELDCHECK_DATABASE_URL",
                format!("sqlite://{}/fc.db", dir.path().display()),
            )
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let added = run(&["open311-key", "add", "12345 热线"]);
    let field = |name: &str| {
        added
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap()
            .trim()
            .to_owned()
    };
    let (id, key) = (field("id:"), field("api_key:"));
    assert_eq!(key.len(), 64);
    let listed = run(&["open311-key", "list"]);
    assert!(
        listed.contains(&id) && listed.contains("active") && !listed.contains(&key),
        "{listed}"
    );
    run(&["open311-key", "revoke", &id]);
    assert!(run(&["open311-key", "list"]).contains("revoked"));
    // The key is refused by a server on the same database.
    let mut config = test_config(dir.path());
    config.database_url = format!("sqlite://{}/fc.db", dir.path().display());
    let s = Server::start_with(config, None, false).await;
    let m = json_error(
        post_form(
            &s,
            "/requests.json",
            &[
                ("api_key", &key),
                ("service_code", "SR-02"),
                ("address_string", "x"),
            ],
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(m.contains("revoked"), "{m}");
    s.stop().await;
}
