//! Which files may be attached, told by their first bytes (magic numbers) and never by their
//! name or what the browser says. The stored content type is the detected format's.

/// A format of the allowlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileType {
    /// The content type the file is stored and served with.
    pub content_type: &'static str,
    /// Browsers may show it inline: raster images, audio and video. Markup (HTML, SVG, XML)
    /// never is, nor PDF (downloaded, or shown only in a sandboxed viewer).
    pub inline: bool,
}

/// How many first bytes `detect` needs: enough for the office formats, which name their parts
/// within the first few kilobytes of the ZIP.
pub const HEAD_BYTES: usize = 64 * 1024;

/// Legacy office files (OLE compound documents) tell what they are in a directory that may sit
/// anywhere in the file: ones up to this size are read whole to find it.
pub const OLE_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// How many first bytes a text file must have as valid UTF-8 without NUL.
const TEXT_PROBE_BYTES: usize = 1024;

/// The allowlist: the content types `infer` names, and whether they may be shown inline.
const ALLOWED: &[(&str, bool)] = &[
    ("image/jpeg", true),
    ("image/png", true),
    ("image/webp", true),
    ("image/gif", true),
    // Most browsers cannot show HEIC/HEIF: it downloads.
    ("image/heif", false),
    ("video/mp4", true),
    ("video/webm", true),
    ("video/quicktime", true),
    // Recordings as browsers make them (Chrome's WebM and Safari's MP4 are named as video by
    // their signature alone: a voice comment checks their tracks), and WAV.
    ("audio/ogg", true),
    ("audio/mp4", true),
    ("audio/wav", true),
    ("application/pdf", false),
    ("application/zip", false),
    ("application/msword", false),
    ("application/vnd.ms-excel", false),
    ("application/vnd.ms-powerpoint", false),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        false,
    ),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        false,
    ),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        false,
    ),
    ("application/vnd.oasis.opendocument.text", false),
    ("application/vnd.oasis.opendocument.spreadsheet", false),
    ("application/vnd.oasis.opendocument.presentation", false),
];

/// Whether the first bytes are those of an OLE compound document (legacy .doc, .xls, .ppt, but
/// also installers), which `detect` can only tell apart with the whole file.
pub fn is_ole(head: &[u8]) -> bool {
    head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1])
}

/// The allowlisted format of a file, from its first `HEAD_BYTES` (or, for OLE documents, its
/// whole content); `None`: not allowed. `name` only chooses between text types.
pub fn detect(head: &[u8], name: &str) -> Option<FileType> {
    if head.is_empty() {
        return None;
    }
    if is_svg(head, name) {
        // Drawings (a mount's plan) are accepted, and only ever downloaded: an SVG may carry
        // scripts, so it is never shown inline.
        return Some(FileType {
            content_type: "image/svg+xml",
            inline: false,
        });
    }
    if let Some(found) = infer::get(head) {
        // HTML, XML and shell scripts are text to `infer`, and refused like every format that
        // is not on the list.
        let detected = audio_type_of(found.mime_type()).unwrap_or(found.mime_type());
        return ALLOWED
            .iter()
            .find(|(content_type, _)| *content_type == detected)
            .map(|&(content_type, inline)| FileType {
                content_type,
                inline,
            });
    }
    if !is_text(head) {
        return None;
    }
    let csv = name
        .rsplit_once('.')
        .is_some_and(|(_, extension)| extension.eq_ignore_ascii_case("csv"));
    Some(FileType {
        content_type: if csv { "text/csv" } else { "text/plain" },
        inline: false,
    })
}

/// The standard content type of `infer`'s names for audio containers: Ogg with Opus is Ogg,
/// an `M4A` MP4 is `audio/mp4`, and WAV is `audio/wav`.
fn audio_type_of(inferred: &str) -> Option<&'static str> {
    match inferred {
        "audio/opus" | "audio/ogg" => Some("audio/ogg"),
        "audio/m4a" => Some("audio/mp4"),
        "audio/x-wav" => Some("audio/wav"),
        _ => None,
    }
}

/// An SVG drawing: named `.svg`, UTF-8, and its root element (after an XML declaration,
/// comments and a doctype) is `<svg`. HTML or any other markup, under any name, is not.
fn is_svg(head: &[u8], name: &str) -> bool {
    let named_svg = name
        .rsplit_once('.')
        .is_some_and(|(_, extension)| extension.eq_ignore_ascii_case("svg"));
    if !named_svg || head.contains(&0) {
        return false;
    }
    let probe = &head[..head.len().min(HEAD_BYTES)];
    let text = match std::str::from_utf8(probe) {
        Ok(text) => text,
        Err(e) => match std::str::from_utf8(&probe[..e.valid_up_to()]) {
            Ok(text) if e.error_len().is_none() => text,
            _ => return false,
        },
    };
    let mut rest = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    loop {
        rest = rest.trim_start();
        let skipped = [("<?xml", "?>"), ("<!--", "-->"), ("<!DOCTYPE svg", ">")]
            .iter()
            .find(|(open, _)| rest.starts_with(open))
            .and_then(|(_, close)| rest.find(close).map(|at| at + close.len()));
        match skipped {
            Some(at) => rest = &rest[at..],
            None => break,
        }
    }
    rest.strip_prefix("<svg")
        .and_then(|after| after.chars().next())
        .is_some_and(|c| c.is_whitespace() || c == '>' || c == '/')
}

/// Plain text: the first KiB is UTF-8 (a character cut by the end of the probe is fine) without
/// NUL, and does not begin like markup (HTML or SVG that `infer` does not name).
fn is_text(head: &[u8]) -> bool {
    let probe = &head[..head.len().min(TEXT_PROBE_BYTES)];
    if probe.contains(&0) {
        return false;
    }
    let valid = match std::str::from_utf8(probe) {
        Ok(_) => true,
        // Only an incomplete character at the very end, because the probe cut it.
        Err(e) => e.error_len().is_none() && probe.len() == TEXT_PROBE_BYTES,
    };
    let text = probe.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(probe);
    let starts_like_markup = text
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'<');
    valid && !starts_like_markup
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";
    const JPEG: &[u8] = b"\xFF\xD8\xFF\xE0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0";
    const GIF: &[u8] = b"GIF89a\x01\0\x01\0\x80\0\0\0\0\0\xff\xff\xff";
    const WEBP: &[u8] = b"RIFF\x24\0\0\0WEBPVP8 \x18\0\0\0\x30\x01\0\x9d\x01\x2a";
    const HEIC: &[u8] = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic\0\0\0\0";
    const MP4: &[u8] = b"\0\0\0\x18ftypmp42\0\0\0\0isommp42\0\0\0\x08free";
    const MOV: &[u8] = b"\0\0\0\x14ftypqt  \0\0\0\0qt  \0\0\0\x08wide";
    const WEBM: &[u8] = b"\x1A\x45\xDF\xA3\x9F\x42\x86\x81\x01\x42\xF7\x81\x01\x42\xF2\x81\x04\x42\xF3\x81\x08\x42\x82\x84webm";
    const OGG_OPUS: &[u8] =
        b"OggS\0\x02\0\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\0\0\0\0\x01\x13OpusHead\x01\x01";
    const M4A: &[u8] = b"\0\0\0\x1cftypM4A \0\0\x02\0M4A isomiso2";
    const WAV: &[u8] = b"RIFF\x24\0\0\0WAVEfmt \x10\0\0\0\x01\0\x01\0";
    const PDF: &[u8] = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n";
    const ZIP: &[u8] = b"PK\x03\x04\x14\0\0\0\x08\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x05\0\0\0a.txt";

    /// The start of a ZIP whose first part has this name, as office documents begin.
    fn zip_with_first_part(name: &str) -> Vec<u8> {
        // Signature, then 22 bytes of version, flags, method, times, CRC and sizes.
        let mut bytes = b"PK\x03\x04".to_vec();
        bytes.extend_from_slice(&[0; 22]);
        bytes.extend_from_slice(&(name.len() as u16).to_le_bytes());
        bytes.extend_from_slice(&[0, 0]);
        bytes.extend_from_slice(name.as_bytes());
        bytes.extend_from_slice(&[0; 64]);
        bytes
    }

    fn content_type(head: &[u8], name: &str) -> Option<&'static str> {
        detect(head, name).map(|t| t.content_type)
    }

    #[test]
    fn each_allowlisted_magic_number_is_recognised() {
        for (head, expected, inline) in [
            (PNG, "image/png", true),
            (JPEG, "image/jpeg", true),
            (GIF, "image/gif", true),
            (WEBP, "image/webp", true),
            (HEIC, "image/heif", false),
            (MP4, "video/mp4", true),
            (MOV, "video/quicktime", true),
            (WEBM, "video/webm", true),
            (OGG_OPUS, "audio/ogg", true),
            (M4A, "audio/mp4", true),
            (WAV, "audio/wav", true),
            (PDF, "application/pdf", false),
            (ZIP, "application/zip", false),
        ] {
            // Real files go on after their signature (WebM's is looked for in 256 bytes).
            let mut head = head.to_vec();
            head.resize(512, 0);
            assert_eq!(
                detect(&head, "file"),
                Some(FileType {
                    content_type: expected,
                    inline
                }),
                "{expected}"
            );
        }
        for (part, expected) in [
            (
                "word/document.xml",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ),
            (
                "xl/workbook.xml",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
            (
                "ppt/presentation.xml",
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            ),
        ] {
            assert_eq!(
                content_type(&zip_with_first_part(part), "x"),
                Some(expected)
            );
        }
        let mut odt = zip_with_first_part("mimetype");
        odt.truncate(38);
        odt.extend_from_slice(b"application/vnd.oasis.opendocument.text");
        assert_eq!(
            content_type(&odt, "x"),
            Some("application/vnd.oasis.opendocument.text")
        );
    }

    #[test]
    fn the_name_never_decides_the_type() {
        assert_eq!(content_type(PNG, "informe.pdf"), Some("image/png"));
        assert_eq!(content_type(PDF, "foto.jpg"), Some("application/pdf"));
        // Text named as CSV is CSV; a PNG named .csv stays a PNG.
        assert_eq!(content_type(b"a,b\n1,2\n", "datos.CSV"), Some("text/csv"));
        assert_eq!(content_type(PNG, "datos.csv"), Some("image/png"));
    }

    #[test]
    fn markup_and_other_formats_are_refused() {
        for (head, name) in [
            (
                &b"<!DOCTYPE html><html><script>alert(1)</script>"[..],
                "foto.jpg",
            ),
            (b"<html><body>hola</body></html>", "a.txt"),
            (
                b"  <svg xmlns=\"http://www.w3.org/2000/svg\"></svg>",
                "logo.png",
            ),
            (b"<html><body><svg></svg></body></html>", "dibujo.svg"),
            (b"<svgx/>", "dibujo.svg"),
            (b"\xEF\xBB\xBF<script>x</script>", "log.txt"),
            (b"#!/bin/sh\nrm -rf /\n", "run.txt"),
            (b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff", "setup.pdf"),
            (b"\x7FELF\x02\x01\x01\0", "a.log"),
            (b"\x1F\x8B\x08\0\0\0\0\0", "logs.zip"),
            (b"", "empty.txt"),
        ] {
            assert_eq!(detect(head, name), None, "{name}: {head:?}");
        }
    }

    #[test]
    fn svg_drawings_are_accepted_for_download_only() {
        for head in [
            &b"<?xml version=\"1.0\"?>\n<!-- plano -->\n<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" \"x\">\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>"[..],
            b"\xEF\xBB\xBF  <svg>",
        ] {
            assert_eq!(
                detect(head, "montura.SVG"),
                Some(FileType {
                    content_type: "image/svg+xml",
                    inline: false
                }),
                "{head:?}"
            );
        }
    }

    #[test]
    fn text_is_utf8_without_nul() {
        assert_eq!(
            content_type("Cúpula: error 42\n".as_bytes(), "dome.log"),
            Some("text/plain")
        );
        assert_eq!(content_type(b"abc\0def", "a.txt"), None);
        assert_eq!(content_type(b"caf\xE9 latin-1", "a.txt"), None);
        // A character cut by the end of the probe is still text; a bad byte inside is not.
        let mut cut = "a".repeat(TEXT_PROBE_BYTES - 1).into_bytes();
        cut.extend_from_slice("é más".as_bytes());
        assert_eq!(content_type(&cut, "a.txt"), Some("text/plain"));
        let mut bad = "a".repeat(10).into_bytes();
        bad.push(0xFF);
        bad.extend_from_slice(&[b'a'; 2000]);
        assert_eq!(content_type(&bad, "a.txt"), None);
        let plain = detect(b"hola", "x.txt").unwrap();
        assert!(!plain.inline);
    }

    #[test]
    fn pdf_and_heic_are_never_inline() {
        assert!(!detect(PDF, "a.pdf").unwrap().inline);
        assert!(!detect(HEIC, "a.heic").unwrap().inline);
        assert!(is_ole(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\0\0"));
        assert!(!is_ole(PNG));
    }
}
