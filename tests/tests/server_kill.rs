//! The real `fieldcheck-server` binary (built from its `main.rs` as `fieldcheck-server-e2e`)
//! runs as a child process on a fixed data directory and is killed with SIGKILL in the
//! middle of a push, a photo upload and a pull, then restarted on the same data. The next
//! sync completes, the upload resumes from what the server had staged, and nothing is lost
//! or doubled.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fieldcheck_core::sync::{Phase, Progress, RetryPolicy, SyncClient, SyncOptions};
use fieldcheck_e2e::{Device, assert_converged};

struct Proc {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

/// Starts `fieldcheck-server demo` on `port` over `dir`; returns it with the printed
/// enrollment codes (user id -> code).
fn start(port: u16, dir: &Path) -> (Child, Vec<(String, String)>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fieldcheck-server-e2e"))
        .args([
            "demo",
            "--problems",
            "0",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut codes = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() >= 4 && words[0].starts_with("usr-") {
            codes.push((words[0].to_owned(), words[3].to_owned()));
        }
        if line.contains("device: fieldcheck enroll") {
            break;
        }
    }
    assert!(!codes.is_empty(), "the server printed no enrollment codes");
    // Keep draining its output so that the pipe never fills.
    std::thread::spawn(move || for _ in lines {});
    (child, codes)
}

impl Proc {
    fn start(dir: &Path) -> (Arc<Mutex<Proc>>, Vec<(String, String)>) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (child, codes) = start(port, dir);
        let p = Proc {
            child: Some(child),
            port,
            dir: dir.to_owned(),
        };
        (Arc::new(Mutex::new(p)), codes)
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SIGKILL (std's `Child::kill`), then reaps it.
    fn kill(&mut self) -> bool {
        match self.child.take() {
            Some(mut c) => {
                c.kill().unwrap();
                c.wait().unwrap();
                true
            }
            None => false,
        }
    }

    fn restart(&mut self) {
        assert!(self.child.is_none());
        let (child, _) = start(self.port, &self.dir);
        self.child = Some(child);
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Options whose run gives up quickly while the server is down, small steps so that a
/// kill lands in the middle.
fn opts() -> SyncOptions {
    SyncOptions {
        push_batch: 5,
        pull_limit: 5,
        chunk_bytes: 32 * 1024,
        retry: RetryPolicy {
            base: Duration::from_millis(20),
            max: Duration::from_millis(50),
            max_attempts: 2,
        },
        timeout: Duration::from_secs(10),
        device_name: "kill".into(),
    }
}

/// A client whose progress callback SIGKILLs the server the first time `when` holds: at
/// once (between two requests), or `delay` later from another thread, so that the kill
/// lands while the next request is in flight.
fn killing_client(
    d: &Device,
    server: &Arc<Mutex<Proc>>,
    delay: Option<Duration>,
    when: impl Fn(&Progress) -> bool + Send + Sync + 'static,
) -> (SyncClient, Arc<Mutex<Option<Progress>>>) {
    let killed_at = Arc::new(Mutex::new(None));
    let (srv, at) = (server.clone(), killed_at.clone());
    let client = SyncClient::new(d.store.clone(), d.opts.clone())
        .unwrap()
        .with_progress(Arc::new(move |p: &Progress| {
            let mut at = at.lock().unwrap();
            if at.is_none() && when(p) {
                *at = Some(p.clone());
                match delay {
                    None => assert!(srv.lock().unwrap().kill()),
                    Some(d) => {
                        let srv = srv.clone();
                        std::thread::spawn(move || {
                            std::thread::sleep(d);
                            srv.lock().unwrap().kill();
                        });
                    }
                }
            }
        }));
    (client, killed_at)
}

fn db_path(dir: &Path) -> PathBuf {
    dir.join("fieldcheck.db")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_server_mid_push_upload_and_pull_loses_and_doubles_nothing() {
    let data = tempfile::tempdir().unwrap();
    let (server, codes) = Proc::start(data.path());
    let url = server.lock().unwrap().url();
    let code = |u: &str| codes.iter().find(|(id, _)| id == u).unwrap().1.clone();
    let vol = Device::enroll(&url, &code("usr-vol-1"), "usr-vol-1", opts()).await;
    let admin = Device::enroll(&url, &code("usr-admin-1"), "usr-admin-1", opts()).await;

    // 1. Killed in the middle of a push of 30 problems (batches of 5).
    for i in 0..30 {
        vol.report(&format!("断电 {i}"), vec![]);
    }
    let (client, killed) = killing_client(&vol, &server, Some(Duration::from_millis(2)), |p| {
        p.phase == Phase::Push && p.events_up >= 10
    });
    let r = client.run().await;
    let at = killed
        .lock()
        .unwrap()
        .clone()
        .expect("not killed during push");
    assert!(r.is_err(), "a run against a dead server cannot succeed");
    eprintln!(
        "killed mid-push after {}/{} events",
        at.events_up, at.events_up_total
    );
    assert!(at.events_up < at.events_up_total);
    // The kill lands a moment after the progress report, so a batch more may have been
    // answered by then: what is still in the outbox is what the next run must settle.
    let left = vol.store.lock().unwrap().outbox_len().unwrap() as usize;
    assert!(left > 0 && left <= 30 - at.events_up as usize, "{left}");
    server.lock().unwrap().restart();
    let r = vol.sync().await.expect("the next sync completes");
    assert_eq!(r.pushed + r.duplicates, left, "{r:?}");
    assert!(vol.quiet());

    // 2. Killed while a large photo goes up in chunks; the next run resumes from the
    //    bytes the server staged (fsynced per chunk) before it died.
    let big = fieldcheck_e2e::noisy_png(1600, 1200, 7);
    let hash = vol
        .store
        .lock()
        .unwrap()
        .add_photo_bytes(&big)
        .unwrap()
        .hash;
    let size = std::fs::metadata(vol.store.lock().unwrap().display_path(&hash).unwrap())
        .unwrap()
        .len();
    assert!(
        size > 8 * 32 * 1024,
        "display copy of {size} bytes is too small"
    );
    let p = vol.report("大照片上传中断", vec![hash.clone()]);
    let (client, killed) =
        killing_client(&vol, &server, Some(Duration::from_millis(2)), move |p| {
            p.phase == Phase::Photos && p.photo_bytes_up >= size / 3
        });
    assert!(client.run().await.is_err());
    let at = killed
        .lock()
        .unwrap()
        .clone()
        .expect("not killed during upload");
    eprintln!("killed mid-upload after {}/{size} bytes", at.photo_bytes_up);
    assert!(at.photo_bytes_up < size);
    server.lock().unwrap().restart();
    let r = vol.sync().await.expect("the next sync completes");
    assert_eq!(r.photos_uploaded, 1, "{r:?}");
    // The photo's stamped display copy (水印) goes up with it: its bytes count too.
    let stamped = p.photos[0].stamped.clone().expect("the photo is stamped");
    let stamped_size = std::fs::metadata(vol.store.lock().unwrap().display_path(&stamped).unwrap())
        .unwrap()
        .len();
    assert!(
        // Whatever was acknowledged before the kill is not sent again (a chunk in flight
        // may have landed too: the server's staged offset decides).
        r.photo_bytes_uploaded > 0
            && r.photo_bytes_uploaded + at.photo_bytes_up <= size + stamped_size,
        "resumed with {} of {size} + {stamped_size} bytes ({} acknowledged before the kill)",
        r.photo_bytes_uploaded,
        at.photo_bytes_up
    );
    // The server kept exactly the device's bytes.
    let display = std::fs::read(vol.store.lock().unwrap().display_path(&hash).unwrap()).unwrap();
    let stored = reqwest::Client::new()
        .get(format!("{url}/api/v1/blobs/{hash}"))
        .header(fieldcheck_core::protocol::sync::PROTOCOL_HEADER, "1")
        .bearer_auth(vol.token())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(stored.as_ref(), display.as_slice());

    // 3. Killed while the office pulls (pages of 5); it picks up from its cursor.
    let (client, killed) = killing_client(&admin, &server, None, |p| {
        p.phase == Phase::Pull && p.events_down >= 10
    });
    assert!(client.run().await.is_err());
    let at = killed
        .lock()
        .unwrap()
        .clone()
        .expect("not killed during pull");
    eprintln!("killed mid-pull after {} events", at.events_down);
    // The next page is fetched while one is written, so one more page may have come down
    // before the server died: count what the device holds.
    let had: u64 = admin
        .store
        .lock()
        .unwrap()
        .connection()
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert!(had >= at.events_down && had < 31, "{had}");
    server.lock().unwrap().restart();
    let r = admin.sync().await.expect("the next sync completes");
    assert_eq!(r.events_pulled as u64 + had, 31, "{r:?}");
    // The photo and its stamped display copy (水印): two files on the office's device.
    assert_eq!(r.photos_downloaded, 2, "{r:?}");

    // Everything is there once, the same everywhere.
    let store =
        fieldcheck_server::open_store(&format!("sqlite://{}", db_path(data.path()).display()))
            .await
            .unwrap();
    let c = assert_converged(&url, &db_path(data.path()), store.as_ref(), &[&vol, &admin]).await;
    assert_eq!(c.server_events, 31);
    assert_eq!(c.records, 31);
    assert_eq!(admin.problem(p.id), vol.problem(p.id));
}
