//! The user item: `ORG#<org> / USER#<user>`, with global lookups by email
//! and username pointing at it.

use serde::{Deserialize, Serialize};

use crate::db::Db;
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
}

/// A user as the API shows it: never the hash, never the lockout state.
#[derive(Debug, Clone, Serialize)]
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
