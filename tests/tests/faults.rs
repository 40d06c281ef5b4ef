//! Four devices (volunteer, office, unit, inspector) take problems through the whole
//! lifecycle with photos, syncing through a proxy that breaks 45% of the requests in every
//! way a network and a server can. After quiescence every replica holds the same state and
//! every event exists exactly once.

use fieldcheck_core::ProblemAction;
use fieldcheck_core::domain::event::RejectReason;
use fieldcheck_e2e::proxy::Proxy;
use fieldcheck_e2e::{Device, Server, assert_converged, quick_options, sync_all_until_quiescent};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_through_a_faulty_network_converges_exactly_once() {
    let seed = fieldcheck_e2e::seed("faulty_network");
    let server = Server::start().await;
    let proxy = Proxy::start(server.addr, seed, 0.45).await;
    let enroll = |user: &'static str| {
        let code = server.code_of(user);
        let url = proxy.url.clone();
        async move { Device::enroll(&url, &code, user, quick_options()).await }
    };
    let vol = enroll("usr-vol-1").await;
    let admin = enroll("usr-admin-1").await;
    let unit = enroll("usr-hdl-1").await;
    let insp = enroll("usr-insp-1").await;
    let all = [&vol, &admin, &unit, &insp];
    proxy.set_faults(true);

    // The volunteer reports six problems, three with a photo (one of them several chunks).
    let mut ids = Vec::new();
    for i in 0..6u32 {
        let photos = match i {
            0 => vec![vol.photo(900, 700, 1)],
            1 | 2 => vec![vol.photo(320, 240, 10 + i)],
            _ => vec![],
        };
        ids.push(vol.report(&format!("故障网络 {i}"), photos).id);
    }
    vol.sync_until_quiet(40).await;

    // The office files them all, rejects one and dispatches four.
    admin.sync_until_quiet(40).await;
    for (i, id) in ids.iter().enumerate() {
        admin.act(*id, ProblemAction::File { note: None }).unwrap();
        if i == 5 {
            let reason = RejectReason::Invalid {
                reason: "不属于创城范围".into(),
            };
            admin.act(*id, ProblemAction::Reject { reason }).unwrap();
        } else if i < 4 {
            admin
                .act(
                    *id,
                    ProblemAction::Dispatch {
                        unit_id: "u-s-dj".into(),
                        deadline: None,
                        note: None,
                    },
                )
                .unwrap();
        }
    }
    admin.sync_until_quiet(40).await;

    // The unit accepts the four, rectifies three with an after-photo, returns one.
    unit.sync_until_quiet(40).await;
    for (i, id) in ids.iter().take(4).enumerate() {
        unit.act(*id, ProblemAction::Accept { note: None }).unwrap();
        if i == 3 {
            let reason = "不属于本单位职责".into();
            unit.act(*id, ProblemAction::Return { reason }).unwrap();
        } else {
            let after = unit.photo(640, 480, 100 + i as u32);
            let action = ProblemAction::Rectify {
                photos: vec![after],
                note: Some("已整改".into()),
            };
            unit.act(*id, action).unwrap();
        }
    }
    unit.sync_until_quiet(40).await;

    // The inspector passes two and fails one (back to the unit).
    insp.sync_until_quiet(40).await;
    for (i, id) in ids.iter().take(3).enumerate() {
        let verify = ProblemAction::Verify {
            passed: i < 2,
            note: Some("复查".into()),
            photos: vec![],
        };
        insp.act(*id, verify).unwrap();
    }
    insp.sync_until_quiet(40).await;

    // The office closes the two that passed.
    admin.sync_until_quiet(40).await;
    for id in ids.iter().take(2) {
        admin.act(*id, ProblemAction::Close { note: None }).unwrap();
    }
    let failed = sync_all_until_quiescent(&all, 10).await;

    let c = assert_converged(&server.base, &server.db_path, server.store.as_ref(), &all).await;
    let stats = proxy.stats();
    eprintln!(
        "seed {seed}: {} requests, {} faults {:?}, {} failed sync runs, {} server events, {} records ({} device copies)",
        stats.requests,
        stats.faults,
        stats.by_fault,
        failed,
        c.server_events,
        c.records,
        c.device_records
    );
    assert!(
        stats.faults * 10 >= stats.requests * 3,
        "fewer than 30% faults: {stats:?}"
    );
    assert!(stats.requests >= 60, "{stats:?}");
    // 6 reported + 6 filed + 1 rejected + 4 dispatched + 4 accepted + 1 returned
    // + 3 rectified + 3 verified + 2 closed.
    assert_eq!(c.server_events, 30);
    assert_eq!(c.records, 6);
    let status = |id| server.store.as_ref().problem(id);
    let want = [
        "closed",
        "closed",
        "dispatched",
        "returned",
        "filed",
        "rejected",
    ];
    for (id, want) in ids.iter().zip(want) {
        let p = status(*id).await.unwrap().unwrap();
        assert_eq!(p.status.as_str(), want, "{id}");
    }
    // Every photo reached the server and every device that sees its record.
    for d in all {
        let s = d.store.lock().unwrap().sync_state().unwrap();
        assert_eq!((s.outbox, s.photos_pending), (0, 0), "{}", d.user);
    }
}
