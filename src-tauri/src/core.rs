//! The command layer: every UI command runs through the bridge's own router, in process and
//! without a socket, so the Tauri app and the HTTP bridge are two thin doors onto one
//! implementation (`fieldcheck_bridge::api`). A command the bridge gains is reachable from the
//! app at once, with the same arguments, results and `{code, message}` errors.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use fieldcheck_bridge::{AppState, ErrorBody};
use fieldcheck_core::Store;
use tower::ServiceExt;

use crate::error::AppError;

/// Largest JSON or image body the app accepts back from a command (photos are ≤ 40 MiB in).
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// The device core as the webview sees it.
#[derive(Clone)]
pub struct Core {
    router: Router,
    store: Arc<Mutex<Store>>,
}

/// A command's successful result: the JSON text (passed to the webview as is) or, for photo
/// reads, the image with its headers.
pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Core {
    pub fn new(store: Store) -> Self {
        let state = AppState::new(store);
        Core {
            store: state.store(),
            router: fieldcheck_bridge::api::router(state),
        }
    }

    /// The store, shared with the sync client.
    pub fn store(&self) -> Arc<Mutex<Store>> {
        self.store.clone()
    }

    /// Runs one request through the bridge router and collects the whole response.
    async fn request(&self, req: Request<Body>) -> Result<Reply, AppError> {
        let res = self
            .router
            .clone()
            .oneshot(req)
            .await
            .map_err(|e: std::convert::Infallible| AppError::internal(e))?;
        let (parts, body) = res.into_parts();
        let body = axum::body::to_bytes(body, MAX_RESPONSE_BYTES)
            .await
            .map_err(AppError::internal)?
            .to_vec();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// `invoke(command, args)`: the JSON result text, or the core's `{code, message}`.
    pub async fn call(&self, command: &str, args: serde_json::Value) -> Result<String, AppError> {
        if !is_command_name(command) {
            return Err(unknown_command(command));
        }
        let body = serde_json::to_vec(&args).map_err(AppError::internal)?;
        let req = post(&format!("/bridge/{command}"), "application/json", body)?;
        json_result(self.request(req).await?)
    }

    /// `invoke('photo_upload', bytes)`: the file itself, once, as raw bytes.
    pub async fn upload_photo(&self, bytes: Vec<u8>) -> Result<String, AppError> {
        let req = post("/bridge/photos", "application/octet-stream", bytes)?;
        json_result(self.request(req).await?)
    }

    /// A stored image (`size` is `display` or `thumb`): the bridge's response with its
    /// content type and immutable caching, or 404 with a JSON error body.
    pub async fn photo(&self, hash: &str, size: &str) -> Result<Reply, AppError> {
        if !is_hash_like(hash) || !matches!(size, "display" | "thumb") {
            return Ok(not_found(&format!("{hash}/{size}")));
        }
        let req = Request::builder()
            .method(Method::GET)
            .uri(format!("/bridge/photos/{hash}/{size}"))
            .body(Body::empty())
            .map_err(AppError::internal)?;
        self.request(req).await
    }
}

impl Core {
    /// `invoke('map_package_import', bytes)`: an MBTiles file as raw bytes.
    pub async fn import_map_package(&self, bytes: Vec<u8>) -> Result<String, AppError> {
        let req = post(
            "/bridge/map_package_import",
            "application/octet-stream",
            bytes,
        )?;
        json_result(self.request(req).await?)
    }

    /// One offline map tile (`None`: a path that names no tile, answered 404).
    pub async fn tile(&self, zxy: Option<(u8, u32, u32)>) -> Result<Reply, AppError> {
        let Some((z, x, y)) = zxy else {
            return Ok(not_found("tile"));
        };
        let req = Request::builder()
            .method(Method::GET)
            .uri(format!("/bridge/tiles/{z}/{x}/{y}"))
            .body(Body::empty())
            .map_err(AppError::internal)?;
        self.request(req).await
    }
}

fn post(path: &str, content_type: &str, body: Vec<u8>) -> Result<Request<Body>, AppError> {
    Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .map_err(AppError::internal)
}

fn json_result(reply: Reply) -> Result<String, AppError> {
    if reply.status.is_success() {
        return String::from_utf8(reply.body).map_err(AppError::internal);
    }
    Err(error_of(&reply))
}

/// The `{code, message}` of a failed reply (the bridge always sends one; anything else is
/// mapped by status so the UI still gets a stable code).
pub fn error_of(reply: &Reply) -> AppError {
    match serde_json::from_slice::<ErrorBody>(&reply.body) {
        Ok(b) => AppError::new(b.code, b.message),
        Err(_) => {
            let code = match reply.status {
                StatusCode::NOT_FOUND => "not_found",
                StatusCode::PAYLOAD_TOO_LARGE => "photo_too_large",
                s if s.is_client_error() => "invalid_input",
                _ => "internal",
            };
            AppError::new(code, format!("HTTP {}", reply.status))
        }
    }
}

fn not_found(what: &str) -> Reply {
    let body = serde_json::to_vec(&ErrorBody {
        code: "not_found".into(),
        message: format!("not found: {what}"),
    })
    .unwrap_or_default();
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    Reply {
        status: StatusCode::NOT_FOUND,
        headers,
        body,
    }
}

fn unknown_command(command: &str) -> AppError {
    AppError::new("not_found", format!("unknown command: {command:?}"))
}

/// Command names are the bridge's route names: lower-case words joined by `_`. (`photos` and
/// `map_package_import` take raw bodies, reached only through `photo_upload` and the raw
/// `map_package_import` command.)
pub fn is_command_name(s: &str) -> bool {
    !s.is_empty()
        && s != "photos"
        && s != "map_package_import"
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Photo names are content hashes (hex); anything else cannot name a stored file.
fn is_hash_like(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.chars().all(|c| c.is_ascii_alphanumeric())
}
