use std::path::PathBuf;

/// Everything that can go wrong with an offline map package.
///
/// Messages are plain English for logs and for the error line shown to the office or the
/// inspector; `code()` gives the stable identifier that the API and the UI switch on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TilesError {
    #[error("{} is not an MBTiles map package: {reason}", path.display())]
    NotMbTiles { path: PathBuf, reason: String },

    #[error("the map package {} holds no tiles", path.display())]
    Empty { path: PathBuf },

    #[error("unsupported tile format {0:?}: expected png, jpg, webp or pbf")]
    BadFormat(String),

    #[error("tile {z}/{x}/{y} does not exist: zoom goes up to {max_zoom}, x and y below 2^zoom")]
    OutOfRange { z: u8, x: u32, y: u32, max_zoom: u8 },

    #[error("invalid map package options: {0}")]
    InvalidOptions(String),

    #[error("the area would need {tiles} tiles, more than the limit of {max}")]
    TooManyTiles { tiles: u64, max: u64 },

    #[error("the tile server answered HTTP {status} for {url}")]
    HttpStatus { url: String, status: u16 },

    #[error("could not fetch {url} after {attempts} attempts: {reason}")]
    Fetch {
        url: String,
        attempts: u32,
        reason: String,
    },

    #[error("tile {z}/{x}/{y} from the tile server is unusable: {reason}")]
    BadTile {
        z: u8,
        x: u32,
        y: u32,
        reason: String,
    },

    #[error("map package database: {0}")]
    Sqlite(#[from] rusqlite::Error),

    #[error("map package: could not {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl TilesError {
    /// Stable snake_case identifier for API responses, logs and translations.
    pub fn code(&self) -> &'static str {
        match self {
            TilesError::NotMbTiles { .. } => "tiles_not_mbtiles",
            TilesError::Empty { .. } => "tiles_empty",
            TilesError::BadFormat(_) => "tiles_bad_format",
            TilesError::OutOfRange { .. } => "tiles_out_of_range",
            TilesError::InvalidOptions(_) => "tiles_invalid_options",
            TilesError::TooManyTiles { .. } => "tiles_too_many",
            TilesError::HttpStatus { .. } => "tiles_http_status",
            TilesError::Fetch { .. } => "tiles_fetch_failed",
            TilesError::BadTile { .. } => "tiles_bad_tile",
            TilesError::Sqlite(_) => "tiles_sqlite",
            TilesError::Io { .. } => "tiles_io",
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| TilesError::Io {
            action,
            path,
            source,
        }
    }
}
