//! Sessions: one refresh-token family per login, at
//! `ORG#<org>#USER#<user> / SESSION#<session>`. The stored hash is of the only
//! refresh token of the family that may still be used. Which sessions a
//! user may still use is kept on the user item (`User::sessions`), which the
//! authorizer reads anyway: ending one session, or all of them, is one write.

use aws_sdk_dynamodb::types::Update;
use time::OffsetDateTime;

use domain::clock::rfc3339;
use domain::ids::{SessionId, UserId};
use domain::session::Session;
use domain::tenancy::Tenant;
use domain::user::User;

use crate::db::{Db, DbError, Write, number, string};

/// How many sessions one user may hold at once: signing in once more ends
/// the oldest.
pub const MAX_PER_USER: usize = 10;

/// The update of `user` that admits `session` among their live sessions:
/// expired ones are dropped and, at [`MAX_PER_USER`], the oldest ends. It
/// holds only while the password is still the one the sign-in checked and
/// the user is not removed (a sign-in with the old password that commits
/// after a password change would otherwise outlive it), while the sessions
/// it drops are still there, and while no more sessions have been added
/// than leave room, so sign-ins at the same moment never pass the cap: a
/// loser reads again.
pub fn admit(db: &Db, tenant: &Tenant, user: &User, session: &Session, now_epoch: i64) -> Result<Update, DbError> {
    let (expired, live): (Vec<_>, Vec<_>) = user.sessions.iter().partition(|(_, expires)| **expires <= now_epoch);
    // Session ids are ULIDs: in id order, the oldest first.
    let over = (live.len() + 1).saturating_sub(MAX_PER_USER);
    let evicted: Vec<String> = expired.iter().chain(live.iter().take(over)).map(|(id, _)| id.to_string()).collect();
    // With every evicted entry still there, the count after this update is
    // the count at commit less the evicted plus one: at most the cap.
    let room = MAX_PER_USER - 1 + evicted.len();
    let mut names: Vec<(String, String)> =
        vec![("#sessions".into(), "sessions".into()), ("#new".into(), session.session_id.to_string())];
    let mut removes = Vec::new();
    let mut condition =
        "password_hash = :verified AND attribute_not_exists(deleted_at) AND size(#sessions) <= :room".to_owned();
    for (index, id) in evicted.into_iter().enumerate() {
        names.push((format!("#e{index}"), id));
        removes.push(format!("#sessions.#e{index}"));
        condition.push_str(&format!(" AND attribute_exists(#sessions.#e{index})"));
    }
    let mut expression = "SET #sessions.#new = :expires".to_owned();
    if !removes.is_empty() {
        expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
    }
    let names: Vec<(&str, &str)> = names.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    db.update(
        &tenant.user(&user.id),
        &expression,
        Some(&condition),
        &names,
        vec![
            (":expires", number(session.expires_at)),
            (":room", number(room)),
            (":verified", string(&user.password_hash)),
        ],
    )
}

/// Ends one session: its refresh family is revoked (presenting one of its
/// tokens again is refused) and it leaves the user's live sessions (its
/// access tokens are refused at once). A session already ended stays ended.
pub async fn end(
    db: &Db,
    tenant: &Tenant,
    user: &UserId,
    session: &SessionId,
    reason: &str,
    now: OffsetDateTime,
) -> Result<(), DbError> {
    let revoke = db.update(
        &tenant.session(user, session),
        "SET revoked_at = if_not_exists(revoked_at, :now), revoked_reason = if_not_exists(revoked_reason, :reason)",
        Some("attribute_exists(pk)"),
        &[],
        vec![(":now", string(rfc3339(now))), (":reason", string(reason))],
    )?;
    let leave = db.update(
        &tenant.user(user),
        "REMOVE #sessions.#session",
        Some("attribute_exists(pk)"),
        &[("#sessions", "sessions"), ("#session", &session.to_string())],
        vec![],
    )?;
    match db.transact(vec![Write::Update(revoke), Write::Update(leave)]).await {
        // No such session (or user): nothing to end.
        Ok(()) => Ok(()),
        Err(DbError::Cancelled { failed }) if !failed.is_empty() => Ok(()),
        Err(err) => Err(err),
    }
}
