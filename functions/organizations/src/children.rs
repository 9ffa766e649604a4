//! A parent's children: admins link a parent to a student and unlink them;
//! admins and the parent themself list the links.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use domain::audit_log::{Action, Target};
use domain::clock::rfc3339;
use domain::error::Error;
use domain::guardian::{GuardianLink, StoredLink};
use domain::ids::UserId;
use domain::principal::Role;
use domain::tenancy::Tenant;
use serde::Deserialize;
use store::AppState;
use store::audit_log;
use store::cursor;
use store::db::{DbError, Range, Write};
use store::records::Condition;
use store::users;
use utoipa::ToSchema;
use web::audit;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::Caller;
use web::extract::PageRequest;
use web::extract::PathId;
use web::json::Json;
use web::openapi::*;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChildLink {
    /// A member with the student role.
    child_id: UserId,
}

/// An active member of the caller's organization with `role`, or a 404 / 422.
async fn member_with_role(
    state: &AppState,
    tenant: &Tenant,
    id: &UserId,
    role: Role,
    field: Option<&str>,
) -> AppResult<domain::user::User> {
    let member = users::find_active(&state.db, tenant, id).await.map_err(|err| match (err, field) {
        (Error::NotFound(_), Some(field)) => AppError::invalid(field, "no such member"),
        (Error::NotFound(_), None) => AppError::not_found("member"),
        (other, _) => other.into(),
    })?;
    if member.role != role {
        let message = format!("must be a member with the {role} role");
        return Err(match field {
            Some(field) => AppError::invalid(field, message),
            None => AppError::Conflict(format!("the member {message}")),
        });
    }
    Ok(member)
}

/// Links a parent to a student: the parent may then read the student's classes.
#[utoipa::path(
    post,
    path = "/api/v1/organizations/current/members/{user_id}/children",
    operation_id = "link_child",
    tag = "organizations",
    params(("user_id" = UserId, Path, description = "The parent's user id")),
    request_body = ChildLink,
    responses(
        (status = 201, description = "The link", body = Success<GuardianLink>),
        JsonBodyErrors,
        Change,
    ),
    security(("bearer" = [])),
    extensions(("x-roles" = json!(["admin"])))
)]
pub async fn link(
    State(state): State<AppState>,
    Caller(principal, tenant): Caller,
    PathId(parent): PathId<UserId>,
    Json(req): Json<ChildLink>,
) -> AppResult<ApiResponse<GuardianLink>> {
    principal.require_user()?;
    principal.require_role(&[Role::Admin])?;
    let tenant = tenant.clone();
    member_with_role(&state, &tenant, &parent, Role::Parent, None).await?;
    let child = member_with_role(&state, &tenant, &req.child_id, Role::Student, Some("child_id")).await?;
    state.db.sealing(&tenant).await?;
    let link = GuardianLink {
        parent_id: parent.clone(),
        child_id: child.id.clone(),
        child_first_name: child.first_name,
        child_last_name: child.last_name,
        created_at: rfc3339(state.now()),
        created_by: principal.user_id.clone(),
    };
    let stored = StoredLink::of(&tenant, link.clone());
    let entry = audit::by(&state, &principal, Action::GuardianLinked)
        .target(Target::user(&parent))
        .target(Target::user(&child.id));
    let writes = vec![
        Write::Put(state.db.put_new(&tenant.guardian_link(&parent, &child.id), &stored)?),
        audit_log::put(&state, &tenant, &entry)?,
    ];
    state.db.transact(writes).await.map_err(|err| match err {
        DbError::Cancelled { failed } if failed.contains(&0) => {
            AppError::Conflict("the parent is already linked to this child".into())
        }
        other => other.into(),
    })?;
    tracing::info!(parent_id = %parent, child_id = %child.id, "parent linked to child");
    Ok(ApiResponse::created(link))
}

/// A parent's children: for admins, and for the parent themself.
#[utoipa::path(
    get,
    path = "/api/v1/organizations/current/members/{user_id}/children",
    operation_id = "list_children",
    tag = "organizations",
    params(
        ("user_id" = UserId, Path, description = "The parent's user id"),
        PageRequest,
    ),
    responses(
        (status = 200, description = "A page of links", body = Success<Vec<GuardianLink>>),
        ReadListOf,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "parent"])))
)]
pub async fn list(
    State(state): State<AppState>,
    Caller(principal, tenant): Caller,
    PathId(parent): PathId<UserId>,
    page: PageRequest,
) -> AppResult<ApiResponse<Vec<GuardianLink>>> {
    principal.require_role(&[Role::Admin, Role::Parent])?;
    if principal.role == Role::Parent && principal.user_id != parent {
        return Err(AppError::not_found("member"));
    }
    let tenant = tenant.clone();
    member_with_role(&state, &tenant, &parent, Role::Parent, None).await?;
    let keys = state.key_set().await?;
    let list = format!("children:{parent}");
    let start = page.start(&keys, &tenant, &list)?;
    let (partition, prefix) = (tenant.user_partition(&parent), Tenant::CHILD_PREFIX);
    let range = Range::of(&partition, prefix);
    let found = state.db.query::<GuardianLink>(&range, page.limit, start).await?;
    let next = found.last_key.map(|key| cursor::encode(&keys, &tenant, &list, &key));
    Ok(ApiResponse::page(found.items, next))
}

/// Ends a parent's link to a child.
#[utoipa::path(
    delete,
    path = "/api/v1/organizations/current/members/{user_id}/children/{child_id}",
    operation_id = "unlink_child",
    tag = "organizations",
    params(
        ("user_id" = UserId, Path, description = "The parent's user id"),
        ("child_id" = UserId, Path, description = "The child's user id"),
    ),
    responses(
        (status = 204, description = "Unlinked"),
        ReadOne,
    ),
    security(("bearer" = [])),
    extensions(("x-roles" = json!(["admin"])))
)]
pub async fn unlink(
    State(state): State<AppState>,
    Caller(principal, tenant): Caller,
    Path((parent, child)): Path<(String, String)>,
) -> AppResult<StatusCode> {
    principal.require_user()?;
    principal.require_role(&[Role::Admin])?;
    let tenant = tenant.clone();
    let no_link = || AppError::not_found("link");
    let (parent, child): (UserId, UserId) =
        (parent.parse().map_err(|_| no_link())?, child.parse().map_err(|_| no_link())?);
    let entry = audit::by(&state, &principal, Action::GuardianUnlinked)
        .target(Target::user(&parent))
        .target(Target::user(&child));
    let writes = vec![
        Write::Delete(state.db.delete_when(&tenant.guardian_link(&parent, &child), Condition::<StoredLink>::exists())?),
        audit_log::put(&state, &tenant, &entry)?,
    ];
    match state.db.transact(writes).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(DbError::Cancelled { failed }) if failed.contains(&0) => Err(no_link()),
        Err(err) => Err(err.into()),
    }
}
