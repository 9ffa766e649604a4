//! Consent a school records for a member's data: COPPA (verifiable parental
//! consent for a child under 13), FERPA (disclosure of education records)
//! and the GDPR. Each decision is kept as a record that is never changed
//! (the history); the member's latest decision of each kind is also kept on
//! their user item, for the totals and for a quick answer.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{Error, Result};
use crate::ids::UserId;
use crate::principal::{Principal, Role};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentType {
    Coppa,
    Ferpa,
    Gdpr,
}

impl ConsentType {
    pub const ALL: [ConsentType; 3] = [ConsentType::Coppa, ConsentType::Ferpa, ConsentType::Gdpr];
}

/// A member's latest decision of one kind, on their user item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentState {
    pub granted: bool,
    pub recorded_at: String,
}

/// One recorded decision: written once, never changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Consent {
    /// A ULID: a member's decisions sort by it in time.
    pub id: String,
    pub user_id: UserId,
    #[serde(rename = "type")]
    pub kind: ConsentType,
    pub granted: bool,
    pub recorded_at: String,
    /// The member who recorded it: an admin, a linked parent, or the member.
    pub recorded_by: UserId,
}

/// Who may record `kind` for `subject`: an admin for anyone; a parent for
/// a child linked to them (`linked`: the caller is `subject`'s parent);
/// anyone for themselves, but COPPA, which only an adult responsible for
/// the child gives.
pub fn may_record(principal: &Principal, subject: &UserId, kind: ConsentType, linked: bool) -> Result<()> {
    if principal.role == Role::Admin || linked {
        return Ok(());
    }
    if principal.user_id == *subject {
        return match kind {
            ConsentType::Coppa => Err(Error::Forbidden("COPPA consent is given by an admin or a linked parent".into())),
            _ => Ok(()),
        };
    }
    Err(Error::Forbidden("consent is recorded by an admin, a linked parent or the member".into()))
}
