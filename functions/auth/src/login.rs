//! `POST /auth/login` by email or username. Unknown accounts and wrong
//! passwords get the same answer in the same time; repeated failures lock the
//! account for a while.

use axum::extract::State;
use serde::Deserialize;
use toolbox::AppState;
use toolbox::auth::password;
use toolbox::db::{Db, n};
use toolbox::domain::fields::{Email, Password, Username};
use toolbox::domain::organization::{OrgStatus, Organization};
use toolbox::domain::user::User;
use toolbox::envelope::ApiResponse;
use toolbox::error::{AppError, AppResult};
use toolbox::json::Json;
use toolbox::tenancy::{Lookup, Tenant, global};

use crate::tokens::{AuthResponse, new_session, respond, session_write};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[serde(default)]
    email: Option<Email>,
    #[serde(default)]
    username: Option<Username>,
    password: Password,
}

fn invalid_credentials() -> AppError {
    AppError::Unauthenticated("invalid credentials".into())
}

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
    if let Some((_, user, _)) = &found {
        if let Some(until) = user.locked_until.filter(|until| *until > now.unix_timestamp()) {
            return Err(AppError::RateLimited {
                message: "too many failed logins; the account is locked for a while".into(),
                retry_after_seconds: (until - now.unix_timestamp()) as u64,
            });
        }
    }
    let stored_hash = found.as_ref().map(|(_, user, _)| user.password_hash.clone());
    if !password::verify(req.password.expose().to_owned(), stored_hash).await? {
        if let Some((tenant, user, _)) = &found {
            record_failure(&state, tenant, user).await?;
        }
        return Err(invalid_credentials());
    }
    let (tenant, user, org) = found.ok_or_else(invalid_credentials)?;
    if org.status == OrgStatus::Suspended {
        return Err(AppError::Forbidden("the organization is suspended".into()));
    }
    let (session, refresh) = new_session(&state, &user);
    let mut writes = vec![session_write(&state, &tenant, &session)?];
    if user.failed_logins > 0 || user.locked_until.is_some() {
        writes.push(toolbox::db::Write::Update(state.db.update(
            &tenant.user(&user.id),
            "SET failed_logins = :zero REMOVE locked_until",
            Some("attribute_exists(pk)"),
            &[],
            vec![(":zero", n(0))],
        )?));
    }
    state.db.transact(writes).await?;
    Ok(ApiResponse::ok(respond(&state, &keys, user, &refresh)))
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

/// Counts a failure atomically; the one that reaches the limit locks the
/// account and starts the count again.
async fn record_failure(state: &AppState, tenant: &Tenant, user: &User) -> AppResult<()> {
    let key = tenant.user(&user.id);
    let update =
        state.db.update(&key, "ADD failed_logins :one", Some("attribute_exists(pk)"), &[], vec![(":one", n(1))])?;
    let after = state.db.run_update(update).await?;
    let failures: i64 =
        after.get("failed_logins").and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).unwrap_or(0);
    if failures >= state.config.login_max_failures {
        let until = state.now().unix_timestamp() + state.config.login_lockout_seconds;
        let lock = state.db.update(
            &key,
            "SET locked_until = :until, failed_logins = :zero",
            Some("attribute_exists(pk)"),
            &[],
            vec![(":until", n(until)), (":zero", n(0))],
        )?;
        state.db.run_update(lock).await?;
        tracing::warn!(user_id = %user.id, "account locked after repeated failed logins");
    }
    Ok(())
}
