//! Signed requests, for API keys created with `require_signature` and for
//! Roblox game servers (docs/api.md):
//! `X-Timestamp` (unix seconds, within ±300 s of ours) and `X-Signature`,
//! lowercase hex of HMAC-SHA256(signing secret,
//! `"{timestamp}.{METHOD}.{path}.{hex sha256(body)}"`), path without query.
//! The authorizer cannot see the body, so every function checks signatures
//! itself, in the router's middleware ([`crate::http`]). Each signature is
//! accepted once: it is recorded with a conditional write until it is stale.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::HeaderName;
use axum::http::request::Parts;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::{Digest, Sha256};

use domain::ids::ApiKeyId;
use domain::principal::{Principal, SigningRef};
use domain::tenancy::{Key, Tenant};
use store::api_keys::signing_secret;
use store::{AppState, DbError};

use crate::error::AppError;

pub static X_TIMESTAMP: HeaderName = HeaderName::from_static("x-timestamp");
pub static X_SIGNATURE: HeaderName = HeaderName::from_static("x-signature");

pub const MAX_SKEW_SECONDS: i64 = 300;
/// API Gateway's own limit on a Lambda proxy request body.
const MAX_BODY_BYTES: usize = 6 * 1024 * 1024;

/// What is signed.
pub fn string_to_sign(timestamp: i64, method: &str, path: &str, body: &[u8]) -> String {
    format!("{timestamp}.{method}.{path}.{}", hex::encode(Sha256::digest(body)))
}

fn mac(secret: &str, message: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac takes any key length");
    mac.update(message.as_bytes());
    mac
}

/// The signature a client sends, as lowercase hex.
pub fn sign(secret: &str, timestamp: i64, method: &str, path: &str, body: &[u8]) -> String {
    hex::encode(mac(secret, &string_to_sign(timestamp, method, path, body)).finalize().into_bytes())
}

#[derive(Serialize)]
struct SeenSignature {
    /// Epoch seconds; DynamoDB's TTL removes the record once it is stale anyway.
    expires_at: i64,
}

fn refused(reason: &str) -> AppError {
    AppError::Unauthenticated(format!("signature refused: {reason}"))
}

/// Checks the request's signature and hands the request back with its body
/// intact, or refuses it with a 401.
pub async fn verify(
    state: &AppState,
    principal: &Principal,
    key_id: &ApiKeyId,
    signing: &SigningRef,
    req: Request,
) -> Result<Request, AppError> {
    // An unsigned request is refused before the key set is read.
    let (parts, body) = req.into_parts();
    signed_headers(&parts)?;
    let keys = state.key_set().await?;
    let key = keys.find(&signing.kid).ok_or_else(|| refused("the key's signing secret was retired; rotate the key"))?;
    let secret = signing_secret(key, &principal.org_id, key_id, signing.generation);
    let tenant = Tenant::of(principal);
    let body = check(state, &parts, body, &secret, |signature| tenant.seen_signature(key_id, signature)).await?;
    Ok(Request::from_parts(parts, Body::from(body)))
}

/// `X-Timestamp` and `X-Signature`, present.
fn signed_headers(parts: &Parts) -> Result<(&str, &str), AppError> {
    let header = |name: &HeaderName| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    match (header(&X_TIMESTAMP), header(&X_SIGNATURE)) {
        (Some(timestamp), Some(signature)) => Ok((timestamp, signature)),
        _ => Err(refused("requests with this key must be signed (X-Timestamp and X-Signature)")),
    }
}

/// Checks that a request was signed with `secret` (the headers and string
/// above) within the last 300 seconds and never before, recording its
/// signature under `seen(signature hex)` until it is stale; the body, read.
/// API keys' requests and Roblox game servers' are checked with it.
pub async fn check(
    state: &AppState,
    parts: &Parts,
    body: Body,
    secret: &str,
    seen: impl FnOnce(&str) -> Key,
) -> Result<Bytes, AppError> {
    let (timestamp, signature) = signed_headers(parts)?;
    let timestamp: i64 = timestamp.parse().map_err(|_| refused("X-Timestamp must be unix seconds"))?;
    let presented = hex::decode(signature)
        .ok()
        .filter(|bytes| bytes.len() == 32 && signature.len() == 64)
        .ok_or_else(|| refused("X-Signature must be 64 hex digits"))?;
    if (state.now().unix_timestamp() - timestamp).abs() > MAX_SKEW_SECONDS {
        return Err(refused("X-Timestamp is more than 300 seconds away"));
    }
    let body: Bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| AppError::PayloadTooLarge { limit: MAX_BODY_BYTES })?;
    let message = string_to_sign(timestamp, parts.method.as_str(), parts.uri.path(), &body);
    mac(secret, &message).verify_slice(&presented).map_err(|_| refused("the signature does not match"))?;

    let record = SeenSignature { expires_at: timestamp + 2 * MAX_SKEW_SECONDS };
    match state.db.create(&seen(&hex::encode(&presented)), &record).await {
        Ok(()) => Ok(body),
        Err(DbError::ConditionFailed) => Err(refused("this signature was used already")),
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_string_to_sign_hashes_the_body() {
        assert_eq!(
            string_to_sign(1700000000, "POST", "/api/v1/x", b""),
            // SHA-256 of nothing.
            "1700000000.POST./api/v1/x.e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn every_signed_part_changes_the_signature() {
        let base = sign("secret", 1, "POST", "/api/v1/x", b"{}");
        assert_eq!(base.len(), 64);
        assert!(base.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        for other in [
            sign("secret2", 1, "POST", "/api/v1/x", b"{}"),
            sign("secret", 2, "POST", "/api/v1/x", b"{}"),
            sign("secret", 1, "PUT", "/api/v1/x", b"{}"),
            sign("secret", 1, "POST", "/api/v1/y", b"{}"),
            sign("secret", 1, "POST", "/api/v1/x", b"{ }"),
        ] {
            assert_ne!(other, base);
        }
    }
}
