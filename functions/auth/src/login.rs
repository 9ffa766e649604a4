//! `POST /auth/login` by email or username. Unknown accounts and wrong
//! passwords get the same answer in the same time; repeated failures lock the
//! account for a while.

use axum::extract::State;
use serde::Deserialize;
use toolbox::AppState;
use toolbox::auth::password;
use toolbox::db::{Db, DbError, Write};
use toolbox::domain::fields::{Email, Password, Username};
use toolbox::domain::organization::{OrgStatus, Organization};
use toolbox::domain::user::{self, User};
use toolbox::envelope::{ApiResponse, Success};
use toolbox::error::{AppError, AppResult};
use toolbox::json::{Json, present};
use toolbox::openapi::*;
use toolbox::tenancy::{Lookup, Tenant, global};
use utoipa::ToSchema;

use crate::tokens::{AuthResponse, new_session, respond, session_write};

// Parsed flat, so a wrong field is named in the 422; documented as
// `LoginBody`, one of its two shapes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[serde(default, deserialize_with = "present")]
    email: Option<Email>,
    #[serde(default, deserialize_with = "present")]
    username: Option<Username>,
    password: Password,
}

/// Login, as the OpenAPI document describes it: by email or by username.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // a description; requests parse as `LoginRequest`
pub enum LoginBody {
    ByEmail(ByEmail),
    ByUsername(ByUsername),
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ByEmail {
    email: Email,
    password: Password,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ByUsername {
    username: Username,
    password: Password,
}

fn invalid_credentials() -> AppError {
    AppError::Unauthenticated("invalid credentials".into())
}

/// Signs in with an email or a username; each login is a new session.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    request_body = LoginBody,
    responses(
        (status = 200, description = "Signed in", body = Success<AuthResponse>),
        JsonBodyErrors,
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 429, response = RateLimited),
        (status = 503, response = Unavailable),
    ),
    security(())
)]
pub async fn login(
    State(state): State<AppState>,
    Json(req): Json<LoginRequest>,
) -> AppResult<ApiResponse<AuthResponse>> {
    let lookup_key = match (&req.email, &req.username) {
        (Some(email), None) => global::email(email.as_str()),
        (None, Some(username)) => global::username(username.as_str()),
        _ => return Err(AppError::invalid("email", "give exactly one of email or username")),
    };
    let keys = state.key_set().await?;
    let now = state.now();
    let found = match state.db.get::<Lookup>(&lookup_key).await? {
        Some(lookup) => load(&state, &lookup).await?,
        None => None,
    };
    if let Some(seconds) = found.as_ref().and_then(|(_, user, _)| user.locked_for(now)) {
        return Err(user::locked(seconds));
    }
    let stored_hash = found.as_ref().map(|(_, user, _)| user.password_hash.clone());
    if !password::verify(req.password.expose().to_owned(), stored_hash).await? {
        if let Some((tenant, user, _)) = &found {
            user::record_password_failure(&state.db, tenant, &user.id, &state.config, now).await?;
        }
        return Err(invalid_credentials());
    }
    let (tenant, user, org) = found.ok_or_else(invalid_credentials)?;
    if org.status == OrgStatus::Suspended {
        return Err(AppError::Forbidden("the organization is suspended".into()));
    }
    toolbox::usage_plans::ensure_usage_key(&state, &tenant, &org).await?;
    let (session, refresh) = new_session(&state, &user);
    let writes = vec![
        session_write(&state, &tenant, &session)?,
        Write::Update(user::password_success(&state.db, &tenant, &user.id, now)?),
        toolbox::activity::count(&state, &tenant, toolbox::activity::Counter::Logins, &user.id, 1)?,
    ];
    state.db.transact(writes).await.map_err(|err| match err {
        DbError::Cancelled { failed } if failed.contains(&1) => user::locked(state.config.login_lockout_seconds as u64),
        other => other.into(),
    })?;
    Ok(ApiResponse::ok(respond(&state, &keys, user, &refresh)).no_store())
}

/// The active user a lookup points at, with its organisation, in one round trip.
async fn load(state: &AppState, lookup: &Lookup) -> AppResult<Option<(Tenant, User, Organization)>> {
    let Some(user_id) = &lookup.user_id else { return Ok(None) };
    let tenant = Tenant::of_lookup(lookup);
    let items = state.db.batch_get(&[tenant.user(user_id), tenant.organization()]).await?;
    let [user, org] = <[_; 2]>::try_from(items).map_err(|_| AppError::internal("batch get shape"))?;
    let (Some(user), Some(org)) = (user, org) else { return Ok(None) };
    let user: User = Db::decode(user)?;
    Ok(user.is_active().then_some((tenant, user, Db::decode(org)?)))
}
