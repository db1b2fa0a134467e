//! Secret tokens (session cookies, later invitation and reset links): 256 random bits from the
//! operating system's CSPRNG, stored only as their SHA-256.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// 32 random bytes as 64 hexadecimal characters.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Whether `text` could be one of our tokens (64 hexadecimal characters): anything else is
/// refused before a query is spent on it.
pub fn looks_like_token(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What the database keeps of a token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_a_token_looks_like_is_taken_for_one() {
        assert!(looks_like_token(&random_token()));
        assert!(!looks_like_token(&random_token()[..63]));
        assert!(!looks_like_token(&format!("{}0", random_token())));
        assert!(!looks_like_token(&"g".repeat(64)));
        assert!(!looks_like_token(&"é".repeat(32)));
    }

    #[test]
    fn tokens_carry_256_bits_and_do_not_repeat() {
        let a = random_token();
        let b = random_token();
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_ne!(hash_token(&a), a);
    }
}
