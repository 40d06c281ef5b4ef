//! The device's offline map (issue 18): one MBTiles package next to the database, imported
//! from a file the person picks or downloaded from the server during sync, read tile by tile
//! by the map (the bridge's `/bridge/tiles/{z}/{x}/{y}`, the app's `tiles://` scheme).
//!
//! Shared by the store's users through an `Arc` of its own, not the store's lock: the map asks
//! for dozens of tiles at once and must not wait behind a sync's database work.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use fieldcheck_tiles::{MbTiles, Metadata, TilesError};
use serde::{Deserialize, Serialize};

use crate::{CoreError, Result};

/// The package's file, beside the device database.
pub const MAP_FILE: &str = "map.mbtiles";

/// The offline map package as the screens describe it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MapPackage {
    pub name: String,
    /// `png`, `jpg`, `webp` or `pbf`.
    pub format: String,
    pub minzoom: u8,
    pub maxzoom: u8,
    /// WGS-84 `[west, south, east, north]`.
    pub bounds: Option<[f64; 4]>,
    pub attribution: Option<String>,
    /// The file's size.
    pub bytes: u64,
}

impl MapPackage {
    fn new(m: &Metadata, bytes: u64) -> MapPackage {
        MapPackage {
            name: m.name.clone(),
            format: m.format.as_str().to_owned(),
            minzoom: m.minzoom,
            maxzoom: m.maxzoom,
            bounds: m.bounds,
            attribution: m.attribution.clone(),
            bytes,
        }
    }
}

/// One tile and its media type.
pub struct Tile {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
}

/// The package file and, once a tile was asked for, its open connection.
pub struct OfflineMap {
    path: PathBuf,
    open: Mutex<Option<MbTiles>>,
}

impl From<TilesError> for CoreError {
    fn from(e: TilesError) -> Self {
        match e {
            TilesError::Io { source, .. } => CoreError::Io(source),
            TilesError::OutOfRange { .. } => CoreError::Invalid(e.to_string()),
            other => CoreError::Map {
                code: other.code(),
                message: other.to_string(),
            },
        }
    }
}

impl OfflineMap {
    /// The package at `path` (which need not exist yet).
    pub fn new(path: impl Into<PathBuf>) -> OfflineMap {
        OfflineMap {
            path: path.into(),
            open: Mutex::new(None),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<MbTiles>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens the package on first use; `None` when there is none.
    fn with_open<T>(&self, f: impl FnOnce(&MbTiles) -> Result<T>) -> Result<Option<T>> {
        let mut open = self.lock();
        if open.is_none() {
            if !self.path.exists() {
                return Ok(None);
            }
            *open = Some(MbTiles::open(&self.path)?);
        }
        match open.as_ref() {
            Some(m) => f(m).map(Some),
            None => Ok(None),
        }
    }

    /// What the package is, or `None` without one.
    pub fn info(&self) -> Result<Option<MapPackage>> {
        let bytes = match std::fs::metadata(&self.path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        self.with_open(|m| Ok(MapPackage::new(m.metadata(), bytes)))
    }

    /// Tile `z/x/y` (XYZ, as Leaflet numbers them); `None` when the package has no such tile
    /// or there is no package.
    pub fn tile(&self, z: u8, x: u32, y: u32) -> Result<Option<Tile>> {
        Ok(self
            .with_open(|m| {
                Ok(m.tile(z, x, y)?.map(|bytes| Tile {
                    bytes,
                    content_type: m.content_type(),
                }))
            })?
            .flatten())
    }

    /// Makes the MBTiles file at `src` the package. It is checked first; a file that is not
    /// a usable package is refused and the previous package keeps working.
    pub fn import(&self, src: &Path) -> Result<MapPackage> {
        let mut open = self.lock();
        // The old connection goes before the file under it is replaced.
        *open = None;
        let meta = fieldcheck_tiles::import(src, &self.path)?;
        let bytes = std::fs::metadata(&self.path)?.len();
        Ok(MapPackage::new(&meta, bytes))
    }

    /// Removes the package (the map falls back to the online source or the grid).
    pub fn remove(&self) -> Result<()> {
        let mut open = self.lock();
        *open = None;
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// What the map screens need: the office's online basemap and the package on this device.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MapInfo {
    /// From the server at the last sync (`None`: the office set none, or never synced).
    pub online: Option<fieldcheck_protocol::map::OnlineMap>,
    pub package: Option<MapPackage>,
}

const ONLINE_KEY: &str = "map_online";
const PACKAGE_VERSION_KEY: &str = "map_package_version";

impl crate::Store {
    /// The office's online basemap as the last sync brought it.
    pub fn online_map(&self) -> Result<Option<fieldcheck_protocol::map::OnlineMap>> {
        Ok(crate::store::meta_get(self.connection(), ONLINE_KEY)?
            .and_then(|v| serde_json::from_str(&v).ok()))
    }

    pub fn set_online_map(
        &self,
        online: Option<&fieldcheck_protocol::map::OnlineMap>,
    ) -> Result<()> {
        let json = serde_json::to_string(&online)
            .map_err(|e| CoreError::Corrupt(format!("online map: {e}")))?;
        crate::store::meta_set(self.connection(), ONLINE_KEY, &json)
    }

    /// The server's version of the package this device downloaded last (`None`: none yet).
    pub fn map_package_version(&self) -> Result<Option<String>> {
        crate::store::meta_get(self.connection(), PACKAGE_VERSION_KEY)
    }

    pub fn set_map_package_version(&self, version: &str) -> Result<()> {
        crate::store::meta_set(self.connection(), PACKAGE_VERSION_KEY, version)
    }

    pub fn map_info(&self) -> Result<MapInfo> {
        Ok(MapInfo {
            online: self.online_map()?,
            package: self.offline_map.info()?,
        })
    }
}
