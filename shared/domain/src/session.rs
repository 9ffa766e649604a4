//! Sessions: one refresh-token family per login, at
//! `ORG#<org>#USER#<user> / SESSION#<session>`. The stored hash is of the only
//! refresh token of the family that may still be used. Which sessions a
//! user may still use is kept on the user item (`User::sessions`), which the
//! authorizer reads anyway: ending one session, or all of them, is one write.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::clock::rfc3339;
use crate::ids::{SessionId, UserId};

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

/// The fields a rotation names.
pub mod field {
    use super::Session;
    use crate::record::Field;

    pub const TOKEN_HASH: Field<Session, str> = Field::new("token_hash");
    pub const SPENT_HASHES: Field<Session, [String]> = Field::new("spent_hashes");
    pub const GENERATION: Field<Session, u64> = Field::new("generation");
    pub const LAST_USED_AT: Field<Session, str> = Field::new("last_used_at");
    pub const REVOKED_AT: Field<Session, str> = Field::new("revoked_at");
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
