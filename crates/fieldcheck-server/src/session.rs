//! The console's sign-in session, the parts that need no I/O: the cookie (name, attributes,
//! reading it back), the per-session CSRF token and its constant-time check, and the
//! same-origin rule for state-changing requests. The extractor that ties them to the store is
//! `api/console.rs`.
//!
//! A session id is 256 random bits, held by the browser in an `HttpOnly`, `SameSite=Strict`
//! cookie and by the server only as its SHA-256 (`console_sessions.id_hash`). The CSRF token is
//! derived from the id (a keyed hash under a fixed label), so it is per session, needs no
//! storage, and cannot be computed from a stolen database (which holds only the id's hash).

use axum::http::HeaderMap;
use axum::http::header;
use sha2::{Digest, Sha256};

use crate::error::ServerError;

/// The cookie holding the console session id.
pub const COOKIE_NAME: &str = "fieldcheck_console";

/// The header a state-changing console request carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The CSRF token of the session whose id is `session_id` (64 hex characters).
pub fn csrf_token(session_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"fieldcheck console csrf v1\0");
    h.update(session_id.as_bytes());
    hex::encode(h.finalize())
}

/// Equal strings, compared in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `Set-Cookie` for a new session. No `Max-Age`: the cookie lives as long as the browser
/// session; the server decides expiry (idle and absolute) and answers `session_expired`.
pub fn set_cookie(session_id: &str, secure: bool) -> String {
    format!(
        "{COOKIE_NAME}={session_id}; Path=/; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

/// `Set-Cookie` that makes the browser forget the session cookie (sign-out).
pub fn clear_cookie(secure: bool) -> String {
    format!(
        "{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The session id in the request's `Cookie` headers, if it looks like one (64 hex characters;
/// anything else is not worth a database lookup).
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie_id(headers, COOKIE_NAME)
}

/// The value of the cookie `name` if it looks like a session id (64 hex characters).
pub fn cookie_id(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The request's CSRF token is the session's.
pub fn check_csrf(headers: &HeaderMap, session_id: &str) -> Result<(), ServerError> {
    let Some(got) = headers.get(CSRF_HEADER) else {
        return Err(ServerError::CsrfRejected(
            "missing X-CSRF-Token header: send the csrf_token your session answered \
             (GET /api/v1/console/session, or /api/v1/volunteer/me on the report page)"
                .to_owned(),
        ));
    };
    if constant_time_eq(got.as_bytes(), csrf_token(session_id).as_bytes()) {
        Ok(())
    } else {
        Err(ServerError::CsrfRejected(
            "wrong X-CSRF-Token for this session: send the csrf_token your session answered \
             (GET /api/v1/console/session, or /api/v1/volunteer/me on the report page)"
                .to_owned(),
        ))
    }
}

/// A state-changing request must come from the console's own pages: a browser says where a
/// request comes from in `Sec-Fetch-Site` and `Origin`, and both must say "this site". The
/// site is `public_url` when it is set, else the request's own `Host` (a cross-site request
/// from a browser carries the victim server's Host but the attacker's Origin). Requests with
/// neither header (not from a browser) pass; they still need the CSRF token.
pub fn check_same_origin(headers: &HeaderMap, public_url: &str) -> Result<(), ServerError> {
    let refuse = |why: String| {
        Err(ServerError::CsrfRejected(format!(
            "cross-site request refused: {why}"
        )))
    };
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or("?");
        if !matches!(site, "same-origin" | "none") {
            return refuse(format!("Sec-Fetch-Site is {site:?}"));
        }
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("null").trim();
    let own = origin_of(public_url).or_else(|| {
        headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|h| h.to_ascii_lowercase())
    });
    let origin_lc = origin.to_ascii_lowercase();
    let matches = match (&own, public_url.trim().is_empty()) {
        // Configured: the whole origin (scheme, host, port) must match.
        (Some(own), false) => origin_lc == *own,
        // From Host: the origin's authority must be the Host the request was sent to.
        (Some(host), true) => origin_lc
            .split_once("://")
            .is_some_and(|(_, authority)| authority == host),
        (None, _) => false,
    };
    if matches {
        Ok(())
    } else {
        refuse(format!("Origin {origin:?} is not this server"))
    }
}

/// `scheme://host[:port]` of a URL, lower-cased; `None` for an empty or schemeless one.
fn origin_of(url: &str) -> Option<String> {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() {
        return None;
    }
    Some(format!("{scheme}://{authority}").to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn csrf_tokens_are_per_session_and_compared_exactly() {
        let a = crate::auth::new_token();
        let b = crate::auth::new_token();
        assert_ne!(csrf_token(&a), csrf_token(&b));
        assert_ne!(
            csrf_token(&a),
            crate::auth::hash_secret(&a),
            "not the stored hash"
        );
        let ok = headers(&[("x-csrf-token", &csrf_token(&a))]);
        assert!(check_csrf(&ok, &a).is_ok());
        assert!(check_csrf(&ok, &b).is_err());
        assert!(check_csrf(&HeaderMap::new(), &a).is_err());
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn the_cookie_is_read_back_among_others() {
        let id = crate::auth::new_token();
        let h = headers(&[("cookie", &format!("a=1; {COOKIE_NAME}={id}; b=2"))]);
        assert_eq!(session_cookie(&h), Some(id.clone()));
        let h = headers(&[("cookie", "fieldcheck_console=short")]);
        assert_eq!(session_cookie(&h), None);
        assert!(set_cookie(&id, true).ends_with("; Secure"));
        assert!(!set_cookie(&id, false).contains("Secure"));
    }

    #[test]
    fn cross_site_requests_are_refused() {
        let host = ("host", "127.0.0.1:8080");
        assert!(check_same_origin(&headers(&[host]), "").is_ok());
        assert!(
            check_same_origin(&headers(&[host, ("origin", "http://127.0.0.1:8080")]), "").is_ok()
        );
        assert!(
            check_same_origin(&headers(&[host, ("origin", "http://evil.example")]), "").is_err()
        );
        assert!(check_same_origin(&headers(&[host, ("origin", "null")]), "").is_err());
        assert!(
            check_same_origin(&headers(&[host, ("sec-fetch-site", "cross-site")]), "").is_err()
        );
        assert!(check_same_origin(&headers(&[host, ("sec-fetch-site", "same-site")]), "").is_err());
        assert!(
            check_same_origin(&headers(&[host, ("sec-fetch-site", "same-origin")]), "").is_ok()
        );
        let public = "https://fc.example.gov.cn/";
        let h = headers(&[
            ("host", "10.0.0.5:8080"),
            ("origin", "https://fc.example.gov.cn"),
        ]);
        assert!(check_same_origin(&h, public).is_ok());
        let h = headers(&[
            ("host", "fc.example.gov.cn"),
            ("origin", "http://fc.example.gov.cn"),
        ]);
        assert!(check_same_origin(&h, public).is_err(), "scheme matters");
    }
}
