//! Invitations: `ORG#<org>#INVITE#<id> / INVITE#<id>`, found from the token through the
//! global `INVITE#<sha256(token)>` lookup. The token itself is never stored.
//! Withdrawing an invite deletes the lookup (and marks the invite), so its
//! token leads nowhere. DynamoDB's TTL removes an invite after it expires.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::clock::rfc3339;
use crate::fields::Email;
use crate::ids::{InviteId, OrgId, UserId};
use crate::principal::Role;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Invite {
    pub id: InviteId,
    pub org_id: OrgId,
    #[serde(with = "crate::sealed")]
    pub email: Email,
    pub role: Role,
    pub token_hash: String,
    /// Epoch seconds.
    pub expires_at: i64,
    pub created_at: String,
    pub created_by: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_by: Option<UserId>,
    /// Withdrawn by an admin: its token admits nobody, and it is no longer listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_by: Option<UserId>,
}

/// The fields spending or withdrawing an invite names.
pub mod field {
    use super::Invite;
    use crate::ids::UserId;
    use crate::record::Field;

    pub const EXPIRES_AT: Field<Invite, i64> = Field::new("expires_at");
    pub const USED_AT: Field<Invite, str> = Field::new("used_at");
    pub const USED_BY: Field<Invite, UserId> = Field::new("used_by");
    pub const DELETED_AT: Field<Invite, str> = Field::new("deleted_at");
    pub const DELETED_BY: Field<Invite, UserId> = Field::new("deleted_by");
}

/// Where an invite stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InviteStatus {
    /// Its token still admits the invited email.
    Pending,
    Used,
    Expired,
}

impl Invite {
    /// When the invite expires, RFC 3339.
    pub fn expiry(&self) -> String {
        rfc3339(OffsetDateTime::from_unix_timestamp(self.expires_at).unwrap_or(OffsetDateTime::UNIX_EPOCH))
    }

    pub fn status(&self, now_epoch: i64) -> InviteStatus {
        if self.used_at.is_some() {
            InviteStatus::Used
        } else if self.expires_at <= now_epoch {
            InviteStatus::Expired
        } else {
            InviteStatus::Pending
        }
    }
}

/// Invite tokens carry a prefix so a leaked one is recognisable in a scanner.
pub const TOKEN_PREFIX: &str = "inv_";
