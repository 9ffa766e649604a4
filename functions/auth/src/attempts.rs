//! Wrong passwords in the audit log. A failure changes nothing of the
//! account's, so its entry is a write of its own; one that could not be
//! written is logged and the caller still gets their answer.

use domain::audit_log::{Action, Actor, Target};
use domain::ids::UserId;
use domain::tenancy::Tenant;
use store::AppState;
use store::audit_log;
use web::audit;

/// A wrong password for `user`'s account, and the lockout it caused, if any.
pub async fn wrong_password(state: &AppState, tenant: &Tenant, user: &UserId, actor: Actor, locked_out: bool) {
    let mut actions = vec![Action::LoginFailed];
    if locked_out {
        actions.push(Action::LoginLockedOut);
    }
    for action in actions {
        let entry = audit::entry(state, action, actor.clone()).target(Target::user(user));
        if let Err(err) = audit_log::record(state, tenant, &entry).await {
            tracing::error!(error = %err, action = %action.as_str(), "audit entry not written");
        }
    }
}
