//! `POST /roblox/environments/{id}/publish`: the environment's place,
//! with its game server's signing secret, uploaded to Roblox through Open
//! Cloud as the organization's place's new live version.

use std::sync::Arc;

use axum::extract::State;
use domain::clock::rfc3339;
use domain::ids::EnvironmentId;
use domain::roblox::{Artifact, Environment, RobloxSettings, field};
use integrations::roblox::{DEFAULT_RETRY, MAX_PLACE_BYTES, OpenCloud, OpenCloudError};
use serde::Serialize;
use store::AppState;
use store::records::Changes;
use utoipa::ToSchema;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult, ErrorBody};
use web::extract::{PathId, Staff};
use web::openapi::*;

use crate::environments::EnvironmentView;
use crate::project::{data, place};

#[derive(Debug, Serialize, ToSchema)]
pub struct PublishedPlace {
    environment: EnvironmentView,
    universe_id: u64,
    place_id: u64,
    /// The place version Roblox made.
    version_number: u64,
}

/// The function's Open Cloud client, made on first use.
fn open_cloud(state: &AppState) -> AppResult<Arc<OpenCloud>> {
    let made = state.lazy(|| OpenCloud::new(&state.config.roblox_api_base, DEFAULT_RETRY).map(Arc::new).ok());
    made.as_ref().clone().ok_or_else(|| AppError::internal("the Open Cloud client could not be built"))
}

/// How Open Cloud's answer is told to the client: what they can fix (the
/// organization's settings) is a 409 naming it, Roblox's rate limit a 429,
/// Roblox failing a 503; a place file Roblox refuses is our fault (500).
fn open_cloud_failed(err: OpenCloudError) -> AppError {
    let settings = "check the organization's Roblox settings (PUT /api/v1/roblox/settings)";
    match err {
        OpenCloudError::Refused { status: 401, message } => AppError::Conflict(format!(
            "Roblox refused the Open Cloud API key ({message}): it needs universe-places:write on the experience; {settings}"
        )),
        OpenCloudError::Refused { status: 403, message } => {
            AppError::Conflict(format!("Roblox does not allow publishing to this place ({message}); {settings}"))
        }
        OpenCloudError::Refused { status: 404, message } => {
            AppError::Conflict(format!("Roblox knows no such universe or place ({message}); {settings}"))
        }
        OpenCloudError::Refused { status: 409, message } => {
            AppError::Conflict(format!("the place is not part of the universe ({message}); {settings}"))
        }
        OpenCloudError::RateLimited { retry_after } => AppError::RateLimited {
            message: "Roblox's publishing limit was reached; retry later".into(),
            retry_after_seconds: retry_after.map_or(60, |pause| pause.as_secs().max(1)),
            limit: None,
        },
        OpenCloudError::CircuitOpen | OpenCloudError::Unreachable | OpenCloudError::Server(_) => {
            tracing::warn!(error = %err, "roblox open cloud unavailable");
            AppError::Unavailable {
                message: "Roblox is unavailable; retry shortly".into(),
                retry_after_seconds: Some(30),
            }
        }
        OpenCloudError::Refused { .. } | OpenCloudError::Malformed => {
            AppError::internal(format!("open cloud refused the place: {err}"))
        }
    }
}

/// Publishes the environment to the organization's Roblox place (its
/// settings name it) as a new live version, with the signing secret its
/// game server needs; for the environment's author and admins.
#[utoipa::path(
    post,
    path = "/api/v1/roblox/environments/{id}/publish",
    operation_id = "publish_roblox_environment",
    tag = "roblox",
    params(("id" = EnvironmentId, Path, description = "The environment's id")),
    responses(
        (status = 200, description = "Published", body = Success<PublishedPlace>),
        (status = 409, description = "`conflict`: no Roblox settings, or Roblox refused them (the message says how)", body = ErrorBody),
        (status = 429, response = RateLimited),
        (status = 503, response = Unavailable),
        ReadOne,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])))
)]
pub async fn publish(
    State(state): State<AppState>,
    Staff(principal, tenant): Staff,
    PathId(id): PathId<EnvironmentId>,
) -> AppResult<ApiResponse<PublishedPlace>> {
    let environment = state.db.live::<Environment>(&tenant, &id).await?;
    principal.require_owner_or_admin(&environment.audit.created_by, "the environment's author")?;
    let settings = state.db.get::<RobloxSettings>(&tenant.roblox_settings()).await?.ok_or_else(|| {
        AppError::Conflict("store the organization's Roblox settings first (PUT /api/v1/roblox/settings)".into())
    })?;
    let stored = store::objects::get(&state, &tenant.roblox_object(&environment.id, Artifact::Place)).await?;
    let config = data::config(&environment, Some(&environment.signing_secret));
    let rbxlx = place::with_config(&stored, &config).map_err(AppError::internal)?;
    if rbxlx.len() > MAX_PLACE_BYTES {
        return Err(AppError::Conflict("the place is larger than Roblox takes (10 MiB): shorten the lesson".into()));
    }
    let version = open_cloud(&state)?
        .publish_place(&settings.api_key, settings.universe_id, settings.place_id, rbxlx)
        .await
        .map_err(open_cloud_failed)?;
    let now = state.now();
    let changes = Changes::new().set(field::PUBLISHED_VERSION, &version).set(field::PUBLISHED_AT, &rfc3339(now));
    let published = state.db.patch(&tenant, &environment, None, &principal.user_id, now, changes).await?;
    tracing::info!(environment_id = %id, version, "roblox environment published");
    Ok(ApiResponse::ok(PublishedPlace {
        environment: EnvironmentView::from(&published),
        universe_id: settings.universe_id,
        place_id: settings.place_id,
        version_number: version,
    }))
}
