//! Invitations: `ORG#<org> / INVITE#<id>`, found from the token through the
//! global `INVITE#<sha256(token)>` lookup. The token itself is never stored.

use serde::{Deserialize, Serialize};

use crate::domain::fields::Email;
use crate::ids::{InviteId, OrgId, UserId};
use crate::principal::Role;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Invite {
    pub id: InviteId,
    pub org_id: OrgId,
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
}

/// Invite tokens carry a prefix so a leaked one is recognisable in a scanner.
pub const TOKEN_PREFIX: &str = "inv_";
