//! The server the CLI tests sync with: `fieldcheck-server` seeded with the demo city, in this
//! process on its own runtime, over real HTTP on a 127.0.0.1 port (`sync.rs`, `photo_kill.rs`).
#![allow(dead_code)]

use std::sync::Arc;

use fieldcheck_core::domain::Problem;
use fieldcheck_core::protocol::sync::{PROTOCOL_HEADER, PullItem, PullResponse};
use fieldcheck_server::demo::{DEMO_PASSWORD, DemoLogin};
use fieldcheck_server::{Config, Store as ServerStore};
use serde_json::{Value, json};
use uuid::Uuid;

/// Stops serving when dropped.
pub struct Server {
    pub base: String,
    pub addr: std::net::SocketAddr,
    pub config: Config,
    pub store: Arc<dyn ServerStore>,
    pub logins: Vec<DemoLogin>,
    pub rt: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl Server {
    pub fn start() -> Server {
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
            let logins = fieldcheck_server::demo::seed(
                store.as_ref(),
                chrono::Utc::now().timestamp_millis(),
            )
            .await
            .unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            (store, logins, listener)
        });
        let addr = listener.local_addr().unwrap();
        let mut server = Server {
            base: format!("http://{addr}"),
            addr,
            config,
            store,
            logins,
            rt,
            stop: None,
            task: None,
            _dir: dir,
        };
        server.serve(listener);
        server
    }

    pub fn serve(&mut self, listener: tokio::net::TcpListener) {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        self.task = Some(self.rt.spawn(fieldcheck_server::serve_with_store(
            self.config.clone(),
            self.store.clone(),
            listener,
            async move {
                let _ = rx.await;
            },
        )));
        self.stop = Some(tx);
    }

    /// Stops the server now and starts it again on the same address after `down`, in the
    /// background: a device syncing meanwhile meets refused connections first.
    pub fn restart_after(&mut self, down: std::time::Duration) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            self.rt.block_on(task).unwrap().unwrap();
        }
        let addr = self.addr;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let config = self.config.clone();
        let store = self.store.clone();
        self.task = Some(self.rt.spawn(async move {
            tokio::time::sleep(down).await;
            let listener = tokio::net::TcpListener::bind(addr).await?;
            fieldcheck_server::serve_with_store(config, store, listener, async move {
                let _ = rx.await;
            })
            .await
        }));
        self.stop = Some(tx);
    }

    pub fn code_of(&self, user: &str) -> String {
        self.logins
            .iter()
            .find(|l| l.user_id == user)
            .unwrap()
            .enroll_code
            .clone()
    }

    pub fn problem(&self, id: Uuid) -> Problem {
        self.rt.block_on(self.store.problem(id)).unwrap().unwrap()
    }

    pub fn event_count(&self) -> u64 {
        self.rt.block_on(self.store.event_count()).unwrap()
    }

    pub fn http(&self) -> reqwest::Client {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(PROTOCOL_HEADER, "1".parse().unwrap());
        reqwest::Client::builder()
            .default_headers(h)
            .build()
            .unwrap()
    }

    /// Event ids of a record as the server holds them, read through the API as an admin.
    pub fn event_ids(&self, entity: Uuid) -> Vec<Uuid> {
        let token = self.login("usr-admin-2");
        let http = self.http();
        let base = self.base.clone();
        self.rt.block_on(async move {
            let mut ids = Vec::new();
            let mut since = 0;
            loop {
                let page: PullResponse = json_of(
                    http.get(format!("{base}/api/v1/pull?since={since}"))
                        .bearer_auth(&token),
                )
                .await;
                for item in page.items {
                    if let PullItem::Event { event, .. } = item
                        && event.entity_id == entity
                    {
                        ids.push(event.id);
                    }
                }
                if !page.more || page.cursor == since {
                    break;
                }
                since = page.cursor;
            }
            ids.sort();
            ids
        })
    }
    /// A session token for `user` (demo password), over the API.
    pub fn login(&self, user: &str) -> String {
        let http = self.http();
        let base = self.base.clone();
        let login: Value = self.rt.block_on(json_of(
            http.post(format!("{base}/api/v1/login"))
                .json(&json!({"username": user, "password": DEMO_PASSWORD})),
        ));
        login["token"].as_str().unwrap().to_owned()
    }

    /// A stored photo, downloaded over the API with `token` (`None`: not there).
    pub fn blob(&self, token: &str, hash: &str) -> Option<Vec<u8>> {
        let http = self.http();
        self.rt.block_on(async {
            let r = http
                .get(format!("{}/api/v1/blobs/{hash}", self.base))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            if r.status().is_success() {
                Some(r.bytes().await.unwrap().to_vec())
            } else {
                None
            }
        })
    }

    pub fn has_problem(&self, id: Uuid) -> bool {
        self.rt.block_on(self.store.problem(id)).unwrap().is_some()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Sends `req` and reads the answer's JSON body.
pub async fn json_of<T: serde::de::DeserializeOwned>(req: reqwest::RequestBuilder) -> T {
    req.send().await.unwrap().json().await.unwrap()
}
