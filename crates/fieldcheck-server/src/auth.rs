//! Secrets: bearer tokens and enrollment codes (stored only as SHA-256 hashes), passwords
//! (argon2), and the login rate limiter.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::store::Store;

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

/// A password hash nobody can sign in with, made once with the same argon2 parameters as every
/// real one. A login for an unknown user (or one without a password) is verified against it,
/// so it costs the same time as a wrong password for a real user and timing does not tell an
/// attacker which usernames exist.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| hash_password(&new_token()));

/// How many logins were verified against [`DUMMY_HASH`] (observable by tests).
static DUMMY_VERIFICATIONS: AtomicU64 = AtomicU64::new(0);

/// Computes the dummy hash now, so the first unknown-user login is not the slow one.
pub fn warm_up() {
    LazyLock::force(&DUMMY_HASH);
}

/// Number of logins verified against the dummy hash since the process started.
pub fn dummy_verifications() -> u64 {
    DUMMY_VERIFICATIONS.load(Ordering::Relaxed)
}

/// A login's password check: against the user's hash, or — unknown user, no password — against
/// the dummy hash with the same work, always failing.
pub fn verify_login(password: &str, stored_hash: Option<&str>) -> bool {
    match stored_hash {
        Some(hash) => verify_password(password, hash),
        None => {
            DUMMY_VERIFICATIONS.fetch_add(1, Ordering::Relaxed);
            let _ = verify_password(password, &DUMMY_HASH);
            false
        }
    }
}

/// At most this many keys per limiter map: with the per-IP limit, filling it takes many
/// addresses, and memory stays bounded whatever arrives.
pub const MAX_LIMITER_KEYS: usize = 10_000;

/// Failures per key in a sliding window, bounded in size and age: expired timestamps are
/// pruned at least once per window, and a new key beyond [`MAX_LIMITER_KEYS`] evicts the key
/// whose latest failure is oldest.
struct Failures<K> {
    max: usize,
    map: HashMap<K, VecDeque<Instant>>,
}

impl<K: Hash + Eq + Clone> Failures<K> {
    fn new(max: usize) -> Self {
        Failures {
            max,
            map: HashMap::new(),
        }
    }

    fn live(&mut self, key: &K, now: Instant, window: Duration) -> usize {
        let Some(v) = self.map.get_mut(key) else {
            return 0;
        };
        while v.front().is_some_and(|t| now.duration_since(*t) >= window) {
            v.pop_front();
        }
        if v.is_empty() {
            self.map.remove(key);
            return 0;
        }
        v.len()
    }

    fn allowed(&mut self, key: &K, now: Instant, window: Duration) -> bool {
        self.live(key, now, window) < self.max
    }

    fn record(&mut self, key: &K, now: Instant) {
        if !self.map.contains_key(key) && self.map.len() >= MAX_LIMITER_KEYS {
            let oldest = self
                .map
                .iter()
                .min_by_key(|(_, v)| v.back().copied())
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.map.remove(&k);
            }
        }
        let v = self.map.entry(key.clone()).or_default();
        v.push_back(now);
        // Never more than the limit is needed to decide; older entries are dead weight.
        while v.len() > self.max.max(1) {
            v.pop_front();
        }
    }

    /// Takes back the most recent failure (the attempt turned out to succeed).
    fn forgive_one(&mut self, key: &K) {
        if let Some(v) = self.map.get_mut(key) {
            v.pop_back();
            if v.is_empty() {
                self.map.remove(key);
            }
        }
    }

    fn prune(&mut self, now: Instant, window: Duration) {
        self.map.retain(|_, v| {
            while v.front().is_some_and(|t| now.duration_since(*t) >= window) {
                v.pop_front();
            }
            !v.is_empty()
        });
    }
}

/// Counters in the database, shared by every server instance on it (PostgreSQL), for limits
/// that must hold whichever instance a request lands on. Fixed windows (`rate_counts`,
/// migration 0014) rather than the in-memory sliding ones: one atomic statement per count, at
/// the price of up to twice the limit across a window boundary. A database error lets the
/// attempt through (the request then fails on the database anyway) and is logged.
pub struct SharedCounts {
    store: Arc<dyn Store>,
    window_ms: i64,
    last_prune_ms: Mutex<i64>,
}

impl SharedCounts {
    pub fn new(store: Arc<dyn Store>, window: Duration) -> SharedCounts {
        SharedCounts {
            store,
            window_ms: i64::try_from(window.as_millis()).unwrap_or(i64::MAX).max(1),
            last_prune_ms: Mutex::new(0),
        }
    }

    /// Counts one for `key`: false (nothing counted) when its window holds `limit` already.
    pub async fn take(&self, key: &str, limit: usize) -> bool {
        let now = chrono::Utc::now().timestamp_millis();
        self.prune(now).await;
        match self
            .store
            .count_in_window(key, limit as u64, self.window_ms, now)
            .await
        {
            Ok(counted) => counted,
            Err(e) => {
                tracing::warn!(error = %e, "shared rate counter unavailable");
                true
            }
        }
    }

    pub async fn give_back(&self, key: &str) {
        if let Err(e) = self.store.uncount(key).await {
            tracing::warn!(error = %e, "shared rate counter unavailable");
        }
    }

    pub async fn forget(&self, key: &str) {
        if let Err(e) = self.store.reset_count(key).await {
            tracing::warn!(error = %e, "shared rate counter unavailable");
        }
    }

    /// Ended windows are deleted about once a window (by whichever instance comes first).
    async fn prune(&self, now: i64) {
        {
            let mut last = self.last_prune_ms.lock().unwrap_or_else(|e| e.into_inner());
            if now - *last < self.window_ms {
                return;
            }
            *last = now;
        }
        if let Err(e) = self.store.expire_counts(now - self.window_ms).await {
            tracing::warn!(error = %e, "pruning shared rate counters failed");
        }
    }
}

struct LimiterMaps {
    per_user: Failures<(String, IpAddr)>,
    per_ip: Failures<IpAddr>,
    last_prune: Instant,
}

/// Failed logins per (username, client IP) and per client IP across usernames (password
/// spraying), in a sliding window. An attempt is counted as a failure *before* the password is
/// checked ([`LoginLimiter::begin`]) and taken back on success, so concurrent guesses cannot
/// all pass the check while the first ones are still hashing. In memory: a restart forgives,
/// which is acceptable for a brake on guessing.
pub struct LoginLimiter {
    window: Duration,
    maps: Mutex<LimiterMaps>,
    /// Several instances on one database count there instead ([`LoginLimiter::shared`]).
    shared: Option<(SharedCounts, usize, usize)>,
}

fn login_keys(user: &str, ip: IpAddr) -> (String, String) {
    (format!("login:{ip}:{user}"), format!("login-ip:{ip}"))
}

impl LoginLimiter {
    /// `per_user` failures per (username, IP), `per_ip` per IP across usernames.
    pub fn new(per_user: usize, per_ip: usize, window: Duration) -> Self {
        LoginLimiter {
            window,
            maps: Mutex::new(LimiterMaps {
                per_user: Failures::new(per_user),
                per_ip: Failures::new(per_ip),
                last_prune: Instant::now(),
            }),
            shared: None,
        }
    }

    /// The same limits counted in `counts` (the shared database) instead of this process.
    pub fn shared(mut self, counts: SharedCounts) -> Self {
        let (per_user, per_ip) = {
            let m = self.maps.lock().unwrap_or_else(|e| e.into_inner());
            (m.per_user.max, m.per_ip.max)
        };
        self.shared = Some((counts, per_user, per_ip));
        self
    }

    fn lock(&self, now: Instant) -> std::sync::MutexGuard<'_, LimiterMaps> {
        let mut m = self.maps.lock().unwrap_or_else(|e| e.into_inner());
        if now.saturating_duration_since(m.last_prune) >= self.window {
            m.per_user.prune(now, self.window);
            m.per_ip.prune(now, self.window);
            m.last_prune = now;
        }
        m
    }

    /// Counts this attempt as a failure now; false (and nothing counted) when the user at this
    /// address, or this address, is already at its limit.
    pub async fn begin(&self, user: &str, ip: IpAddr, now: Instant) -> bool {
        if let Some((counts, per_user, per_ip)) = &self.shared {
            let (user_key, ip_key) = login_keys(user, ip);
            if !counts.take(&user_key, *per_user).await {
                return false;
            }
            if !counts.take(&ip_key, *per_ip).await {
                counts.give_back(&user_key).await;
                return false;
            }
            return true;
        }
        let mut m = self.lock(now);
        let key = (user.to_owned(), ip);
        if !m.per_user.allowed(&key, now, self.window) || !m.per_ip.allowed(&ip, now, self.window) {
            return false;
        }
        m.per_user.record(&key, now);
        m.per_ip.record(&ip, now);
        true
    }

    /// The attempt begun succeeded: the user's failures at this address are forgiven, and
    /// this attempt no longer counts against the address.
    pub async fn succeeded(&self, user: &str, ip: IpAddr) {
        if let Some((counts, _, _)) = &self.shared {
            let (user_key, ip_key) = login_keys(user, ip);
            counts.forget(&user_key).await;
            counts.give_back(&ip_key).await;
            return;
        }
        let mut m = self.maps.lock().unwrap_or_else(|e| e.into_inner());
        m.per_user.map.remove(&(user.to_owned(), ip));
        m.per_ip.forgive_one(&ip);
    }

    /// Keys held (both maps), for tests of the bound.
    pub fn len(&self) -> usize {
        let m = self.maps.lock().unwrap_or_else(|e| e.into_inner());
        m.per_user.map.len() + m.per_ip.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Wrong enrollment codes per client IP, counted before the code is looked up (like
/// [`LoginLimiter`]).
pub struct EnrollLimiter {
    window: Duration,
    per_ip: Mutex<(Failures<IpAddr>, Instant)>,
    shared: Option<(SharedCounts, usize)>,
}

fn enroll_key(ip: IpAddr) -> String {
    format!("enroll-ip:{ip}")
}

impl EnrollLimiter {
    pub fn new(per_ip: usize, window: Duration) -> Self {
        EnrollLimiter {
            window,
            per_ip: Mutex::new((Failures::new(per_ip), Instant::now())),
            shared: None,
        }
    }

    /// The same limit counted in `counts` (the shared database) instead of this process.
    pub fn shared(mut self, counts: SharedCounts) -> Self {
        let max = self.per_ip.lock().unwrap_or_else(|e| e.into_inner()).0.max;
        self.shared = Some((counts, max));
        self
    }

    /// Counts this attempt as a failure now; false when the address is at its limit.
    pub async fn begin(&self, ip: IpAddr, now: Instant) -> bool {
        if let Some((counts, max)) = &self.shared {
            return counts.take(&enroll_key(ip), *max).await;
        }
        let mut g = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        let (f, last_prune) = &mut *g;
        if now.saturating_duration_since(*last_prune) >= self.window {
            f.prune(now, self.window);
            *last_prune = now;
        }
        if !f.allowed(&ip, now, self.window) {
            return false;
        }
        f.record(&ip, now);
        true
    }

    /// The code was right: this attempt does not count.
    pub async fn succeeded(&self, ip: IpAddr) {
        if let Some((counts, _)) = &self.shared {
            counts.give_back(&enroll_key(ip)).await;
            return;
        }
        let mut g = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        g.0.forgive_one(&ip);
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

    #[tokio::test]
    async fn limiter_blocks_after_failures_and_forgives_later() {
        let l = LoginLimiter::new(3, 100, Duration::from_secs(60));
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.begin("u", ip, t0).await);
        }
        assert!(!l.begin("u", ip, t0).await);
        assert!(l.begin("other", ip, t0).await);
        assert!(l.begin("u", ip, t0 + Duration::from_secs(61)).await);
        // Success forgives the user at this address.
        l.succeeded("u", ip).await;
        for _ in 0..3 {
            assert!(l.begin("u", ip, t0 + Duration::from_secs(62)).await);
        }
    }

    #[tokio::test]
    async fn limiter_counts_per_address_across_usernames() {
        let l = LoginLimiter::new(5, 4, Duration::from_secs(60));
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        let other: IpAddr = "10.1.2.4".parse().unwrap();
        let t0 = Instant::now();
        for i in 0..4 {
            assert!(l.begin(&format!("user{i}"), ip, t0).await);
        }
        assert!(
            !l.begin("user9", ip, t0).await,
            "spraying from one address is stopped"
        );
        assert!(l.begin("user9", other, t0).await, "another address is not");
        // A success does not count against the address.
        let l = LoginLimiter::new(5, 2, Duration::from_secs(60));
        for _ in 0..5 {
            assert!(l.begin("ok", ip, t0).await);
            l.succeeded("ok", ip).await;
        }
    }

    #[tokio::test]
    async fn limiter_memory_is_bounded_in_keys_and_age() {
        let l = LoginLimiter::new(5, usize::MAX, Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..(MAX_LIMITER_KEYS + 500) {
            let ip = IpAddr::from([10, (i >> 16) as u8, (i >> 8) as u8, i as u8]);
            assert!(l.begin(&format!("user-{i}"), ip, t0).await);
        }
        // Two maps (per user and per address), each capped.
        assert!(l.len() <= 2 * MAX_LIMITER_KEYS, "{}", l.len());
        // Once the window has passed, the next call prunes everything that aged out.
        let later = t0 + Duration::from_secs(61);
        assert!(l.begin("fresh", "127.0.0.1".parse().unwrap(), later).await);
        assert_eq!(l.len(), 2);
    }

    #[tokio::test]
    async fn enroll_limiter_counts_wrong_codes_per_address() {
        let l = EnrollLimiter::new(3, Duration::from_secs(60));
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        assert!(l.begin(ip, t0).await);
        l.succeeded(ip).await;
        for _ in 0..3 {
            assert!(l.begin(ip, t0).await);
        }
        assert!(!l.begin(ip, t0).await);
        assert!(l.begin(ip, t0 + Duration::from_secs(60)).await);
    }

    /// An unknown user's login does the same argon2 work as a real one: it is verified
    /// against a hash made with the same parameters (no timing assertion needed).
    #[test]
    fn unknown_user_runs_the_dummy_verification() {
        let before = dummy_verifications();
        assert!(!verify_login("guess", None));
        assert!(dummy_verifications() > before);
        let real = hash_password("pw");
        let real = PasswordHash::new(&real).unwrap();
        let dummy = PasswordHash::new(&DUMMY_HASH).unwrap();
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(dummy.params, real.params);
        // A known user's check goes through their own hash, not the dummy.
        let h = hash_password("pw");
        assert!(verify_login("pw", Some(&h)));
        assert!(!verify_login("nope", Some(&h)));
    }
}
