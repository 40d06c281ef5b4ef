//! Prometheus metrics through the `metrics` facade: the recording calls are one line where
//! the thing happens (the push group in `store/push.rs`, a sign-in in `api.rs`), and
//! `/metrics` renders what the process-wide recorder holds.
//!
//! The recorder is global to the process (the facade's design): one `fieldcheck-server`
//! process serves one store, so that is what is counted. Several servers in one process (some
//! tests) share the counters; gauges of the database pool are set from the store that serves
//! the scrape.

use std::sync::OnceLock;
use std::time::Duration;

use fieldcheck_protocol::sync::{PushResponse, PushStatus};
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::store::PoolStats;

/// Request latency buckets, in seconds (a pull page on a slow disk, argon2 at sign-in).
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Size buckets of a push group: requests (batches) and events per group (at most 4,000).
const GROUP_BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0];
const GROUP_EVENT_BUCKETS: &[f64] = &[
    1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use. When another recorder was installed
/// first (an application embedding the server with its own), this one renders nothing but
/// what it is given, and says so once in the log.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full("fieldcheck_push_group_batches".into()),
                    GROUP_BATCH_BUCKETS,
                )
            })
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full("fieldcheck_push_group_events".into()),
                    GROUP_EVENT_BUCKETS,
                )
            })
            .expect("the bucket lists are not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics shows only gauges");
        }
        describe();
        handle
    })
}

/// Histograms keep their samples until upkeep folds them in: run it now and then.
pub async fn run_upkeep() {
    let handle = handle();
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        handle.run_upkeep();
    }
}

fn describe() {
    describe_counter!(
        "fieldcheck_http_requests_total",
        "HTTP requests answered, by method, route template and status"
    );
    describe_histogram!(
        "fieldcheck_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time from a request's arrival to its response head, by method and route template"
    );
    describe_counter!(
        "fieldcheck_push_events_total",
        "Pushed events by result: applied (stored), duplicate (stored before), refused"
    );
    describe_counter!(
        "fieldcheck_push_refused_total",
        "Refused pushed events by refusal code"
    );
    describe_histogram!(
        "fieldcheck_push_group_batches",
        "Push requests committed together in one group-commit transaction"
    );
    describe_histogram!(
        "fieldcheck_push_group_events",
        "Events in one group-commit transaction"
    );
    describe_counter!(
        "fieldcheck_push_group_failures_total",
        "Group-commit transactions that failed (their batches are retried one by one)"
    );
    describe_counter!("fieldcheck_pull_pages_total", "Pull pages answered");
    describe_counter!(
        "fieldcheck_pull_items_total",
        "Items (events and removals) sent in pull pages"
    );
    describe_counter!(
        "fieldcheck_pull_bytes_total",
        metrics::Unit::Bytes,
        "JSON bytes of the pull pages answered"
    );
    describe_counter!(
        "fieldcheck_blob_bytes_in_total",
        metrics::Unit::Bytes,
        "Photo bytes received in upload chunks"
    );
    describe_counter!(
        "fieldcheck_blob_bytes_out_total",
        metrics::Unit::Bytes,
        "Photo bytes sent by blob downloads"
    );
    describe_counter!(
        "fieldcheck_login_failures_total",
        "Failed sign-ins (devices' /login and the console), by reason"
    );
    describe_gauge!(
        "fieldcheck_db_pool_connections",
        "Database pool connections by state (idle, in_use), read at each scrape"
    );
    describe_gauge!(
        "fieldcheck_db_pool_max_connections",
        "The database pool's size limit"
    );
}

/// One HTTP request answered. `route` is the route template (`/api/v1/blobs/{hash}`), never
/// the raw path, so a client cannot grow the series by inventing paths.
pub fn http_request(method: &'static str, route: &str, status: u16, elapsed: Duration) {
    counter!(
        "fieldcheck_http_requests_total",
        "method" => method,
        "route" => route.to_owned(),
        "status" => status.to_string()
    )
    .increment(1);
    histogram!(
        "fieldcheck_http_request_duration_seconds",
        "method" => method,
        "route" => route.to_owned()
    )
    .record(elapsed.as_secs_f64());
}

/// A group commit about to run: how many requests and events it carries.
pub fn push_group(batches: usize, events: usize) {
    histogram!("fieldcheck_push_group_batches").record(batches as f64);
    histogram!("fieldcheck_push_group_events").record(events as f64);
}

pub fn push_group_failed() {
    counter!("fieldcheck_push_group_failures_total").increment(1);
}

/// The per-event results of one committed push request.
pub fn push_results(resp: &PushResponse) {
    let (mut applied, mut duplicate, mut refused) = (0u64, 0u64, 0u64);
    for r in &resp.results {
        match &r.status {
            PushStatus::Applied => applied += 1,
            PushStatus::Duplicate => duplicate += 1,
            PushStatus::Refused { code, .. } => {
                refused += 1;
                // Codes are the server's own constants (a small fixed set).
                counter!("fieldcheck_push_refused_total", "code" => code.clone()).increment(1);
            }
        }
    }
    for (result, n) in [
        ("applied", applied),
        ("duplicate", duplicate),
        ("refused", refused),
    ] {
        counter!("fieldcheck_push_events_total", "result" => result).increment(n);
    }
}

/// One pull page answered: its items and JSON bytes.
pub fn pull_page(items: usize, bytes: usize) {
    counter!("fieldcheck_pull_pages_total").increment(1);
    counter!("fieldcheck_pull_items_total").increment(items as u64);
    counter!("fieldcheck_pull_bytes_total").increment(bytes as u64);
}

pub fn blob_bytes_in(n: usize) {
    counter!("fieldcheck_blob_bytes_in_total").increment(n as u64);
}

pub fn blob_bytes_out(n: usize) {
    counter!("fieldcheck_blob_bytes_out_total").increment(n as u64);
}

/// A failed sign-in: `wrong_credentials` (unknown user or wrong password, not told apart) or
/// `rate_limited` (refused by the limiter before any check).
pub fn login_failed(reason: &'static str) {
    counter!("fieldcheck_login_failures_total", "reason" => reason).increment(1);
}

/// The pool as it is now (set at each scrape).
pub fn pool(stats: PoolStats) {
    let in_use = stats.size.saturating_sub(stats.idle);
    gauge!("fieldcheck_db_pool_connections", "state" => "idle").set(f64::from(stats.idle));
    gauge!("fieldcheck_db_pool_connections", "state" => "in_use").set(f64::from(in_use));
    gauge!("fieldcheck_db_pool_max_connections").set(f64::from(stats.max));
}
