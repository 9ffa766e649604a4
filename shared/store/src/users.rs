//! Reading users.

use domain::error::Error;
use domain::ids::UserId;
use domain::tenancy::Tenant;
use domain::user::User;

use crate::db::Db;

/// An active user of the tenant, or 404: a removed user and another tenant's
/// id look the same.
pub async fn find_active(db: &Db, tenant: &Tenant, user_id: &UserId) -> Result<User, Error> {
    db.get::<User>(&tenant.user(user_id)).await?.filter(User::is_active).ok_or_else(|| Error::not_found("user"))
}
