//! The user item: `ORG#<org> / USER#<user>`, with global lookups by email
//! and username pointing at it.

use serde::{Deserialize, Serialize};

use aws_sdk_dynamodb::types::Update;
use time::OffsetDateTime;

use crate::config::Config;
use crate::db::{Db, DbError, n};
use crate::domain::audit::Audit;
use crate::domain::fields::{Email, PersonName, Username};
use crate::error::AppError;
use crate::ids::{OrgId, UserId};
use crate::principal::Role;
use crate::tenancy::Tenant;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub org_id: OrgId,
    pub email: Email,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<Username>,
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub role: Role,
    pub password_hash: String,
    /// Failed logins since the last success or lockout.
    #[serde(default)]
    pub failed_logins: u64,
    /// Epoch seconds until which logins are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_until: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_by: Option<UserId>,
    #[serde(flatten)]
    pub audit: Audit,
}

impl User {
    pub fn is_active(&self) -> bool {
        self.deleted_at.is_none()
    }

    /// Seconds the account stays locked after repeated password failures.
    pub fn locked_for(&self, now: OffsetDateTime) -> Option<u64> {
        self.locked_until
            .filter(|until| *until > now.unix_timestamp())
            .map(|until| (until - now.unix_timestamp()) as u64)
    }
}

pub fn locked(retry_after_seconds: u64) -> AppError {
    AppError::RateLimited {
        message: "too many failed password attempts; the account is locked for a while".into(),
        retry_after_seconds,
        limit: None,
    }
}

/// Counts a wrong password atomically. The failure that reaches the limit
/// locks the account and bumps its version, so a password change already in
/// flight with a guessed password fails its version condition.
pub async fn record_password_failure(
    db: &Db,
    tenant: &Tenant,
    user: &UserId,
    config: &Config,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let key = tenant.user(user);
    let count = db.update(&key, "ADD failed_logins :one", Some("attribute_exists(pk)"), &[], vec![(":one", n(1))])?;
    let after = db.run_update(count).await?;
    let failures: i64 =
        after.get("failed_logins").and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).unwrap_or_default();
    if failures >= config.login_max_failures {
        let lock = db.update(
            &key,
            "SET locked_until = :until, failed_logins = :zero, #version = #version + :one",
            Some("attribute_exists(pk)"),
            &[("#version", "version")],
            vec![(":until", n(now.unix_timestamp() + config.login_lockout_seconds)), (":zero", n(0)), (":one", n(1))],
        )?;
        db.run_update(lock).await?;
        tracing::warn!(user_id = %user, "account locked after repeated password failures");
    }
    Ok(())
}

/// The write of a successful sign-in: failures forgotten, on the condition
/// that the account is not locked now. Requests that were already verifying a
/// password when the lock fell cannot slip through.
pub fn password_success(db: &Db, tenant: &Tenant, user: &UserId, now: OffsetDateTime) -> Result<Update, DbError> {
    db.update(
        &tenant.user(user),
        "SET failed_logins = :zero REMOVE locked_until",
        Some("attribute_exists(pk) AND (attribute_not_exists(locked_until) OR locked_until <= :now)"),
        &[],
        vec![(":zero", n(0)), (":now", n(now.unix_timestamp()))],
    )
}

/// A user as the API shows it: never the hash, never the lockout state.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: UserId,
    pub email: Email,
    pub username: Option<Username>,
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub role: Role,
    pub organization_id: OrgId,
    pub created_at: String,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            email: user.email,
            username: user.username,
            first_name: user.first_name,
            last_name: user.last_name,
            role: user.role,
            organization_id: user.org_id,
            created_at: user.audit.created_at,
        }
    }
}

/// An active user of the tenant, or 404: a removed user and another tenant's
/// id look the same.
pub async fn find_active(db: &Db, tenant: &Tenant, user_id: &UserId) -> Result<User, AppError> {
    db.get::<User>(&tenant.user(user_id)).await?.filter(User::is_active).ok_or_else(|| AppError::not_found("user"))
}
