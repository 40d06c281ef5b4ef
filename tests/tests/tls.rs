//! Sync over real TLS: the server behind an https front whose certificate a city's own CA
//! issued (made in the test with rcgen). With that CA given at enrollment the device enrolls,
//! and later runs — in a new process too — trust it from the stored enrollment. Without it,
//! or with another CA, enrollment stops at the handshake with `certificate_not_trusted`, at
//! once and writing nothing. Through the core and through the `fieldcheck` binary.

use fieldcheck_core::Store;
use fieldcheck_core::sync::{self, CaCert, SyncError};
use fieldcheck_e2e::tls::{CityCa, TlsFront};
use fieldcheck_e2e::{Device, Server, cli_err, cli_ok, meta_rows, open_store, quick_options};

const CLI: &str = env!("CARGO_BIN_EXE_fieldcheck-e2e-cli");

/// A server behind https with a certificate from a new city CA.
async fn https_server() -> (Server, CityCa, TlsFront) {
    let server = Server::start().await;
    let ca = CityCa::new("鼓楼区创文办 Root CA");
    let front = TlsFront::start(server.addr, &ca).await;
    (server, ca, front)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_city_ca_a_device_enrolls_and_syncs_over_https_across_restarts() {
    let (server, ca, front) = https_server().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let store = open_store(&path);

    let ca_cert = CaCert::from_pem(&ca.pem()).unwrap();
    let e = sync::enroll_with_ca(
        store.clone(),
        &front.url,
        &server.code_of("usr-insp-1"),
        Some(ca_cert),
        &quick_options(),
    )
    .await
    .unwrap();
    assert!(e.server.starts_with("https://127.0.0.1:"), "{}", e.server);
    assert_eq!(e.user.id, "usr-insp-1");
    // Reference data came over TLS right after enrollment, through the stored CA.
    assert!(e.reference_version.is_some(), "{e:?}");
    assert_eq!(meta_rows(&store.lock().unwrap(), "sync_ca_cert ").len(), 1);
    drop(store);

    // A new process: nothing but the file. Its client trusts the CA from the enrollment.
    let device = Device::from_store("usr-insp-1", open_store(&path), quick_options(), dir);
    let p = device.report("TLS 上报", vec![device.photo(320, 240, 7)]);
    let r = device.sync().await.unwrap();
    assert_eq!(r.pushed, 1, "{r:?}");
    assert_eq!(r.photos_uploaded, 1, "{r:?}");
    assert!(device.quiet());
    let on_server = server.problem(p.id).await.expect("problem on the server");
    assert_eq!(on_server.description, "TLS 上报");

    // Signing out of that server forgets the CA trusted for it.
    device.store.lock().unwrap().unenroll().unwrap();
    assert!(meta_rows(&device.store.lock().unwrap(), "sync_ca_cert ").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_city_ca_the_certificate_is_not_trusted_and_nothing_is_stored() {
    let (server, ca, front) = https_server().await;
    let code = server.code_of("usr-vol-1");
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir.path().join("device.db"));
    let before = meta_rows(&store.lock().unwrap(), "");

    // Only the built-in roots, then a CA that did not issue the server's certificate.
    let other = CaCert::from_pem(&CityCa::new("Some other CA").pem()).unwrap();
    for (n, ca) in [None, Some(other)].into_iter().enumerate() {
        let err = sync::enroll_with_ca(store.clone(), &front.url, &code, ca, &quick_options())
            .await
            .unwrap_err();
        assert_eq!(err.code(), "certificate_not_trusted", "{err}");
        match &err {
            SyncError::CertificateNotTrusted { url, reason } => {
                assert!(url.starts_with(&front.url), "{url}");
                assert!(reason.contains("certificate authority"), "{reason}");
            }
            e => panic!("{e:?}"),
        }
        assert!(err.to_string().contains("--ca-cert"), "{err}");
        // Not retried like a network error: one handshake per attempt.
        assert_eq!(front.connections(), n as u64 + 1);
        assert!(store.lock().unwrap().enrollment().unwrap().is_none());
        assert_eq!(
            meta_rows(&store.lock().unwrap(), ""),
            before,
            "nothing written"
        );
    }

    // The server never saw the request: the code still works, with the right CA.
    let ca_cert = CaCert::from_pem(&ca.pem()).unwrap();
    let e = sync::enroll_with_ca(
        store.clone(),
        &front.url,
        &code,
        Some(ca_cert),
        &quick_options(),
    )
    .await
    .unwrap();
    assert_eq!(e.user.id, "usr-vol-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_enrolls_with_ca_cert_and_syncs_and_says_when_the_certificate_is_not_trusted() {
    let (server, ca, front) = https_server().await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("city-ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let bad_file = dir.path().join("bad.pem");
    std::fs::write(
        &bad_file,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let code = server.code_of("usr-hdl-1");
    let enroll = ["enroll", "--server", &front.url, "--code", &code];
    let (ca_arg, bad_arg) = (ca_file.to_str().unwrap(), bad_file.to_str().unwrap());

    // Without --ca-cert: one line with the stable code, exit 1, no enrollment.
    let untrusted = dir.path().join("untrusted.db");
    let stderr = cli_err(CLI, &untrusted, &enroll, "certificate_not_trusted").await;
    assert!(stderr.contains("--ca-cert"), "{stderr}");
    assert!(
        Store::open(&untrusted)
            .unwrap()
            .enrollment()
            .unwrap()
            .is_none()
    );

    // A file that is not a certificate is refused before any request.
    let bad = [&enroll[..], &["--ca-cert", bad_arg][..]].concat();
    cli_err(CLI, &untrusted, &bad, "invalid_ca_cert").await;

    // With it: enrolled; then `sync` — a separate process — trusts the stored CA.
    let db = dir.path().join("device.db");
    let with_ca = [&enroll[..], &["--ca-cert", ca_arg][..]].concat();
    let stdout = cli_ok(CLI, &db, &with_ca).await;
    assert!(stdout.contains("Enrolled with"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&cli_ok(CLI, &db, &["--json", "sync"]).await).unwrap();
    assert_eq!(report["refused"], serde_json::json!([]), "{report}");
    let enrolled = Store::open(&db).unwrap().enrollment().unwrap().unwrap();
    assert_eq!(enrolled.user_id, "usr-hdl-1");
    assert!(enrolled.server.starts_with("https://"));
}
