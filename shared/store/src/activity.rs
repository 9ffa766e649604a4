//! What happened in a tenant, for its dashboard: activity feeds
//! ([`record`], [`page`]), and who was active on which day ([`seen`]).
//!
//! Each event is written to the organisation's feed and to the feed of
//! each teacher it concerns (the teacher of a class it happened in, or the
//! teacher who did it), each feed spread over [`FEED_SHARDS`] partitions by
//! actor, kept 90 days. A page of a feed is one Query per shard, merged by
//! event id (a ULID, which sorts by time).
//!
//! The event follows the write it describes (one BatchWriteItem after the
//! commit): a write that succeeded is never answered with an error because
//! its feed entry could not be added; such a miss is logged.

use serde::{Deserialize, Serialize};

use crate::counters::{Counter, count, shard_of};
use crate::db::{Db, DbError, Item, Write};
use crate::records::{Changes, Condition};
use crate::state::AppState;
use domain::audit_log::StateChange;
use domain::class::Class;
use domain::clock::rfc3339;
use domain::day::Day;
use domain::ids::{ClassId, UserId};
use domain::principal::{Principal, Role};
use domain::tenancy::{Key, Tenant};
use domain::user::{User, field};

/// Activity events are kept this long (DynamoDB's TTL removes them).
const EVENT_TTL_SECONDS: i64 = 90 * 24 * 3600;

/// Counts `user` active today, once a day: on their first sign-in or
/// session renewal of a UTC day (an access token lasts 15 minutes, so
/// anyone using the app does one or the other at least that often), today's
/// active members go up by one, and this week's and this month's when it is
/// also their first of those. The user item remembers the day, and the
/// counters move only if it still holds the day read: of two requests at
/// the same moment, one counts. A failure is logged; their next renewal
/// counts them.
pub async fn seen(state: &AppState, tenant: &Tenant, user: &User) {
    if let Err(err) = count_active(state, tenant, user).await {
        tracing::warn!(error = %err, "active member not counted");
    }
}

async fn count_active(state: &AppState, tenant: &Tenant, user: &User) -> Result<(), DbError> {
    let today = Day::of(state.now());
    let last = user.last_active_day;
    if last.is_some_and(|day| day >= today) {
        return Ok(());
    }
    let mut moves = vec![(Counter::ActiveUsers, 1)];
    if last.is_none_or(|day| day.week_start() != today.week_start()) {
        moves.push((Counter::WeeklyActive, 1));
        if let Some(since) = user.student_since.filter(|_| user.role == Role::Student) {
            moves.extend(Counter::cohort_week(since, today).map(|cohort| (cohort, 1)));
        }
    }
    if last.is_none_or(|day| day.month_start() != today.month_start()) {
        moves.push((Counter::MonthlyActive, 1));
    }
    let unchanged = match &last {
        Some(day) => Condition::equals(field::LAST_ACTIVE_DAY, day),
        None => Condition::absent(field::LAST_ACTIVE_DAY),
    };
    let mark = Changes::new().set(field::LAST_ACTIVE_DAY, &today).when(Condition::exists().and(unchanged));
    let writes = vec![
        Write::Update(state.db.update_with(&tenant.user(&user.id), mark)?),
        count(state, tenant, &user.id, &moves)?,
    ];
    match state.db.transact(writes).await {
        // Another request of theirs counted today first.
        Ok(()) => Ok(()),
        Err(DbError::Cancelled { failed }) if !failed.is_empty() => Ok(()),
        Err(err) => Err(err),
    }
}

/// The partitions of one feed. Four keep the district's lesson minute
/// (every student completing a lesson within 60 s) at about 420 of a
/// partition's 1,000 write units a second (docs/scale.md), and a page at
/// four Queries.
pub const FEED_SHARDS: u32 = 4;

/// Whose feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feed {
    /// Everything that happened in the organisation: for its admins.
    Organization,
    /// What happened in the classes a teacher teaches, and what they did.
    Teacher(UserId),
}

impl Feed {
    fn partition(&self, tenant: &Tenant, shard: u32) -> String {
        match self {
            Feed::Organization => tenant.organization_feed(shard),
            Feed::Teacher(teacher) => tenant.teacher_feed(teacher, shard),
        }
    }

    /// Names the feed in a cursor, so one feed's cursor cannot page another.
    pub fn name(&self) -> String {
        match self {
            Feed::Organization => "activity".into(),
            Feed::Teacher(teacher) => format!("activity?teacher={teacher}"),
        }
    }

    /// The partition a cursor of this feed carries (its first shard's).
    pub fn first_partition(&self, tenant: &Tenant) -> String {
        self.partition(tenant, 0)
    }
}

/// One thing that happened: who did what to which item, in which classes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActivityEvent {
    pub id: String,
    /// `class.created`, `lesson.completed`, `message.sent`, …
    pub kind: String,
    /// The member who did it; none when the payment provider's verified
    /// event did (`billing.*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<UserId>,
    /// For a change of state, the values before and after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<StateChange>,
    /// The id of the item it happened to.
    pub subject_id: String,
    /// The classes it happened in, if any.
    #[serde(default)]
    pub class_ids: Vec<ClassId>,
    pub at: String,
    pub expires_at: i64,
}

/// A class an event happened in, and who teaches it.
pub type InClass<'a> = (&'a ClassId, &'a UserId);

/// Each of `classes`, as an event's classes.
pub fn in_classes(classes: &[Class]) -> Vec<InClass<'_>> {
    classes.iter().map(|class| (&class.id, &class.teacher_id)).collect()
}

/// Who did what an event tells of: a caller, or a student playing in a
/// Roblox environment, whose game server reports for them.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub user_id: &'a UserId,
    pub role: Role,
}

impl<'a> From<&'a Principal> for Actor<'a> {
    fn from(principal: &'a Principal) -> Self {
        Self { user_id: &principal.user_id, role: principal.role }
    }
}

/// Adds an event to the organisation's feed and to the feeds of the
/// teachers of `classes` (and of the actor, if a teacher) after a committed
/// write; a failure is logged, not returned (see the module's notes).
pub async fn record<'a>(
    state: &AppState,
    tenant: &Tenant,
    actor: impl Into<Actor<'a>>,
    kind: &str,
    subject: impl std::fmt::Display,
    classes: &[InClass<'_>],
) {
    let actor = actor.into();
    let now = state.now();
    let mut class_ids: Vec<ClassId> = Vec::new();
    let mut feeds = vec![Feed::Organization];
    let actor_teaches = (actor.role == Role::Teacher).then_some(actor.user_id);
    for teacher in classes.iter().map(|(_, teacher)| *teacher).chain(actor_teaches) {
        let feed = Feed::Teacher(teacher.clone());
        if !feeds.contains(&feed) {
            feeds.push(feed);
        }
    }
    for (class, _) in classes {
        if !class_ids.contains(class) {
            class_ids.push((*class).clone());
        }
    }
    let event = ActivityEvent {
        id: ulid::Ulid::from_datetime(now.into()).to_string(),
        kind: kind.to_owned(),
        actor_id: Some(actor.user_id.clone()),
        changes: None,
        subject_id: subject.to_string(),
        class_ids,
        at: rfc3339(now),
        expires_at: now.unix_timestamp() + EVENT_TTL_SECONDS,
    };
    write(state, tenant, &feeds, shard_of(actor.user_id) % FEED_SHARDS, &event).await;
}

/// Adds a change the payment provider made (a tier, a billing status) to
/// the organisation's feed, with the values before and after it.
pub async fn record_billing(state: &AppState, tenant: &Tenant, kind: &str, subject: &str, changes: StateChange) {
    let now = state.now();
    let event = ActivityEvent {
        id: ulid::Ulid::from_datetime(now.into()).to_string(),
        kind: kind.to_owned(),
        actor_id: None,
        changes: Some(changes),
        subject_id: subject.to_owned(),
        class_ids: Vec::new(),
        at: rfc3339(now),
        expires_at: now.unix_timestamp() + EVENT_TTL_SECONDS,
    };
    write(state, tenant, &[Feed::Organization], 0, &event).await;
}

async fn write(state: &AppState, tenant: &Tenant, feeds: &[Feed], shard: u32, event: &ActivityEvent) {
    let items: Result<Vec<Item>, DbError> =
        feeds.iter().map(|feed| Db::item(&Key::new(feed.partition(tenant, shard), event.id.clone()), event)).collect();
    if let Err(err) = async { state.db.batch_write(items?, Vec::new()).await }.await {
        tracing::warn!(error = %err, kind = event.kind, "activity event not recorded");
    }
}

/// As [`record`], for an event about an item published to `class_ids`
/// whose classes the write did not read (an edit, a deletion): they are
/// read first, in one BatchGetItem, so that each class's teacher hears of
/// it, whoever acted.
pub async fn record_published(
    state: &AppState,
    tenant: &Tenant,
    actor: &Principal,
    kind: &str,
    subject: impl std::fmt::Display,
    class_ids: &[ClassId],
) {
    let mut classes = Vec::new();
    if !class_ids.is_empty() {
        let keys: Vec<Key> = class_ids.iter().map(|class| tenant.class(class)).collect();
        match state.db.batch_get(&keys).await {
            Ok(found) => {
                classes = found.into_iter().flatten().filter_map(|item| Db::decode::<Class>(item).ok()).collect()
            }
            Err(err) => tracing::warn!(error = %err, kind, "the classes of an activity event not read"),
        }
    }
    record(state, tenant, actor, kind, subject, &in_classes(&classes)).await;
}

/// Up to `limit` events of `feed`, newest first, older than the event
/// `before` when given; and whether there are more.
pub async fn page(
    state: &AppState,
    tenant: &Tenant,
    feed: &Feed,
    limit: usize,
    before: Option<&str>,
) -> Result<(Vec<ActivityEvent>, bool), DbError> {
    // One more from each shard tells whether another page follows.
    let asked = i32::try_from(limit + 1).unwrap_or(i32::MAX);
    let shards = (0..FEED_SHARDS).map(|shard| {
        let partition = feed.partition(tenant, shard);
        async move { state.db.newest_before::<ActivityEvent>(&partition, before, asked).await }
    });
    let mut events: Vec<ActivityEvent> =
        futures_util::future::try_join_all(shards).await?.into_iter().flatten().collect();
    // DynamoDB's TTL deletes an expired event lazily: it is left out here.
    let now = state.now().unix_timestamp();
    events.retain(|event| event.expires_at > now);
    events.sort_by(|a, b| b.id.cmp(&a.id));
    let more = events.len() > limit;
    events.truncate(limit);
    Ok((events, more))
}
