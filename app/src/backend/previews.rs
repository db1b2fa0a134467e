//! Previews of attached files, made off the request path. When an upload becomes a staged
//! attachment, `schedule` queues its preview; a few makers at a time read the file from the
//! store, decode it with limits, turn it upright (EXIF orientation), scale it and store JPEGs
//! without metadata: a preview (at most `PREVIEW_SIDE` a side) and, for images larger than
//! that, a picture for the lightbox (`DISPLAY_SIDE`), so a phone never loads a 12 MP original
//! to look at it. A PDF's first page is drawn by `pdftoppm` (poppler-utils) when installed, in
//! a process with time and memory limits. GIFs show their first frame; HEIC (no decoder) and
//! video get none: the page shows a card, and the browser's player plays video.
//!
//! A preview's state lives on its attachment's row: pending, ready, none (nothing to show) or
//! failed (never tried again). A maker claims a row for `CLAIM` and counts the attempt first,
//! so previews lost to a crash or a full queue are made by `make_missing` (at start-up and in
//! the periodic housekeeping), and a file that brings its maker down is given up after
//! `MAX_ATTEMPTS`. Pictures are deleted with their attachment, and the orphan sweep knows them.

use super::accounts::Viewer;
use super::attachments::Download;
use super::error::ServiceError;
use super::files::FileStore;
use super::storage::previews::{StoredPicture, FAILED, NONE};
use super::storage::Db;
use super::tickets::scope_of;
use crate::i18n::Msg;
use crate::model::{AttachmentInfo, PictureSize};
use chrono::{Duration, Utc};
use image::codecs::jpeg::JpegEncoder;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};
use std::io::Cursor;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use tokio::sync::Semaphore;

/// A preview fits in a square of this side, in pixels (thumbnails show at half of it, so they
/// stay sharp on dense screens).
pub const PREVIEW_SIDE: u32 = 480;
/// The lightbox's picture fits in a square of this side.
pub const DISPLAY_SIDE: u32 = 1600;
/// Files larger than this get no preview: they are not read.
pub const MAX_SOURCE_BYTES: usize = 64 * 1024 * 1024;
/// Pictures with a side larger than this are not decoded.
const MAX_SOURCE_SIDE: u32 = 16_384;
/// What decoding one picture may allocate (a 12 MP photo takes 36 MB; 64 MP with transparency
/// fits), with two makers at once.
const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;
const JPEG_QUALITY: u8 = 82;
/// Previews made at once, each on the blocking pool (or in a `pdftoppm` process): decoding is
/// CPU-bound, and requests must keep their share of the machine.
const MAKERS: usize = 2;
/// Previews that may wait for a maker; beyond that `make_missing` makes them later.
const QUEUE_LIMIT: usize = 256;
/// How long a maker holds a preview it claimed; one that died loses it then.
const CLAIM: Duration = Duration::minutes(2);
/// Claims of one preview before it is given up (a file that crashed its maker each time).
const MAX_ATTEMPTS: i32 = 3;
/// Previews `make_missing` makes in one call.
const SWEEP_BATCH: i64 = 100;
/// `pdftoppm`'s limits: wall-clock time, CPU seconds and address space.
const PDF_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);
const PDF_CPU_SECONDS: u32 = 15;
const PDF_MEMORY_BYTES: u64 = 512 * 1024 * 1024;

/// One queue for the whole process: every store and database of it shares the same CPU.
static MAKING: Semaphore = Semaphore::const_new(MAKERS);
static QUEUED: AtomicUsize = AtomicUsize::new(0);

/// Which picture of an attachment is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Picture {
    Preview,
    Display,
}

/// What a preview is made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Image(ImageFormat),
    Pdf,
}

fn source_of(content_type: &str) -> Option<Source> {
    match content_type {
        "image/jpeg" => Some(Source::Image(ImageFormat::Jpeg)),
        "image/png" => Some(Source::Image(ImageFormat::Png)),
        "image/webp" => Some(Source::Image(ImageFormat::WebP)),
        "image/gif" => Some(Source::Image(ImageFormat::Gif)),
        "application/pdf" => Some(Source::Pdf),
        _ => None,
    }
}

/// A picture's size from its row's columns (both set once it exists).
pub fn size_of(width: Option<i32>, height: Option<i32>) -> Option<PictureSize> {
    Some(PictureSize {
        width: u32::try_from(width?).ok()?,
        height: u32::try_from(height?).ok()?,
    })
}

/// Queues the making of an attachment's preview, to run after the caller's request; it does
/// nothing when the queue is full (`make_missing` makes it later).
pub fn schedule(db: &Db, store: &FileStore, attachment_id: &str) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    if QUEUED.fetch_add(1, Ordering::SeqCst) >= QUEUE_LIMIT {
        QUEUED.fetch_sub(1, Ordering::SeqCst);
        return;
    }
    let queued = Queued;
    let (db, store, id) = (db.clone(), store.clone(), attachment_id.to_string());
    runtime.spawn(async move {
        let _queued = queued;
        if let Err(err) = make(&db, &store, &id).await {
            tracing::warn!(attachment = %id, error = %err, "making a preview failed; it is tried again later");
        }
    });
}

/// A place in the queue, given back however its task ends.
struct Queued;

impl Drop for Queued {
    fn drop(&mut self) {
        QUEUED.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Makes the previews that are still pending and that no maker holds: lost to a crash or a
/// full queue. Call it at start-up and from time to time. Returns how many it went through.
pub async fn make_missing(db: &Db, store: &FileStore) -> Result<usize, ServiceError> {
    let ids = db
        .unclaimed_previews(Utc::now(), MAX_ATTEMPTS, SWEEP_BATCH)
        .await?;
    for id in &ids {
        // One file that cannot be read (its attempt is counted) does not hold up the others.
        if let Err(err) = make(db, store, id).await {
            tracing::warn!(attachment = %id, error = %err, "making a missing preview failed");
        }
    }
    Ok(ids.len())
}

/// Makes one attachment's preview, if it is still pending and no other maker holds it.
async fn make(db: &Db, store: &FileStore, id: &str) -> Result<(), ServiceError> {
    let Some(source) = db.pending_preview(id).await? else {
        return Ok(());
    };
    let kind = match source_of(&source.content_type) {
        Some(Source::Pdf) if pdf_renderer().is_none() => None,
        other => other,
    };
    let Some(kind) =
        kind.filter(|_| usize::try_from(source.size).is_ok_and(|size| size <= MAX_SOURCE_BYTES))
    else {
        db.settle_preview(id, NONE).await?;
        return Ok(());
    };
    // Waited for before claiming, so a claim never lapses in the queue.
    let _maker = MAKING.acquire().await.map_err(|_| Msg::ErrorInternal)?;
    let now = Utc::now();
    if !db.claim_preview(id, now, now + CLAIM, MAX_ATTEMPTS).await? {
        return Ok(());
    }
    let bytes = store.read(&source.storage_name, MAX_SOURCE_BYTES).await?;
    let made = match kind {
        Source::Image(format) => tokio::task::spawn_blocking(move || pictures_of(&bytes, format))
            .await
            .map_err(|_| Msg::ErrorInternal)?,
        Source::Pdf => match first_page_of_pdf(bytes).await {
            Ok(page) => tokio::task::spawn_blocking(move || pictures_of(&page, ImageFormat::Jpeg))
                .await
                .map_err(|_| Msg::ErrorInternal)?,
            Err(reason) => Err(reason),
        },
    };
    let pictures = match made {
        Ok(pictures) => pictures,
        Err(reason) => {
            tracing::info!(attachment = %id, %reason, "no preview: the file could not be drawn");
            db.settle_preview(id, FAILED).await?;
            return Ok(());
        }
    };
    let preview = put(store, pictures.preview).await?;
    let display = match pictures.display {
        Some(display) => Some(put(store, display).await?),
        None => None,
    };
    if !db.record_preview(id, &preview, display.as_ref()).await? {
        // The attachment went meanwhile: nothing names these pictures.
        for picture in std::iter::once(&preview).chain(display.as_ref()) {
            store.delete(&picture.name).await?;
        }
    }
    Ok(())
}

async fn put(store: &FileStore, picture: Encoded) -> Result<StoredPicture, ServiceError> {
    let name = store.put(picture.jpeg).await?;
    Ok(StoredPicture {
        name,
        width: i32::try_from(picture.width).unwrap_or(i32::MAX),
        height: i32::try_from(picture.height).unwrap_or(i32::MAX),
    })
}

/// A picture of an attachment to serve, checked like its download: a staged file only for its
/// owner, a committed one through its ticket's scope, an internal one only for staff. One
/// that does not exist (yet) is not found.
pub async fn for_picture(
    db: &Db,
    store: &FileStore,
    viewer: &Viewer,
    attachment_id: &str,
    picture: Picture,
) -> Result<Download, ServiceError> {
    let row = db
        .attachment_in_scope(
            scope_of(viewer),
            viewer.user_id,
            attachment_id.trim(),
            Utc::now(),
        )
        .await?
        .ok_or(Msg::ErrorNotFound)?;
    let name = match picture {
        Picture::Preview => row.preview_name.as_deref(),
        Picture::Display => row.display_name.as_deref(),
    }
    .ok_or(Msg::ErrorNotFound)?;
    let stem = row
        .name
        .rsplit_once('.')
        .map_or(row.name.as_str(), |(stem, _)| stem);
    Ok(Download {
        info: AttachmentInfo {
            id: row.id.clone(),
            name: format!("{stem}.jpg"),
            size: 0,
            content_type: "image/jpeg".to_string(),
            // The picture is made from exactly these bytes, so its ETag is theirs too.
            sha256: row.sha256.clone(),
            created_at: row.created_at,
            internal: row.internal,
            inline: true,
            preview: None,
            display: None,
        },
        file: store.stored(name)?,
    })
}

/// A JPEG made for an attachment.
struct Encoded {
    jpeg: Vec<u8>,
    width: u32,
    height: u32,
}

/// What is made of one file: its preview, and for a large image the lightbox's picture.
struct Pictures {
    preview: Encoded,
    display: Option<Encoded>,
}

/// Decodes a picture within limits, turns it upright and makes its JPEGs. CPU-heavy: call
/// from `spawn_blocking`.
fn pictures_of(bytes: &[u8], format: ImageFormat) -> Result<Pictures, String> {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SOURCE_SIDE);
    limits.max_image_height = Some(MAX_SOURCE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits.clone());
    let mut decoder = reader.into_decoder().map_err(|e| e.to_string())?;
    // `ImageReader::decode` reserves the picture's buffer against the limits; decoding
    // through the decoder (for its orientation) must do it itself.
    limits
        .reserve(decoder.total_bytes())
        .map_err(|e| e.to_string())?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let image = DynamicImage::from_decoder(decoder).map_err(|e| e.to_string())?;
    // Scaled first and turned upright after (fitting a square does not care which way is up),
    // so no second full-size buffer is made.
    let larger = image.width() > PREVIEW_SIDE || image.height() > PREVIEW_SIDE;
    let mut display = larger.then(|| fit(&image, DISPLAY_SIDE));
    let mut preview = fit(display.as_ref().unwrap_or(&image), PREVIEW_SIDE);
    drop(image);
    preview.apply_orientation(orientation);
    if let Some(display) = display.as_mut() {
        display.apply_orientation(orientation);
    }
    Ok(Pictures {
        preview: encode(&preview)?,
        display: display.as_ref().map(encode).transpose()?,
    })
}

/// The picture scaled down to fit a square of `side`, or as it is when it already fits.
fn fit(image: &DynamicImage, side: u32) -> DynamicImage {
    if image.width() <= side && image.height() <= side {
        image.clone()
    } else {
        image.thumbnail(side, side)
    }
}

/// A baseline JPEG with no metadata at all (the encoder writes none): transparent parts are
/// laid on white.
fn encode(image: &DynamicImage) -> Result<Encoded, String> {
    let rgb = if image.color().has_alpha() {
        let rgba = image.to_rgba8();
        RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
            let [r, g, b, a] = rgba.get_pixel(x, y).0;
            let over_white =
                |c: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a))) / 255) as u8;
            image::Rgb([over_white(r), over_white(g), over_white(b)])
        })
    } else {
        image.to_rgb8()
    };
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, JPEG_QUALITY)
        .encode_image(&rgb)
        .map_err(|e| e.to_string())?;
    Ok(Encoded {
        jpeg,
        width: rgb.width(),
        height: rgb.height(),
    })
}

/// `prlimit` and `pdftoppm`, when both are installed.
fn pdf_renderer() -> Option<&'static (PathBuf, PathBuf)> {
    static FOUND: OnceLock<Option<(PathBuf, PathBuf)>> = OnceLock::new();
    FOUND
        .get_or_init(|| Some((on_path("prlimit")?, on_path("pdftoppm")?)))
        .as_ref()
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// A PDF's first page as a JPEG of `PREVIEW_SIDE`, drawn by `pdftoppm` in a process of its own
/// with limits on time, CPU and memory (a PDF is a program of sorts), in a directory of its own.
async fn first_page_of_pdf(pdf: Vec<u8>) -> Result<Vec<u8>, String> {
    let (prlimit, pdftoppm) = pdf_renderer().ok_or("pdftoppm is not installed")?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let input = dir.path().join("in.pdf");
    let output = dir.path().join("page");
    tokio::fs::write(&input, &pdf)
        .await
        .map_err(|e| e.to_string())?;
    drop(pdf);
    let mut command = tokio::process::Command::new(prlimit);
    command
        .arg(format!("--as={PDF_MEMORY_BYTES}"))
        .arg(format!("--cpu={PDF_CPU_SECONDS}"))
        .arg("--")
        .arg(pdftoppm)
        .args(["-q", "-f", "1", "-l", "1", "-singlefile", "-jpeg"])
        .args(["-scale-to", &PREVIEW_SIDE.to_string()])
        .arg(&input)
        .arg(&output)
        .current_dir(dir.path())
        .env_clear()
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|e| e.to_string())?;
    let status = match tokio::time::timeout(PDF_TIMEOUT, child.wait()).await {
        Ok(status) => status.map_err(|e| e.to_string())?,
        Err(_) => {
            let _ = child.kill().await;
            return Err("pdftoppm took too long".to_string());
        }
    };
    if !status.success() {
        return Err(format!("pdftoppm ended with {status}"));
    }
    tokio::fs::read(output.with_extension("jpg"))
        .await
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let image = RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 90]));
        let mut bytes = Vec::new();
        JpegEncoder::new_with_quality(&mut bytes, 90)
            .encode_image(&image)
            .unwrap();
        bytes
    }

    #[test]
    fn large_pictures_get_a_preview_and_a_display_size_small_ones_only_a_preview() {
        let large = pictures_of(&jpeg(2000, 1000), ImageFormat::Jpeg).unwrap();
        assert_eq!((large.preview.width, large.preview.height), (480, 240));
        let display = large.display.unwrap();
        assert_eq!((display.width, display.height), (1600, 800));
        let small = pictures_of(&jpeg(300, 200), ImageFormat::Jpeg).unwrap();
        assert_eq!((small.preview.width, small.preview.height), (300, 200));
        assert!(small.display.is_none());
    }

    #[test]
    fn transparent_pictures_are_laid_on_white_and_garbage_is_refused() {
        let clear = image::RgbaImage::from_pixel(10, 10, image::Rgba([0, 0, 0, 0]));
        let mut png = Vec::new();
        DynamicImage::ImageRgba8(clear)
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        let made = pictures_of(&png, ImageFormat::Png).unwrap();
        let back = image::load_from_memory(&made.preview.jpeg)
            .unwrap()
            .to_rgb8();
        assert!(back.pixels().all(|p| p.0.iter().all(|&c| c > 245)), "white");
        assert!(pictures_of(b"\xFF\xD8\xFF\xE0 not really", ImageFormat::Jpeg).is_err());
    }

    #[test]
    fn pictures_over_the_side_limit_are_not_decoded() {
        // A PNG header that claims 20,000 × 20,000 pixels (1.2 GB decoded), nothing after it.
        let mut header = b"IHDR".to_vec();
        header.extend_from_slice(&20_000u32.to_be_bytes());
        header.extend_from_slice(&20_000u32.to_be_bytes());
        header.extend_from_slice(&[8, 2, 0, 0, 0]);
        let crc = header.iter().fold(!0u32, |crc, &byte| {
            (0..8).fold(crc ^ u32::from(byte), |crc, _| {
                (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg())
            })
        });
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\r".to_vec();
        png.extend_from_slice(&header);
        png.extend_from_slice(&(!crc).to_be_bytes());
        let refused = pictures_of(&png, ImageFormat::Png).err().unwrap();
        assert!(refused.contains("limit"), "{refused}");
    }
}
