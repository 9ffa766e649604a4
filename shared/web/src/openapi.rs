//! What every function's part of the OpenAPI document shares: the title, the
//! two security schemes, and the error responses by status. Each function
//! crate describes its own paths; `toolbox-local` merges them into the one
//! document the API serves at `/api/v1/openapi.json`.

use std::collections::BTreeMap;

use utoipa::openapi::response::Response;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{Modify, OpenApi, ToResponse};

use domain::error::FieldError;

use crate::error::{ErrorBody, ErrorDetail};

/// The security scheme of signed-in users: `Authorization: Bearer <JWT>`.
pub const BEARER: &str = "bearer";
/// The security scheme of integrations: `X-API-Key`.
pub const API_KEY: &str = "api_key";
/// The operation extension naming the roles allowed to call it; absent when
/// every signed-in role may.
pub const ROLES_EXTENSION: &str = "x-roles";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ToolboxAI Serverless API",
        description = "The backend of an AI-powered education platform. Every response uses the envelope \
                       `{status, data | error, metadata}` and carries `X-Request-ID`.",
    ),
    modifiers(&SecuritySchemes),
    components(
        schemas(ErrorBody, ErrorDetail, FieldError),
        responses(
        BadRequest, Unauthenticated, Forbidden, NotFound, Conflict, PreconditionFailed, RateLimited, Unavailable,
        PaymentsUnavailable
    )),
)]
pub struct BaseDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
        components.add_security_scheme(API_KEY, SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))));
    }
}

macro_rules! error_response {
    ($name:ident, $description:literal) => {
        #[derive(ToResponse)]
        #[response(description = $description)]
        #[allow(dead_code)] // described, never built: the body is an `AppError`
        pub struct $name(ErrorBody);
    };
}

error_response!(BadRequest, "`bad_request`: malformed JSON, a bad query parameter or cursor");
error_response!(Unauthenticated, "`unauthenticated`: no, bad or expired credentials");
error_response!(Forbidden, "`forbidden`: the role or scope does not allow it");
error_response!(NotFound, "`not_found`: no such resource in the caller's organization");
error_response!(Conflict, "`conflict`: a duplicate, or a concurrent change");
error_response!(PreconditionFailed, "`precondition_failed`: `If-Match` names another version");
error_response!(RateLimited, "`rate_limited`: over a limit; see `Retry-After`");
error_response!(Unavailable, "`unavailable`: a dependency is down; see `Retry-After`");
error_response!(
    PaymentsUnavailable,
    "`payments_unavailable`: payments are not configured, or the payment provider is failing"
);

/// The refusals of every route that takes a JSON body (see `crate::json`).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // described, never built: the bodies are `AppError`s
pub enum JsonBodyErrors {
    /// `bad_request`: the body is not well-formed JSON
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// `payload_too_large`: the body is over 1 MiB
    #[response(status = 413)]
    PayloadTooLarge(ErrorBody),
    /// `unsupported_media_type`: the body is not `application/json`
    #[response(status = 415)]
    UnsupportedMediaType(ErrorBody),
    /// `validation_failed`: well-formed but invalid fields, named in `details`
    #[response(status = 422)]
    ValidationFailed(ErrorBody),
}

/// A set of refusals routes of one shape share, as references to the
/// responses of [`BaseDoc`]: a route lists its set, not each status.
macro_rules! refusals {
    ($(#[$doc:meta])* $name:ident: $($status:literal => $response:ident),+) => {
        $(#[$doc])*
        pub struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                BTreeMap::from([$(($status.to_owned(), RefOr::Ref(Ref::from_response_name(stringify!($response))))),+])
            }
        }
    };
}

refusals!(
    /// Reading one item: who may, and whether it is there.
    ReadOne: "401" => Unauthenticated, "403" => Forbidden, "404" => NotFound
);
refusals!(
    /// Reading a list: a bad page or filter, and who may.
    ReadList: "400" => BadRequest, "401" => Unauthenticated, "403" => Forbidden
);
refusals!(
    /// Reading a list of one item's or one person's things.
    ReadListOf: "400" => BadRequest, "401" => Unauthenticated, "403" => Forbidden, "404" => NotFound
);
refusals!(
    /// Making something new: who may, and whether it clashes.
    Create: "401" => Unauthenticated, "403" => Forbidden, "409" => Conflict
);
refusals!(
    /// Changing an item: who may, whether it is there, and a concurrent change.
    Change: "401" => Unauthenticated, "403" => Forbidden, "404" => NotFound, "409" => Conflict
);
refusals!(
    /// Changing a versioned item: [`Change`]'s, and a stale `If-Match`.
    VersionedChange: "401" => Unauthenticated, "403" => Forbidden, "404" => NotFound, "409" => Conflict,
        "412" => PreconditionFailed
);
