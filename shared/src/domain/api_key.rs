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
//! again (see [`signing_secret`]).

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use rand::Rng;
use rand::distr::Alphanumeric;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use time::OffsetDateTime;

use crate::auth::sha256_hex;
use crate::clock::rfc3339;
use crate::db::{Db, DbError, Write, n, s, value};
use crate::domain::audit::Audit;
use crate::domain::fields::KeyName;
use crate::domain::user::User;
use crate::ids::{ApiKeyId, OrgId, UserId};
use crate::keyset::{KeySet, SigningKey};
use crate::principal::{Role, Scope};
use crate::tenancy::{Key, Tenant, global};

const KEY_MARK: &str = "tbx_";
const PREFIX_LEN: usize = 12;
const SECRET_LEN: usize = 40;
const SIGNING_PURPOSE: &str = "api-key-signing";

/// A key as a client presents it in `X-API-Key`. No `Debug`: it holds the secret.
pub struct PresentedKey {
    prefix: String,
    secret: String,
}

impl PresentedKey {
    /// Parses the header value; anything not shaped like one of our keys is
    /// refused before any lookup.
    pub fn parse(header: &str) -> Option<Self> {
        let rest = header.trim().strip_prefix(KEY_MARK)?;
        let (prefix, secret) = rest.split_once('_')?;
        let prefix_ok =
            prefix.len() == PREFIX_LEN && prefix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let secret_ok = secret.len() == SECRET_LEN && secret.bytes().all(|b| b.is_ascii_alphanumeric());
        (prefix_ok && secret_ok).then(|| Self { prefix: prefix.to_owned(), secret: secret.to_owned() })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn secret_hash(&self) -> String {
        sha256_hex(self.secret.as_bytes())
    }
}

/// A freshly minted secret for a key: the full key string, shown once.
pub struct MintedKey {
    pub prefix: String,
    secret: String,
}

impl MintedKey {
    pub fn new() -> Self {
        Self::with_prefix(random_chars(PREFIX_LEN, true))
    }

    /// A new secret under a key's existing prefix (rotation).
    pub fn with_prefix(prefix: String) -> Self {
        Self { prefix, secret: random_chars(SECRET_LEN, false) }
    }

    pub fn token(&self) -> String {
        format!("{KEY_MARK}{}_{}", self.prefix, self.secret)
    }

    pub fn secret_hash(&self) -> String {
        sha256_hex(self.secret.as_bytes())
    }
}

impl Default for MintedKey {
    fn default() -> Self {
        Self::new()
    }
}

fn random_chars(len: usize, lowercase: bool) -> String {
    let text: String = rand::rng().sample_iter(Alphanumeric).take(len).map(char::from).collect();
    if lowercase { text.to_ascii_lowercase() } else { text }
}

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

impl SecretRecord {
    /// The record of a freshly minted secret; `signing_kid` is the key-set
    /// key its signing secret derives from, for keys that require signatures.
    pub fn of(minted: &MintedKey, generation: u32, signing_kid: Option<String>) -> Self {
        Self { hash: minted.secret_hash(), generation, signing_kid }
    }
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

impl ApiKeyLookup {
    /// The secret record `presented` matches at `now_epoch`, if any. Both
    /// hashes are always compared, in constant time.
    pub fn matching(&self, presented: &PresentedKey, now_epoch: i64) -> Option<&SecretRecord> {
        let hash = presented.secret_hash();
        let current = bool::from(hash.as_bytes().ct_eq(self.current.hash.as_bytes()));
        let previous = self.previous.as_ref().is_some_and(|old| {
            bool::from(hash.as_bytes().ct_eq(old.record.hash.as_bytes())) && now_epoch < old.valid_until
        });
        if current {
            Some(&self.current)
        } else if previous {
            self.previous.as_ref().map(|old| &old.record)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    Active,
    /// Refused from the moment of revocation; the item stays for the audit
    /// trail, but the API no longer shows it.
    Revoked,
}

/// The tenant item `ORG#<org> / APIKEY#<id>`.
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
    /// When and by whom it was revoked: the soft delete of DESIGN.md.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_by: Option<UserId>,
    #[serde(flatten)]
    pub audit: Audit,
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

/// The writes that revoke a key: its item marked revoked (kept for the
/// audit trail) and its lookup deleted, which is what the authorizer
/// notices: the prefix no longer leads anywhere, whichever secret (current
/// or in its rotation grace) is presented. The maker's `api_keys` entry is
/// for the caller to remove, in the same transaction.
pub fn revoke(
    db: &Db,
    tenant: &Tenant,
    id: &ApiKeyId,
    prefix: &str,
    by: &UserId,
    now: OffsetDateTime,
) -> Result<[Write; 2], DbError> {
    let key = db.update(
        &tenant.api_key(id),
        "SET #status = :revoked, deleted_at = if_not_exists(deleted_at, :now), \
         deleted_by = if_not_exists(deleted_by, :by), updated_at = :now, updated_by = :by, #version = #version + :one",
        Some("attribute_exists(pk)"),
        &[("#status", "status"), ("#version", "version")],
        vec![
            (":revoked", value(&KeyStatus::Revoked)?),
            (":now", s(rfc3339(now))),
            (":by", s(by.to_string())),
            (":one", n(1)),
        ],
    )?;
    Ok([Write::Update(key), Write::Delete(db.delete(&global::api_key(prefix))?)])
}

/// The write that narrows a key's scopes to `scopes`.
pub fn narrow(
    db: &Db,
    tenant: &Tenant,
    id: &ApiKeyId,
    scopes: &[Scope],
    by: &UserId,
    now: OffsetDateTime,
) -> Result<Write, DbError> {
    let key = db.update(
        &tenant.api_key(id),
        "SET scopes = :scopes, updated_at = :now, updated_by = :by, #version = #version + :one",
        Some("attribute_exists(pk)"),
        &[("#version", "version")],
        vec![(":scopes", value(&scopes)?), (":now", s(rfc3339(now))), (":by", s(by.to_string())), (":one", n(1))],
    )?;
    Ok(Write::Update(key))
}

/// The write that adds a new key to its maker's list (`User::api_keys`).
/// It holds only while the maker is an admin under [`MAX_PER_ADMIN`] keys,
/// and it moves their version, so a role change that read their keys
/// before this one was made fails instead of missing it.
pub fn remember(db: &Db, tenant: &Tenant, maker: &UserId, key: &ApiKey) -> Result<Write, DbError> {
    let update = db.update(
        &tenant.user(maker),
        "SET #keys.#key = :prefix, #version = #version + :one",
        Some("#role = :admin AND attribute_not_exists(deleted_at) AND size(#keys) < :cap"),
        &[("#keys", "api_keys"), ("#key", &key.id.to_string()), ("#version", "version"), ("#role", "role")],
        vec![(":prefix", s(&key.prefix)), (":one", n(1)), (":admin", value(&Role::Admin)?), (":cap", n(MAX_PER_ADMIN))],
    )?;
    Ok(Write::Update(update))
}

/// The write that takes a revoked key off its maker's list. It moves their
/// version too: a role change that read the key must not write it back.
pub fn forget(db: &Db, tenant: &Tenant, maker: &UserId, id: &ApiKeyId) -> Result<Write, DbError> {
    let update = db.update(
        &tenant.user(maker),
        "REMOVE #keys.#key SET #version = #version + :one",
        Some("attribute_exists(pk)"),
        &[("#keys", "api_keys"), ("#key", &id.to_string()), ("#version", "version")],
        vec![(":one", n(1))],
    )?;
    Ok(Write::Update(update))
}

/// What becomes of the keys `maker` made when their role becomes `role`
/// (`None`: they are removed): each keeps only the scopes `role` allows
/// ([`scopes_for_maker`]), or is revoked. Returns the keys the maker still
/// holds and the writes, for the transaction that changes the role, so no
/// request is ever served with more authority than the maker has.
pub async fn follow_maker(
    db: &Db,
    tenant: &Tenant,
    maker: &User,
    role: Option<Role>,
    by: &UserId,
    now: OffsetDateTime,
) -> Result<(BTreeMap<ApiKeyId, String>, Vec<Write>), DbError> {
    if role == Some(Role::Admin) {
        return Ok((maker.api_keys.clone(), Vec::new()));
    }
    // A teacher keeps narrowed keys: their scopes are needed to narrow them.
    let stored: Vec<Option<ApiKey>> = match role {
        Some(role) if role.is_staff() => {
            let keys: Vec<Key> = maker.api_keys.keys().map(|id| tenant.api_key(id)).collect();
            db.batch_get(&keys)
                .await?
                .into_iter()
                .map(|item| item.map(Db::decode).transpose())
                .collect::<Result<_, _>>()?
        }
        _ => vec![None; maker.api_keys.len()],
    };
    let mut kept = BTreeMap::new();
    let mut writes = Vec::new();
    for ((id, prefix), key) in maker.api_keys.iter().zip(stored) {
        let scopes = key.as_ref().and_then(|key| role.and_then(|role| scopes_for_maker(&key.scopes, role)));
        match (key, scopes) {
            // Revoked meanwhile (its revocation moved the maker's version,
            // so this role change fails and reads again): nothing to keep.
            (Some(key), _) if key.status == KeyStatus::Revoked => {}
            (Some(key), Some(scopes)) => {
                if scopes != key.scopes {
                    writes.push(narrow(db, tenant, id, &scopes, by, now)?);
                }
                kept.insert(id.clone(), prefix.clone());
            }
            _ => writes.extend(revoke(db, tenant, id, prefix, by, now)?),
        }
    }
    Ok((kept, writes))
}

/// The signing secret of one generation of a key: lowercase hex of an HMAC
/// under a key-set key. Clients use the hex string's bytes as their HMAC key.
pub fn signing_secret(key: &SigningKey, org: &OrgId, id: &ApiKeyId, generation: u32) -> String {
    let data = format!("{org}\0{id}\0{generation}");
    hex::encode(KeySet::mac(key, SIGNING_PURPOSE, data.as_bytes()))
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

    #[test]
    fn a_minted_key_parses_back_to_its_prefix_and_hash() {
        let minted = MintedKey::new();
        let presented = PresentedKey::parse(&minted.token()).unwrap();
        assert_eq!(presented.prefix(), minted.prefix);
        assert_eq!(presented.secret_hash(), minted.secret_hash());
    }

    #[test]
    fn malformed_keys_are_refused_before_any_lookup() {
        let token = MintedKey::new().token();
        for bad in [
            "",
            "tbx_",
            &token.replace("tbx_", "tbk_"),
            &token[..token.len() - 1],
            &format!("{token}x"),
            &token.to_ascii_uppercase(),
            "tbx_abcdefghijkl_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
        ] {
            assert!(PresentedKey::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_previous_secret_works_only_until_its_grace_ends() {
        let old = MintedKey::new();
        let new = MintedKey::with_prefix(old.prefix.clone());
        let lookup = ApiKeyLookup {
            org_id: OrgId::new(),
            key_id: ApiKeyId::new(),
            current: SecretRecord { hash: new.secret_hash(), generation: 2, signing_kid: None },
            previous: Some(RetiringSecret {
                record: SecretRecord { hash: old.secret_hash(), generation: 1, signing_kid: None },
                valid_until: 1_000,
            }),
        };
        let old = PresentedKey::parse(&old.token()).unwrap();
        let new = PresentedKey::parse(&new.token()).unwrap();
        let generation = |presented, now| lookup.matching(presented, now).map(|r| r.generation);
        assert_eq!(generation(&new, 5_000), Some(2));
        assert_eq!(generation(&old, 999), Some(1));
        assert_eq!(generation(&old, 1_000), None);
        let stranger = PresentedKey::parse(&MintedKey::new().token()).unwrap();
        assert_eq!(generation(&stranger, 0), None);
    }

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
            deleted_at: None,
            deleted_by: None,
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
