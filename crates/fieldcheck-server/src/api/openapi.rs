//! The OpenAPI 3.1 document at `GET /api/v1/openapi.json`, generated from the handlers'
//! `#[utoipa::path]` annotations and the `ToSchema` derives of `fieldcheck-protocol` (feature
//! `openapi`). Domain types inside the wire types (events, problems, reference data) appear as
//! plain objects: their JSON is documented in ARCHITECTURE.md and by `fieldcheck-domain`.

use axum::Json;
use fieldcheck_protocol::sync::{self, PROTOCOL_HEADER};
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ObjectBuilder, Required, Type};
use utoipa::{Modify, OpenApi};

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
    )),
    modifiers(&Conventions),
    tags(
        (name = "sync", description = "Device enrollment, push, pull, reference data"),
        (name = "blobs", description = "Content-addressed photos, resumable uploads"),
        (name = "admin", description = "Office only"),
        (name = "meta", description = "This document"),
    )
)]
pub struct ApiDoc;

/// What every operation shares and the derive cannot say: the bearer scheme and the
/// protocol-version header.
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
        let header = || -> Parameter {
            ParameterBuilder::new()
                .name(PROTOCOL_HEADER)
                .parameter_in(ParameterIn::Header)
                .required(Required::True)
                .description(Some(
                    "Client protocol version; below the server's minimum the answer is 426",
                ))
                .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)))
                .build()
        };
        for (path, item) in doc.paths.paths.iter_mut() {
            if path.ends_with("/openapi.json") {
                continue;
            }
            let ops: [&mut Option<Operation>; 4] = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
            ];
            for op in ops.into_iter().flatten() {
                op.parameters.get_or_insert_with(Vec::new).push(header());
            }
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "This OpenAPI document", body = Object))
)]
pub(crate) async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
