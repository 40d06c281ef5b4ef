//! The content-addressed file store.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use fieldcheck_photo::{Limits, PhotoError, PhotoFiles, ingest};
use sha2::{Digest, Sha256};

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn photo() -> fieldcheck_photo::Ingested {
    ingest(&jpeg(&quadrants(900, 600), 90), &Limits::default()).unwrap()
}

#[test]
fn put_writes_both_copies_under_the_display_hash() {
    let dir = tempfile::tempdir().unwrap();
    let store = PhotoFiles::new(dir.path());
    let p = photo();
    let h = p.display_sha256.clone();
    assert!(!store.exists(&h));

    let stored = store.put(&p).unwrap();
    assert!(stored.newly_written);
    assert_eq!(stored.hash, h);
    let want_display = dir
        .path()
        .join("display")
        .join(&h[..2])
        .join(format!("{h}.jpg"));
    let want_thumb = dir
        .path()
        .join("thumb")
        .join(&h[..2])
        .join(format!("{h}.jpg"));
    assert_eq!(stored.display_path, want_display);
    assert_eq!(stored.thumb_path, want_thumb);
    assert_eq!(store.display_path(&h).unwrap(), want_display);
    assert_eq!(store.thumb_path(&h).unwrap(), want_thumb);
    assert_eq!(fs::read(&want_display).unwrap(), p.display);
    assert_eq!(fs::read(&want_thumb).unwrap(), p.thumbnail);
    assert!(store.exists(&h));
    assert!(store.thumb_exists(&h));
    // Nothing but the two files: no temp files left behind.
    assert_eq!(files_under(dir.path()), vec![want_display, want_thumb]);
}

#[test]
fn same_photo_twice_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = PhotoFiles::new(dir.path());
    let first = store.put(&photo()).unwrap();
    let mtime = fs::metadata(&first.display_path)
        .unwrap()
        .modified()
        .unwrap();
    let second = store.put(&photo()).unwrap();
    assert!(first.newly_written);
    assert!(!second.newly_written);
    assert_eq!(first.display_path, second.display_path);
    assert_eq!(
        fs::metadata(&second.display_path)
            .unwrap()
            .modified()
            .unwrap(),
        mtime
    );
    assert_eq!(files_under(dir.path()).len(), 2);
}

#[test]
fn put_refuses_an_ingested_value_whose_hash_was_tampered_with() {
    let dir = tempfile::tempdir().unwrap();
    let store = PhotoFiles::new(dir.path());
    let mut p = photo();
    p.display[100] ^= 0xFF;
    let e = store.put(&p).unwrap_err();
    assert_eq!(e.code(), "photo_hash_mismatch");
    assert!(files_under(dir.path()).is_empty());
}

#[test]
fn put_display_blob_verifies_the_hash() {
    let dir = tempfile::tempdir().unwrap();
    let store = PhotoFiles::new(dir.path());
    let p = photo();

    let wrong = "0".repeat(64);
    let e = store.put_display_blob(&wrong, &p.display).unwrap_err();
    match &e {
        PhotoError::HashMismatch { expected, actual } => {
            assert_eq!(expected, &wrong);
            assert_eq!(actual, &p.display_sha256);
        }
        other => panic!("expected HashMismatch, got {other:?}"),
    }
    assert!(!store.exists(&wrong));
    assert!(
        files_under(dir.path()).is_empty(),
        "a refused blob leaves nothing on disk"
    );

    let path = store
        .put_display_blob(&p.display_sha256, &p.display)
        .unwrap();
    assert_eq!(fs::read(path).unwrap(), p.display);
    assert!(store.exists(&p.display_sha256));
    assert!(!store.thumb_exists(&p.display_sha256));
    // Idempotent.
    store
        .put_display_blob(&p.display_sha256, &p.display)
        .unwrap();
}

#[test]
fn hashes_are_validated_before_touching_paths() {
    let dir = tempfile::tempdir().unwrap();
    let store = PhotoFiles::new(dir.path());
    let upper = hex::encode(Sha256::digest(b"x")).to_uppercase();
    let bad = [
        "",
        "../../etc/passwd",
        "abc",
        upper.as_str(),
        "../aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "gggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ];
    for h in bad {
        assert_eq!(
            store.display_path(h).unwrap_err().code(),
            "photo_invalid_hash",
            "{h:?}"
        );
        assert_eq!(
            store.thumb_path(h).unwrap_err().code(),
            "photo_invalid_hash",
            "{h:?}"
        );
        assert!(!store.exists(h));
        assert_eq!(
            store.put_display_blob(h, b"data").unwrap_err().code(),
            "photo_invalid_hash"
        );
    }
    assert!(files_under(dir.path()).is_empty());
}

#[test]
fn io_errors_are_typed_and_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    // The store root is a file, so its subdirectories cannot be created.
    let root = dir.path().join("not-a-dir");
    fs::write(&root, b"x").unwrap();
    let store = PhotoFiles::new(&root);
    let e = store.put(&photo()).unwrap_err();
    assert_eq!(e.code(), "photo_io");
    assert!(e.to_string().contains("not-a-dir"), "{e}");
}
