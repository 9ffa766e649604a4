//! Access tokens: HS256 JWTs signed with the newest key of the key set and
//! verified against every usable key, found by `kid`.

use std::collections::HashSet;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use store::config::Config;
use store::keyset::KeySet;

/// Tokens larger than this are refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
const LEEWAY_SECONDS: u64 = 30;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: String,
    /// The organisation (tenant) id.
    pub org: String,
    pub role: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: String,
    /// The refresh-token family (session) this token was issued from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// Who the token is for, without the timing claims.
pub struct Subject<'a> {
    pub user_id: &'a str,
    pub org_id: &'a str,
    pub role: &'a str,
    pub session_id: &'a str,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("token too large")]
    TooLarge,
    #[error("token header is malformed or not HS256")]
    BadHeader,
    #[error("token is signed with an unknown key")]
    UnknownKey,
    #[error("token is invalid: {0}")]
    Invalid(String),
}

pub fn issue(keys: &KeySet, config: &Config, now: OffsetDateTime, subject: &Subject<'_>) -> String {
    let iat = now.unix_timestamp();
    let claims = AccessClaims {
        iss: config.jwt_issuer.clone(),
        aud: config.jwt_audience.clone(),
        sub: subject.user_id.to_owned(),
        org: subject.org_id.to_owned(),
        role: subject.role.to_owned(),
        exp: iat + config.access_token_ttl_seconds,
        nbf: iat,
        iat,
        jti: ulid::Ulid::new().to_string(),
        sid: Some(subject.session_id.to_owned()),
    };
    sign(keys, &claims)
}

pub fn sign(keys: &KeySet, claims: &AccessClaims) -> String {
    let key = keys.newest();
    let header = Header { kid: Some(key.kid.clone()), ..Header::new(Algorithm::HS256) };
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(key.secret())).expect("HS256 signing cannot fail")
}

pub fn verify(keys: &KeySet, config: &Config, token: &str) -> Result<AccessClaims, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLarge);
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::BadHeader)?;
    if header.alg != Algorithm::HS256 {
        return Err(TokenError::BadHeader);
    }
    let key = header.kid.as_deref().and_then(|kid| keys.find(kid)).ok_or(TokenError::UnknownKey)?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.required_spec_claims = HashSet::from(["exp", "nbf", "iss", "aud", "sub"].map(String::from));
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.leeway = LEEWAY_SECONDS;
    validation.set_issuer(&[&config.jwt_issuer]);
    validation.set_audience(&[&config.jwt_audience]);
    jsonwebtoken::decode::<AccessClaims>(token, &DecodingKey::from_secret(key.secret()), &validation)
        .map(|data| data.claims)
        .map_err(|e| TokenError::Invalid(e.to_string()))
}
