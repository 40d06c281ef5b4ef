//! Enrollment whose answer is lost after the server committed, retried in a new process.
//!
//! The proxy forwards every `/enroll` attempt of the first run and throws the answers away,
//! so the server has redeemed the code for the device's token but the device never heard.
//! The person runs `enroll` again: a new process, a `Store` opened from the same file, the
//! same code. It must send the same token (stored before the first request) and get the
//! same enrollment, not "code already used" — and the enrollment must work.

use fieldcheck_core::Store;
use fieldcheck_core::sync::{self, SyncError};
use fieldcheck_e2e::proxy::{Fault, Proxy};
use fieldcheck_e2e::{Device, Server, cli_err, cli_ok, meta_rows, open_store, quick_options};

const CLI: &str = env!("CARGO_BIN_EXE_fieldcheck-e2e-cli");
const ENROLL: &str = "/api/v1/enroll";
const PENDING: &str = "sync_enroll_pending ";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_enrollment_answer_is_retried_by_a_new_process_with_the_same_code() {
    let server = Server::start().await;
    let proxy = Proxy::start(server.addr, 1, 0.0).await;
    let opts = quick_options();
    let code = server.code_of("usr-insp-1");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");

    // A wrong code is refused for certain: no token stays behind for it.
    let store = open_store(&path);
    let err = sync::enroll(store.clone(), &proxy.url, "WRONG-CODE", &opts)
        .await
        .unwrap_err();
    assert!(matches!(err, SyncError::EnrollCodeInvalid), "{err:?}");
    assert!(meta_rows(&store.lock().unwrap(), PENDING).is_empty());

    // First run: every attempt reaches the server, every answer is lost.
    let attempts = u64::from(opts.retry.max_attempts);
    proxy.force(ENROLL, Fault::DropAfter, attempts);
    let err = sync::enroll(store.clone(), &proxy.url, &code, &opts)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "network", "{err}");
    assert!(err.outcome_unknown());
    assert_eq!(
        proxy.stats().by_fault.get(&Fault::DropAfter),
        Some(&attempts)
    );
    assert!(store.lock().unwrap().enrollment().unwrap().is_none());
    assert_eq!(meta_rows(&store.lock().unwrap(), PENDING).len(), 1);
    drop(store);

    // The server did redeem the code: any other device is refused.
    let other = tempfile::tempdir().unwrap();
    let err = sync::enroll(
        open_store(&other.path().join("d.db")),
        &server.base,
        &code,
        &opts,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, SyncError::EnrollCodeInvalid), "{err:?}");

    // Second run, a new process: the same code gets the same enrollment.
    let store = open_store(&path);
    let e = sync::enroll(store.clone(), &proxy.url, &code, &opts)
        .await
        .unwrap();
    assert_eq!(e.user.id, "usr-insp-1");
    assert!(e.reference_version.is_some(), "{e:?}");
    assert!(meta_rows(&store.lock().unwrap(), PENDING).is_empty());

    // And it works: a report goes up under the enrolled token.
    let device = Device::from_store("usr-insp-1", store, opts, dir);
    let p = device.report("注册重试后上报", vec![]);
    let r = device.sync().await.unwrap();
    assert_eq!(r.pushed, 1, "{r:?}");
    assert!(server.problem(p.id).await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_retried_after_a_lost_enrollment_answer_enrolls_and_syncs() {
    let server = Server::start().await;
    let proxy = Proxy::start(server.addr, 2, 0.0).await;
    let code = server.code_of("usr-vol-1");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("phone.db");
    let enroll = [
        "enroll",
        "--server",
        &proxy.url,
        "--code",
        &code,
        "--attempts",
        "2",
    ];

    proxy.force(ENROLL, Fault::DropAfter, 2);
    cli_err(CLI, &db, &enroll, "network").await;
    assert_eq!(proxy.stats().by_fault.get(&Fault::DropAfter), Some(&2));

    // Typed again, differently: the same code to the server, so the same attempt.
    let retyped = code.to_lowercase().replace('-', " ");
    let again = ["enroll", "--server", &proxy.url, "--code", &retyped];
    let stdout = cli_ok(CLI, &db, &again).await;
    assert!(stdout.contains("usr-vol-1"), "{stdout}");

    cli_ok(CLI, &db, &["sync"]).await;
    let store = Store::open(&db).unwrap();
    assert_eq!(store.enrollment().unwrap().unwrap().user_id, "usr-vol-1");
    assert!(meta_rows(&store, PENDING).is_empty());
}
