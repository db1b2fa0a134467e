//! The tus 1.0 core protocol's headers (https://tus.io/protocols/resumable-upload), so standard
//! clients (tus-js-client, Uppy, tusd's `curl` recipes) can upload to the portal and resume an
//! upload from the last byte the server has.

use axum::http::{HeaderMap, HeaderValue};
use base64::Engine as _;

/// The protocol version this server speaks (and the only one).
pub const VERSION: &str = "1.0.0";
/// The extensions: creating uploads, their expiry, and ending them early.
pub const EXTENSIONS: &str = "creation,expiration,termination";
/// The content type of a `PATCH` body.
pub const PATCH_CONTENT_TYPE: &str = "application/offset+octet-stream";

pub const TUS_RESUMABLE: &str = "tus-resumable";
pub const TUS_VERSION: &str = "tus-version";
pub const TUS_EXTENSION: &str = "tus-extension";
pub const TUS_MAX_SIZE: &str = "tus-max-size";
pub const UPLOAD_LENGTH: &str = "upload-length";
pub const UPLOAD_OFFSET: &str = "upload-offset";
pub const UPLOAD_METADATA: &str = "upload-metadata";
pub const UPLOAD_EXPIRES: &str = "upload-expires";

/// Whether the request says it speaks our version (every request but `OPTIONS` must).
pub fn speaks_our_version(headers: &HeaderMap) -> bool {
    headers
        .get(TUS_RESUMABLE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == VERSION)
}

/// A non-negative whole number header (`Upload-Length`, `Upload-Offset`).
pub fn number(headers: &HeaderMap, name: &str) -> Option<u64> {
    let value = headers.get(name)?.to_str().ok()?.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// A value of `Upload-Metadata`: comma-separated `key base64value` pairs (the value may be
/// absent). Unreadable pairs are skipped: metadata is a hint, never trusted.
pub fn metadata(headers: &HeaderMap, key: &str) -> Option<String> {
    let header = headers.get(UPLOAD_METADATA)?.to_str().ok()?;
    header.split(',').find_map(|pair| {
        let mut parts = pair.split_whitespace();
        if parts.next()? != key {
            return None;
        }
        let encoded = parts.next().unwrap_or_default();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()?;
        String::from_utf8(bytes).ok()
    })
}

/// An HTTP date (RFC 9110 IMF-fixdate) for `Upload-Expires`.
pub fn http_date(time: chrono::DateTime<chrono::Utc>) -> HeaderValue {
    HeaderValue::from_str(&time.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .expect("a formatted date is ASCII")
}

pub fn header_number(value: u64) -> HeaderValue {
    HeaderValue::from(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn numbers_are_plain_digits() {
        let h = headers(&[("upload-length", "1024"), ("upload-offset", "-1")]);
        assert_eq!(number(&h, UPLOAD_LENGTH), Some(1024));
        assert_eq!(number(&h, UPLOAD_OFFSET), None);
        assert_eq!(
            number(&headers(&[("upload-offset", "+5")]), UPLOAD_OFFSET),
            None
        );
        assert_eq!(
            number(&headers(&[("upload-offset", " 7 ")]), UPLOAD_OFFSET),
            Some(7)
        );
        assert_eq!(number(&HeaderMap::new(), UPLOAD_OFFSET), None);
    }

    #[test]
    fn metadata_pairs_are_decoded() {
        // "filename montura.jpg,filetype image/jpeg,is_confidential"
        let h = headers(&[(
            "upload-metadata",
            "filename bW9udHVyYS5qcGc=,filetype aW1hZ2UvanBlZw==,is_confidential",
        )]);
        assert_eq!(metadata(&h, "filename").as_deref(), Some("montura.jpg"));
        assert_eq!(metadata(&h, "filetype").as_deref(), Some("image/jpeg"));
        assert_eq!(metadata(&h, "is_confidential").as_deref(), Some(""));
        assert_eq!(metadata(&h, "missing"), None);
        let broken = headers(&[("upload-metadata", "filename !!!")]);
        assert_eq!(metadata(&broken, "filename"), None);
    }

    #[test]
    fn the_version_must_be_ours() {
        assert!(speaks_our_version(&headers(&[("tus-resumable", "1.0.0")])));
        assert!(!speaks_our_version(&headers(&[("tus-resumable", "0.2.2")])));
        assert!(!speaks_our_version(&HeaderMap::new()));
    }

    #[test]
    fn expiry_dates_are_http_dates() {
        let time = chrono::DateTime::parse_from_rfc3339("2026-12-02T08:05:09Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(http_date(time), "Wed, 02 Dec 2026 08:05:09 GMT");
    }
}
