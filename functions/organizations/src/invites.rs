//! `/organizations/current/invites`: admins invite someone by email to join
//! as a role (the token is shown once; only its hash is stored), list the
//! invites, and withdraw one that has not been used.

use axum::extract::State;
use axum::http::StatusCode;
use domain::audit_log::{Action, Target};
use domain::clock::rfc3339;
use domain::fields::Email;
use domain::ids::{InviteId, UserId};
use domain::invite::{Invite, InviteStatus, TOKEN_PREFIX, field};
use domain::principal::Role;
use domain::tenancy::{Lookup, Tenant, global};
use serde::{Deserialize, Serialize};
use serde_json::json;
use store::AppState;
use store::audit_log;
use store::blind_index;
use store::cursor;
use store::db::{DbError, Range, Write};
use store::quota::Quota;
use store::records::{Changes, Condition};
use store::secret::{random_secret, sha256_hex};
use time::OffsetDateTime;
use utoipa::ToSchema;
use web::audit;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::PageRequest;
use web::extract::PathId;
use web::extract::{Admin, Caller};
use web::json::Json;
use web::openapi::*;

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
        Create,
        (status = 429, response = RateLimited),
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin"])))
)]
pub async fn create(
    State(state): State<AppState>,
    Caller(principal, tenant): Caller,
    Json(req): Json<InviteRequest>,
) -> AppResult<ApiResponse<InviteCreated>> {
    // An invite makes a new member, who would outlive any key: people only.
    principal.require_user()?;
    principal.require_role(&[Role::Admin])?;
    let tenant = tenant.clone();
    // Invites will send email: one admin sends a bounded number. Refusals
    // (an email already taken) count too, so the quota also bounds probing.
    let quota = Quota { name: "invites", limit: state.config.invites_per_minute, window_seconds: 60 };
    let rate_limit = quota.take(&state, &tenant, &principal.user_id).await?;
    if state.db.get::<Lookup>(&blind_index::email(&state, &req.email).await?).await?.is_some() {
        return Err(AppError::Conflict("an account with this email already exists".into()));
    }
    let now = state.now();
    state.db.sealing(&tenant).await?;
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
        deleted_at: None,
        deleted_by: None,
    };
    let pointer = Lookup {
        org_id: tenant.org_id().clone(),
        user_id: None,
        invite_id: Some(invite.id.clone()),
        expires_at: Some(expires_at),
    };
    let entry = audit::by(&state, &principal, Action::InviteCreated)
        .target(Target::invite(&invite.id))
        .changes(json!(null), json!({"role": invite.role}));
    state
        .db
        .transact(vec![
            Write::Put(state.db.put_new(&tenant.invite(&invite.id), &invite)?),
            Write::Put(state.db.put_new(&global::invite_token(&token_hash), &pointer)?),
            audit_log::put(&state, &tenant, &entry)?,
        ])
        .await
        .map_err(|err: DbError| AppError::from(err))?;
    tracing::info!(invite_id = %invite.id, role = %invite.role, "invite created");
    Ok(ApiResponse::created(InviteCreated {
        expires_at: invite.expiry(),
        id: invite.id,
        email: invite.email,
        role: invite.role,
        invite_token: token,
    })
    .no_store()
    .with_rate_limit(rate_limit))
}

const LIST: &str = "invites";

/// An invite as admins see it: never its token.
#[derive(Debug, Serialize, ToSchema)]
pub struct InviteView {
    id: InviteId,
    email: Email,
    role: Role,
    status: InviteStatus,
    /// RFC 3339.
    expires_at: String,
    created_at: String,
    created_by: UserId,
    #[serde(skip_serializing_if = "Option::is_none")]
    used_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    used_by: Option<UserId>,
}

impl InviteView {
    fn of(invite: Invite, now: OffsetDateTime) -> Self {
        Self {
            status: invite.status(now.unix_timestamp()),
            expires_at: invite.expiry(),
            id: invite.id,
            email: invite.email,
            role: invite.role,
            created_at: invite.created_at,
            created_by: invite.created_by,
            used_at: invite.used_at,
            used_by: invite.used_by,
        }
    }
}

/// The organization's invites, newest first: pending, used or expired
/// (DynamoDB's TTL removes expired ones after a while); not withdrawn ones.
#[utoipa::path(
    get,
    path = "/api/v1/organizations/current/invites",
    operation_id = "list_invites",
    tag = "organizations",
    params(
        PageRequest,
    ),
    responses(
        (status = 200, description = "A page of invites", body = Success<Vec<InviteView>>),
        ReadList,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin"])))
)]
pub async fn list(
    State(state): State<AppState>,
    Admin(_, tenant): Admin,
    page: PageRequest,
) -> AppResult<ApiResponse<Vec<InviteView>>> {
    let keys = state.key_set().await?;
    let start = page.start(&keys, &tenant, LIST)?;
    let listing = tenant.listing(Tenant::INVITE_PREFIX);
    let range = Range::listing(&listing, Tenant::INVITE_PREFIX).newest_first();
    let found = state.db.query::<Invite>(&range, page.limit, start).await?;
    let next = found.last_key.map(|key| cursor::encode(&keys, &tenant, LIST, &key));
    let now = state.now();
    Ok(ApiResponse::page(found.items.into_iter().map(|invite| InviteView::of(invite, now)).collect(), next))
}

/// Withdraws an invite that has not been used: its token admits nobody from
/// now on.
#[utoipa::path(
    delete,
    path = "/api/v1/organizations/current/invites/{id}",
    operation_id = "withdraw_invite",
    tag = "organizations",
    params(("id" = InviteId, Path, description = "The invite's id")),
    responses(
        (status = 204, description = "Withdrawn"),
        Change,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin"])))
)]
pub async fn withdraw(
    State(state): State<AppState>,
    Admin(principal, tenant): Admin,
    PathId(id): PathId<InviteId>,
) -> AppResult<StatusCode> {
    let invite = state
        .db
        .get::<Invite>(&tenant.invite(&id))
        .await?
        .filter(|invite| invite.deleted_at.is_none())
        .ok_or_else(|| AppError::not_found("invite"))?;
    if invite.used_at.is_some() {
        return Err(AppError::Conflict("the invite has already been used".into()));
    }
    let now = state.now();
    let mark = state.db.update_with(
        &tenant.invite(&id),
        Changes::new()
            .set(field::DELETED_AT, &rfc3339(now))
            .set(field::DELETED_BY, &principal.user_id)
            .when(Condition::live().and(Condition::absent(field::USED_AT))),
    )?;
    let lookup = state.db.delete(&global::invite_token(&invite.token_hash))?;
    let entry = audit::by(&state, &principal, Action::InviteWithdrawn).target(Target::invite(&id));
    let writes = vec![Write::Update(mark), Write::Delete(lookup), audit_log::put(&state, &tenant, &entry)?];
    state.db.transact(writes).await.map_err(|err| match err {
        DbError::Cancelled { failed } if !failed.is_empty() => {
            AppError::Conflict("the invite was used or withdrawn meanwhile".into())
        }
        other => other.into(),
    })?;
    tracing::info!(invite_id = %id, "invite withdrawn");
    Ok(StatusCode::NO_CONTENT)
}
