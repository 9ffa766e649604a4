//! `POST /auth/register`: a new organisation with its first admin, or joining
//! one with an invite token as the invited role.

use std::collections::BTreeMap;

use axum::extract::State;
use credentials::password;
use domain::audit::Audit;
use domain::audit_log::{Action, Actor, Target};
use domain::clock::rfc3339;
use domain::day::Day;
use domain::error::FieldError;
use domain::fields::{Email, OrgName, Password, PersonName, Username};
use domain::ids::UserId;
use domain::invite::{self, Invite};
use domain::json::present;
use domain::organization::{self, OrgSettings, OrgStatus, Organization, Tier};
use domain::principal::Role;
use domain::tenancy::{Lookup, Tenant, global};
use domain::user::{self, User, directory};
use integrations::usage_plans::UsagePlans;
use serde::Deserialize;
use serde_json::json;
use store::AppState;
use store::audit_log;
use store::blind_index;
use store::counters::{self, Counter, Total};
use store::db::{DbError, Write};
use store::records::{Changes, Condition};
use store::secret::sha256_hex;
use utoipa::ToSchema;
use web::audit;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::json::Json;
use web::openapi::*;

use crate::tokens::{AuthResponse, new_session, respond, session_write};

// No Debug: the invite token is a secret. Parsed flat, so a wrong field is
// named in the 422; documented as `RegisterBody`, one of its two shapes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    email: Email,
    password: Password,
    #[serde(default, deserialize_with = "present")]
    username: Option<Username>,
    first_name: PersonName,
    last_name: PersonName,
    #[serde(default, deserialize_with = "present")]
    organization_name: Option<OrgName>,
    #[serde(default, deserialize_with = "present")]
    invite_token: Option<String>,
}

/// Registration, as the OpenAPI document describes it: exactly one of a new
/// organization or an invite.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // a description; requests parse as `RegisterRequest`
pub enum RegisterBody {
    NewOrganization(NewOrganization),
    JoinWithInvite(JoinWithInvite),
}

/// A new organization, with the caller as its first admin.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct NewOrganization {
    email: Email,
    password: Password,
    #[serde(default)]
    #[schema(nullable = false)]
    username: Option<Username>,
    first_name: PersonName,
    last_name: PersonName,
    organization_name: OrgName,
}

/// Joining an organization as the role an admin invited the email to.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct JoinWithInvite {
    email: Email,
    password: Password,
    #[serde(default)]
    #[schema(nullable = false)]
    username: Option<Username>,
    first_name: PersonName,
    last_name: PersonName,
    #[schema(pattern = "^inv_[0-9a-f]{64}$")]
    invite_token: String,
}

/// Registers a new organization with its first admin (`organization_name`),
/// or joins one as the invited role (`invite_token`).
#[utoipa::path(
    post,
    path = "/api/v1/auth/register",
    tag = "auth",
    request_body = RegisterBody,
    responses(
        (status = 201, description = "Registered and signed in", body = Success<AuthResponse>),
        JsonBodyErrors,
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 503, response = Unavailable),
    ),
    security(())
)]
pub async fn register(
    State(state): State<AppState>,
    Json(req): Json<RegisterRequest>,
) -> AppResult<ApiResponse<AuthResponse>> {
    let keys = state.key_set().await?;
    let response = match (req.organization_name.clone(), req.invite_token.clone()) {
        (Some(name), None) => create_organization(&state, req, name).await?,
        (None, Some(token)) => join_with_invite(&state, req, &token).await?,
        _ => {
            return Err(AppError::Validation(vec![FieldError::new(
                "organization_name",
                "give exactly one of organization_name (a new organization) or invite_token (joining one)",
            )]));
        }
    };
    let (user, refresh) = response;
    Ok(ApiResponse::created(respond(&state, &keys, user, &refresh)).no_store())
}

fn new_user(state: &AppState, tenant: &Tenant, req: &RegisterRequest, role: Role, password_hash: String) -> User {
    let id = UserId::new();
    User {
        gsi1sk: tenant.user(&id).sk,
        audit: Audit::new(&id, state.now()),
        id,
        org_id: tenant.org_id().clone(),
        email: req.email.clone(),
        username: req.username.clone(),
        first_name: req.first_name.clone(),
        last_name: req.last_name.clone(),
        role,
        password_hash,
        sessions: BTreeMap::new(),
        api_keys: BTreeMap::new(),
        // Signing up is their first activity.
        last_active_day: Some(Day::of(state.now())),
        student_since: (role == Role::Student).then(|| Day::of(state.now())),
        consents: BTreeMap::new(),
        erasure_id: None,
        gsi1pk: directory::of(tenant, role),
    }
}

/// The user item and the lookups that make its email and username unique,
/// with the dashboard's counts of them (a member joined, active today).
/// Returns the writes and the index of each lookup, to name a conflict.
async fn user_writes(state: &AppState, tenant: &Tenant, user: &User) -> AppResult<(Vec<Write>, usize, Option<usize>)> {
    let pointer =
        Lookup { org_id: user.org_id.clone(), user_id: Some(user.id.clone()), invite_id: None, expires_at: None };
    let mut writes = vec![
        Write::Put(state.db.put_new(&tenant.user(&user.id), user)?),
        Write::Put(state.db.put_new(&blind_index::email(state, &user.email).await?, &pointer)?),
    ];
    let email_index = 1;
    let username_index = match &user.username {
        Some(username) => {
            let lookup = blind_index::username(state, username).await?;
            writes.push(Write::Put(state.db.put_new(&lookup, &pointer)?));
            Some(writes.len() - 1)
        }
        None => None,
    };
    let mut joined = vec![Counter::MembersJoined, Counter::ActiveUsers, Counter::WeeklyActive, Counter::MonthlyActive];
    if user.student_since.is_some() {
        // A new student's cohort, active in its first week.
        joined.extend([Counter::StudentsJoined, Counter::CohortWeek(0)]);
    }
    let joined: Vec<(Counter, i64)> = joined.into_iter().map(|counter| (counter, 1)).collect();
    writes.push(counters::count(state, tenant, &user.id, &joined)?);
    writes.push(counters::total(state, tenant, &user.id, &[(Total::Members(user.role), 1)])?);
    Ok((writes, email_index, username_index))
}

fn taken(err: DbError, offset: usize, email_index: usize, username_index: Option<usize>) -> AppError {
    match &err {
        DbError::Cancelled { failed } if failed.contains(&(offset + email_index)) => {
            AppError::Conflict("an account with this email already exists".into())
        }
        DbError::Cancelled { failed } if username_index.is_some_and(|i| failed.contains(&(offset + i))) => {
            AppError::Conflict("this username is taken".into())
        }
        _ => err.into(),
    }
}

async fn create_organization(
    state: &AppState,
    req: RegisterRequest,
    name: OrgName,
) -> AppResult<(User, credentials::refresh::RefreshToken)> {
    // Checked before the organisation's usage key is made, so a repeated
    // sign-up costs no API Gateway calls; the transaction still decides races.
    if state.db.get::<Lookup>(&blind_index::email(state, &req.email).await?).await?.is_some() {
        return Err(AppError::Conflict("an account with this email already exists".into()));
    }
    let password_hash = password::hash(req.password.expose().to_owned()).await?;
    let tenant = Tenant::for_new_organization();
    // The new tenant's data key, made now: its admin's name and email are sealed with it.
    state.db.sealing(&tenant).await?;
    let mut user = new_user(state, &tenant, &req, Role::Admin, password_hash);
    let tier = Tier::Free;
    let usage_key = UsagePlans::of(state).issue_key(tenant.org_id(), tier).await?;
    let org = Organization {
        id: tenant.org_id().clone(),
        name,
        status: OrgStatus::Active,
        tier,
        usage_key: Some(usage_key.clone()),
        settings: OrgSettings::default(),
        billing_status: Default::default(),
        admin_count: 1,
        audit: Audit::new(&user.id, state.now()),
    };
    let (session, refresh) = new_session(state, &user);
    user.sessions.insert(session.session_id.clone(), session.expires_at);
    let mut writes = vec![Write::Put(state.db.put_new(&tenant.organization(), &org)?)];
    let (user_writes, email_index, username_index) = user_writes(state, &tenant, &user).await?;
    writes.extend(user_writes);
    writes.push(session_write(state, &tenant, &session)?);
    if let Err(err) = state.db.transact(writes).await {
        UsagePlans::of(state).delete_key(&usage_key).await;
        return Err(taken(err, 1, email_index, username_index));
    }
    tracing::info!(org_id = %org.id, user_id = %user.id, "organization registered");
    Ok((user, refresh))
}

fn no_invite() -> AppError {
    AppError::NotFound("no such invite".into())
}

async fn join_with_invite(
    state: &AppState,
    req: RegisterRequest,
    token: &str,
) -> AppResult<(User, credentials::refresh::RefreshToken)> {
    let token_hash = sha256_hex(token.trim().as_bytes());
    let lookup: Lookup = state.db.get(&global::invite_token(&token_hash)).await?.ok_or_else(no_invite)?;
    let tenant = Tenant::of_lookup(&lookup);
    let invite_id = lookup.invite_id.ok_or_else(no_invite)?;
    let items = state.db.batch_get(&[tenant.invite(&invite_id), tenant.organization()]).await?;
    let [invite, org] = <[_; 2]>::try_from(items).map_err(|_| AppError::internal("batch get shape"))?;
    let invite: Invite = store::db::Db::decode(invite.ok_or_else(no_invite)?)?;
    if invite.deleted_at.is_some() {
        return Err(no_invite());
    }
    let org: Organization = store::db::Db::decode(org.ok_or_else(no_invite)?)?;
    let now = state.now();
    if invite.used_at.is_some() {
        return Err(AppError::Conflict("the invite has already been used".into()));
    }
    if invite.expires_at <= now.unix_timestamp() {
        return Err(AppError::Conflict("the invite has expired".into()));
    }
    if invite.email != req.email {
        return Err(AppError::Forbidden("the invite was sent to another email address".into()));
    }
    if org.status == OrgStatus::Suspended {
        return Err(AppError::Forbidden("the organization is suspended".into()));
    }

    let password_hash = password::hash(req.password.expose().to_owned()).await?;
    state.db.sealing(&tenant).await?;
    let mut user = new_user(state, &tenant, &req, invite.role, password_hash);
    let (session, refresh) = new_session(state, &user);
    user.sessions.insert(session.session_id.clone(), session.expires_at);
    let db = &state.db;
    // The invite is spent in the same transaction that creates the user, on
    // the condition that nobody spent or withdrew it first: single use, even
    // in a race.
    let mut writes = vec![
        Write::Update(
            db.update_with(
                &tenant.invite(&invite.id),
                Changes::new().set(invite::field::USED_AT, &rfc3339(now)).set(invite::field::USED_BY, &user.id).when(
                    Condition::live()
                        .and(Condition::absent(invite::field::USED_AT))
                        .and(Condition::above(invite::field::EXPIRES_AT, &now.unix_timestamp())),
                ),
            )?,
        ),
        Write::Delete(db.delete(&global::invite_token(&token_hash))?),
        // An invite is only as good as its sender: one sent by an admin who
        // has since been demoted or removed no longer admits anyone.
        Write::Check(db.check(
            &tenant.user(&invite.created_by),
            Condition::live().and(Condition::equals(user::field::ROLE, &Role::Admin)),
        )?),
    ];
    if invite.role == Role::Admin {
        writes.push(Write::Update(db.update_with(
            &tenant.organization(),
            Changes::new().add(organization::field::ADMIN_COUNT, 1).when(Condition::exists()),
        )?));
    }
    let offset = writes.len();
    let (user_writes, email_index, username_index) = user_writes(state, &tenant, &user).await?;
    writes.extend(user_writes);
    writes.push(session_write(state, &tenant, &session)?);
    let entry = audit::entry(state, Action::InviteAccepted, Actor::user(&user.id))
        .target(Target::invite(&invite.id))
        .target(Target::user(&user.id))
        .changes(json!(null), json!({"role": invite.role}));
    writes.push(audit_log::put(state, &tenant, &entry)?);
    db.transact(writes).await.map_err(|err| match &err {
        DbError::Cancelled { failed } if failed.contains(&0) => {
            AppError::Conflict("the invite has been used or withdrawn".into())
        }
        DbError::Cancelled { failed } if failed.contains(&2) => {
            AppError::Conflict("the invite is no longer valid".into())
        }
        _ => taken(err, offset, email_index, username_index),
    })?;
    tracing::info!(user_id = %user.id, invite_id = %invite.id, "joined with invite");
    Ok((user, refresh))
}
