//! `POST /auth/login` by email or username. Unknown accounts and wrong
//! passwords get the same answer in the same time; repeated failures lock
//! the account for a while (`credentials::lockout`), from the address
//! they came from or, after far more, from everywhere.

use std::net::IpAddr;

use axum::extract::State;
use credentials::lockout::{self, Guard, Verdict};
use domain::audit_log::{Action, Actor, Target};
use domain::fields::{Email, Password, Username};
use domain::json::present;
use domain::organization::{OrgStatus, Organization};
use domain::tenancy::{Lookup, Tenant};
use domain::user::User;
use serde::Deserialize;
use store::AppState;
use store::audit_log;
use store::blind_index;
use store::db::{Db, DbError, Item, Write};
use store::sessions;
use store::users;
use utoipa::ToSchema;
use web::audit;
use web::client_ip::ClientIp;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::json::Json;
use web::openapi::*;

use crate::attempts;
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

/// How many times a sign-in is tried when sign-ins of the same user at the
/// same moment, at their cap of sessions, end the same oldest session (a
/// class sharing one account, say): each try one more of them wins.
const SESSION_RACES: usize = 12;

/// Signs in with an email or a username; each login is a new session.
/// Wrong passwords lock the account for the address they came from after
/// `LOGIN_MAX_FAILURES`, and for everyone after `LOGIN_MAX_ACCOUNT_FAILURES`.
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
    ClientIp(source): ClientIp,
    Json(req): Json<LoginRequest>,
) -> AppResult<ApiResponse<AuthResponse>> {
    // Found, and counted when it names no account, by its blind index:
    // neither the lookup nor the failure counter holds the address.
    let lookup_key = match (&req.email, &req.username) {
        (Some(email), None) => blind_index::email(&state, email).await?,
        (None, Some(username)) => blind_index::username(&state, username).await?,
        _ => return Err(AppError::invalid("email", "give exactly one of email or username")),
    };
    let identifier = lookup_key.pk.clone();
    let keys = state.key_set().await?;
    let now = state.now();
    let lookup = state.db.get::<Lookup>(&lookup_key).await?;
    let sign_in = SignIn::load(&state, lookup.as_ref(), &identifier, source).await?;
    let stored_hash = sign_in.account.as_ref().map(|(_, user, _)| user.password_hash.clone());
    let password = req.password.expose().to_owned();
    let checked = sign_in.guard.check(&state.db, &state.config, now, &sign_in.counters, password, stored_hash).await?;
    let (reserved, (tenant, mut user, org)) = match (checked, sign_in.account) {
        (Verdict::Right(reserved), Some(account)) => (reserved, account),
        (Verdict::Wrong { locked_out }, Some((tenant, user, _))) => {
            attempts::wrong_password(&state, &tenant, &user.id, Actor::anonymous(), locked_out).await;
            return Err(invalid_credentials());
        }
        _ => return Err(invalid_credentials()),
    };
    if org.status == OrgStatus::Suspended {
        return Err(AppError::Forbidden("the organization is suspended".into()));
    }
    integrations::usage_plans::ensure_usage_key(&state, &tenant, &org).await?;
    let (session, refresh) = new_session(&state, &user);
    let [account, from_source] = reserved.succeeded(&state.db, now)?;
    let signed_in = audit::entry(&state, Action::LoginSucceeded, Actor::user(&user.id)).target(Target::user(&user.id));
    for race in 1..=SESSION_RACES {
        let writes = vec![
            session_write(&state, &tenant, &session)?,
            Write::Update(sessions::admit(&state.db, &tenant, &user, &session, now.unix_timestamp())?),
            account.clone(),
            from_source.clone(),
            store::counters::count(&state, &tenant, &user.id, &[(store::counters::Counter::Logins, 1)])?,
            audit_log::put(&state, &tenant, &signed_in)?,
        ];
        match state.db.transact(writes).await {
            Ok(()) => {
                store::activity::seen(&state, &tenant, &user).await;
                return Ok(ApiResponse::ok(respond(&state, &keys, user, &refresh)).no_store());
            }
            Err(DbError::Cancelled { failed }) if failed.contains(&2) || failed.contains(&3) => {
                return Err(lockout::locked(state.config.login_lockout_seconds as u64).into());
            }
            Err(DbError::Cancelled { failed }) if failed == [1] && race < SESSION_RACES => {
                tokio::time::sleep(std::time::Duration::from_millis(u64::from(rand::random::<u8>() % 40))).await;
                let verified = std::mem::take(&mut user.password_hash);
                user = users::find_active(&state.db, &tenant, &user.id).await.map_err(|_| invalid_credentials())?;
                // The password changed since it was checked: this sign-in is of the old one.
                if user.password_hash != verified {
                    return Err(invalid_credentials());
                }
            }
            Err(err) => return Err(err.into()),
        }
    }
    Err(AppError::Conflict("the account's sessions kept changing; try again".into()))
}

/// What a sign-in attempt is judged on, read in one round trip: the
/// account the identifier names, if any, with its organisation, and the
/// two failure counters of the account (or of the identifier) and source.
struct SignIn {
    account: Option<(Tenant, User, Organization)>,
    guard: Guard,
    counters: Vec<Option<Item>>,
}

impl SignIn {
    async fn load(
        state: &AppState,
        lookup: Option<&Lookup>,
        identifier: &str,
        source: Option<IpAddr>,
    ) -> AppResult<Self> {
        let Some((lookup, user_id)) = lookup.and_then(|l| Some((l, l.user_id.as_ref()?))) else {
            let guard = Guard::for_identifier(identifier, source);
            let counters = state.db.batch_get(&guard.keys()).await?;
            return Ok(Self { account: None, guard, counters });
        };
        let tenant = Tenant::of_lookup(lookup);
        let guard = Guard::for_user(&lookup.org_id, user_id, source);
        let [account_counter, source_counter] = guard.keys();
        let mut items =
            state.db.batch_get(&[tenant.user(user_id), tenant.organization(), account_counter, source_counter]).await?;
        let counters = items.split_off(2);
        let [user, org] = <[_; 2]>::try_from(items).map_err(|_| AppError::internal("batch get shape"))?;
        let account = match (user, org) {
            (Some(user), Some(org)) => {
                let user: User = Db::decode(user)?;
                user.is_active().then_some(()).map(|()| Db::decode(org).map(|org| (tenant, user, org))).transpose()?
            }
            _ => None,
        };
        Ok(Self { account, guard, counters })
    }
}
