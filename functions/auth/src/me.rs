//! `GET /auth/me` and `POST /auth/password`.

use std::collections::BTreeMap;

use axum::extract::State;
use credentials::lockout::{self, Guard, Verdict};
use credentials::password;
use domain::audit_log::{Action, Actor, Target};
use domain::fields::Password;
use domain::ids::SessionId;
use domain::user::field;
use domain::user::{User, UserView};
use serde::{Deserialize, Serialize};
use serde_json::json;
use store::AppState;
use store::audit_log;
use store::db::{Db, DbError, Write};
use store::records::Changes;
use store::users;
use utoipa::ToSchema;
use web::audit;
use web::client_ip::ClientIp;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::Caller;
use web::json::Json;
use web::openapi::*;

use crate::attempts;

/// The signed-in user.
#[utoipa::path(
    get,
    path = "/api/v1/auth/me",
    tag = "auth",
    responses(
        (status = 200, description = "The caller", body = Success<UserView>),
        ReadOne,
    ),
    security(("bearer" = []))
)]
pub async fn me(State(state): State<AppState>, Caller(principal, tenant): Caller) -> AppResult<ApiResponse<UserView>> {
    principal.require_user()?;
    let user = users::find_active(&state.db, &tenant, &principal.user_id).await?;
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
        Change,
        (status = 429, response = RateLimited),
    ),
    security(("bearer" = []))
)]
pub async fn change_password(
    State(state): State<AppState>,
    Caller(principal, tenant): Caller,
    ClientIp(source): ClientIp,
    Json(req): Json<PasswordChange>,
) -> AppResult<ApiResponse<PasswordChanged>> {
    principal.require_user()?;
    let tenant = tenant.clone();
    let guard = Guard::for_user(&principal.org_id, &principal.user_id, source);
    let [account, from_source] = guard.keys();
    let mut items = state.db.batch_get(&[tenant.user(&principal.user_id), account, from_source]).await?;
    let counters = items.split_off(1);
    let user = match items.pop().flatten().map(Db::decode::<User>).transpose()? {
        Some(user) if user.is_active() => user,
        _ => return Err(AppError::not_found("user")),
    };
    let now = state.now();
    // A stolen access token must not become a password-guessing oracle.
    let stored = Some(user.password_hash.clone());
    let checked = guard.check(&state.db, &state.config, now, &counters, req.current_password, stored).await?;
    let reserved = match checked {
        Verdict::Right(reserved) => reserved,
        Verdict::Wrong { locked_out } => {
            attempts::wrong_password(&state, &tenant, &user.id, Actor::of(&principal), locked_out).await;
            return Err(AppError::Forbidden("the current password is not correct".into()));
        }
    };
    let password_hash = password::hash(req.new_password.expose().to_owned()).await?;
    // Every session ends but the one the change was made from: one write.
    let kept: BTreeMap<SessionId, i64> = principal
        .session_id
        .as_ref()
        .and_then(|id| user.sessions.get_key_value(id))
        .map(|(id, expires)| (id.clone(), *expires))
        .into_iter()
        .collect();
    let sessions_revoked = user.live_sessions(now.unix_timestamp()).saturating_sub(kept.len());
    let changes = Changes::new().set(field::PASSWORD_HASH, &password_hash).set(field::SESSIONS, &kept);
    let update = state.db.patch_update(&tenant, &user, None, &principal.user_id, now, changes)?;
    let [account, from_source] = reserved.succeeded(&state.db, now)?;
    let entry = audit::by(&state, &principal, Action::PasswordChanged)
        .target(Target::user(&user.id))
        .changes(json!({"sessions": user.live_sessions(now.unix_timestamp())}), json!({"sessions": kept.len()}));
    let writes = vec![Write::Update(update), account, from_source, audit_log::put(&state, &tenant, &entry)?];
    state.db.transact(writes).await.map_err(|err| match err {
        DbError::Cancelled { failed } if failed.contains(&1) || failed.contains(&2) => {
            lockout::locked(state.config.login_lockout_seconds as u64).into()
        }
        other => AppError::from(other),
    })?;
    Ok(ApiResponse::ok(PasswordChanged { sessions_revoked }))
}
