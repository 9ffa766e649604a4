//! Members: list (paginated), change a role, remove. The organisation's
//! `admin_count` changes in the same transaction as the member, on the
//! condition that one admin remains.

use axum::extract::State;
use axum::http::StatusCode;
use domain::audit_log::{Action, Target};
use domain::day::Day;
use domain::error::Error;
use domain::ids::UserId;
use domain::principal::{Principal, Role};
use domain::tenancy::Tenant;
use domain::user::{DirectoryEntry, User, UserView, directory};
use serde::{Deserialize, Serialize};
use serde_json::json;
use store::AppState;
use store::api_keys;
use store::audit_log;
use store::counters::{self, Counter, Total};
use store::cursor;
use store::db::{Range, Write};
use store::membership;
use store::users;
use utoipa::ToSchema;

use domain::user::field;
use store::records::Changes;
use web::audit;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::Caller;
use web::extract::PageRequest;
use web::extract::PathId;
use web::json::Json;
use web::openapi::*;

const LIST: &str = "members";
const STAFF_LIST: &str = "members/staff";
/// Queries one list request may make: with the authorizer's read, the three
/// round trips docs/architecture.md allows a read route.
const MAX_QUERIES: usize = 2;

/// A member as the caller may see them: staff see everything of every
/// member; students and parents see the staff's names and roles only.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum MemberEntry {
    Member(UserView),
    Staff(DirectoryEntry),
}

/// The organization's members, a page at a time: every member for admins
/// and teachers; for students and parents, the staff (name and role, no
/// contact details) and nobody else.
#[utoipa::path(
    get,
    path = "/api/v1/organizations/current/members",
    tag = "organizations",
    params(
        PageRequest,
    ),
    responses(
        (status = 200, description = "A page of members", body = Success<Vec<MemberEntry>>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    Caller(principal, tenant): Caller,
    page: PageRequest,
) -> AppResult<ApiResponse<Vec<MemberEntry>>> {
    let keys = state.key_set().await?;
    let staff_view = principal.role.is_staff();
    let listing = tenant.listing(Tenant::USER_PREFIX);
    let directory = tenant.members_by_standing(directory::STAFF);
    let (list, range) = if staff_view {
        (LIST, Range::listing(&listing, Tenant::USER_PREFIX))
    } else {
        (STAFF_LIST, Range::gsi1(&directory, Tenant::USER_PREFIX).live_only())
    };
    let start = page.start(&keys, &tenant, list)?;
    // Removed members are filtered out after DynamoDB's limit applies, so a
    // page can come back short: read on (within the round-trip budget).
    let mut members: Vec<User> = Vec::new();
    let mut last_key = start;
    for _ in 0..MAX_QUERIES {
        let want = page.limit - members.len() as i32;
        let found = state.db.query::<User>(&range, want, last_key).await?;
        members.extend(found.items);
        last_key = found.last_key;
        if last_key.is_none() || members.len() as i32 >= page.limit {
            break;
        }
    }
    let next = last_key.map(|key| cursor::encode(&keys, &tenant, list, &key));
    let entries = members
        .into_iter()
        .map(|user| if staff_view { MemberEntry::Member(user.into()) } else { MemberEntry::Staff(user.into()) })
        .collect();
    Ok(ApiResponse::page(entries, next))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    role: Role,
}

/// The member an admin acts on, in the admin's own organization. Only a
/// missing member is a 404; a failing read stays a 500.
async fn target(state: &AppState, principal: &Principal, user_id: &UserId) -> AppResult<(Tenant, User)> {
    principal.require_role(&[Role::Admin])?;
    let tenant = Tenant::of(principal);
    let member = users::find_active(&state.db, &tenant, user_id).await.map_err(|err| match err {
        Error::NotFound(_) => AppError::not_found("member"),
        other => other.into(),
    })?;
    Ok((tenant, member))
}

/// Gives a member another role. The last admin cannot be demoted. The API
/// keys a demoted admin made keep only what the new role may do (a teacher:
/// no `admin` scope) or, for a student or parent, are revoked.
#[utoipa::path(
    patch,
    path = "/api/v1/organizations/current/members/{user_id}",
    tag = "organizations",
    params(("user_id" = String, Path, description = "The member's user id")),
    request_body = RoleChange,
    responses(
        (status = 200, description = "The member with the new role", body = Success<UserView>),
        JsonBodyErrors,
        Change,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin"])))
)]
pub async fn change_role(
    State(state): State<AppState>,
    Caller(principal, _): Caller,
    PathId(user_id): PathId<UserId>,
    Json(change): Json<RoleChange>,
) -> AppResult<ApiResponse<UserView>> {
    // Granting a role makes a principal that outlives any key: people only.
    principal.require_user()?;
    let (tenant, mut member) = target(&state, &principal, &user_id).await?;
    if member.role == change.role {
        return Ok(ApiResponse::ok(member.into()));
    }
    let from = member.role;
    let now = state.now();
    // Their API keys follow them down in the same transaction.
    let (keys, key_writes) =
        api_keys::follow_maker(&state.db, &tenant, &member, Some(change.role), &principal.user_id, now).await?;
    let mut changes = Changes::new()
        .set(field::ROLE, &change.role)
        .set(field::DIRECTORY, &directory::of(&tenant, change.role))
        .set(field::API_KEYS, &keys);
    // A first time as a student starts their cohort today; active this
    // week already, they are active in its first week.
    let today = Day::of(now);
    let new_student = change.role == Role::Student && member.student_since.is_none();
    if new_student {
        changes = changes.set(field::STUDENT_SINCE, &today);
    }
    let mut writes =
        vec![Write::Update(state.db.patch_update(&tenant, &member, None, &principal.user_id, now, changes)?)];
    writes.extend(membership::admin_count_change(&state, &tenant, from, Some(change.role))?);
    writes.extend(key_writes);
    let mut moved = vec![(Total::Members(from), -1), (Total::Members(change.role), 1)];
    if from == Role::Student {
        moved.extend(counters::student_consents(&member, -1));
    } else if change.role == Role::Student {
        moved.extend(counters::student_consents(&member, 1));
    }
    writes.push(counters::total(&state, &tenant, &member.id, &moved)?);
    if new_student {
        let mut joined = vec![(Counter::StudentsJoined, 1)];
        if member.last_active_day.is_some_and(|day| day.week_start() == today.week_start()) {
            joined.push((Counter::CohortWeek(0), 1));
        }
        writes.push(counters::count(&state, &tenant, &member.id, &joined)?);
        member.student_since = Some(today);
    }
    let entry = audit::by(&state, &principal, Action::MemberRoleChanged)
        .target(Target::user(&member.id))
        .changes(json!({"role": from}), json!({"role": change.role}));
    writes.push(audit_log::put(&state, &tenant, &entry)?);
    state.db.transact(writes).await.map_err(membership::last_admin)?;
    member.role = change.role;
    tracing::info!(member_id = %member.id, %from, to = %change.role, "member role changed");
    Ok(ApiResponse::ok(member.into()))
}

#[utoipa::path(
    delete,
    path = "/api/v1/organizations/current/members/{user_id}",
    tag = "organizations",
    params(("user_id" = String, Path, description = "The member's user id")),
    responses(
        (status = 204, description = "Removed and signed out"),
        ReadListOf,
        (status = 409, response = Conflict),
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin"])))
)]
/// Removes a member: the user is kept, marked deleted, for the audit trail;
/// their email and username are freed, their sessions end and the API keys
/// they made are revoked.
pub async fn remove(
    State(state): State<AppState>,
    Caller(principal, _): Caller,
    PathId(user_id): PathId<UserId>,
) -> AppResult<StatusCode> {
    let (tenant, member) = target(&state, &principal, &user_id).await?;
    let mut writes = membership::removal(&state, &tenant, &member, &principal.user_id, |changes| changes).await?;
    let entry = audit::by(&state, &principal, Action::MemberRemoved)
        .target(Target::user(&member.id))
        .changes(json!({"role": member.role}), json!(null));
    writes.push(audit_log::put(&state, &tenant, &entry)?);
    state.db.transact(writes).await.map_err(membership::last_admin)?;
    // The member can no longer act (the authorizer reads their user item);
    // what is left is their place in classes and families. Removing them
    // again would be a 404, so a failure here is logged, not returned.
    if let Err(err) = membership::leave(&state, &tenant, &member.id).await {
        tracing::error!(error = %err, member_id = %member.id, "removed member's roster entries and links not all removed");
    }
    tracing::info!(member_id = %member.id, "member removed");
    Ok(StatusCode::NO_CONTENT)
}
