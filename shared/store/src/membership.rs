//! A member's leaving: the writes that take them out of the organisation
//! ([`removal`], one transaction), then what they leave behind ([`leave`]):
//! their places in classes (each student's taken off their class's count)
//! and their links as a parent or as a child. Their progress, submissions
//! and messages stay, as the record of what they did, unless they are erased.

use std::collections::BTreeMap;

use domain::class::{RosterEntry, RosterRole};
use domain::ids::UserId;
use domain::organization::field::ADMIN_COUNT;
use domain::principal::Role;
use domain::tenancy::Tenant;
use domain::user::{User, directory, field};

use crate::api_keys;
use crate::blind_index;
use crate::counters::{self, Counter, Total};
use crate::db::{DbError, Range, Write, number};
use crate::records::{Changes, Condition};
use crate::state::AppState;

/// The write that keeps `admin_count` exact when a member with role `from`
/// becomes `to` (`None`: leaves), if any. It goes at index 1 of its
/// transaction, right after the member's own write: see [`last_admin`].
pub fn admin_count_change(
    state: &AppState,
    tenant: &Tenant,
    from: Role,
    to: Option<Role>,
) -> Result<Option<Write>, DbError> {
    let changes = match (from == Role::Admin, to == Some(Role::Admin)) {
        // The last admin stays: the organization is never left without one.
        (true, false) => Changes::new().add(ADMIN_COUNT, -1).when(Condition::above(ADMIN_COUNT, &1)),
        (false, true) => Changes::new().add(ADMIN_COUNT, 1).when(Condition::exists()),
        _ => return Ok(None),
    };
    Ok(Some(Write::Update(state.db.update_with(&tenant.organization(), changes)?)))
}

/// A transaction with an [`admin_count_change`] refused for the last admin
/// is a 409.
pub fn last_admin(err: DbError) -> domain::Error {
    match err {
        DbError::Cancelled { failed } if failed.contains(&1) => {
            domain::Error::Conflict("the organization must keep at least one admin".into())
        }
        other => other.into(),
    }
}

/// The writes that remove `member`, for one transaction: the user kept,
/// marked deleted, for the audit trail, out of every list and signed out
/// everywhere; the API keys they made revoked; their email and username
/// freed; the organisation's counts moved; the last admin refused (see
/// [`last_admin`]). `also` adds to the member's own update, the first write.
pub async fn removal(
    state: &AppState,
    tenant: &Tenant,
    member: &User,
    by: &UserId,
    also: impl FnOnce(Changes<User>) -> Changes<User>,
) -> Result<Vec<Write>, domain::Error> {
    let now = state.now();
    let (_, key_writes) = api_keys::follow_maker(&state.db, tenant, member, None, by, now).await?;
    let removed = Changes::new()
        .set(field::DIRECTORY, &directory::removed(tenant))
        .set(field::SESSIONS, &BTreeMap::new())
        .set(field::API_KEYS, &BTreeMap::new())
        .deleted(by, now);
    let removed = also(removed);
    let mut writes = vec![Write::Update(state.db.patch_update(tenant, member, None, by, now, removed)?)];
    writes.extend(admin_count_change(state, tenant, member.role, None)?);
    writes.push(Write::Delete(state.db.delete(&blind_index::email(state, &member.email).await?)?));
    if let Some(username) = &member.username {
        writes.push(Write::Delete(state.db.delete(&blind_index::username(state, username).await?)?));
    }
    writes.extend(key_writes);
    let mut moved = vec![(Total::Members(member.role), -1)];
    if member.role == Role::Student {
        moved.extend(counters::student_consents(member, -1));
    }
    writes.push(counters::total(state, tenant, &member.id, &moved)?);
    writes.push(counters::count(state, tenant, &member.id, &[(Counter::MembersLeft, 1)])?);
    Ok(writes)
}

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
        state.db.delete_range(&range, PAGE as usize).await?;
    }
    Ok(())
}
