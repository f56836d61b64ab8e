//! Customer photos, stored content-addressed: `<media dir>/<aa>/<sha256>`. The same image sent
//! twice is stored once, a name can never be chosen by a customer, and nothing is ever
//! overwritten with different bytes.

use crate::core::message::MediaRef;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Telegram's download limit for bots; a sensible bound for every channel.
pub const DEFAULT_MAX_BYTES: u64 = 20 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("the file is {bytes} bytes; the limit is {limit} bytes")]
    TooLarge { bytes: u64, limit: u64 },
    #[error("the file is not a JPEG, PNG, GIF or WebP image")]
    NotAnImage,
    #[error("media storage failed: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Debug, Clone)]
pub struct MediaStore {
    dir: PathBuf,
    max_bytes: u64,
}

impl MediaStore {
    pub fn new(dir: impl Into<PathBuf>, max_bytes: u64) -> MediaStore {
        MediaStore { dir: dir.into(), max_bytes }
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// The limit in whole megabytes, as customers are told it.
    pub fn max_megabytes(&self) -> u32 {
        u32::try_from(self.max_bytes / (1024 * 1024)).unwrap_or(u32::MAX)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Checks that `bytes` is an image within the limit, and stores it durably (written to a
    /// temporary file, fsynced, then renamed into place).
    pub async fn store(&self, bytes: &[u8]) -> Result<MediaRef, MediaError> {
        let content_type = self.check(bytes)?;
        let sha256 = hex::encode(Sha256::digest(bytes));
        let path = self.path_of(&sha256).ok_or(MediaError::NotAnImage)?;
        if tokio::fs::try_exists(&path).await? {
            // Retention judges a photo's age by its modification time: one sent again is new again.
            let existing = path.clone();
            let touched = tokio::task::spawn_blocking(move || {
                std::fs::File::options()
                    .write(true)
                    .open(existing)?
                    .set_modified(std::time::SystemTime::now())
            })
            .await
            .map_err(std::io::Error::other)?;
            if let Err(error) = touched {
                tracing::warn!(%error, "could not refresh a stored photo's time; retention may take it early");
            }
            return Ok(MediaRef { sha256, content_type: content_type.to_owned(), bytes: bytes.len() as u64 });
        }
        let parent = path.parent().expect("media paths have a parent folder");
        tokio::fs::create_dir_all(parent).await?;
        let temporary = parent.join(format!(".{sha256}.{}.tmp", uuid::Uuid::new_v4()));
        let owned = bytes.to_vec();
        let temporary_for_write = temporary.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            use std::io::Write;
            let mut file = std::fs::File::create(&temporary_for_write)?;
            file.write_all(&owned)?;
            file.sync_all()
        })
        .await
        .map_err(std::io::Error::other)??;
        tokio::fs::rename(&temporary, &path).await?;
        Ok(MediaRef { sha256, content_type: content_type.to_owned(), bytes: bytes.len() as u64 })
    }

    /// Validates size and format without storing; returns the content type.
    pub fn check(&self, bytes: &[u8]) -> Result<&'static str, MediaError> {
        let size = bytes.len() as u64;
        if size > self.max_bytes {
            return Err(MediaError::TooLarge { bytes: size, limit: self.max_bytes });
        }
        let content_type = match imagesize::image_type(bytes) {
            Ok(imagesize::ImageType::Jpeg) => "image/jpeg",
            Ok(imagesize::ImageType::Png) => "image/png",
            Ok(imagesize::ImageType::Gif) => "image/gif",
            Ok(imagesize::ImageType::Webp) => "image/webp",
            _ => return Err(MediaError::NotAnImage),
        };
        // A valid header with sane dimensions, not just magic bytes in front of anything.
        match imagesize::blob_size(bytes) {
            Ok(size) if size.width > 0 && size.height > 0 => Ok(content_type),
            _ => Err(MediaError::NotAnImage),
        }
    }

    /// Reads a stored image back. Only well-formed SHA-256 names are accepted, so a request
    /// can never name a path outside the media folder.
    pub async fn read(&self, sha256: &str) -> Result<Option<Vec<u8>>, MediaError> {
        let Some(path) = self.path_of(sha256) else { return Ok(None) };
        match tokio::fs::read(path).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Deletes a stored image (retention and erasure). Missing files are not an error.
    pub async fn remove(&self, sha256: &str) -> Result<(), MediaError> {
        let Some(path) = self.path_of(sha256) else { return Ok(()) };
        match tokio::fs::remove_file(path).await {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    fn path_of(&self, sha256: &str) -> Option<PathBuf> {
        let well_formed =
            sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        well_formed.then(|| self.dir.join(&sha256[..2]).join(sha256))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1x1 PNG, built here byte by byte rather than copied from anywhere.
    pub(crate) fn tiny_png() -> Vec<u8> {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend_from_slice(&13u32.to_be_bytes());
        png.extend_from_slice(b"IHDR");
        png.extend_from_slice(&1u32.to_be_bytes());
        png.extend_from_slice(&1u32.to_be_bytes());
        png.extend_from_slice(&[8, 2, 0, 0, 0]);
        png.extend_from_slice(&[0, 0, 0, 0]);
        png
    }

    #[tokio::test]
    async fn stores_once_reads_back_and_refuses_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let media = MediaStore::new(dir.path(), 1024);
        let stored = media.store(&tiny_png()).await.unwrap();
        assert_eq!(stored.content_type, "image/png");
        assert_eq!(media.store(&tiny_png()).await.unwrap(), stored);
        assert_eq!(media.read(&stored.sha256).await.unwrap().unwrap(), tiny_png());

        assert!(matches!(media.store(b"GIF89a").await, Err(MediaError::NotAnImage)));
        assert!(matches!(media.store(b"\xff\xd8\xff").await, Err(MediaError::NotAnImage)));
        assert!(matches!(media.store(b"<html><script>alert(1)</script>").await, Err(MediaError::NotAnImage)));
        assert!(matches!(media.store(b"hello").await, Err(MediaError::NotAnImage)));
        let mut big = tiny_png();
        big.resize(2048, 0);
        assert!(matches!(media.store(&big).await, Err(MediaError::TooLarge { .. })));

        assert_eq!(media.read("../../etc/passwd").await.unwrap(), None);
        assert_eq!(media.read(&"A".repeat(64)).await.unwrap(), None);
        media.remove(&stored.sha256).await.unwrap();
        assert_eq!(media.read(&stored.sha256).await.unwrap(), None);
    }
}
