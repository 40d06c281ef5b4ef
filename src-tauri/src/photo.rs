//! The `photo` URI scheme: `convertFileSrc('<hash>/<size>', 'photo')` in the webview, i.e.
//! `photo://localhost/<hash>%2F<size>` (Linux, macOS, iOS) or
//! `http://photo.localhost/<hash>%2F<size>` (Windows, Android). Served from the core's
//! content-addressed files with the image's content type and immutable caching; an unknown
//! hash is a 404 with the usual `{code, message}` body.

use axum::http::{HeaderValue, Response, StatusCode, header};
use percent_encoding::percent_decode_str;

use crate::core::{Core, Reply};
use crate::error::AppError;

/// `<hash>/<size>` from a request path (either separator form).
pub fn parse_path(path: &str) -> Option<(String, String)> {
    let decoded = percent_decode_str(path.trim_start_matches('/'))
        .decode_utf8()
        .ok()?;
    let (hash, size) = decoded.split_once('/')?;
    Some((hash.to_owned(), size.trim_end_matches('/').to_owned()))
}

pub async fn respond(core: &Core, path: &str) -> Response<Vec<u8>> {
    let reply = match parse_path(path) {
        Some((hash, size)) => core.photo(&hash, &size).await,
        None => core.photo("", "").await,
    };
    to_response(reply)
}

/// A bridge reply as a URI-scheme response: its status, type and caching; readable by the
/// webview's own pages (images drawn on a canvas, Leaflet's tiles).
pub fn to_response(reply: Result<Reply, AppError>) -> Response<Vec<u8>> {
    let mut builder = Response::builder();
    match reply {
        Ok(r) => {
            builder = builder.status(r.status);
            for name in [header::CONTENT_TYPE, header::CACHE_CONTROL] {
                if let Some(v) = r.headers.get(&name) {
                    builder = builder.header(name, v);
                }
            }
            builder
                .header(
                    header::ACCESS_CONTROL_ALLOW_ORIGIN,
                    HeaderValue::from_static("*"),
                )
                .body(r.body)
        }
        Err(e) => builder
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .header(header::CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(&e).unwrap_or_default()),
    }
    .unwrap_or_else(|_| Response::new(Vec::new()))
}
