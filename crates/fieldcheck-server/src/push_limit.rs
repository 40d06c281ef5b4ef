//! Per-sender push rate: a token bucket in memory per device (web sessions: per user). One
//! account cannot keep the single writer busy with request after request; an honest device
//! pushes a week's outbox in a few requests and never meets it. Several instances on one
//! PostgreSQL keep the same bucket in the database instead ([`PushLimiter::shared`], a
//! generic cell rate: one timestamp per sender), whichever instance takes the request.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::store::Store;

/// Buckets are forgotten after this long untouched (a full bucket is the same as none).
const IDLE: Duration = Duration::from_secs(600);

pub struct PushLimiter {
    per_sec: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
    /// The store the buckets live in when shared, and the name that keeps this limiter's
    /// keys apart from other limiters' there.
    shared: Option<(Arc<dyn Store>, &'static str)>,
}

impl PushLimiter {
    /// `per_hour` requests on average, `burst` at once (each at least 1): for what a person
    /// does a few times an hour (a report from the public page).
    pub fn per_hour(per_hour: u32, burst: u32) -> PushLimiter {
        PushLimiter {
            per_sec: f64::from(per_hour.max(1)) / 3600.0,
            ..PushLimiter::new(1, burst)
        }
    }

    /// `per_minute` requests on average, `burst` at once (each at least 1).
    pub fn new(per_minute: u32, burst: u32) -> PushLimiter {
        PushLimiter {
            per_sec: f64::from(per_minute.max(1)) / 60.0,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
            shared: None,
        }
    }

    /// Keeps the buckets in `store` (shared by every instance on it) instead of here.
    pub fn shared(self, store: Arc<dyn Store>) -> Self {
        self.shared_as(store, "push")
    }

    /// [`Self::shared`] under its own `name`, for a limiter other than the push limit.
    pub fn shared_as(mut self, store: Arc<dyn Store>, name: &'static str) -> Self {
        self.shared = Some((store, name));
        self
    }

    async fn take_shared(&self, store: &dyn Store, name: &str, key: &str) -> Result<(), u64> {
        // Whole milliseconds, at least one (a rate above 1,000 a second per sender is
        // counted as 1,000; nothing real comes near).
        let interval_ms = ((1000.0 / self.per_sec).ceil() as i64).max(1);
        let tolerance_ms = interval_ms * (self.burst as i64 - 1);
        let now = chrono::Utc::now().timestamp_millis();
        match store
            .take_token(&format!("{name}:{key}"), interval_ms, tolerance_ms, now)
            .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(wait_ms)) => Err((wait_ms as u64).div_ceil(1000).max(1)),
            Err(e) => {
                // The push itself then meets the database error.
                tracing::warn!(error = %e, "shared push rate unavailable");
                Ok(())
            }
        }
    }

    /// Takes one request for `key` now: `Ok`, or `Err(seconds)` until one is allowed.
    pub async fn take(&self, key: &str, now: Instant) -> Result<(), u64> {
        if let Some((store, name)) = &self.shared {
            return self.take_shared(store.as_ref(), name, key).await;
        }
        let mut map = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 10_000 {
            // Forgotten only once it would have refilled (a full bucket is the same as none).
            let refill = IDLE.max(Duration::from_secs_f64(self.burst / self.per_sec));
            map.retain(|_, (_, at)| now.saturating_duration_since(*at) < refill);
        }
        let (tokens, at) = map.entry(key.to_owned()).or_insert((self.burst, now));
        let elapsed = now.saturating_duration_since(*at).as_secs_f64();
        *tokens = (*tokens + elapsed * self.per_sec).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.per_sec).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn burst_then_refill_per_key() {
        let l = PushLimiter::new(60, 3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.take("dev-a", t0).await, Ok(()));
        }
        assert_eq!(l.take("dev-a", t0).await, Err(1));
        // Another device is not affected.
        assert_eq!(l.take("dev-b", t0).await, Ok(()));
        // One request per second comes back.
        assert_eq!(l.take("dev-a", t0 + Duration::from_secs(1)).await, Ok(()));
        assert!(l.take("dev-a", t0 + Duration::from_secs(1)).await.is_err());
        let slow = PushLimiter::new(6, 1);
        assert_eq!(slow.take("x", t0).await, Ok(()));
        assert_eq!(slow.take("x", t0).await, Err(10));
    }
}
