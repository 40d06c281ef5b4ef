//! One storage conformance suite, run against SQLite (temp file) and PostgreSQL (a fresh
//! schema per test; skipped loudly outside CI when PostgreSQL is not reachable).

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::*;
use fieldcheck_domain::{EventOutcome, ProblemStatus, RefusalCode};
use fieldcheck_protocol::sync::{PullItem, PushStatus};
use fieldcheck_server::Store;
use fieldcheck_server::policy::{Viewer, refusal};
use fieldcheck_server::store::AppendCtx;
use uuid::Uuid;

const SKEW_MS: i64 = 600_000;

fn viewer(id: &str) -> Viewer {
    Viewer::new(user(id), &bundle())
}

async fn push_as(
    store: &dyn Store,
    who: &str,
    events: Vec<fieldcheck_domain::Event>,
) -> fieldcheck_protocol::sync::PushResponse {
    let refs = Arc::new(bundle());
    let v = viewer(who);
    let ctx = AppendCtx {
        viewer: &v,
        refs: &refs,
        now_ms: now_ms(),
        max_future_ms: SKEW_MS,
    };
    store.push(events, &ctx).await.unwrap()
}

/// Pulls everything visible from `since`, page by page.
async fn pull_all(store: &dyn Store, who: &str, since: u64, limit: u32) -> (Vec<PullItem>, u64) {
    let v = viewer(who);
    let mut cursor = since;
    let mut items = Vec::new();
    loop {
        let page = store.pull(&v, cursor, limit).await.unwrap();
        assert!(page.cursor >= cursor);
        items.extend(page.items);
        cursor = page.cursor;
        if !page.more {
            return (items, cursor);
        }
    }
}

fn event_ids(items: &[PullItem]) -> Vec<Uuid> {
    items
        .iter()
        .filter_map(|i| match i {
            PullItem::Event { event, .. } => Some(event.id),
            PullItem::Remove { .. } => None,
        })
        .collect()
}

async fn push_is_idempotent_by_event_id(store: Arc<dyn Store>) {
    let admin = user("usr-admin-1");
    let p = Uuid::now_v7();
    let t = now_ms();
    let batch = vec![report(&admin, p, "c-dm", t), filed(&admin, p, t + 1)];
    let first = push_as(store.as_ref(), "usr-admin-1", batch.clone()).await;
    assert!(
        first
            .results
            .iter()
            .all(|r| r.status == PushStatus::Applied && r.outcome == Some(EventOutcome::Applied)),
        "{first:?}"
    );
    let again = push_as(store.as_ref(), "usr-admin-1", batch).await;
    assert!(
        again
            .results
            .iter()
            .all(|r| r.status == PushStatus::Duplicate)
    );
    for (a, b) in first.results.iter().zip(&again.results) {
        assert_eq!(a.outcome, b.outcome);
        assert_eq!(a.hlc, b.hlc);
    }
    assert_eq!(store.event_count().await.unwrap(), 2);
    let state = again.results[1].state.as_ref().expect("state returned");
    assert_eq!(state.status, ProblemStatus::Filed);
    assert_eq!(
        store.problem(p).await.unwrap().unwrap().status,
        ProblemStatus::Filed
    );
}

async fn stale_status_change_is_stored_and_rejected(store: Arc<dyn Store>) {
    let a1 = user("usr-admin-1");
    let a2 = user("usr-admin-2");
    let p = Uuid::now_v7();
    let t = now_ms() - 10_000;
    push_as(
        store.as_ref(),
        "usr-admin-1",
        vec![report(&a1, p, "c-dm", t), filed(&a1, p, t + 1)],
    )
    .await;
    // Admin 2 was offline and files the same problem again, later.
    let stale = filed(&a2, p, t + 5);
    let r = push_as(store.as_ref(), "usr-admin-2", vec![stale.clone()]).await;
    assert_eq!(r.results[0].status, PushStatus::Applied, "stored");
    match &r.results[0].outcome {
        Some(EventOutcome::Rejected { code, .. }) => {
            assert_eq!(*code, RefusalCode::InvalidTransition)
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(store.event_count().await.unwrap(), 3);
    assert_eq!(
        r.results[0].state.as_ref().unwrap().status,
        ProblemStatus::Filed
    );
    // The admin's pull carries the rejected event too: every replica folds the same set.
    let (items, _) = pull_all(store.as_ref(), "usr-admin-1", 0, 100).await;
    assert!(event_ids(&items).contains(&stale.id));
}

async fn future_hlc_is_clamped(store: Arc<dyn Store>) {
    let admin = user("usr-admin-1");
    let p = Uuid::now_v7();
    let before = now_ms();
    let far = before + 365 * 86_400_000;
    let r = push_as(
        store.as_ref(),
        "usr-admin-1",
        vec![report(&admin, p, "c-dm", far)],
    )
    .await;
    let stored = r.results[0].hlc.clone().unwrap();
    assert!(stored.wall_ms <= now_ms() + SKEW_MS, "{stored:?}");
    assert!(stored.wall_ms >= before + SKEW_MS);
    let (items, _) = pull_all(store.as_ref(), "usr-admin-1", 0, 10).await;
    match &items[0] {
        PullItem::Event { event, .. } => assert_eq!(event.hlc, stored),
        other => panic!("{other:?}"),
    }
}

async fn pull_pages_with_cursor(store: Arc<dyn Store>) {
    let admin = user("usr-admin-1");
    let t = now_ms();
    let mut ids = Vec::new();
    for i in 0..7 {
        let e = report(&admin, Uuid::now_v7(), "c-dm", t + i);
        ids.push(e.id);
        push_as(store.as_ref(), "usr-admin-1", vec![e]).await;
    }
    let v = viewer("usr-admin-1");
    let page1 = store.pull(&v, 0, 3).await.unwrap();
    assert_eq!(page1.items.len(), 3);
    assert!(page1.more);
    let page2 = store.pull(&v, page1.cursor, 3).await.unwrap();
    assert_eq!(page2.items.len(), 3);
    let page3 = store.pull(&v, page2.cursor, 3).await.unwrap();
    assert_eq!(page3.items.len(), 1);
    assert!(!page3.more);
    let empty = store.pull(&v, page3.cursor, 3).await.unwrap();
    assert!(empty.items.is_empty() && !empty.more);
    assert_eq!(
        empty.cursor, page3.cursor,
        "cursor unchanged when nothing is new"
    );
    let all: Vec<_> = [page1, page2, page3]
        .iter()
        .flat_map(|p| event_ids(&p.items))
        .collect();
    assert_eq!(all, ids, "every event once, in push order");
}

async fn pull_is_filtered_by_scope(store: Arc<dyn Store>) {
    let t = now_ms() - 10_000;
    let vol1 = user("usr-vol-1"); // s-dj
    let vol2 = user("usr-vol-2"); // s-nj
    let admin = user("usr-admin-1");
    let p_dj = Uuid::now_v7();
    let p_nj = Uuid::now_v7();
    push_as(
        store.as_ref(),
        "usr-vol-1",
        vec![report(&vol1, p_dj, "c-dm", t)],
    )
    .await;
    push_as(
        store.as_ref(),
        "usr-vol-2",
        vec![report(&vol2, p_nj, "c-gl", t)],
    )
    .await;
    // A volunteer may not report outside their districts: refused, not stored.
    let outside = push_as(
        store.as_ref(),
        "usr-vol-1",
        vec![report(&vol1, Uuid::now_v7(), "c-gl", t)],
    )
    .await;
    assert!(
        matches!(&outside.results[0].status, PushStatus::Refused { code, .. } if code == refusal::OUT_OF_SCOPE)
    );
    assert_eq!(store.event_count().await.unwrap(), 2);

    let entities = |items: &[PullItem]| -> BTreeSet<Uuid> {
        items
            .iter()
            .map(|i| match i {
                PullItem::Event { event, .. } => event.entity_id,
                PullItem::Remove { entity_id, .. } => *entity_id,
            })
            .collect()
    };
    let (v1, _) = pull_all(store.as_ref(), "usr-vol-1", 0, 100).await;
    assert_eq!(entities(&v1), BTreeSet::from([p_dj]));
    let (i1, _) = pull_all(store.as_ref(), "usr-insp-1", 0, 100).await;
    assert_eq!(entities(&i1), BTreeSet::from([p_dj]), "s-dj includes c-dm");
    let (ad, _) = pull_all(store.as_ref(), "usr-admin-1", 0, 100).await;
    assert_eq!(entities(&ad), BTreeSet::from([p_dj, p_nj]));
    let (h1, cursor) = pull_all(store.as_ref(), "usr-hdl-1", 0, 100).await;
    assert!(h1.is_empty(), "nothing dispatched to u-s-dj yet");

    // Dispatch to the handler's unit: the whole history arrives, including the old report.
    push_as(
        store.as_ref(),
        "usr-admin-1",
        vec![
            filed(&admin, p_dj, t + 1),
            dispatched(&admin, p_dj, "u-s-dj", t + 2),
        ],
    )
    .await;
    let (h1, cursor) = pull_all(store.as_ref(), "usr-hdl-1", cursor, 100).await;
    assert_eq!(event_ids(&h1).len(), 3, "{h1:?}");
    // Re-dispatched to another unit: it leaves the handler's scope.
    push_as(
        store.as_ref(),
        "usr-admin-1",
        vec![dispatched(&admin, p_dj, "u-c-dm", t + 3)],
    )
    .await;
    let (h1, _) = pull_all(store.as_ref(), "usr-hdl-1", cursor, 100).await;
    assert!(
        matches!(h1.as_slice(), [PullItem::Remove { entity_id, .. }] if *entity_id == p_dj),
        "{h1:?}"
    );
}

async fn concurrent_appends_are_gap_free(store: Arc<dyn Store>) {
    let writers = 6;
    let per_writer = 15;
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // A reader pulls in small pages while the writers append: if it ever passed a seq that
    // committed later, that event would be missing from what it collected.
    let reader = {
        let store = store.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let v = viewer("usr-admin-1");
            let mut cursor = 0;
            let mut seen = Vec::new();
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                let page = store.pull(&v, cursor, 4).await.unwrap();
                cursor = page.cursor;
                seen.extend(event_ids(&page.items));
                if finished && !page.more {
                    return seen;
                }
                if !page.more {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let admin = user("usr-admin-1");
            let mut ids = Vec::new();
            for i in 0..per_writer {
                let e = report(&admin, Uuid::now_v7(), "c-dm", now_ms() + w * 100 + i);
                ids.push(e.id);
                push_as(store.as_ref(), "usr-admin-1", vec![e]).await;
            }
            ids
        }));
    }
    let mut pushed = BTreeSet::new();
    for t in tasks {
        pushed.extend(t.await.unwrap());
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = reader.await.unwrap();
    let seen_set: BTreeSet<Uuid> = seen.iter().copied().collect();
    assert_eq!(seen.len(), seen_set.len(), "no event pulled twice");
    assert_eq!(seen_set, pushed, "no event skipped");
    assert_eq!(
        store.event_count().await.unwrap(),
        (writers * per_writer) as u64
    );
}

/// Concurrent pushes are group-committed; whatever batches end up together, the result is the
/// fold of the set: out-of-order and duplicated events across batches, a refusal and an id
/// reused for another record, on records new and already stored.
async fn concurrent_batches_fold_like_serial_pushes(store: Arc<dyn Store>) {
    use fieldcheck_domain::fold::fold_problem;
    let admin = user("usr-admin-1");
    let t = now_ms() - 60_000;
    // An already stored record that the batches extend out of order.
    let old = Uuid::now_v7();
    let first = report(&admin, old, "c-dm", t);
    push_as(store.as_ref(), "usr-admin-1", vec![first.clone()]).await;
    let mut all = vec![first.clone()];
    let mut batches: Vec<Vec<fieldcheck_domain::Event>> = Vec::new();
    for j in 0..12i64 {
        let p = if j == 0 { old } else { Uuid::now_v7() };
        let base = t + j * 10;
        let rep = if j == 0 {
            first.clone()
        } else {
            report(&admin, p, "c-dm", base)
        };
        let file = filed(&admin, p, base + 1);
        let disp = dispatched(&admin, p, "u-s-dj", base + 2);
        // Closed straight from dispatched: rejected by the fold, wherever it arrives.
        let close = closed(&admin, p, base + 3);
        if j != 0 {
            all.push(rep.clone());
        }
        all.extend([file.clone(), disp.clone(), close.clone()]);
        // The latest event first, the earliest last, duplicates across batches.
        batches.push(vec![close, rep.clone()]);
        batches.push(vec![disp.clone(), rep.clone()]);
        batches.push(vec![file, disp, rep]);
    }
    let tasks: Vec<_> = batches
        .into_iter()
        .map(|b| {
            let store = store.clone();
            tokio::spawn(async move { push_as(store.as_ref(), "usr-admin-1", b).await })
        })
        .collect();
    for task in tasks {
        let r = task.await.unwrap();
        for res in &r.results {
            assert!(
                matches!(res.status, PushStatus::Applied | PushStatus::Duplicate),
                "{res:?}"
            );
        }
    }
    assert_eq!(store.event_count().await.unwrap() as usize, all.len());
    // An event id reused for another record is refused, next to an applied event.
    let mut conflict = report(&admin, Uuid::now_v7(), "c-dm", t);
    conflict.id = all[1].id;
    let fresh = report(&admin, Uuid::now_v7(), "c-dm", t);
    let fresh_id = fresh.id;
    let r = push_as(store.as_ref(), "usr-admin-1", vec![conflict, fresh]).await;
    assert!(
        matches!(&r.results[0].status, PushStatus::Refused { code, .. } if code == refusal::ID_CONFLICT),
        "{r:?}"
    );
    assert_eq!(r.results[1].status, PushStatus::Applied);
    assert_eq!(store.event_count().await.unwrap() as usize, all.len() + 1);
    // Replayed as one batch: every event a duplicate with the outcome of the fold of the set,
    // and the state of every record is that fold's state.
    let again = push_as(store.as_ref(), "usr-admin-1", all.clone()).await;
    let mut by_record: std::collections::HashMap<Uuid, Vec<fieldcheck_domain::Event>> =
        std::collections::HashMap::new();
    for e in &all {
        by_record.entry(e.entity_id).or_default().push(e.clone());
    }
    for (e, res) in all.iter().zip(&again.results) {
        assert_eq!(res.event_id, e.id);
        assert_eq!(res.status, PushStatus::Duplicate, "{res:?}");
        let folded = fold_problem(&by_record[&e.entity_id]);
        assert_eq!(res.outcome.as_ref(), folded.outcome(e.id), "{e:?}");
        assert_eq!(
            res.state.as_deref(),
            folded.state.as_ref(),
            "state of {}",
            e.entity_id
        );
        let stored = store.problem(e.entity_id).await.unwrap();
        assert_eq!(stored.as_ref(), folded.state.as_ref());
        assert_eq!(stored.unwrap().status, ProblemStatus::Dispatched);
    }
    // The pull carries every event exactly once.
    let (items, _) = pull_all(store.as_ref(), "usr-admin-1", 0, 7).await;
    let ids = event_ids(&items);
    let set: BTreeSet<Uuid> = ids.iter().copied().collect();
    assert_eq!(ids.len(), set.len());
    let mut expected: BTreeSet<Uuid> = all.iter().map(|e| e.id).collect();
    expected.insert(fresh_id);
    assert_eq!(set, expected);
}

async fn users_tokens_and_enrollment(store: Arc<dyn Store>) {
    let u = user("usr-insp-1");
    store.put_user(&u, Some("hash")).await.unwrap();
    let got = store.user("usr-insp-1").await.unwrap().unwrap();
    assert_eq!(got.user, u);
    assert_eq!(got.password_hash.as_deref(), Some("hash"));
    // Re-importing reference data keeps the password.
    store.put_reference(&bundle()).await.unwrap();
    let got = store.user("usr-insp-1").await.unwrap().unwrap();
    assert_eq!(got.password_hash.as_deref(), Some("hash"));

    let t = now_ms();
    store
        .create_enroll_code("c1", "usr-insp-1", t + 1000)
        .await
        .unwrap();
    store
        .create_enroll_code("c2", "usr-insp-1", t - 1)
        .await
        .unwrap();
    // Redeemable codes are visible (for their QR image); expired and unknown ones are not.
    assert_eq!(
        store.enroll_code_user("c1", t).await.unwrap().as_deref(),
        Some("usr-insp-1")
    );
    assert_eq!(store.enroll_code_user("c2", t).await.unwrap(), None);
    assert_eq!(store.enroll_code_user("nope", t).await.unwrap(), None);
    let dev = Uuid::now_v7();
    let e = store
        .redeem_enroll_code("c1", t, dev, "phone", "tok1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.user_id, "usr-insp-1");
    assert_eq!(e.device_tag.len(), 4);
    assert!(
        store
            .redeem_enroll_code("c1", t, dev, "phone", "tok2")
            .await
            .unwrap()
            .is_none(),
        "reused"
    );
    assert_eq!(store.enroll_code_user("c1", t).await.unwrap(), None, "used");
    assert!(
        store
            .redeem_enroll_code("c2", t, dev, "phone", "tok3")
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    assert!(
        store
            .redeem_enroll_code("nope", t, dev, "phone", "tok4")
            .await
            .unwrap()
            .is_none()
    );
    let info = store.token("tok1", t).await.unwrap().unwrap();
    assert_eq!(info.device_id, Some(dev));
    assert!(store.token("tok2", t).await.unwrap().is_none());
    store
        .create_session("s1", "usr-insp-1", t, t + 10)
        .await
        .unwrap();
    assert!(store.token("s1", t).await.unwrap().is_some());
    assert!(
        store.token("s1", t + 11).await.unwrap().is_none(),
        "expired session"
    );
}

async fn blobs_and_reference_versions(store: Arc<dyn Store>) {
    let h = "a".repeat(64);
    let s = store.blob_states(std::slice::from_ref(&h)).await.unwrap();
    assert!(!s[0].complete && s[0].offset == 0);
    store.set_blob(&h, 10, Some(20), false).await.unwrap();
    assert_eq!(
        store.blob_states(std::slice::from_ref(&h)).await.unwrap()[0].offset,
        10
    );
    store.set_blob(&h, 20, Some(20), true).await.unwrap();
    assert!(store.blob_states(std::slice::from_ref(&h)).await.unwrap()[0].complete);
    store.delete_blob(&h).await.unwrap();
    assert!(!store.blob_states(std::slice::from_ref(&h)).await.unwrap()[0].complete);

    let v = store.reference_version().await.unwrap();
    assert!(v >= 1);
    let v2 = store.put_reference(&bundle()).await.unwrap();
    assert_eq!(v2, v + 1);
    let (latest, b) = store.reference().await.unwrap().unwrap();
    assert_eq!(latest, v2);
    assert_eq!(b.points.len(), bundle().points.len());
}

/// Runs one suite function on both backends.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (_dir, store) = crate::common::sqlite().await;
                    super::$name(store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(pg) = crate::common::Pg::new().await else { return };
                    let store: std::sync::Arc<dyn fieldcheck_server::Store> = pg.store.clone();
                    // Run in a task so the schema is dropped even when the suite panics.
                    let result = tokio::spawn(super::$name(store)).await;
                    pg.finish().await;
                    if let Err(e) = result {
                        std::panic::resume_unwind(e.into_panic());
                    }
                }
            )*
        }
    };
}

conformance!(
    push_is_idempotent_by_event_id,
    stale_status_change_is_stored_and_rejected,
    future_hlc_is_clamped,
    pull_pages_with_cursor,
    pull_is_filtered_by_scope,
    concurrent_appends_are_gap_free,
    concurrent_batches_fold_like_serial_pushes,
    users_tokens_and_enrollment,
    blobs_and_reference_versions,
);
