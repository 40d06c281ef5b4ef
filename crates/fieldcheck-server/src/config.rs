//! Server configuration: defaults, then a TOML file, then `FIELDCHECK_*` environment variables.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::client_ip::TrustedProxies;
use crate::error::ConfigError;

// Serialize only in tests (the deploy example's check): a serialized Config would carry its
// secrets, which Debug takes care to hide.
#[derive(Clone, PartialEq, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `sqlite://./data/fieldcheck.db` or `postgres://user:pass@host/db`.
    pub database_url: String,
    /// Directory of content-addressed blobs (photos).
    pub blob_dir: PathBuf,
    /// Address `fieldcheck-server serve` binds to (the library takes a listener instead).
    pub bind: String,
    /// Where complete blobs are kept: empty or `local` for `blob_dir`, or
    /// `s3://bucket/prefix` for S3-compatible object storage (see `s3`). Uploads in progress
    /// are always staged under `blob_dir` until their hash verifies.
    pub blob_store: String,
    /// Endpoint and credentials of `s3://` blob storage.
    pub s3: S3Config,
    /// Base URL devices use to reach this server, put into enrollment QR codes (and the
    /// console's own origin: an `https://` URL marks its session cookie `Secure`). Empty:
    /// `http://<ip:port>`, the server's own address on the connection the QR was asked over
    /// (never the request's Host header, which the client chooses). Behind a proxy or TLS
    /// front, set it.
    pub public_url: String,
    /// Largest request body, in bytes, of everything but blob chunks (push batches above all).
    pub max_body_bytes: usize,
    /// Largest blob chunk (one `PUT /blobs/{hash}` body), in bytes.
    pub max_chunk_bytes: usize,
    /// Largest blob (photo) in total, in bytes.
    pub max_blob_bytes: u64,
    /// How far in the future an event's HLC may lie before the server clamps it.
    pub max_clock_skew_secs: u64,
    /// Oldest client protocol version still served; older ones get 426.
    pub min_protocol: u32,
    /// Largest pull page.
    pub max_pull_limit: u32,
    /// Lifetime of a web login session.
    pub session_ttl_secs: u64,
    /// Largest pull page in bytes of event bodies; a page stops before the event that would
    /// pass it (it always holds at least one event).
    pub max_pull_bytes: usize,
    /// Push requests per minute one device (or web session's user) may make on average...
    pub push_per_minute: u32,
    /// ...and in a burst; beyond, 429 `rate_limited` with `Retry-After`.
    pub push_burst: u32,
    /// Open311 requests per minute one client may make on average (per api_key for `POST
    /// requests`, per address for the public reads)...
    pub open311_per_minute: u32,
    /// ...and in a burst; beyond, 429 in the spec's errors document with `Retry-After`.
    pub open311_burst: u32,
    /// A device token stops working after this long without a request (sliding: every use
    /// restarts it), so a phone lost in a drawer does not keep access forever.
    pub device_token_idle_secs: u64,
    /// Failed sign-ins allowed per (username, client IP) within `auth_window_secs`.
    pub login_failures_per_user: u32,
    /// Failed sign-ins allowed per client IP across all usernames (password spraying).
    pub login_failures_per_ip: u32,
    /// Wrong enrollment codes allowed per client IP (code guessing).
    pub enroll_failures_per_ip: u32,
    /// The window the failure limits above count over.
    pub auth_window_secs: u64,
    /// An upload left unfinished this long (no chunk since) is deleted by the sweeper; the
    /// device then starts that photo again from its first byte.
    pub staged_upload_ttl_secs: u64,
    /// A console session ends after this long without a request (each request slides it).
    pub console_idle_secs: u64,
    /// ...and this long after sign-in whatever happens.
    pub console_max_secs: u64,
    /// The console web app's built files (`npm run build` in `ui/` writes `ui/dist-console`),
    /// served at `/console/`. Relative paths are taken from the working directory.
    pub console_dir: PathBuf,
    /// The volunteers' public report page's built files (`npm run build` in `ui/` writes
    /// `ui/dist-report`), served at `/report/`. Relative paths are taken from the working
    /// directory.
    pub report_dir: PathBuf,
    /// The city's Tianditu (天地图) browser key: the console offers Tianditu's basemap with it
    /// (CGCS2000, drawn as WGS-84). Empty: no Tianditu.
    pub tianditu_key: String,
    /// The phones' online basemap: `tianditu` (with `tianditu_key`), `amap` or `osm`; empty:
    /// Tianditu when a key is set, else none (the phones draw their offline package or a
    /// grid). Sent with `GET /api/v1/map`.
    pub map_source: String,
    /// The city's offline map package (an MBTiles file, e.g. from `fieldcheck-server
    /// map-package`), downloaded by the devices at their next sync. Empty: none.
    pub map_package: PathBuf,
    /// `text` (the default, for people) or `json` (one JSON object per line, for a log
    /// shipper). Either way every line of a request carries its `request_id`.
    pub log_format: LogFormat,
    /// Bearer token `/metrics` requires. Empty: `/metrics` answers loopback clients only
    /// (a Prometheus on the same machine): the client as `trusted_proxies` finds it, so behind
    /// a proxy on this machine that is not listed here, every client looks local — list it,
    /// set a token, or do not forward `/metrics`.
    pub metrics_token: String,
    /// Reverse proxies (CIDR ranges or addresses) whose `X-Forwarded-For` names the client:
    /// a request from one of them counts against the right-most forwarded address that is
    /// not itself a trusted proxy (sign-in and enrollment limits, `/metrics`, logs). Empty:
    /// trust none, every client is its TCP peer. See `client_ip.rs`.
    pub trusted_proxies: TrustedProxies,
    /// After SIGTERM/Ctrl-C: how long requests in flight (and the push group being committed)
    /// may take to finish before the server exits anyway.
    pub shutdown_grace_secs: u64,
    /// Where the console's export files are written (`api/console_exports.rs`). Empty: the
    /// directory `exports` beside `blob_dir` (the data directory).
    pub export_dir: PathBuf,
    /// Folders searched (recursively) for the CJK font the PDF reports are set in: every face
    /// of Debian's `fonts-noto-cjk` (`NotoSansCJK-*.ttc`, SIL OFL) or any other font that
    /// covers Chinese. Default: the system font folders (`/usr/share/fonts`,
    /// `/usr/local/share/fonts`). `FIELDCHECK_REPORT_FONT_DIRS` takes them separated by `:`.
    pub report_font_dirs: Vec<PathBuf>,
}

/// How log lines are written (`log_format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: "sqlite://./data/fieldcheck.db".into(),
            blob_dir: PathBuf::from("./data/blobs"),
            bind: "127.0.0.1:8080".into(),
            blob_store: String::new(),
            s3: S3Config::default(),
            public_url: String::new(),
            max_body_bytes: 8 * 1024 * 1024,
            max_chunk_bytes: 8 * 1024 * 1024,
            max_blob_bytes: 40 * 1024 * 1024,
            max_clock_skew_secs: 600,
            min_protocol: fieldcheck_protocol::PROTOCOL_VERSION,
            max_pull_limit: 1000,
            session_ttl_secs: 12 * 3600,
            max_pull_bytes: 4 * 1024 * 1024,
            push_per_minute: 120,
            push_burst: 30,
            open311_per_minute: 60,
            open311_burst: 30,
            device_token_idle_secs: 180 * 86_400,
            login_failures_per_user: 5,
            login_failures_per_ip: 20,
            enroll_failures_per_ip: 10,
            auth_window_secs: 60,
            staged_upload_ttl_secs: 7 * 86_400,
            console_idle_secs: 30 * 60,
            console_max_secs: 12 * 3600,
            console_dir: PathBuf::from("ui/dist-console"),
            report_dir: PathBuf::from("ui/dist-report"),
            tianditu_key: String::new(),
            map_source: String::new(),
            map_package: PathBuf::new(),
            log_format: LogFormat::Text,
            metrics_token: String::new(),
            trusted_proxies: TrustedProxies::default(),
            shutdown_grace_secs: 30,
            export_dir: PathBuf::new(),
            report_font_dirs: fieldcheck_report::DEFAULT_FONT_DIRS
                .iter()
                .map(PathBuf::from)
                .collect(),
        }
    }
}

/// The database URL may carry a password: Debug output shows it redacted.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("blob_dir", &self.blob_dir)
            .field("export_dir", &self.export_dir)
            .field("report_font_dirs", &self.report_font_dirs)
            .field("bind", &self.bind)
            .field("blob_store", &self.blob_store)
            .field("s3", &self.s3)
            .field("public_url", &self.public_url)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_chunk_bytes", &self.max_chunk_bytes)
            .field("max_blob_bytes", &self.max_blob_bytes)
            .field("max_clock_skew_secs", &self.max_clock_skew_secs)
            .field("min_protocol", &self.min_protocol)
            .field("max_pull_limit", &self.max_pull_limit)
            .field("session_ttl_secs", &self.session_ttl_secs)
            .field("max_pull_bytes", &self.max_pull_bytes)
            .field("push_per_minute", &self.push_per_minute)
            .field("push_burst", &self.push_burst)
            .field("open311_per_minute", &self.open311_per_minute)
            .field("open311_burst", &self.open311_burst)
            .field("device_token_idle_secs", &self.device_token_idle_secs)
            .field("login_failures_per_user", &self.login_failures_per_user)
            .field("login_failures_per_ip", &self.login_failures_per_ip)
            .field("enroll_failures_per_ip", &self.enroll_failures_per_ip)
            .field("auth_window_secs", &self.auth_window_secs)
            .field("staged_upload_ttl_secs", &self.staged_upload_ttl_secs)
            .field("console_idle_secs", &self.console_idle_secs)
            .field("console_max_secs", &self.console_max_secs)
            .field("console_dir", &self.console_dir)
            .field("report_dir", &self.report_dir)
            .field(
                "tianditu_key",
                &(!self.tianditu_key.is_empty()).then_some("***"),
            )
            .field("map_source", &self.map_source)
            .field("map_package", &self.map_package)
            .field("log_format", &self.log_format)
            .field(
                "metrics_token",
                &(!self.metrics_token.is_empty()).then_some("***"),
            )
            .field("trusted_proxies", &self.trusted_proxies)
            .field("shutdown_grace_secs", &self.shutdown_grace_secs)
            .finish()
    }
}

/// S3-compatible object storage. Fields left empty fall back to the standard `AWS_*`
/// environment variables (`AWS_ACCESS_KEY_ID`, `AWS_ENDPOINT`, ...).
#[derive(Clone, Default, PartialEq, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(default, deny_unknown_fields)]
pub struct S3Config {
    /// e.g. `https://minio.example:9000`; empty for AWS itself.
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Needed for plain-http endpoints (a MinIO on the LAN).
    pub allow_http: bool,
}

/// The secret key never reaches a log line.
impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secret = if self.secret_access_key.is_empty() {
            ""
        } else {
            "***"
        };
        f.debug_struct("S3Config")
            .field("endpoint", &redact_url(&self.endpoint))
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &secret)
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((creds, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match creds.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

impl Config {
    /// Whether browsers reach the server over https (a `https://` `public_url`): the console's
    /// cookie is then `Secure`.
    /// The directory export files go to: `export_dir`, or `exports` beside `blob_dir`.
    pub fn export_dir(&self) -> PathBuf {
        if !self.export_dir.as_os_str().is_empty() {
            return self.export_dir.clone();
        }
        match self.blob_dir.parent() {
            Some(p) => p.join("exports"),
            None => PathBuf::from("exports"),
        }
    }

    pub fn behind_https(&self) -> bool {
        self.public_url
            .trim()
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
    }

    /// Defaults, overlaid by `file` (when given), overlaid by `FIELDCHECK_*` variables.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
                    path: path.to_owned(),
                    source: e,
                })?;
                Config::from_toml(&text)?
            }
            None => Config::default(),
        };
        config.apply_env(std::env::vars())?;
        config.check()?;
        Ok(config)
    }

    /// Settings that would only fail later, refused at start with what is wrong.
    pub fn check(&self) -> Result<(), ConfigError> {
        let source = self.map_source.trim();
        if !source.is_empty() && !fieldcheck_protocol::map::ONLINE_SOURCES.contains(&source) {
            return Err(ConfigError::Invalid {
                key: "map_source",
                message: format!(
                    "{source:?} is not one of {}",
                    fieldcheck_protocol::map::ONLINE_SOURCES.join(", ")
                ),
            });
        }
        if source == "tianditu" && self.tianditu_key.trim().is_empty() {
            return Err(ConfigError::Invalid {
                key: "map_source",
                message: "tianditu needs the city's key in tianditu_key".into(),
            });
        }
        if !self.map_package.as_os_str().is_empty() {
            fieldcheck_tiles::MbTiles::open(&self.map_package).map_err(|e| {
                ConfigError::Invalid {
                    key: "map_package",
                    message: e.to_string(),
                }
            })?;
        }
        Ok(())
    }

    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))
    }

    /// Applies `FIELDCHECK_<FIELD>` variables (upper-case field names).
    pub fn apply_env(
        &mut self,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(), ConfigError> {
        fn num<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, ConfigError> {
            v.trim().parse().map_err(|_| ConfigError::Env {
                key: key.to_owned(),
                message: format!("not a number: {v:?}"),
            })
        }
        for (key, value) in vars {
            let Some(field) = key.strip_prefix("FIELDCHECK_") else {
                continue;
            };
            match field {
                "DATABASE_URL" => self.database_url = value,
                "BLOB_DIR" => self.blob_dir = PathBuf::from(value),
                "EXPORT_DIR" => self.export_dir = PathBuf::from(value),
                "REPORT_FONT_DIRS" => {
                    self.report_font_dirs = std::env::split_paths(&value).collect();
                }
                "BIND" => self.bind = value,
                "BLOB_STORE" => self.blob_store = value,
                "PUBLIC_URL" => self.public_url = value,
                "S3_ENDPOINT" => self.s3.endpoint = value,
                "S3_REGION" => self.s3.region = value,
                "S3_ACCESS_KEY_ID" => self.s3.access_key_id = value,
                "S3_SECRET_ACCESS_KEY" => self.s3.secret_access_key = value,
                "S3_ALLOW_HTTP" => {
                    self.s3.allow_http = match value.trim() {
                        "1" | "true" | "yes" => true,
                        "0" | "false" | "no" | "" => false,
                        _ => {
                            return Err(ConfigError::Env {
                                key,
                                message: format!("not a boolean: {value:?}"),
                            });
                        }
                    }
                }
                "MAX_BODY_BYTES" => self.max_body_bytes = num(&key, &value)?,
                "MAX_CHUNK_BYTES" => self.max_chunk_bytes = num(&key, &value)?,
                "MAX_BLOB_BYTES" => self.max_blob_bytes = num(&key, &value)?,
                "MAX_CLOCK_SKEW_SECS" => self.max_clock_skew_secs = num(&key, &value)?,
                "MIN_PROTOCOL" => self.min_protocol = num(&key, &value)?,
                "MAX_PULL_LIMIT" => self.max_pull_limit = num(&key, &value)?,
                "SESSION_TTL_SECS" => self.session_ttl_secs = num(&key, &value)?,
                "MAX_PULL_BYTES" => self.max_pull_bytes = num(&key, &value)?,
                "PUSH_PER_MINUTE" => self.push_per_minute = num(&key, &value)?,
                "PUSH_BURST" => self.push_burst = num(&key, &value)?,
                "OPEN311_PER_MINUTE" => self.open311_per_minute = num(&key, &value)?,
                "OPEN311_BURST" => self.open311_burst = num(&key, &value)?,
                "DEVICE_TOKEN_IDLE_SECS" => self.device_token_idle_secs = num(&key, &value)?,
                "LOGIN_FAILURES_PER_USER" => self.login_failures_per_user = num(&key, &value)?,
                "LOGIN_FAILURES_PER_IP" => self.login_failures_per_ip = num(&key, &value)?,
                "ENROLL_FAILURES_PER_IP" => self.enroll_failures_per_ip = num(&key, &value)?,
                "AUTH_WINDOW_SECS" => self.auth_window_secs = num(&key, &value)?,
                "STAGED_UPLOAD_TTL_SECS" => self.staged_upload_ttl_secs = num(&key, &value)?,
                "CONSOLE_IDLE_SECS" => self.console_idle_secs = num(&key, &value)?,
                "CONSOLE_MAX_SECS" => self.console_max_secs = num(&key, &value)?,
                "CONSOLE_DIR" => self.console_dir = PathBuf::from(value),
                "REPORT_DIR" => self.report_dir = PathBuf::from(value),
                "TIANDITU_KEY" => self.tianditu_key = value,
                "MAP_SOURCE" => self.map_source = value,
                "MAP_PACKAGE" => self.map_package = PathBuf::from(value),
                "LOG_FORMAT" => {
                    self.log_format = match value.trim().to_ascii_lowercase().as_str() {
                        "text" | "" => LogFormat::Text,
                        "json" => LogFormat::Json,
                        _ => {
                            return Err(ConfigError::Env {
                                key,
                                message: format!("not `text` or `json`: {value:?}"),
                            });
                        }
                    }
                }
                "METRICS_TOKEN" => self.metrics_token = value,
                // `127.0.0.1, 10.0.0.0/8` (commas or spaces).
                "TRUSTED_PROXIES" => {
                    self.trusted_proxies = TrustedProxies::parse(
                        value
                            .split(|c: char| c == ',' || c.is_whitespace())
                            .filter(|s| !s.is_empty()),
                    )
                    .map_err(|message| ConfigError::Env { key, message })?;
                }
                "SHUTDOWN_GRACE_SECS" => self.shutdown_grace_secs = num(&key, &value)?,
                // Other FIELDCHECK_* variables belong to other tools (the device CLI, tests).
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_apply_in_order() {
        let mut c = Config::from_toml("bind = \"0.0.0.0:9000\"\nmax_body_bytes = 100\n").unwrap();
        assert_eq!(c.bind, "0.0.0.0:9000");
        assert_eq!(c.max_body_bytes, 100);
        assert_eq!(c.max_clock_skew_secs, 600, "default kept");
        c.apply_env([
            ("FIELDCHECK_MAX_BODY_BYTES".to_owned(), "200".to_owned()),
            ("OTHER".to_owned(), "x".to_owned()),
        ])
        .unwrap();
        assert_eq!(c.max_body_bytes, 200);
        assert!(
            c.apply_env([("FIELDCHECK_MAX_BODY_BYTES".to_owned(), "x".to_owned())])
                .is_err()
        );
        assert!(Config::from_toml("nonsense = 1").is_err());
    }

    #[test]
    fn access_limits_from_toml_and_env() {
        let mut c = Config::from_toml(
            "device_token_idle_secs = 86400\nlogin_failures_per_ip = 50\nauth_window_secs = 300\n",
        )
        .unwrap();
        assert_eq!(c.device_token_idle_secs, 86_400);
        assert_eq!(c.login_failures_per_ip, 50);
        assert_eq!(c.auth_window_secs, 300);
        assert_eq!(c.login_failures_per_user, 5, "default kept");
        c.apply_env([
            (
                "FIELDCHECK_ENROLL_FAILURES_PER_IP".to_owned(),
                "3".to_owned(),
            ),
            (
                "FIELDCHECK_LOGIN_FAILURES_PER_USER".to_owned(),
                "4".to_owned(),
            ),
            (
                "FIELDCHECK_DEVICE_TOKEN_IDLE_SECS".to_owned(),
                "60".to_owned(),
            ),
        ])
        .unwrap();
        assert_eq!(
            (c.enroll_failures_per_ip, c.login_failures_per_user),
            (3, 4)
        );
        assert_eq!(c.device_token_idle_secs, 60);
    }

    #[test]
    fn trusted_proxies_from_toml_and_env() {
        assert!(Config::default().trusted_proxies.is_empty());
        let mut c =
            Config::from_toml("trusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]\n").unwrap();
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert!(c.trusted_proxies.contains(ip("127.0.0.1")));
        assert!(c.trusted_proxies.contains(ip("10.2.3.4")));
        assert!(!c.trusted_proxies.contains(ip("192.168.1.1")));
        let e = Config::from_toml("trusted_proxies = [\"10.0.0.0/40\"]\n").unwrap_err();
        assert!(e.to_string().contains("10.0.0.0/40"), "{e}");
        c.apply_env([(
            "FIELDCHECK_TRUSTED_PROXIES".to_owned(),
            "192.168.0.0/16, fd00::/8 172.16.0.1".to_owned(),
        )])
        .unwrap();
        assert!(c.trusted_proxies.contains(ip("192.168.1.1")));
        assert!(c.trusted_proxies.contains(ip("172.16.0.1")));
        assert!(!c.trusted_proxies.contains(ip("127.0.0.1")));
        // Empty: trust none again.
        c.apply_env([("FIELDCHECK_TRUSTED_PROXIES".to_owned(), " ".to_owned())])
            .unwrap();
        assert!(c.trusted_proxies.is_empty());
        let e = c
            .apply_env([("FIELDCHECK_TRUSTED_PROXIES".to_owned(), "nginx".to_owned())])
            .unwrap_err();
        assert!(e.to_string().contains("nginx"), "{e}");
    }

    #[test]
    fn ops_settings_from_toml_and_env() {
        let mut c = Config::from_toml(
            "log_format = \"json\"\nmetrics_token = \"scrape-secret\"\nshutdown_grace_secs = 5\n",
        )
        .unwrap();
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.shutdown_grace_secs, 5);
        assert!(!format!("{c:?}").contains("scrape-secret"));
        c.apply_env([("FIELDCHECK_LOG_FORMAT".to_owned(), "TEXT".to_owned())])
            .unwrap();
        assert_eq!(c.log_format, LogFormat::Text);
        assert!(
            c.apply_env([("FIELDCHECK_LOG_FORMAT".to_owned(), "xml".to_owned())])
                .is_err()
        );
        assert!(Config::from_toml("log_format = \"xml\"\n").is_err());
        assert_eq!(Config::default().log_format, LogFormat::Text);
    }

    #[test]
    fn debug_redacts_password() {
        let c = Config {
            database_url: "postgres://app:s3cret@db.example/fc".into(),
            ..Config::default()
        };
        let s = format!("{c:?}");
        assert!(!s.contains("s3cret"), "{s}");
        assert!(s.contains("postgres://app:***@db.example/fc"));
    }

    #[test]
    fn s3_settings_from_toml_and_env_with_secret_redacted() {
        let mut c = Config::from_toml(
            "blob_store = \"s3://photos/fieldcheck\"\n[s3]\nendpoint = \"http://minio:9000\"\n\
             access_key_id = \"AKIA1\"\nsecret_access_key = \"topsecret\"\nallow_http = true\n",
        )
        .unwrap();
        assert_eq!(c.blob_store, "s3://photos/fieldcheck");
        assert_eq!(c.s3.endpoint, "http://minio:9000");
        assert!(c.s3.allow_http);
        c.apply_env([
            (
                "FIELDCHECK_S3_SECRET_ACCESS_KEY".to_owned(),
                "envsecret".to_owned(),
            ),
            ("FIELDCHECK_S3_REGION".to_owned(), "cn-east-1".to_owned()),
            ("FIELDCHECK_MAX_BLOB_BYTES".to_owned(), "1000".to_owned()),
        ])
        .unwrap();
        assert_eq!(c.s3.secret_access_key, "envsecret");
        assert_eq!(c.s3.region, "cn-east-1");
        assert_eq!(c.max_blob_bytes, 1000);
        let s = format!("{c:?}");
        assert!(!s.contains("envsecret") && !s.contains("topsecret"), "{s}");
        assert!(s.contains("AKIA1"));
        assert!(
            c.apply_env([("FIELDCHECK_S3_ALLOW_HTTP".to_owned(), "maybe".to_owned())])
                .is_err()
        );
        assert!(Config::from_toml("[s3]\nnonsense = 1\n").is_err());
    }

    // The production files operators copy (README, "Running it in production"): compiled in,
    // so editing one reruns these tests.
    const EXAMPLE: &str = include_str!("../../../deploy/fieldcheck-server.toml");
    const UNIT: &str = include_str!("../../../deploy/fieldcheck-server.service");
    const NGINX: &str = include_str!("../../../deploy/nginx-fieldcheck.conf");
    const README: &str = include_str!("../../../README.md");

    /// Every `key = value` of a TOML text as `section.key`, with the `#` lines right above it
    /// (a blank line or a table header ends a comment).
    fn documented_keys(text: &str) -> std::collections::HashMap<String, String> {
        let (mut section, mut comment) = (String::new(), Vec::new());
        let mut keys = std::collections::HashMap::new();
        for line in text.lines().map(str::trim) {
            if let Some(c) = line.strip_prefix('#') {
                comment.push(c.trim());
                continue;
            }
            if let Some(table) = line.strip_prefix('[') {
                section = format!("{}.", table.trim_end_matches(']'));
            } else if let Some((key, _)) = line.split_once('=') {
                keys.insert(format!("{section}{}", key.trim()), comment.join(" "));
            }
            comment.clear();
        }
        keys
    }

    /// `key` (with `section.` for nested tables) and its value, for every leaf of `v`.
    fn leaves(prefix: &str, v: &toml::Value, out: &mut Vec<(String, toml::Value)>) {
        match v {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    leaves(&key, v, out);
                }
            }
            v => out.push((prefix.to_owned(), v.clone())),
        }
    }

    /// The first value of a `name` setting in a config file (`name=v` or `name v;`).
    fn setting<'a>(text: &'a str, name: &str) -> &'a str {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("{name} not found"))
            .trim()
            .trim_end_matches(';')
    }

    #[test]
    fn deploy_example_loads_and_documents_every_key_with_its_default() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/fieldcheck-server.toml");
        Config::load(Some(&path)).expect("deploy/fieldcheck-server.toml loads");
        let c = Config::from_toml(EXAMPLE).unwrap();
        assert!(c.database_url.starts_with("postgres://"));
        assert!(c.blob_store.starts_with("s3://") && c.behind_https());
        assert_eq!(c.log_format, LogFormat::Json);
        assert!(!c.metrics_token.is_empty());

        // Adding a key to Config without documenting it here fails, and so does a default
        // that changed under the example's comment.
        let mut defaults = Vec::new();
        leaves(
            "",
            &toml::Value::try_from(Config::default()).unwrap(),
            &mut defaults,
        );
        assert!(defaults.iter().any(|(k, _)| k == "s3.secret_access_key"));
        let documented = documented_keys(EXAMPLE);
        let mut wrong = Vec::new();
        for (key, default) in &defaults {
            let want = default.to_string();
            match documented.get(key) {
                None => wrong.push(format!("{key}: missing")),
                Some(comment) => {
                    let said = comment.split("Default: ").skip(1).any(|rest| {
                        rest.strip_prefix(want.as_str())
                            .is_some_and(|after| !after.starts_with(|c: char| c.is_alphanumeric()))
                    });
                    if !said {
                        wrong.push(format!("{key}: its comment does not say `Default: {want}`"));
                    }
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "deploy/fieldcheck-server.toml: {wrong:#?}"
        );
        assert_eq!(
            documented.len(),
            defaults.len(),
            "keys Config does not have"
        );
    }

    #[test]
    fn deploy_unit_and_proxy_fit_the_example() {
        let c = Config::from_toml(EXAMPLE).unwrap();
        // Requests in flight, then the push group, each up to the grace: systemd must not
        // kill a shutdown still inside it.
        let stop: u64 = setting(UNIT, "TimeoutStopSec=")
            .trim_end_matches('s')
            .parse()
            .unwrap();
        assert!(stop > 2 * c.shutdown_grace_secs, "TimeoutStopSec={stop}");

        // nginx must pass the largest body the server takes, so that the server's own 413
        // (naming its limit) is what a client sees.
        let mib: u64 = setting(NGINX, "client_max_body_size")
            .trim_end_matches('m')
            .parse()
            .unwrap();
        let console_photo = c
            .max_blob_bytes
            .min(fieldcheck_photo::Limits::default().max_bytes);
        let largest = [
            c.max_body_bytes as u64,
            c.max_chunk_bytes as u64,
            console_photo,
            crate::setup::MAX_IMPORT_BYTES as u64,
        ]
        .into_iter()
        .max()
        .unwrap();
        assert!(
            mib * 1024 * 1024 > largest,
            "client_max_body_size {mib}m < {largest}"
        );
        assert!(
            NGINX.contains(&format!("server {};", c.bind)),
            "upstream is not {}",
            c.bind
        );
        let host = c.public_url.trim_start_matches("https://");
        assert_eq!(setting(NGINX, "server_name"), host);
        // nginx appends the client to X-Forwarded-For, and the server believes nginx: its
        // per-address limits are per real client.
        assert_eq!(
            setting(NGINX, "proxy_set_header X-Forwarded-For"),
            "$proxy_add_x_forwarded_for"
        );
        let nginx_peer: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        assert!(c.trusted_proxies.contains(nginx_peer), "{c:?}");
    }

    #[test]
    fn readme_production_section_points_at_the_deploy_files() {
        let section = README
            .split("\n## ")
            .find(|s| s.starts_with("Running it in production"))
            .expect("README: a section `## Running it in production`");
        for file in [
            "deploy/fieldcheck-server.toml",
            "deploy/fieldcheck-server.service",
            "deploy/nginx-fieldcheck.conf",
        ] {
            assert!(
                section.contains(file),
                "the production section does not mention {file}"
            );
        }
    }
}
