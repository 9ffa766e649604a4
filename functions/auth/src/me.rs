//! `GET /auth/me` and `POST /auth/password`.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use toolbox::AppState;
use toolbox::auth::password;
use toolbox::db::s;
use toolbox::domain::fields::Password;
use toolbox::domain::session;
use toolbox::domain::user::{self, UserView};
use toolbox::envelope::{ApiResponse, Success};
use toolbox::error::{AppError, AppResult};
use toolbox::json::Json;
use toolbox::openapi::*;
use toolbox::principal::Principal;
use toolbox::tenancy::Tenant;
use utoipa::ToSchema;

/// The signed-in user.
#[utoipa::path(
    get,
    path = "/api/v1/auth/me",
    tag = "auth",
    responses(
        (status = 200, description = "The caller", body = Success<UserView>),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
pub async fn me(State(state): State<AppState>, principal: Principal) -> AppResult<ApiResponse<UserView>> {
    principal.require_user()?;
    let user = user::find_active(&state.db, &Tenant::of(&principal), &principal.user_id).await?;
    Ok(ApiResponse::ok(user.into()))
}

// No Debug: the passwords are secrets.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current_password: String,
    new_password: Password,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordChanged {
    sessions_revoked: usize,
}

/// Changes the password and ends every other session of the user; the
/// session the change was made from stays signed in.
#[utoipa::path(
    post,
    path = "/api/v1/auth/password",
    tag = "auth",
    request_body = PasswordChange,
    responses(
        (status = 200, description = "Changed; other sessions ended", body = Success<PasswordChanged>),
        JsonBodyErrors,
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
    ),
    security(("bearer" = []))
)]
pub async fn change_password(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<PasswordChange>,
) -> AppResult<ApiResponse<PasswordChanged>> {
    principal.require_user()?;
    let tenant = Tenant::of(&principal);
    let user = user::find_active(&state.db, &tenant, &principal.user_id).await?;
    let now = state.now();
    // A stolen access token must not become a password-guessing oracle.
    if let Some(seconds) = user.locked_for(now) {
        return Err(user::locked(seconds));
    }
    if !password::verify(req.current_password, Some(user.password_hash.clone())).await? {
        user::record_password_failure(&state.db, &tenant, &user.id, &state.config, now).await?;
        return Err(AppError::Forbidden("the current password is not correct".into()));
    }
    let password_hash = password::hash(req.new_password.expose().to_owned()).await?;
    let update = state.db.update_versioned(
        &tenant.user(&user.id),
        user.audit.version,
        &principal.user_id,
        now,
        vec![("password_hash", s(password_hash))],
    )?;
    state.db.run_update(update).await?;
    let sessions_revoked =
        session::revoke_all(&state.db, &tenant, &user.id, principal.session_id.as_ref(), "password changed", now)
            .await?;
    Ok(ApiResponse::ok(PasswordChanged { sessions_revoked }))
}
