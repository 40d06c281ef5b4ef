//! Photos on the device: ingest (decode with limits, orient, strip, resize, hash) through
//! `fieldcheck-photo`, content-addressed files under the device data directory, and a row
//! per photo. Linking a photo to a record happens in the transaction of the event that
//! carries it.

use std::path::{Path, PathBuf};

use fieldcheck_photo::{ExifInfo, Ingested, Limits, PhotoFiles, ingest};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::store::Store;

/// A photo stored on this device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PhotoInfo {
    /// SHA-256 of the display copy: the id used in events.
    pub hash: String,
    /// SHA-256 of the bytes the camera produced.
    pub captured_sha256: String,
    pub width: u32,
    pub height: u32,
    pub display_bytes: u64,
    /// WGS-84 position from the photo's EXIF, if it had one.
    pub exif_lat: Option<f64>,
    pub exif_lon: Option<f64>,
    pub taken_at: Option<String>,
    /// False when the same photo was already on the device.
    pub new: bool,
}

impl Store {
    /// Where photo files live: `photos/` beside the database file.
    pub fn photo_dir(&self) -> PathBuf {
        crate::store::beside(self.path(), "photos")
    }

    fn photo_files(&self) -> PhotoFiles {
        PhotoFiles::new(self.photo_dir())
    }

    pub fn display_path(&self, hash: &str) -> Result<PathBuf> {
        Ok(self.photo_files().display_path(hash)?)
    }

    pub fn thumb_path(&self, hash: &str) -> Result<PathBuf> {
        Ok(self.photo_files().thumb_path(hash)?)
    }

    /// Ingests a photo file (see [`Store::add_photo_bytes`]).
    pub fn add_photo_file(&mut self, path: &Path) -> Result<PhotoInfo> {
        let limits = Limits::default();
        let len = std::fs::metadata(path)
            .map_err(|e| CoreError::Invalid(format!("cannot read photo {}: {e}", path.display())))?
            .len();
        // Refuse before reading a huge file into memory.
        if len > limits.max_bytes {
            return Err(fieldcheck_photo::PhotoError::TooLarge {
                bytes: len,
                max: limits.max_bytes,
            }
            .into());
        }
        let bytes = std::fs::read(path).map_err(|e| {
            CoreError::Invalid(format!("cannot read photo {}: {e}", path.display()))
        })?;
        self.add_photo_bytes(&bytes)
    }

    /// Ingests captured bytes: a photo already on the device (same captured bytes) is found
    /// by hash without decoding again; otherwise the display copy and thumbnail are written
    /// (atomically, content-addressed) and recorded.
    pub fn add_photo_bytes(&mut self, bytes: &[u8]) -> Result<PhotoInfo> {
        let captured = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes));
        if let Some(mut existing) = self.photo_by_captured(&captured)?
            && self.photo_files().exists(&existing.hash)
        {
            existing.new = false;
            return Ok(existing);
        }
        let ing: Ingested = ingest(bytes, &Limits::default())?;
        let stored = self.photo_files().put(&ing)?;
        let info = info_of(&ing);
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO photos (hash, captured_sha256, width, height, display_bytes,
                     exif_lat, exif_lon, taken_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                info.hash,
                info.captured_sha256,
                info.width,
                info.height,
                info.display_bytes as i64,
                info.exif_lat,
                info.exif_lon,
                info.taken_at,
                self.now().timestamp_millis(),
            ])?;
        Ok(PhotoInfo {
            new: stored.newly_written,
            ..info
        })
    }

    pub fn photo(&self, hash: &str) -> Result<PhotoInfo> {
        self.conn
            .prepare_cached(&format!("{SELECT_PHOTO} WHERE hash = ?1"))?
            .query_row([hash], row_to_info)
            .optional()?
            .ok_or_else(|| CoreError::not_found("photo", hash))
    }

    fn photo_by_captured(&self, captured: &str) -> Result<Option<PhotoInfo>> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "{SELECT_PHOTO} WHERE captured_sha256 = ?1 LIMIT 1"
            ))?
            .query_row([captured], row_to_info)
            .optional()?)
    }

    /// Photos that records on this device refer to but whose files are not here (yet).
    pub fn missing_photos(&self) -> Result<Vec<String>> {
        let mut st = self.conn.prepare_cached(
            "SELECT DISTINCT l.photo_hash FROM photo_links l
             LEFT JOIN photos p ON p.hash = l.photo_hash WHERE p.hash IS NULL ORDER BY 1",
        )?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

const SELECT_PHOTO: &str = "SELECT hash, captured_sha256, width, height, display_bytes,
    exif_lat, exif_lon, taken_at FROM photos";

fn row_to_info(r: &rusqlite::Row<'_>) -> rusqlite::Result<PhotoInfo> {
    Ok(PhotoInfo {
        hash: r.get(0)?,
        captured_sha256: r.get(1)?,
        width: r.get(2)?,
        height: r.get(3)?,
        display_bytes: r.get::<_, i64>(4)? as u64,
        exif_lat: r.get(5)?,
        exif_lon: r.get(6)?,
        taken_at: r.get(7)?,
        new: false,
    })
}

fn info_of(i: &Ingested) -> PhotoInfo {
    let ExifInfo { gps, taken_at, .. } = &i.exif;
    PhotoInfo {
        hash: i.display_sha256.clone(),
        captured_sha256: i.captured_sha256.clone(),
        width: i.width,
        height: i.height,
        display_bytes: i.display.len() as u64,
        exif_lat: gps.as_ref().map(|g| g.lat),
        exif_lon: gps.as_ref().map(|g| g.lon),
        taken_at: taken_at.clone(),
        new: true,
    }
}
