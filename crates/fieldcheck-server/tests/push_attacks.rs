//! Attacks on push and pull (issue 12: items 3, 5, 6, 7 and parts of 10), each as a hostile
//! user would try it: over real HTTP against the real server, on SQLite and PostgreSQL.

mod common;

use common::{Env, Server, accepted, api_error, dispatched, ev, filed, now_ms, report, user};
use fieldcheck_domain::event::{EventBody, PhotoRef, PhotoRole, ProblemEdit, limits};
use fieldcheck_domain::reference::User;
use fieldcheck_domain::{Event, EventOutcome, Hlc, RefusalCode};
use fieldcheck_protocol::sync::{PullItem, PushResponse, PushStatus};
use fieldcheck_server::Config;
use reqwest::StatusCode;
use uuid::Uuid;

/// [`Env`] for batches of 500 events, as a device (or an attacker) sends them.
async fn batch_env(pg: bool, tweak: impl FnOnce(&mut Config)) -> Option<Env> {
    Env::new(pg, |c| {
        c.max_body_bytes = 4 * 1024 * 1024;
        tweak(c);
    })
    .await
}

/// Runs `$name(pg)` as two tests, `$name::sqlite` and `$name::postgres`.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(false).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name(true).await;
                }
            }
        )*
    };
}

both_backends!(
    a_replay_answers_nothing_outside_the_callers_scope,
    moving_a_problem_needs_a_real_district_in_the_movers_scope,
    an_edit_cannot_be_placed_before_what_its_device_had_pulled,
    oversized_fields_and_bad_photo_hashes_are_refused,
    device_and_unit_are_the_tokens_and_codes_are_unique,
    pull_pages_are_bounded_by_bytes,
    pushes_are_rate_limited_per_device,
    stored_rejections_have_a_quota,
    a_backdated_batch_is_answered_in_bounded_slices,
);

fn edit(u: &User, p: Uuid, ms: i64, text: &str) -> Event {
    ev(
        u,
        p,
        ms,
        EventBody::ProblemEdited(ProblemEdit {
            description: Some(text.into()),
            ..ProblemEdit::default()
        }),
    )
}

fn refused_code(r: &PushResponse, i: usize) -> String {
    match &r.results[i].status {
        PushStatus::Refused { code, .. } => code.clone(),
        other => panic!("result {i}: expected refused, got {other:?}"),
    }
}

fn refused_message(r: &PushResponse, i: usize) -> String {
    match &r.results[i].status {
        PushStatus::Refused { message, .. } => message.clone(),
        other => panic!("result {i}: expected refused, got {other:?}"),
    }
}

/// The 东街 volunteer and the office, each with a device, after her report of a new problem
/// ten minutes ago: `(volunteer, office, her token, its token, when she reported, the problem)`.
async fn volunteer_reported(s: &Server) -> (User, User, String, String, i64, Uuid) {
    let (vol1, admin) = (user("usr-vol-1"), user("usr-admin-1"));
    let (tv1, ta) = (s.enroll(&vol1.id).await, s.enroll(&admin.id).await);
    let t = now_ms() - 600_000;
    let p = Uuid::now_v7();
    s.push(&tv1, vec![report(&vol1, p, "s-dj", t)]).await;
    (vol1, admin, tv1, ta, t, p)
}

/// Pulls every page for `token` from `since`; returns the events and the last cursor.
async fn pull_events(s: &Server, token: &str, since: u64) -> (Vec<Event>, u64) {
    let mut cursor = since;
    let mut out = Vec::new();
    loop {
        let page = s.pull(token, cursor).await;
        for item in page.items {
            if let PullItem::Event { event, .. } = item {
                out.push(*event);
            }
        }
        cursor = page.cursor;
        if !page.more {
            return (out, cursor);
        }
    }
}

/// Item 3: replaying a known event answers only what the caller may see now.
async fn a_replay_answers_nothing_outside_the_callers_scope(pg: bool) {
    let Some(env) = batch_env(pg, |_| {}).await else {
        return;
    };
    let s = &env.s;
    let (vol1, vol2, admin, hdl1) = (
        user("usr-vol-1"),
        user("usr-vol-2"),
        user("usr-admin-1"),
        user("usr-hdl-1"),
    );
    let (tv1, tv2, ta, th1) = (
        s.enroll(&vol1.id).await,
        s.enroll(&vol2.id).await,
        s.enroll(&admin.id).await,
        s.enroll(&hdl1.id).await,
    );
    let t = now_ms() - 60_000;
    let p = Uuid::now_v7();
    let rep = report(&vol1, p, "s-dj", t);
    let r = s.push(&tv1, vec![rep.clone()]).await;
    assert_eq!(r.results[0].status, PushStatus::Applied);
    assert!(
        r.results[0].state.is_some(),
        "the reporter sees her own report"
    );
    // Her own retry is a duplicate with the state (she may see it).
    let again = s.push(&tv1, vec![rep.clone()]).await;
    assert_eq!(again.results[0].status, PushStatus::Duplicate);
    assert!(again.results[0].state.is_some());

    // A volunteer of another street replays her report: no description, unit or photos.
    let stolen = s.push(&tv2, vec![rep.clone()]).await;
    assert_eq!(refused_code(&stolen, 0), "id_conflict", "{stolen:?}");
    assert!(stolen.results[0].state.is_none());
    assert!(stolen.results[0].outcome.is_none());

    // A unit handler replays his old accept after the problem was re-dispatched elsewhere.
    s.file_and_dispatch(&ta, &admin, p, "u-s-dj", (t + 1_000, t + 2_000))
        .await;
    let acc = accepted(&hdl1, p, t + 3_000);
    let ret = ev(
        &hdl1,
        p,
        t + 4_000,
        EventBody::ProblemReturned {
            reason: "不属于本单位".into(),
        },
    );
    let r = s.push(&th1, vec![acc.clone(), ret]).await;
    assert!(
        r.results.iter().all(|x| x.status == PushStatus::Applied),
        "{r:?}"
    );
    let r = s
        .push(&ta, vec![dispatched(&admin, p, "u-jjdd", t + 5_000)])
        .await;
    assert_eq!(r.results[0].status, PushStatus::Applied);
    let replay = s.push(&th1, vec![acc]).await;
    assert_eq!(replay.results[0].status, PushStatus::Duplicate);
    assert_eq!(
        replay.results[0].outcome,
        Some(EventOutcome::Applied),
        "his own event's fate is his to know"
    );
    assert!(
        replay.results[0].state.is_none(),
        "the new unit's case is not his: {:?}",
        replay.results[0].state
    );
    // The office still sees it.
    let office = s
        .push(&ta, vec![dispatched(&admin, p, "u-jjdd", t + 5_000)])
        .await;
    assert!(office.results[0].state.is_some());
    env.finish().await;
}

/// Item 5: a district change is checked against the reference data and the editor's scope.
async fn moving_a_problem_needs_a_real_district_in_the_movers_scope(pg: bool) {
    let Some(env) = batch_env(pg, |_| {}).await else {
        return;
    };
    let s = &env.s;
    let (vol1, admin, hdl1) = (user("usr-vol-1"), user("usr-admin-1"), user("usr-hdl-1"));
    let (tv1, ta, th1) = (
        s.enroll(&vol1.id).await,
        s.enroll(&admin.id).await,
        s.enroll(&hdl1.id).await,
    );
    let t = now_ms() - 60_000;
    let p = Uuid::now_v7();
    s.push(&tv1, vec![report(&vol1, p, "s-dj", t)]).await;
    s.file_and_dispatch(&ta, &admin, p, "u-s-dj", (t + 1, t + 2))
        .await;
    let move_to = |d: &str, ms: i64, who: &fieldcheck_domain::reference::User| {
        ev(
            who,
            p,
            ms,
            EventBody::ProblemEdited(ProblemEdit {
                district_id: Some(d.into()),
                ..ProblemEdit::default()
            }),
        )
    };
    let r = s
        .push(
            &th1,
            vec![
                move_to("d-nowhere", t + 3, &hdl1),
                move_to("s-nj", t + 4, &hdl1),
                move_to("c-dm", t + 5, &hdl1),
            ],
        )
        .await;
    assert_eq!(refused_code(&r, 0), "invalid_event");
    assert!(refused_message(&r, 0).contains("d-nowhere"));
    assert_eq!(
        refused_code(&r, 1),
        "out_of_scope",
        "s-nj is not the handler's street"
    );
    assert_eq!(
        r.results[2].status,
        PushStatus::Applied,
        "a community of his street"
    );
    assert_eq!(
        s.store
            .problem(p)
            .await
            .unwrap()
            .unwrap()
            .district_id
            .as_deref(),
        Some("c-dm")
    );
    // Admins may move anywhere, but only to districts that exist; units must exist too.
    let r = s
        .push(
            &ta,
            vec![
                move_to("d-nowhere", t + 6, &admin),
                dispatched(&admin, p, "u-nowhere", t + 7),
                move_to("s-wq", t + 8, &admin),
            ],
        )
        .await;
    assert_eq!(refused_code(&r, 0), "invalid_event");
    assert_eq!(refused_code(&r, 1), "invalid_event");
    assert!(refused_message(&r, 1).contains("u-nowhere"));
    assert_eq!(r.results[2].status, PushStatus::Applied);
    // A report must name a real district (and point) too.
    let q = Uuid::now_v7();
    let r = s.push(&tv1, vec![report(&vol1, q, "s-nowhere", t)]).await;
    assert_eq!(refused_code(&r, 0), "invalid_event");
    env.finish().await;
}

/// Item 6: the office files; a volunteer's edit made offline before the filing reached her
/// phone still lands before it, but one she forges after pulling the filing does not.
async fn an_edit_cannot_be_placed_before_what_its_device_had_pulled(pg: bool) {
    let Some(env) = batch_env(pg, |_| {}).await else {
        return;
    };
    let s = &env.s;
    let (vol1, admin, tv1, ta, t, p) = volunteer_reported(s).await;
    let (_, cursor) = pull_events(s, &tv1, 0).await;
    // The office files at t+10s; her phone is offline.
    let filing = filed(&admin, p, t + 10_000);
    let r = s.push(&ta, vec![filing.clone()]).await;
    assert_eq!(r.results[0].status, PushStatus::Applied);

    // Made offline at t+5s, before the filing reached her: legitimately earlier, kept there.
    let offline = edit(&vol1, p, t + 5_000, "offline: 垃圾在桥下");
    let r = s.push(&tv1, vec![offline.clone()]).await;
    assert_eq!(r.results[0].status, PushStatus::Applied);
    assert_eq!(r.results[0].outcome, Some(EventOutcome::Applied));
    assert_eq!(r.results[0].hlc.as_ref(), Some(&offline.hlc), "not moved");

    // She syncs and receives the filing...
    let (got, _) = pull_events(s, &tv1, cursor).await;
    assert!(got.iter().any(|e| e.id == filing.id));
    // ...then sends an edit dated before it, as if she had made it offline.
    let forged = edit(&vol1, p, t + 6_000, "forged: 与我无关");
    let r = s.push(&tv1, vec![forged.clone()]).await;
    assert_eq!(r.results[0].status, PushStatus::Applied, "{r:?}");
    let placed: &Hlc = r.results[0].hlc.as_ref().unwrap();
    assert!(
        *placed > filing.hlc,
        "placed after the filing she had pulled: {placed} vs {}",
        filing.hlc
    );
    match &r.results[0].outcome {
        Some(EventOutcome::Rejected { code, .. }) => {
            assert_eq!(*code, RefusalCode::InvalidTransition)
        }
        other => panic!("the forged edit must lose to the filing: {other:?}"),
    }
    let state = s.store.problem(p).await.unwrap().unwrap();
    assert_eq!(state.description, "offline: 垃圾在桥下");
    assert_eq!(state.status.as_str(), "filed");
    // Everyone pulls it at the stamp the server chose.
    let (all, _) = pull_events(s, &ta, 0).await;
    let stored = all.iter().find(|e| e.id == forged.id).unwrap();
    assert_eq!(&stored.hlc, placed);
    env.finish().await;
}

/// Item 7 (field sizes) and 10 (photo hashes inside events).
async fn oversized_fields_and_bad_photo_hashes_are_refused(pg: bool) {
    let Some(env) = batch_env(pg, |_| {}).await else {
        return;
    };
    let s = &env.s;
    let vol1 = user("usr-vol-1");
    let tv1 = s.enroll(&vol1.id).await;
    let t = now_ms() - 60_000;
    let mut long = report(&vol1, Uuid::now_v7(), "s-dj", t);
    if let EventBody::ProblemReported(r) = &mut long.body {
        r.description = "脏".repeat(limits::DESCRIPTION + 1);
    }
    let bad_photo = report(&vol1, Uuid::now_v7(), "s-dj", t).with_photos(vec![PhotoRef {
        hash: "../../../../etc/passwd".into(),
        role: PhotoRole::Before,
    }]);
    let mut long_reason = report(&vol1, Uuid::now_v7(), "s-dj", t);
    if let EventBody::ProblemReported(r) = &mut long_reason.body {
        r.address = "x".repeat(limits::ADDRESS + 1);
    }
    let fine = report(&vol1, Uuid::now_v7(), "s-dj", t).with_photos(vec![PhotoRef {
        hash: common::sha(b"photo"),
        role: PhotoRole::Before,
    }]);
    let r = s.push(&tv1, vec![long, bad_photo, long_reason, fine]).await;
    assert_eq!(refused_code(&r, 0), "invalid_event");
    assert!(refused_message(&r, 0).contains("payload.description"));
    assert!(refused_message(&r, 0).contains("2000"));
    assert_eq!(refused_code(&r, 1), "invalid_event");
    assert!(refused_message(&r, 1).contains("photos[0].hash"));
    assert_eq!(refused_code(&r, 2), "invalid_event");
    assert!(refused_message(&r, 2).contains("payload.address"));
    assert_eq!(r.results[3].status, PushStatus::Applied);
    assert_eq!(r.missing_blobs, vec![common::sha(b"photo")]);
    assert_eq!(
        s.store.event_count().await.unwrap(),
        1,
        "only the valid one stored"
    );
    env.finish().await;
}

/// Item 10: an event's device and unit are the token's; a problem code is one problem's.
async fn device_and_unit_are_the_tokens_and_codes_are_unique(pg: bool) {
    let Some(env) = batch_env(pg, |_| {}).await else {
        return;
    };
    let s = &env.s;
    let (vol1, vol2, admin) = (user("usr-vol-1"), user("usr-vol-2"), user("usr-admin-1"));
    let (tv1, tv2, ta) = (
        s.enroll(&vol1.id).await,
        s.enroll(&vol2.id).await,
        s.enroll(&admin.id).await,
    );
    let me: fieldcheck_protocol::sync::Me = s.me(&tv1).await.json().await.unwrap();
    let t = now_ms() - 60_000;
    let p = Uuid::now_v7();
    let mut rep = report(&vol1, p, "s-dj", t);
    rep.device = "the-office-pc".into();
    let mut unit = report(&vol1, Uuid::now_v7(), "s-dj", t);
    unit.actor_unit = Some("u-s-dj".into());
    let r = s.push(&tv1, vec![rep.clone(), unit]).await;
    assert_eq!(r.results[0].status, PushStatus::Applied);
    assert_eq!(
        refused_code(&r, 1),
        "role_mismatch",
        "a volunteer has no unit"
    );
    let (events, _) = pull_events(s, &ta, 0).await;
    let stored = events.iter().find(|e| e.id == rep.id).unwrap();
    assert_eq!(
        stored.device,
        me.device_id.unwrap().to_string(),
        "the device the token names"
    );

    // Another volunteer reports a new problem under her code.
    let code = match &rep.body {
        EventBody::ProblemReported(r) => r.code.clone(),
        _ => unreachable!(),
    };
    let mut copy = report(&vol2, Uuid::now_v7(), "s-nj", t + 1);
    if let EventBody::ProblemReported(r) = &mut copy.body {
        r.code = code.clone();
    }
    let r = s.push(&tv2, vec![copy.clone()]).await;
    assert_eq!(refused_code(&r, 0), "code_taken", "{r:?}");
    assert!(refused_message(&r, 0).contains(&code));
    // Two new problems with one code in one batch: the second is refused.
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let first = report(&vol2, a, "s-nj", t + 2);
    let mut second = report(&vol2, b, "s-nj", t + 3);
    if let (EventBody::ProblemReported(x), EventBody::ProblemReported(y)) =
        (&first.body, &mut second.body)
    {
        y.code = x.code.clone();
    }
    let r = s.push(&tv2, vec![first, second]).await;
    assert_eq!(r.results[0].status, PushStatus::Applied);
    assert_eq!(refused_code(&r, 1), "code_taken");
    env.finish().await;
}

/// Item 7: a pull page stops before `max_pull_bytes` (but always carries one event).
async fn pull_pages_are_bounded_by_bytes(pg: bool) {
    let Some(env) = batch_env(pg, |c| c.max_pull_bytes = 6_000).await else {
        return;
    };
    let s = &env.s;
    let vol1 = user("usr-vol-1");
    let tv1 = s.enroll(&vol1.id).await;
    let t = now_ms() - 60_000;
    let p = Uuid::now_v7();
    let mut events = vec![report(&vol1, p, "s-dj", t)];
    for i in 0..8 {
        // ~2 KB each as JSON.
        events.push(edit(&vol1, p, t + 1 + i, &"x".repeat(1_900)));
    }
    let r = s.push(&tv1, events.clone()).await;
    assert!(r.results.iter().all(|x| x.status == PushStatus::Applied));
    let mut since = 0;
    let mut pages = 0;
    let mut got = 0;
    loop {
        let page = s.pull(&tv1, since).await;
        pages += 1;
        let bodies: usize = page
            .items
            .iter()
            .map(|i| match i {
                PullItem::Event { event, .. } => serde_json::to_string(event).unwrap().len(),
                PullItem::Remove { .. } => 0,
            })
            .sum();
        assert!(
            bodies <= 6_000 || page.items.len() == 1,
            "page of {} events, {bodies} bytes",
            page.items.len()
        );
        assert!(!page.items.is_empty());
        got += page.items.len();
        since = page.cursor;
        if !page.more {
            break;
        }
    }
    assert_eq!(got, 9, "every event, once");
    assert!(pages >= 3, "{pages} pages");
    // One event bigger than the limit still comes down, alone.
    let Some(env2) = batch_env(pg, |c| c.max_pull_bytes = 100).await else {
        return;
    };
    let t2 = env2.s.enroll(&vol1.id).await;
    env2.s.push(&t2, events[..2].to_vec()).await;
    let page = env2.s.pull(&t2, 0).await;
    assert_eq!(page.items.len(), 1);
    assert!(page.more);
    env2.finish().await;
    env.finish().await;
}

/// Item 7: per-device push rate, 429 with Retry-After; other devices are not affected.
async fn pushes_are_rate_limited_per_device(pg: bool) {
    let Some(env) = batch_env(pg, |c| {
        c.push_burst = 3;
        c.push_per_minute = 2;
    })
    .await
    else {
        return;
    };
    let s = &env.s;
    let vol1 = user("usr-vol-1");
    let (a, b) = (s.enroll(&vol1.id).await, s.enroll("usr-vol-2").await);
    let t = now_ms() - 60_000;
    for i in 0..3 {
        s.push(&a, vec![report(&vol1, Uuid::now_v7(), "s-dj", t + i)])
            .await;
    }
    let r = s
        .post_json(
            &a,
            "/push",
            &serde_json::json!({"events": [report(&vol1, Uuid::now_v7(), "s-dj", t)]}),
        )
        .await;
    let retry: u64 = r
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    let e = api_error(r, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert!(e.message.contains("try again"), "{e:?}");
    // Another device is not slowed by it.
    let vol2 = user("usr-vol-2");
    let r = s
        .push(&b, vec![report(&vol2, Uuid::now_v7(), "s-nj", t)])
        .await;
    assert_eq!(r.results[0].status, PushStatus::Applied);
    assert_eq!(s.store.event_count().await.unwrap(), 4);
    env.finish().await;
}

/// Item 7: events the fold rejects are stored, but only so many per sender per hour.
async fn stored_rejections_have_a_quota(pg: bool) {
    let Some(env) = batch_env(pg, |_| {}).await else {
        return;
    };
    let s = &env.s;
    let (vol1, admin, tv1, ta, t, p) = volunteer_reported(s).await;
    s.push(&ta, vec![filed(&admin, p, t + 1)]).await;
    // Edits after the filing: each one stored and rejected (a volunteer may not edit now).
    let quota = fieldcheck_server::store::MAX_REJECTED_PER_HOUR as usize;
    let mut sent = 0;
    while sent < quota {
        let n = (quota - sent).min(500);
        let batch: Vec<Event> = (0..n)
            .map(|i| edit(&vol1, p, t + 10 + (sent + i) as i64, "还是我的"))
            .collect();
        let r = s.push(&tv1, batch).await;
        assert_eq!(r.results.len(), n);
        assert!(
            r.results
                .iter()
                .all(|x| matches!(x.outcome, Some(EventOutcome::Rejected { .. })))
        );
        sent += n;
    }
    let before = s.store.event_count().await.unwrap();
    let r = s
        .push(&tv1, vec![edit(&vol1, p, t + 5_000_000, "再来")])
        .await;
    assert_eq!(refused_code(&r, 0), "too_many_rejected", "{r:?}");
    assert_eq!(s.store.event_count().await.unwrap(), before, "not stored");
    // What would apply still does.
    let r = s
        .push(&tv1, vec![report(&vol1, Uuid::now_v7(), "s-dj", t)])
        .await;
    assert_eq!(r.results[0].status, PushStatus::Applied);
    env.finish().await;
}

/// Item 7: a 500-event batch of backdated edits, each forcing a refold of a long record, is
/// answered in slices the writer can afford; the rest is sent again and lands in the end.
async fn a_backdated_batch_is_answered_in_bounded_slices(pg: bool) {
    let Some(env) = batch_env(pg, |_| {}).await else {
        return;
    };
    let s = &env.s;
    let vol1 = user("usr-vol-1");
    let tv1 = s.enroll(&vol1.id).await;
    let t = now_ms() - 3_600_000;
    let p = Uuid::now_v7();
    s.push(&tv1, vec![report(&vol1, p, "s-dj", t)]).await;
    for round in 0..2i64 {
        let batch: Vec<Event> = (0..500)
            .map(|i| edit(&vol1, p, t + 1_000_000 + round * 1_000 + i, "改"))
            .collect();
        let r = s.push(&tv1, batch).await;
        assert_eq!(r.results.len(), 500);
    }
    // Every event of this batch lands before the 1,000 stored ones: a refold each.
    let mut outbox: Vec<Event> = (0..500).map(|i| edit(&vol1, p, t + 1 + i, "早")).collect();
    let mut requests = 0;
    while !outbox.is_empty() {
        let r = s.push(&tv1, outbox.clone()).await;
        requests += 1;
        assert!(!r.results.is_empty(), "always progress");
        assert!(
            r.results.len() <= outbox.len(),
            "answers only what was sent"
        );
        if requests == 1 {
            assert!(
                r.results.len() < 500,
                "the first answer stops at the work bound: {}",
                r.results.len()
            );
        }
        for res in &r.results {
            assert_eq!(res.status, PushStatus::Applied);
        }
        let answered: Vec<Uuid> = r.results.iter().map(|x| x.event_id).collect();
        outbox.retain(|e| !answered.contains(&e.id));
    }
    assert!(requests > 1);
    assert_eq!(s.store.event_count().await.unwrap(), 1 + 1_000 + 500);
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_documents_push_and_pull_statuses() {
    let s = Server::start_temp().await;
    let doc = s.openapi().await;
    let push = &doc["paths"]["/api/v1/push"]["post"]["responses"];
    for status in ["200", "400", "401", "413", "426", "429"] {
        assert!(push.get(status).is_some(), "push {status}: {push}");
    }
    assert!(
        push["429"]["headers"].get("Retry-After").is_some(),
        "{push}"
    );
    let pull = &doc["paths"]["/api/v1/pull"]["get"];
    for status in ["200", "400", "401", "426"] {
        assert!(pull["responses"].get(status).is_some(), "pull {status}");
    }
    let limit = pull["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap();
    assert_eq!(limit["schema"]["minimum"], 1, "{limit}");
    s.stop().await;
}
