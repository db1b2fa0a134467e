//! Password hashing with argon2id (OWASP parameters), always off the async executor.

use crate::i18n::Msg;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Memory cost in KiB, iterations and parallelism: OWASP's minimum for argon2id.
pub const MEMORY_KIB: u32 = 19_456;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

/// Shorter passwords are refused; longer ones are encouraged by the page's hint.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Long passphrases are welcome; this only bounds the hashing work one request can cause.
pub const MAX_PASSWORD_CHARS: usize = 1024;

fn hasher() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .expect("the argon2 parameters are constants within range");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks a new password against the rules: length only, no composition rules, no truncation.
pub fn check_new_password(password: &str) -> Result<(), Msg> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        Err(Msg::ErrorPasswordTooShort)
    } else if chars > MAX_PASSWORD_CHARS {
        Err(Msg::ErrorPasswordTooLong)
    } else if is_common(password) {
        Err(Msg::ErrorPasswordCommon)
    } else {
        Ok(())
    }
}

/// Whether the password is on the shipped list of the most used passwords (compared without
/// regard to case or surrounding spaces).
fn is_common(password: &str) -> bool {
    static COMMON: &str = include_str!("common-passwords.txt");
    let candidate = password.trim().to_lowercase();
    COMMON.lines().any(|line| line == candidate)
}

/// Hashes a password into a PHC string. CPU-heavy: call from `spawn_blocking`.
pub fn hash_password_blocking(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .expect("hashing with valid parameters and a fresh salt cannot fail")
        .to_string()
}

/// Whether `password` matches the PHC string `hash`. CPU-heavy: call from `spawn_blocking`.
pub fn verify_password_blocking(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Whether a stored hash was made with other parameters than today's, so it is redone at sign-in.
pub fn needs_rehash(hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return true;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return true;
    };
    parsed.algorithm != argon2::ARGON2ID_IDENT
        || params.m_cost() != MEMORY_KIB
        || params.t_cost() != ITERATIONS
        || params.p_cost() != PARALLELISM
}

/// A hash of a random password, verified against when the e-mail is unknown, so that an unknown
/// account costs the same time as a wrong password and cannot be told apart by timing.
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password_blocking(&crate::backend::tokens::random_token()))
}

/// Hashes running at once. Each argon2 call holds 19 MiB and a core for a few tens of
/// milliseconds: a burst of sign-ins waits its turn instead of exhausting memory.
pub const MAX_CONCURRENT_HASHES: usize = 4;
/// Requests waiting for a turn before further ones are refused outright.
pub const MAX_WAITING_HASHES: usize = 64;
/// How long a request waits for a turn before it is refused.
const HASH_WAIT: Duration = Duration::from_secs(10);

static HASH_SLOTS: Semaphore = Semaphore::const_new(MAX_CONCURRENT_HASHES);
static WAITING: AtomicUsize = AtomicUsize::new(0);

/// Runs one argon2 computation on the blocking pool once a slot is free. A full queue, or a
/// wait past `HASH_WAIT`, answers "busy" at once: the person tries again in a moment, and
/// the server never holds more than `MAX_CONCURRENT_HASHES` hashes in memory.
async fn with_hash_slot<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Msg> {
    if WAITING.fetch_add(1, Ordering::SeqCst) >= MAX_WAITING_HASHES {
        WAITING.fetch_sub(1, Ordering::SeqCst);
        return Err(Msg::ErrorBusy);
    }
    let permit = tokio::time::timeout(HASH_WAIT, HASH_SLOTS.acquire()).await;
    WAITING.fetch_sub(1, Ordering::SeqCst);
    let _permit = match permit {
        Ok(Ok(permit)) => permit,
        _ => return Err(Msg::ErrorBusy),
    };
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| Msg::ErrorInternal)
}

pub async fn hash_password(password: String) -> Result<String, Msg> {
    with_hash_slot(move || hash_password_blocking(&password)).await
}

pub async fn verify_password(hash: String, password: String) -> Result<bool, Msg> {
    with_hash_slot(move || verify_password_blocking(&hash, &password)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters() {
        let hash = hash_password_blocking("correct horse battery staple");
        let parsed = PasswordHash::new(&hash).unwrap();
        assert_eq!(parsed.algorithm, argon2::ARGON2ID_IDENT);
        let params = Params::try_from(&parsed).unwrap();
        assert!(params.m_cost() >= 19_456, "memory {}", params.m_cost());
        assert!(params.t_cost() >= 2, "iterations {}", params.t_cost());
        assert_eq!(params.p_cost(), 1);
        assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
        assert!(!needs_rehash(&hash));
    }

    #[test]
    fn verification_accepts_only_the_same_password() {
        let hash = hash_password_blocking("una contraseña larga");
        assert!(verify_password_blocking(&hash, "una contraseña larga"));
        assert!(!verify_password_blocking(&hash, "una contraseña larg"));
        assert!(!verify_password_blocking("not a phc string", "x"));
        // Every character counts: no truncation of long passphrases.
        let long = "a".repeat(200);
        let hash = hash_password_blocking(&long);
        assert!(!verify_password_blocking(&hash, &"a".repeat(199)));
        assert!(verify_password_blocking(&hash, &long));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_of_hashes_never_runs_more_than_the_cap_at_once() {
        static RUNNING: AtomicUsize = AtomicUsize::new(0);
        static PEAK: AtomicUsize = AtomicUsize::new(0);
        let mut burst = tokio::task::JoinSet::new();
        for _ in 0..MAX_WAITING_HASHES + 40 {
            burst.spawn(with_hash_slot(|| {
                let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
                PEAK.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(20));
                RUNNING.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        let outcomes = burst.join_all().await;
        let done = outcomes.iter().filter(|o| o.is_ok()).count();
        let busy = outcomes
            .iter()
            .filter(|o| **o == Err(Msg::ErrorBusy))
            .count();
        assert!(
            PEAK.load(Ordering::SeqCst) <= MAX_CONCURRENT_HASHES,
            "peak {PEAK:?}"
        );
        assert!(done >= MAX_CONCURRENT_HASHES, "{done} ran");
        assert!(busy > 0, "a queue past its bound refuses at once");
        assert_eq!(done + busy, outcomes.len());
    }

    #[test]
    fn weaker_hashes_are_marked_for_rehash() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(4096, 1, 1, None).unwrap(),
        )
        .hash_password(b"secret-password", &SaltString::generate(&mut OsRng))
        .unwrap()
        .to_string();
        assert!(needs_rehash(&weak));
        assert!(
            verify_password_blocking(&weak, "secret-password"),
            "old hashes still verify"
        );
    }

    #[test]
    fn new_password_rules() {
        assert_eq!(
            check_new_password("1234567"),
            Err(Msg::ErrorPasswordTooShort)
        );
        assert_eq!(check_new_password("ñandúes!"), Ok(()));
        assert_eq!(check_new_password(&"x".repeat(64)), Ok(()));
        assert_eq!(
            check_new_password(&"x".repeat(1025)),
            Err(Msg::ErrorPasswordTooLong)
        );
    }
}
