//! Issue 19, "Scale out": two server instances (two pools, two group commits, two sets of
//! in-process state) on one PostgreSQL schema and one blob store, over real HTTP. Whatever
//! instance a request lands on: an upload resumes where the other left it, the sign-in,
//! enrollment and push limits and the quota of stored fold rejections count once, and a puller alternating between them while both
//! commit pushes sees every event exactly once (no seq committed behind its cursor).

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::{Pg, Server, api_error, ev, filed, now_ms, report, sha, test_config, user};
use fieldcheck_domain::EventOutcome;
use fieldcheck_domain::event::{EventBody, ProblemEdit};
use fieldcheck_protocol::sync::{PullItem, PushStatus};
use fieldcheck_server::Store;
use fieldcheck_server::blobs::{BlobStore, ObjectBlobs};
use fieldcheck_server::store::PgStore;
use reqwest::StatusCode;
use uuid::Uuid;

/// Instance `a` (seeded with the demo city) and `b` on the same schema and blob store.
struct Two {
    a: Server,
    b: Server,
    pg: Pg,
    _dir: tempfile::TempDir,
}

impl Two {
    async fn start(tweak: impl Fn(&mut fieldcheck_server::Config)) -> Option<Two> {
        let pg = Pg::new().await?;
        let dir = tempfile::tempdir().unwrap();
        let blobs: Arc<dyn BlobStore> = Arc::new(ObjectBlobs::new(
            Arc::new(object_store::memory::InMemory::new()),
            "shared",
            "memory",
        ));
        // Each instance has its own disk: nothing may depend on the other's files.
        let mut config_a = test_config(&dir.path().join("a"));
        let mut config_b = test_config(&dir.path().join("b"));
        tweak(&mut config_a);
        tweak(&mut config_b);
        let store_a: Arc<dyn Store> = pg.store.clone();
        let store_b: Arc<dyn Store> =
            Arc::new(PgStore::open(pg.url(), Some(pg.schema())).await.unwrap());
        let a = Server::start_on(config_a, store_a, Some(blobs.clone()), true).await;
        let mut b = Server::start_on(config_b, store_b, Some(blobs), false).await;
        b.logins = a.logins.clone();
        Some(Two {
            a,
            b,
            pg,
            _dir: dir,
        })
    }

    fn at(&self, i: usize) -> &Server {
        if i.is_multiple_of(2) {
            &self.a
        } else {
            &self.b
        }
    }

    async fn finish(self) {
        self.a.stop().await;
        self.b.stop().await;
        self.pg.finish().await;
    }
}

fn blob(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_upload_resumes_on_the_other_instance() {
    let Some(t) = Two::start(|_| {}).await else {
        return;
    };
    let tok = t.a.enroll("usr-insp-1").await;
    let admin = t.b.login("usr-admin-1").await;
    let data = blob(30_000, 7);
    let hash = sha(&data);

    // 12,000 bytes on a, the device's connection breaks, it asks b where to go on.
    let r =
        t.a.put_chunk(&tok, &hash, 0, data.len(), data[..12_000].to_vec())
            .await;
    assert_eq!(r.status(), StatusCode::OK);
    let state = t.b.blob_state(&tok, &hash).await;
    assert_eq!((state.offset, state.complete), (12_000, false));
    // Nothing of it lies on either instance's disk.
    let partial = |s: &str| t._dir.path().join(s).join("blobs/partial");
    for s in ["a", "b"] {
        let files: Vec<_> = std::fs::read_dir(partial(s))
            .map(|d| d.map(|e| e.unwrap().file_name()).collect())
            .unwrap_or_default();
        assert!(files.is_empty(), "{s}: {files:?}");
    }
    // The next chunk lands on b; a stale retry of the first on a is refused with where the
    // upload stands, and so is a gap.
    let r =
        t.b.put_chunk(
            &tok,
            &hash,
            12_000,
            data.len(),
            data[12_000..24_000].to_vec(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let e = api_error(
        t.a.put_chunk(&tok, &hash, 0, data.len(), data[..12_000].to_vec())
            .await,
        StatusCode::CONFLICT,
        "bad_offset",
    )
    .await;
    assert!(e.message.contains("24000"), "{e:?}");
    // Two instances racing to stage the same chunk: exactly one stages it.
    let (ra, rb) = tokio::join!(
        t.a.put_chunk(
            &tok,
            &hash,
            24_000,
            data.len(),
            data[24_000..27_000].to_vec()
        ),
        t.b.put_chunk(
            &tok,
            &hash,
            24_000,
            data.len(),
            data[24_000..27_000].to_vec()
        ),
    );
    let mut statuses = [ra.status(), rb.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
    assert_eq!(t.a.blob_state(&tok, &hash).await.offset, 27_000);
    // Not readable before the last byte verifies, from either.
    api_error(
        t.a.get_blob(&admin, &hash).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let r =
        t.b.put_chunk(&tok, &hash, 27_000, data.len(), data[27_000..].to_vec())
            .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    for s in [&t.a, &t.b] {
        let got = s.get_blob(&tok, &hash).await;
        assert_eq!(got.status(), StatusCode::OK);
        assert_eq!(got.bytes().await.unwrap().as_ref(), data.as_slice());
        assert!(s.blob_state(&tok, &hash).await.complete);
    }
    // Verified: no chunk rows are left behind.
    assert_eq!(
        t.a.store
            .staged_blob_len(&hash, "usr-insp-1")
            .await
            .unwrap(),
        0
    );

    // All bytes staged (the last chunk's answer lost), then the device checks on the other
    // instance: that one finishes it. A wrong upload is discarded there, from 0 again.
    let data2 = blob(9_000, 9);
    let hash2 = sha(&data2);
    let r =
        t.a.put_chunk(&tok, &hash2, 0, data2.len(), data2[..5_000].to_vec())
            .await;
    assert_eq!(r.status(), StatusCode::OK);
    t.a.store
        .stage_blob_chunk(
            &hash2,
            "usr-insp-1",
            "k",
            None,
            5_000,
            &data2[5_000..],
            now_ms(),
        )
        .await
        .unwrap()
        .unwrap();
    let state = t.b.blob_state(&tok, &hash2).await;
    assert_eq!((state.offset, state.complete), (9_000, true));
    let wrong = sha(b"not these bytes");
    let r =
        t.a.put_chunk(&tok, &wrong, 0, 9_000, data2[..4_000].to_vec())
            .await;
    assert_eq!(r.status(), StatusCode::OK);
    api_error(
        t.b.put_chunk(&tok, &wrong, 4_000, 9_000, data2[4_000..].to_vec())
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "hash_mismatch",
    )
    .await;
    let state = t.a.blob_state(&tok, &wrong).await;
    assert_eq!((state.offset, state.complete), (0, false));
    assert_eq!(
        t.a.store
            .staged_blob_len(&wrong, "usr-insp-1")
            .await
            .unwrap(),
        0
    );
    t.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn limits_count_across_instances() {
    let Some(t) = Two::start(|c| {
        c.login_failures_per_user = 4;
        c.login_failures_per_ip = 100;
        c.enroll_failures_per_ip = 3;
        c.push_per_minute = 2;
        c.push_burst = 3;
    })
    .await
    else {
        return;
    };
    // Wrong passwords alternate between the instances: the fifth is refused by either.
    for i in 0..4 {
        let r = t.at(i).login_as("usr-insp-1", "wrong").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    for s in [&t.a, &t.b] {
        api_error(
            s.login_as("usr-insp-1", fieldcheck_server::demo::DEMO_PASSWORD)
                .await,
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
        )
        .await;
    }
    // Another user from the same address is not affected, and a success there forgives.
    let r =
        t.b.login_as("usr-hdl-1", fieldcheck_server::demo::DEMO_PASSWORD)
            .await;
    assert_eq!(r.status(), StatusCode::OK);

    // Wrong enrollment codes likewise.
    for i in 0..3 {
        let r = t.at(i).enroll_with("WRONG-CODE1", Uuid::now_v7()).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "attempt {i}");
    }
    for s in [&t.a, &t.b] {
        api_error(
            s.enroll_with(&t.a.code_of("usr-vol-1"), Uuid::now_v7())
                .await,
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
        )
        .await;
    }

    // A burst of three pushes per sender, then one per 30 s, wherever they land.
    let admin = t.a.login("usr-admin-1").await;
    let u = user("usr-admin-1");
    for i in 0..3 {
        let r = t
            .at(i)
            .post_json(
                &admin,
                "/push",
                &serde_json::json!({"events": [report(&u, Uuid::now_v7(), "c-dm", now_ms())]}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK, "push {i}");
    }
    for s in [&t.a, &t.b] {
        let r = s
            .post_json(&admin, "/push", &serde_json::json!({"events": []}))
            .await;
        let retry: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=30).contains(&retry), "{retry}");
        api_error(r, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    }
    t.finish().await;
}

/// Seqs come from one PostgreSQL identity; each instance's group commit takes the append
/// advisory lock before it inserts, and the lock is released only after its commit is
/// visible. So a batch allocates its seqs only after every earlier batch committed, from any
/// instance: a reader never sees seq n+1 before n. Pushers on both instances, a puller
/// alternating between them: every event arrives exactly once, in seq order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_puller_misses_nothing_while_both_instances_commit() {
    let Some(t) = Two::start(|_| {}).await else {
        return;
    };
    // The identity must not hand out cached blocks per session (each instance's connections
    // would then allocate from their own block, and commit order would no longer follow seq).
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(t.pg.url())
        .await
        .unwrap();
    let cache: i64 = sqlx::query_scalar(
        "SELECT cache_size FROM pg_sequences WHERE schemaname = $1 AND sequencename = 'events_seq_seq'",
    )
    .bind(t.pg.schema())
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    assert_eq!(cache, 1);

    let admin = t.a.login("usr-admin-1").await;
    let u = user("usr-admin-1");
    let t = Arc::new(t);
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let puller = {
        let (t, admin, done) = (t.clone(), admin.clone(), done.clone());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut cursor = 0;
            let mut last_seq = 0;
            for i in 0.. {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                let page = t.at(i).pull(&admin, cursor).await;
                for item in &page.items {
                    let PullItem::Event { seq, event } = item else {
                        panic!("admin sees everything: {item:?}");
                    };
                    assert!(*seq > last_seq, "seq order");
                    last_seq = *seq;
                    seen.push(event.id);
                }
                cursor = page.cursor;
                if finished && !page.more && page.items.is_empty() {
                    break;
                }
            }
            seen
        })
    };
    let mut pushers = Vec::new();
    for p in 0..6 {
        let (t, admin, u) = (t.clone(), admin.clone(), u.clone());
        pushers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for round in 0..12 {
                let events: Vec<_> = (0..4)
                    .map(|_| report(&u, Uuid::now_v7(), "c-dm", now_ms()))
                    .collect();
                ids.extend(events.iter().map(|e| e.id));
                let r = t.at(p + round).push(&admin, events).await;
                assert_eq!(r.results.len(), 4);
            }
            ids
        }));
    }
    let mut pushed = BTreeSet::new();
    for p in pushers {
        pushed.extend(p.await.unwrap());
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = puller.await.unwrap();
    let unique: BTreeSet<_> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "an event pulled twice");
    // The demo city's own events came first; every pushed one arrived.
    let missed: Vec<_> = pushed.difference(&unique).collect();
    assert!(missed.is_empty(), "skipped by the puller: {missed:?}");
    assert_eq!(t.a.store.event_count().await.unwrap(), seen.len() as u64);
    Arc::into_inner(t).unwrap().finish().await;
}

/// The quota of events the fold rejected that are stored per sender and hour
/// (`MAX_REJECTED_PER_HOUR`) is one for every instance: half of it filled on each, the next
/// rejected event is refused by both.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_rejection_quota_counts_across_instances() {
    let Some(t) = Two::start(|_| {}).await else {
        return;
    };
    let (vol1, admin) = (user("usr-vol-1"), user("usr-admin-1"));
    let (tv1, ta) = (t.a.enroll(&vol1.id).await, t.b.enroll(&admin.id).await);
    let at = now_ms() - 600_000;
    let p = Uuid::now_v7();
    t.a.push(&tv1, vec![report(&vol1, p, "s-dj", at)]).await;
    t.b.push(&ta, vec![filed(&admin, p, at + 1)]).await;
    // Edits after the filing: each stored and rejected (a volunteer may not edit now).
    let edit = |ms: i64, text: &str| {
        ev(
            &vol1,
            p,
            ms,
            EventBody::ProblemEdited(ProblemEdit {
                description: Some(text.into()),
                ..ProblemEdit::default()
            }),
        )
    };
    let quota = fieldcheck_server::store::MAX_REJECTED_PER_HOUR as usize;
    let mut sent = 0;
    let mut round = 0;
    while sent < quota {
        let n = (quota - sent).min(50);
        let batch: Vec<_> = (0..n)
            .map(|i| edit(at + 10 + (sent + i) as i64, "还是我的"))
            .collect();
        let r = t.at(round).push(&tv1, batch).await;
        assert_eq!(r.results.len(), n);
        assert!(
            r.results
                .iter()
                .all(|x| matches!(x.outcome, Some(EventOutcome::Rejected { .. }))),
            "round {round}: {r:?}"
        );
        sent += n;
        round += 1;
    }
    let before = t.a.store.event_count().await.unwrap();
    for (i, s) in [&t.a, &t.b].into_iter().enumerate() {
        let r = s
            .push(&tv1, vec![edit(at + 5_000_000 + i as i64, "再来")])
            .await;
        match &r.results[0].status {
            PushStatus::Refused { code, .. } => assert_eq!(code, "too_many_rejected"),
            other => panic!("instance {i}: expected refused, got {other:?}"),
        }
    }
    assert_eq!(t.a.store.event_count().await.unwrap(), before, "not stored");
    // The count is one row in the database, not in either instance's memory.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(t.pg.url())
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT n FROM {}.rate_counts WHERE counter = 'fold-rejected:usr-vol-1'",
        t.pg.schema()
    )))
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    assert_eq!(n as usize, quota);
    // What would apply still does, on either.
    for s in [&t.a, &t.b] {
        let r = s
            .push(&tv1, vec![report(&vol1, Uuid::now_v7(), "s-dj", at)])
            .await;
        assert_eq!(r.results[0].status, PushStatus::Applied);
    }
    t.finish().await;
}

/// Copies of one Open311 POST sent at once to both instances (a city system that retries on a
/// timeout, behind a load balancer) make one request: the claim in the database (migration
/// 0018) lets one copy at a time check for a retry, whichever instance it landed on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_copies_of_an_open311_post_make_one_request() {
    let Some(t) = Two::start(|_| {}).await else {
        return;
    };
    let admin = t.a.login("usr-admin-1").await;
    let r =
        t.a.http
            .post(t.a.url("/admin/open311-keys"))
            .bearer_auth(&admin)
            .json(&serde_json::json!({"name": "12345 热线"}))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let key: serde_json::Value = r.json().await.unwrap();
    let key = key["api_key"].as_str().unwrap().to_owned();
    let before = t.a.store.event_count().await.unwrap();
    let form: Vec<(&str, String)> = vec![
        ("api_key", key.clone()),
        ("service_code", "SR-02".into()),
        ("address_id", "p-005".into()),
        ("description", "路边有暴露垃圾".into()),
        ("email", "li.ming@example.cn".into()),
    ];
    let mut posts = tokio::task::JoinSet::new();
    for i in 0..8 {
        let url = format!(
            "{}/open311/v2/requests.json",
            t.at(i).base.trim_end_matches("/api/v1")
        );
        let form = form.clone();
        posts.spawn(async move {
            let r = reqwest::Client::new()
                .post(url)
                .form(&form)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            let v: serde_json::Value = r.json().await.unwrap();
            v[0]["service_request_id"].as_str().unwrap().to_owned()
        });
    }
    let ids: BTreeSet<String> = posts.join_all().await.into_iter().collect();
    assert_eq!(ids.len(), 1, "one request: {ids:?}");
    assert_eq!(t.a.store.event_count().await.unwrap(), before + 1);
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(t.pg.url())
        .await
        .unwrap();
    let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM {}.open311_requests",
        t.pg.schema()
    )))
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(rows, 1);
    // Every claim is released once the answers are out.
    let mut claims: i64 = -1;
    for _ in 0..100 {
        claims = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {}.open311_claims",
            t.pg.schema()
        )))
        .fetch_one(&pool)
        .await
        .unwrap();
        if claims == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(claims, 0);
    pool.close().await;
    t.finish().await;
}

/// The server stopped after an upload's last chunk was staged in the database but before it
/// was assembled (its device never asks again). At the next start, the sweep finishes it:
/// assembled, verified and stored; one whose bytes do not hash to its name is discarded with
/// its chunks; one still missing bytes, or sent without a size, keeps where it stands.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restart_finishes_uploads_staged_completely_in_the_database() {
    let Some(pg) = Pg::new().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let blobs: Arc<dyn BlobStore> = Arc::new(ObjectBlobs::new(
        Arc::new(object_store::memory::InMemory::new()),
        "shared",
        "memory",
    ));
    let store: Arc<dyn Store> = pg.store.clone();
    let a = Server::start_on(
        test_config(&dir.path().join("a")),
        store.clone(),
        Some(blobs.clone()),
        true,
    )
    .await;
    let tok = a.enroll("usr-insp-1").await;
    let user = "usr-insp-1";
    // Whole (the last chunk's transaction committed, then the server stopped), wrong, partial,
    // and whole without a size.
    let good = blob(20_000, 3);
    let bad = blob(20_000, 4);
    let part = blob(20_000, 5);
    let sizeless = blob(8_000, 6);
    let wrong = sha(b"something else");
    // As the server stages them (its uploader key).
    let key = fieldcheck_server::blobs::user_key(user);
    let stage = |hash: String, bytes: Vec<u8>, size: Option<u64>| {
        let (store, key) = (store.clone(), key.clone());
        async move {
            let mut at = 0;
            for chunk in bytes.chunks(7_000) {
                store
                    .stage_blob_chunk(&hash, user, &key, size, at, chunk, now_ms())
                    .await
                    .unwrap()
                    .unwrap();
                at += chunk.len() as u64;
            }
        }
    };
    stage(sha(&good), good.clone(), Some(20_000)).await;
    stage(wrong.clone(), bad.clone(), Some(20_000)).await;
    stage(sha(&part), part[..14_000].to_vec(), Some(20_000)).await;
    stage(sha(&sizeless), sizeless.clone(), None).await;
    a.stop().await;
    assert!(blobs.size(&sha(&good)).await.unwrap().is_none());

    // The restart (another process, its own pool and disk, the same database and bucket).
    let b = Server::start_on(
        test_config(&dir.path().join("b")),
        Arc::new(PgStore::open(pg.url(), Some(pg.schema())).await.unwrap()),
        Some(blobs.clone()),
        false,
    )
    .await;
    let mut finished = false;
    for _ in 0..250 {
        if store
            .blob_upload(&sha(&good), user)
            .await
            .unwrap()
            .is_some_and(|u| u.complete)
        {
            finished = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(finished, "the startup sweep finished the whole upload");
    assert_eq!(
        blobs.get(&sha(&good)).await.unwrap().unwrap().as_ref(),
        good.as_slice()
    );
    let got = b.get_blob(&tok, &sha(&good)).await;
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.bytes().await.unwrap().as_ref(), good.as_slice());
    assert_eq!(store.staged_blob_len(&sha(&good), user).await.unwrap(), 0);
    // The wrong one is gone, chunks and all, and was never stored.
    for _ in 0..250 {
        if store.blob_upload(&wrong, user).await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(store.blob_upload(&wrong, user).await.unwrap().is_none());
    assert_eq!(store.staged_blob_len(&wrong, user).await.unwrap(), 0);
    assert!(blobs.size(&wrong).await.unwrap().is_none());
    // The partial one resumes where it stood; the size-less one waits for its device.
    let state = b.blob_state(&tok, &sha(&part)).await;
    assert_eq!((state.offset, state.complete), (14_000, false));
    assert_eq!(
        store.staged_blob_len(&sha(&sizeless), user).await.unwrap(),
        8_000
    );
    assert!(
        !store
            .blob_upload(&sha(&sizeless), user)
            .await
            .unwrap()
            .unwrap()
            .complete
    );
    b.stop().await;
    pg.finish().await;
}
