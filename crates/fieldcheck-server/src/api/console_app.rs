//! The console web app's files (`ui/dist-console`, config `console_dir`) at `/console/`, with
//! the browser protections a signed-in office page needs: no framing by other sites
//! (clickjacking), scripts and connections only from this origin, no MIME sniffing.
//!
//! Paths that are not files answer the app's `index.html`, so a link into any screen
//! (`/console/problems/<id>`, a filtered ledger) opens that screen.

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use super::AppState;

/// Where the app lives.
pub const CONSOLE_PATH: &str = "/console/";

/// Images may come from map tile servers (https) and photo previews (`blob:`); styles are
/// inline in Element Plus's components; everything else only from here.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data: blob: https:; connect-src 'self'; font-src 'self' data:; \
                   object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

pub(super) fn router(dir: &Path) -> Router<Arc<AppState>> {
    let index = dir.join("index.html");
    let app = if index.is_file() {
        Router::new().nest_service(
            "/console",
            ServeDir::new(dir).fallback(ServeFile::new(&index)),
        )
    } else {
        tracing::warn!(dir = %dir.display(), "console files not found: /console/ explains how to build them");
        let message = format!(
            "The console's files are not in {}: run `npm ci && npm run build` in ui/, or set \
             console_dir (FIELDCHECK_CONSOLE_DIR) to where they are.",
            dir.display()
        );
        let missing = move || {
            let message = message.clone();
            async move { (StatusCode::NOT_FOUND, message) }
        };
        Router::new()
            .route("/console", get(missing.clone()))
            .route("/console/", get(missing.clone()))
            .route("/console/{*rest}", get(missing))
    };
    let header = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    app.route(
        "/",
        get(|| async { Redirect::to(CONSOLE_PATH).into_response() }),
    )
    .layer(header(header::CONTENT_SECURITY_POLICY, CSP))
    .layer(header(header::X_FRAME_OPTIONS, "DENY"))
    .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
    .layer(header(header::REFERRER_POLICY, "same-origin"))
}
