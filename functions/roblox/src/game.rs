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
use domain::roblox::{self, Environment};
use domain::tenancy::Tenant;
use serde::de::DeserializeOwned;
use store::AppState;
use web::error::{AppError, AppResult};
use web::json::{BODY_LIMIT, is_json};
use web::signature;

pub static X_ENVIRONMENT_KEY: HeaderName = HeaderName::from_static("x-environment-key");

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
        let environment = state.db.find_live::<Environment>(&tenant, &id).await?;
        // A deleted environment's game is refused like an unknown one's.
        let environment = environment.ok_or_else(|| refused("no such environment"))?;
        let secret = environment.signing_secret.clone();
        let body = signature::check(state, &parts, body, &secret, |signature| {
            tenant.seen_game_signature(&environment.id, signature)
        })
        .await?;
        let json = is_json(parts.headers.get(header::CONTENT_TYPE));
        Ok(Self { tenant, environment, body, json })
    }
}
