//! The portal's secret key. It seals e-mails that carry a single-use link while they wait in the
//! outbox, so the database alone (a backup, a copied file, a leaked dump) holds no usable link.
//!
//! 256 bits, given as `CUPULA_SECRET_KEY` / `secret_key` (64 hexadecimal characters or base64),
//! or kept in `<data dir>/secret.key`, which `serve` creates (mode 0600) on its first start.
//! Every server process of one database must have the same key.

use super::config::Config;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::io::Write;
use std::path::{Path, PathBuf};

const KEY_BYTES: usize = 32;
/// XChaCha20's nonces are long enough to be drawn at random for every message.
const NONCE_BYTES: usize = 24;

#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey([u8; KEY_BYTES]);

/// Never prints the key (configurations are logged with `{:?}`).
impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

/// A key file that cannot be used, told in one line.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretKeyError {
    #[error("cannot read the secret key file {path}: {reason} (set CUPULA_SECRET_KEY, or copy the file from the server that created it)")]
    Unreadable { path: String, reason: String },
    #[error("the secret key file {path} does not hold a 256-bit key (64 hexadecimal characters or base64)")]
    Invalid { path: String },
    #[error("cannot create the secret key file {path}: {reason}")]
    Uncreatable { path: String, reason: String },
}

impl SecretKey {
    /// A tag of `message` for `context` (HMAC-SHA256 under the key) that only a holder of
    /// the key can make, to put in a place anyone may see (a reply address).
    pub fn tag(&self, context: &str, message: &str) -> [u8; 32] {
        self.mac(context, message).finalize().into_bytes().into()
    }

    /// Whether `tag` is the start (12 bytes or more) of `tag(context, message)`, compared in
    /// constant time.
    pub fn verify_tag(&self, context: &str, message: &str, tag: &[u8]) -> bool {
        tag.len() >= 12
            && self
                .mac(context, message)
                .verify_truncated_left(tag)
                .is_ok()
    }

    fn mac(&self, context: &str, message: &str) -> Hmac<Sha256> {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(context.as_bytes());
        mac.update(&[0]);
        mac.update(message.as_bytes());
        mac
    }

    /// A new random key from the operating system's CSPRNG.
    pub fn generate() -> SecretKey {
        let mut bytes = [0u8; KEY_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        SecretKey(bytes)
    }

    /// 64 hexadecimal characters, or 32 bytes in base64 (with or without padding).
    pub fn parse(text: &str) -> Option<SecretKey> {
        let text = text.trim();
        let bytes = if text.len() == 2 * KEY_BYTES {
            hex::decode(text).ok()
        } else {
            STANDARD
                .decode(text)
                .or_else(|_| STANDARD_NO_PAD.decode(text))
                .ok()
        }?;
        Some(SecretKey(bytes.try_into().ok()?))
    }

    /// Seals `plaintext` for storage. `context` (what the text belongs to, such as the address
    /// a mail goes to) must be given again to open it, so a sealed text moved to another row
    /// does not open there.
    pub fn seal(&self, plaintext: &str, context: &str) -> String {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 seals any text that fits in memory");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        STANDARD.encode(out)
    }

    /// The text `seal` sealed with this key and context; `None` for another key or context,
    /// or for anything altered.
    pub fn open(&self, sealed: &str, context: &str) -> Option<String> {
        let bytes = STANDARD.decode(sealed).ok()?;
        if bytes.len() < NONCE_BYTES {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let plain = self
            .cipher()
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: context.as_bytes(),
                },
            )
            .ok()?;
        String::from_utf8(plain).ok()
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.0.into())
    }

    /// The portal's key for `serve`: the configured one, else the key file, created with a new
    /// key on the first start.
    pub fn for_serving(config: &Config) -> Result<SecretKey, SecretKeyError> {
        match &config.secret_key {
            Some(key) => Ok(key.clone()),
            None => SecretKey::read_or_create_file(&config.secret_key_file()),
        }
    }

    /// The key for commands that only open sealed mail: the configured one, else the key file
    /// `serve` created (never a new one, which could open nothing).
    pub fn for_reading(config: &Config) -> Result<SecretKey, SecretKeyError> {
        match &config.secret_key {
            Some(key) => Ok(key.clone()),
            None => SecretKey::read_file(&config.secret_key_file()),
        }
    }

    /// Reads the key file (for commands that only read sealed mail: a missing file is an error).
    pub fn read_file(path: &Path) -> Result<SecretKey, SecretKeyError> {
        let text = std::fs::read_to_string(path).map_err(|e| SecretKeyError::Unreadable {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        warn_if_others_may_read(path);
        SecretKey::parse(&text).ok_or_else(|| SecretKeyError::Invalid {
            path: path.display().to_string(),
        })
    }

    /// Reads the key file, or creates it with a new key when there is none. The file is written
    /// under a temporary name and then linked into place, so two processes starting at once
    /// agree on one key and neither reads a half-written file.
    pub fn read_or_create_file(path: &Path) -> Result<SecretKey, SecretKeyError> {
        if path.exists() {
            return SecretKey::read_file(path);
        }
        let uncreatable = |e: std::io::Error| SecretKeyError::Uncreatable {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(uncreatable)?;
        }
        let key = SecretKey::generate();
        let temporary = temporary_name(path);
        let written = write_private_file(&temporary, &format!("{}\n", hex::encode(key.0)));
        let linked = written.and_then(|()| std::fs::hard_link(&temporary, path));
        let _ = std::fs::remove_file(&temporary);
        match linked {
            Ok(()) => Ok(key),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => SecretKey::read_file(path),
            Err(e) => Err(uncreatable(e)),
        }
    }
}

fn temporary_name(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{}.tmp", &super::tokens::random_token()[..12]));
    PathBuf::from(name)
}

/// A new file only its owner may read.
fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

fn warn_if_others_may_read(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(path = %path.display(), "the secret key file may be read by other users: chmod 600 it");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_text_opens_only_with_its_key_and_context() {
        let key = SecretKey::generate();
        let sealed = key.seal("token=abc", "ana@example.org");
        assert!(!sealed.contains("abc"));
        assert_eq!(
            key.open(&sealed, "ana@example.org").as_deref(),
            Some("token=abc")
        );
        assert_eq!(key.open(&sealed, "eve@example.org"), None);
        assert_eq!(SecretKey::generate().open(&sealed, "ana@example.org"), None);
        assert_eq!(key.open("not base64 at all", "ana@example.org"), None);
        assert_eq!(key.open("AAAA", "ana@example.org"), None);
        // Each sealing draws its own nonce.
        assert_ne!(sealed, key.seal("token=abc", "ana@example.org"));
    }

    #[test]
    fn keys_are_read_as_hex_or_base64_of_32_bytes() {
        let hex_key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let key = SecretKey::parse(hex_key).unwrap();
        let base64_key = STANDARD.encode(key.0);
        assert_eq!(SecretKey::parse(&base64_key), Some(key.clone()));
        assert_eq!(
            SecretKey::parse(base64_key.trim_end_matches('=')),
            Some(key)
        );
        assert_eq!(SecretKey::parse("00112233"), None);
        assert_eq!(SecretKey::parse(&STANDARD.encode([1u8; 16])), None);
        assert_eq!(SecretKey::parse(&"zz".repeat(32)), None);
        assert_eq!(
            format!("{:?}", SecretKey::parse(hex_key).unwrap()),
            "SecretKey(…)"
        );
    }

    #[test]
    fn the_key_file_is_created_once_private_and_then_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join("secret.key");
        assert!(matches!(
            SecretKey::read_file(&path),
            Err(SecretKeyError::Unreadable { .. })
        ));
        let created = SecretKey::read_or_create_file(&path).unwrap();
        assert_eq!(SecretKey::read_or_create_file(&path).unwrap(), created);
        assert_eq!(SecretKey::read_file(&path).unwrap(), created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
        std::fs::write(&path, "short\n").unwrap();
        assert!(matches!(
            SecretKey::read_file(&path),
            Err(SecretKeyError::Invalid { .. })
        ));
    }
}
