//! Who may talk to the bridge. It listens on loopback, but a web page the inspector visits runs
//! on the same machine: without these checks that page could post commands (`text/plain` needs
//! no CORS preflight), or rebind its own DNS name to 127.0.0.1 and read the answers. So every
//! request over HTTP must
//!
//! - name the bridge itself in `Host` (`127.0.0.1:PORT`, `localhost:PORT`, `[::1]:PORT`, or the
//!   forced non-loopback address): a rebound name is refused, for static files too;
//! - come from the bridge's own origin when it carries `Origin`, and not from another site by
//!   `Sec-Fetch-Site` (the browser sets both; a page cannot forge them);
//! - for a command (`POST /bridge/…`), carry the per-start session secret in
//!   [`SESSION_HEADER`] and a JSON body type (an image type for the photo upload).
//!
//! The UI gets the secret from `GET /bridge/session`, which only its own origin can read (no
//! CORS headers are ever sent, and rebinding is refused by `Host`). `<img>` photo reads carry no
//! header, so `GET /bridge/photos/…` needs no secret; they are content-addressed anyway.
//!
//! The Tauri app runs the same command router in process (`api::router`) without this layer:
//! no web page can reach it, and its webview talks through `invoke`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::error::BridgeError;

/// The request header that carries the session secret.
pub const SESSION_HEADER: &str = "x-fieldcheck-session";

/// The request checks of one running bridge: its own addresses and its session secret.
#[derive(Clone)]
pub struct Guard {
    inner: Arc<Inner>,
}

struct Inner {
    secret: String,
    /// `host[:port]` forms that name this bridge, lower-case.
    hosts: Vec<String>,
}

/// What `GET /bridge/session` answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// The secret to send in `header` with every command.
    pub session: String,
    pub header: String,
}

impl Guard {
    /// For a bridge listening on `addr`, with a new secret (32 bytes from the OS-seeded CSPRNG).
    pub fn new(addr: SocketAddr) -> Guard {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Guard::with_secret(addr, hex::encode(bytes))
    }

    fn with_secret(addr: SocketAddr, secret: String) -> Guard {
        let port = addr.port();
        let mut hosts: Vec<String> = ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .map(|h| format!("{h}:{port}"))
            .collect();
        // A forced non-loopback bind on a concrete address answers to that address too.
        if !addr.ip().is_loopback() && !addr.ip().is_unspecified() {
            hosts.push(addr.to_string());
        }
        // Browsers leave the default port out of `Host` and `Origin`.
        if port == 80 {
            let bare: Vec<String> = hosts
                .iter()
                .filter_map(|h| h.strip_suffix(":80").map(str::to_owned))
                .collect();
            hosts.extend(bare);
        }
        Guard {
            inner: Arc::new(Inner { secret, hosts }),
        }
    }

    /// The session secret (for a caller that starts the bridge in process).
    pub fn secret(&self) -> &str {
        &self.inner.secret
    }

    /// The `host:port` names this bridge answers to.
    pub fn hosts(&self) -> &[String] {
        &self.inner.hosts
    }

    fn names_me(&self, authority: &str) -> bool {
        let a = authority.trim().to_ascii_lowercase();
        self.inner.hosts.contains(&a)
    }

    fn check_host(&self, headers: &HeaderMap) -> Result<(), BridgeError> {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if self.names_me(host) {
            return Ok(());
        }
        Err(refused(
            StatusCode::FORBIDDEN,
            "host_not_allowed",
            format!(
                "this bridge answers only as {}; the request named {host:?} (a page reaching it \
                 under another name, as with DNS rebinding, is refused)",
                self.inner.hosts.join(", ")
            ),
        ))
    }

    fn check_origin(&self, headers: &HeaderMap) -> Result<(), BridgeError> {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return Ok(());
        };
        let origin = origin.to_str().unwrap_or("");
        if let Some(authority) = origin.strip_prefix("http://")
            && self.names_me(authority)
        {
            return Ok(());
        }
        Err(refused(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            format!(
                "requests from the page at {origin:?} are refused: only this bridge's own UI may call it"
            ),
        ))
    }

    fn check_fetch_site(headers: &HeaderMap) -> Result<(), BridgeError> {
        match headers.get("sec-fetch-site").map(HeaderValue::to_str) {
            None | Some(Ok("same-origin" | "none")) => Ok(()),
            Some(v) => Err(refused(
                StatusCode::FORBIDDEN,
                "cross_site_request",
                format!(
                    "a request from another page ({}) is refused: only this bridge's own UI may call it",
                    v.unwrap_or("?")
                ),
            )),
        }
    }

    fn check_secret(&self, headers: &HeaderMap) -> Result<(), BridgeError> {
        let Some(given) = headers.get(SESSION_HEADER) else {
            return Err(refused(
                StatusCode::FORBIDDEN,
                "session_required",
                format!(
                    "commands need this bridge's session secret in the {SESSION_HEADER} header \
                     (GET /bridge/session from the bridge's own UI)"
                ),
            ));
        };
        if constant_time_eq(given.as_bytes(), self.inner.secret.as_bytes()) {
            return Ok(());
        }
        Err(refused(
            StatusCode::FORBIDDEN,
            "session_invalid",
            "the session secret is not this bridge's (it changes at every start: reload the page)"
                .into(),
        ))
    }
}

/// Refuses a non-loopback listening address unless forced: the bridge is the device's whole
/// core (sign-in, records, enrollment) without a password. `Ok(Some(warning))` when forced.
pub fn check_bind(addr: SocketAddr, allow_remote: bool) -> Result<Option<String>, String> {
    if addr.ip().is_loopback() {
        return Ok(None);
    }
    let danger = format!(
        "{addr} is not a loopback address: anyone who can reach it on the network can act as \
         this device (sign in as any user, read and change records, enroll it elsewhere)"
    );
    if allow_remote {
        Ok(Some(format!("WARNING: {danger}")))
    } else {
        Err(format!(
            "refusing to listen on {danger}. Use --bind 127.0.0.1:PORT, or add --allow-remote \
             if that is really wanted"
        ))
    }
}

/// The middleware over every HTTP request of the bridge (commands, photos, static UI).
pub async fn check(State(guard): State<Guard>, req: Request, next: Next) -> Response {
    match guard.admit(req.method(), req.uri().path(), req.headers()) {
        Ok(()) => next.run(req).await,
        Err(e) => {
            tracing::warn!(
                code = e.code(),
                method = %req.method(),
                path = req.uri().path(),
                "refused a request"
            );
            e.into_response()
        }
    }
}

impl Guard {
    fn admit(&self, method: &Method, path: &str, headers: &HeaderMap) -> Result<(), BridgeError> {
        self.check_host(headers)?;
        self.check_origin(headers)?;
        let Some(route) = path.strip_prefix("/bridge/") else {
            // Static UI files: a link from another site may open the app, so no fetch-site check.
            return Ok(());
        };
        Guard::check_fetch_site(headers)?;
        let read_only = matches!(*method, Method::GET | Method::HEAD);
        if read_only
            && (route == "session" || route.starts_with("photos/") || route.starts_with("tiles/"))
        {
            return Ok(());
        }
        self.check_secret(headers)?;
        if read_only {
            return Ok(());
        }
        check_content_type(route, headers)
    }
}

fn check_content_type(route: &str, headers: &HeaderMap) -> Result<(), BridgeError> {
    let given = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = given
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let (ok, wanted) = if route == "photos" {
        (
            essence.starts_with("image/") || essence == "application/octet-stream",
            "an image type or application/octet-stream",
        )
    } else if route == "map_package_import" {
        // What a browser gives a picked .mbtiles file, or the generic binary type.
        (
            matches!(
                essence.as_str(),
                "application/octet-stream" | "application/vnd.sqlite3" | "application/x-sqlite3"
            ),
            "application/octet-stream",
        )
    } else {
        (essence == "application/json", "application/json")
    };
    if ok {
        return Ok(());
    }
    Err(refused(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        format!("Content-Type must be {wanted}, not {given:?}"),
    ))
}

/// `GET /bridge/session`: the secret, for the bridge's own UI (the guard has checked `Host`,
/// `Origin` and `Sec-Fetch-Site`). Never cached.
pub async fn session(State(guard): State<Guard>) -> Response {
    let body = Session {
        session: guard.secret().to_owned(),
        header: SESSION_HEADER.to_owned(),
    };
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(body),
    )
        .into_response()
}

fn refused(status: StatusCode, code: &str, message: String) -> BridgeError {
    BridgeError::Coded {
        status,
        code: code.to_owned(),
        message,
    }
}

/// Compares without an early exit, so the time taken says nothing about the secret.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_bridge_answers_to_its_loopback_names_only() {
        let g = Guard::with_secret("127.0.0.1:8787".parse().unwrap(), "s".into());
        for ok in [
            "127.0.0.1:8787",
            "localhost:8787",
            "LOCALHOST:8787",
            "[::1]:8787",
        ] {
            assert!(g.names_me(ok), "{ok}");
        }
        for bad in [
            "evil.example:8787",
            "127.0.0.1:8788",
            "localhost",
            "",
            "127.0.0.1",
        ] {
            assert!(!g.names_me(bad), "{bad}");
        }
        let lan = Guard::with_secret("192.168.1.5:80".parse().unwrap(), "s".into());
        assert!(lan.names_me("192.168.1.5:80") && lan.names_me("192.168.1.5"));
        assert!(lan.names_me("localhost"));
        let any = Guard::with_secret("0.0.0.0:9000".parse().unwrap(), "s".into());
        assert!(!any.names_me("0.0.0.0:9000"));
    }

    #[test]
    fn commands_need_host_origin_secret_and_json() {
        let g = Guard::with_secret("127.0.0.1:8787".parse().unwrap(), "secret".into());
        let host = ("host", "127.0.0.1:8787");
        let good = [
            host,
            ("origin", "http://localhost:8787"),
            (SESSION_HEADER, "secret"),
            ("content-type", "application/json; charset=utf-8"),
        ];
        let code = |m: Method, p: &str, h: &[(&'static str, &str)]| {
            g.admit(&m, p, &headers(h))
                .err()
                .map(|e| e.code().to_owned())
        };
        assert_eq!(code(Method::POST, "/bridge/me", &good), None);
        let mut text = good;
        text[3] = ("content-type", "text/plain");
        assert_eq!(
            code(Method::POST, "/bridge/me", &text).as_deref(),
            Some("unsupported_media_type")
        );
        let mut other = good;
        other[1] = ("origin", "http://evil.example");
        assert_eq!(
            code(Method::POST, "/bridge/me", &other).as_deref(),
            Some("origin_not_allowed")
        );
        let mut null = good;
        null[1] = ("origin", "null");
        assert_eq!(
            code(Method::POST, "/bridge/me", &null).as_deref(),
            Some("origin_not_allowed")
        );
        assert_eq!(
            code(Method::POST, "/bridge/me", &good[..2]).as_deref(),
            Some("session_required")
        );
        let mut wrong = good;
        wrong[2] = (SESSION_HEADER, "secreT");
        assert_eq!(
            code(Method::POST, "/bridge/me", &wrong).as_deref(),
            Some("session_invalid")
        );
        let photo = [
            host,
            (SESSION_HEADER, "secret"),
            ("content-type", "image/jpeg"),
        ];
        assert_eq!(code(Method::POST, "/bridge/photos", &photo), None);
        assert_eq!(
            code(Method::POST, "/bridge/me", &photo).as_deref(),
            Some("unsupported_media_type")
        );
        assert_eq!(code(Method::GET, "/bridge/photos/ab/thumb", &[host]), None);
        assert_eq!(code(Method::GET, "/bridge/session", &[host]), None);
        assert_eq!(code(Method::GET, "/index.html", &[host]), None);
        assert_eq!(
            code(
                Method::GET,
                "/bridge/session",
                &[host, ("sec-fetch-site", "same-site")]
            )
            .as_deref(),
            Some("cross_site_request")
        );
        assert_eq!(
            code(Method::GET, "/", &[("host", "rebound.example:8787")]).as_deref(),
            Some("host_not_allowed")
        );
    }

    #[test]
    fn a_non_loopback_bind_needs_the_force_flag() {
        assert_eq!(check_bind("127.0.0.1:0".parse().unwrap(), false), Ok(None));
        assert_eq!(check_bind("[::1]:0".parse().unwrap(), false), Ok(None));
        assert!(check_bind("0.0.0.0:8787".parse().unwrap(), false).is_err());
        assert!(
            check_bind("0.0.0.0:8787".parse().unwrap(), true)
                .unwrap()
                .is_some_and(|w| w.starts_with("WARNING"))
        );
    }
}
