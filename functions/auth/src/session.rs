//! `POST /auth/refresh` (rotation with reuse detection), `POST /auth/logout`
//! and `POST /auth/logout-all`.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use credentials::refresh::RefreshToken;
use domain::clock::rfc3339;
use domain::organization::{OrgStatus, Organization};
use domain::session::{self, SPENT_HASHES_KEPT, Session};
use domain::tenancy::Tenant;
use domain::user::{self, User};
use serde::{Deserialize, Serialize};
use store::AppState;
use store::db::{Db, DbError};
use store::records::{Changes, Condition};
use store::sessions;
use store::users;
use subtle::ConstantTimeEq;
use utoipa::ToSchema;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::Caller;
use web::json::Json;
use web::openapi::*;

use crate::tokens::{AuthResponse, respond};

// No Debug: the token is a secret.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[schema(
        pattern = "^[0-7][0-9A-HJKMNP-TV-Z]{25}\\.[0-7][0-9A-HJKMNP-TV-Z]{25}\\.[0-7][0-9A-HJKMNP-TV-Z]{25}\\.[0-9a-f]{64}$"
    )]
    refresh_token: String,
}

fn refused() -> AppError {
    AppError::Unauthenticated("the refresh token is not valid".into())
}

/// Trades a refresh token for new tokens. The token is spent: presenting it
/// again ends the whole session.
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New access and refresh tokens", body = Success<AuthResponse>),
        JsonBodyErrors,
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 503, response = Unavailable),
    ),
    security(())
)]
pub async fn refresh(
    State(state): State<AppState>,
    Json(req): Json<RefreshRequest>,
) -> AppResult<ApiResponse<AuthResponse>> {
    let presented: RefreshToken = req.refresh_token.trim().parse().map_err(|_| refused())?;
    let keys = state.key_set().await?;
    let now = state.now();
    let tenant = Tenant::claimed_by_credential(&presented.org_id);
    let items = state
        .db
        .batch_get(&[
            tenant.session(&presented.user_id, &presented.session_id),
            tenant.user(&presented.user_id),
            tenant.organization(),
        ])
        .await?;
    let [stored, user, org] = <[_; 3]>::try_from(items).map_err(|_| AppError::internal("batch get shape"))?;
    let stored: Session = Db::decode(stored.ok_or_else(refused)?)?;
    if !stored.is_live(now) {
        return Err(refused());
    }
    let presented_hash = presented.secret_hash();
    if !same(&presented_hash, &stored.token_hash) {
        if stored.spent_hashes.iter().any(|spent| same(spent, &presented_hash)) {
            // A token of this family that was already rotated away came back:
            // someone holds a copy. End the family for everyone.
            return Err(reuse(&state, &tenant, &presented, now).await);
        }
        return Err(refused());
    }
    let user: User = Db::decode(user.ok_or_else(refused)?)?;
    let org: Organization = Db::decode(org.ok_or_else(refused)?)?;
    // Ended with the others (a password change, a sign-out everywhere, a
    // newer sign-in over the cap), or the user is gone.
    if !user.is_active() || !user.admits(&presented.session_id, now.unix_timestamp()) {
        return Err(refused());
    }
    if org.status == OrgStatus::Suspended {
        return Err(AppError::Forbidden("the organization is suspended".into()));
    }

    let next = RefreshToken::mint(presented.org_id.clone(), presented.user_id.clone(), presented.session_id.clone());
    let spent: Vec<String> = std::iter::once(presented_hash.clone())
        .chain(stored.spent_hashes.iter().cloned())
        .take(SPENT_HASHES_KEPT)
        .collect();
    let rotate = state.db.update_with(
        &tenant.session(&presented.user_id, &presented.session_id),
        Changes::new()
            .set(session::field::TOKEN_HASH, &next.secret_hash())
            .set(session::field::SPENT_HASHES, &spent)
            .add(session::field::GENERATION, 1)
            .set(session::field::LAST_USED_AT, &rfc3339(now))
            .when(
                Condition::equals(session::field::TOKEN_HASH, &presented_hash)
                    .and(Condition::absent(session::field::REVOKED_AT)),
            ),
    )?;
    match state.db.run_update(rotate).await {
        Ok(_) => {
            store::activity::seen(&state, &tenant, &user).await;
            Ok(ApiResponse::ok(respond(&state, &keys, user, &next)).no_store())
        }
        // Two uses of one token raced and the other won: that is reuse too.
        Err(DbError::ConditionFailed) => Err(reuse(&state, &tenant, &presented, now).await),
        Err(err) => Err(err.into()),
    }
}

fn same(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Ends a family whose spent token was presented again; the answer is the
/// 401 the presenter gets.
async fn reuse(state: &AppState, tenant: &Tenant, presented: &RefreshToken, now: time::OffsetDateTime) -> AppError {
    let revoked =
        sessions::end(&state.db, tenant, &presented.user_id, &presented.session_id, "refresh token reuse", now).await;
    if let Err(err) = revoked {
        return err.into();
    }
    tracing::warn!(session_id = %presented.session_id, "refresh token reuse detected; session revoked");
    AppError::Unauthenticated("refresh token reuse detected; the session has been revoked".into())
}

/// Ends the session the refresh token belongs to; only the caller's own.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 204, description = "The session has ended"),
        JsonBodyErrors,
        ReadOne,
    ),
    security(("bearer" = []))
)]
pub async fn logout(
    State(state): State<AppState>,
    Caller(principal, tenant): Caller,
    Json(req): Json<RefreshRequest>,
) -> AppResult<StatusCode> {
    principal.require_user()?;
    let token: RefreshToken =
        req.refresh_token.trim().parse().map_err(|_| AppError::invalid("refresh_token", "is not a refresh token"))?;
    if token.org_id != principal.org_id || token.user_id != principal.user_id {
        return Err(AppError::not_found("session"));
    }
    let tenant = tenant.clone();
    sessions::end(&state.db, &tenant, &principal.user_id, &token.session_id, "logout", state.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionsEnded {
    /// How many live sessions ended, the caller's own included.
    sessions_revoked: usize,
}

/// Signs the user out everywhere: every session ends, this one included,
/// in one write. Each session's refresh token is refused from now on, and
/// so are its access tokens.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout-all",
    tag = "auth",
    responses(
        (status = 200, description = "Every session has ended", body = Success<SessionsEnded>),
        Change,
    ),
    security(("bearer" = []))
)]
pub async fn logout_all(
    State(state): State<AppState>,
    Caller(principal, tenant): Caller,
) -> AppResult<ApiResponse<SessionsEnded>> {
    principal.require_user()?;
    let tenant = tenant.clone();
    let user = users::find_active(&state.db, &tenant, &principal.user_id).await?;
    let now = state.now();
    let end_all = state.db.update_with(
        &tenant.user(&user.id),
        Changes::new().set(user::field::SESSIONS, &BTreeMap::new()).when(Condition::live()),
    )?;
    state.db.run_update(end_all).await.map_err(|err| match err {
        DbError::ConditionFailed => AppError::not_found("user"),
        other => other.into(),
    })?;
    tracing::info!(user_id = %user.id, "signed out everywhere");
    Ok(ApiResponse::ok(SessionsEnded { sessions_revoked: user.live_sessions(now.unix_timestamp()) }))
}
