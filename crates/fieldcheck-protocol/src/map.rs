//! The city's maps for devices (issue 18, "Offline maps"): the online basemap the office
//! chose (`GET /api/v1/map`) and the offline package of the city's area, downloaded once per
//! version (`GET /api/v1/map/package`, an MBTiles file).

use serde::{Deserialize, Serialize};

/// An online tile source the office configured for the city.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OnlineMap {
    /// `tianditu`, `amap` or `osm`.
    pub source: String,
    /// Tianditu's key for the city (a browser key: it is sent to the phones' map by design).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// The offline package on offer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MapPackageOffer {
    /// Changes whenever the file does: a device downloads when it differs from its own.
    pub version: String,
    pub bytes: u64,
    pub name: String,
    pub minzoom: u8,
    pub maxzoom: u8,
    /// WGS-84 `[west, south, east, north]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bounds: Option<[f64; 4]>,
}

/// `GET /api/v1/map`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CityMap {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online: Option<OnlineMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<MapPackageOffer>,
}

/// The online sources a city may choose.
pub const ONLINE_SOURCES: &[&str] = &["tianditu", "amap", "osm"];
