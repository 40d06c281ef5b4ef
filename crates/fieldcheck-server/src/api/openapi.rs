//! The OpenAPI 3.1 document at `GET /api/v1/openapi.json`, generated from the handlers'
//! `#[utoipa::path]` annotations and the `ToSchema` derives of `fieldcheck-protocol` (feature
//! `openapi`), including the domain types inside them (`fieldcheck-domain`, feature `openapi`).
//! Tested against the running server by `scripts/openapi-conformance.sh` (schemathesis).

use axum::Json;
use axum::extract::State;
use fieldcheck_protocol::sync::{self, PROTOCOL_HEADER};
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, ObjectBuilder, Ref, RefOr, Required, Response, ResponseBuilder, Type,
};
use utoipa::{Modify, OpenApi};

use super::St;
use crate::config::Config;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "FieldCheck sync API",
        description = "Devices push events, pull what they may see and upload photos; the office \
                       signs in and issues enrollment codes. Every request except this document \
                       carries the `x-fieldcheck-protocol` header; errors are `ApiError` bodies \
                       with a stable `code`."
    ),
    paths(
        super::enroll,
        super::login,
        super::logout,
        super::me,
        super::push,
        super::pull,
        super::blobs_check,
        super::blob_put,
        super::blob_get,
        super::reference,
        super::admin::create_enroll_code,
        super::admin::enroll_qr_svg,
        super::admin::enroll_qr_png,
        super::admin::revoke_device,
        super::admin::revoke_user,
        super::admin::disable_user,
        super::admin::enable_user,
        super::admin::create_open311_key,
        super::admin::list_open311_keys,
        super::admin::revoke_open311_key,
        super::console::sign_in,
        super::console::current_session,
        super::console::sign_out,
        super::console::problems,
        document,
    ),
    components(schemas(
        fieldcheck_protocol::ApiError,
        sync::EnrollRequest,
        sync::EnrollResponse,
        sync::LoginRequest,
        sync::LoginResponse,
        sync::Me,
        sync::PushRequest,
        sync::PushResponse,
        sync::PushResult,
        sync::PushStatus,
        sync::PullResponse,
        sync::PullItem,
        sync::BlobCheckRequest,
        sync::BlobCheckResponse,
        sync::BlobState,
        sync::ReferenceResponse,
        sync::CreateEnrollCodeRequest,
        sync::CreateEnrollCodeResponse,
        sync::RevokeResponse,
        sync::UserAccess,
        super::console::ConsoleSessionInfo,
        super::console::ConsoleProblemPage,
        super::console::ConsoleProblemRow,
        fieldcheck_domain::problem::ProblemSource,
        crate::open311::Open311Key,
        crate::open311::IssuedKey,
        super::admin::NewOpen311Key,
    )),
    modifiers(&ConsoleParts, &Conventions),
    tags(
        (name = "sync", description = "Device enrollment, push, pull, reference data"),
        (name = "blobs", description = "Content-addressed photos, resumable uploads"),
        (name = "admin", description = "Office only"),
        (name = "console", description = "The office's web console: cookie session (CSRF token \
            in `X-CSRF-Token` on every state-changing request) and the problem ledger"),
        (name = "meta", description = "This document"),
        (name = "open311", description = "Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2): \
            services are the problem categories, requests are reports; XML or JSON by the \
            resource's extension, errors as the spec's `errors` document; no protocol header"),
    )
)]
pub struct ApiDoc;

/// The console's operations documented in their own modules (`console_cases.rs`,
/// `console_stats.rs`), merged before [`Conventions`] so they get the shared parts too.
struct ConsoleParts;

impl Modify for ConsoleParts {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        doc.merge(super::console_cases::Api::openapi());
        doc.merge(super::console_stats::Api::openapi());
        doc.merge(super::console_exports::Api::openapi());
        doc.merge(super::console_schedules::Api::openapi());
        doc.merge(super::console_setup::Api::openapi());
        doc.merge(super::console_points::Api::openapi());
        doc.merge(super::console_rules::Api::openapi());
        doc.merge(super::console_rounds::Api::openapi());
        doc.merge(super::map::Api::openapi());
        doc.merge(crate::ops::Api::openapi());
        doc.merge(super::open311::Api::openapi());
        doc.merge(super::volunteer::Api::openapi());
        doc.merge(super::console_volunteers::Api::openapi());
    }
}

/// What every operation shares and the derive cannot say: the bearer scheme, the
/// protocol-version header, and the answers the extractors and the protocol check give before a
/// handler runs. They are added here for every operation they apply to, so no handler can
/// forget one (an operation's own, more specific description of a status is kept).
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A device token from /enroll or a session token from /login",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "console_session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::session::COOKIE_NAME,
                "The console's session cookie from POST /api/v1/console/session",
            ))),
        );
        components.add_security_scheme(
            "console_csrf",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-CSRF-Token",
                "The session's `csrf_token`, on every state-changing console request \
                 (without it: 403 `csrf_rejected`)",
            ))),
        );
        components.add_security_scheme(
            "volunteer_session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::api::volunteer::COOKIE_NAME,
                "The volunteers' report page's session cookie from POST /api/v1/volunteer/join \
                 (or /anonymous); its POSTs carry the session's `csrf_token` as X-CSRF-Token",
            ))),
        );
        for (path, item) in doc.paths.paths.iter_mut() {
            // The document and the operators' routes (`/healthz`, `/readyz`, `/metrics`)
            // need no protocol header.
            if path.ends_with("/openapi.json") || !path.starts_with("/api/") {
                continue;
            }
            let ops: [&mut Option<Operation>; 4] = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
            ];
            for op in ops.into_iter().flatten() {
                add_conventions(op);
            }
        }
    }
}

fn add_conventions(op: &mut Operation) {
    let params = op.parameters.get_or_insert_with(Vec::new);
    let has_query = params
        .iter()
        .any(|p| matches!(p.parameter_in, ParameterIn::Query));
    params.push(protocol_header(fieldcheck_protocol::PROTOCOL_VERSION));
    let has_body = op.request_body.is_some();
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let console = op
        .security
        .iter()
        .flatten()
        .any(|req| serde_json::to_value(req).is_ok_and(|v| v.get("console_session").is_some()));
    let responses = &mut op.responses.responses;
    let mut add = |status: &str, description: &str| {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| error_response(description));
    };
    if has_body || has_query {
        add(
            "400",
            "Malformed request (`malformed_request`): the message names the field or query \
             parameter that is wrong",
        );
    }
    if console {
        add(
            "401",
            "Not signed in (`not_signed_in`), session expired (`session_expired`), or the user \
             disabled (`user_disabled`)",
        );
        add(
            "403",
            "The user's role has no console (`no_console_access`)",
        );
    } else if secured {
        add(
            "401",
            "Missing or unknown token (`unauthorized`), expired (`token_expired`), revoked \
             (`token_revoked`), or the user disabled (`user_disabled`)",
        );
    }
    if has_body {
        add("413", "Body over the server's limit (`too_large`)");
    }
    add(
        "426",
        "The `x-fieldcheck-protocol` header is missing, not a number, or below the server's \
         minimum (`protocol_too_old`): the client must be updated",
    );
    for (status, response) in responses.iter_mut() {
        if let (true, RefOr::T(r)) = (status.starts_with('2'), response) {
            r.headers.insert(
                sync::INSTANCE_HEADER.to_owned(),
                utoipa::openapi::header::HeaderBuilder::new()
                    .schema(ObjectBuilder::new().schema_type(Type::String))
                    .description(Some(
                        "This server's instance id: it changes when the data is restored from \
                         a backup, and a device that sees another one than at its last sync \
                         sends again what the server may have lost",
                    ))
                    .build(),
            );
        }
    }
}

/// The `x-fieldcheck-protocol` header. `min` is the server's configured minimum: anything
/// below it, or not a number, is answered 426.
fn protocol_header(min: u32) -> Parameter {
    ParameterBuilder::new()
        .name(PROTOCOL_HEADER)
        .parameter_in(ParameterIn::Header)
        .required(Required::True)
        .description(Some(
            "Client protocol version; missing, not a number or below the server's minimum is \
             answered 426",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(min))
                .maximum(Some(u32::MAX)),
        ))
        .build()
}

fn error_response(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ApiError")))
                    .build(),
            )
            .build(),
    )
}

/// The document as this server answers it, with what the derive cannot know:
/// - the protocol header's minimum and the largest blob `size` are this server's configured
///   ones, so every value the document allows is one the server accepts;
/// - unsigned integers get their real range. The derive writes `u32` as `format: int32` and
///   `u64` as `format: int64`, whose ranges are those of signed integers; code generators and
///   validators would then refuse (or send) values the server takes (or refuses).
pub fn document_for(config: &Config) -> serde_json::Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the document is JSON");
    unsigned_ranges(&mut doc);
    // Added to every error body by a layer (`ops::observe`), not by the Rust type.
    if let Some(props) = doc
        .pointer_mut("/components/schemas/ApiError/properties")
        .and_then(|p| p.as_object_mut())
    {
        props.insert(
            "request_id".to_owned(),
            serde_json::json!({
                "type": "string",
                "description": "The request's id, as in the `x-request-id` answer header and \
                    every server log line of the request: quote it to the office"
            }),
        );
    }
    if let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for op in item.values_mut() {
                let Some(params) = op.get_mut("parameters").and_then(|p| p.as_array_mut()) else {
                    continue;
                };
                for p in params {
                    let name = p["name"].as_str().unwrap_or_default().to_owned();
                    let schema = &mut p["schema"];
                    match name.as_str() {
                        PROTOCOL_HEADER => schema["minimum"] = config.min_protocol.into(),
                        "size" if path.ends_with("/blobs/{hash}") => {
                            schema["maximum"] = config.max_blob_bytes.into()
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    doc
}

/// `{type: [string, null], format: F}` (an `Option` of a formatted string) as
/// `anyOf: [{type: null}, {type: string, format: F}]`: the same set of values, in the form
/// tools apply the format to (some drop the format of a multi-type schema and then send
/// strings the server cannot parse).
fn nullable_formats(map: &mut serde_json::Map<String, serde_json::Value>) {
    let Some(serde_json::Value::Array(types)) = map.get("type") else {
        return;
    };
    let [t, n] = types.as_slice() else {
        return;
    };
    if n != "null" || !map.contains_key("format") {
        return;
    }
    let t = t.clone();
    let format = map.remove("format");
    map.remove("type");
    map.insert(
        "anyOf".to_owned(),
        serde_json::json!([{ "type": "null" }, { "type": t, "format": format }]),
    );
}

/// Rewrites every `{type: integer, format: int32|int64, minimum: >= 0}` (how the derive spells
/// `u32` and `u64`) to the unsigned range, keeping a tighter `maximum` when one is given.
fn unsigned_ranges(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            let is_integer = match map.get("type") {
                Some(serde_json::Value::String(t)) => t == "integer",
                Some(serde_json::Value::Array(ts)) => ts.iter().any(|t| t == "integer"),
                _ => false,
            };
            let unsigned = map
                .get("minimum")
                .and_then(|m| m.as_f64())
                .is_some_and(|m| m >= 0.0);
            let max = match map.get("format").and_then(|f| f.as_str()) {
                Some("int32") => Some(serde_json::Value::from(u32::MAX)),
                Some("int64") => Some(serde_json::Value::from(u64::MAX)),
                _ => None,
            };
            if let Some(max) = max.filter(|_| is_integer && unsigned) {
                map.remove("format");
                map.entry("maximum").or_insert(max);
            }
            nullable_formats(map);
            map.values_mut().for_each(unsigned_ranges);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(unsigned_ranges),
        _ => {}
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "This OpenAPI document", body = Object))
)]
pub(crate) async fn document(State(state): St) -> Json<serde_json::Value> {
    Json(document_for(&state.config))
}
