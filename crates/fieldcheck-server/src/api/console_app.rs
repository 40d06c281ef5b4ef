//! The web apps' files — the console (`ui/dist-console`, config `console_dir`) at `/console/`
//! and the volunteers' report page (`ui/dist-report`, config `report_dir`) at `/report/` —
//! with the browser protections a signed-in page needs: no framing by other sites
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

pub(super) fn router(console_dir: &Path, report_dir: &Path) -> Router<Arc<AppState>> {
    let app = web_app(
        "console",
        "the console",
        "console_dir (FIELDCHECK_CONSOLE_DIR)",
        console_dir,
    )
    .merge(web_app(
        "report",
        "the volunteers' report page",
        "report_dir (FIELDCHECK_REPORT_DIR)",
        report_dir,
    ));
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

/// One built web app (`dir`) at `/{path}/`, or a page saying how to build it.
fn web_app(path: &str, what: &str, setting: &str, dir: &Path) -> Router<Arc<AppState>> {
    let index = dir.join("index.html");
    if index.is_file() {
        return Router::new().nest_service(
            &format!("/{path}"),
            ServeDir::new(dir).fallback(ServeFile::new(&index)),
        );
    }
    tracing::warn!(dir = %dir.display(), "{what}'s files not found: /{path}/ explains how to build them");
    let message = format!(
        "The files of {what} are not in {}: run `npm ci && npm run build` in ui/, or set \
         {setting} to where they are.",
        dir.display()
    );
    let missing = move || {
        let message = message.clone();
        async move { (StatusCode::NOT_FOUND, message) }
    };
    Router::new()
        .route(&format!("/{path}"), get(missing.clone()))
        .route(&format!("/{path}/"), get(missing.clone()))
        .route(&format!("/{path}/{{*rest}}"), get(missing))
}
