use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::TilesError;

/// The tile encodings MBTiles 1.3 names in its `format` metadata row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TileFormat {
    Png,
    Jpg,
    Webp,
    /// Mapbox vector tiles, usually gzip-compressed inside the package.
    Pbf,
}

impl TileFormat {
    /// The value of the `format` metadata row.
    pub fn as_str(self) -> &'static str {
        match self {
            TileFormat::Png => "png",
            TileFormat::Jpg => "jpg",
            TileFormat::Webp => "webp",
            TileFormat::Pbf => "pbf",
        }
    }

    /// The HTTP `Content-Type` for serving a tile of this format.
    pub fn content_type(self) -> &'static str {
        match self {
            TileFormat::Png => "image/png",
            TileFormat::Jpg => "image/jpeg",
            TileFormat::Webp => "image/webp",
            TileFormat::Pbf => "application/x-protobuf",
        }
    }

    /// Recognises a raster tile by its magic bytes. Vector tiles carry no magic of their own,
    /// so `None` for anything that is not PNG, JPEG or WebP.
    pub fn sniff(bytes: &[u8]) -> Option<TileFormat> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(TileFormat::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(TileFormat::Jpg)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(TileFormat::Webp)
        } else {
            None
        }
    }
}

impl FromStr for TileFormat {
    type Err = TilesError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "png" => Ok(TileFormat::Png),
            // Older packages and some tools write "jpeg".
            "jpg" | "jpeg" => Ok(TileFormat::Jpg),
            "webp" => Ok(TileFormat::Webp),
            "pbf" | "mvt" => Ok(TileFormat::Pbf),
            _ => Err(TilesError::BadFormat(s.to_owned())),
        }
    }
}

impl fmt::Display for TileFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_raster_magic() {
        assert_eq!(
            TileFormat::sniff(b"\x89PNG\r\n\x1a\n...."),
            Some(TileFormat::Png)
        );
        assert_eq!(
            TileFormat::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(TileFormat::Jpg)
        );
        assert_eq!(
            TileFormat::sniff(b"RIFF\x10\0\0\0WEBPVP8 "),
            Some(TileFormat::Webp)
        );
        assert_eq!(TileFormat::sniff(b"<html>"), None);
        assert_eq!(TileFormat::sniff(b""), None);
    }

    #[test]
    fn parses_format_names() {
        assert_eq!("JPEG".parse::<TileFormat>().unwrap(), TileFormat::Jpg);
        assert_eq!(
            "tiff".parse::<TileFormat>().unwrap_err().code(),
            "tiles_bad_format"
        );
    }
}
