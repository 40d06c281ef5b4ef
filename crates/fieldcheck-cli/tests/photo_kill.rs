//! Issue 11.2 as the field meets it: an inspector's device with many photographed problems
//! runs `fieldcheck sync`, which is SIGKILLed at random moments (a phone killing a
//! backgrounded app) a few times, then one sync runs to the end. After every kill, no photo the
//! device counts as uploaded is missing on the server; at the end every photo is stored there
//! and downloadable. The server is `fieldcheck-server` in this process, over real HTTP.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use fieldcheck_core::protocol::sync::PROTOCOL_HEADER;
use fieldcheck_core::{NewProblem, Store};
use fieldcheck_server::Config;
use fieldcheck_server::demo::DEMO_PASSWORD;
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
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = Config {
        database_url: format!("sqlite://{}/fc.db", dir.path().display()),
        blob_dir: dir.path().join("blobs"),
        ..Config::default()
    };
    let (store, logins, listener) = rt.block_on(async {
        let store = fieldcheck_server::open_store(&config.database_url)
            .await
            .unwrap();
        let logins =
            fieldcheck_server::demo::seed(store.as_ref(), chrono::Utc::now().timestamp_millis())
                .await
                .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        (store, logins, listener)
    });
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (_stop, rx) = tokio::sync::oneshot::channel::<()>();
    rt.spawn(fieldcheck_server::serve_with_store(
        config,
        store,
        listener,
        async move {
            let _ = rx.await;
        },
    ));
    let code = logins
        .iter()
        .find(|l| l.user_id == "usr-insp-1")
        .unwrap()
        .enroll_code
        .clone();

    let db = dir.path().join("device.db");
    let st = fieldcheck(&db, &["enroll", "--server", &base, "--code", &code])
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

    let http = reqwest::Client::new();
    let admin: String = rt.block_on(async {
        let v: serde_json::Value = http
            .post(format!("{base}/api/v1/login"))
            .header(PROTOCOL_HEADER, "1")
            .json(&serde_json::json!({"username": "usr-admin-1", "password": DEMO_PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["token"].as_str().unwrap().to_owned()
    });
    let on_server = |hash: &str| -> Option<Vec<u8>> {
        rt.block_on(async {
            let r = http
                .get(format!("{base}/api/v1/blobs/{hash}"))
                .header(PROTOCOL_HEADER, "1")
                .bearer_auth(&admin)
                .send()
                .await
                .unwrap();
            (r.status() == 200).then_some(())?;
            Some(r.bytes().await.unwrap().to_vec())
        })
    };
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
            let want = &photos.iter().find(|(h, _)| *h == hash).unwrap().1;
            assert_eq!(
                on_server(&hash).as_ref(),
                Some(want),
                "{when}: photo {hash} marked uploaded but not on the server"
            );
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
    assert_eq!(
        marked_uploaded().len(),
        photos.len(),
        "every photo counts as uploaded"
    );
    for (hash, bytes) in &photos {
        assert_eq!(on_server(hash).as_ref(), Some(bytes), "photo {hash}");
    }
}
