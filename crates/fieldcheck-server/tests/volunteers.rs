//! The volunteers' public report page's API over real HTTP (issue 17), on SQLite and
//! PostgreSQL, as the people who use it and as hostile ones: the office makes a team and its
//! invite; volunteers join (pending until approved by the office or their leader), report with
//! a photo exactly once however often the page resends, see an open report nearby and add a
//! photo to it instead, follow their reports (a duplicate follows its original); the console
//! counts their reports and confirmations. Refused: reports before approval, forged ids,
//! another site's requests, missing CSRF tokens, a leader deciding outside their team, photos
//! not on the page, anonymous reports while the city has them off and beyond their limits.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn env(pg: bool) -> Env {
    Env::new(pg, |_| {})
        .await
        .expect("PostgreSQL at 127.0.0.1:5432 (db test) must be reachable for volunteer tests")
}

/// Someone on the page: their cookie and CSRF token.
struct Page {
    cookie: String,
    csrf: String,
    user_id: String,
}

fn cookie_of(r: &reqwest::Response) -> String {
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    set.split(';').next().unwrap().to_owned()
}

async fn join(s: &Server, invite: &str, name: &str, phone: &str) -> Page {
    let r = s
        .http
        .post(s.url("/volunteer/join"))
        .json(&json!({"invite": invite, "name": name, "phone": phone}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = cookie_of(&r);
    let me: Value = r.json().await.unwrap();
    assert_eq!(me["status"], "pending");
    assert_eq!(me["name"], name);
    assert!(me["phone"].as_str().unwrap().contains("****"), "{me}");
    Page {
        cookie,
        csrf: me["csrf_token"].as_str().unwrap().to_owned(),
        user_id: me["user_id"].as_str().unwrap().to_owned(),
    }
}

async fn get(s: &Server, p: &Page, path: &str) -> reqwest::Response {
    s.http
        .get(s.url(path))
        .header("cookie", &p.cookie)
        .send()
        .await
        .unwrap()
}

async fn upload(
    s: &Server,
    p: &Page,
    path: &str,
    fields: &[(&str, &str)],
    photo: &[u8],
) -> reqwest::Response {
    let (ct, body) = multipart(fields, "photo", photo);
    s.http
        .post(s.url(path))
        .header("cookie", &p.cookie)
        .header("x-csrf-token", &p.csrf)
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn error(r: reqwest::Response, status: StatusCode, code: &str) -> String {
    assert_eq!(r.status(), status);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], code, "{v}");
    v["message"].as_str().unwrap().to_owned()
}

/// 人民路 near the demo city's p-005.
const AT: (&str, &str) = ("26.0810", "119.3020");

async fn volunteers_report_once_and_follow_their_reports(pg: bool) {
    let e = env(pg).await;
    let s = &e.s;
    let office = s.console_sign_in("usr-admin-1").await;

    // The office makes a team; its invite link leads to the page.
    let r = s
        .console_post(
            &office,
            "/console/volunteers/teams",
            json!({"name": "鼓楼红马甲", "district_id": "d-gl"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let team: Value = r.json().await.unwrap();
    let url = team["invite_url"].as_str().unwrap();
    assert!(url.contains("/report/#/join/"), "{url}");
    assert!(
        team["invite_qr"].as_str().unwrap().starts_with("<?xml")
            || team["invite_qr"].as_str().unwrap().contains("<svg")
    );
    let invite = url.rsplit('/').next().unwrap().to_owned();
    let r = s
        .http
        .get(s.url(&format!("/volunteer/invite/{invite}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.unwrap()["team"]["name"],
        "鼓楼红马甲"
    );
    let r = s
        .http
        .get(s.url(&format!("/volunteer/invite/{}", "0".repeat(32))))
        .send()
        .await
        .unwrap();
    error(r, StatusCode::NOT_FOUND, "not_found").await;
    // A bad team name or district is refused, saying which.
    let r = s
        .console_post(&office, "/console/volunteers/teams", json!({"name": "  "}))
        .await;
    error(r, StatusCode::BAD_REQUEST, "malformed_request").await;
    let r = s
        .console_post(
            &office,
            "/console/volunteers/teams",
            json!({"name": "x", "district_id": "nowhere"}),
        )
        .await;
    assert!(
        error(r, StatusCode::BAD_REQUEST, "malformed_request")
            .await
            .contains("district")
    );

    // Joining: a phone that is not a mobile number is refused; two volunteers join.
    let r = s
        .http
        .post(s.url("/volunteer/join"))
        .json(&json!({"invite": invite, "name": "王芳", "phone": "12345"}))
        .send()
        .await
        .unwrap();
    assert!(
        error(r, StatusCode::BAD_REQUEST, "malformed_request")
            .await
            .contains("phone")
    );
    let leader = join(s, &invite, "王芳", "138 0013 8001").await;
    let vol = join(s, &invite, "李强", "13800138002").await;
    let r = get(s, &vol, "/volunteer/me").await;
    assert_eq!(r.status(), StatusCode::OK);

    // Not approved yet: no report.
    let id1 = uuid::Uuid::now_v7().to_string();
    let fields = |id: &str| {
        vec![
            ("id", id.to_owned()),
            ("category", "SR-02".to_owned()),
            ("lat", AT.0.to_owned()),
            ("lon", AT.1.to_owned()),
            ("accuracy_m", "8".to_owned()),
            ("description", "<b>垃圾</b>堆在路边".to_owned()),
        ]
    };
    let send = |p: &Page, path: String, f: Vec<(&'static str, String)>, photo: Vec<u8>| {
        let p = Page {
            cookie: p.cookie.clone(),
            csrf: p.csrf.clone(),
            user_id: p.user_id.clone(),
        };
        async move {
            let borrowed: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            upload(s, &p, &path, &borrowed, &photo).await
        }
    };
    let r = send(&vol, "/volunteer/reports".into(), fields(&id1), png()).await;
    assert!(
        error(r, StatusCode::FORBIDDEN, "forbidden")
            .await
            .contains("approved")
    );
    // Nor a look at others' reports nearby.
    let r = get(
        s,
        &vol,
        &format!("/volunteer/nearby?lat={}&lon={}&category=SR-02", AT.0, AT.1),
    )
    .await;
    error(r, StatusCode::FORBIDDEN, "forbidden").await;

    // The office approves the first and names them leader; the leader approves the second.
    let r = s
        .console_post(
            &office,
            &format!("/console/volunteers/members/{}", leader.user_id),
            json!({"leader": true}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let row: Value = r.json().await.unwrap();
    assert_eq!(
        (row["status"].as_str(), row["leader"].as_bool()),
        (Some("approved"), Some(true))
    );
    assert_eq!(
        row["phone"], "13800138001",
        "the office sees the phone in full"
    );
    let members: Value = get(s, &leader, "/volunteer/team/members")
        .await
        .json()
        .await
        .unwrap();
    let pending = members["members"].as_array().unwrap();
    assert_eq!(
        pending[0]["user_id"],
        vol.user_id.as_str(),
        "pending first: {members}"
    );
    assert_eq!(
        pending[0]["phone"], "138****8002",
        "a leader sees it masked"
    );
    // A member who is not the leader may not decide; the leader may not name leaders.
    let decide = |p: &Page, who: &str, body: Value| {
        let (cookie, csrf, path) = (
            p.cookie.clone(),
            p.csrf.clone(),
            format!("/volunteer/team/members/{who}"),
        );
        async move {
            s.http
                .post(s.url(&path))
                .header("cookie", cookie)
                .header("x-csrf-token", csrf)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let r = decide(&vol, &leader.user_id, json!({"status": "rejected"})).await;
    error(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = decide(&leader, &vol.user_id, json!({"leader": true})).await;
    error(r, StatusCode::BAD_REQUEST, "malformed_request").await;
    let r = decide(&leader, &vol.user_id, json!({"status": "approved"})).await;
    assert_eq!(r.status(), StatusCode::OK);

    // A report with a photo: 201, and the same id again (the page's resend) 200, one report.
    let r = send(&vol, "/volunteer/reports".into(), fields(&id1), png()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let first: Value = r.json().await.unwrap();
    let code1 = first["code"].as_str().unwrap().to_owned();
    assert!(code1.contains("-VOLU-"), "{code1}");
    for _ in 0..2 {
        let r = send(&vol, "/volunteer/reports".into(), fields(&id1), png()).await;
        assert_eq!(r.status(), StatusCode::OK);
        let again: Value = r.json().await.unwrap();
        assert_eq!(
            (again["code"].as_str(), again["already"].as_bool()),
            (Some(code1.as_str()), Some(true))
        );
    }
    let d: Value = s
        .console_get(&office.cookie, &format!("/console/problems/{id1}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d["problem"]["reporter"], vol.user_id.as_str());
    assert_eq!(d["source"], "volunteer");
    assert_eq!(
        d["problem"]["description"], "<b>垃圾</b>堆在路边",
        "stored as the text it is"
    );
    assert_eq!(d["timeline"].as_array().unwrap().len(), 1, "one event: {d}");
    // Someone else sending a report under that id is refused, and changes nothing.
    let r = send(&leader, "/volunteer/reports".into(), fields(&id1), png()).await;
    error(r, StatusCode::FORBIDDEN, "forbidden").await;

    // Hostile requests: no CSRF token, another site's page, a bad id, no location.
    let (ct, body) = multipart(
        &[
            ("id", &uuid::Uuid::now_v7().to_string()),
            ("category", "SR-02"),
        ],
        "photo",
        &png(),
    );
    let r = s
        .http
        .post(s.url("/volunteer/reports"))
        .header("cookie", &vol.cookie)
        .header("content-type", ct.clone())
        .body(body.clone())
        .send()
        .await
        .unwrap();
    error(r, StatusCode::FORBIDDEN, "csrf_rejected").await;
    let r = s
        .http
        .post(s.url("/volunteer/reports"))
        .header("cookie", &vol.cookie)
        .header("x-csrf-token", &vol.csrf)
        .header("origin", "https://evil.example")
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    error(r, StatusCode::FORBIDDEN, "csrf_rejected").await;
    let mut f = fields("not-a-uuid");
    let r = send(&vol, "/volunteer/reports".into(), f.clone(), png()).await;
    assert!(
        error(r, StatusCode::BAD_REQUEST, "malformed_request")
            .await
            .contains("id")
    );
    f[0].1 = uuid::Uuid::now_v7().to_string();
    f.retain(|(k, _)| !matches!(*k, "lat" | "lon"));
    let r = send(&vol, "/volunteer/reports".into(), f, png()).await;
    assert!(
        error(r, StatusCode::BAD_REQUEST, "malformed_request")
            .await
            .contains("location")
    );
    let r = send(
        &vol,
        "/volunteer/reports".into(),
        fields(&uuid::Uuid::now_v7().to_string()),
        b"not a photo".to_vec(),
    )
    .await;
    assert!(
        error(r, StatusCode::BAD_REQUEST, "malformed_request")
            .await
            .contains("photo")
    );

    // The leader, about to report the same category there, sees it nearby with its photo.
    let near: Value = get(
        s,
        &leader,
        &format!("/volunteer/nearby?lat={}&lon={}&category=SR-02", AT.0, AT.1),
    )
    .await
    .json()
    .await
    .unwrap();
    let list = near["reports"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{near}");
    assert_eq!(list[0]["code"], code1.as_str());
    assert_eq!(list[0]["status_label"], "已上报");
    let photo_url = list[0]["photo"]
        .as_str()
        .unwrap()
        .trim_start_matches("/api/v1")
        .to_owned();
    let r = get(s, &leader, &photo_url).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    let jpeg = r.bytes().await.unwrap();
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    assert!(
        !jpeg.windows(4).any(|w| w == b"Exif"),
        "no EXIF on anything public"
    );
    // Another category, or 60 m away: nothing.
    let none: Value = get(
        s,
        &leader,
        &format!("/volunteer/nearby?lat={}&lon={}&category=SR-01", AT.0, AT.1),
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(none["reports"].as_array().unwrap().is_empty());
    let none: Value = get(
        s,
        &leader,
        &format!("/volunteer/nearby?lat=26.08154&lon={}&category=SR-02", AT.1),
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(none["reports"].as_array().unwrap().is_empty(), "{none}");

    // … and adds a photo to it instead of reporting it again; the resend lands once.
    let add_id = uuid::Uuid::now_v7().to_string();
    let add = |p: &Page| {
        send(
            p,
            format!("/volunteer/reports/{id1}/photos"),
            vec![("id", add_id.clone())],
            png_of(7),
        )
    };
    let r = add(&leader).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(add(&leader).await.status(), StatusCode::OK);
    let d: Value = s
        .console_get(&office.cookie, &format!("/console/problems/{id1}"))
        .await
        .json()
        .await
        .unwrap();
    let photos = d["problem"]["photos"].as_array().unwrap();
    assert_eq!(photos.len(), 2, "{d}");
    assert_eq!(photos[1]["added_by"], leader.user_id.as_str());
    assert_eq!(photos[1]["role"], "evidence");

    // The leader reports it anyway; the office marks it a duplicate of the first, files and
    // dispatches the first: the duplicate's reporter sees the original's status.
    let id2 = uuid::Uuid::now_v7().to_string();
    let r = send(
        &leader,
        "/volunteer/reports".into(),
        fields(&id2),
        png_of(9),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let act = |id: String, action: Value| {
        let office = &office;
        async move {
            let d: Value = s
                .console_get(&office.cookie, &format!("/console/problems/{id}"))
                .await
                .json()
                .await
                .unwrap();
            let r = s
                .console_post(
                    office,
                    &format!("/console/problems/{id}/actions"),
                    json!({"version": d["version"], "action": action}),
                )
                .await;
            assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
        }
    };
    act(
        id2.clone(),
        json!({"action": "reject", "reason": {"type": "duplicate", "of": code1}}),
    )
    .await;
    act(id1.clone(), json!({"action": "file", "note": null})).await;
    act(
        id1.clone(),
        json!({"action": "dispatch", "unit_id": "u-c-dm", "deadline": null, "note": null}),
    )
    .await;
    let mine: Value = get(s, &leader, "/volunteer/reports")
        .await
        .json()
        .await
        .unwrap();
    let reports = mine["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 1, "only their own: {mine}");
    assert_eq!(reports[0]["id"], id2.as_str());
    assert_eq!(reports[0]["status"], "dispatched");
    assert_eq!(reports[0]["duplicate_of"]["code"], code1.as_str());
    assert!(reports[0]["public_note"].as_str().unwrap().contains(&code1));
    let theirs: Value = get(s, &vol, "/volunteer/reports")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["reports"][0]["status_label"], "已派遣");
    assert_eq!(theirs["reports"][0]["photos"].as_array().unwrap().len(), 2);

    // The after-photo, once there: on the report and on its duplicate's page.
    let r = s
        .http
        .post(s.url("/console/photos"))
        .header("cookie", &office.cookie)
        .header("x-csrf-token", &office.csrf)
        .header("content-type", "image/png")
        .body(png_of(33))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let after = r.json::<Value>().await.unwrap()["hash"]
        .as_str()
        .unwrap()
        .to_owned();
    act(
        id1.clone(),
        json!({"action": "add_photos", "photos": [after], "role": "after", "note": null}),
    )
    .await;
    for p in [&vol, &leader] {
        let mine: Value = get(s, p, "/volunteer/reports").await.json().await.unwrap();
        let after_photos = mine["reports"][0]["after_photos"].as_array().unwrap();
        assert_eq!(after_photos.len(), 1, "{mine}");
        let r = get(
            s,
            p,
            after_photos[0]
                .as_str()
                .unwrap()
                .trim_start_matches("/api/v1"),
        )
        .await;
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "their after-photo is on their page"
        );
    }

    // The console's counts: the volunteer's report confirmed, the leader's duplicate not.
    let page: Value = s
        .console_get(&office.cookie, "/console/volunteers")
        .await
        .json()
        .await
        .unwrap();
    let row = |id: &str| {
        page["volunteers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["user_id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        (
            row(&vol.user_id)["reports"].as_u64(),
            row(&vol.user_id)["confirmed"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(
        (
            row(&leader.user_id)["reports"].as_u64(),
            row(&leader.user_id)["confirmed"].as_u64()
        ),
        (Some(1), Some(0))
    );
    let t = &page["teams"][0];
    assert_eq!(
        (
            t["members"].as_u64(),
            t["reports"].as_u64(),
            t["confirmed"].as_u64()
        ),
        (Some(2), Some(2), Some(1))
    );

    // A photo of a closed report that is not mine is not on the page; a random hash neither.
    let r = get(s, &vol, &format!("/volunteer/photos/{}", "a".repeat(64))).await;
    error(r, StatusCode::NOT_FOUND, "not_found").await;

    // A new invite link: the old one stops working. Signing out ends the session.
    let r = s
        .console_post(
            &office,
            &format!(
                "/console/volunteers/teams/{}/invite",
                team["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = s
        .http
        .get(s.url(&format!("/volunteer/invite/{invite}")))
        .send()
        .await
        .unwrap();
    error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = s
        .http
        .post(s.url("/volunteer/signout"))
        .header("cookie", &vol.cookie)
        .header("x-csrf-token", &vol.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    error(
        get(s, &vol, "/volunteer/me").await,
        StatusCode::UNAUTHORIZED,
        "not_signed_in",
    )
    .await;
    e.finish().await;
}

/// A distinct small photo (another pixel pattern, another hash).
fn png_of(salt: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 3, y as u8 * 5, salt]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[tokio::test]
async fn volunteers_on_sqlite() {
    volunteers_report_once_and_follow_their_reports(false).await;
}

#[tokio::test]
async fn volunteers_on_postgres() {
    volunteers_report_once_and_follow_their_reports(true).await;
}

/// Anonymous citizens: refused while the city has them off; once on, each browser follows only
/// its own reports, under tighter limits per address.
async fn anonymous_citizens(pg: bool) {
    let e = env(pg).await;
    let s = &e.s;
    let office = s.console_sign_in("usr-admin-1").await;
    let anon = || async {
        s.http
            .post(s.url("/volunteer/anonymous"))
            .send()
            .await
            .unwrap()
    };
    error(anon().await, StatusCode::FORBIDDEN, "forbidden").await;
    let switch = |on: bool| {
        let office = &office;
        async move {
            let r = s
                .http
                .put(s.url("/console/volunteers/settings"))
                .header("cookie", &office.cookie)
                .header("x-csrf-token", &office.csrf)
                .json(&json!({ "anonymous_reports": on }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
        }
    };
    switch(true).await;
    let city: Value = s
        .http
        .get(s.url("/volunteer/city"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(city["anonymous_reports"], true);
    assert_eq!(
        city["categories"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["common"] == true)
            .count(),
        8
    );
    let mut people = Vec::new();
    for _ in 0..2 {
        let r = anon().await;
        assert_eq!(r.status(), StatusCode::OK);
        let cookie = cookie_of(&r);
        let me: Value = r.json().await.unwrap();
        assert_eq!(me["status"], "anonymous");
        people.push(Page {
            cookie,
            csrf: me["csrf_token"].as_str().unwrap().to_owned(),
            user_id: me["user_id"].as_str().unwrap().to_owned(),
        });
    }
    let report = |p: &Page| {
        let id = uuid::Uuid::now_v7().to_string();
        let p = Page {
            cookie: p.cookie.clone(),
            csrf: p.csrf.clone(),
            user_id: p.user_id.clone(),
        };
        async move {
            upload(
                s,
                &p,
                "/volunteer/reports",
                &[
                    ("id", &id),
                    ("category", "SR-02"),
                    ("address", "人民路 88 号"),
                    ("description", "井盖缺失"),
                ],
                &[],
            )
            .await
        }
    };
    assert_eq!(report(&people[0]).await.status(), StatusCode::CREATED);
    assert_eq!(report(&people[1]).await.status(), StatusCode::CREATED);
    for p in &people {
        let mine: Value = get(s, p, "/volunteer/reports").await.json().await.unwrap();
        assert_eq!(
            mine["reports"].as_array().unwrap().len(),
            1,
            "each sees only their own: {mine}"
        );
    }
    // Tighter limits for citizens: a burst of three per address, then 429 with Retry-After.
    assert_eq!(report(&people[0]).await.status(), StatusCode::CREATED);
    let r = report(&people[1]).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    // The console counts them.
    let page: Value = s
        .console_get(&office.cookie, "/console/volunteers")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["anonymous_count"], 3);
    // Switched off: no more anonymous reports, even from a session made before.
    switch(false).await;
    error(report(&people[0]).await, StatusCode::FORBIDDEN, "forbidden").await;
    // Volunteers' pages are not the office's: a volunteer session never opens the console.
    let r = s
        .console_get(&people[0].cookie, "/console/volunteers")
        .await;
    error(r, StatusCode::UNAUTHORIZED, "not_signed_in").await;
    e.finish().await;
}

#[tokio::test]
async fn anonymous_citizens_on_sqlite() {
    anonymous_citizens(false).await;
}

#[tokio::test]
async fn anonymous_citizens_on_postgres() {
    anonymous_citizens(true).await;
}
