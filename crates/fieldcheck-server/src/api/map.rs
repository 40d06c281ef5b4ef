//! The city's maps for the devices (issue 18, "Offline maps"): which online basemap the office
//! chose (`map_source`, Tianditu with the city's key) and the offline MBTiles package of the
//! city's area (`map_package`), which a device downloads once per version at its sync.

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use fieldcheck_protocol::ApiError;
use fieldcheck_protocol::map::{CityMap, MapPackageOffer, OnlineMap};
use utoipa::OpenApi;

use super::{AppState, Caller, St};
use crate::config::Config;
use crate::error::ServerError;

#[derive(OpenApi)]
#[openapi(
    paths(city_map, package),
    components(schemas(CityMap, OnlineMap, MapPackageOffer))
)]
pub(super) struct Api;

/// The devices' routes (bearer token), under `/api/v1`.
pub(super) fn device_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/map", get(city_map))
        .route("/map/package", get(package))
}

fn internal(message: String) -> ServerError {
    ServerError::Io(std::io::Error::other(message))
}

/// The online source devices are told to use.
pub(super) fn online(config: &Config) -> Option<OnlineMap> {
    let key = Some(config.tianditu_key.trim().to_owned()).filter(|k| !k.is_empty());
    let source = match config.map_source.trim() {
        "" if key.is_some() => "tianditu",
        "" => return None,
        s => s,
    };
    Some(OnlineMap {
        source: source.to_owned(),
        key: if source == "tianditu" { key } else { None },
    })
}

/// The package's version: its size and modification time, which any replacement changes.
fn version(path: &Path) -> std::io::Result<(String, u64)> {
    let m = std::fs::metadata(path)?;
    let modified = m
        .modified()?
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    Ok((format!("{}-{modified:x}", m.len()), m.len()))
}

fn offer(path: &Path) -> Result<Option<MapPackageOffer>, ServerError> {
    if path.as_os_str().is_empty() {
        return Ok(None);
    }
    let (version, bytes) = version(path)?;
    let meta = fieldcheck_tiles::MbTiles::open(path)
        .map_err(|e| internal(format!("map package: {e}")))?
        .metadata()
        .clone();
    Ok(Some(MapPackageOffer {
        version,
        bytes,
        name: meta.name,
        minzoom: meta.minzoom,
        maxzoom: meta.maxzoom,
        bounds: meta.bounds,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/map",
    tag = "sync",
    responses(
        (status = 200, description = "The city's online basemap (none when the office set none) and the offline package on offer (none without one)", body = CityMap),
        (status = 401, description = "Missing, unknown, expired or revoked token", body = ApiError),
    ),
    security(("bearer" = []))
)]
pub(super) async fn city_map(
    State(state): St,
    _caller: Caller,
) -> Result<Json<CityMap>, ServerError> {
    let path = state.config.map_package.clone();
    let package = tokio::task::spawn_blocking(move || offer(&path))
        .await
        .map_err(|e| internal(e.to_string()))??;
    Ok(Json(CityMap {
        online: online(&state.config),
        package,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/map/package",
    tag = "sync",
    params(("If-None-Match" = Option<String>, Header, description = "The version the device has: 304 when it is current")),
    responses(
        (status = 200, description = "The MBTiles file, its version in `ETag`", content_type = "application/vnd.sqlite3", body = Vec<u8>),
        (status = 304, description = "The device has this version"),
        (status = 401, description = "Missing, unknown, expired or revoked token", body = ApiError),
        (status = 404, description = "The city has no offline map package (`not_found`)", body = ApiError),
    ),
    security(("bearer" = []))
)]
pub(super) async fn package(
    State(state): St,
    _caller: Caller,
    headers: HeaderMap,
) -> Result<Response, ServerError> {
    let path = state.config.map_package.clone();
    if path.as_os_str().is_empty() {
        return Err(ServerError::NotFound("offline map package".into()));
    }
    let (version, bytes) = version(&path)?;
    let etag = format!("\"{version}\"");
    let current = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let etag = HeaderValue::from_str(&etag).map_err(|e| internal(e.to_string()))?;
    if current {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    let file = tokio::fs::File::open(&path).await?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/vnd.sqlite3"),
            ),
            (header::CONTENT_LENGTH, HeaderValue::from(bytes)),
            (header::ETAG, etag),
        ],
        body,
    )
        .into_response())
}
