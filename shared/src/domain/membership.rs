//! What a member leaves behind when an admin removes them: their places in
//! classes (each student's taken off their class's count) and their links
//! as a parent or as a child. Their progress, submissions and messages stay,
//! as the record of what they did.

use crate::db::{DbError, Range, Write, n};
use crate::domain::class::{RosterEntry, RosterRole};
use crate::ids::UserId;
use crate::state::AppState;
use crate::tenancy::{Key, Tenant};

/// A member is in at most this many classes, and has this many links.
const MAX_READ: usize = 1000;

/// Takes `user` off every roster and unlinks them from parents and children.
pub async fn leave(state: &AppState, tenant: &Tenant, user: &UserId) -> Result<(), DbError> {
    let partition = tenant.classes_of(user);
    let range = Range {
        partition: &partition,
        prefix: Tenant::CLASS_PREFIX,
        index: Some("gsi1"),
        newest_first: false,
        live_only: false,
    };
    let entries = state.db.query::<RosterEntry>(&range, MAX_READ as i32, None).await?.items;
    // An entry and its class's count per pair of writes; 50 pairs per transaction.
    for chunk in entries.chunks(50) {
        let mut writes = Vec::new();
        for entry in chunk {
            writes.push(Write::Delete(state.db.delete(&tenant.roster_entry(&entry.class_id, user))?));
            if entry.role == RosterRole::Student {
                writes.push(Write::Update(state.db.update(
                    &tenant.class(&entry.class_id),
                    "ADD student_count :minus_one",
                    Some("attribute_exists(pk)"),
                    &[],
                    vec![(":minus_one", n(-1))],
                )?));
            }
        }
        state.db.transact(writes).await?;
    }
    let mut links: Vec<Key> = Vec::new();
    let own = Tenant::guardian_links_prefix(user);
    let (pk, parents_of) = (tenant.pk(), tenant.guardians_of(user));
    let as_parent = Range { partition: &pk, prefix: &own, index: None, newest_first: false, live_only: false };
    links.extend(state.db.sort_keys(&as_parent, MAX_READ).await?.0.into_iter().map(|sk| Key { pk: pk.clone(), sk }));
    let as_child = Range {
        partition: &parents_of,
        prefix: "GUARDIAN#",
        index: Some("gsi1"),
        newest_first: false,
        live_only: false,
    };
    let (child_links, _) = state.db.sort_keys(&as_child, MAX_READ).await?;
    links.extend(child_links.into_iter().map(|sk| Key { pk: pk.clone(), sk }));
    state.db.batch_write(Vec::new(), links).await
}
