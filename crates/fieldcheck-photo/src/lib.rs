//! # fieldcheck-photo
//!
//! Turns the bytes a phone camera produced into the evidence FieldCheck keeps: an upright,
//! metadata-free display copy (long edge 1600 px, JPEG q80), a 320 px thumbnail, the SHA-256
//! of what was captured, and the EXIF facts worth keeping (GPS, capture time, orientation).
//! [`PhotoFiles`] stores the copies content-addressed on disk. [`stamp`] makes a copy of a
//! display copy carrying the evidence stamp (水印) in a dark band at the bottom.
//!
//! ## Design (measured choices)
//!
//! DESIGN_NOTES_PLACEHOLDER

mod decode;
mod error;
mod metadata;
mod pipeline;
mod stamp;
mod store;

use serde::Serialize;
use sha2::{Digest, Sha256};

pub use error::PhotoError;
pub use metadata::{ExifInfo, GpsFix, read_exif};
pub use stamp::{PLATFORM_CJK_FONTS, PLATFORM_LATIN_FONTS, StampFont, StampLayout, stamp};
pub use store::{PhotoFiles, StoredPhoto, validate_hash};

/// Long edge of the display copy in pixels.
pub const DISPLAY_LONG_EDGE: u32 = 1600;
/// Long edge of the thumbnail in pixels.
pub const THUMB_LONG_EDGE: u32 = 320;
/// JPEG quality of both outputs. q80 keeps a 12 MP phone photo's display copy around
/// 200–400 KB, small enough to sync over a weak mobile connection.
pub const JPEG_QUALITY: i32 = 80;

/// Input bounds, checked before anything large is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted input file.
    pub max_bytes: u64,
    /// Largest accepted width × height, read from the header before decoding.
    pub max_pixels: u64,
}

impl Default for Limits {
    /// 40 MiB and 64 MP: above any phone camera (50 MP sensors write ~25 MB) while keeping
    /// one photo's worst-case decode buffers in the low hundreds of MB.
    fn default() -> Self {
        Limits {
            max_bytes: 40 * 1024 * 1024,
            max_pixels: 64_000_000,
        }
    }
}

/// Container format of the captured input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceFormat {
    Jpeg,
    Png,
    WebP,
    Gif,
}

/// The result of [`ingest`]: both stored copies, their hashes and the metadata kept.
#[derive(Clone, PartialEq)]
pub struct Ingested {
    /// SHA-256 (lowercase hex) of the input bytes exactly as captured.
    pub captured_sha256: String,
    /// Display JPEG, long edge ≤ 1600 px, no metadata.
    pub display: Vec<u8>,
    /// SHA-256 of `display`: the photo id and store key.
    pub display_sha256: String,
    pub display_width: u32,
    pub display_height: u32,
    /// Thumbnail JPEG, long edge ≤ 320 px, no metadata.
    pub thumbnail: Vec<u8>,
    pub thumbnail_sha256: String,
    pub thumbnail_width: u32,
    pub thumbnail_height: u32,
    /// Size of the original after applying EXIF orientation.
    pub width: u32,
    pub height: u32,
    pub format: SourceFormat,
    pub exif: ExifInfo,
}

impl std::fmt::Debug for Ingested {
    // The JPEG bytes would drown any log line; show their sizes instead.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingested")
            .field("captured_sha256", &self.captured_sha256)
            .field("display", &format_args!("{} bytes", self.display.len()))
            .field("display_sha256", &self.display_sha256)
            .field("display_size", &(self.display_width, self.display_height))
            .field("thumbnail", &format_args!("{} bytes", self.thumbnail.len()))
            .field("thumbnail_sha256", &self.thumbnail_sha256)
            .field(
                "thumbnail_size",
                &(self.thumbnail_width, self.thumbnail_height),
            )
            .field("size", &(self.width, self.height))
            .field("format", &self.format)
            .field("exif", &self.exif)
            .finish()
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Identifies the container from its magic bytes, and names what it is when it is not one we
/// take, so the inspector learns "this is a HEIC photo" rather than "corrupt".
fn sniff(bytes: &[u8]) -> Result<SourceFormat, PhotoError> {
    match image::guess_format(bytes) {
        Ok(image::ImageFormat::Jpeg) => return Ok(SourceFormat::Jpeg),
        Ok(image::ImageFormat::Png) => return Ok(SourceFormat::Png),
        Ok(image::ImageFormat::WebP) => return Ok(SourceFormat::WebP),
        Ok(image::ImageFormat::Gif) => return Ok(SourceFormat::Gif),
        _ => {}
    }
    let head = &bytes[..bytes.len().min(64)];
    let what = if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        let brand = String::from_utf8_lossy(&bytes[8..12]).into_owned();
        if ["heic", "heix", "mif1", "msf1", "hevc", "heim", "heis"].contains(&brand.as_str()) {
            "a HEIC/HEIF photo (set the camera to \"Most Compatible\"/JPEG)".to_owned()
        } else if brand == "avif" {
            "an AVIF image".to_owned()
        } else {
            format!("an ISO media file (brand {brand:?}), such as a video")
        }
    } else if let Ok(other) = image::guess_format(bytes) {
        format!("a {other:?} image")
    } else if head
        .iter()
        .all(|&b| b.is_ascii_graphic() || b.is_ascii_whitespace())
    {
        "this looks like a text file, not an image".to_owned()
    } else {
        let hex: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
        format!("unrecognised file signature {}", hex.join(" "))
    };
    Err(PhotoError::UnsupportedFormat(what))
}

/// Decodes a captured photo within `limits` and produces the stored copies.
///
/// Accepts JPEG (baseline, progressive, grayscale, CMYK/YCCK), PNG (8/16-bit, alpha composited
/// on white), WebP and still GIF. EXIF orientation is applied to the pixels; EXIF GPS and
/// capture time are returned in [`Ingested::exif`]; the outputs carry no metadata.
pub fn ingest(bytes: &[u8], limits: &Limits) -> Result<Ingested, PhotoError> {
    if bytes.is_empty() {
        return Err(PhotoError::Empty);
    }
    let len = bytes.len() as u64;
    if len > limits.max_bytes {
        return Err(PhotoError::TooLarge {
            bytes: len,
            max: limits.max_bytes,
        });
    }
    let format = sniff(bytes)?;
    let exif = if format == SourceFormat::Gif {
        ExifInfo::default()
    } else {
        read_exif(bytes)
    };

    let decoded = decode::decode(bytes, format, limits, DISPLAY_LONG_EDGE)?;
    let (sw, sh) = (decoded.source_width, decoded.source_height);
    // Output sizes come from the source dimensions, not the DCT-scaled ones, whose rounding
    // (ceil of w/8·n) would otherwise skew the aspect ratio by a pixel.
    let (dw, dh) = pipeline::fit(sw, sh, DISPLAY_LONG_EDGE);
    let raster = decoded.raster;
    let display = if (raster.width, raster.height) == (dw, dh) {
        raster
    } else {
        let resized = pipeline::resize(&raster, dw, dh)?;
        drop(raster);
        resized
    };
    let display = pipeline::orient(display, exif.orientation);
    let (tw, th) = pipeline::fit(display.width, display.height, THUMB_LONG_EDGE);
    let thumb_jpeg = if (tw, th) == (display.width, display.height) {
        pipeline::encode_jpeg(&display, JPEG_QUALITY)?
    } else {
        pipeline::encode_jpeg(&pipeline::resize(&display, tw, th)?, JPEG_QUALITY)?
    };
    let display_jpeg = pipeline::encode_jpeg(&display, JPEG_QUALITY)?;

    let (width, height) = if exif.orientation >= 5 {
        (sh, sw)
    } else {
        (sw, sh)
    };
    Ok(Ingested {
        captured_sha256: sha256_hex(bytes),
        display_sha256: sha256_hex(&display_jpeg),
        display_width: display.width,
        display_height: display.height,
        display: display_jpeg,
        thumbnail_sha256: sha256_hex(&thumb_jpeg),
        thumbnail_width: tw,
        thumbnail_height: th,
        thumbnail: thumb_jpeg,
        width,
        height,
        format,
        exif,
    })
}

/// A small JPEG copy of an already ingested photo (a display copy: oriented, metadata
/// stripped) with at most `long_edge` pixels on its long side, and its size. JPEGs are
/// shrunk while decoding (DCT scaling), so a cell-sized copy of a 1,600-pixel display copy
/// costs a fraction of a full decode (the spreadsheet export makes one per photo).
pub fn thumbnail(
    bytes: &[u8],
    long_edge: u32,
    limits: &Limits,
) -> Result<(Vec<u8>, u32, u32), PhotoError> {
    if bytes.is_empty() {
        return Err(PhotoError::Empty);
    }
    let format = sniff(bytes)?;
    let decoded = decode::decode(bytes, format, limits, long_edge)?;
    let (w, h) = pipeline::fit(decoded.source_width, decoded.source_height, long_edge);
    let raster = if (decoded.raster.width, decoded.raster.height) == (w, h) {
        decoded.raster
    } else {
        pipeline::resize(&decoded.raster, w, h)?
    };
    Ok((
        pipeline::encode_jpeg(&raster, JPEG_QUALITY)?,
        raster.width,
        raster.height,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniff_names_what_it_refuses() {
        let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic";
        let e = sniff(heic).unwrap_err();
        assert_eq!(e.code(), "photo_unsupported_format");
        assert!(e.to_string().contains("HEIC"), "{e}");
        let e = sniff(b"hello, this is not a photo\n").unwrap_err();
        assert!(e.to_string().contains("text file"), "{e}");
        let e = sniff(b"BM\x3a\0\0\0\0\0\0\0\x36\0\0\0(\0").unwrap_err();
        assert!(e.to_string().contains("Bmp"), "{e}");
        assert_eq!(sniff(b"\xff\xd8\xff\xe0").unwrap(), SourceFormat::Jpeg);
    }
}
