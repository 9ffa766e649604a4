//! The user item: `ORG#<org>#USER#<user> / USER#<user>`, at the head of
//! the user's partition, with global lookups by email and username
//! pointing at it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::audit::Audit;
use crate::consent::{ConsentState, ConsentType};
use crate::day::Day;
use crate::fields::{Email, PersonName, Username};
use crate::ids::{ApiKeyId, OrgId, PrivacyJobId, SessionId, UserId};
use crate::principal::Role;
use crate::record::Record;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub org_id: OrgId,
    #[serde(with = "crate::sealed")]
    pub email: Email,
    #[serde(default, with = "crate::sealed::optional", skip_serializing_if = "Option::is_none")]
    pub username: Option<Username>,
    #[serde(with = "crate::sealed")]
    pub first_name: PersonName,
    #[serde(with = "crate::sealed")]
    pub last_name: PersonName,
    pub role: Role,
    pub password_hash: String,
    /// The sessions that may still be used, each with when it expires (epoch
    /// seconds). The authorizer and refresh admit a session only if it is
    /// here, so ending every session is one write of this map.
    #[serde(default)]
    pub sessions: BTreeMap<SessionId, i64>,
    /// The API keys this user made that are not revoked, each with its
    /// prefix: a key never has more authority than its maker has now, so a
    /// demotion or removal changes these in the same transaction.
    #[serde(default)]
    pub api_keys: BTreeMap<ApiKeyId, String>,
    /// The last UTC day they were counted active on (`store::activity::seen`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_active_day: Option<Day>,
    /// The UTC day they became a student (signed up as one, or were made
    /// one): their cohort, for `GET /analytics/cohorts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub student_since: Option<Day>,
    /// Their latest consent decision of each kind (`crate::consent`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub consents: BTreeMap<ConsentType, ConsentState>,
    /// The erasure under way, once an admin asked for one: the member is
    /// signed out and disabled, and no second erasure or export starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erasure_id: Option<PrivacyJobId>,
    /// `gsi1`: the member directory of the user's standing (see [`directory`]).
    pub gsi1pk: String,
    pub gsi1sk: String,
    #[serde(flatten)]
    pub audit: Audit,
}

crate::record!(User, UserId, "user", user);

/// The fields a change to a user names.
pub mod field {
    use std::collections::BTreeMap;

    use super::{ApiKeyId, ConsentState, ConsentType, Day, PrivacyJobId, Role, SessionId, User};
    use crate::record::Field;

    pub const ROLE: Field<User, Role> = Field::new("role");
    pub const PASSWORD_HASH: Field<User, str> = Field::new("password_hash");
    pub const SESSIONS: Field<User, BTreeMap<SessionId, i64>> = Field::new("sessions");
    pub const API_KEYS: Field<User, BTreeMap<ApiKeyId, String>> = Field::new("api_keys");
    /// The member directory the user is filed in (see [`super::directory`]).
    pub const DIRECTORY: Field<User, str> = Field::new("gsi1pk");
    pub const LAST_ACTIVE_DAY: Field<User, Day> = Field::new("last_active_day");
    pub const STUDENT_SINCE: Field<User, Day> = Field::new("student_since");
    pub const CONSENTS: Field<User, BTreeMap<ConsentType, ConsentState>> = Field::new("consents");
    pub const ERASURE_ID: Field<User, PrivacyJobId> = Field::new("erasure_id");
}

impl User {
    pub fn is_active(&self) -> bool {
        self.is_live()
    }

    /// True while `session` may be used: it is one of the user's live
    /// sessions and has not expired.
    pub fn admits(&self, session: &SessionId, now_epoch: i64) -> bool {
        self.sessions.get(session).is_some_and(|expires| *expires > now_epoch)
    }

    /// The kinds of consent the member's latest decisions grant.
    pub fn consents_granted(&self) -> impl Iterator<Item = ConsentType> + '_ {
        self.consents.iter().filter(|(_, state)| state.granted).map(|(kind, _)| *kind)
    }

    /// How many of the user's sessions have not expired.
    pub fn live_sessions(&self, now_epoch: i64) -> usize {
        self.sessions.values().filter(|expires| **expires > now_epoch).count()
    }
}

/// Who sees whom in the member list: staff see everyone; students and
/// parents see only the staff. `gsi1` files each member under their standing.
pub mod directory {
    use crate::principal::Role;
    use crate::tenancy::Tenant;

    pub const STAFF: &str = "staff";
    pub const OTHERS: &str = "others";
    pub const REMOVED: &str = "removed";

    /// `gsi1pk` of a member with `role`.
    pub fn of(tenant: &Tenant, role: Role) -> String {
        tenant.members_by_standing(if role.is_staff() { STAFF } else { OTHERS })
    }

    /// `gsi1pk` of a removed member: in no list.
    pub fn removed(tenant: &Tenant) -> String {
        tenant.members_by_standing(REMOVED)
    }
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

/// How one member sees another in a staff directory: name and role only.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DirectoryEntry {
    pub id: UserId,
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub role: Role,
}

impl From<User> for DirectoryEntry {
    fn from(user: User) -> Self {
        Self { id: user.id, first_name: user.first_name, last_name: user.last_name, role: user.role }
    }
}
