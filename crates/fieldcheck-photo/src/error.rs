use std::path::PathBuf;

/// Everything that can go wrong between "bytes from the camera" and "files in the store".
///
/// Messages are plain English meant for logs and for an inspector-facing error line; `code()`
/// gives the stable identifier that the API and the UI switch on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PhotoError {
    #[error("the photo is empty (0 bytes)")]
    Empty,

    #[error("the photo is {bytes} bytes, more than the limit of {max} bytes")]
    TooLarge { bytes: u64, max: u64 },

    #[error(
        "the photo is {width}×{height} pixels ({} pixels), more than the limit of {max} pixels",
        width.saturating_mul(*height)
    )]
    TooManyPixels { width: u64, height: u64, max: u64 },

    #[error("unsupported file: {0}; photos must be JPEG, PNG or WebP")]
    UnsupportedFormat(String),

    #[error("the image is corrupt: {0}")]
    Corrupt(String),

    #[error(
        "the image file is truncated: it ends before the image data is complete (an interrupted copy or upload?)"
    )]
    Truncated,

    #[error("could not encode the output JPEG: {0}")]
    Encode(String),

    #[error("photo store: could not {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("invalid photo hash {0:?}: expected 64 lowercase hexadecimal characters")]
    InvalidHash(String),

    #[error("photo content does not match its hash: expected {expected}, got {actual}")]
    HashMismatch { expected: String, actual: String },
}

impl PhotoError {
    /// Stable snake_case identifier for API responses, logs and translations.
    pub fn code(&self) -> &'static str {
        match self {
            PhotoError::Empty => "photo_empty",
            PhotoError::TooLarge { .. } => "photo_too_large",
            PhotoError::TooManyPixels { .. } => "photo_too_many_pixels",
            PhotoError::UnsupportedFormat(_) => "photo_unsupported_format",
            PhotoError::Corrupt(_) => "photo_corrupt",
            PhotoError::Truncated => "photo_truncated",
            PhotoError::Encode(_) => "photo_encode_failed",
            PhotoError::Io { .. } => "photo_io",
            PhotoError::InvalidHash(_) => "photo_invalid_hash",
            PhotoError::HashMismatch { .. } => "photo_hash_mismatch",
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| PhotoError::Io {
            action,
            path,
            source,
        }
    }
}
