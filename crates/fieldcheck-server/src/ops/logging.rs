//! Log output: human text (the default) or one JSON object per line (`log_format = "json"`,
//! `FIELDCHECK_LOG_FORMAT=json`), both on standard output, filtered by `RUST_LOG` (default
//! `info,sqlx=warn`).
//!
//! Every line written while a request is handled carries the request's span, with its
//! `request_id` (the `x-request-id` header the client sent or the server made, also in the
//! answer): in text as `request{… request_id=…}:`, in JSON under `spans` (all open spans,
//! outermost first) and `span` (the innermost).

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the process's log subscriber. Call once, before anything logs; a second call
/// (another subscriber already installed) changes nothing.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .flatten_event(true)
            .try_init(),
    };
}
