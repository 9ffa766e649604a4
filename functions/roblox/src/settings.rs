//! `PUT` and `GET /roblox/settings`: where the organization's environments
//! are published on Roblox, and the Open Cloud API key that may publish
//! there. The key is sealed at rest with the organization's data key and
//! never returned.

use axum::extract::State;
use domain::clock::rfc3339;
use domain::json::whole;
use domain::roblox::{self, RobloxSettings};
use serde::{Deserialize, Serialize};
use store::AppState;
use utoipa::ToSchema;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::Admin;
use web::json::Json;
use web::openapi::*;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsRequest {
    /// An Open Cloud API key with `universe-places:write` on the
    /// experience (Creator Dashboard > Open Cloud > API Keys).
    #[schema(min_length = 1, max_length = 1024, pattern = "^\\s*[!-~]+\\s*$")]
    api_key: String,
    /// The experience (Creator Dashboard: Copy Universe ID).
    #[serde(deserialize_with = "whole")]
    #[schema(minimum = 1)]
    universe_id: u64,
    /// The place of the experience that environments replace.
    #[serde(deserialize_with = "whole")]
    #[schema(minimum = 1)]
    place_id: u64,
}

// The key never reaches a log line.
impl std::fmt::Debug for SettingsRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SettingsRequest")
            .field("universe_id", &self.universe_id)
            .field("place_id", &self.place_id)
            .finish()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SettingsView {
    universe_id: u64,
    place_id: u64,
    /// Always true once stored: the key itself is never shown.
    api_key_set: bool,
    updated_at: String,
}

impl From<RobloxSettings> for SettingsView {
    fn from(settings: RobloxSettings) -> Self {
        Self {
            universe_id: settings.universe_id,
            place_id: settings.place_id,
            api_key_set: !settings.api_key.is_empty(),
            updated_at: settings.updated_at,
        }
    }
}

/// Stores where the organization publishes its environments on Roblox and
/// the Open Cloud API key that may, replacing any stored before. The key
/// is sealed at rest and never returned.
#[utoipa::path(
    put,
    path = "/api/v1/roblox/settings",
    operation_id = "put_roblox_settings",
    tag = "roblox",
    request_body = SettingsRequest,
    responses(
        (status = 200, description = "Stored", body = Success<SettingsView>),
        JsonBodyErrors,
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = [])),
    extensions(("x-roles" = json!(["admin"])))
)]
pub async fn put(
    State(state): State<AppState>,
    Admin(principal, tenant): Admin,
    Json(req): Json<SettingsRequest>,
) -> AppResult<ApiResponse<SettingsView>> {
    // A person manages the organization's secrets, not an integration.
    principal.require_user()?;
    let mut problems = Vec::new();
    let api_key = roblox::parse_open_cloud_key(&req.api_key);
    if api_key.is_none() {
        problems.push(domain::FieldError::new("api_key", "must be 1 to 1024 printable characters without blanks"));
    }
    for (field, value) in [("universe_id", req.universe_id), ("place_id", req.place_id)] {
        if value == 0 {
            problems.push(domain::FieldError::new(field, "must be a Roblox id, from 1"));
        }
    }
    let Some(api_key) = api_key.filter(|_| problems.is_empty()) else {
        return Err(AppError::Validation(problems));
    };
    let settings = RobloxSettings {
        universe_id: req.universe_id,
        place_id: req.place_id,
        api_key: api_key.to_owned(),
        updated_at: rfc3339(state.now()),
        updated_by: principal.user_id.clone(),
    };
    state.db.sealing(&tenant).await?;
    state.db.overwrite(&tenant.roblox_settings(), &settings).await?;
    tracing::info!(universe_id = settings.universe_id, place_id = settings.place_id, "roblox settings stored");
    Ok(ApiResponse::ok(settings.into()))
}

/// Where the organization publishes its environments on Roblox (never the key).
#[utoipa::path(
    get,
    path = "/api/v1/roblox/settings",
    operation_id = "get_roblox_settings",
    tag = "roblox",
    responses(
        (status = 200, description = "The settings", body = Success<SettingsView>),
        ReadOne,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin"])))
)]
pub async fn get(State(state): State<AppState>, Admin(_, tenant): Admin) -> AppResult<ApiResponse<SettingsView>> {
    let settings = state.db.get::<RobloxSettings>(&tenant.roblox_settings()).await?;
    let settings = settings.ok_or_else(|| AppError::not_found("roblox settings"))?;
    Ok(ApiResponse::ok(settings.into()))
}
