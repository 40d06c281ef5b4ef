//! Open311 GeoReport v2 at `/open311/v2/` (issue 17): other city systems (a 12345 hotline, a
//! city app) list the problem categories as services, send service requests and follow them.
//! Outside `/api/v1`: no protocol header, the spec's own shapes. Every resource comes as XML
//! (the spec requires it) or JSON by its extension; errors are the spec's `errors` document.
//!
//! A request is a report like any other: a `problem.reported` event by the api_key's volunteer
//! user, stored through the same push path as a device's (`Store::push`), placed from the
//! reference data like a phone's GPS report (`placement::place`). The office handles it in the
//! console; `GET requests` shows its lifecycle as `open`/`closed`
//! (`fieldcheck_domain::open311::status_of`).
//!
//! What `GET requests` publishes: the requests that came in through Open311 (any key) — not
//! the city's own inspection findings — without the citizen's contact, which stays in
//! `open311_requests` for the office.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use fieldcheck_domain::open311::{Open311Status, request_code, status_of};
use fieldcheck_domain::problem::{Problem, ProblemStatus};
use fieldcheck_domain::reference::LatLon;
use fieldcheck_domain::{Event, Hlc};
use fieldcheck_protocol::ReferenceBundle;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;

use super::{AppState, St, now_ms, outside_report};
use crate::client_ip::ClientIp;
use crate::open311::{self as keys, Contact};
use crate::push_limit::PushLimiter;
use crate::store::ledger::{Arg, Col, Select};

/// What the server stores as the `device` of every event that came in through Open311.
pub const OPEN311_DEVICE: &str = "open311";
/// The spec's defaults for `GET requests`: the last 90 days, at most 1000 requests.
pub const DEFAULT_DAYS: i64 = 90;
pub const MAX_REQUESTS: usize = 1000;
/// Longest text fields taken from a POST (the event's own bounds apply too).
const MAX_DESCRIPTION: usize = 2000;
const MAX_ADDRESS: usize = 500;
const MAX_CONTACT: usize = 100;
const MAX_MEDIA_URL: usize = 500;
/// When this API last changed (the discovery document's `changeset`).
const CHANGESET: &str = "2026-12-02T00:00:00+08:00";
const SPEC: &str = "http://wiki.open311.org/GeoReport_v2";

/// Rate limits of the Open311 edge (`open311_per_minute`, `open311_burst`): per api_key for
/// `POST requests`, per client address for everything. (Two copies of one request sent at
/// once are kept from both missing the retry check by a claim in the database,
/// [`keys::claim_request`], which holds across instances.)
pub struct Open311State {
    per_key: PushLimiter,
    per_ip: PushLimiter,
}

impl Open311State {
    pub fn new(per_minute: u32, burst: u32) -> Open311State {
        Open311State {
            per_key: PushLimiter::new(per_minute, burst),
            // Reads are cheap and public; an address gets four times a key's budget.
            per_ip: PushLimiter::new(per_minute.saturating_mul(4), burst.saturating_mul(4)),
        }
    }

    /// Counts both limits in `store`, so they hold across instances sharing it (PostgreSQL).
    pub fn shared(self, store: Arc<dyn crate::store::Store>) -> Open311State {
        Open311State {
            per_key: self.per_key.shared_as(store.clone(), "open311-key"),
            per_ip: self.per_ip.shared_as(store, "open311-ip"),
        }
    }
}

/// How long a POST waits for another copy of itself to finish before answering 503.
const CLAIM_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// Releases a POST's claim when the handler ends, however it ends.
struct ClaimGuard {
    store: Arc<dyn crate::store::Store>,
    key_id: String,
    fingerprint: String,
    token: String,
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        let (store, key_id, fingerprint, token) = (
            self.store.clone(),
            std::mem::take(&mut self.key_id),
            std::mem::take(&mut self.fingerprint),
            std::mem::take(&mut self.token),
        );
        tokio::spawn(async move {
            let now = chrono::Utc::now().timestamp_millis();
            if let Err(e) =
                keys::release_claim(store.as_ref(), &key_id, &fingerprint, &token, now).await
            {
                tracing::warn!(error = %e, "releasing an Open311 claim failed; it goes stale");
            }
        });
    }
}

/// XML or JSON, from the resource's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xml,
    Json,
}

/// `name.xml` / `name.json` → (`name`, format).
fn split_format(file: &str) -> Option<(&str, Format)> {
    if let Some(n) = file.strip_suffix(".xml") {
        Some((n, Format::Xml))
    } else {
        file.strip_suffix(".json").map(|n| (n, Format::Json))
    }
}

/// An answer in the spec's `errors` document.
#[derive(Debug)]
pub struct Open311Error {
    status: StatusCode,
    description: String,
    format: Format,
    retry_after: Option<u64>,
}

fn err(status: StatusCode, format: Format, description: impl Into<String>) -> Open311Error {
    Open311Error {
        status,
        description: description.into(),
        format,
        retry_after: None,
    }
}

fn bad(format: Format, d: impl Into<String>) -> Open311Error {
    err(StatusCode::BAD_REQUEST, format, d)
}

/// One error of the `errors` document.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Open311ErrorItem {
    /// The HTTP status (400, 403, 404, 413, 429, 500).
    pub code: u16,
    pub description: String,
}

#[derive(Serialize)]
struct ErrorsXml<'a> {
    error: &'a [Open311ErrorItem],
}

impl IntoResponse for Open311Error {
    fn into_response(self) -> Response {
        let description = if self.status.is_server_error() {
            tracing::error!(error = %self.description, "open311 request failed");
            "internal server error".to_owned()
        } else {
            self.description
        };
        let items = [Open311ErrorItem {
            code: self.status.as_u16(),
            description,
        }];
        let mut r = render(self.format, "errors", &items, &ErrorsXml { error: &items });
        *r.status_mut() = self.status;
        if let Some(s) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        r
    }
}

fn internal(format: Format) -> impl Fn(crate::error::ServerError) -> Open311Error {
    move |e| match e {
        crate::error::ServerError::TooLarge(_) | crate::error::ServerError::BlobTooLarge { .. } => {
            err(StatusCode::PAYLOAD_TOO_LARGE, format, e.to_string())
        }
        e => err(StatusCode::INTERNAL_SERVER_ERROR, format, e.to_string()),
    }
}

type O311<T> = Result<T, Open311Error>;

/// A list as the spec shapes it: a JSON array, or `<root><item/>…</root>` in XML (the item's
/// element name comes from the wrapper `xml` builds).
fn render<T: Serialize + ?Sized, W: Serialize>(
    format: Format,
    root: &str,
    items: &T,
    xml: &W,
) -> Response {
    match format {
        Format::Json => match serde_json::to_vec(items) {
            Ok(b) => (
                [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
                b,
            )
                .into_response(),
            Err(e) => plain_500(&e.to_string()),
        },
        Format::Xml => match quick_xml::se::to_string_with_root(root, xml) {
            Ok(s) => (
                [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
                format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n{s}"),
            )
                .into_response(),
            Err(e) => plain_500(&e.to_string()),
        },
    }
}

fn plain_500(e: &str) -> Response {
    tracing::error!(error = %e, "open311 answer could not be written");
    (StatusCode::INTERNAL_SERVER_ERROR, "internal server error").into_response()
}

/// This module's routes, at the root (outside `/api/v1` and its protocol check).
pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/open311/v2/{file}",
            get(top_get).post(top_post).fallback(other_method),
        )
        .route("/open311/v2/services/{file}", get(service_definition))
        .route("/open311/v2/requests/{file}", get(one_request))
        .route("/open311/v2/tokens/{file}", get(token))
}

/// This module's operations, merged into the API document (`openapi.rs`).
#[derive(OpenApi)]
#[openapi(
    paths(
        discovery,
        services,
        service_definition,
        post_request,
        requests,
        one_request,
        token
    ),
    components(schemas(
        Open311ErrorItem,
        Discovery,
        Endpoint,
        Service,
        ServiceDefinition,
        Created,
        ServiceRequest,
        TokenAnswer,
        PostForm,
    ))
)]
pub(super) struct Api;

/// Per client address, every Open311 request.
async fn limit_ip(state: &AppState, ip: IpAddr, format: Format) -> O311<()> {
    state
        .open311
        .per_ip
        .take(&ip.to_string(), Instant::now())
        .await
        .map_err(|secs| too_many(format, secs))
}

fn too_many(format: Format, secs: u64) -> Open311Error {
    Open311Error {
        retry_after: Some(secs),
        ..err(
            StatusCode::TOO_MANY_REQUESTS,
            format,
            format!("too many requests; try again in {secs} s"),
        )
    }
}

fn format_of(file: &str) -> O311<(&str, Format)> {
    split_format(file).ok_or_else(|| {
        err(
            StatusCode::NOT_FOUND,
            Format::Xml,
            format!("{file}: resources end in .xml or .json"),
        )
    })
}

/// 405 for a method the resource does not take, with `Allow` naming the methods *this*
/// resource takes: the three top-level resources share one route, but only `requests` is
/// posted to.
async fn other_method(Path(file): Path<String>) -> Response {
    let allow = if file.starts_with("requests.") {
        "GET,HEAD,POST"
    } else {
        "GET,HEAD"
    };
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(axum::http::header::ALLOW, allow)],
    )
        .into_response()
}

async fn top_get(
    State(state): St,
    ClientIp(ip): ClientIp,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
    extensions: axum::http::Extensions,
) -> O311<Response> {
    let (name, format) = format_of(&file)?;
    limit_ip(&state, ip, format).await?;
    match name {
        "discovery" => discovery_answer(&state, &extensions, format),
        "services" => services_answer(&state, format).await,
        "requests" => {
            let q: Vec<(String, String)> =
                serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
                    .map_err(|e| bad(format, format!("the query is not form-encoded: {e}")))?;
            requests_answer(&state, &q, format).await
        }
        _ => Err(err(
            StatusCode::NOT_FOUND,
            format,
            format!("no resource {name}"),
        )),
    }
}

async fn top_post(
    State(state): St,
    ClientIp(ip): ClientIp,
    Path(file): Path<String>,
    req: Request,
) -> O311<Response> {
    let (name, format) = format_of(&file)?;
    limit_ip(&state, ip, format).await?;
    if name != "requests" {
        return Err(err(
            StatusCode::NOT_FOUND,
            format,
            format!("no resource {name} to POST to (only requests)"),
        ));
    }
    post_answer(&state, req, format).await
}

// ---------------------------------------------------------------------------------------------
// Discovery

/// The service discovery document.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Discovery {
    pub changeset: String,
    pub contact: String,
    pub key_service: String,
    pub endpoints: Vec<Endpoint>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Endpoint {
    pub specification: String,
    pub url: String,
    pub changeset: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub formats: Vec<String>,
}

#[derive(Serialize)]
struct DiscoveryXml<'a> {
    changeset: &'a str,
    contact: &'a str,
    key_service: &'a str,
    endpoints: EndpointsXml<'a>,
}

#[derive(Serialize)]
struct EndpointsXml<'a> {
    endpoint: Vec<EndpointXml<'a>>,
}

#[derive(Serialize)]
struct EndpointXml<'a> {
    specification: &'a str,
    url: &'a str,
    changeset: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    formats: FormatsXml<'a>,
}

#[derive(Serialize)]
struct FormatsXml<'a> {
    format: &'a [String],
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // documents the path parameter
struct FormatParam {
    /// `xml` or `json`
    format: String,
}

/// Where this API is, as a client reaches it: `public_url`, or this server's own address on
/// the connection (never the Host header, which the client chooses).
fn base_url(state: &AppState, extensions: &axum::http::Extensions) -> String {
    let public = state.config.public_url.trim_end_matches('/');
    if !public.is_empty() {
        return public.to_owned();
    }
    match extensions.get::<super::LocalAddr>() {
        Some(super::LocalAddr(a)) => format!("http://{a}"),
        None => String::new(),
    }
}

#[utoipa::path(
    get,
    path = "/open311/v2/discovery.{format}",
    tag = "open311",
    params(("format" = String, Path, description = "`xml` or `json`", pattern = "^(xml|json)$")),
    responses(
        (status = 200, description = "Where the GeoReport v2 endpoint is and its formats", content(
            (Discovery = "application/json"),
            (String = "text/xml"))),
        (status = 404, description = "Not `.xml` or `.json`", content(
            (Vec<Open311ErrorItem> = "application/json"), (String = "text/xml"))),
        (status = 429, description = "Too many requests from this address", content(
            (Vec<Open311ErrorItem> = "application/json"), (String = "text/xml"))),
    )
)]
#[allow(dead_code)] // the operation's documentation; `top_get`/`top_post` answer it
async fn discovery() {}

fn discovery_answer(
    state: &AppState,
    extensions: &axum::http::Extensions,
    format: Format,
) -> O311<Response> {
    let url = format!("{}/open311/v2", base_url(state, extensions));
    let formats = vec!["text/xml".to_owned(), "application/json".to_owned()];
    let contact = "请联系城市管理部门（City administration office）".to_owned();
    let key_service = "api_key 由城市管理部门在控制台签发（issued by the office）".to_owned();
    Ok(match format {
        Format::Json => axum::Json(Discovery {
            changeset: CHANGESET.into(),
            contact,
            key_service,
            endpoints: vec![Endpoint {
                specification: SPEC.into(),
                url,
                changeset: CHANGESET.into(),
                kind: "production".into(),
                formats,
            }],
        })
        .into_response(),
        Format::Xml => render(
            Format::Xml,
            "discovery",
            &(),
            &DiscoveryXml {
                changeset: CHANGESET,
                contact: &contact,
                key_service: &key_service,
                endpoints: EndpointsXml {
                    endpoint: vec![EndpointXml {
                        specification: SPEC,
                        url: &url,
                        changeset: CHANGESET,
                        kind: "production",
                        formats: FormatsXml { format: &formats },
                    }],
                },
            },
        ),
    })
}

// ---------------------------------------------------------------------------------------------
// Services

/// A minor problem category as a service; its major class is the `group`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Service {
    pub service_code: String,
    pub service_name: String,
    pub description: String,
    /// Always false: no extra attributes are asked for.
    pub metadata: bool,
    /// Always `realtime`: a request gets its id at once.
    #[serde(rename = "type")]
    pub kind: String,
    /// Comma-separated: the English names and the class.
    pub keywords: String,
    pub group: String,
}

#[derive(Serialize)]
struct ServicesXml<'a> {
    service: &'a [Service],
}

fn services_of(refs: &ReferenceBundle) -> Vec<Service> {
    refs.categories
        .iter()
        .map(|c| {
            let keywords: Vec<&str> = [
                c.minor.en.as_str(),
                c.major.en.as_str(),
                c.major.zh.as_str(),
            ]
            .into_iter()
            .filter(|k| !k.is_empty())
            .collect();
            let description = if c.filing_condition.zh.is_empty() {
                format!("{} / {}", c.major.zh, c.minor.zh)
            } else {
                c.filing_condition.zh.clone()
            };
            Service {
                service_code: c.code.clone(),
                service_name: c.minor.zh.clone(),
                description,
                metadata: false,
                kind: "realtime".into(),
                keywords: keywords.join(","),
                group: c.major.zh.clone(),
            }
        })
        .collect()
}

#[utoipa::path(
    get,
    path = "/open311/v2/services.{format}",
    tag = "open311",
    params(("format" = String, Path, description = "`xml` or `json`", pattern = "^(xml|json)$")),
    responses(
        (status = 200, description = "Every minor problem category (service_code = its code, group = its major class, names in Chinese)", content(
            (Vec<Service> = "application/json"), (String = "text/xml"))),
        (status = 404, description = "Not `.xml` or `.json`", content(
            (Vec<Open311ErrorItem> = "application/json"), (String = "text/xml"))),
        (status = 429, description = "Too many requests from this address", content(
            (Vec<Open311ErrorItem> = "application/json"), (String = "text/xml"))),
    )
)]
#[allow(dead_code)] // the operation's documentation; `top_get`/`top_post` answer it
async fn services() {}

async fn services_answer(state: &AppState, format: Format) -> O311<Response> {
    let refs = state.refs().await.map_err(internal(format))?;
    let list = services_of(&refs);
    Ok(render(
        format,
        "services",
        &list,
        &ServicesXml { service: &list },
    ))
}

/// A service's definition: no attributes are asked for.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ServiceDefinition {
    pub service_code: String,
    pub attributes: Vec<serde_json::Value>,
}

#[derive(Serialize)]
struct DefinitionXml<'a> {
    service_code: &'a str,
    attributes: Empty,
}

#[derive(Serialize)]
struct Empty;

#[utoipa::path(
    get,
    path = "/open311/v2/services/{service_code}.{format}",
    tag = "open311",
    params(
        ("service_code" = String, Path, description = "A category code from `services`"),
        ("format" = String, Path, description = "`xml` or `json`", pattern = "^(xml|json)$"),
    ),
    responses(
        (status = 200, description = "The service definition (`attributes` is empty)", content(
            (ServiceDefinition = "application/json"), (String = "text/xml"))),
        (status = 404, description = "No such service, or not `.xml`/`.json`", content(
            (Vec<Open311ErrorItem> = "application/json"), (String = "text/xml"))),
        (status = 429, description = "Too many requests from this address", content(
            (Vec<Open311ErrorItem> = "application/json"), (String = "text/xml"))),
    )
)]
async fn service_definition(
    State(state): St,
    ClientIp(ip): ClientIp,
    Path(file): Path<String>,
) -> O311<Response> {
    let (code, format) = format_of(&file)?;
    limit_ip(&state, ip, format).await?;
    let refs = state.refs().await.map_err(internal(format))?;
    let Some(c) = refs.categories.iter().find(|c| c.code == code) else {
        return Err(err(
            StatusCode::NOT_FOUND,
            format,
            format!("service_code {code:?} not found"),
        ));
    };
    Ok(match format {
        Format::Json => axum::Json(ServiceDefinition {
            service_code: c.code.clone(),
            attributes: Vec::new(),
        })
        .into_response(),
        Format::Xml => render(
            Format::Xml,
            "service_definition",
            &(),
            &DefinitionXml {
                service_code: &c.code,
                attributes: Empty,
            },
        ),
    })
}

// ---------------------------------------------------------------------------------------------
// POST requests

/// The fields of `POST requests` (form-encoded as the spec says).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[allow(dead_code)] // documents the form; the handler reads the pairs itself
pub struct PostForm {
    /// Issued by the office (missing, unknown or revoked: 403).
    #[schema(min_length = 1, pattern = "\\S")]
    api_key: String,
    /// A code from `services` (required; unknown: 404).
    #[schema(min_length = 1, pattern = "\\S")]
    service_code: String,
    /// WGS-84 latitude, with `long`; or give `address_string` or `address_id`.
    #[schema(minimum = -90.0, maximum = 90.0)]
    lat: Option<f64>,
    /// WGS-84 longitude, with `lat`.
    #[schema(minimum = -180.0, maximum = 180.0)]
    long: Option<f64>,
    /// At most 500 characters.
    #[schema(max_length = 500)]
    address_string: Option<String>,
    /// The id of a registered point (测评点位).
    address_id: Option<String>,
    /// At most 2000 characters.
    #[schema(max_length = 2000)]
    description: Option<String>,
    /// An http(s) URL of a photo elsewhere (kept and shown back, never fetched).
    #[schema(max_length = 500)]
    media_url: Option<String>,
    /// The citizen's contact: kept for the office, never published.
    #[schema(max_length = 100)]
    first_name: Option<String>,
    #[schema(max_length = 100)]
    last_name: Option<String>,
    #[schema(max_length = 100)]
    email: Option<String>,
    #[schema(max_length = 100)]
    phone: Option<String>,
    /// Accepted and ignored.
    device_id: Option<String>,
    /// Accepted and ignored.
    account_id: Option<String>,
    /// A photo (JPEG, PNG or WebP; multipart only): the report's before photo, through the
    /// photo pipeline (metadata stripped). With it, `description` may be left out.
    #[schema(value_type = Option<String>, format = Binary)]
    media: Option<Vec<u8>>,
}

/// What `POST requests` answers.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Created {
    /// The problem code the office sees, e.g. `GL-20261202-OPEN-0007`.
    pub service_request_id: String,
    /// Also answered by `tokens/{token}`.
    pub token: String,
    pub service_notice: String,
}

#[derive(Serialize)]
struct RequestsXml<'a, T> {
    request: &'a [T],
}

#[utoipa::path(
    post,
    path = "/open311/v2/requests.{format}",
    tag = "open311",
    params(("format" = String, Path, description = "`xml` or `json`", pattern = "^(xml|json)$")),
    request_body(content(
            (PostForm = "application/x-www-form-urlencoded"),
            (PostForm = "multipart/form-data")),
        description = "Form fields as the spec names them. The same key sending the same fields again within 10 minutes gets the request it already made (a retry), not a second one. The whole body is at most `max_body_bytes`."),
    responses(
        (status = 200, description = "The new (or, for a retry, the same) request", content(
            (Vec<Created> = "application/json"), (String = "text/xml"))),
        (status = 400, description = "A field missing or invalid (the description names it): no `service_code`, no `description` and no `media`, no location (`lat`+`long`, `address_string` or `address_id`), `lat`/`long` not numbers in range, an unknown `address_id`, a text too long, `media` not a photo, a body that is neither form-encoded nor multipart", content(
            (Vec<Open311ErrorItem> = "application/json"), (String = "text/xml"))),
        (status = 403, description = "`api_key` unknown or revoked", content(
            (Vec<Open311ErrorItem> = "application/json"), (String = "text/xml"))),
        (status = 404, description = "`service_code` not found, or not `.xml`/`.json`", content(
            (Vec<Open311ErrorItem> = "application/json"), (String = "text/xml"))),
        (status = 413, description = "Body over `max_body_bytes`", content(
            (Vec<Open311ErrorItem> = "application/json"), (String = "text/xml"))),
        (status = 429, description = "Too many requests with this key or from this address (`Retry-After`)", content(
            (Vec<Open311ErrorItem> = "application/json"), (String = "text/xml"))),
        (status = 503, description = "Another copy of this request (same key, same fields) is still being made after 20 s: send it again", content(
            (Vec<Open311ErrorItem> = "application/json"), (String = "text/xml"))),
    )
)]
#[allow(dead_code)] // the operation's documentation; `top_get`/`top_post` answer it
async fn post_request() {}

/// The form's pairs, each field at most once.
struct Form(Vec<(String, String)>);

impl Form {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }
}

fn bounded(form: &Form, name: &str, max: usize, format: Format) -> O311<Option<String>> {
    match form.get(name) {
        Some(v) if v.chars().count() > max => Err(bad(
            format,
            format!(
                "{name} is {} characters long; at most {max}",
                v.chars().count()
            ),
        )),
        v => Ok(v.map(str::to_owned)),
    }
}

fn coordinate(form: &Form, name: &str, range: f64, format: Format) -> O311<Option<f64>> {
    let Some(v) = form.get(name) else {
        return Ok(None);
    };
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() && x.abs() <= range => Ok(Some(x)),
        _ => Err(bad(
            format,
            format!("{name} must be a WGS-84 number between -{range} and {range}, not {v:?}"),
        )),
    }
}

async fn post_answer(state: &AppState, req: Request, format: Format) -> O311<Response> {
    let max = state.config.max_body_bytes;
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let too_large = || {
        err(
            StatusCode::PAYLOAD_TOO_LARGE,
            format,
            format!("the body is larger than {max} bytes"),
        )
    };
    let mut media: Option<Bytes> = None;
    let pairs: Vec<(String, String)> = if ct.starts_with("multipart/form-data") {
        // The spec's fields as form parts, and the photo as the file part `media`.
        let mut mp = axum::extract::Multipart::from_request(req, &())
            .await
            .map_err(|e| bad(format, e.body_text()))?;
        let mut pairs = Vec::new();
        loop {
            let field = match mp.next_field().await {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
                Err(e) => return Err(bad(format, format!("the multipart body is broken: {e}"))),
            };
            let name = field.name().unwrap_or_default().to_owned();
            if name == "media" {
                if media.is_some() {
                    return Err(bad(format, "media is given more than once"));
                }
                media = Some(field.bytes().await.map_err(|e| {
                    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        too_large()
                    } else {
                        bad(format, format!("media: {e}"))
                    }
                })?);
            } else {
                let text = field.text().await.map_err(|e| {
                    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        too_large()
                    } else {
                        bad(format, format!("{name}: {e}"))
                    }
                })?;
                pairs.push((name, text));
            }
        }
        pairs
    } else if ct.starts_with("application/x-www-form-urlencoded") {
        let body = Bytes::from_request(req, &()).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                bad(format, e.body_text())
            }
        })?;
        if body.len() > max {
            return Err(too_large());
        }
        serde_urlencoded::from_bytes(&body)
            .map_err(|e| bad(format, format!("the body is not form-encoded: {e}")))?
    } else {
        return Err(bad(
            format,
            "the body must be application/x-www-form-urlencoded (the spec's form fields) or \
             multipart/form-data (with the photo as `media`)",
        ));
    };
    for (i, (k, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(k2, _)| k2 == k) {
            return Err(bad(format, format!("{k} is given more than once")));
        }
    }
    let form = Form(pairs);

    // The spec answers a missing or unknown key alike: 403.
    let forbidden = || {
        err(
            StatusCode::FORBIDDEN,
            format,
            "api_key is missing or not valid: ask the city office for one",
        )
    };
    let Some(api_key) = form.get("api_key") else {
        return Err(forbidden());
    };
    let key = keys::key_by_secret(state.store.as_ref(), api_key)
        .await
        .map_err(|e| internal(format)(e.into()))?
        .ok_or_else(forbidden)?;
    if key.revoked_at_ms.is_some() {
        return Err(err(StatusCode::FORBIDDEN, format, "api_key is revoked"));
    }
    state
        .open311
        .per_key
        .take(&key.id, Instant::now())
        .await
        .map_err(|secs| too_many(format, secs))?;
    let user = state
        .store
        .user(&key.user_id)
        .await
        .map_err(|e| internal(format)(e.into()))?
        .filter(|u| u.active())
        .ok_or_else(|| {
            err(
                StatusCode::FORBIDDEN,
                format,
                "api_key's reporter is disabled by the office",
            )
        })?;

    let Some(service_code) = form.get("service_code") else {
        return Err(bad(format, "service_code is required"));
    };
    let refs = state.refs().await.map_err(internal(format))?;
    if !refs.categories.iter().any(|c| c.code == service_code) {
        return Err(err(
            StatusCode::NOT_FOUND,
            format,
            format!("service_code {service_code:?} not found"),
        ));
    }
    let lat = coordinate(&form, "lat", 90.0, format)?;
    let long = coordinate(&form, "long", 180.0, format)?;
    let fix = match (lat, long) {
        (Some(lat), Some(lon)) => Some(LatLon { lat, lon }),
        (None, None) => None,
        (Some(_), None) => return Err(bad(format, "long is required with lat")),
        (None, Some(_)) => return Err(bad(format, "lat is required with long")),
    };
    let address_string = bounded(&form, "address_string", MAX_ADDRESS, format)?;
    let address_id = bounded(&form, "address_id", 64, format)?;
    let point = match &address_id {
        Some(id) => Some(
            refs.points
                .iter()
                .find(|p| &p.id == id && p.active)
                .ok_or_else(|| {
                    bad(
                        format,
                        format!("address_id {id:?} is not a registered point"),
                    )
                })?,
        ),
        None => None,
    };
    if fix.is_none() && address_string.is_none() && point.is_none() {
        return Err(bad(
            format,
            "a location is required: lat and long, address_string or address_id",
        ));
    }
    // The spec makes it optional; a report needs something to go on, and without an uploaded
    // photo that is the description (the lifecycle's rule, checked again before storing).
    let description = bounded(&form, "description", MAX_DESCRIPTION, format)?;
    if description.is_none() && media.is_none() {
        return Err(bad(
            format,
            "description is required (or a photo as media): say what the problem is",
        ));
    }
    let description = description.unwrap_or_default();
    // The photo through the devices' pipeline (orientation, bounded decode, metadata stripped,
    // re-encoded display copy), stored as the key's user's upload like the console's.
    let photo = match media {
        Some(bytes) => Some(
            outside_report::store_photo(state, &user.user, &refs, bytes)
                .await
                .map_err(|e| match e {
                    crate::error::ServerError::Malformed(m) => bad(format, format!("media: {m}")),
                    e => internal(format)(e),
                })?,
        ),
        None => None,
    };
    let media_url = bounded(&form, "media_url", MAX_MEDIA_URL, format)?;
    if let Some(u) = &media_url
        && !(u.starts_with("https://") || u.starts_with("http://"))
    {
        return Err(bad(format, "media_url must be an http(s) URL"));
    }
    let contact = Contact {
        first_name: bounded(&form, "first_name", MAX_CONTACT, format)?,
        last_name: bounded(&form, "last_name", MAX_CONTACT, format)?,
        email: bounded(&form, "email", MAX_CONTACT, format)?,
        phone: bounded(&form, "phone", MAX_CONTACT, format)?,
        media_url: media_url.clone(),
    };

    // The fields that make the request what it is (not the key itself: its id stands for it).
    let fingerprint = hex::encode(Sha256::digest(
        serde_json::json!([
            service_code,
            lat,
            long,
            address_string,
            address_id,
            description,
            media_url,
            contact.first_name,
            contact.last_name,
            contact.email,
            contact.phone,
            photo,
        ])
        .to_string()
        .as_bytes(),
    ));
    let store = state.store.as_ref();
    let ise = |e: crate::error::StoreError| internal(format)(e.into());
    // One copy at a time of these fields from this key, across instances: the claim is taken
    // before the retry check and released (by the guard, also when this future is dropped)
    // after the request is settled, so a copy that waited finds the request the first made.
    let token = Uuid::new_v4().to_string();
    let waited = Instant::now();
    loop {
        if keys::claim_request(store, &key.id, &fingerprint, &token, now_ms())
            .await
            .map_err(ise)?
        {
            break;
        }
        if waited.elapsed() > CLAIM_WAIT {
            return Err(err(
                StatusCode::SERVICE_UNAVAILABLE,
                format,
                "a copy of this request is still being made; send it again shortly",
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let _claim = ClaimGuard {
        store: state.store.clone(),
        key_id: key.id.clone(),
        fingerprint: fingerprint.clone(),
        token,
    };
    let now = now_ms();
    if let Some((id, code)) = keys::recent_request(store, &key.id, &fingerprint, now)
        .await
        .map_err(ise)?
    {
        return Ok(created(format, code, id));
    }

    // Placed as a phone places a GPS report; a registered point given as address_id is the
    // place itself.
    let placed = outside_report::place_report(
        &refs,
        &user.user,
        fix.map(|f| (f, None)),
        point,
        address_string.clone().unwrap_or_default(),
    );

    let seq = keys::reserve_request(store, &key.id, &fingerprint, &contact, now)
        .await
        .map_err(ise)?;
    let calendar = refs.calendar.clone().unwrap_or_default();
    let at = DateTime::from_timestamp_millis(now).unwrap_or_default();
    let code = request_code(
        &refs.districts,
        placed.district_id.as_deref(),
        calendar.local_day(at),
        u64::try_from(seq).unwrap_or_default(),
    );
    let entity = Uuid::now_v7();
    let actor = user.user.actor();
    let ev = Event::new(
        entity,
        &actor,
        OPEN311_DEVICE,
        Hlc::new(now, 0, OPEN311_DEVICE),
        placed.report(code.clone(), service_code.to_owned(), description),
    );
    let ev = ev.with_photos(
        photo
            .iter()
            .map(|hash| fieldcheck_domain::PhotoRef {
                hash: hash.clone(),
                role: fieldcheck_domain::PhotoRole::Before,
            })
            .collect(),
    );
    let refused = |message: String| async move {
        keys::settle_request(store, seq, None).await.map_err(ise)?;
        Err::<Response, _>(bad(format, message))
    };
    if let Err(e) = ev.check_fields() {
        return refused(e.to_string()).await;
    }
    // What the fold would refuse is answered now and not stored (a report without a
    // description or a photo).
    if let Err(r) = fieldcheck_domain::lifecycle::apply_problem(None, &ev) {
        return refused(format!("description: {}", r.message)).await;
    }
    match outside_report::push_one(state, &refs, &user.user, OPEN311_DEVICE, ev)
        .await
        .map_err(internal(format))?
    {
        outside_report::Taken::Stored { .. } => {}
        outside_report::Taken::Refused { code: c, message } => {
            return refused(format!("the report was refused: {message} ({c})")).await;
        }
    }
    keys::settle_request(store, seq, Some((&entity.to_string(), &code)))
        .await
        .map_err(ise)?;
    Ok(created(format, code, entity.to_string()))
}

fn created(format: Format, code: String, token: String) -> Response {
    let list = [Created {
        service_request_id: code,
        token,
        service_notice: "已受理，城市管理部门将核实处理（received; the office will check it）"
            .into(),
    }];
    render(
        format,
        "service_requests",
        &list,
        &RequestsXml { request: &list },
    )
}

// ---------------------------------------------------------------------------------------------
// GET requests

/// A service request as Open311 shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ServiceRequest {
    pub service_request_id: String,
    /// `open`, or `closed` once the office closed or rejected it.
    pub status: String,
    /// The status in words, with the reason the office recorded (a rejection's, a closing note).
    pub status_notes: String,
    pub service_name: String,
    pub service_code: String,
    pub description: String,
    /// The unit the problem is dispatched to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agency_responsible: Option<String>,
    /// ISO 8601 with the city's offset.
    pub requested_datetime: String,
    pub updated_datetime: String,
    /// The unit's deadline while it works on it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_datetime: Option<String>,
    pub address: String,
    /// The registered point it is at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub long: Option<f64>,
    /// The `media_url` the request was sent with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_url: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the query; the handler reads the pairs itself
struct RequestsQuery {
    /// Comma-separated request ids; when given, the other parameters are ignored.
    service_request_id: Option<String>,
    /// Only this service.
    service_code: Option<String>,
    /// ISO 8601 (with offset); default: 90 days before `end_date`.
    #[param(format = DateTime)]
    start_date: Option<String>,
    /// ISO 8601 (with offset); default: now. At most 90 days after `start_date`.
    #[param(format = DateTime)]
    end_date: Option<String>,
    /// `open` or `closed` (comma-separated for both).
    status: Option<String>,
}

#[utoipa::path(
    get,
    path = "/open311/v2/requests.{format}",
    tag = "open311",
    params(
        ("format" = String, Path, description = "`xml` or `json`", pattern = "^(xml|json)$"),
        RequestsQuery,
    ),
    responses(
        (status = 200, description = "Requests made through Open311, newest first, at most 1000; by default those of the last 90 days", content(
            (Vec<ServiceRequest> = "application/json"), (String = "text/xml"))),
        (status = 400, description = "A date that is not ISO 8601, a range over 90 days or backwards, a status other than open/closed (each checked also when `service_request_id` is given); the description names the parameter", content(
            (Vec<Open311ErrorItem> = "application/json"), (String = "text/xml"))),
        (status = 404, description = "Not `.xml` or `.json`", content(
            (Vec<Open311ErrorItem> = "application/json"), (String = "text/xml"))),
        (status = 429, description = "Too many requests from this address", content(
            (Vec<Open311ErrorItem> = "application/json"), (String = "text/xml"))),
    )
)]
#[allow(dead_code)] // the operation's documentation; `top_get`/`top_post` answer it
async fn requests() {}

fn date_param(q: &[(String, String)], name: &str, format: Format) -> O311<Option<DateTime<Utc>>> {
    match q.iter().rev().find(|(k, _)| k == name) {
        None => Ok(None),
        Some((_, v)) => DateTime::parse_from_rfc3339(v.trim())
            .map(|d| Some(d.with_timezone(&Utc)))
            .map_err(|_| {
                bad(
                    format,
                    format!("{name} must be an ISO 8601 date-time with its offset, not {v:?}"),
                )
            }),
    }
}

async fn requests_answer(
    state: &AppState,
    q: &[(String, String)],
    format: Format,
) -> O311<Response> {
    let param = |n: &str| {
        q.iter()
            .rev()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    let mut sql = String::from(
        "SELECT p.state, r.code, r.media_url FROM open311_requests r \
         JOIN problems p ON p.id = r.problem_id WHERE r.problem_id IS NOT NULL",
    );
    // Every parameter is checked, also where service_request_id makes the others moot: a
    // malformed one is the client's mistake to hear about (400 naming it), not to have ignored.
    let end = date_param(q, "end_date", format)?;
    let start = date_param(q, "start_date", format)?;
    let mut statuses: Vec<ProblemStatus> = Vec::new();
    if let Some(st) = param("status") {
        for s in st.split(',').map(str::trim) {
            let s = Open311Status::parse(s)
                .ok_or_else(|| bad(format, format!("status must be open or closed, not {s:?}")))?;
            statuses.extend(s.problem_statuses());
        }
    }
    let mut args: Vec<Arg> = Vec::new();
    let mut arg = |sql: &mut String, clause: &str, a: Arg| {
        args.push(a);
        sql.push_str(&clause.replace("$?", &format!("${}", args.len())));
    };
    if let Some(ids) = param("service_request_id") {
        let ids: Vec<&str> = ids
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if ids.len() > MAX_REQUESTS {
            return Err(bad(
                format,
                format!("at most {MAX_REQUESTS} service_request_id"),
            ));
        }
        sql.push_str(" AND r.code IN (");
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            arg(&mut sql, "$?", Arg::Text((*id).to_owned()));
        }
        if ids.is_empty() {
            sql.push_str("NULL");
        }
        sql.push(')');
    } else {
        let (start, end) = match (start, end) {
            (Some(s), Some(e)) => (s, e),
            (Some(s), None) => (s, s + chrono::Duration::days(DEFAULT_DAYS)),
            (None, e) => {
                let e = e.unwrap_or_else(Utc::now);
                (e - chrono::Duration::days(DEFAULT_DAYS), e)
            }
        };
        if end < start {
            return Err(bad(format, "end_date is before start_date"));
        }
        if end - start > chrono::Duration::days(DEFAULT_DAYS) {
            return Err(bad(
                format,
                format!("start_date to end_date may span at most {DEFAULT_DAYS} days"),
            ));
        }
        arg(
            &mut sql,
            " AND p.reported_at >= $?",
            Arg::Int(start.timestamp_millis()),
        );
        arg(
            &mut sql,
            " AND p.reported_at <= $?",
            Arg::Int(end.timestamp_millis()),
        );
        if let Some(code) = param("service_code") {
            arg(&mut sql, " AND p.category = $?", Arg::Text(code.to_owned()));
        }
        if !statuses.is_empty() {
            sql.push_str(" AND p.status IN (");
            for (i, s) in statuses.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                arg(&mut sql, "$?", Arg::Text(s.as_str().to_owned()));
            }
            sql.push(')');
        }
    }
    sql.push_str(&format!(
        " ORDER BY p.reported_at DESC, r.seq DESC LIMIT {MAX_REQUESTS}"
    ));
    let list = load_requests(state, sql, args, format).await?;
    Ok(render(
        format,
        "service_requests",
        &list,
        &RequestsXml { request: &list },
    ))
}

async fn load_requests(
    state: &AppState,
    sql: String,
    args: Vec<Arg>,
    format: Format,
) -> O311<Vec<ServiceRequest>> {
    let rows = state
        .store
        .select(&[Select {
            sql,
            args,
            columns: vec![Col::Text, Col::Text, Col::Text],
        }])
        .await
        .map_err(|e| internal(format)(e.into()))?;
    let refs = state.refs().await.map_err(internal(format))?;
    let tz = refs.calendar.clone().unwrap_or_default().tz();
    Ok(rows[0]
        .iter()
        .filter_map(|r| {
            let p: Problem = serde_json::from_str(r[0].text()?).ok()?;
            Some(view(&p, r[1].text()?, r[2].text(), &refs, tz))
        })
        .collect())
}

fn iso(t: DateTime<Utc>, tz: FixedOffset) -> String {
    t.with_timezone(&tz)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// A problem as an Open311 service request.
fn view(
    p: &Problem,
    code: &str,
    media_url: Option<&str>,
    refs: &ReferenceBundle,
    tz: FixedOffset,
) -> ServiceRequest {
    let category = refs.categories.iter().find(|c| c.code == p.category);
    let notes = fieldcheck_domain::public::public_note(p, fieldcheck_domain::i18n::Lang::Zh);
    let (lat, long) = match (&p.location, p.point_id.as_deref()) {
        (Some(l), _) => (Some(l.lat), Some(l.lon)),
        (None, Some(id)) => refs
            .points
            .iter()
            .find(|pt| pt.id == id)
            .map_or((None, None), |pt| {
                (Some(pt.location.lat), Some(pt.location.lon))
            }),
        (None, None) => (None, None),
    };
    ServiceRequest {
        service_request_id: code.to_owned(),
        status: status_of(p.status).as_str().to_owned(),
        status_notes: notes,
        service_name: category.map_or_else(|| p.category.clone(), |c| c.minor.zh.clone()),
        service_code: p.category.clone(),
        description: p.description.clone(),
        agency_responsible: p
            .unit_id
            .as_deref()
            .and_then(|u| refs.units.iter().find(|x| x.id == u))
            .map(|u| u.name.zh.clone()),
        requested_datetime: iso(p.reported_at, tz),
        updated_datetime: iso(p.updated_at, tz),
        expected_datetime: p
            .deadline
            .filter(|_| p.status.awaits_unit())
            .map(|d| iso(d, tz)),
        address: p.address.clone(),
        address_id: p.point_id.clone(),
        lat,
        long,
        media_url: media_url.map(str::to_owned),
    }
}

#[utoipa::path(
    get,
    path = "/open311/v2/requests/{service_request_id}.{format}",
    tag = "open311",
    params(
        ("service_request_id" = String, Path, description = "The id `POST requests` answered"),
        ("format" = String, Path, description = "`xml` or `json`", pattern = "^(xml|json)$"),
    ),
    responses(
        (status = 200, description = "The request (a list of one, as the spec shapes it)", content(
            (Vec<ServiceRequest> = "application/json"), (String = "text/xml"))),
        (status = 404, description = "No such request, or not `.xml`/`.json`", content(
            (Vec<Open311ErrorItem> = "application/json"), (String = "text/xml"))),
        (status = 429, description = "Too many requests from this address", content(
            (Vec<Open311ErrorItem> = "application/json"), (String = "text/xml"))),
    )
)]
async fn one_request(
    State(state): St,
    ClientIp(ip): ClientIp,
    Path(file): Path<String>,
) -> O311<Response> {
    let (id, format) = format_of(&file)?;
    limit_ip(&state, ip, format).await?;
    let sql = "SELECT p.state, r.code, r.media_url FROM open311_requests r \
               JOIN problems p ON p.id = r.problem_id WHERE r.code = $1"
        .to_owned();
    let list = load_requests(&state, sql, vec![Arg::Text(id.to_owned())], format).await?;
    if list.is_empty() {
        return Err(err(
            StatusCode::NOT_FOUND,
            format,
            format!("service_request_id {id:?} not found"),
        ));
    }
    Ok(render(
        format,
        "service_requests",
        &list,
        &RequestsXml { request: &list },
    ))
}

/// What `tokens/{token}` answers.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenAnswer {
    pub service_request_id: String,
    pub token: String,
}

#[utoipa::path(
    get,
    path = "/open311/v2/tokens/{token}.{format}",
    tag = "open311",
    params(
        ("token" = String, Path, description = "The token `POST requests` answered"),
        ("format" = String, Path, description = "`xml` or `json`", pattern = "^(xml|json)$"),
    ),
    responses(
        (status = 200, description = "The request id of the token (requests get theirs at once)", content(
            (Vec<TokenAnswer> = "application/json"), (String = "text/xml"))),
        (status = 404, description = "No such token, or not `.xml`/`.json`", content(
            (Vec<Open311ErrorItem> = "application/json"), (String = "text/xml"))),
        (status = 429, description = "Too many requests from this address", content(
            (Vec<Open311ErrorItem> = "application/json"), (String = "text/xml"))),
    )
)]
async fn token(
    State(state): St,
    ClientIp(ip): ClientIp,
    Path(file): Path<String>,
) -> O311<Response> {
    let (tok, format) = format_of(&file)?;
    limit_ip(&state, ip, format).await?;
    let rows = state
        .store
        .select(&[Select {
            sql: "SELECT code FROM open311_requests WHERE problem_id = $1".into(),
            args: vec![Arg::Text(tok.to_owned())],
            columns: vec![Col::Text],
        }])
        .await
        .map_err(|e| internal(format)(e.into()))?;
    let Some(code) = rows[0].first().and_then(|r| r[0].text()) else {
        return Err(err(
            StatusCode::NOT_FOUND,
            format,
            format!("token {tok:?} not found"),
        ));
    };
    let list = [TokenAnswer {
        service_request_id: code.to_owned(),
        token: tok.to_owned(),
    }];
    Ok(render(
        format,
        "service_requests",
        &list,
        &RequestsXml { request: &list },
    ))
}
