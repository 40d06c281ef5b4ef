//! Photos over real HTTP: who may read a blob and learn that it exists (issue 12.4), uploads
//! whose bytes are all staged but not yet stored (issue 11.2), and the expiry of abandoned
//! uploads (issue 12.7).

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::*;
use fieldcheck_domain::event::{PhotoRef, PhotoRole, PhotoStamp};
use fieldcheck_protocol::sync::{BlobState, PushStatus};
use fieldcheck_server::Store;
use fieldcheck_server::blobs::{LocalBlobs, Put, Uploads, user_key};
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

fn photo_bytes(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + salt as usize) % 253) as u8)
        .collect()
}

fn absent(hash: &str) -> BlobState {
    BlobState {
        hash: hash.to_owned(),
        complete: false,
        offset: 0,
    }
}

/// Uploads `data` in two chunks as the token's user; the last answer is 201.
async fn upload(s: &Server, tok: &str, data: &[u8]) -> String {
    let hash = sha(data);
    let half = data.len() / 2;
    let r = s
        .put_chunk(tok, &hash, 0, data.len(), data[..half].to_vec())
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = s
        .put_chunk(tok, &hash, half, data.len(), data[half..].to_vec())
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    hash
}

async fn readable(s: &Server, tok: &str, hash: &str, data: &[u8]) {
    let r = s.get_blob(tok, hash).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().as_ref(), data);
    assert!(s.blob_state(tok, hash).await.complete);
}

/// Refused exactly like a hash nobody ever uploaded.
async fn hidden(s: &Server, tok: &str, hash: &str) {
    let r = s.get_blob(tok, hash).await;
    let e = api_error(r, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(e.message, format!("blob {hash} not found"));
    assert_eq!(s.blob_state(tok, hash).await, absent(hash));
}

/// A volunteer's report with a photo, dispatched to a unit: the photo is readable by the
/// reporter, the unit, the district's inspector and the office; a volunteer of another
/// district, a handler of another unit and an inspector of another district get 404 and
/// learn nothing from `blobs/check` — not even by starting an upload of the same hash.
async fn photos_follow_record_visibility(store: Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_on(test_config(dir.path()), store, None, true).await;
    let vol1 = s.enroll("usr-vol-1").await; // 东街 s-dj
    let vol2 = s.enroll("usr-vol-2").await; // 南街 s-nj
    let hdl2 = s.enroll("usr-hdl-2").await; // unit u-jjdd
    let hdl3 = s.enroll("usr-hdl-3").await; // unit u-scjg
    let insp1 = s.enroll("usr-insp-1").await; // s-dj
    let insp2 = s.enroll("usr-insp-2").await; // s-nj
    let admin = s.enroll("usr-admin-1").await;

    let data = photo_bytes(30_000, 1);
    let hash = upload(&s, &vol1, &data).await;
    // Before any record refers to it, only its uploader (and the office) may read it.
    readable(&s, &vol1, &hash, &data).await;
    readable(&s, &admin, &hash, &data).await;
    hidden(&s, &insp1, &hash).await;

    // The display copy carrying the photo's evidence stamp, named in the event's `stamps`.
    let stamped_data = photo_bytes(25_000, 3);
    let stamped = upload(&s, &vol1, &stamped_data).await;
    hidden(&s, &insp1, &stamped).await;

    let p = Uuid::now_v7();
    let t = now_ms();
    let r = s
        .push(
            &vol1,
            vec![
                report(&user("usr-vol-1"), p, "s-dj", t)
                    .with_photos(vec![PhotoRef {
                        hash: hash.clone(),
                        role: PhotoRole::Before,
                    }])
                    .with_stamps(vec![PhotoStamp {
                        photo: hash.clone(),
                        stamped: stamped.clone(),
                    }]),
            ],
        )
        .await;
    assert!(matches!(r.results[0].status, PushStatus::Applied), "{r:?}");
    s.file_and_dispatch(&admin, &user("usr-admin-1"), p, "u-jjdd", (t + 1, t + 2))
        .await;

    for tok in [&vol1, &hdl2, &insp1, &admin] {
        readable(&s, tok, &hash, &data).await;
        readable(&s, tok, &stamped, &stamped_data).await;
    }
    for tok in [&vol2, &hdl3, &insp2] {
        hidden(&s, tok, &hash).await;
        hidden(&s, tok, &stamped).await;
    }

    // The same answers for a hash that exists nowhere.
    let nowhere = sha(b"never uploaded");
    for tok in [&vol2, &hdl3, &insp2] {
        hidden(&s, tok, &nowhere).await;
    }

    // An upload in progress is visible to its uploader only.
    let other = photo_bytes(20_000, 2);
    let other_hash = sha(&other);
    let r = s
        .put_chunk(&vol1, &other_hash, 0, other.len(), other[..5_000].to_vec())
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(s.blob_state(&vol1, &other_hash).await.offset, 5_000);
    assert_eq!(s.blob_state(&vol2, &other_hash).await, absent(&other_hash));

    // Starting an upload of a stored hash one may not read answers like a new upload (no 409,
    // no "complete"), in the caller's own staging...
    let r = s
        .put_chunk(&vol2, &hash, 0, data.len(), data[..1_000].to_vec())
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let st: BlobState = r.json().await.unwrap();
    assert_eq!((st.complete, st.offset), (false, 1_000));
    assert_eq!(
        s.get_blob(&vol2, &hash).await.status(),
        StatusCode::NOT_FOUND
    );
    let st = s.blob_state(&vol2, &hash).await;
    assert_eq!(
        (st.complete, st.offset),
        (false, 1_000),
        "their own upload only"
    );
    // ...and a first chunk of garbage proves nothing: it is discarded once complete.
    let r = s
        .put_chunk(&vol2, &hash, 1_000, data.len(), vec![0u8; 15_000])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = s
        .put_chunk(
            &vol2,
            &hash,
            16_000,
            data.len(),
            vec![0u8; data.len() - 16_000],
        )
        .await;
    api_error(r, StatusCode::UNPROCESSABLE_ENTITY, "hash_mismatch").await;
    hidden(&s, &vol2, &hash).await;
    // Whoever sends all the right bytes has the photo anyway and may read it back.
    upload(&s, &vol2, &data).await;
    readable(&s, &vol2, &hash, &data).await;
    // The stored blob was never touched by any of that.
    readable(&s, &hdl2, &hash, &data).await;
    s.stop().await;
}

#[tokio::test]
async fn sqlite_photos_are_readable_only_by_who_may_see_their_record() {
    let (_dir, store) = sqlite().await;
    photos_follow_record_visibility(store).await;
}

#[tokio::test]
async fn postgres_photos_are_readable_only_by_who_may_see_their_record() {
    let Some(pg) = Pg::new().await else { return };
    photos_follow_record_visibility(pg.store.clone()).await;
    pg.finish().await;
}

/// The state issue 11 found: every byte of an upload staged, the blob not stored (the server
/// stopped between writing the last chunk and verifying it). `blobs/check` finishes it, and so
/// does an empty last chunk; staged bytes that do not verify are discarded so the device sends
/// them again.
#[tokio::test]
async fn fully_staged_uploads_are_finished_by_check_or_an_empty_last_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), None, true).await;
    let tok = s.enroll("usr-insp-1").await;
    let partial = dir.path().join("blobs/partial");
    let staged = |hash: &str| partial.join(format!("{hash}.{}", user_key("usr-insp-1")));

    // First chunk over HTTP (the server records uploader and size), the rest written straight
    // into the staged file as the last chunk's fsync did before the server died.
    let stage = |data: Vec<u8>| {
        let s = &s;
        let tok = &tok;
        async move {
            let hash = sha(&data);
            let r = s
                .put_chunk(tok, &hash, 0, data.len(), data[..10_000].to_vec())
                .await;
            assert_eq!(r.status(), StatusCode::OK);
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(staged(&hash))
                .unwrap();
            std::io::Write::write_all(&mut f, &data[10_000..]).unwrap();
            hash
        }
    };

    let a = photo_bytes(30_000, 3);
    let ha = stage(a.clone()).await;
    assert_eq!(
        s.get_blob(&tok, &ha).await.status(),
        StatusCode::NOT_FOUND,
        "stuck"
    );
    let st = s.blob_state(&tok, &ha).await;
    assert_eq!(
        (st.complete, st.offset),
        (true, 30_000),
        "check finished it"
    );
    readable(&s, &tok, &ha, &a).await;
    assert!(!staged(&ha).exists());

    let b = photo_bytes(25_000, 4);
    let hb = stage(b.clone()).await;
    let r = s.put_chunk(&tok, &hb, b.len(), b.len(), Vec::new()).await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "the empty last chunk finished it"
    );
    readable(&s, &tok, &hb, &b).await;

    // Staged bytes that do not hash to the name: discarded, the upload starts again.
    let c = photo_bytes(20_000, 5);
    let hc = sha(&c);
    let r = s
        .put_chunk(&tok, &hc, 0, c.len(), c[..10_000].to_vec())
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(staged(&hc))
        .unwrap();
    std::io::Write::write_all(&mut f, &vec![9u8; 10_000]).unwrap();
    drop(f);
    assert_eq!(s.blob_state(&tok, &hc).await, absent(&hc));
    assert!(!staged(&hc).exists());
    upload(&s, &tok, &c).await;
    readable(&s, &tok, &hc, &c).await;
    s.stop().await;
}

/// The exact state the issue found on a server from before this change: `partial/<hash>` holds
/// every byte, the `blobs` row says `received = <first chunk>, complete = 0`, and the device
/// already counts the photo as uploaded, so it will never send it again. The server finishes
/// such uploads itself when it starts.
#[tokio::test]
async fn a_server_finishes_uploads_staged_completely_before_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let data = photo_bytes(35_000, 6);
    let hash = sha(&data);
    let half = photo_bytes(20_000, 7);
    let half_hash = sha(&half);
    {
        let s = Server::start_in(dir.path(), None, true).await;
        s.stop().await;
    }
    let partial = dir.path().join("blobs/partial");
    std::fs::create_dir_all(&partial).unwrap();
    std::fs::write(partial.join(&hash), &data).unwrap();
    std::fs::write(partial.join(&half_hash), &half[..10_000]).unwrap();
    let store = fieldcheck_server::open_store(&test_config(dir.path()).database_url)
        .await
        .unwrap();
    store
        .set_blob(&hash, 16_384, Some(35_000), false)
        .await
        .unwrap();

    let s = Server::start_on(test_config(dir.path()), store, None, false).await;
    let admin = s.login("usr-admin-1").await;
    // The first sweep runs at start; wait for it, not for a time.
    let mut tries = 0;
    while s.get_blob(&admin, &hash).await.status() != StatusCode::OK {
        tries += 1;
        assert!(tries < 500, "the staged upload was never finished");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    readable(&s, &admin, &hash, &data).await;
    assert!(!partial.join(&hash).exists());
    assert!(
        s.store
            .blob_states(std::slice::from_ref(&hash))
            .await
            .unwrap()[0]
            .complete,
        "the row caught up"
    );
    // An incomplete staged file is left alone (until it expires).
    assert!(partial.join(&half_hash).exists());
    assert_eq!(
        s.get_blob(&admin, &half_hash).await.status(),
        StatusCode::NOT_FOUND
    );
    s.stop().await;
}

/// The last chunk arrives whole and the client goes away before the answer (a phone killed
/// while the server verifies): the upload is still finished.
#[tokio::test]
async fn a_last_chunk_whose_client_left_is_still_finished() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), None, true).await;
    let tok = s.enroll("usr-insp-1").await;
    let data = photo_bytes(30_000, 8);
    let hash = sha(&data);
    let r = s
        .put_chunk(&tok, &hash, 0, data.len(), data[..15_000].to_vec())
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let mut raw = s
        .raw_chunk_head(&tok, &hash, 15_000, data.len(), 15_000)
        .await;
    raw.write_all(&data[15_000..]).await.unwrap();
    // Half-close: the server sees the end of the connection right after the body.
    raw.shutdown().await.unwrap();
    let mut sink = Vec::new();
    let _ = raw.read_to_end(&mut sink).await;
    drop(raw);
    let mut tries = 0;
    loop {
        let st = s.blob_state(&tok, &hash).await;
        if st.complete {
            break;
        }
        // Cut before the server took the chunk: the client resumes from its offset.
        if st.offset == 15_000 && tries > 50 {
            let r = s
                .put_chunk(&tok, &hash, 15_000, data.len(), data[15_000..].to_vec())
                .await;
            assert_eq!(r.status(), StatusCode::CREATED);
            break;
        }
        tries += 1;
        assert!(tries < 500, "{st:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    readable(&s, &tok, &hash, &data).await;
    s.stop().await;
}

/// Abandoned uploads expire: the sweeper deletes staged files and rows untouched for
/// `staged_upload_ttl_secs`; stored blobs and fresh uploads stay.
#[tokio::test]
async fn unfinished_uploads_expire() {
    let (_db, store) = sqlite().await;
    sweep_at_chosen_instants(store).await;
    if let Some(pg) = Pg::new().await {
        sweep_at_chosen_instants(pg.store.clone()).await;
        pg.finish().await;
    }

    // And the sweeper task of a running server, with a short TTL.
    let data = photo_bytes(20_000, 9);
    let hash = sha(&data);
    let dir = tempfile::tempdir().unwrap();
    let config = fieldcheck_server::Config {
        staged_upload_ttl_secs: 1,
        ..test_config(dir.path())
    };
    let s = Server::start_with(config, None, true).await;
    let tok = s.enroll("usr-insp-1").await;
    let r = s
        .put_chunk(&tok, &hash, 0, data.len(), data[..8_000].to_vec())
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let staged = dir
        .path()
        .join("blobs/partial")
        .join(format!("{hash}.{}", user_key("usr-insp-1")));
    assert!(staged.exists());
    let mut tries = 0;
    while s.blob_state(&tok, &hash).await.offset != 0 {
        tries += 1;
        assert!(tries < 1000, "never expired");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!staged.exists());
    // The device simply starts again from 0.
    upload(&s, &tok, &data).await;
    readable(&s, &tok, &hash, &data).await;
    s.stop().await;
}

/// The sweep itself, at chosen instants, over either backend.
async fn sweep_at_chosen_instants(store: Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let config = fieldcheck_server::Config {
        blob_dir: dir.path().join("blobs"),
        staged_upload_ttl_secs: 3600,
        ..test_config(dir.path())
    };
    let uploads = Arc::new(Uploads::new(
        store.clone(),
        Arc::new(LocalBlobs::new(&config.blob_dir)),
        &config,
    ));
    let data = photo_bytes(20_000, 9);
    let hash = sha(&data);
    let first = axum::body::Bytes::copy_from_slice(&data[..8_000]);
    let put = uploads
        .put(&hash, "usr-insp-1", false, 0, Some(20_000), first)
        .await
        .unwrap();
    assert_eq!(put, Put::Staged(8_000));
    let staged = uploads.staged_path(&hash, "usr-insp-1");
    let done = photo_bytes(5_000, 10);
    let done_hash = sha(&done);
    let put = uploads
        .put(
            &done_hash,
            "usr-insp-1",
            false,
            0,
            None,
            axum::body::Bytes::from(done.clone()),
        )
        .await
        .unwrap();
    assert_eq!(put, Put::Completed(5_000));

    let now = SystemTime::now();
    assert_eq!(uploads.sweep(now, false).await.unwrap(), 0, "fresh: kept");
    assert!(is_staged(store.as_ref(), &staged, &hash).await);
    assert!(
        store
            .blob_upload(&hash, "usr-insp-1")
            .await
            .unwrap()
            .is_some()
    );
    let later = now + Duration::from_secs(3601);
    assert_eq!(uploads.sweep(later, false).await.unwrap(), 1);
    assert!(!is_staged(store.as_ref(), &staged, &hash).await);
    assert_eq!(store.blob_upload(&hash, "usr-insp-1").await.unwrap(), None);
    assert!(
        store
            .blob_upload(&done_hash, "usr-insp-1")
            .await
            .unwrap()
            .is_some_and(|u| u.complete),
        "a finished upload is not expired"
    );
    assert!(dir.path().join("blobs").join(&done_hash).exists());
}

/// Whether the upload is staged: a file on SQLite, chunk rows on PostgreSQL (several instances
/// share those).
async fn is_staged(store: &dyn Store, file: &std::path::Path, hash: &str) -> bool {
    if store.backend() == "postgres" {
        store.staged_blob_len(hash, "usr-insp-1").await.unwrap() > 0
    } else {
        file.exists()
    }
}

/// The OpenAPI document says what the blob endpoints answer: every status they send, and the
/// hash constraint the server enforces (a hash off the pattern is the 400 it documents).
#[tokio::test]
async fn openapi_documents_what_the_blob_endpoints_answer() {
    let s = Server::start_temp().await;
    let doc = s.openapi().await;
    let pattern = "^[0-9a-f]{64}$";
    let statuses = |path: &str, method: &str| -> Vec<String> {
        let mut v: Vec<String> = doc["paths"][path][method]["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path} undocumented"))
            .keys()
            .cloned()
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        statuses("/api/v1/blobs/check", "post"),
        ["200", "400", "401", "413", "426"]
    );
    assert_eq!(
        statuses("/api/v1/blobs/{hash}", "put"),
        ["200", "201", "400", "401", "409", "413", "422", "426"]
    );
    assert_eq!(
        statuses("/api/v1/blobs/{hash}", "get"),
        ["200", "400", "401", "404", "426"]
    );
    for method in ["put", "get"] {
        let params = doc["paths"]["/api/v1/blobs/{hash}"][method]["parameters"]
            .as_array()
            .unwrap();
        let hash = params.iter().find(|p| p["name"] == "hash").unwrap();
        assert_eq!(hash["schema"]["pattern"], pattern, "{method}: {hash}");
    }
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["BlobState"]["properties"]["hash"]["pattern"],
        pattern
    );
    let hashes = &schemas["BlobCheckRequest"]["properties"]["hashes"];
    assert_eq!(hashes["items"]["pattern"], pattern, "{hashes}");

    // And the server refuses what the pattern excludes, with the documented status.
    let tok = s.enroll("usr-insp-1").await;
    for bad in ["ABC", &"A".repeat(64), &"0".repeat(63)] {
        assert_eq!(
            s.get_blob(&tok, bad).await.status(),
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
        let r = s
            .post_json(
                &tok,
                "/blobs/check",
                &serde_json::json!({ "hashes": [bad] }),
            )
            .await;
        api_error(r, StatusCode::BAD_REQUEST, "invalid_hash").await;
    }
    // Without a token 401, without the protocol header 426: both documented.
    let r = s
        .http
        .get(s.url(&format!("/blobs/{}", "0".repeat(64))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = reqwest::Client::new()
        .get(s.url(&format!("/blobs/{}", "0".repeat(64))))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UPGRADE_REQUIRED);
    s.stop().await;
}
