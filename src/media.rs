//! Customer photos, stored content-addressed: `<media dir>/<aa>/<sha256>`. The same image sent
//! twice is stored once, a name can never be chosen by a customer, and nothing is ever
//! overwritten with different bytes.
//!
//! Every channel's photos come through [`MediaStore::store`], which takes nothing on trust:
//! the bytes are decoded in full (a valid header in front of random data is refused), the
//! dimensions are bounded before any pixel is allocated, and what is stored is the image
//! re-encoded from its pixels, so EXIF, GPS positions and anything hidden after the image data
//! never reach the disk. Decoding takes a core, so only a few run at once; and uploads stop
//! while the disk holding the media folder (and, by default, the database) runs low.

use crate::core::dialog::PhotoProblem;
use crate::core::message::MediaRef;
use image::{ImageFormat, ImageReader, Limits};
use sha2::{Digest, Sha256};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Telegram's download limit for bots; a sensible bound for every channel.
pub const DEFAULT_MAX_BYTES: u64 = 20 * 1024 * 1024;
/// Larger than any phone camera's default photo, small enough that one decode stays bounded
/// (at most 160 MB of pixels at four bytes each).
pub const MAX_PIXELS: u64 = 40_000_000;
/// JPEG quality for re-encoded photos: indistinguishable from the original for what agents
/// need to see, a fraction of the size of a lossless copy.
const JPEG_QUALITY: u8 = 90;

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("the file is {bytes} bytes; the limit is {limit} bytes")]
    TooLarge { bytes: u64, limit: u64 },
    #[error("the file is not a JPEG, PNG, GIF or WebP image")]
    NotAnImage,
    #[error("the image is {width}x{height} pixels; the limit is {MAX_PIXELS} pixels")]
    TooManyPixels { width: u32, height: u32 },
    #[error("the media folder's disk has {free_mb} MB free; uploads stop below {floor_mb} MB")]
    DiskLow { free_mb: u64, floor_mb: u64 },
    #[error("media storage failed: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Debug, Clone)]
pub struct MediaStore {
    dir: PathBuf,
    max_bytes: u64,
    /// Uploads are refused while the disk has less free than this.
    min_free_bytes: u64,
    /// Decodes running at once.
    decoding: Arc<Semaphore>,
}

impl MediaError {
    /// What the customer is told about a photo that was not stored; `None` for a failure of
    /// our own storage that is worth trying again.
    pub fn problem_for_customer(&self, limit_mb: u32) -> Option<PhotoProblem> {
        match self {
            MediaError::TooLarge { .. } | MediaError::TooManyPixels { .. } => {
                Some(PhotoProblem::TooLarge { limit_mb })
            }
            MediaError::NotAnImage => Some(PhotoProblem::NotAnImage),
            // Text keeps working while the disk is low; the customer hears why the photo is not.
            MediaError::DiskLow { .. } => Some(PhotoProblem::Unavailable),
            MediaError::Io(_) => None,
        }
    }
}

impl MediaStore {
    pub fn new(dir: impl Into<PathBuf>, max_bytes: u64) -> MediaStore {
        MediaStore { dir: dir.into(), max_bytes, min_free_bytes: 0, decoding: Arc::new(Semaphore::new(2)) }
    }

    /// The disk-space floor and how many photos may be decoded at once.
    pub fn with_limits(mut self, min_free_megabytes: u64, concurrent_checks: usize) -> MediaStore {
        self.min_free_bytes = min_free_megabytes.saturating_mul(1024 * 1024);
        self.decoding = Arc::new(Semaphore::new(concurrent_checks.max(1)));
        self
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

    /// Proves `bytes` is an image within the limits, strips it to its pixels, and stores that
    /// durably (written to a temporary file, fsynced, then renamed into place). Nothing is
    /// written for anything refused.
    pub async fn store(&self, bytes: &[u8]) -> Result<MediaRef, MediaError> {
        let size = bytes.len() as u64;
        if size > self.max_bytes {
            return Err(MediaError::TooLarge { bytes: size, limit: self.max_bytes });
        }
        self.check_free_space()?;
        let cleaned = {
            let _turn = self.decoding.acquire().await.map_err(std::io::Error::other)?;
            let owned = bytes.to_vec();
            tokio::task::spawn_blocking(move || clean_image(&owned))
                .await
                .map_err(std::io::Error::other)??
        };
        let (bytes, content_type) = (cleaned.bytes.as_slice(), cleaned.content_type);
        let sha256 = hex::encode(Sha256::digest(bytes));
        let path = self.path_of(&sha256).ok_or(MediaError::NotAnImage)?;
        let media = MediaRef {
            sha256: sha256.clone(),
            content_type: content_type.to_owned(),
            bytes: bytes.len() as u64,
        };
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
            return Ok(media);
        }
        let parent = path.parent().expect("media paths have a parent folder");
        tokio::fs::create_dir_all(parent).await?;
        let temporary = parent.join(format!(".{sha256}.{}.tmp", uuid::Uuid::new_v4()));
        let temporary_for_write = temporary.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            use std::io::Write;
            let mut file = std::fs::File::create(&temporary_for_write)?;
            file.write_all(&cleaned.bytes)?;
            file.sync_all()
        })
        .await
        .map_err(std::io::Error::other)??;
        tokio::fs::rename(&temporary, &path).await?;
        Ok(media)
    }

    /// The content type of stored bytes, read from their header (stored files were proved to
    /// be images on the way in; this only names which kind).
    pub fn content_type_of(bytes: &[u8]) -> Option<&'static str> {
        match image::guess_format(bytes).ok()? {
            ImageFormat::Jpeg => Some("image/jpeg"),
            ImageFormat::Png => Some("image/png"),
            ImageFormat::Gif => Some("image/gif"),
            ImageFormat::WebP => Some("image/webp"),
            _ => None,
        }
    }

    /// Refuses uploads while the media disk has less free space than the floor.
    fn check_free_space(&self) -> Result<(), MediaError> {
        if self.min_free_bytes == 0 {
            return Ok(());
        }
        let Some(free) = free_bytes(&self.dir) else { return Ok(()) };
        if free >= self.min_free_bytes {
            return Ok(());
        }
        let (free_mb, floor_mb) = (free / (1024 * 1024), self.min_free_bytes / (1024 * 1024));
        tracing::error!(free_mb, floor_mb, dir = %self.dir.display(), "media disk is low; photo uploads are refused");
        Err(MediaError::DiskLow { free_mb, floor_mb })
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

/// An image as it will be stored: re-encoded pixels only.
struct CleanImage {
    bytes: Vec<u8>,
    content_type: &'static str,
}

/// Decodes `bytes` completely and encodes the pixels again: JPEG stays JPEG, the rest become
/// PNG (lossless). Refuses what is not one of the four formats, what does not decode to the
/// end, and what has more than [`MAX_PIXELS`] (checked from the header, before decoding).
fn clean_image(bytes: &[u8]) -> Result<CleanImage, MediaError> {
    let format = match image::guess_format(bytes) {
        Ok(format @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::Gif | ImageFormat::WebP)) => format,
        _ => return Err(MediaError::NotAnImage),
    };
    let reader = || {
        let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
        let mut limits = Limits::default();
        // Pixels at four bytes each, with room for the decoder's own buffers.
        limits.max_alloc = Some(MAX_PIXELS * 4 + 64 * 1024 * 1024);
        reader.limits(limits);
        reader
    };
    let (width, height) = reader().into_dimensions().map_err(|_| MediaError::NotAnImage)?;
    if width == 0 || height == 0 {
        return Err(MediaError::NotAnImage);
    }
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(MediaError::TooManyPixels { width, height });
    }
    let pixels = reader().decode().map_err(|_| MediaError::NotAnImage)?;
    let mut out = Cursor::new(Vec::new());
    let content_type = if format == ImageFormat::Jpeg {
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY);
        pixels
            .to_rgb8()
            .write_with_encoder(encoder)
            .map_err(|error| MediaError::Io(std::io::Error::other(error)))?;
        "image/jpeg"
    } else {
        pixels
            .write_to(&mut out, ImageFormat::Png)
            .map_err(|error| MediaError::Io(std::io::Error::other(error)))?;
        "image/png"
    };
    Ok(CleanImage { bytes: out.into_inner(), content_type })
}

/// Free space for unprivileged writers on the disk holding `dir` (or its nearest existing
/// parent, before the folder is made); `None` where it cannot be read.
#[cfg(target_os = "linux")]
fn free_bytes(dir: &Path) -> Option<u64> {
    let existing = dir.ancestors().find(|path| path.exists()).unwrap_or(Path::new("."));
    let existing = if existing.as_os_str().is_empty() { Path::new(".") } else { existing };
    let stats = rustix::fs::statvfs(existing).ok()?;
    Some(stats.f_bavail.saturating_mul(stats.f_frsize))
}

#[cfg(not(target_os = "linux"))]
fn free_bytes(_dir: &Path) -> Option<u64> {
    None
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A real PNG of the given size, encoded here; `shade` makes otherwise equal ones differ.
    pub(crate) fn png(width: u32, height: u32, shade: u8) -> Vec<u8> {
        let pixels = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, shade]));
        let mut out = Cursor::new(Vec::new());
        pixels.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    /// A JPEG carrying an EXIF segment with a made-up GPS note, as phone photos carry positions.
    fn jpeg_with_exif(secret: &str) -> Vec<u8> {
        let pixels = image::RgbImage::from_fn(16, 16, |x, _| image::Rgb([x as u8 * 8, 40, 200]));
        let mut out = Cursor::new(Vec::new());
        pixels.write_to(&mut out, ImageFormat::Jpeg).unwrap();
        let plain = out.into_inner();
        let mut payload = b"Exif\0\0".to_vec();
        payload.extend_from_slice(secret.as_bytes());
        let mut jpeg = plain[..2].to_vec(); // SOI
        jpeg.extend_from_slice(&[0xFF, 0xE1]);
        jpeg.extend_from_slice(&u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
        jpeg.extend_from_slice(&payload);
        jpeg.extend_from_slice(&plain[2..]);
        jpeg
    }

    fn files_in(dir: &Path) -> usize {
        walk(dir).len()
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
        entries
            .flatten()
            .flat_map(|entry| {
                let path = entry.path();
                if path.is_dir() { walk(&path) } else { vec![path] }
            })
            .collect()
    }

    #[tokio::test]
    async fn stores_once_reads_back_and_refuses_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let media = MediaStore::new(dir.path(), 64 * 1024);
        let stored = media.store(&png(3, 2, 1)).await.unwrap();
        assert_eq!(stored.content_type, "image/png");
        assert_eq!(media.store(&png(3, 2, 1)).await.unwrap(), stored);
        let back = media.read(&stored.sha256).await.unwrap().unwrap();
        assert_eq!(
            image::load_from_memory(&back).unwrap().to_rgb8(),
            image::load_from_memory(&png(3, 2, 1)).unwrap().to_rgb8()
        );

        assert!(matches!(media.store(b"GIF89a").await, Err(MediaError::NotAnImage)));
        assert!(matches!(media.store(b"\xff\xd8\xff").await, Err(MediaError::NotAnImage)));
        assert!(matches!(media.store(b"<html><script>alert(1)</script>").await, Err(MediaError::NotAnImage)));
        assert!(matches!(media.store(b"hello").await, Err(MediaError::NotAnImage)));
        let mut big = png(3, 2, 1);
        big.resize(65 * 1024, 0);
        assert!(matches!(media.store(&big).await, Err(MediaError::TooLarge { .. })));

        assert_eq!(media.read("../../etc/passwd").await.unwrap(), None);
        assert_eq!(media.read(&"A".repeat(64)).await.unwrap(), None);
        media.remove(&stored.sha256).await.unwrap();
        assert_eq!(media.read(&stored.sha256).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_valid_header_before_random_bytes_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let media = MediaStore::new(dir.path(), 1024 * 1024);
        let real = png(8, 8, 0);
        for seed in 0..20u8 {
            // The PNG's signature and header chunk, then noise where the pixel data should be.
            let mut forged = real[..33].to_vec();
            forged.extend((0..200_000u32).map(|n| (n.wrapping_mul(2_654_435_761) >> 13) as u8 ^ seed));
            assert!(matches!(media.store(&forged).await, Err(MediaError::NotAnImage)), "seed {seed}");
        }
        // A truncated image is refused too.
        assert!(matches!(media.store(&real[..real.len() - 20]).await, Err(MediaError::NotAnImage)));
        assert_eq!(files_in(dir.path()), 0, "nothing reached the media folder");
    }

    #[tokio::test]
    async fn metadata_is_stripped_before_storing() {
        let dir = tempfile::tempdir().unwrap();
        let media = MediaStore::new(dir.path(), 1024 * 1024);
        let secret = "GPSLatitude 55.7558 N private-home";
        let photo = jpeg_with_exif(secret);
        assert!(photo.windows(secret.len()).any(|w| w == secret.as_bytes()), "the fixture carries it");
        let stored = media.store(&photo).await.unwrap();
        assert_eq!(stored.content_type, "image/jpeg");
        let kept = media.read(&stored.sha256).await.unwrap().unwrap();
        assert!(!kept.windows(secret.len()).any(|w| w == secret.as_bytes()), "the position is gone");
        assert!(!kept.windows(4).any(|w| w == b"Exif"));
        let decoded = image::load_from_memory(&kept).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (16, 16));
    }

    #[tokio::test]
    async fn huge_dimensions_are_refused_from_the_header() {
        let dir = tempfile::tempdir().unwrap();
        let media = MediaStore::new(dir.path(), 1024 * 1024);
        // A real 1x1 PNG whose header then claims 20000x20000: refused before any decoding.
        let mut claim = png(1, 1, 0);
        claim[16..20].copy_from_slice(&20_000u32.to_be_bytes());
        claim[20..24].copy_from_slice(&20_000u32.to_be_bytes());
        let crc = crc32(&claim[12..29]);
        claim[29..33].copy_from_slice(&crc.to_be_bytes());
        assert!(matches!(media.store(&claim).await, Err(MediaError::TooManyPixels { width: 20_000, .. })));
        assert_eq!(files_in(dir.path()), 0);
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    #[tokio::test]
    async fn uploads_stop_above_the_disk_floor() {
        let dir = tempfile::tempdir().unwrap();
        // A floor no disk here has free: every upload is refused, and nothing is written.
        let media = MediaStore::new(dir.path(), 1024 * 1024).with_limits(u64::MAX / (1024 * 1024), 1);
        assert!(matches!(media.store(&png(2, 2, 0)).await, Err(MediaError::DiskLow { .. })));
        assert_eq!(files_in(dir.path()), 0);
        let relaxed = MediaStore::new(dir.path(), 1024 * 1024).with_limits(0, 1);
        relaxed.store(&png(2, 2, 0)).await.unwrap();
    }
}
