//! The audit log: who did what to whom, when and from where, for a school
//! to answer for its records (FERPA, COPPA, the GDPR). An entry is written
//! in the same transaction as the change it tells of, or on its own for a
//! sign-in, and is never changed after.
//!
//! Entries name people and things by id only: no names, emails, secrets or
//! passwords. Once a person is erased, their id is a pseudonym.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::clock::rfc3339;
use crate::ids::{ApiKeyId, InviteId, UserId};
use crate::principal::{AuthMethod, Principal};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
pub enum Action {
    #[serde(rename = "login.succeeded")]
    LoginSucceeded,
    /// A wrong password for a known account.
    #[serde(rename = "login.failed")]
    LoginFailed,
    /// Too many wrong passwords: sign-in refused for a while.
    #[serde(rename = "login.locked_out")]
    LoginLockedOut,
    #[serde(rename = "password.changed")]
    PasswordChanged,
    #[serde(rename = "member.role_changed")]
    MemberRoleChanged,
    #[serde(rename = "member.removed")]
    MemberRemoved,
    #[serde(rename = "invite.created")]
    InviteCreated,
    /// Someone registered with the invite.
    #[serde(rename = "invite.accepted")]
    InviteAccepted,
    #[serde(rename = "invite.withdrawn")]
    InviteWithdrawn,
    #[serde(rename = "guardian.linked")]
    GuardianLinked,
    #[serde(rename = "guardian.unlinked")]
    GuardianUnlinked,
    #[serde(rename = "api_key.created")]
    ApiKeyCreated,
    #[serde(rename = "api_key.rotated")]
    ApiKeyRotated,
    #[serde(rename = "api_key.revoked")]
    ApiKeyRevoked,
    #[serde(rename = "organization.updated")]
    OrganizationUpdated,
    /// A verified payment event moved the organization to another tier.
    #[serde(rename = "billing.tier_changed")]
    TierChanged,
    #[serde(rename = "consent.recorded")]
    ConsentRecorded,
    #[serde(rename = "export.requested")]
    ExportRequested,
    /// The worker wrote an export's bundle.
    #[serde(rename = "export.completed")]
    ExportCompleted,
    /// A member disabled and signed out, their erasure queued.
    #[serde(rename = "erasure.requested")]
    ErasureRequested,
    /// The worker deleted the last of a member's data.
    #[serde(rename = "erasure.completed")]
    ErasureCompleted,
    /// Someone read the audit log.
    #[serde(rename = "audit_log.read")]
    AuditLogRead,
}

impl std::str::FromStr for Action {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        serde_json::from_value(serde_json::Value::String(s.to_owned()))
            .map_err(|_| format!("`{s}` is not an audited action"))
    }
}

impl Action {
    pub fn as_str(self) -> String {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(name)) => name,
            _ => unreachable!("an action serializes as a string"),
        }
    }
}

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorType {
    /// A signed-in member (`id`: their user id).
    User,
    /// An API key (`id`: the key's id).
    ApiKey,
    /// Nobody signed in (a failed sign-in; `id` is null).
    Anonymous,
    /// The payment provider, through a verified webhook (`id`: its event id).
    PaymentProvider,
    /// The platform itself, finishing a job (`id`: the job's id).
    System,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Actor {
    #[serde(rename = "type")]
    pub kind: ActorType,
    pub id: Option<String>,
}

impl Actor {
    /// The caller: the key when they came with one, else the member.
    pub fn of(principal: &Principal) -> Self {
        match (principal.auth_method, &principal.api_key) {
            (AuthMethod::ApiKey, Some(key)) => Self { kind: ActorType::ApiKey, id: Some(key.id.to_string()) },
            _ => Self::user(&principal.user_id),
        }
    }

    pub fn user(user: &UserId) -> Self {
        Self { kind: ActorType::User, id: Some(user.to_string()) }
    }

    pub fn anonymous() -> Self {
        Self { kind: ActorType::Anonymous, id: None }
    }

    pub fn payment_provider(event_id: &str) -> Self {
        Self { kind: ActorType::PaymentProvider, id: Some(event_id.to_owned()) }
    }

    pub fn system(job: &crate::ids::PrivacyJobId) -> Self {
        Self { kind: ActorType::System, id: Some(job.to_string()) }
    }

    /// What the log is spread by: one actor's entries sit together.
    pub fn shard_key(&self) -> &str {
        self.id.as_deref().unwrap_or("anonymous")
    }
}

/// What was acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetType {
    User,
    Invite,
    ApiKey,
    Organization,
    /// An export or an erasure.
    PrivacyJob,
    AuditLog,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Target {
    #[serde(rename = "type")]
    pub kind: TargetType,
    pub id: String,
}

impl Target {
    pub fn user(user: &UserId) -> Self {
        Self { kind: TargetType::User, id: user.to_string() }
    }

    pub fn invite(invite: &InviteId) -> Self {
        Self { kind: TargetType::Invite, id: invite.to_string() }
    }

    pub fn api_key(key: &ApiKeyId) -> Self {
        Self { kind: TargetType::ApiKey, id: key.to_string() }
    }

    pub fn organization(org: &crate::ids::OrgId) -> Self {
        Self { kind: TargetType::Organization, id: org.to_string() }
    }

    pub fn of(kind: TargetType, id: impl std::fmt::Display) -> Self {
        Self { kind, id: id.to_string() }
    }
}

/// What a change of state changed: the values before and after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateChange {
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

/// The request that made the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Context {
    /// The `X-Request-ID` of the response.
    pub request_id: String,
    /// The address API Gateway saw the request come from.
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// One entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Entry {
    /// A ULID: entries sort by it in time.
    pub id: String,
    pub action: Action,
    pub occurred_at: String,
    pub actor: Actor,
    pub targets: Vec<Target>,
    /// For a change of state: `{"before": …, "after": …}`, the fields it changed.
    #[schema(value_type = Option<Object>)]
    pub changes: Option<StateChange>,
    pub context: Context,
}

impl Entry {
    pub fn new(action: Action, actor: Actor, context: Context, at: OffsetDateTime) -> Self {
        Self {
            id: ulid::Ulid::from_datetime(at.into()).to_string(),
            action,
            occurred_at: rfc3339(at),
            actor,
            targets: Vec::new(),
            changes: None,
            context,
        }
    }

    pub fn target(mut self, target: Target) -> Self {
        self.targets.push(target);
        self
    }

    pub fn changes(mut self, before: serde_json::Value, after: serde_json::Value) -> Self {
        self.changes = Some(StateChange { before, after });
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_read_and_print_as_their_dotted_names() {
        assert_eq!(Action::MemberRoleChanged.as_str(), "member.role_changed");
        assert_eq!("api_key.rotated".parse::<Action>(), Ok(Action::ApiKeyRotated));
        assert!("member.role_changed ".parse::<Action>().is_err());
        assert!("MemberRoleChanged".parse::<Action>().is_err());
    }

    #[test]
    fn an_entry_is_named_by_a_ulid_of_its_time() {
        let at = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let context = Context { request_id: "r-1".into(), ip: None, user_agent: None };
        let entry = Entry::new(Action::MemberRemoved, Actor::anonymous(), context, at);
        assert_eq!(entry.occurred_at, "2027-01-15T08:00:00Z");
        assert_eq!(ulid::Ulid::from_string(&entry.id).unwrap().timestamp_ms(), 1_800_000_000_000);
    }
}
