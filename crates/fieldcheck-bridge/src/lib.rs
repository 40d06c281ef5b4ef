//! The local HTTP bridge: the device core (`fieldcheck-core`) as JSON over HTTP, so that the
//! web UI runs in a plain browser against real behaviour (development and browser tests). The
//! Tauri app exposes the same commands through `invoke`; the UI's transport module picks one.
//!
//! Entry point: [`serve`] (tests bind port 0 and drive it over real HTTP). Every request over
//! HTTP passes [`guard`] (own Host/Origin, session secret, JSON bodies); the Tauri app uses
//! [`api::router`] in process without it.

use std::future::Future;
use std::path::PathBuf;

use axum::Router;
use fieldcheck_core::Store;
use tower_http::services::{ServeDir, ServeFile};

pub mod api;
pub mod error;
pub mod guard;
pub mod sync;
#[cfg(feature = "ts")]
pub mod wire_ts;

pub use api::AppState;
pub use error::{BridgeError, ErrorBody};
pub use guard::{Guard, SESSION_HEADER};

/// What the bridge serves.
#[derive(Debug, Clone, Default)]
pub struct BridgeConfig {
    /// The built UI (`ui/dist`); without it only `/bridge/*` is served.
    pub ui_dir: Option<PathBuf>,
}

/// The whole app: `/bridge/*` commands plus the UI's static files (unknown paths get
/// `index.html`, so a reload on any route works), every request through `guard`.
pub fn app(store: Store, config: &BridgeConfig, guard: Guard) -> Router {
    let api = api::router(AppState::new(store)).merge(
        Router::new()
            .route("/bridge/session", axum::routing::get(guard::session))
            .with_state(guard.clone()),
    );
    let app = match &config.ui_dir {
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
    };
    app.layer(axum::middleware::from_fn_with_state(guard, guard::check))
}

/// Serves `store` on `listener` until `shutdown` resolves, with a new session secret for the
/// listener's address.
pub async fn serve(
    store: Store,
    config: BridgeConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let guard = Guard::new(listener.local_addr()?);
    axum::serve(listener, app(store, &config, guard))
        .with_graceful_shutdown(shutdown)
        .await
}
