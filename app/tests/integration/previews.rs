//! Previews of attached files on a real database and a real file store: made off the request
//! path once an upload is complete, upright and without metadata, never retried for a broken
//! file, made again after a crash, deleted with their attachment, and served with the rights
//! of the file itself.

use crate::common;

use app::backend::accounts::Viewer;
use app::backend::attachments::{self, NewUpload};
use app::backend::events::EventBus;
use app::backend::files::{FileStore, StoredFile};
use app::backend::previews::{self, Picture};
use app::backend::storage::Db;
use app::backend::tickets::{self, NewTicket};
use app::i18n::Msg;
use app::model::{AttachmentInfo, PictureSize, Priority, RequestType};
use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use common::{config, file_site, user_msg, FileSite};
use futures_util::TryStreamExt;
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use std::io::Cursor;

/// The file fixtures, with this file's own helpers.
struct Site(FileSite);

impl std::ops::Deref for Site {
    type Target = FileSite;
    fn deref(&self) -> &FileSite {
        &self.0
    }
}

async fn site() -> Site {
    Site(file_site(config()).await)
}

impl Site {
    fn store(&self) -> &FileStore {
        &self.files.store
    }

    /// Uploads a whole file at once: its staged attachment's id. Its preview is queued then.
    async fn upload(&self, who: &Viewer, name: &str, bytes: &[u8]) -> String {
        let upload = attachments::begin_upload(
            self.db(),
            &config(),
            who,
            NewUpload {
                name: name.into(),
                length: bytes.len() as u64,
            },
        )
        .await
        .unwrap();
        let body = futures_util::stream::iter([Ok(Bytes::copy_from_slice(bytes))]);
        attachments::append(self.db(), self.store(), who, &upload.id, 0, body)
            .await
            .unwrap()
            .attachment
            .expect("a staged attachment")
            .id
    }

    /// The staged file as its owner sees it.
    async fn staged(&self, who: &Viewer, id: &str) -> AttachmentInfo {
        attachments::for_download(self.db(), self.store(), who, id)
            .await
            .unwrap()
            .info
    }

    /// Waits until the preview of `id` is no longer pending: its state then.
    async fn settled(&self, id: &str) -> Progress {
        let waited = std::time::Instant::now();
        loop {
            let progress = progress(self.db(), id).await;
            if progress.state != "pending" {
                return progress;
            }
            assert!(
                waited.elapsed() < std::time::Duration::from_secs(60),
                "the preview of {id} is still pending"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    async fn picture(&self, who: &Viewer, id: &str, picture: Picture) -> Option<Vec<u8>> {
        match previews::for_picture(self.db(), self.store(), who, id, picture).await {
            Ok(download) => Some(read_stored(&download.file).await),
            Err(err) => {
                assert_eq!(user_msg(Err::<(), _>(err)), Msg::ErrorNotFound);
                None
            }
        }
    }

    async fn file_count(&self) -> usize {
        self.store().list().await.unwrap().len()
    }
}

async fn read_stored(file: &StoredFile) -> Vec<u8> {
    match file {
        StoredFile::Local(path) => std::fs::read(path).unwrap(),
        StoredFile::S3(object) => {
            let size = object.size().await.unwrap();
            let chunks: Vec<Bytes> = object
                .stream(0..size)
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            chunks.concat()
        }
    }
}

/// What the attachment's row says of its preview.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
struct Progress {
    state: String,
    attempts: i32,
}

async fn progress(db: &Db, id: &str) -> Progress {
    let sql = "SELECT preview_state AS state, preview_attempts AS attempts FROM attachments \
               WHERE id = $1";
    match db {
        Db::Sqlite(pool) => sqlx::query_as(sql).bind(id).fetch_one(pool).await,
        Db::Postgres(pool) => sqlx::query_as(sql).bind(id).fetch_one(pool).await,
    }
    .unwrap()
}

/// Puts a preview back where a maker that died mid-way leaves it: pending, the pictures it
/// stored named by no row, claimed until `claimed_until` after `attempts` attempts.
async fn as_if_its_maker_died(db: &Db, id: &str, attempts: i32, claimed_until: DateTime<Utc>) {
    let sql = "UPDATE attachments SET preview_state = 'pending', preview_attempts = $2, \
               preview_claimed_until = $3, preview_name = NULL, preview_width = NULL, \
               preview_height = NULL, display_name = NULL, display_width = NULL, \
               display_height = NULL WHERE id = $1";
    match db {
        Db::Sqlite(pool) => sqlx::query(sql)
            .bind(id)
            .bind(attempts)
            .bind(claimed_until)
            .execute(pool)
            .await
            .map(|_| ()),
        Db::Postgres(pool) => sqlx::query(sql)
            .bind(id)
            .bind(attempts)
            .bind(claimed_until)
            .execute(pool)
            .await
            .map(|_| ()),
    }
    .unwrap()
}

/// A wide JPEG, red on its left half and blue on its right.
fn red_and_blue_jpeg(width: u32, height: u32) -> Vec<u8> {
    let image = RgbImage::from_fn(width, height, |x, _| {
        if x < width / 2 {
            Rgb([220, 20, 20])
        } else {
            Rgb([20, 20, 220])
        }
    });
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&image)
        .unwrap();
    jpeg
}

/// The camera maker this file's EXIF names: it must not reach a preview.
const MAKER: &[u8] = b"CupulaCam 3000\0";

/// `jpeg` with an EXIF block as cameras write it: the maker and an orientation (6: turn 90°
/// clockwise to show it, as a phone held upright records).
fn with_exif(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend(2u16.to_be_bytes());
    // Make (ASCII), its text after the directory: 8 + 2 + 2 × 12 + 4 = 38.
    tiff.extend([0x01, 0x0F, 0, 2]);
    tiff.extend((MAKER.len() as u32).to_be_bytes());
    tiff.extend(38u32.to_be_bytes());
    // Orientation (SHORT), in the entry itself.
    tiff.extend([0x01, 0x12, 0, 3, 0, 0, 0, 1]);
    tiff.extend(orientation.to_be_bytes());
    tiff.extend([0, 0]);
    tiff.extend(0u32.to_be_bytes());
    tiff.extend(MAKER);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend([0xFF, 0xE1]);
    out.extend(((app1.len() + 2) as u16).to_be_bytes());
    out.extend(app1);
    out.extend(&jpeg[2..]);
    out
}

fn encoded(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut bytes), format)
        .unwrap();
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn size(width: u32, height: u32) -> Option<PictureSize> {
    Some(PictureSize { width, height })
}

#[tokio::test]
async fn a_photo_gets_an_upright_preview_and_a_display_picture_without_its_metadata() {
    let site = site().await;
    let photo = with_exif(&red_and_blue_jpeg(2000, 1000), 6);
    let id = site.upload(&site.ana, "cúpula.jpg", &photo).await;
    assert_eq!(site.settled(&id).await.state, "ready");

    // Turned upright: the wide picture stands, its left half on top.
    let info = site.staged(&site.ana, &id).await;
    assert_eq!(info.preview, size(240, 480));
    assert_eq!(info.display, size(800, 1600));
    let preview = site
        .picture(&site.ana, &id, Picture::Preview)
        .await
        .unwrap();
    let display = site
        .picture(&site.ana, &id, Picture::Display)
        .await
        .unwrap();
    for (jpeg, (width, height)) in [(&preview, (240, 480)), (&display, (800, 1600))] {
        assert!(jpeg.starts_with(&[0xFF, 0xD8, 0xFF]), "a JPEG");
        assert!(!contains(jpeg, b"Exif"), "no EXIF block");
        assert!(!contains(jpeg, &MAKER[..9]), "nothing the camera wrote");
        let picture = image::load_from_memory(jpeg).unwrap().to_rgb8();
        assert_eq!(picture.dimensions(), (width, height));
        let top = picture.get_pixel(width / 2, height / 10).0;
        let bottom = picture.get_pixel(width / 2, height * 9 / 10).0;
        assert!(top[0] > 150 && top[2] < 100, "red on top: {top:?}");
        assert!(bottom[2] > 150 && bottom[0] < 100, "blue below: {bottom:?}");
    }
    // The original is untouched: the download is the file as sent.
    let original = attachments::for_download(site.db(), site.store(), &site.ana, &id)
        .await
        .unwrap();
    assert_eq!(read_stored(&original.file).await, photo);
}

#[tokio::test]
async fn png_webp_and_gif_get_previews_and_other_types_none() {
    let site = site().await;
    let picture = |w, h| {
        DynamicImage::ImageRgba8(image::RgbaImage::from_fn(w, h, |x, y| {
            image::Rgba([(x % 256) as u8, (y % 256) as u8, 120, 255])
        }))
    };
    let png = encoded(picture(900, 600), ImageFormat::Png);
    let webp = encoded(picture(300, 200), ImageFormat::WebP);
    let gif = {
        // Two frames: the preview shows the first.
        let mut bytes = Vec::new();
        let mut encoder = image::codecs::gif::GifEncoder::new(&mut bytes);
        for colour in [[0u8, 200, 0, 255], [200, 0, 0, 255]] {
            let frame = image::RgbaImage::from_pixel(64, 32, image::Rgba(colour));
            encoder.encode_frame(image::Frame::new(frame)).unwrap();
        }
        drop(encoder);
        bytes
    };
    let png_id = site.upload(&site.ana, "montura.png", &png).await;
    let webp_id = site.upload(&site.ana, "guía.webp", &webp).await;
    let gif_id = site.upload(&site.ana, "giro.gif", &gif).await;
    let text_id = site
        .upload(&site.ana, "registro.log", b"12:00 cupula cerrada\n")
        .await;
    for id in [&png_id, &webp_id, &gif_id] {
        assert_eq!(site.settled(id).await.state, "ready", "{id}");
    }
    assert_eq!(site.settled(&text_id).await.state, "none");

    let png = site.staged(&site.ana, &png_id).await;
    assert_eq!((png.preview, png.display), (size(480, 320), size(900, 600)));
    let webp = site.staged(&site.ana, &webp_id).await;
    assert_eq!((webp.preview, webp.display), (size(300, 200), None));
    let gif = site.staged(&site.ana, &gif_id).await;
    assert_eq!(gif.preview, size(64, 32));
    let first = site
        .picture(&site.ana, &gif_id, Picture::Preview)
        .await
        .unwrap();
    let first = image::load_from_memory(&first).unwrap().to_rgb8();
    let [r, g, _] = first.get_pixel(32, 16).0;
    assert!(g > 150 && r < 80, "the first frame, green: {r} {g}");
    // A small image has no display picture; a text file no picture at all.
    assert!(site
        .picture(&site.ana, &webp_id, Picture::Display)
        .await
        .is_none());
    assert!(site
        .picture(&site.ana, &text_id, Picture::Preview)
        .await
        .is_none());
    let text = site.staged(&site.ana, &text_id).await;
    assert_eq!((text.preview, text.display), (None, None));
}

#[tokio::test]
async fn a_broken_image_gets_no_preview_and_is_never_tried_again() {
    let site = site().await;
    // JPEG by its first bytes (so it is accepted), nothing a decoder can read after them.
    let mut broken = vec![0xFF, 0xD8, 0xFF, 0xE0];
    broken.extend(std::iter::repeat_n(0x5A, 5000));
    let broken_id = site.upload(&site.ana, "rota.jpg", &broken).await;
    let good_id = site
        .upload(&site.ana, "bien.jpg", &red_and_blue_jpeg(64, 64))
        .await;

    let failed = site.settled(&broken_id).await;
    assert_eq!(
        failed,
        Progress {
            state: "failed".into(),
            attempts: 1
        }
    );
    assert_eq!(site.staged(&site.ana, &broken_id).await.preview, None);
    assert!(site
        .picture(&site.ana, &broken_id, Picture::Preview)
        .await
        .is_none());
    // Positive control: a readable file beside it got its preview.
    assert_eq!(site.settled(&good_id).await.state, "ready");

    // The sweep that makes lost previews leaves it alone: one attempt, for good.
    assert_eq!(
        previews::make_missing(site.db(), site.store())
            .await
            .unwrap(),
        0
    );
    assert_eq!(progress(site.db(), &broken_id).await, failed);
}

#[tokio::test]
async fn a_preview_lost_to_a_crash_is_made_by_the_sweep_and_one_that_keeps_crashing_is_given_up() {
    let site = site().await;
    let id = site
        .upload(&site.ana, "foco.jpg", &red_and_blue_jpeg(1000, 500))
        .await;
    assert_eq!(site.settled(&id).await.state, "ready");

    // Its maker died holding the claim: nobody takes it until the claim lapses.
    let now = Utc::now();
    as_if_its_maker_died(site.db(), &id, 1, now + Duration::minutes(2)).await;
    assert_eq!(
        previews::make_missing(site.db(), site.store())
            .await
            .unwrap(),
        0
    );
    assert_eq!(progress(site.db(), &id).await.state, "pending");
    // Lapsed (as after a restart): the sweep makes it.
    as_if_its_maker_died(site.db(), &id, 1, now - Duration::seconds(1)).await;
    assert_eq!(
        previews::make_missing(site.db(), site.store())
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        progress(site.db(), &id).await,
        Progress {
            state: "ready".into(),
            attempts: 2
        }
    );
    assert_eq!(site.staged(&site.ana, &id).await.preview, size(480, 240));

    // A file whose maker died on each of its three attempts is given up, not tried again.
    as_if_its_maker_died(site.db(), &id, 3, now - Duration::seconds(1)).await;
    assert_eq!(
        previews::make_missing(site.db(), site.store())
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        progress(site.db(), &id).await,
        Progress {
            state: "failed".into(),
            attempts: 3
        }
    );
}

#[tokio::test]
async fn previews_go_with_their_attachment_and_orphaned_ones_are_swept() {
    let site = site().await;
    let photo = red_and_blue_jpeg(1000, 500);

    // Taken out of the form: the file and both pictures go.
    let removed = site.upload(&site.ana, "quitada.jpg", &photo).await;
    assert_eq!(site.settled(&removed).await.state, "ready");
    assert_eq!(site.file_count().await, 3);
    attachments::discard_staged(site.db(), site.store(), &site.ana, &removed)
        .await
        .unwrap();
    assert_eq!(site.file_count().await, 0);

    // Never committed, expired and purged: the same.
    let expired = site.upload(&site.ana, "olvidada.jpg", &photo).await;
    assert_eq!(site.settled(&expired).await.state, "ready");
    assert_eq!(site.file_count().await, 3);
    attachments::purge_expired(site.db(), site.store(), Utc::now() + Duration::hours(25))
        .await
        .unwrap();
    assert_eq!(site.file_count().await, 0);

    // The orphan sweep keeps the pictures a row names...
    let kept = site.upload(&site.ana, "guardada.jpg", &photo).await;
    assert_eq!(site.settled(&kept).await.state, "ready");
    let later = Utc::now() + Duration::minutes(1);
    assert_eq!(
        attachments::remove_orphans(site.db(), site.store(), later)
            .await
            .unwrap(),
        0
    );
    assert_eq!(site.file_count().await, 3);
    // ...and removes those a crash left unrecorded, not the file itself.
    as_if_its_maker_died(site.db(), &kept, 1, Utc::now() + Duration::minutes(2)).await;
    assert_eq!(
        attachments::remove_orphans(site.db(), site.store(), later)
            .await
            .unwrap(),
        2
    );
    assert_eq!(site.file_count().await, 1);
    let original = attachments::for_download(site.db(), site.store(), &site.ana, &kept)
        .await
        .unwrap();
    assert_eq!(read_stored(&original.file).await, photo);
}

#[tokio::test]
async fn pictures_are_served_with_the_rights_of_their_file() {
    let site = site().await;
    let events = EventBus::new();
    let number = tickets::open_ticket(
        site.db(),
        &events,
        &config(),
        &site.ana,
        NewTicket {
            organization_id: None,
            request_type: RequestType::Repair,
            telescope_id: None,
            priority: Priority::Medium,
            subject: "La montura",
            comment: "Adjunto fotos.",
            attachments: &[],
        },
    )
    .await
    .unwrap()
    .number;
    let photo = red_and_blue_jpeg(1000, 500);
    let staged = site.upload(&site.ana, "staged.jpg", &photo).await;
    let public = site.upload(&site.ana, "public.jpg", &photo).await;
    let internal = site.upload(&site.agent, "internal.jpg", &photo).await;
    for id in [&staged, &public, &internal] {
        assert_eq!(site.settled(id).await.state, "ready");
    }
    for (who, id, internal) in [(&site.ana, &public, false), (&site.agent, &internal, true)] {
        attachments::commit(
            site.db(),
            &events,
            &config(),
            who,
            &number,
            std::slice::from_ref(id),
            internal,
        )
        .await
        .unwrap();
    }

    // Who sees which picture (both sizes): (viewer, file, sees it).
    let cases = [
        (&site.ana, &staged, true),
        (&site.agent, &staged, false),
        (&site.carla, &staged, false),
        (&site.ana, &public, true),
        (&site.agent, &public, true),
        (&site.carla, &public, false),
        (&site.agent, &internal, true),
        (&site.ana, &internal, false),
        (&site.carla, &internal, false),
    ];
    for (who, id, sees) in cases {
        for picture in [Picture::Preview, Picture::Display] {
            let got = site.picture(who, id, picture).await;
            assert_eq!(got.is_some(), sees, "{} {id} {picture:?}", who.user_id);
        }
    }
    // What a ticket lists carries the pictures' sizes.
    let listed = attachments::list(site.db(), &site.ana, &number)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].preview, size(480, 240));
}

#[tokio::test]
async fn a_pdf_gets_its_first_page_when_pdftoppm_is_installed() {
    let site = site().await;
    let id = site.upload(&site.ana, "manual.pdf", &one_page_pdf()).await;
    let installed = std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .any(|dir| dir.join("pdftoppm").is_file());
    if !installed {
        // The test script installs poppler-utils; without it PDFs show as cards.
        assert_eq!(site.settled(&id).await.state, "none");
        return;
    }
    assert_eq!(site.settled(&id).await.state, "ready");
    let info = site.staged(&site.ana, &id).await;
    // A portrait A4 page fits 480 px high.
    let PictureSize { width, height } = info.preview.unwrap();
    assert_eq!(height, 480);
    assert!((330..=345).contains(&width), "{width}");
    assert_eq!(info.display, None);
    let page = site
        .picture(&site.ana, &id, Picture::Preview)
        .await
        .unwrap();
    let page = image::load_from_memory(&page).unwrap().to_rgb8();
    // The page is white, with the dark bar drawn across its top.
    assert!(page
        .get_pixel(width / 2, height - 10)
        .0
        .iter()
        .all(|&c| c > 230));
    assert!(page.get_pixel(width / 2, 40).0.iter().all(|&c| c < 60));
}

/// An A4 page with a black bar across its top, written out with a correct cross-reference table.
fn one_page_pdf() -> Vec<u8> {
    let content = "0 0 0 rg 50 740 495 60 re f";
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>".to_string(),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for offset in offsets {
        pdf.extend(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

/// The benchmark of issue #11: time from the last byte of a 12 MP photo to its preview being
/// ready (queue, read, decode, orientation, scaling, encoding, storing, recording). Run it in
/// release: `cargo test --release -p app --features ssr --test integration -- previews:: --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: run it in release, on its own"]
async fn time_to_first_thumbnail_of_a_12_mp_photo() {
    let site = site().await;
    // 4000 × 3000 with detail everywhere, as a photo has (a flat picture decodes faster).
    let mut noise: u32 = 2463534242;
    let photo = RgbImage::from_fn(4000, 3000, |x, y| {
        noise ^= noise << 13;
        noise ^= noise >> 17;
        noise ^= noise << 5;
        let n = (noise & 0x3F) as u8;
        Rgb([
            (x / 16) as u8 ^ n,
            (y / 12) as u8 ^ n,
            ((x + y) / 28) as u8 ^ n,
        ])
    });
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&photo)
        .unwrap();
    let jpeg = with_exif(&jpeg, 6);
    let mut runs = Vec::new();
    for run in 0..5 {
        let started = std::time::Instant::now();
        let id = site
            .upload(&site.ana, &format!("foto-{run}.jpg"), &jpeg)
            .await;
        let uploaded = started.elapsed();
        assert_eq!(site.settled(&id).await.state, "ready");
        let ready = started.elapsed();
        println!(
            "12 MP JPEG ({} bytes): upload finished after {uploaded:?}, preview ready {:?} after the last byte",
            jpeg.len(),
            ready - uploaded
        );
        runs.push(ready - uploaded);
    }
    runs.sort();
    println!("median time to first thumbnail: {:?}", runs[runs.len() / 2]);
}
