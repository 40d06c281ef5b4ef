//! The sync client's decisions as plain functions: how long to wait before a retry, which
//! failures are worth retrying, what a push result means for the local event, which chunk of
//! a photo goes next. No I/O here, so all of it is unit-tested.

use std::time::Duration;

use fieldcheck_domain::{EventOutcome, Hlc};
use fieldcheck_protocol::sync::{PushResult, PushStatus};
use uuid::Uuid;

/// Exponential backoff with jitter for transport errors and 5xx answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay before the first retry (before jitter).
    pub base: Duration,
    /// Upper bound of any one delay.
    pub max: Duration,
    /// Attempts per request, the first included. 1 means no retry.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_millis(250),
            max: Duration::from_secs(30),
            max_attempts: 6,
        }
    }
}

impl RetryPolicy {
    /// Delay before retry number `retry` (0 = the first retry). `jitter` is a uniform random
    /// number in [0, 1): the delay is drawn from the upper half of the exponential step
    /// ("equal jitter"), so devices that failed together do not retry together, yet no retry
    /// comes sooner than half the step.
    pub fn delay(&self, retry: u32, jitter: f64) -> Duration {
        let step = self
            .base
            .saturating_mul(2u32.saturating_pow(retry.min(20)))
            .min(self.max);
        let jitter = jitter.clamp(0.0, 1.0);
        step.mul_f64(0.5 + 0.5 * jitter).min(self.max)
    }

    /// Whether attempt number `attempt` (1-based) may be followed by another.
    pub fn may_retry(&self, attempt: u32) -> bool {
        attempt < self.max_attempts.max(1)
    }
}

/// Whether an HTTP status is a passing trouble worth retrying (the request is idempotent
/// everywhere in this protocol): server errors, overload, rate limits, timeouts.
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

/// What a push result means for the local event it answers.
#[derive(Debug, Clone, PartialEq)]
pub enum PushDecision {
    /// The server has the event (now or from an earlier, maybe lost, answer): it leaves the
    /// outbox. `hlc` is set when the server stored a different (clamped) timestamp, `verdict`
    /// is the server fold's outcome.
    Stored {
        duplicate: bool,
        hlc: Option<Hlc>,
        verdict: Option<EventOutcome>,
    },
    /// The server will never store it: it leaves the outbox and stays on the record, marked.
    Refused { code: String, message: String },
}

/// Matches a push response to the batch that was sent. Results for ids that were not sent
/// are ignored; sent events without a result stay in the outbox (the next run retries them).
pub fn decide_push(sent: &[(Uuid, Hlc)], results: &[PushResult]) -> Vec<(Uuid, PushDecision)> {
    let mut out = Vec::with_capacity(results.len());
    for r in results {
        let Some((_, local_hlc)) = sent.iter().find(|(id, _)| *id == r.event_id) else {
            continue;
        };
        if out.iter().any(|(id, _)| *id == r.event_id) {
            continue;
        }
        let decision = match &r.status {
            PushStatus::Applied | PushStatus::Duplicate => PushDecision::Stored {
                duplicate: matches!(r.status, PushStatus::Duplicate),
                hlc: r.hlc.clone().filter(|h| h != local_hlc),
                verdict: r.outcome.clone(),
            },
            PushStatus::Refused { code, message } => PushDecision::Refused {
                code: code.clone(),
                message: message.clone(),
            },
        };
        out.push((r.event_id, decision));
    }
    out
}

/// The next chunk of a blob to upload: `[offset, end)`, or `None` when nothing is left.
pub fn next_chunk(offset: u64, size: u64, chunk: u64) -> Option<(u64, u64)> {
    (offset < size).then(|| (offset, size.min(offset.saturating_add(chunk.max(1)))))
}

/// What to send for a photo the server holds `offset` bytes of but has not said is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadStep {
    /// The bytes `[start, end)`.
    Chunk(u64, u64),
    /// Every byte is staged but the blob is not stored (the request that brought the last
    /// bytes was cut off before the server finished): an empty chunk at `offset` asks the
    /// server to verify and store it, or to discard it when it does not verify.
    Finish(u64),
}

/// The next request of an upload. A photo counts as uploaded only when the server answers
/// `complete`; the server holding all its bytes is not enough.
pub fn next_upload_step(offset: u64, size: u64, chunk: u64) -> UploadStep {
    match next_chunk(offset, size, chunk) {
        Some((start, end)) => UploadStep::Chunk(start, end),
        None => UploadStep::Finish(offset),
    }
}

/// What a device does with the server's instance id (`INSTANCE_HEADER`) on a sync answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceSeen {
    /// The server the device synced with last time: nothing to do.
    Same,
    /// The device has no id for this server (first sync, or its last sync was with a server
    /// too old to send one): it records the id, nothing else. Not a restore: the device
    /// cannot tell, and treating it as one would re-send everything on every upgrade.
    First,
    /// Another id: the server was restored from a backup since the last sync and may have
    /// lost what came after it. The device puts its pushed events back in the outbox, its
    /// uploaded photos back in the upload queue and starts pulling from 0, then records it.
    Restored,
}

/// Compares the id the device recorded for its server with the one it was just sent. A
/// server that sends none (older than instance ids) changes nothing.
pub fn instance_seen(recorded: Option<&str>, sent: Option<&str>) -> Option<InstanceSeen> {
    let sent = sent?;
    Some(match recorded {
        None => InstanceSeen::First,
        Some(r) if r == sent => InstanceSeen::Same,
        Some(_) => InstanceSeen::Restored,
    })
}

/// Normalises what a person typed as the server address to the API base
/// (`http://host:port/api/v1`). Accepts the bare origin or the API URL, with or without a
/// trailing slash; only http and https.
pub fn api_base(server: &str) -> Result<String, String> {
    let s = server.trim();
    let url = reqwest::Url::parse(s).map_err(|e| format!("{s:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "{s:?}: only http:// and https:// servers are supported"
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{s:?} names no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{s:?}: a server address has no query or fragment"));
    }
    let path = url.path().trim_end_matches('/');
    let path = path.strip_suffix("/api/v1").unwrap_or(path);
    let origin = url.origin().ascii_serialization();
    Ok(format!("{origin}{path}/api/v1"))
}

/// Whether enrolling with `server` would send the device's token, records and photos across
/// the network unencrypted: an `http://` address of another machine. `http://` to this machine
/// (127.0.0.0/8, `::1`, `localhost`) never leaves it and is not flagged. Devices warn and ask
/// before enrolling with such a server; they do not refuse (a city may run a closed network).
pub fn sends_in_cleartext(server: &str) -> Result<bool, String> {
    let base = api_base(server)?;
    let url = reqwest::Url::parse(&base).map_err(|e| format!("{base:?}: {e}"))?;
    if url.scheme() != "http" {
        return Ok(false);
    }
    let host = url.host_str().unwrap_or("");
    let this_machine = match host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
    {
        Ok(ip) => ip.is_loopback(),
        Err(_) => {
            let d = host.trim_end_matches('.');
            d == "localhost" || d.ends_with(".localhost")
        }
    };
    Ok(!this_machine)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hlc(ms: i64) -> Hlc {
        Hlc::new(ms, 0, "dev")
    }

    #[test]
    fn only_another_instance_id_is_a_restore() {
        assert_eq!(instance_seen(None, None), None);
        assert_eq!(instance_seen(Some("a"), None), None, "an older server");
        assert_eq!(instance_seen(None, Some("a")), Some(InstanceSeen::First));
        assert_eq!(
            instance_seen(Some("a"), Some("a")),
            Some(InstanceSeen::Same)
        );
        assert_eq!(
            instance_seen(Some("a"), Some("b")),
            Some(InstanceSeen::Restored)
        );
    }

    #[test]
    fn backoff_grows_exponentially_within_jitter_bounds_and_caps() {
        let p = RetryPolicy {
            base: Duration::from_millis(100),
            max: Duration::from_secs(2),
            max_attempts: 5,
        };
        assert_eq!(p.delay(0, 0.0), Duration::from_millis(50));
        assert_eq!(p.delay(0, 1.0), Duration::from_millis(100));
        assert_eq!(p.delay(1, 0.0), Duration::from_millis(100));
        assert_eq!(p.delay(3, 1.0), Duration::from_millis(800));
        // Capped, also for absurd retry numbers (no overflow).
        assert_eq!(p.delay(10, 1.0), Duration::from_secs(2));
        assert_eq!(p.delay(u32::MAX, 1.0), Duration::from_secs(2));
        for r in 0..8 {
            let lo = p.delay(r, 0.0);
            let hi = p.delay(r, 0.999);
            assert!(lo <= hi && hi <= p.max, "{r}: {lo:?} {hi:?}");
            assert!(hi.as_secs_f64() <= 2.0 * lo.as_secs_f64() + 1e-9);
        }
    }

    #[test]
    fn attempts_are_bounded() {
        let p = RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        };
        assert!(p.may_retry(1) && p.may_retry(2));
        assert!(!p.may_retry(3));
        let once = RetryPolicy {
            max_attempts: 0,
            ..RetryPolicy::default()
        };
        assert!(!once.may_retry(1));
    }

    #[test]
    fn only_passing_troubles_are_retried() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(retryable_status(s), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 409, 413, 422, 426] {
            assert!(!retryable_status(s), "{s}");
        }
    }

    fn result(id: Uuid, status: PushStatus, hlc: Option<Hlc>) -> PushResult {
        PushResult {
            event_id: id,
            status,
            outcome: Some(EventOutcome::Applied),
            hlc,
            state: None,
        }
    }

    #[test]
    fn push_results_map_to_decisions() {
        let (a, b, c, stranger) = (
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
        );
        let sent = vec![(a, hlc(10)), (b, hlc(20)), (c, hlc(30))];
        let results = vec![
            result(a, PushStatus::Applied, Some(hlc(10))),
            result(b, PushStatus::Duplicate, Some(hlc(15))),
            result(
                c,
                PushStatus::Refused {
                    code: "out_of_scope".into(),
                    message: "no".into(),
                },
                None,
            ),
            result(stranger, PushStatus::Applied, None),
            // A repeated answer for the same id counts once.
            result(a, PushStatus::Duplicate, None),
        ];
        let d = decide_push(&sent, &results);
        assert_eq!(d.len(), 3);
        assert_eq!(
            d[0],
            (
                a,
                PushDecision::Stored {
                    duplicate: false,
                    hlc: None,
                    verdict: Some(EventOutcome::Applied)
                }
            )
        );
        // The server clamped b's clock: the device must adopt the stored timestamp.
        assert_eq!(
            d[1],
            (
                b,
                PushDecision::Stored {
                    duplicate: true,
                    hlc: Some(hlc(15)),
                    verdict: Some(EventOutcome::Applied)
                }
            )
        );
        assert!(matches!(&d[2].1, PushDecision::Refused { code, .. } if code == "out_of_scope"));
    }

    #[test]
    fn missing_results_leave_events_pending() {
        let a = Uuid::now_v7();
        let b = Uuid::now_v7();
        let d = decide_push(
            &[(a, hlc(1)), (b, hlc(2))],
            &[result(b, PushStatus::Applied, None)],
        );
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].0, b);
    }

    #[test]
    fn chunks_cover_the_blob_from_the_server_offset() {
        assert_eq!(next_chunk(0, 10, 4), Some((0, 4)));
        assert_eq!(next_chunk(4, 10, 4), Some((4, 8)));
        assert_eq!(next_chunk(8, 10, 4), Some((8, 10)));
        assert_eq!(next_chunk(10, 10, 4), None);
        assert_eq!(next_chunk(12, 10, 4), None);
        assert_eq!(next_chunk(0, 3, 0), Some((0, 1)));
    }

    #[test]
    fn an_upload_with_every_byte_staged_asks_the_server_to_finish() {
        assert_eq!(next_upload_step(0, 10, 4), UploadStep::Chunk(0, 4));
        assert_eq!(next_upload_step(8, 10, 4), UploadStep::Chunk(8, 10));
        // offset = size without `complete`: not uploaded yet, the server must finish it.
        assert_eq!(next_upload_step(10, 10, 4), UploadStep::Finish(10));
        assert_eq!(next_upload_step(12, 10, 4), UploadStep::Finish(12));
        assert_eq!(next_upload_step(0, 0, 4), UploadStep::Finish(0));
    }

    #[test]
    fn server_addresses_normalise_to_the_api_base() {
        for (input, want) in [
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080/api/v1"),
            ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/api/v1"),
            (
                "http://127.0.0.1:8080/api/v1",
                "http://127.0.0.1:8080/api/v1",
            ),
            (
                "http://127.0.0.1:8080/api/v1/",
                "http://127.0.0.1:8080/api/v1",
            ),
            (
                "https://fc.example.cn/city",
                "https://fc.example.cn/city/api/v1",
            ),
            (" HTTP://Example.com ", "http://example.com/api/v1"),
        ] {
            assert_eq!(api_base(input).unwrap(), want, "{input}");
        }
        for bad in [
            "",
            "localhost:8080",
            "ftp://x",
            "not a url",
            "http://x/?a=1",
        ] {
            assert!(api_base(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn plain_http_to_another_machine_is_flagged() {
        for (server, cleartext) in [
            ("https://fc.example.cn", false),
            ("https://10.0.0.5:8443", false),
            ("http://127.0.0.1:8080", false),
            ("http://127.9.9.9:8080", false),
            ("http://[::1]:8080/", false),
            ("http://localhost:8080", false),
            ("http://LOCALHOST.:8080", false),
            ("http://fc.localhost:8080", false),
            ("http://10.0.0.5:8080", true),
            ("http://192.168.1.10:8080/api/v1", true),
            ("http://fc.example.cn", true),
            ("http://localhost.example.cn", true),
            ("http://0.0.0.0:8080", true),
            ("http://[fe80::1]:8080", true),
        ] {
            assert_eq!(sends_in_cleartext(server), Ok(cleartext), "{server}");
        }
        assert!(sends_in_cleartext("ftp://x").is_err());
    }
}
