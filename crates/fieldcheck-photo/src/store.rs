//! Content-addressed photo files on disk.
//!
//! Layout: `root/display/ab/abcdef….jpg` and `root/thumb/ab/abcdef….jpg`, both keyed by the
//! SHA-256 of the display copy (the photo's id everywhere else), so a thumbnail is found from
//! the id alone and identical photos are stored once. Two-character fan-out keeps directories
//! small on phones' filesystems.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::{Ingested, PhotoError};

/// Where one photo's files live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPhoto {
    /// SHA-256 of the display copy: the photo id.
    pub hash: String,
    pub display_path: PathBuf,
    pub thumb_path: PathBuf,
    /// False when the photo was already in the store and nothing was written.
    pub newly_written: bool,
}

/// The photo file store rooted at one directory.
#[derive(Debug, Clone)]
pub struct PhotoFiles {
    root: PathBuf,
}

/// Accepts exactly 64 lowercase hex characters. Everything that becomes a path component goes
/// through here, so "../", separators, NUL and case-variant duplicates cannot reach the
/// filesystem.
pub fn validate_hash(hash: &str) -> Result<(), PhotoError> {
    if hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(PhotoError::InvalidHash(hash.chars().take(80).collect()))
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl PhotoFiles {
    /// Directories are created lazily on first write.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        PhotoFiles { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, kind: &str, hash: &str) -> Result<PathBuf, PhotoError> {
        validate_hash(hash)?;
        Ok(self
            .root
            .join(kind)
            .join(&hash[..2])
            .join(format!("{hash}.jpg")))
    }

    pub fn display_path(&self, hash: &str) -> Result<PathBuf, PhotoError> {
        self.path("display", hash)
    }

    /// The thumbnail of the photo whose display copy has this hash.
    pub fn thumb_path(&self, hash: &str) -> Result<PathBuf, PhotoError> {
        self.path("thumb", hash)
    }

    /// Whether the display copy is present. An invalid hash is simply not present.
    pub fn exists(&self, hash: &str) -> bool {
        self.display_path(hash).is_ok_and(|p| p.is_file())
    }

    /// Whether the thumbnail is present (a display copy fetched from a server may arrive
    /// before or without one).
    pub fn thumb_exists(&self, hash: &str) -> bool {
        self.thumb_path(hash).is_ok_and(|p| p.is_file())
    }

    /// Stores both copies of an ingested photo. Idempotent: a photo already present is not
    /// rewritten. The hashes in `photo` are re-checked, since `Ingested` fields are public and
    /// a mismatch here would poison the store permanently.
    pub fn put(&self, photo: &Ingested) -> Result<StoredPhoto, PhotoError> {
        let hash = photo.display_sha256.as_str();
        let display_path = self.display_path(hash)?;
        let thumb_path = self.thumb_path(hash)?;
        verify(hash, &photo.display)?;
        let thumb_actual = sha256_hex(&photo.thumbnail);
        if thumb_actual != photo.thumbnail_sha256 {
            return Err(PhotoError::HashMismatch {
                expected: photo.thumbnail_sha256.clone(),
                actual: thumb_actual,
            });
        }
        // Thumbnail first: `exists()` looks at the display copy, so once that is visible the
        // thumbnail is guaranteed to be there too.
        let thumb_written = write_atomic(&thumb_path, &photo.thumbnail)?;
        let display_written = write_atomic(&display_path, &photo.display)?;
        Ok(StoredPhoto {
            hash: hash.to_owned(),
            display_path,
            thumb_path,
            newly_written: display_written || thumb_written,
        })
    }

    /// Keeps a display copy that arrived from elsewhere (e.g. the server during sync) after
    /// checking it really has the hash it is filed under.
    pub fn put_display_blob(&self, hash: &str, bytes: &[u8]) -> Result<PathBuf, PhotoError> {
        let path = self.display_path(hash)?;
        verify(hash, bytes)?;
        write_atomic(&path, bytes)?;
        Ok(path)
    }
}

fn verify(expected: &str, bytes: &[u8]) -> Result<(), PhotoError> {
    let actual = sha256_hex(bytes);
    if actual == expected {
        Ok(())
    } else {
        Err(PhotoError::HashMismatch {
            expected: expected.to_owned(),
            actual,
        })
    }
}

/// Temp file in the target directory + fsync + rename, so a crash or power loss leaves either
/// the complete file or nothing under the final name — never a torn JPEG that matches no hash.
/// Returns whether anything was written.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<bool, PhotoError> {
    if path.is_file() {
        // Content-addressed: an existing file under this name already has these bytes.
        return Ok(false);
    }
    let dir = path
        .parent()
        .expect("store paths always have a parent directory");
    fs::create_dir_all(dir).map_err(PhotoError::io("create directory", dir))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".incoming-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(PhotoError::io("create a temporary file in", dir))?;
    tmp.write_all(bytes)
        .map_err(PhotoError::io("write", tmp.path().to_owned()))?;
    tmp.as_file()
        .sync_all()
        .map_err(PhotoError::io("flush to disk", tmp.path().to_owned()))?;
    // A concurrent writer of the same hash may win the race; rename replaces its file with
    // identical bytes, which is harmless.
    tmp.persist(path)
        .map_err(|e| PhotoError::io("move into place", path)(e.error))?;
    sync_dir(dir)?;
    Ok(true)
}

/// Makes the rename itself durable (the directory entry), not just the file contents.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), PhotoError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(PhotoError::io("flush directory", dir))
}

/// Windows has no directory handles to fsync; NTFS journals the rename itself.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<(), PhotoError> {
    Ok(())
}
