//! Extractors for the glue every route shares: who is calling, a resource
//! id from the path, a page of a list, one query parameter.

use std::collections::HashMap;

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Uri, header};
use lambda_http::request::RequestContext;
use serde::Deserialize;

use domain::principal::{Principal, Role};
use domain::tenancy::Tenant;
use store::cursor::{self, MAX_CURSOR_LEN};
use store::keyset::KeySet;

use crate::error::{AppError, AppResult};

const DEFAULT_LIMIT: i32 = 20;
const MAX_LIMIT: i32 = 100;

/// The verified caller, as the API Gateway authorizer (or `toolbox-local`,
/// running the same authorizer code) put it in the request context (never
/// from the request itself), and the tenant it belongs to.
pub struct Caller(pub Principal, pub Tenant);

/// A caller who is staff (an admin or a teacher), and their tenant; any
/// other role is refused before the handler runs.
pub struct Staff(pub Principal, pub Tenant);

/// A caller who is an admin, and their tenant.
pub struct Admin(pub Principal, pub Tenant);

/// The principal of a request context, if the authorizer left one.
pub fn principal_of(context: &RequestContext) -> Option<Principal> {
    match context {
        RequestContext::ApiGatewayV1(ctx) => Principal::from_context(&ctx.authorizer.fields),
        _ => None,
    }
}

fn verified(parts: &Parts, roles: &[Role]) -> AppResult<(Principal, Tenant)> {
    let principal = parts
        .extensions
        .get::<RequestContext>()
        .and_then(principal_of)
        .ok_or_else(|| AppError::Unauthenticated("authentication required".into()))?;
    principal.require_role(roles)?;
    let tenant = Tenant::of(&principal);
    Ok((principal, tenant))
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        let (principal, tenant) = verified(parts, &[Role::Admin, Role::Teacher, Role::Student, Role::Parent])?;
        Ok(Self(principal, tenant))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Staff {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        let (principal, tenant) = verified(parts, &[Role::Admin, Role::Teacher])?;
        Ok(Self(principal, tenant))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        let (principal, tenant) = verified(parts, &[Role::Admin])?;
        Ok(Self(principal, tenant))
    }
}

/// The version a client sent in `If-Match`, if any: `"<version>"` (weak
/// `W/` and bare digits allowed), or `*` for any version, which is the same
/// as none. Anything else is a 400. The store compares it with the version
/// it reads (a stale one is a 412).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfMatch(pub Option<u64>);

impl IfMatch {
    pub fn parse(raw: Option<&HeaderValue>) -> AppResult<Self> {
        let Some(raw) = raw else {
            return Ok(Self(None));
        };
        let malformed = || AppError::BadRequest("If-Match must be a quoted version, like \"3\"".into());
        let text = raw.to_str().map_err(|_| malformed())?.trim();
        if text == "*" {
            return Ok(Self(None));
        }
        let tag = text.strip_prefix("W/").unwrap_or(text);
        let version = match tag.strip_prefix('"') {
            Some(rest) => rest.strip_suffix('"').ok_or_else(malformed)?,
            None => tag,
        };
        if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        // Well-formed, but more digits than any version has: it names a
        // version no item reaches, which is a 412 like any stale one.
        Ok(Self(Some(version.parse().unwrap_or(u64::MAX))))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        Self::parse(parts.headers.get(header::IF_MATCH))
    }
}

/// The `If-Match` header as the OpenAPI document shows it, for a route's
/// `params(...)`.
impl utoipa::IntoParams for IfMatch {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::{ObjectBuilder, Required, Type};
        vec![
            ParameterBuilder::new()
                .name("If-Match")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some("The `ETag` the change is based on"))
                .schema(Some(
                    ObjectBuilder::new().schema_type(Type::String).pattern(Some(r#"^(\*|(W/)?("[0-9]+"|[0-9]+))$"#)),
                ))
                .build(),
        ]
    }
}

/// A resource id from the path. A malformed id is simply not found, like
/// another tenant's id would be; any other rejection answers in the envelope.
pub struct PathId<T>(pub T);

impl<S: Send + Sync, T: std::str::FromStr> FromRequestParts<S> for PathId<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let Path(raw) =
            Path::<String>::from_request_parts(parts, state).await.map_err(|rejection| match rejection {
                PathRejection::FailedToDeserializePathParams(_) => AppError::BadRequest("the path is malformed".into()),
                other => AppError::internal(other.body_text()),
            })?;
        raw.parse().map(PathId).map_err(|_| AppError::NotFound("no such resource".into()))
    }
}

/// `?limit=&cursor=` of a list route.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub limit: i32,
    pub cursor: Option<String>,
}

/// `limit` and `cursor` as every list documents them.
impl utoipa::IntoParams for PageRequest {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::schema::SchemaFormat;
        use utoipa::openapi::{KnownFormat, ObjectBuilder, Required, Type};
        let limit = ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
            .minimum(Some(1))
            .maximum(Some(MAX_LIMIT));
        let query = |name, description| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(description))
        };
        vec![
            query("limit", format!("Page size (default {DEFAULT_LIMIT})")).schema(Some(limit)).build(),
            query("cursor", "`metadata.next_cursor` of the previous page".to_owned())
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .build(),
        ]
    }
}

#[derive(Deserialize)]
struct RawPage {
    limit: Option<String>,
    cursor: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for PageRequest {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        let Query(raw) = Query::<RawPage>::try_from_uri(&parts.uri)
            .map_err(|_| AppError::BadRequest("the query string is malformed".into()))?;
        let limit = match raw.limit {
            None => DEFAULT_LIMIT,
            Some(text) => match text.parse::<i32>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => return Err(AppError::BadRequest(format!("limit must be an integer from 1 to {MAX_LIMIT}"))),
            },
        };
        let cursor = raw.cursor.filter(|c| !c.is_empty());
        if cursor.as_ref().is_some_and(|c| c.len() > MAX_CURSOR_LEN) {
            return Err(cursor::bad_cursor().into());
        }
        Ok(Self { limit, cursor })
    }
}

impl PageRequest {
    /// Where the page starts in the list named `list` (its filters
    /// included): nowhere without a cursor, and a 400 for a cursor of
    /// another list, another tenant or none of ours.
    pub fn start(&self, keys: &KeySet, tenant: &Tenant, list: &str) -> AppResult<Option<HashMap<String, String>>> {
        Ok(self.cursor.as_deref().map(|c| cursor::decode(keys, tenant, list, c)).transpose()?)
    }
}

/// The value of one query parameter as sent, if any (`?student_id=`).
pub fn query_param(uri: &Uri, name: &str) -> AppResult<Option<String>> {
    let Query(mut query) = Query::<HashMap<String, String>>::try_from_uri(uri)
        .map_err(|_| AppError::BadRequest("the query string is malformed".into()))?;
    Ok(query.remove(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn if_match(value: &str) -> AppResult<Option<u64>> {
        IfMatch::parse(Some(&HeaderValue::from_str(value).unwrap())).map(|IfMatch(version)| version)
    }

    #[test]
    fn if_match_names_a_version_any_version_or_is_a_400() {
        assert_eq!(if_match("\"3\"").unwrap(), Some(3));
        assert_eq!(if_match("W/\"3\"").unwrap(), Some(3));
        assert_eq!(if_match("3").unwrap(), Some(3));
        assert_eq!(if_match("*").unwrap(), None);
        assert_eq!(IfMatch::parse(None).unwrap(), IfMatch(None));
        for bad in ["\"3", "three", "\"\"", "W/", "-1"] {
            assert!(matches!(if_match(bad), Err(AppError::BadRequest(_))), "{bad}");
        }
    }

    #[test]
    fn a_version_too_large_for_any_item_names_one_no_item_reaches() {
        assert_eq!(if_match("W/157831591197945557597332025477787").unwrap(), Some(u64::MAX));
    }
}
