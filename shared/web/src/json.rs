//! The JSON body extractor. Every way a body can be wrong gets the envelope:
//! 415 for another content type, 413 over the limit, 400 for malformed JSON,
//! 422 naming every offending field for well-formed but invalid values (missing
//! fields, wrong types, and every newtype's own parse error).

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::de::DeserializeOwned;

use domain::json::parse;

use crate::error::AppError;

/// The default body limit (docs/api.md).
pub const BODY_LIMIT: usize = 1024 * 1024;

#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, AppError> {
        if !is_json(req.headers().get(header::CONTENT_TYPE)) {
            return Err(AppError::UnsupportedMediaType("the body must be application/json".into()));
        }
        let bytes = read_limited(req.into_body(), BODY_LIMIT).await?;
        Ok(Json(parse(&bytes)?))
    }
}

/// A JSON body that may be left out: no body, an empty one or `null` is
/// `T::default()`; any other body is held to [`Json`]'s rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct OptionalJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let content_type = req.headers().get(header::CONTENT_TYPE).cloned();
        let bytes = read_limited(req.into_body(), BODY_LIMIT).await?;
        if bytes.is_empty() {
            return Ok(Self(T::default()));
        }
        let mut rebuilt = Request::new(Body::from(bytes));
        if let Some(value) = content_type {
            rebuilt.headers_mut().insert(header::CONTENT_TYPE, value);
        }
        Json::<Option<T>>::from_request(rebuilt, state).await.map(|Json(value)| Self(value.unwrap_or_default()))
    }
}

/// `application/json`, or a `+json` type, any parameters allowed.
pub fn is_json(content_type: Option<&header::HeaderValue>) -> bool {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

pub async fn read_limited(body: Body, limit: usize) -> Result<axum::body::Bytes, AppError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => Err(AppError::PayloadTooLarge { limit }),
        Err(_) => Err(AppError::BadRequest("the request body could not be read".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        let v = |s: &'static str| header::HeaderValue::from_static(s);
        assert!(is_json(Some(&v("application/json"))));
        assert!(is_json(Some(&v("Application/JSON; charset=utf-8"))));
        assert!(is_json(Some(&v("application/merge-patch+json"))));
        assert!(!is_json(Some(&v("text/plain"))));
        assert!(!is_json(None));
    }
}
