//! `POST /roblox/environments/{id}/join-code`: a student's short, one-time
//! code, which they type in the game to be linked to their Roblox account.

use axum::extract::State;
use domain::clock::rfc3339;
use domain::ids::EnvironmentId;
use domain::principal::Role;
use domain::roblox::{self, Environment, JoinCode};
use serde::Serialize;
use store::AppState;
use store::publication;
use utoipa::ToSchema;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::{Caller, PathId};
use web::openapi::*;

#[derive(Debug, Serialize, ToSchema)]
pub struct JoinCodeView {
    environment_id: EnvironmentId,
    /// Eight letters and digits, shown to the student to type in the game.
    code: String,
    /// RFC 3339: ten minutes from now; it works once.
    expires_at: String,
}

/// A join code for the environment, valid ten minutes and once. For the
/// students of the environment's class (of the organization, when it has
/// no class).
#[utoipa::path(
    post,
    path = "/api/v1/roblox/environments/{id}/join-code",
    operation_id = "create_roblox_join_code",
    tag = "roblox",
    params(("id" = EnvironmentId, Path, description = "The environment's id")),
    responses(
        (status = 201, description = "The code", body = Success<JoinCodeView>),
        Change,
    ),
    security(("bearer" = [])),
    extensions(("x-roles" = json!(["student"])))
)]
pub async fn create(
    State(state): State<AppState>,
    Caller(principal, tenant): Caller,
    PathId(id): PathId<EnvironmentId>,
) -> AppResult<ApiResponse<JoinCodeView>> {
    principal.require_role(&[Role::Student])?;
    principal.require_user()?;
    let not_found = || AppError::not_found("environment");
    let environment = state.db.find_live::<Environment>(&tenant, &id).await?.ok_or_else(not_found)?;
    if let Some(class) = &environment.class_id {
        // Not in the class: as if there were no such environment.
        let reached = publication::reaching(&state, &tenant, &principal.user_id, std::slice::from_ref(class)).await?;
        if reached.is_empty() {
            return Err(not_found());
        }
    }
    let now = state.now();
    let expires_at = now.unix_timestamp() + roblox::JOIN_CODE_SECONDS;
    let code = roblox::new_join_code();
    let stored =
        JoinCode { environment_id: id.clone(), student_id: principal.user_id.clone(), expires_at, used_at: None };
    // A code already taken (one in 27^8 per live code) is drawn again by the
    // student asking again: the conflict says so.
    state.db.create(&tenant.join_code(&id, &code), &stored).await.map_err(|err| match err {
        store::DbError::ConditionFailed => AppError::Conflict("ask for a join code again".into()),
        other => other.into(),
    })?;
    tracing::info!(environment_id = %id, "join code made");
    let expires_at = rfc3339(now + time::Duration::seconds(roblox::JOIN_CODE_SECONDS));
    Ok(ApiResponse::created(JoinCodeView { environment_id: id, code, expires_at }))
}
