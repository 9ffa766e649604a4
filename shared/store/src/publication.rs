//! Publishing to classes, the part lessons and assessments share: which
//! classes a publication may add, whether a student reaches a published item
//! through one of their classes, and one page of a class's published items.
//!
//! An item published to a class has one entry `<PREFIX><item>` in the class's partition
//! ([`ClassEntry`]), so a class's items are one Query.
//!
//! Creating, publishing and deleting an item move the tenant's content
//! totals (`counters::Total::Content`) in the same transaction.

use std::collections::{HashMap, HashSet};

use serde::de::DeserializeOwned;

use crate::counters::{self, Total};
use crate::cursor;
use crate::db::{Db, Range, Write, number};
use crate::state::AppState;
use domain::class::Class;
use domain::error::{Error, Result};
use domain::ids::{ClassId, UserId};
use domain::principal::{Principal, Role};
use domain::publication::{ClassEntry, Due, MAX_CLASSES, Publishable, field};
use domain::record::expect_version;
use domain::tenancy::{Key, Tenant};

/// True when the caller may read the item: staff always; a student when it
/// is published to a live class they are enrolled in.
pub async fn visible_to<T: Publishable>(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    item: &T,
) -> Result<bool> {
    if principal.role != Role::Student {
        return Ok(true);
    }
    Ok(!reaching_item(state, tenant, &principal.user_id, item).await?.is_empty())
}

/// The live classes `student` is enrolled in that the item is published
/// to: none when it is a draft.
pub async fn reaching_item<T: Publishable>(
    state: &AppState,
    tenant: &Tenant,
    student: &UserId,
    item: &T,
) -> Result<Vec<Class>> {
    if !item.is_published() {
        return Ok(Vec::new());
    }
    reaching(state, tenant, student, item.class_ids()).await
}

/// A page of items, newest first: every live one for staff, or one class's
/// published ones with `?class_id=` (which a student must give: their own
/// class only). Returns the items and the next page's cursor.
pub async fn list<T: Publishable>(
    state: &AppState,
    principal: &Principal,
    class: Option<&str>,
    limit: i32,
    after: Option<&str>,
) -> Result<(Vec<T>, Option<String>)> {
    principal.require_role(&[Role::Admin, Role::Teacher, Role::Student])?;
    let tenant = Tenant::of(principal);
    let bad = || Error::BadRequest("class_id must be a class id".into());
    let class = class.map(|raw| raw.parse::<ClassId>().map_err(|_| bad())).transpose()?;
    let keys = state.key_set().await?;
    let list = format!("{}?class={}", T::LIST, class.as_ref().map(ToString::to_string).unwrap_or_default());
    let start = after.map(|c| cursor::decode(&keys, &tenant, &list, c)).transpose()?;
    let (items, last_key) = match class {
        None if principal.role == Role::Student => {
            return Err(Error::BadRequest("a student names the class: ?class_id=".into()));
        }
        None => {
            let partition = tenant.listing(T::PREFIX);
            let found =
                state.db.query::<T>(&Range::listing(&partition, T::PREFIX).newest_first(), limit, start).await?;
            (found.items, found.last_key)
        }
        Some(class) => {
            let key = |id: &str| T::key_of(&tenant, id);
            let (found, last_key) = class_page::<T>(state, principal, &class, T::PREFIX, key, limit, start).await?;
            (found.into_iter().filter(|item| item.is_live() && item.is_published()).collect(), last_key)
        }
    };
    Ok((items, last_key.map(|key| cursor::encode(&keys, &tenant, &list, &key))))
}

/// The classes of `asked` an item is not yet published to, each checked:
/// it must exist, and a teacher publishes only into their own classes.
/// Empty when there is nothing to add.
pub async fn classes_to_add(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    current: &[ClassId],
    asked: Vec<ClassId>,
) -> Result<Vec<Class>> {
    if asked.is_empty() {
        return Err(Error::invalid("class_ids", "give at least one class"));
    }
    if asked.len() > MAX_CLASSES {
        return Err(Error::invalid("class_ids", format!("give at most {MAX_CLASSES} classes")));
    }
    let added = new_classes(current, asked);
    if added.is_empty() {
        return Ok(Vec::new());
    }
    if current.len() + added.len() > MAX_CLASSES {
        return Err(Error::invalid("class_ids", format!("an item is published to at most {MAX_CLASSES} classes")));
    }
    own_classes(state, tenant, principal, "class_ids", &added).await
}

/// The classes `ids` (the request's `field`), each live and, unless the
/// caller is an admin, taught by the caller.
pub async fn own_classes(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    field: &str,
    ids: &[ClassId],
) -> Result<Vec<Class>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let found = state.db.batch_get(&ids.iter().map(|class| tenant.class(class)).collect::<Vec<_>>()).await?;
    let mut classes = Vec::with_capacity(ids.len());
    for (id, item) in ids.iter().zip(found) {
        let Some(class) = Db::decode_live::<Class>(item)? else {
            return Err(Error::invalid(field, format!("no such class: {id}")));
        };
        if principal.role != Role::Admin && class.teacher_id != principal.user_id {
            return Err(Error::Forbidden(format!("class {id} is its teacher's or an admin's to use")));
        }
        classes.push(class);
    }
    Ok(classes)
}

/// What an item's classes keep of it (the count `Publishable::COUNTED_AS`
/// on the class item, and its due date, `domain::publication::Due`, on the
/// class's dues item), moved in the transaction that publishes, edits or
/// deletes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InClasses {
    /// Newly published to these classes: counted, its due date kept.
    Added,
    /// Edited while published: its due date kept as it now is.
    Edited,
    /// Deleted: no longer counted, its due date gone.
    Removed,
}

fn class_notes<T: Publishable>(
    state: &AppState,
    tenant: &Tenant,
    item: &T,
    classes: &[ClassId],
    change: InClasses,
) -> Result<Vec<Write>> {
    let count = match change {
        InClasses::Added => Some(1),
        InClasses::Removed => Some(-1),
        InClasses::Edited => None,
    };
    let due_attribute = Due::attribute(item.id());
    let due_names = [("#due", due_attribute.as_str())];
    // `item` is as it was for a removal, as it now is otherwise: a removed
    // item without a due date left none to take away.
    let due_change = match (change, item.due()) {
        (InClasses::Added | InClasses::Removed, None) => None,
        (InClasses::Removed, Some(_)) | (InClasses::Edited, None) => Some(("REMOVE #due", Vec::new())),
        (InClasses::Added | InClasses::Edited, Some(due)) => {
            Some(("SET #due = :due", vec![(":due", crate::db::to_attribute(&due)?)]))
        }
    };
    let mut writes = Vec::new();
    for class in classes {
        if let Some(by) = count {
            let names = [("#count", T::COUNTED_AS)];
            let update =
                state.db.update(&tenant.class(class), "ADD #count :by", None, &names, vec![(":by", number(by))]);
            writes.push(Write::Update(update?));
        }
        if let Some((expression, values)) = &due_change {
            let update = state.db.update(&tenant.class_dues(class), expression, None, &due_names, values.clone());
            writes.push(Write::Update(update?));
        }
    }
    Ok(writes)
}

/// The due dates a class's dues item keeps (`Due`), by the id of their item.
pub fn dues_of(class: &crate::db::Item) -> Vec<(String, Due)> {
    class
        .iter()
        .filter_map(|(name, value)| {
            let id = name.strip_prefix(Due::ATTRIBUTE_PREFIX)?;
            let due = serde_dynamo::aws_sdk_dynamodb_1::from_attribute_value(value.clone()).ok()?;
            Some((id.to_owned(), due))
        })
        .collect()
}

/// The classes of `asked` not in `current`, each once, in the order asked:
/// one pass with a set, however long the list.
fn new_classes(current: &[ClassId], asked: Vec<ClassId>) -> Vec<ClassId> {
    let mut seen: HashSet<ClassId> = current.iter().cloned().collect();
    asked.into_iter().filter(|class| seen.insert(class.clone())).collect()
}

/// The live classes of `class_ids` that `student` is enrolled in: each
/// class and the student's place in it, in one read. It is read eventually
/// consistently: every report of a class's students reads the class's
/// partition, and a student taken off a class may reach its items for the
/// second it takes to replicate (docs/scale.md).
pub async fn reaching(
    state: &AppState,
    tenant: &Tenant,
    student: &UserId,
    class_ids: &[ClassId],
) -> Result<Vec<Class>> {
    if class_ids.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<_> =
        class_ids.iter().flat_map(|class| [tenant.class(class), tenant.roster_entry(class, student)]).collect();
    let found = state.db.batch_get_recent(&keys).await?;
    let mut classes = Vec::new();
    for pair in found.chunks(2) {
        if let (Some(class), Some(_)) = (Db::decode_live::<Class>(pair[0].clone())?, &pair[1]) {
            classes.push(class);
        }
    }
    Ok(classes)
}

/// One page of the items published to `class`, newest first, read with the
/// class (which must live) and, for a student, their place in it (else the
/// class is not found). `entries_prefix` names the class's entries, `item`
/// the key of an entry's item. Items that are gone are left out.
async fn class_page<T: DeserializeOwned>(
    state: &AppState,
    principal: &Principal,
    class: &ClassId,
    entries_prefix: &str,
    item: impl Fn(&str) -> Result<Key>,
    limit: i32,
    start: Option<HashMap<String, String>>,
) -> Result<(Vec<T>, Option<HashMap<String, String>>)> {
    let tenant = Tenant::of(principal);
    let partition = tenant.class(class).pk;
    let range = Range::of(&partition, entries_prefix).newest_first();
    // Two keys besides the items: BatchGetItem takes 100 at most.
    let entries = state.db.query::<ClassEntry>(&range, limit.min(98), start).await?;
    let mut wanted = vec![tenant.class(class), tenant.roster_entry(class, &principal.user_id)];
    for entry in &entries.items {
        wanted.push(item(&entry.item_id)?);
    }
    let mut found = state.db.batch_get(&wanted).await?.into_iter();
    let live_class = Db::decode_live::<Class>(found.next().flatten())?.is_some();
    let enrolled = found.next().flatten().is_some();
    if !live_class || (principal.role == Role::Student && !enrolled) {
        return Err(Error::not_found("class"));
    }
    let items = found.flatten().map(Db::decode::<T>).collect::<Result<Vec<_>, _>>()?;
    Ok((items, entries.last_key))
}

/// Publishes the live item `id`, for its author or an admin, to the classes
/// `asked` names that it is not in yet: a new version (`status =
/// published`), one entry per added class and the kind's summary
/// (`Publishable::summary`), in one transaction, with the
/// record store's refusals (a stale `If-Match`, `asked_version`, is a 412).
/// Returns the item as it now stands, unchanged when it was in every class
/// already, and records `<kind>.published` in the activity feed.
pub async fn publish<T: Publishable>(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: &T::Id,
    asked: Vec<ClassId>,
    asked_version: Option<u64>,
) -> Result<T> {
    let item: T = state.db.live(tenant, id).await?;
    principal.require_owner_or_admin(&item.audit().created_by, &format!("the {}'s author", T::NAME))?;
    let (published, added) = publish_item(state, tenant, principal, item, asked, asked_version).await?;
    let classes = crate::activity::in_classes(&added);
    crate::activity::record(state, tenant, principal, &format!("{}.published", T::NAME), id, &classes).await;
    Ok(published)
}

async fn publish_item<T: Publishable>(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    item: T,
    asked: Vec<ClassId>,
    asked_version: Option<u64>,
) -> Result<(T, Vec<Class>)> {
    use crate::records::Changes;
    // A stale version is refused before the classes are looked at.
    expect_version(&item, asked_version)?;
    let added = classes_to_add(state, tenant, principal, item.class_ids(), asked).await?;
    if added.is_empty() {
        return Ok((item, added));
    }
    let now = domain::clock::rfc3339(state.now());
    let mut class_ids = item.class_ids().to_vec();
    class_ids.extend(added.iter().map(|class| class.id.clone()));
    let changes = Changes::new()
        .set(field::status(), "published")
        .set(field::class_ids(), &class_ids)
        .set(field::published_at(), item.published_at().unwrap_or(&now));
    let mut writes = vec![Write::Update(state.db.patch_update(
        tenant,
        &item,
        asked_version,
        &principal.user_id,
        state.now(),
        changes,
    )?)];
    for class in &added {
        let placed =
            ClassEntry { class_id: class.id.clone(), item_id: item.id().to_string(), published_at: now.clone() };
        writes.push(Write::Put(state.db.put_new(&T::class_entry(tenant, &class.id, item.id()), &placed)?));
    }
    if let Some(summary) = item.summary(tenant, &class_ids)? {
        writes.push(Write::Put(state.db.put(&summary.key, &summary.item)?));
    }
    let added_ids: Vec<ClassId> = added.iter().map(|class| class.id.clone()).collect();
    writes.extend(class_notes(state, tenant, &item, &added_ids, InClasses::Added)?);
    if !item.is_published() {
        let moved = [(Total::Content(T::KIND, false), -1), (Total::Content(T::KIND, true), 1)];
        writes.push(counters::total(state, tenant, &principal.user_id, &moved)?);
    }
    state.db.transact(writes).await.map_err(|err| Db::lost_patch::<T>(err, 0, asked_version))?;
    tracing::info!(classes = added.len(), "published");
    Ok((state.db.live(tenant, item.id()).await?, added))
}

/// Writes a new item (a draft) and counts it in the tenant's content.
pub async fn create<T: Publishable>(state: &AppState, tenant: &Tenant, by: &UserId, item: &T) -> Result<()> {
    let counted = counters::total(state, tenant, by, &[(Total::Content(T::KIND, item.is_published()), 1)])?;
    state.db.insert(tenant, item, vec![counted]).await
}

/// Applies `changes` to the publishable `current` as its next version,
/// with [`Db::patch`]'s refusals, and keeps the kind's summary
/// (`Publishable::summary`) true in the same transaction: `after` is the
/// item as the changes leave it, or `None` when they delete it (which also
/// takes it out of the content totals). Returns the item as it now stands
/// (deleted, for a delete).
pub async fn patch<T: Publishable>(
    state: &AppState,
    tenant: &Tenant,
    current: &T,
    after: Option<&T>,
    asked: Option<u64>,
    by: &UserId,
    changes: crate::records::Changes<T>,
) -> Result<T> {
    let mut beside = Vec::new();
    match after {
        Some(after) if after.is_published() => {
            if let Some(summary) = after.summary(tenant, after.class_ids())? {
                beside.push(Write::Put(state.db.put(&summary.key, &summary.item)?));
            }
            if after.due() != current.due() {
                beside.extend(class_notes(state, tenant, after, after.class_ids(), InClasses::Edited)?);
            }
        }
        Some(_) => {}
        None => {
            if current.is_published() {
                if let Some(summary) = current.summary(tenant, current.class_ids())? {
                    beside.push(Write::Delete(state.db.delete(&summary.key)?));
                }
                beside.extend(class_notes(state, tenant, current, current.class_ids(), InClasses::Removed)?);
            }
            beside.push(counters::total(state, tenant, by, &[(Total::Content(T::KIND, current.is_published()), -1)])?);
        }
    }
    state.db.patch_with(tenant, current, asked, by, state.now(), changes, beside).await
}

/// Deletes the live item `id` for its author or an admin (soft: it is
/// kept, marked deleted), with [`patch`]'s refusals, takes its entries out
/// of its classes' lists and records `<kind>.deleted` in the feed. Returns
/// the item as deleted.
pub async fn delete<T: Publishable>(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: &T::Id,
    asked: Option<u64>,
) -> Result<T> {
    let item: T = state.db.live(tenant, id).await?;
    principal.require_owner_or_admin(&item.audit().created_by, &format!("the {}'s author", T::NAME))?;
    let by = &principal.user_id;
    let deleted = crate::records::Changes::new().deleted(by, state.now());
    let deleted = patch(state, tenant, &item, None, asked, by, deleted).await?;
    // The classes' lists skip a deleted item; their entries are only clutter.
    let entries = item.class_ids().iter().map(|class| T::class_entry(tenant, class, id)).collect();
    if let Err(err) = state.db.batch_write(Vec::new(), entries).await {
        tracing::warn!(error = %err, kind = T::NAME, "class entries of a deleted item not deleted");
    }
    crate::activity::record_published(state, tenant, principal, &format!("{}.deleted", T::NAME), id, item.class_ids())
        .await;
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_classes_are_those_not_yet_published_each_once_in_the_order_asked() {
        let [a, b, c, d] = [ClassId::new(), ClassId::new(), ClassId::new(), ClassId::new()];
        let asked = vec![c.clone(), a.clone(), c.clone(), d.clone(), b.clone(), d.clone()];
        assert_eq!(new_classes(&[a, b], asked), vec![c, d]);
    }
}
