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
}
