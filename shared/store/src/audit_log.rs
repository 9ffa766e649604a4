//! The audit log in the table: one item per entry, created on the condition
//! that nothing is there and never written again; kept for the configured
//! retention (`AUDIT_RETENTION_DAYS`) by DynamoDB's TTL. Entries are spread
//! over [`SHARDS`] partitions by actor, like the activity feeds, and a page
//! reads each shard once and merges by id (a ULID, which sorts by time).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::db::{Db, DbError, Write};
use crate::records::Condition;
use crate::state::AppState;
use domain::audit_log::{Action, Entry};
use domain::record::Field;
use domain::tenancy::{Key, Tenant};

pub const SHARDS: u32 = 4;

/// Items one shard's query reads for a filtered page: a filter applies
/// after the read, so a page reads more than it shows (about 1 MB at most,
/// DynamoDB's cap on one query).
const FILTERED_READ: i32 = 1000;

/// An entry as the table holds it: with the fields a filter reads at the top.
#[derive(Serialize, Deserialize)]
struct Stored {
    #[serde(flatten)]
    entry: Entry,
    /// The actor's id (or `anonymous`).
    actor_key: String,
    /// The ids of the targets.
    target_ids: Vec<String>,
    expires_at: i64,
}

const ACTION: Field<Stored, Action> = Field::new("action");
const ACTOR_KEY: Field<Stored, str> = Field::new("actor_key");
const TARGET_IDS: Field<Stored, Vec<String>> = Field::new("target_ids");

fn shard(actor_key: &str) -> u32 {
    actor_key.bytes().fold(0u32, |sum, b| sum.wrapping_add(u32::from(b))) % SHARDS
}

fn stored(state: &AppState, tenant: &Tenant, entry: &Entry) -> (Key, Stored) {
    let actor_key = entry.actor.shard_key().to_owned();
    let key = Key::new(tenant.audit_log(shard(&actor_key)), entry.id.clone());
    let retention = i64::from(state.config.audit_retention_days) * 24 * 3600;
    let stored = Stored {
        entry: entry.clone(),
        actor_key,
        target_ids: entry.targets.iter().map(|target| target.id.clone()).collect(),
        // Entries are written in the request that makes them.
        expires_at: state.now().unix_timestamp() + retention,
    };
    (key, stored)
}

/// The write of `entry`, for the transaction that makes the change it tells of.
pub fn put(state: &AppState, tenant: &Tenant, entry: &Entry) -> Result<Write, DbError> {
    let (key, stored) = stored(state, tenant, entry);
    Ok(Write::Put(state.db.put_new(&key, &stored)?))
}

/// Writes `entry` on its own: for what changes nothing else (a sign-in, a
/// failed one, a read of the log).
pub async fn record(state: &AppState, tenant: &Tenant, entry: &Entry) -> Result<(), DbError> {
    let (key, stored) = stored(state, tenant, entry);
    state.db.create(&key, &stored).await
}

/// Which entries a page holds.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub action: Option<Action>,
    /// `actor.id`.
    pub actor_id: Option<String>,
    /// The id of one of `targets`.
    pub target_id: Option<String>,
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
}

impl Filter {
    fn condition(&self) -> Option<Condition<Stored>> {
        let conditions = [
            self.action.map(|action| Condition::equals(ACTION, &action)),
            self.actor_id.as_deref().map(|actor| Condition::equals(ACTOR_KEY, actor)),
            self.target_id.as_ref().map(|target| Condition::contains(TARGET_IDS, target)),
        ];
        conditions.into_iter().flatten().reduce(Condition::and)
    }

    /// The ids an entry of the time range may have, lowest and highest.
    fn window(&self, before: Option<&str>) -> (String, String) {
        let millis = |at: OffsetDateTime| u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        let low = self.from.map_or(0, millis);
        let high = self.to.map_or(u64::MAX >> 16, millis);
        let low = ulid::Ulid::from_parts(low, 0).to_string();
        let high = ulid::Ulid::from_parts(high, u128::MAX).to_string();
        match before {
            Some(before) if before < high.as_str() => (low, before.to_owned()),
            _ => (low, high),
        }
    }
}

/// A page of entries, newest first, and where the next one starts.
#[derive(Debug)]
pub struct Page {
    pub entries: Vec<Entry>,
    /// The id the next page's entries are all older than; none at the end.
    /// A filtered page may be short, even empty, and still have a next.
    pub before: Option<String>,
}

/// Up to `limit` entries that pass `filter`, older than `before` when given.
pub async fn page(
    state: &AppState,
    tenant: &Tenant,
    filter: &Filter,
    limit: usize,
    before: Option<&str>,
) -> Result<Page, DbError> {
    let (low, high) = filter.window(before);
    // One actor's entries are all in one shard.
    let shards: Vec<u32> = match &filter.actor_id {
        Some(actor) => vec![shard(actor)],
        None => (0..SHARDS).collect(),
    };
    let filtered = filter.condition().is_some();
    // One more than a page tells whether another follows.
    let evaluate = if filtered { FILTERED_READ } else { i32::try_from(limit + 1).unwrap_or(i32::MAX) };
    let reads = shards.into_iter().map(|shard| {
        let partition = tenant.audit_log(shard);
        let (low, high) = (low.as_str(), high.as_str());
        async move { state.db.newest_between(&partition, (low, high), filter.condition(), evaluate).await }
    });
    let mut found = Vec::new();
    // Below the highest last key read, some shard is not read yet: only
    // entries from there up are complete.
    let mut complete_from: Option<String> = None;
    for (items, last) in futures_util::future::try_join_all(reads).await? {
        for item in items {
            found.push(Db::decode::<Stored>(item)?);
        }
        if let Some(last) = last {
            complete_from = Some(complete_from.map_or(last.clone(), |bound| bound.max(last)));
        }
    }
    let now = state.now().unix_timestamp();
    // The entry a cursor names was on the page before; TTL deletes lazily.
    found.retain(|stored| {
        Some(stored.entry.id.as_str()) != before
            && stored.expires_at > now
            && complete_from.as_ref().is_none_or(|bound| stored.entry.id >= *bound)
    });
    found.sort_by(|a, b| b.entry.id.cmp(&a.entry.id));
    let mut entries: Vec<Entry> = found.into_iter().map(|stored| stored.entry).collect();
    let before = if entries.len() > limit {
        entries.truncate(limit);
        entries.last().map(|entry| entry.id.clone())
    } else {
        complete_from
    };
    Ok(Page { entries, before })
}

/// The log's entries since a moment, counted by action.
#[derive(Debug)]
pub struct Summary {
    pub by_action: std::collections::BTreeMap<Action, u64>,
    /// False when a shard held more than one read takes.
    pub complete: bool,
}

/// Counts the entries since `since`, reading each shard once (at most
/// [`FILTERED_READ`] entries a shard).
pub async fn summary(state: &AppState, tenant: &Tenant, since: OffsetDateTime) -> Result<Summary, DbError> {
    let (low, high) = Filter { from: Some(since), ..Filter::default() }.window(None);
    let reads = (0..SHARDS).map(|shard| {
        let partition = tenant.audit_log(shard);
        let (low, high) = (low.as_str(), high.as_str());
        async move { state.db.newest_between::<Stored>(&partition, (low, high), None, FILTERED_READ).await }
    });
    let mut summary = Summary { by_action: Default::default(), complete: true };
    for (items, last) in futures_util::future::try_join_all(reads).await? {
        summary.complete &= last.is_none();
        for item in items {
            *summary.by_action.entry(Db::decode::<Stored>(item)?.entry.action).or_default() += 1;
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_range_is_the_ids_of_its_first_and_last_millisecond() {
        let at = |s| OffsetDateTime::from_unix_timestamp(s).unwrap();
        let filter = Filter { from: Some(at(1_800_000_000)), to: Some(at(1_800_000_060)), ..Filter::default() };
        let (low, high) = filter.window(None);
        assert_eq!(ulid::Ulid::from_string(&low).unwrap().timestamp_ms(), 1_800_000_000_000);
        assert_eq!(ulid::Ulid::from_string(&high).unwrap().timestamp_ms(), 1_800_000_060_000);
        let inside = ulid::Ulid::from_datetime(at(1_800_000_030).into()).to_string();
        assert!(low < inside && inside < high);
        // A cursor within the range narrows it; one above it does not widen it.
        assert_eq!(filter.window(Some(&inside)).1, inside);
        assert_eq!(filter.window(Some("ZZZZZZZZZZZZZZZZZZZZZZZZZZ")).1, high);
    }

    #[test]
    fn without_a_filter_there_is_no_condition_and_each_filter_adds_one() {
        assert!(Filter::default().condition().is_none());
        let filter = Filter { action: Some(Action::LoginFailed), target_id: Some("x".into()), ..Filter::default() };
        let rendered = filter.condition().unwrap().render().unwrap();
        assert_eq!(rendered.condition.as_deref(), Some("(#f0 = :v0 AND contains(#f1, :v1))"));
    }
}
