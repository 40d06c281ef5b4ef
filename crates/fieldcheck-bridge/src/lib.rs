//! The local HTTP bridge: the device core (`fieldcheck-core`) as JSON over HTTP, so that the
//! web UI runs in a plain browser against real behaviour (development and browser tests). The
//! Tauri app exposes the same commands through `invoke`; the UI's transport module picks one.
//!
//! Entry point: [`serve`] (tests bind port 0 and drive it over real HTTP).

use std::future::Future;
use std::path::PathBuf;

use axum::Router;
use fieldcheck_core::Store;
use tower_http::services::{ServeDir, ServeFile};

pub mod api;
pub mod error;
pub mod sync;

pub use api::AppState;
pub use error::{BridgeError, ErrorBody};

/// What the bridge serves.
#[derive(Debug, Clone, Default)]
pub struct BridgeConfig {
    /// The built UI (`ui/dist`); without it only `/bridge/*` is served.
    pub ui_dir: Option<PathBuf>,
}

/// The whole app: `/bridge/*` commands plus the UI's static files (unknown paths get
/// `index.html`, so a reload on any route works).
pub fn app(store: Store, config: &BridgeConfig) -> Router {
    let api = api::router(AppState::new(store));
    match &config.ui_dir {
        Some(dir) => {
            let index = dir.join("index.html");
            api.fallback_service(ServeDir::new(dir).fallback(ServeFile::new(index)))
        }
        None => api.fallback(|| async {
            (
                axum::http::StatusCode::NOT_FOUND,
                "FieldCheck bridge: no UI directory configured (use --ui ui/dist)",
            )
        }),
    }
}

/// Serves `store` on `listener` until `shutdown` resolves.
pub async fn serve(
    store: Store,
    config: BridgeConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(store, &config))
        .with_graceful_shutdown(shutdown)
        .await
}
