//! The FieldCheck central server: the sync API devices push to and pull from, blobs (photos),
//! enrollment and sign-in, over one storage trait with SQLite and PostgreSQL backends.
//!
//! Entry point: [`serve`] (tests bind port 0 and drive it over real HTTP).

use std::future::Future;
use std::sync::Arc;

pub mod api;
pub mod auth;
pub mod backup;
pub mod blobs;
pub mod client_ip;
pub mod config;
pub mod demo;
pub mod error;
pub mod open311;
pub mod ops;
pub mod policy;
pub mod push_limit;
pub mod qr;
pub mod session;
pub mod setup;
pub mod store;
pub mod volunteers;

pub use config::Config;
pub use error::{ConfigError, ServerError, StoreError};
pub use store::{Store, open as open_store};

/// Opens the store the config names and serves the API on `listener` until `shutdown`
/// resolves (in-flight requests are finished first).
pub async fn serve(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = store::open(&config.database_url).await?;
    let served = serve_with_store(config, store.clone(), listener, shutdown).await;
    // Its own store: closed here (SQLite checkpoints its WAL into the file).
    store.shutdown().await;
    served
}

/// [`serve`] over an already opened store (the demo seeds it first; tests inspect it).
pub async fn serve_with_store(
    config: Config,
    store: Arc<dyn Store>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let blobs = blobs::from_config(&config)?;
    serve_with(config, store, blobs, listener, shutdown).await
}

/// [`serve_with_store`] with an explicit blob store (tests use object_store's in-memory one).
///
/// When `shutdown` resolves: no new connections are accepted, requests in flight are
/// answered, then the push group still being committed (if its clients went away) commits;
/// each waits at most `shutdown_grace_secs`. The store stays open (the caller's).
pub async fn serve_with(
    config: Config,
    store: Arc<dyn Store>,
    blobs: Arc<dyn blobs::BlobStore>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // Staging of uploads in progress lives here whatever the blob backend.
    tokio::fs::create_dir_all(&config.blob_dir).await?;
    tracing::info!(blobs = %blobs.describe(), "blob storage");
    let grace = std::time::Duration::from_secs(config.shutdown_grace_secs);
    // Installed before the first request, so every request is counted.
    ops::metrics::handle();
    let upkeep = tokio::spawn(ops::metrics::run_upkeep());
    let state = Arc::new(api::AppState::with_blobs(store.clone(), config, blobs));
    // Finishes uploads staged completely before a stop, then expires abandoned ones.
    let sweeper = tokio::spawn(state.uploads.clone().run_sweeper());
    // The console's exports, one job at a time (`api/console_exports.rs`).
    let exporter = tokio::spawn(api::console_exports::run_jobs(state.clone()));
    let app = api::router(state);
    let (stopping, mut stopped) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections, answering the requests in flight");
        let _ = stopping.send(true);
    };
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<api::ConnAddrs>(),
    )
    .with_graceful_shutdown(shutdown);
    // A request that never ends (a stalled upload) must not keep the process up forever.
    let out_of_grace = async move {
        let _ = stopped.wait_for(|s| *s).await;
        tokio::time::sleep(grace).await;
    };
    let served = tokio::select! {
        r = served => r,
        () = out_of_grace => {
            tracing::warn!(secs = grace.as_secs(), "requests still in flight when the grace period ended");
            Ok(())
        }
    };
    ops::finish_pushes(store.as_ref(), grace).await;
    sweeper.abort();
    exporter.abort();
    upkeep.abort();
    served?;
    tracing::info!("stopped");
    Ok(())
}
