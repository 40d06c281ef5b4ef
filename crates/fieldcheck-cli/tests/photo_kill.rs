//! Issue 11.2 as the field meets it: an inspector's device with many photographed problems
//! runs `fieldcheck sync`, which is SIGKILLed at random moments (a phone killing a
//! backgrounded app) a few times, then one sync runs to the end. After every kill, no photo the
//! device counts as uploaded is missing on the server; at the end every photo is stored there
//! and downloadable. The server is `fieldcheck-server` in this process, over real HTTP.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::Server;
use fieldcheck_core::{NewProblem, Store};
use rand::{Rng, SeedableRng};

fn fieldcheck(db: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fieldcheck"));
    c.arg("--db").arg(db).args(args);
    c.env_remove("FIELDCHECK_NOW")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

fn noise_png(seed: u64) -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let img = image::RgbImage::from_fn(400, 300, |_, _| image::Rgb(rng.random::<[u8; 3]>()));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[test]
fn a_sync_killed_again_and_again_leaves_no_photo_behind() {
    let server = Server::start();
    let (base, code) = (&server.base, server.code_of("usr-insp-1"));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("device.db");
    let st = fieldcheck(&db, &["enroll", "--server", base, "--code", &code])
        .status()
        .unwrap();
    assert!(st.success());
    let mut photos = Vec::new();
    {
        let mut s = Store::open(&db).unwrap();
        let actor = s.actor("usr-insp-1").unwrap();
        for i in 0..40u64 {
            let hash = s.add_photo_bytes(&noise_png(i)).unwrap().hash;
            let bytes = std::fs::read(s.display_path(&hash).unwrap()).unwrap();
            s.report_problem(
                &actor,
                NewProblem {
                    category: "SR-02".into(),
                    description: format!("照片 {i}"),
                    point_id: Some("p-005".into()),
                    photos: vec![hash.clone()],
                    ..Default::default()
                },
            )
            .unwrap();
            photos.push((hash, bytes));
        }
    }

    let admin = server.login("usr-admin-1");
    let on_server = |hash: &str| server.blob(&admin, hash);
    let marked_uploaded = || -> Vec<String> {
        let s = Store::open(&db).unwrap();
        let mut q = s
            .connection()
            .prepare("SELECT hash FROM photos WHERE uploaded_at IS NOT NULL")
            .unwrap();
        q.query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let check = |when: &str| {
        for hash in marked_uploaded() {
            let got = on_server(&hash);
            match photos.iter().find(|(h, _)| *h == hash) {
                Some((_, want)) => assert_eq!(
                    got.as_ref(),
                    Some(want),
                    "{when}: photo {hash} marked uploaded but not on the server"
                ),
                // A photo's stamped display copy (水印), made by the store: on the server too
                // (the server checked its bytes against its name when it took them).
                None => assert!(
                    got.is_some(),
                    "{when}: stamped copy {hash} marked uploaded but not on the server"
                ),
            }
        }
    };

    let seed: u64 = std::env::var("FIELDCHECK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("seed {seed} (replay with FIELDCHECK_SEED={seed})");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for round in 0..6 {
        let mut child = fieldcheck(&db, &["sync"]).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(rng.random_range(30..600)));
        let _ = child.kill(); // SIGKILL; an error means it already finished
        let _ = child.wait();
        check(&format!("after kill {round}"));
    }
    let st = fieldcheck(&db, &["sync"]).status().unwrap();
    assert!(st.success(), "the last sync runs to the end");
    check("after the last sync");
    // Every photo, and with each its stamped copy.
    assert_eq!(
        marked_uploaded().len(),
        2 * photos.len(),
        "every photo counts as uploaded"
    );
    for (hash, bytes) in &photos {
        assert_eq!(on_server(hash).as_ref(), Some(bytes), "photo {hash}");
    }
}
