//! `POST /organizations/current/invites`: admins invite someone by email to
//! join as a role. The token is shown once; only its hash is stored.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use toolbox::AppState;
use toolbox::auth::{random_secret, sha256_hex};
use toolbox::clock::rfc3339;
use toolbox::db::{DbError, Write};
use toolbox::domain::fields::Email;
use toolbox::domain::invite::{Invite, TOKEN_PREFIX};
use toolbox::envelope::{ApiResponse, Success};
use toolbox::error::{AppError, AppResult};
use toolbox::ids::InviteId;
use toolbox::json::Json;
use toolbox::openapi::*;
use toolbox::principal::{Principal, Role};
use toolbox::quota::{Quota, RateLimit};
use toolbox::tenancy::{Lookup, Tenant, global};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    email: Email,
    role: Role,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InviteCreated {
    id: InviteId,
    email: Email,
    role: Role,
    invite_token: String,
    expires_at: String,
}

/// Invites someone by email as a role; the token is in this response only.
#[utoipa::path(
    post,
    path = "/api/v1/organizations/current/invites",
    tag = "organizations",
    request_body = InviteRequest,
    responses(
        (status = 201, description = "The invite, with its token", body = Success<InviteCreated>, headers(
            ("X-RateLimit-Limit" = u32, description = "Invites the caller may send per minute"),
            ("X-RateLimit-Remaining" = u32, description = "Invites left in this minute"),
            ("X-RateLimit-Reset" = i64, description = "When the minute ends, in epoch seconds"),
        )),
        JsonBodyErrors,
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin"])))
)]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<InviteRequest>,
) -> AppResult<(RateLimit, ApiResponse<InviteCreated>)> {
    // An invite makes a new member, who would outlive any key: people only.
    principal.require_user()?;
    principal.require_role(&[Role::Admin])?;
    let tenant = Tenant::of(&principal);
    // Invites will send email: one admin sends a bounded number. Refusals
    // (an email already taken) count too, so the quota also bounds probing.
    let quota = Quota { name: "invites", limit: state.config.invites_per_minute, window_seconds: 60 };
    let rate_limit = quota.take(&state, &tenant, &principal.user_id).await?;
    if state.db.get::<Lookup>(&global::email(req.email.as_str())).await?.is_some() {
        return Err(AppError::Conflict("an account with this email already exists".into()));
    }
    let now = state.now();
    let token = format!("{TOKEN_PREFIX}{}", random_secret());
    let token_hash = sha256_hex(token.as_bytes());
    let expires_at = now.unix_timestamp() + state.config.invite_ttl_seconds;
    let invite = Invite {
        id: InviteId::new(),
        org_id: tenant.org_id().clone(),
        email: req.email,
        role: req.role,
        token_hash: token_hash.clone(),
        expires_at,
        created_at: rfc3339(now),
        created_by: principal.user_id.clone(),
        used_at: None,
        used_by: None,
    };
    let pointer = Lookup {
        org_id: tenant.org_id().clone(),
        user_id: None,
        invite_id: Some(invite.id.clone()),
        expires_at: Some(expires_at),
    };
    state
        .db
        .transact(vec![
            Write::Put(state.db.put_new(&tenant.invite(&invite.id), &invite)?),
            Write::Put(state.db.put_new(&global::invite_token(&token_hash), &pointer)?),
        ])
        .await
        .map_err(|err: DbError| AppError::from(err))?;
    tracing::info!(invite_id = %invite.id, role = %invite.role, "invite created");
    Ok((
        rate_limit,
        ApiResponse::created(InviteCreated {
            id: invite.id,
            email: invite.email,
            role: invite.role,
            invite_token: token,
            expires_at: rfc3339(OffsetDateTime::from_unix_timestamp(expires_at).unwrap_or(now)),
        })
        .no_store(),
    ))
}
