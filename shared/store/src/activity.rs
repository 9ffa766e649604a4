//! What happened in a tenant, for its dashboard: one activity event per
//! write (`ORG#<org>#ACTIVITY#<day>#<shard> / <ulid>`, newest last, kept 90
//! days), and who was active on which day ([`seen`]).
//!
//! The event follows the write it describes (one PutItem after the commit):
//! a write that succeeded is never answered with an error because its feed
//! entry could not be added; such a miss is logged.

use serde::{Deserialize, Serialize};

use crate::counters::{Counter, count, shard_of};
use crate::db::{DbError, Write};
use crate::records::{Changes, Condition};
use crate::state::AppState;
use domain::clock::rfc3339;
use domain::day::Day;
use domain::ids::UserId;
use domain::tenancy::Tenant;
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

/// One thing that happened: who did what to which item.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActivityEvent {
    pub id: String,
    /// `class.created`, `lesson.completed`, `message.sent`, …
    pub kind: String,
    pub actor_id: UserId,
    /// The id of the item it happened to.
    pub subject_id: String,
    pub at: String,
    pub expires_at: i64,
}

/// Adds an event to the tenant's feed after a committed write; a failure is
/// logged, not returned (see the module's notes).
pub async fn record(state: &AppState, tenant: &Tenant, actor: &UserId, kind: &str, subject: impl std::fmt::Display) {
    let now = state.now();
    let id = ulid::Ulid::from_datetime(now.into()).to_string();
    let event = ActivityEvent {
        kind: kind.to_owned(),
        actor_id: actor.clone(),
        subject_id: subject.to_string(),
        at: rfc3339(now),
        expires_at: now.unix_timestamp() + EVENT_TTL_SECONDS,
        id,
    };
    if let Err(err) = state.db.create(&tenant.activity(&Day::of(now), shard_of(actor), &event.id), &event).await {
        tracing::warn!(error = %err, kind, "activity event not recorded");
    }
}
