//! Sessions: one refresh-token family per login, at
//! `ORG#<org> / SESSION#<user>#<session>`. The stored hash is of the only
//! refresh token of the family that may still be used.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::clock::rfc3339;
use crate::db::{Db, DbError, s};
use crate::ids::{SessionId, UserId};
use crate::tenancy::Tenant;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub token_hash: String,
    /// Hashes of the family's last spent tokens, newest first. Presenting one
    /// of these is reuse and ends the family; any other wrong secret is just
    /// refused, so knowing a session id is not enough to log someone out.
    #[serde(default)]
    pub spent_hashes: Vec<String>,
    /// How many times the family has rotated.
    pub generation: u64,
    pub created_at: String,
    pub last_used_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_reason: Option<String>,
    /// Epoch seconds; the table's TTL removes the family after it.
    pub expires_at: i64,
}

/// How many spent token hashes a session remembers.
pub const SPENT_HASHES_KEPT: usize = 20;

impl Session {
    /// A fresh family whose only usable token has `token_hash`.
    pub fn start(
        user_id: UserId,
        session_id: SessionId,
        token_hash: String,
        now: OffsetDateTime,
        ttl_seconds: i64,
    ) -> Self {
        Self {
            user_id,
            session_id,
            token_hash,
            spent_hashes: Vec::new(),
            generation: 0,
            created_at: rfc3339(now),
            last_used_at: rfc3339(now),
            revoked_at: None,
            revoked_reason: None,
            expires_at: now.unix_timestamp() + ttl_seconds,
        }
    }

    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at > now.unix_timestamp()
    }
}

/// Revokes a session; a no-op for one already revoked.
pub async fn revoke(
    db: &Db,
    tenant: &Tenant,
    user: &UserId,
    session: &SessionId,
    reason: &str,
    now: OffsetDateTime,
) -> Result<(), DbError> {
    let update = db.update(
        &tenant.session(user, session),
        "SET revoked_at = :now, revoked_reason = :reason",
        Some("attribute_exists(pk) AND attribute_not_exists(revoked_at)"),
        &[],
        vec![(":now", s(rfc3339(now))), (":reason", s(reason))],
    )?;
    match db.run_update(update).await {
        Ok(_) | Err(DbError::ConditionFailed) => Ok(()),
        Err(err) => Err(err),
    }
}

/// Revokes every live session of a user but `keep` (the caller's own, when a
/// password change should not log out the device it was made on).
pub async fn revoke_all(
    db: &Db,
    tenant: &Tenant,
    user: &UserId,
    keep: Option<&SessionId>,
    reason: &str,
    now: OffsetDateTime,
) -> Result<usize, DbError> {
    let prefix = Tenant::sessions_of_prefix(user);
    let mut start = None;
    let mut revoked = 0;
    loop {
        let page = db.query_prefix::<Session>(&tenant.pk(), &prefix, 100, start, false).await?;
        for session in page.items.iter().filter(|s| s.revoked_at.is_none() && Some(&s.session_id) != keep) {
            revoke(db, tenant, user, &session.session_id, reason, now).await?;
            revoked += 1;
        }
        match page.last_key {
            Some(key) => start = Some(key),
            None => return Ok(revoked),
        }
    }
}
