//! The observatory's logo: uploaded by an admin, checked, re-encoded, served to every page.
//!
//! Only PNG, JPEG and WebP are taken, recognised by their first bytes (never by name or
//! declared type). The picture is decoded with size and memory limits, scaled to fit
//! `MAX_SIDE`, and written again as PNG, so nothing the uploader put in the file but its pixels
//! reaches other people's browsers.

use super::accounts::Viewer;
use super::error::ServiceError;
use super::storage::Db;
use crate::i18n::Msg;
use image::{ImageFormat, ImageReader, Limits};
use std::io::Cursor;
use std::path::{Path, PathBuf};

/// Uploads larger than this are refused while they arrive.
pub const MAX_UPLOAD_BYTES: usize = 2 * 1024 * 1024;
/// The stored logo fits in a square of this side, in pixels.
pub const MAX_SIDE: u32 = 512;
/// Pictures with a side larger than this are refused before they are decoded.
const MAX_SOURCE_SIDE: u32 = 8192;

/// The allowed formats, by their magic bytes.
pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(ImageFormat::WebP)
    } else {
        None
    }
}

/// Decodes, scales and re-encodes a logo as PNG. CPU-heavy: call from `spawn_blocking`.
pub fn reencode_blocking(bytes: &[u8]) -> Result<Vec<u8>, Msg> {
    let format = sniff(bytes).ok_or(Msg::ErrorLogoFormat)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SOURCE_SIDE);
    limits.max_image_height = Some(MAX_SOURCE_SIDE);
    limits.max_alloc = Some(256 * 1024 * 1024);
    reader.limits(limits);
    let picture = reader.decode().map_err(|_| Msg::ErrorLogoUnreadable)?;
    let picture = if picture.width() > MAX_SIDE || picture.height() > MAX_SIDE {
        picture.thumbnail(MAX_SIDE, MAX_SIDE)
    } else {
        picture
    };
    let mut png = Vec::new();
    picture
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .map_err(|_| Msg::ErrorLogoUnreadable)?;
    Ok(png)
}

/// Where logos live: under the data directory, never inside the served site.
pub fn logo_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("branding")
}

/// Stores a new logo for the viewer's observatory and forgets the old one.
pub async fn replace_logo(
    db: &Db,
    data_dir: &Path,
    viewer: &Viewer,
    upload: Vec<u8>,
) -> Result<(), ServiceError> {
    viewer.require_admin()?;
    let png = tokio::task::spawn_blocking(move || reencode_blocking(&upload))
        .await
        .map_err(|_| ServiceError::User(Msg::ErrorLogoUnreadable))??;
    let dir = logo_dir(data_dir);
    let name = format!(
        "logo-{}-{}.png",
        viewer.observatory_id,
        &super::tokens::random_token()[..16]
    );
    tokio::fs::create_dir_all(&dir).await?;
    tokio::fs::write(dir.join(&name), &png).await?;
    let previous = match db.set_logo_file(viewer.observatory_id, Some(&name)).await {
        Ok(previous) => previous,
        Err(err) => {
            // Nothing names the new file: it goes, or it would stay forever.
            let _ = tokio::fs::remove_file(dir.join(&name)).await;
            return Err(err.into());
        }
    };
    if let Some(previous) = previous {
        let _ = tokio::fs::remove_file(dir.join(previous)).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let picture = image::RgbaImage::from_pixel(width, height, image::Rgba([20, 60, 120, 255]));
        let mut bytes = Vec::new();
        image::DynamicImage::ImageRgba8(picture)
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .unwrap();
        bytes
    }

    #[test]
    fn only_png_jpeg_and_webp_are_recognised() {
        assert_eq!(sniff(&png(2, 2)), Some(ImageFormat::Png));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(ImageFormat::Jpeg));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(ImageFormat::WebP));
        assert_eq!(sniff(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"), None);
        assert_eq!(sniff(b"<html><script>alert(1)</script>"), None);
        assert_eq!(sniff(b"GIF89a"), None);
    }

    #[test]
    fn large_pictures_are_scaled_and_everything_becomes_png() {
        let out = reencode_blocking(&png(2000, 1000)).unwrap();
        let decoded = image::load_from_memory_with_format(&out, ImageFormat::Png).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (512, 256));
        let small = reencode_blocking(&png(64, 32)).unwrap();
        let decoded = image::load_from_memory(&small).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (64, 32));
    }

    #[test]
    fn broken_or_foreign_files_are_refused_without_panicking() {
        assert_eq!(reencode_blocking(b"<svg/>"), Err(Msg::ErrorLogoFormat));
        let mut truncated = png(100, 100);
        truncated.truncate(60);
        assert_eq!(reencode_blocking(&truncated), Err(Msg::ErrorLogoUnreadable));
        assert_eq!(
            reencode_blocking(b"\x89PNG\r\n\x1a\nnonsense"),
            Err(Msg::ErrorLogoUnreadable)
        );
    }
}
