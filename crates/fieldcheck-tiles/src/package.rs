use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension};
use serde::Serialize;

use crate::{TileFormat, TilesError};

/// Deepest zoom a package may hold tiles for when reading: `2^30` rows still fit the x and y
/// the map asks with.
const MAX_READ_ZOOM: u8 = 30;

const TILE_QUERY: &str =
    "SELECT tile_data FROM tiles WHERE zoom_level = ?1 AND tile_column = ?2 AND tile_row = ?3";

/// What a map package says about itself (its `metadata` table), for the map view and the
/// package list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metadata {
    /// Falls back to the file name when the package has no `name` row.
    pub name: String,
    pub format: TileFormat,
    /// `[min_lon, min_lat, max_lon, max_lat]`, WGS-84.
    pub bounds: Option<[f64; 4]>,
    /// `[lon, lat, zoom]`: where the map opens.
    pub center: Option<[f64; 3]>,
    /// From the `tiles` table when the package does not say.
    pub minzoom: u8,
    pub maxzoom: u8,
    pub attribution: Option<String>,
    pub description: Option<String>,
    /// `overlay` or `baselayer`.
    #[serde(rename = "type")]
    pub layer_type: Option<String>,
    pub version: Option<String>,
}

/// An open map package, read-only.
///
/// Holds one SQLite connection with the tile query prepared and cached, so `tile` is one
/// index lookup. It is `Send` but not `Sync`: share it behind a `Mutex`.
pub struct MbTiles {
    conn: Connection,
    metadata: Metadata,
}

impl std::fmt::Debug for MbTiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MbTiles")
            .field("path", &self.conn.path())
            .field("metadata", &self.metadata)
            .finish()
    }
}

impl MbTiles {
    /// Opens and validates a package: an SQLite database with a `metadata` table and a `tiles`
    /// table (or view) of `zoom_level, tile_column, tile_row, tile_data`, a known format and at
    /// least one tile.
    pub fn open(path: impl AsRef<Path>) -> Result<MbTiles, TilesError> {
        let path = path.as_ref();
        // SQLite would report a missing file as "unable to open database file"; say it plainly.
        std::fs::metadata(path).map_err(TilesError::io("open", path))?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| not_mbtiles_or(path, e))?;
        check_schema(&conn, path)?;
        let metadata = read_metadata(&conn, path)?;
        Ok(MbTiles { conn, metadata })
    }

    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    pub fn format(&self) -> TileFormat {
        self.metadata.format
    }

    /// The HTTP `Content-Type` of this package's tiles.
    pub fn content_type(&self) -> &'static str {
        self.metadata.format.content_type()
    }

    /// The tile at XYZ `z/x/y` (rows counted from the north, as Leaflet asks), or `None` when
    /// the package does not cover it. MBTiles stores rows from the south (TMS); the flip is
    /// done here.
    pub fn tile(&self, z: u8, x: u32, y: u32) -> Result<Option<Vec<u8>>, TilesError> {
        if z > MAX_READ_ZOOM || u64::from(x) >> z != 0 || u64::from(y) >> z != 0 {
            return Err(TilesError::OutOfRange {
                z,
                x,
                y,
                max_zoom: MAX_READ_ZOOM,
            });
        }
        let tms_row = (1u32 << z) - 1 - y;
        let mut stmt = self.conn.prepare_cached(TILE_QUERY)?;
        Ok(stmt
            .query_row((z, x, tms_row), |row| row.get(0))
            .optional()?)
    }
}

/// Installs the package at `src` as `dest` (an inspector's import from a USB stick or a
/// download): the copy is validated like [`MbTiles::open`] and only then renamed over `dest`,
/// so a bad or interrupted import leaves the previous package in place.
///
/// Close any [`MbTiles`] open on `dest` first where the platform refuses to replace an open
/// file (Windows).
pub fn import(src: &Path, dest: &Path) -> Result<Metadata, TilesError> {
    let tmp = temp_next_to(dest, ".import")?;
    let mut from = File::open(src).map_err(TilesError::io("open", src))?;
    let mut to = File::create(&tmp).map_err(TilesError::io("write", &*tmp))?;
    std::io::copy(&mut from, &mut to).map_err(TilesError::io("copy", src))?;
    to.sync_all().map_err(TilesError::io("write", &*tmp))?;
    drop(to);

    // Validate what was copied, not the source: the source may be on a flaky medium. Errors
    // name the source, which is what the inspector picked.
    let metadata = MbTiles::open(&tmp)
        .map_err(|e| rename_path(e, src))?
        .metadata;
    tmp.persist(dest)
        .map_err(|e| TilesError::io("replace", dest)(e.error))?;
    Ok(metadata)
}

fn rename_path(err: TilesError, src: &Path) -> TilesError {
    match err {
        TilesError::NotMbTiles { reason, .. } => TilesError::NotMbTiles {
            path: src.to_owned(),
            reason,
        },
        TilesError::Empty { .. } => TilesError::Empty {
            path: src.to_owned(),
        },
        other => other,
    }
}

fn not_mbtiles_or(path: &Path, err: rusqlite::Error) -> TilesError {
    match err.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => TilesError::NotMbTiles {
            path: path.to_owned(),
            reason: "not an SQLite database".to_owned(),
        },
        _ => TilesError::Sqlite(err),
    }
}

fn check_schema(conn: &Connection, path: &Path) -> Result<(), TilesError> {
    let not_mbtiles = |reason: String| TilesError::NotMbTiles {
        path: path.to_owned(),
        reason,
    };
    // The first read of a file that is not SQLite fails here, with SQLITE_NOTADB.
    let columns = |table: &str| -> Result<Option<Vec<String>>, TilesError> {
        let kind: Option<String> = conn
            .query_row(
                "SELECT type FROM sqlite_master WHERE name = ?1 AND type IN ('table', 'view')",
                [table],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| not_mbtiles_or(path, e))?;
        if kind.is_none() {
            return Ok(None);
        }
        let mut stmt = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
        let names = stmt
            .query_map([table], |row| row.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(names))
    };
    let require = |table: &str, wanted: &[&str]| -> Result<(), TilesError> {
        let Some(have) = columns(table)? else {
            return Err(not_mbtiles(format!("no `{table}` table")));
        };
        let missing: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|w| !have.iter().any(|h| h.eq_ignore_ascii_case(w)))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(not_mbtiles(format!(
                "the `{table}` table lacks column(s) {}",
                missing.join(", ")
            )))
        }
    };
    require("metadata", &["name", "value"])?;
    require(
        "tiles",
        &["zoom_level", "tile_column", "tile_row", "tile_data"],
    )
}

fn read_metadata(conn: &Connection, path: &Path) -> Result<Metadata, TilesError> {
    let mut rows: HashMap<String, String> = HashMap::new();
    {
        let mut stmt = conn.prepare("SELECT name, value FROM metadata")?;
        let mut q = stmt.query([])?;
        while let Some(row) = q.next()? {
            // Some tools store zooms as integers; NULLs and blobs are of no use to the map.
            if let (Some(k), Some(v)) = (as_text(row.get_ref(0)?), as_text(row.get_ref(1)?)) {
                rows.insert(k, v);
            }
        }
    }
    let text = |key: &str| {
        rows.get(key)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };

    let (min_z, max_z): (Option<i64>, Option<i64>) = conn.query_row(
        "SELECT MIN(zoom_level), MAX(zoom_level) FROM tiles",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    let (Some(min_z), Some(max_z)) = (min_z, max_z) else {
        return Err(TilesError::Empty {
            path: path.to_owned(),
        });
    };

    let format = match text("format") {
        Some(f) => f.parse()?,
        // MBTiles 1.3 requires the row, but older packages omit it: the tiles tell.
        None => {
            let first: Option<Vec<u8>> =
                conn.query_row("SELECT tile_data FROM tiles LIMIT 1", [], |row| row.get(0))?;
            TileFormat::sniff(first.as_deref().unwrap_or_default()).ok_or_else(|| {
                TilesError::BadFormat("(no format row; tiles are not PNG, JPEG or WebP)".into())
            })?
        }
    };
    let zoom = |key: &str, fallback: i64| {
        text(key)
            .and_then(|v| v.parse::<u8>().ok())
            .unwrap_or_else(|| fallback.clamp(0, i64::from(MAX_READ_ZOOM)) as u8)
    };

    Ok(Metadata {
        name: text("name").unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        }),
        format,
        bounds: text("bounds").and_then(|v| parse_floats::<4>(&v)),
        center: text("center").and_then(|v| parse_floats::<3>(&v)),
        minzoom: zoom("minzoom", min_z),
        maxzoom: zoom("maxzoom", max_z),
        attribution: text("attribution"),
        description: text("description"),
        layer_type: text("type"),
        version: text("version"),
    })
}

fn as_text(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Null | ValueRef::Blob(_) => None,
    }
}

fn parse_floats<const N: usize>(v: &str) -> Option<[f64; N]> {
    let parts: Vec<f64> = v
        .split(',')
        .map(|p| p.trim().parse::<f64>().ok().filter(|f| f.is_finite()))
        .collect::<Option<_>>()?;
    parts.try_into().ok()
}

/// Where a package lives while it is being written: next to its final place, so the last
/// step is a rename on the same file system.
pub(crate) fn temp_next_to(dest: &Path, suffix: &str) -> Result<tempfile::TempPath, TilesError> {
    let dir: PathBuf = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let file_name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "package".to_owned());
    tempfile::Builder::new()
        .prefix(&format!(".{file_name}."))
        .suffix(suffix)
        .tempfile_in(&dir)
        .map(|f| f.into_temp_path())
        .map_err(TilesError::io("create a temporary file in", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bounds_and_center() {
        assert_eq!(
            parse_floats::<4>("119.28, 26.06,119.32,26.1"),
            Some([119.28, 26.06, 119.32, 26.1])
        );
        assert_eq!(parse_floats::<3>("1,2"), None);
        assert_eq!(parse_floats::<3>("1,2,x"), None);
    }
}
