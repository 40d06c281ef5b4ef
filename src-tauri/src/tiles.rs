//! The `tiles` URI scheme: the offline map package's tiles for Leaflet, at
//! `tiles://localhost/{z}/{x}/{y}` (Linux, macOS, iOS) or `http://tiles.localhost/{z}/{x}/{y}`
//! (Windows, Android), served by the bridge's `/bridge/tiles/{z}/{x}/{y}`; 404 where the
//! package has no tile (the map's grid shows there).

use axum::http::Response;

use crate::core::Core;
use crate::photo::to_response;

/// `z/x/y` from a request path.
pub fn parse_path(path: &str) -> Option<(u8, u32, u32)> {
    let mut parts = path.trim_matches('/').split('/');
    let z = parts.next()?.parse().ok()?;
    let x = parts.next()?.parse().ok()?;
    let y = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((z, x, y))
}

pub async fn respond(core: &Core, path: &str) -> Response<Vec<u8>> {
    to_response(core.tile(parse_path(path)).await)
}

#[cfg(test)]
mod tests {
    use super::parse_path;

    #[test]
    fn paths() {
        assert_eq!(parse_path("/12/3405/1714"), Some((12, 3405, 1714)));
        assert_eq!(parse_path("12/3405/1714/"), Some((12, 3405, 1714)));
        assert_eq!(parse_path("/12/3405"), None);
        assert_eq!(parse_path("/12/3405/1714/9"), None);
        assert_eq!(parse_path("/300/1/1"), None, "zoom is a u8");
        assert_eq!(parse_path("/a/b/c"), None);
    }
}
