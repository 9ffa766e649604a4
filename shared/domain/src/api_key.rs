//! Integration API keys: `tbx_<prefix>_<secret>`.
//!
//! The prefix names the key and stays the same across rotations; the secret
//! is 40 random alphanumerics (238 bits) of which only a SHA-256 hash is
//! stored, in the global lookup item `APIKEY#<prefix>`. The authorizer reads
//! that one item by prefix and compares hashes in constant time, so how long
//! a check takes says nothing about how much of a secret was right, and
//! guessing a prefix gains nothing without its secret. The key's description
//! (name, scopes, allow-list, status) lives in the tenant's partition.
//!
//! A key created with `require_signature` also has a signing secret. It is
//! never stored: it is an HMAC of the key's identity under the key-set key
//! named by `signing_kid`, so the function that checks a signature derives it
//! again (the store's `api_keys::signing_secret`).

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::audit::Audit;
use crate::fields::KeyName;
use crate::ids::{ApiKeyId, OrgId};
use crate::principal::{Role, Scope};

/// One secret of a key, as the lookup item keeps it. No `Debug`, so its
/// hash cannot reach a log line by a stray `?`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRecord {
    pub hash: String,
    /// 1 at creation, one more per rotation.
    pub generation: u32,
    /// The key-set key the signing secret is derived with, for keys that
    /// require signatures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_kid: Option<String>,
}

/// The previous secret after a rotation, honoured until `valid_until`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiringSecret {
    #[serde(flatten)]
    pub record: SecretRecord,
    /// Epoch seconds.
    pub valid_until: i64,
}

/// The global item `APIKEY#<prefix> / LOOKUP`: the way from a presented key
/// to its tenant, and the hashes to check it against. No `Debug` (hashes).
#[derive(Clone, Serialize, Deserialize)]
pub struct ApiKeyLookup {
    pub org_id: OrgId,
    pub key_id: ApiKeyId,
    pub current: SecretRecord,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<RetiringSecret>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    Active,
    /// Refused from the moment of revocation; the item stays for the audit
    /// trail, but the API no longer shows it.
    Revoked,
}

/// The tenant item `ORG#<org>#APIKEY#<id> / APIKEY#<id>`, with the
/// signatures it has made beside it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub org_id: OrgId,
    pub name: KeyName,
    pub prefix: String,
    pub scopes: Vec<Scope>,
    /// RFC 3339; the key is refused from then on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Epoch seconds of `expires_at`, for the authorizer's check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_epoch: Option<i64>,
    #[serde(default)]
    pub ip_allowlist: Vec<IpNet>,
    #[serde(default)]
    pub require_signature: bool,
    pub status: KeyStatus,
    pub generation: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_at: Option<String>,
    /// When and by whom it was revoked: a soft delete (docs/architecture.md).
    #[serde(flatten)]
    pub audit: Audit,
}

crate::record!(ApiKey, ApiKeyId, "API key", api_key);

/// The fields a change to a key names.
pub mod field {
    use super::ApiKey;
    use crate::record::Field;

    pub const GENERATION: Field<ApiKey, u32> = Field::new("generation");
    pub const ROTATED_AT: Field<ApiKey, str> = Field::new("rotated_at");
}

impl ApiKey {
    pub fn is_expired(&self, now_epoch: i64) -> bool {
        self.expires_epoch.is_some_and(|at| now_epoch >= at)
    }

    /// An empty allow-list allows every address.
    pub fn allows(&self, ip: Option<IpAddr>) -> bool {
        self.ip_allowlist.is_empty() || ip.is_some_and(|ip| self.ip_allowlist.iter().any(|net| net.contains(&ip)))
    }
}

/// At most this many live keys per admin: a demotion or a removal changes
/// all of an admin's keys in its one transaction, which DynamoDB limits to
/// 100 writes (two per revoked key).
pub const MAX_PER_ADMIN: usize = 40;

/// The scopes a key keeps once its maker has `role`, so that it never has
/// more authority than they have now; `None` when it keeps none (a key acts
/// as staff, which a student or parent is not).
pub fn scopes_for_maker(scopes: &[Scope], role: Role) -> Option<Vec<Scope>> {
    if !role.is_staff() {
        return None;
    }
    let allowed = Scope::of_role(role);
    let kept: Vec<Scope> = scopes.iter().copied().filter(|scope| allowed.contains(scope)).collect();
    (!kept.is_empty()).then_some(kept)
}

/// Requests per key per UTC day, counted by the authorizer.
pub mod usage {
    use serde::{Deserialize, Serialize};
    use time::OffsetDateTime;

    /// How long a day's count is kept (DynamoDB TTL): the longest range the
    /// usage route reports, and a day more.
    pub const KEEP_SECONDS: i64 = 91 * 24 * 3600;
    pub const MAX_DAYS: u32 = 90;

    /// `YYYY-MM-DD` of `at`, in UTC.
    pub fn day(at: OffsetDateTime) -> String {
        let date = at.to_offset(time::UtcOffset::UTC).date();
        format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct DayCount {
        #[serde(default)]
        pub count: u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;

    #[test]
    fn a_key_keeps_only_what_its_maker_may_do_now() {
        let all = Scope::ALL.to_vec();
        assert_eq!(scopes_for_maker(&all, Role::Admin), Some(all.clone()));
        let teacher = scopes_for_maker(&all, Role::Teacher).unwrap();
        assert!(!teacher.contains(&Scope::Admin) && teacher.contains(&Scope::Read), "{teacher:?}");
        assert_eq!(scopes_for_maker(&[Scope::Admin], Role::Teacher), None);
        assert_eq!(scopes_for_maker(&[Scope::Read], Role::Student), None);
        assert_eq!(scopes_for_maker(&[Scope::Read], Role::Parent), None);
    }

    #[test]
    fn the_allow_list_contains_addresses_by_network() {
        let mut key = ApiKey {
            id: ApiKeyId::new(),
            org_id: OrgId::new(),
            name: KeyName::try_from("sis".to_owned()).unwrap(),
            prefix: "abc".into(),
            scopes: vec![Scope::Read],
            expires_at: None,
            expires_epoch: None,
            ip_allowlist: vec![],
            require_signature: false,
            status: KeyStatus::Active,
            generation: 1,
            rotated_at: None,
            audit: Audit::new(&UserId::new(), time::OffsetDateTime::UNIX_EPOCH),
        };
        assert!(key.allows(None));
        key.ip_allowlist = vec!["203.0.113.0/24".parse().unwrap(), "2001:db8::/32".parse().unwrap()];
        assert!(key.allows(Some("203.0.113.77".parse().unwrap())));
        assert!(key.allows(Some("2001:db8::1".parse().unwrap())));
        assert!(!key.allows(Some("198.51.100.1".parse().unwrap())));
        assert!(!key.allows(None));
    }
}
