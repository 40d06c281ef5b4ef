//! Photos on the device: ingest (decode with limits, orient, strip, resize, hash) through
//! `fieldcheck-photo`, content-addressed files under the device data directory, and a row
//! per photo. Linking a photo to a record happens in the transaction of the event that
//! carries it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use fieldcheck_domain::reference::LatLon;
use fieldcheck_domain::stamp::{StampFacts, stamp_lines};
use fieldcheck_domain::{Actor, PhotoRef, PhotoStamp};
use fieldcheck_photo::{ExifInfo, Ingested, Limits, PhotoFiles, StampFont, ingest};
use rusqlite::{Connection, OptionalExtension, params};
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

    /// What stamps photos attached by this store's next write: its photo files and the
    /// platform's fonts (or the font set with [`Store::set_stamp_font`]).
    pub(crate) fn stamper(&self) -> Stamper {
        Stamper {
            files: self.photo_files(),
            font: self
                .stamp_font
                .clone()
                .unwrap_or_else(|| platform_font().clone()),
        }
    }

    /// Stamps with the font in `path` (face `index` of a collection) instead of the
    /// platform's; the platform's Latin fonts still print what it lacks. For a device whose
    /// CJK font lives elsewhere, and for tests.
    pub fn set_stamp_font(&mut self, path: &Path, index: u32) {
        let candidates = std::iter::once((path.to_path_buf(), index)).chain(
            fieldcheck_photo::PLATFORM_LATIN_FONTS
                .iter()
                .map(|(p, i)| (PathBuf::from(p), *i)),
        );
        self.stamp_font = Some(Arc::new(StampFont::load(candidates)));
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

/// The platform's stamp fonts, read once per process (a CJK collection is ~20 MB).
fn platform_font() -> &'static Arc<StampFont> {
    static FONT: OnceLock<Arc<StampFont>> = OnceLock::new();
    FONT.get_or_init(|| {
        let font = StampFont::platform();
        if font.is_empty() {
            tracing::warn!("no font found for photo stamps: photos are stored without a stamp");
        } else if !font.has_cjk() {
            tracing::warn!(sources = ?font.sources(), "no CJK font for photo stamps: only digits and Latin letters print");
        }
        Arc::new(font)
    })
}

/// Draws evidence stamps for one write (see [`stamp_photos`]).
pub(crate) struct Stamper {
    files: PhotoFiles,
    font: Arc<StampFont>,
}

/// Where and by whom a photo is attached: the facts of its stamp beside the photo's own time.
pub(crate) struct StampPlace<'a> {
    pub point_id: Option<&'a str>,
    pub address: &'a str,
    pub location: Option<LatLon>,
    pub problem_code: Option<&'a str>,
}

/// Makes the stamped display copy of each photo of an event about to be written, if the
/// city stamps photos, and says which copy carries which photo's stamp (the event's
/// `stamps`). The photo itself — its file, its hash, its place in the event — is not
/// touched. A photo that cannot be stamped (its file is missing, no font) is simply left
/// without a stamp: stamping never stops a record from being written.
pub(crate) fn stamp_photos(
    tx: &Connection,
    stamper: &Stamper,
    now: DateTime<Utc>,
    photos: &[PhotoRef],
    actor: &Actor,
    place: &StampPlace<'_>,
) -> Result<Vec<PhotoStamp>> {
    if photos.is_empty() {
        return Ok(Vec::new());
    }
    let calendar = crate::reference::calendar(tx)?;
    if !calendar.photo_stamp || stamper.font.is_empty() {
        return Ok(Vec::new());
    }
    let inspector = crate::reference::user(tx, &actor.user_id)?
        .map(|u| u.name)
        .unwrap_or_else(|| actor.user_id.clone());
    let point_name = match place.point_id {
        Some(id) => crate::reference::point(tx, id)?.map(|p| p.name),
        None => None,
    };
    let mut stamps = Vec::new();
    for p in photos {
        if stamps.iter().any(|s: &PhotoStamp| s.photo == p.hash) {
            continue;
        }
        // When the photo came into the device: a watermark camera's "time taken".
        let taken_ms: Option<i64> = tx
            .prepare_cached("SELECT created_at FROM photos WHERE hash = ?1")?
            .query_row([&p.hash], |r| r.get(0))
            .optional()?;
        let taken_at = taken_ms
            .and_then(DateTime::<Utc>::from_timestamp_millis)
            .unwrap_or(now);
        let lines = stamp_lines(
            &StampFacts {
                taken_at,
                point_name: point_name.as_deref(),
                address: place.address,
                location: place.location,
                inspector: &inspector,
                problem_code: place.problem_code,
            },
            &calendar,
        );
        let stamped = (|| -> std::result::Result<Ingested, String> {
            let path = stamper
                .files
                .display_path(&p.hash)
                .map_err(|e| e.to_string())?;
            let bytes =
                std::fs::read(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
            let ing = fieldcheck_photo::stamp(&bytes, &lines, &stamper.font, &Limits::default())
                .map_err(|e| e.to_string())?;
            stamper.files.put(&ing).map_err(|e| e.to_string())?;
            Ok(ing)
        })();
        let ing = match stamped {
            Ok(ing) => ing,
            Err(e) => {
                tracing::warn!(photo = %p.hash, error = %e, "photo left without a stamp");
                continue;
            }
        };
        // A row like a downloaded copy's: the stamped copy is its own "captured" bytes, so
        // `add_photo_bytes` never mistakes it for the photo it was made from.
        tx.prepare_cached(
            "INSERT OR IGNORE INTO photos (hash, captured_sha256, width, height, display_bytes,
                 created_at, stamp_of)
             VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            ing.display_sha256,
            ing.display_width,
            ing.display_height,
            ing.display.len() as i64,
            now.timestamp_millis(),
            p.hash,
        ])?;
        stamps.push(PhotoStamp {
            photo: p.hash.clone(),
            stamped: ing.display_sha256,
        });
    }
    Ok(stamps)
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

#[cfg(test)]
mod tests {
    use image::ImageEncoder;

    use crate::NewProblem;
    use crate::store::Store;

    /// The stamped copy is queued for upload with its photo once the event is pushed, and
    /// counted with it.
    #[test]
    fn the_stamped_copy_is_uploaded_with_its_photo() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path().join("d.db")).unwrap();
        s.import_reference(&fieldcheck_protocol::demo_bundle())
            .unwrap();
        let img = image::RgbImage::from_pixel(640, 480, image::Rgb([120, 130, 140]));
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
            .write_image(img.as_raw(), 640, 480, image::ExtendedColorType::Rgb8)
            .unwrap();
        let info = s.add_photo_bytes(&jpeg).unwrap();
        let actor = s.actor("usr-insp-1").unwrap();
        let p = s
            .report_problem(
                &actor,
                NewProblem {
                    category: "SR-02".into(),
                    description: "积水".into(),
                    point_id: Some("p-005".into()),
                    photos: vec![info.hash.clone()],
                    ..Default::default()
                },
            )
            .unwrap();
        let stamped = p.photos[0].stamped.clone().unwrap();
        s.conn
            .execute("UPDATE events SET pushed_at = 1", [])
            .unwrap();
        let queue = s.photo_upload_queue().unwrap();
        let mut got: Vec<(String, bool)> = queue
            .iter()
            .map(|q| (q.hash.clone(), q.stamped_copy))
            .collect();
        got.sort();
        let mut want = vec![(info.hash.clone(), false), (stamped, true)];
        want.sort();
        assert_eq!(got, want);
        assert_eq!(s.photos_to_upload().unwrap(), 1);
    }
}
