//! Extractors for the glue every route shares: who is calling, a resource
//! id from the path, a page of a list, one query parameter.

use std::collections::HashMap;

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::Uri;
use axum::http::request::Parts;
use lambda_http::request::RequestContext;
use serde::Deserialize;

use domain::principal::Principal;
use domain::tenancy::Tenant;
use store::cursor::{self, MAX_CURSOR_LEN};
use store::keyset::KeySet;

use crate::error::{AppError, AppResult};

const DEFAULT_LIMIT: i32 = 20;
const MAX_LIMIT: i32 = 100;

/// The verified caller, as the API Gateway authorizer (or `toolbox-local`,
/// running the same authorizer code) put it in the request context; never
/// from the request itself.
pub struct Caller(pub Principal);

/// The principal of a request context, if the authorizer left one.
pub fn principal_of(context: &RequestContext) -> Option<Principal> {
    match context {
        RequestContext::ApiGatewayV1(ctx) => Principal::from_context(&ctx.authorizer.fields),
        _ => None,
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        parts
            .extensions
            .get::<RequestContext>()
            .and_then(principal_of)
            .map(Caller)
            .ok_or_else(|| AppError::Unauthenticated("authentication required".into()))
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
