//! Files attached to tickets, as the browser and the REST API see them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The longest file name kept (in characters); longer names are cut, keeping the extension.
pub const FILE_NAME_MAX_CHARS: usize = 200;

/// One attached file, as the viewer may see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentInfo {
    /// Random (256 bits), never sequential: it names the file in download addresses.
    pub id: String,
    /// The name the file had on the sender's device, cleaned of paths and control characters.
    /// Display it escaped, like any text.
    pub name: String,
    /// In bytes.
    pub size: u64,
    /// Detected from the file's first bytes, never taken from its name or the browser.
    pub content_type: String,
    /// SHA-256 of the stored bytes, in hexadecimal.
    pub sha256: String,
    pub created_at: DateTime<Utc>,
    /// Attached to an internal note: staff only.
    pub internal: bool,
    /// May be shown inline (allowlisted raster images and video); everything else downloads.
    pub inline: bool,
    /// Its preview, once made: a small JPEG of an image or of a PDF's first page.
    pub preview: Option<PictureSize>,
    /// A larger JPEG of an image for the lightbox, made when the image is larger than its
    /// preview (otherwise the preview is the largest picture there is).
    pub display: Option<PictureSize>,
}

/// A picture's size in pixels (for `width` and `height`, so the page does not shift as it loads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PictureSize {
    pub width: u32,
    pub height: u32,
}

impl AttachmentInfo {
    /// Where the file downloads (or shows, for images and video), with the viewer's rights.
    pub fn download_url(&self) -> String {
        format!("/api/v1/attachments/{}", self.id)
    }

    /// Where its preview is served (while `preview` is `Some`).
    pub fn preview_url(&self) -> String {
        format!("/api/v1/attachments/{}/preview", self.id)
    }

    /// The picture for the lightbox, and its size: the display picture, else the preview.
    pub fn display_picture(&self) -> Option<(String, PictureSize)> {
        match (self.display, self.preview) {
            (Some(size), _) => Some((format!("/api/v1/attachments/{}/display", self.id), size)),
            (None, Some(size)) => Some((self.preview_url(), size)),
            (None, None) => None,
        }
    }
}
