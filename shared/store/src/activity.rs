//! What happened in a tenant, for its dashboard: one activity event per
//! write (`ORG#<org>#ACTIVITY#<day>#<shard> / <ulid>`, newest last, kept 90 days) and the daily
//! counters the dashboard's totals read (`ORG#<org>#DAILY#<day>#<shard>`).
//!
//! A counter is moved in the same transaction as the write it counts, so a
//! total is exact: a retried or refused write never counts twice or at all.
//! Counters are spread over a few shard items per day, so that a school's
//! busy minute is not one hot item that every transaction conflicts on; the
//! day's total is the sum of its shards.
//!
//! The event follows the write it describes (one PutItem after the commit):
//! a write that succeeded is never answered with an error because its feed
//! entry could not be added; such a miss is logged.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::db::{DbError, Write, number};
use crate::state::AppState;
use domain::clock::rfc3339;
use domain::ids::UserId;
use domain::tenancy::Tenant;

/// Activity events are kept this long (DynamoDB's TTL removes them).
const EVENT_TTL_SECONDS: i64 = 90 * 24 * 3600;
/// Daily counters are kept a little over a year, for year-on-year trends.
const COUNTER_TTL_SECONDS: i64 = 400 * 24 * 3600;
/// Shard items per counted thing (a day's counters and activity, a lesson's
/// or an assessment's totals), each a partition of its own: concurrent
/// writers mostly meet different items. Sized for a district's lesson
/// minute, 100,000 progress reports in 60 s: 16 shards keep each of a
/// lesson's totals at about 200 of DynamoDB's 1,000 write units a second
/// (docs/scale.md).
pub const COUNTER_SHARDS: u32 = 16;

/// The shard a user's writes go to: always the same one for one user, so
/// their own writes never contend across shards.
pub fn shard_of(user: &UserId) -> u32 {
    user.to_string().bytes().fold(0u32, |sum, b| sum.wrapping_add(u32::from(b))) % COUNTER_SHARDS
}

/// The totals the dashboard counts per day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    Logins,
    LessonsCompleted,
    AssessmentsSubmitted,
    MessagesSent,
}

impl Counter {
    pub const ALL: [Counter; 4] =
        [Counter::Logins, Counter::LessonsCompleted, Counter::AssessmentsSubmitted, Counter::MessagesSent];

    /// The attribute of the day's shard items that holds it.
    pub fn attribute(self) -> &'static str {
        match self {
            Counter::Logins => "logins",
            Counter::LessonsCompleted => "lessons_completed",
            Counter::AssessmentsSubmitted => "assessments_submitted",
            Counter::MessagesSent => "messages_sent",
        }
    }
}

/// The UTC day (`YYYY-MM-DD`) a moment falls on.
pub fn day_of(at: OffsetDateTime) -> String {
    let date = at.to_offset(time::UtcOffset::UTC).date();
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

/// A write adding `by` to one of today's counters, for the transaction of
/// the write it counts. The shard follows the user, so one user's writes
/// never contend with each other across shards.
pub fn count(state: &AppState, tenant: &Tenant, counter: Counter, user: &UserId, by: u64) -> Result<Write, DbError> {
    let now = state.now();
    let update = state.db.update(
        &tenant.daily_counter(&day_of(now), shard_of(user)),
        "ADD #counter :by SET expires_at = if_not_exists(expires_at, :expires)",
        None,
        &[("#counter", counter.attribute())],
        vec![(":by", number(by)), (":expires", number(now.unix_timestamp() + COUNTER_TTL_SECONDS))],
    )?;
    Ok(Write::Update(update))
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
    if let Err(err) = state.db.create(&tenant.activity(&day_of(now), shard_of(actor), &event.id), &event).await {
        tracing::warn!(error = %err, kind, "activity event not recorded");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_the_utc_date() {
        let at = time::macros::datetime!(2026-11-27 23:30 -05:00);
        assert_eq!(day_of(at), "2026-11-28");
    }
}
