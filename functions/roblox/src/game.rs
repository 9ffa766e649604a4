//! What a game server's request proves: `X-Environment-Key` names the
//! environment (`<organization id>.<environment id>`, not a secret), and
//! `X-Timestamp` and `X-Signature` sign the request with the environment's
//! own secret, as an API key's signed requests are (docs/api.md). A
//! signature is accepted once. Nothing else about the caller is trusted:
//! the organisation is the one whose environment's secret signed.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderName, header};
use domain::json::parse;
use domain::organization::{OrgStatus, Organization};
use domain::roblox::{self, Environment};
use domain::tenancy::Tenant;
use serde::de::DeserializeOwned;
use store::{AppState, Db};
use web::error::{AppError, AppResult};
use web::json::{BODY_LIMIT, is_json};
use web::signature;

pub static X_ENVIRONMENT_KEY: HeaderName = HeaderName::from_static("x-environment-key");

/// The headers that sign a game server's request, for the OpenAPI document.
#[derive(utoipa::IntoParams)]
#[into_params(names("X-Environment-Key", "X-Timestamp", "X-Signature"), parameter_in = Header)]
#[allow(dead_code)]
pub struct GameSignature(
    /// `<organization id>.<environment id>`
    String,
    /// Unix seconds, within 300 s
    String,
    /// Hex HMAC-SHA256 of `"{timestamp}.POST.{path}.{hex sha256(body)}"` under the environment's signing secret
    String,
);

/// A request signed by an environment's game server.
pub struct GameServer {
    pub tenant: Tenant,
    pub environment: Environment,
    body: Bytes,
    json: bool,
}

impl GameServer {
    /// The body, held to the same rules as any JSON body (415, 400, 422).
    pub fn json<T: DeserializeOwned>(&self) -> AppResult<T> {
        if !self.json {
            return Err(AppError::UnsupportedMediaType("the body must be application/json".into()));
        }
        if self.body.len() > BODY_LIMIT {
            return Err(AppError::PayloadTooLarge { limit: BODY_LIMIT });
        }
        Ok(parse(&self.body)?)
    }
}

fn refused(reason: &str) -> AppError {
    AppError::Unauthenticated(format!("game server refused: {reason}"))
}

impl FromRequest<AppState> for GameServer {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, AppError> {
        let (parts, body) = req.into_parts();
        let named = parts.headers.get(&X_ENVIRONMENT_KEY).and_then(|v| v.to_str().ok()).and_then(roblox::parse_key_id);
        let (org, id) = named.ok_or_else(|| refused("X-Environment-Key must be <organization id>.<environment id>"))?;
        let tenant = Tenant::claimed_by_credential(&org);
        let found = state.db.batch_get(&[tenant.organization(), tenant.roblox_environment(&id)]).await?;
        let mut found = found.into_iter();
        let organization = found.next().flatten().map(Db::decode::<Organization>).transpose()?;
        // An unknown or deleted environment is refused as a wrong signature
        // is: the answer does not tell which environments exist.
        let environment = Db::decode_live::<Environment>(found.next().flatten())?
            .ok_or_else(|| AppError::Unauthenticated("signature refused: the signature does not match".into()))?;
        // A suspended organization's games are refused, as its members are.
        if organization.is_none_or(|organization| organization.status == OrgStatus::Suspended) {
            return Err(AppError::Forbidden("the organization is suspended".into()));
        }
        let secret = environment.signing_secret.clone();
        let body = signature::check(state, &parts, body, &secret, |signature| {
            tenant.seen_game_signature(&environment.id, signature)
        })
        .await?;
        let json = is_json(parts.headers.get(header::CONTENT_TYPE));
        Ok(Self { tenant, environment, body, json })
    }
}
