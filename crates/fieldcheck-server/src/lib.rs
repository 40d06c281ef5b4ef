//! The FieldCheck central server: the sync API devices push to and pull from, blobs (photos),
//! enrollment and sign-in, over one storage trait with SQLite and PostgreSQL backends.
//!
//! Entry point: [`serve`] (tests bind port 0 and drive it over real HTTP).

use std::future::Future;
use std::sync::Arc;

pub mod api;
pub mod auth;
pub mod blobs;
pub mod config;
pub mod demo;
pub mod error;
pub mod policy;
pub mod push_limit;
pub mod qr;
pub mod session;
pub mod store;

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
    serve_with_store(config, store, listener, shutdown).await
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
    let state = Arc::new(api::AppState::with_blobs(store, config, blobs));
    // Finishes uploads staged completely before a stop, then expires abandoned ones.
    let sweeper = tokio::spawn(state.uploads.clone().run_sweeper());
    let app = api::router(state);
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<api::ConnAddrs>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    sweeper.abort();
    served?;
    Ok(())
}
