//! The bridge the tests talk to (`http.rs`, `guard.rs`): the real router on a 127.0.0.1 port
//! over a SQLite device store in a temp dir, with this start's session secret.
#![allow(dead_code)]

use std::path::PathBuf;

use fieldcheck_bridge::{BridgeConfig, ErrorBody, SESSION_HEADER, serve};
use fieldcheck_core::Store;
use serde_json::{Value, json};

pub struct Bridge {
    pub base: String,
    /// `127.0.0.1:<port>`, as a browser sends it in `Host`.
    pub host: String,
    /// This start's session secret, and the header the bridge says it goes in.
    pub secret: String,
    pub session_header: String,
    /// Sends nothing of its own: what a page other than the UI can send.
    pub http: reqwest::Client,
    /// Sends the session secret with every command, as the UI does.
    pub client: reqwest::Client,
    _dir: tempfile::TempDir,
    _ui: Option<tempfile::TempDir>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Bridge {
    pub async fn start(ui_dir: Option<PathBuf>) -> Bridge {
        Bridge::start_with(ui_dir, |_| {}).await
    }

    /// Starts over a store prepared by `prepare` (e.g. with events from another device).
    pub async fn start_with(ui_dir: Option<PathBuf>, prepare: impl FnOnce(&mut Store)) -> Bridge {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path().join("device.sqlite3")).unwrap();
        prepare(&mut store);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve(store, BridgeConfig { ui_dir }, listener, async {
            let _ = rx.await;
        }));
        let base = format!("http://{addr}");
        let http = reqwest::Client::new();
        // As the UI does: the session secret from the bridge (a same-origin fetch), then sent
        // with every command.
        let session = json_of(
            http.get(format!("{base}/bridge/session"))
                .header("sec-fetch-site", "same-origin"),
        )
        .await;
        let secret = session["session"].as_str().unwrap().to_owned();
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(SESSION_HEADER, secret.parse().unwrap());
        Bridge {
            host: addr.to_string(),
            session_header: session["header"].as_str().unwrap_or_default().to_owned(),
            secret,
            base,
            http,
            client: reqwest::Client::builder()
                .default_headers(headers)
                .build()
                .unwrap(),
            _dir: dir,
            _ui: None,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// A fresh device with the demo data seeded through the `demo_seed` command.
    pub async fn demo() -> Bridge {
        let b = Bridge::start(None).await;
        let seeded = b.ok("demo_seed", json!({})).await;
        assert!(seeded["created"].as_u64().unwrap() > 0);
        b
    }

    /// A demo device signed in as the demo inspector, serving a tiny UI.
    pub async fn signed_in_demo() -> Bridge {
        let ui = tempfile::tempdir().unwrap();
        std::fs::write(ui.path().join("index.html"), "<title>FieldCheck</title>").unwrap();
        let mut b = Bridge::start_with(Some(ui.path().to_path_buf()), |store| {
            fieldcheck_core::demo::seed_demo(store).unwrap();
            store.set_current_user(Some("usr-insp-1")).unwrap();
        })
        .await;
        b._ui = Some(ui);
        b
    }

    /// A command as the real UI sends it, not yet sent.
    pub fn command(&self, cmd: &str, args: Value) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}/bridge/{cmd}", self.base))
            .header(SESSION_HEADER, &self.secret)
            .json(&args)
    }

    pub async fn call(&self, cmd: &str, args: Value) -> reqwest::Response {
        self.client
            .post(format!("{}/bridge/{cmd}", self.base))
            .json(&args)
            .send()
            .await
            .unwrap()
    }

    pub async fn ok(&self, cmd: &str, args: Value) -> Value {
        let res = self.call(cmd, args).await;
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        assert!(status.is_success(), "{cmd} failed: {status} {body}");
        body
    }

    pub async fn err(&self, cmd: &str, args: Value) -> (u16, ErrorBody) {
        let res = self.call(cmd, args).await;
        let status = res.status().as_u16();
        assert!(status >= 400, "{cmd} unexpectedly succeeded");
        (status, res.json().await.unwrap())
    }

    /// The signed-in user's id (`me`).
    pub async fn who(&self) -> Value {
        json_of(self.command("me", json!({}))).await["user"]["id"].clone()
    }

    /// Uploads photo bytes sent as `content_type`, with the session secret.
    pub async fn upload_as(&self, content_type: &str, bytes: Vec<u8>) -> reqwest::Response {
        self.client
            .post(format!("{}/bridge/photos", self.base))
            .header("content-type", content_type)
            .body(bytes)
            .send()
            .await
            .unwrap()
    }

    pub async fn upload(&self, bytes: Vec<u8>) -> Value {
        let res = self.upload_as("application/octet-stream", bytes).await;
        assert!(res.status().is_success(), "upload: {}", res.status());
        res.json().await.unwrap()
    }

    pub async fn stop(mut self) {
        self.shutdown.take().unwrap().send(()).unwrap();
        self.task.take().unwrap().await.unwrap().unwrap();
    }
}

/// Sends `req` and reads the answer's JSON body.
pub async fn json_of(req: reqwest::RequestBuilder) -> Value {
    req.send().await.unwrap().json().await.unwrap()
}
