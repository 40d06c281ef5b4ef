//! Secrets: bearer tokens and enrollment codes (stored only as SHA-256 hashes), passwords
//! (argon2), and the login rate limiter.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::Rng;
use sha2::{Digest, Sha256};

/// A new bearer token: 256 random bits, hex.
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    hex::encode(bytes)
}

/// Tokens and codes are high-entropy, so a plain SHA-256 is enough to make a stolen database
/// useless for signing in (unlike passwords, which get argon2).
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Crockford base32 without I, L, O, U: nothing to misread when typed from paper.
const CODE_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new enrollment code, `XXXXX-XXXXX` (50 bits; one-time and short-lived).
pub fn new_enroll_code() -> String {
    let mut rng = rand::rng();
    let mut s = String::with_capacity(11);
    for i in 0..10 {
        if i == 5 {
            s.push('-');
        }
        s.push(CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char);
    }
    s
}

pub use fieldcheck_protocol::sync::normalize_enroll_code;

pub fn hash_password(password: &str) -> String {
    let salt_bytes: [u8; 16] = rand::rng().random();
    // Encoding 16 random bytes as a salt cannot fail.
    let salt = SaltString::encode_b64(&salt_bytes).expect("16-byte salt encodes");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters hashes")
        .to_string()
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Failed logins per (username, client IP) in a sliding window. In memory: a restart forgives,
/// which is acceptable for a brake on guessing.
pub struct LoginLimiter {
    max_failures: usize,
    window: Duration,
    failures: Mutex<HashMap<(String, IpAddr), Vec<Instant>>>,
}

impl LoginLimiter {
    pub fn new(max_failures: usize, window: Duration) -> Self {
        LoginLimiter {
            max_failures,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// True when this (user, ip) may try again now.
    pub fn allowed(&self, user: &str, ip: IpAddr, now: Instant) -> bool {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let key = (user.to_owned(), ip);
        let Some(v) = map.get_mut(&key) else {
            return true;
        };
        v.retain(|t| now.duration_since(*t) < self.window);
        if v.is_empty() {
            map.remove(&key);
            return true;
        }
        v.len() < self.max_failures
    }

    pub fn failed(&self, user: &str, ip: IpAddr, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.entry((user.to_owned(), ip)).or_default().push(now);
    }

    pub fn succeeded(&self, user: &str, ip: IpAddr) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&(user.to_owned(), ip));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let h = hash_password("correct horse");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn codes_normalize() {
        let c = new_enroll_code();
        assert_eq!(c.len(), 11);
        let lower = c.to_lowercase().replace('-', " ");
        assert_eq!(normalize_enroll_code(&lower), c.replace('-', ""));
        assert_ne!(hash_secret("a"), hash_secret("b"));
        assert_eq!(new_token().len(), 64);
    }

    #[test]
    fn limiter_blocks_after_failures_and_forgives_later() {
        let l = LoginLimiter::new(3, Duration::from_secs(60));
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.allowed("u", ip, t0));
            l.failed("u", ip, t0);
        }
        assert!(!l.allowed("u", ip, t0));
        assert!(l.allowed("other", ip, t0));
        assert!(l.allowed("u", ip, t0 + Duration::from_secs(61)));
    }
}
