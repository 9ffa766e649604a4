//! `GET /roblox/environments/{id}/download`: a link to the project zip or
//! the place file, made on each read and valid for 15 minutes.

use axum::extract::State;
use axum::http::Uri;
use domain::ids::EnvironmentId;
use domain::roblox::{Artifact, Environment};
use serde::Serialize;
use store::AppState;
use utoipa::ToSchema;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::{PathId, Staff, query_param};
use web::openapi::*;

#[derive(Debug, Serialize, ToSchema)]
pub struct DownloadLink {
    download_url: String,
    /// RFC 3339; the link is refused after it.
    expires_at: String,
}

/// A link to download the environment's Rojo project (`format=project`, a
/// zip) or its place file (`format=place`, `.rbxlx`).
#[utoipa::path(
    get,
    path = "/api/v1/roblox/environments/{id}/download",
    operation_id = "download_roblox_environment",
    tag = "roblox",
    params(
        ("id" = EnvironmentId, Path, description = "The environment's id"),
        ("format" = String, Query, pattern = "^(project|place)$", description = "`project` (a Rojo project, zipped) or `place` (.rbxlx)"),
    ),
    responses(
        (status = 200, description = "The link", body = Success<DownloadLink>),
        ReadListOf,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])))
)]
pub async fn download(
    State(state): State<AppState>,
    Staff(_, tenant): Staff,
    uri: Uri,
    PathId(id): PathId<EnvironmentId>,
) -> AppResult<ApiResponse<DownloadLink>> {
    let format = query_param(&uri, "format")?;
    let environment = state.db.live::<Environment>(&tenant, &id).await?;
    let artifact = match format.as_deref() {
        Some("project") => Artifact::Project,
        Some("place") => Artifact::Place,
        _ => return Err(AppError::BadRequest("format must be project or place".into())),
    };
    let object = tenant.roblox_object(&environment.id, artifact);
    let (download_url, expires_at) = store::objects::download_link(&state, &object, artifact.file_name()).await?;
    Ok(ApiResponse::ok(DownloadLink { download_url, expires_at }))
}
