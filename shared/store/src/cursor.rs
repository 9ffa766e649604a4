//! Pagination: `?limit=` and an opaque cursor that is signed and bound to the
//! tenant and to the query it came from. A tampered, foreign or reused-for-
//! another-list cursor is a 400, and never reaches DynamoDB.

use std::collections::{BTreeMap, HashMap};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::keyset::KeySet;
use domain::error::Error;
use domain::tenancy::Tenant;

const PURPOSE: &str = "cursor/v1";
/// A longer cursor is refused unread.
pub const MAX_CURSOR_LEN: usize = 2048;

pub fn bad_cursor() -> Error {
    Error::BadRequest("the cursor is not valid for this list".into())
}

fn signed_data(tenant: &Tenant, query: &str, payload: &[u8]) -> Vec<u8> {
    let mut data = Vec::with_capacity(payload.len() + 64);
    data.extend_from_slice(tenant.prefix().as_bytes());
    data.push(b'\n');
    data.extend_from_slice(query.as_bytes());
    data.push(b'\n');
    data.extend_from_slice(payload);
    data
}

/// Makes the cursor for the page after `last_key`. `query` names the list and
/// its filters, so a cursor of one list cannot page through another.
pub fn encode(keys: &KeySet, tenant: &Tenant, query: &str, last_key: &HashMap<String, String>) -> String {
    let ordered: BTreeMap<_, _> = last_key.iter().collect();
    let payload = serde_json::to_vec(&ordered).expect("a string map serializes");
    let tag = KeySet::mac(keys.newest(), PURPOSE, &signed_data(tenant, query, &payload));
    format!("{}.{}", URL_SAFE_NO_PAD.encode(payload), URL_SAFE_NO_PAD.encode(tag))
}

pub fn decode(keys: &KeySet, tenant: &Tenant, query: &str, cursor: &str) -> Result<HashMap<String, String>, Error> {
    let (payload, tag) = cursor.split_once('.').ok_or_else(bad_cursor)?;
    let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| bad_cursor())?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| bad_cursor())?;
    if !keys.verify_mac(PURPOSE, &signed_data(tenant, query, &payload), &tag) {
        return Err(bad_cursor());
    }
    let last_key: HashMap<String, String> = serde_json::from_slice(&payload).map_err(|_| bad_cursor())?;
    // Signed by us for this tenant, so this holds; checked again because a
    // cursor that names another partition (of the table or of an index)
    // must never reach a query.
    let partitions = || last_key.iter().filter(|(name, _)| name.ends_with("pk")).map(|(_, pk)| pk);
    if !last_key.contains_key("pk") || !partitions().all(|pk| tenant.owns_partition(pk)) {
        return Err(bad_cursor());
    }
    Ok(last_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> KeySet {
        KeySet::parse(r#"{"kid":"k1","secret":"0123456789abcdef0123456789abcdef"}"#).unwrap()
    }

    fn last_key(tenant: &Tenant) -> HashMap<String, String> {
        HashMap::from([
            ("pk".into(), tenant.organization().pk),
            ("sk".into(), "USER#1".into()),
            ("gsi2pk".into(), tenant.listing(Tenant::USER_PREFIX)),
        ])
    }

    #[test]
    fn a_cursor_round_trips_for_its_tenant_and_query() {
        let tenant = Tenant::for_new_organization();
        let cursor = encode(&keys(), &tenant, "members", &last_key(&tenant));
        assert_eq!(decode(&keys(), &tenant, "members", &cursor).unwrap(), last_key(&tenant));
    }

    #[test]
    fn another_tenant_or_query_cannot_use_it() {
        let tenant = Tenant::for_new_organization();
        let cursor = encode(&keys(), &tenant, "members", &last_key(&tenant));
        assert!(decode(&keys(), &Tenant::for_new_organization(), "members", &cursor).is_err());
        assert!(decode(&keys(), &tenant, "invites", &cursor).is_err());
    }

    #[test]
    fn a_cursor_naming_another_tenants_index_partition_is_refused_even_if_signed() {
        let (tenant, other) = (Tenant::for_new_organization(), Tenant::for_new_organization());
        let mut last = last_key(&tenant);
        last.insert("gsi2pk".into(), other.listing(Tenant::USER_PREFIX));
        let cursor = encode(&keys(), &tenant, "members", &last);
        assert!(decode(&keys(), &tenant, "members", &cursor).is_err());
    }

    #[test]
    fn a_tampered_cursor_is_refused() {
        let tenant = Tenant::for_new_organization();
        let cursor = encode(&keys(), &tenant, "members", &last_key(&tenant));
        let (_, tag) = cursor.split_once('.').unwrap();
        let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode(br#"{"pk":"ORG#other","sk":"USER#1"}"#));
        assert!(decode(&keys(), &tenant, "members", &forged).is_err());
        assert!(decode(&keys(), &tenant, "members", "garbage").is_err());
    }
}
