//! What a member leaves behind when an admin removes them: their places in
//! classes (each student's taken off their class's count) and their links
//! as a parent or as a child. Their progress, submissions and messages stay,
//! as the record of what they did.

use crate::db::{DbError, Range, Write, number};
use crate::state::AppState;
use domain::class::{RosterEntry, RosterRole};
use domain::ids::UserId;
use domain::tenancy::Tenant;

/// Read this many at a time.
const PAGE: i32 = 500;

/// Takes `user` off every roster and unlinks them from parents and children.
/// Both parts are always tried; the first error is returned.
pub async fn leave(state: &AppState, tenant: &Tenant, user: &UserId) -> Result<(), DbError> {
    let rosters = leave_classes(state, tenant, user).await;
    let links = unlink(state, tenant, user).await;
    rosters.and(links)
}

async fn leave_classes(state: &AppState, tenant: &Tenant, user: &UserId) -> Result<(), DbError> {
    let partition = tenant.held_by(user);
    let range = Range::gsi1(&partition, Tenant::CLASS_PREFIX);
    let mut start = None;
    loop {
        let page = state.db.query::<RosterEntry>(&range, PAGE, start).await?;
        // An entry and its class's count per pair of writes; 50 pairs per transaction.
        for chunk in page.items.chunks(50) {
            leave_some(state, tenant, user, chunk.to_vec()).await?;
        }
        match page.last_key {
            Some(key) => start = Some(key),
            None => return Ok(()),
        }
    }
}

/// Deletes the entries that still exist, each with its class's count. The
/// index is read eventually consistently, and a teacher may remove the
/// student at the same moment: an entry already gone is left out (its count
/// was moved by whoever deleted it) and the rest written again.
async fn leave_some(
    state: &AppState,
    tenant: &Tenant,
    user: &UserId,
    mut entries: Vec<RosterEntry>,
) -> Result<(), DbError> {
    while !entries.is_empty() {
        let mut writes = Vec::new();
        let mut owner = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            let key = tenant.roster_entry(&entry.class_id, user);
            writes.push(Write::Delete(state.db.delete_if(&key, "attribute_exists(pk)", &[], vec![])?));
            owner.push(index);
            if entry.role == RosterRole::Student {
                writes.push(Write::Update(state.db.update(
                    &tenant.class(&entry.class_id),
                    "ADD student_count :minus_one",
                    Some("attribute_exists(pk)"),
                    &[],
                    vec![(":minus_one", number(-1))],
                )?));
                owner.push(index);
            }
        }
        match state.db.transact(writes).await {
            Ok(()) => return Ok(()),
            Err(DbError::Cancelled { failed }) if !failed.is_empty() => {
                let gone: Vec<usize> = failed.iter().map(|write| owner[*write]).collect();
                let mut index = 0;
                entries.retain(|_| {
                    index += 1;
                    !gone.contains(&(index - 1))
                });
            }
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

async fn unlink(state: &AppState, tenant: &Tenant, user: &UserId) -> Result<(), DbError> {
    // Their links as a parent sit in their partition; those to them as a
    // child, in each parent's, found through `gsi1`.
    let (own, parents_of) = (tenant.user_partition(user), tenant.guardians_of(user));
    let as_parent = Range::of(&own, Tenant::CHILD_PREFIX);
    let as_child = Range::gsi1(&parents_of, Tenant::USER_PREFIX);
    for range in [as_parent, as_child] {
        loop {
            let (links, more) = state.db.keys(&range, PAGE as usize).await?;
            state.db.batch_write(Vec::new(), links).await?;
            // What was deleted no longer shows: read from the start again.
            if !more {
                break;
            }
        }
    }
    Ok(())
}
