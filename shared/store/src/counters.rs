//! The numbers a dashboard reads, kept exact by the writes they count: each
//! is moved in the same transaction as the write it counts, so a retried or
//! refused write never counts twice or at all.
//!
//! Two kinds, each spread over [`SHARDS`] items (each its own partition)
//! so that a school's busy minute is not one hot item every transaction
//! conflicts on; a number is the sum of its shards:
//! - daily counters ([`Counter`]), what happened on one UTC day, at
//!   `ORG#<org>#DAILY#<day>#<shard>`, kept 400 days; `store::series` rolls
//!   a finished day's shards up into one item;
//! - running totals ([`Total`]), what there is now (members by role,
//!   content by kind and status), at `ORG#<org>#TOTALS#<shard>`.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use domain::consent::ConsentType;
use domain::day::{Day, DayRange};
use domain::ids::{ClassId, UserId};
use domain::principal::Role;
use domain::publication::ContentKind;
use domain::tenancy::{Key, Tenant};
use domain::user::User;

use crate::db::{DbError, Item, Write, number};
use crate::state::AppState;

/// Shard items per counted thing (a day's counters, a tenant's totals, a
/// day's activity, a lesson's or an assessment's statistics). Sized for a
/// district's lesson minute, 100,000 progress reports in 60 s: 16 shards
/// keep each of a lesson's totals at about 200 of DynamoDB's 1,000 write
/// units a second (docs/scale.md).
pub const SHARDS: u32 = 16;

/// Daily counter shards are kept a little over a year (the series keeps
/// what they sum for good).
pub const DAILY_KEPT_DAYS: i64 = 400;
const DAILY_TTL_SECONDS: i64 = DAILY_KEPT_DAYS * 24 * 3600;

/// The shard a user's writes go to: always the same one for one user, so
/// their own writes never contend across shards.
pub fn shard_of(user: &UserId) -> u32 {
    user.to_string().bytes().fold(0u32, |sum, b| sum.wrapping_add(u32::from(b))) % SHARDS
}

/// A set of named numbers kept in the attributes of shard items.
pub trait Tally: Copy + Eq + 'static {
    const ALL: &'static [Self];
    /// The attribute that holds it.
    fn attribute(self) -> &'static str;
}

/// What happened on one UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    Logins,
    /// Members active that day, each counted once (`store::activity::seen`).
    ActiveUsers,
    /// Members whose first activity of that ISO week (Monday to Sunday) was
    /// that day: a week's active members are the sum over its days.
    WeeklyActive,
    /// The same for the calendar month.
    MonthlyActive,
    LessonsCompleted,
    AssessmentsSubmitted,
    MessagesSent,
    ContentGenerated,
    MembersJoined,
    MembersLeft,
    /// Members who became students that day: a week's are its cohort.
    StudentsJoined,
    /// Students whose first activity of that ISO week was that day, by how
    /// many weeks after their cohort's week it is (0 to
    /// [`COHORT_WEEKS`]` - 1`): a cohort's active students in its k-th week
    /// are the sum of `CohortWeek(k)` over that week's days.
    CohortWeek(u8),
}

/// How many weeks a cohort is followed.
pub const COHORT_WEEKS: u8 = 12;

impl Counter {
    /// The cohort counter of a student active in the week starting
    /// `week`, who became a student on `since`; none after the weeks a
    /// cohort is followed.
    pub fn cohort_week(since: Day, week: Day) -> Option<Counter> {
        let age = since.week_start().days_until(week.week_start()) / 7;
        u8::try_from(age).ok().filter(|age| *age < COHORT_WEEKS).map(Counter::CohortWeek)
    }
}

impl Tally for Counter {
    const ALL: &'static [Self] = &[
        Counter::Logins,
        Counter::ActiveUsers,
        Counter::WeeklyActive,
        Counter::MonthlyActive,
        Counter::LessonsCompleted,
        Counter::AssessmentsSubmitted,
        Counter::MessagesSent,
        Counter::ContentGenerated,
        Counter::MembersJoined,
        Counter::MembersLeft,
        Counter::StudentsJoined,
        Counter::CohortWeek(0),
        Counter::CohortWeek(1),
        Counter::CohortWeek(2),
        Counter::CohortWeek(3),
        Counter::CohortWeek(4),
        Counter::CohortWeek(5),
        Counter::CohortWeek(6),
        Counter::CohortWeek(7),
        Counter::CohortWeek(8),
        Counter::CohortWeek(9),
        Counter::CohortWeek(10),
        Counter::CohortWeek(11),
    ];

    fn attribute(self) -> &'static str {
        match self {
            Counter::Logins => "logins",
            Counter::ActiveUsers => "active_users",
            Counter::WeeklyActive => "weekly_active",
            Counter::MonthlyActive => "monthly_active",
            Counter::LessonsCompleted => "lessons_completed",
            Counter::AssessmentsSubmitted => "assessments_submitted",
            Counter::MessagesSent => "messages_sent",
            Counter::ContentGenerated => "content_generated",
            Counter::MembersJoined => "members_joined",
            Counter::MembersLeft => "members_left",
            Counter::StudentsJoined => "students_joined",
            // Made only by `Counter::cohort_week`, which stays below COHORT_WEEKS.
            Counter::CohortWeek(week) => COHORT_ATTRIBUTES[usize::from(week.min(COHORT_WEEKS - 1))],
        }
    }
}

const COHORT_ATTRIBUTES: [&str; COHORT_WEEKS as usize] = [
    "cohort_week_0",
    "cohort_week_1",
    "cohort_week_2",
    "cohort_week_3",
    "cohort_week_4",
    "cohort_week_5",
    "cohort_week_6",
    "cohort_week_7",
    "cohort_week_8",
    "cohort_week_9",
    "cohort_week_10",
    "cohort_week_11",
];

/// What happened in one class on one UTC day: the daily counters that
/// have a class, for analytics filtered by class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassCounter {
    LessonsCompleted,
    AssessmentsSubmitted,
    /// Messages to the class's threads.
    MessagesSent,
}

impl Tally for ClassCounter {
    const ALL: &'static [Self] =
        &[ClassCounter::LessonsCompleted, ClassCounter::AssessmentsSubmitted, ClassCounter::MessagesSent];

    fn attribute(self) -> &'static str {
        match self {
            ClassCounter::LessonsCompleted => "lessons_completed",
            ClassCounter::AssessmentsSubmitted => "assessments_submitted",
            ClassCounter::MessagesSent => "messages_sent",
        }
    }
}

/// A class's shards: eight keep a class of a whole district's lesson minute
/// at about 420 write units a second on each (docs/scale.md), and a range
/// of its days at eight Queries.
pub const CLASS_SHARDS: u32 = 8;

/// What a tenant holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Total {
    Members(Role),
    /// Items of the content library (`/content`), lessons or assessments,
    /// drafts or published.
    Content(ContentKind, bool),
    /// Students whose latest decision of a kind grants consent.
    StudentConsents(ConsentType),
}

impl Tally for Total {
    const ALL: &'static [Self] = &[
        Total::Members(Role::Admin),
        Total::Members(Role::Teacher),
        Total::Members(Role::Student),
        Total::Members(Role::Parent),
        Total::Content(ContentKind::Library, false),
        Total::Content(ContentKind::Library, true),
        Total::Content(ContentKind::Lesson, false),
        Total::Content(ContentKind::Lesson, true),
        Total::Content(ContentKind::Assessment, false),
        Total::Content(ContentKind::Assessment, true),
        Total::StudentConsents(ConsentType::Coppa),
        Total::StudentConsents(ConsentType::Ferpa),
        Total::StudentConsents(ConsentType::Gdpr),
    ];

    fn attribute(self) -> &'static str {
        match self {
            Total::Members(Role::Admin) => "members_admin",
            Total::Members(Role::Teacher) => "members_teacher",
            Total::Members(Role::Student) => "members_student",
            Total::Members(Role::Parent) => "members_parent",
            Total::Content(ContentKind::Library, false) => "content_draft",
            Total::Content(ContentKind::Library, true) => "content_published",
            Total::Content(ContentKind::Lesson, false) => "lessons_draft",
            Total::Content(ContentKind::Lesson, true) => "lessons_published",
            Total::Content(ContentKind::Assessment, false) => "assessments_draft",
            Total::Content(ContentKind::Assessment, true) => "assessments_published",
            Total::StudentConsents(ConsentType::Coppa) => "student_consents_coppa",
            Total::StudentConsents(ConsentType::Ferpa) => "student_consents_ferpa",
            Total::StudentConsents(ConsentType::Gdpr) => "student_consents_gdpr",
        }
    }
}

/// One value for each of a [`Tally`]'s numbers: one shard's, or their sum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts<T: Tally> {
    values: Vec<i64>,
    of: PhantomData<T>,
}

impl<T: Tally> Default for Counts<T> {
    fn default() -> Self {
        Self { values: vec![0; T::ALL.len()], of: PhantomData }
    }
}

impl<T: Tally> Counts<T> {
    /// The numbers of a stored item; a missing item or attribute is 0.
    pub fn of_item(item: Option<&Item>) -> Self {
        let read =
            |t: T| item.and_then(|item| item.get(t.attribute())?.as_n().ok()?.parse::<i64>().ok()).unwrap_or_default();
        Self { values: T::ALL.iter().map(|t| read(*t)).collect(), of: PhantomData }
    }

    /// The sum of several shards' numbers.
    pub fn sum<'a>(items: impl IntoIterator<Item = Option<&'a Item>>) -> Self {
        items.into_iter().fold(Self::default(), |mut total, item| {
            total.add(&Self::of_item(item));
            total
        })
    }

    pub fn add(&mut self, other: &Self) {
        self.values.iter_mut().zip(&other.values).for_each(|(a, b)| *a += b);
    }

    pub fn get(&self, t: T) -> i64 {
        T::ALL.iter().position(|each| *each == t).map_or(0, |index| self.values[index])
    }

    /// Every number under its attribute name, for an item that keeps them.
    pub fn attributes(&self) -> impl Iterator<Item = (&'static str, i64)> + '_ {
        T::ALL.iter().zip(&self.values).map(|(t, value)| (t.attribute(), *value))
    }
}

/// The update adding `moves` to one shard item; `expires_at` is set once.
fn add<T: Tally>(state: &AppState, key: &Key, moves: &[(T, i64)], expires_at: Option<i64>) -> Result<Write, DbError> {
    let names: Vec<(String, &str)> =
        moves.iter().enumerate().map(|(index, (t, _))| (format!("#c{index}"), t.attribute())).collect();
    let mut values: Vec<(String, _)> =
        moves.iter().enumerate().map(|(index, (_, by))| (format!(":c{index}"), number(by))).collect();
    let adds: Vec<String> = (0..moves.len()).map(|index| format!("#c{index} :c{index}")).collect();
    let mut expression = format!("ADD {}", adds.join(", "));
    if let Some(at) = expires_at {
        expression.push_str(" SET expires_at = if_not_exists(expires_at, :expires)");
        values.push((":expires".to_owned(), number(at)));
    }
    let names: Vec<(&str, &str)> = names.iter().map(|(a, b)| (a.as_str(), *b)).collect();
    let values: Vec<(&str, _)> = values.iter().map(|(name, value)| (name.as_str(), value.clone())).collect();
    Ok(Write::Update(state.db.update(key, &expression, None, &names, values)?))
}

/// A write adding to today's counters, for the transaction of the write
/// it counts, in the shard of `user` (the one who acts).
pub fn count(state: &AppState, tenant: &Tenant, user: &UserId, moves: &[(Counter, i64)]) -> Result<Write, DbError> {
    let now = state.now();
    let key = tenant.daily_counter(&Day::of(now), shard_of(user));
    add(state, &key, moves, Some(now.unix_timestamp() + DAILY_TTL_SECONDS))
}

/// A write adding to today's counters of `class`, for the transaction of
/// the write it counts, in the shard of `user` (the one who acts).
pub fn count_in_class(
    state: &AppState,
    tenant: &Tenant,
    class: &ClassId,
    user: &UserId,
    moves: &[(ClassCounter, i64)],
) -> Result<Write, DbError> {
    let now = state.now();
    let key = tenant.class_day(class, shard_of(user) % CLASS_SHARDS, &Day::of(now));
    add(state, &key, moves, Some(now.unix_timestamp() + DAILY_TTL_SECONDS))
}

/// A class's counters for each day of `range` that has any (a missing day
/// had none): one Query per shard, all at once.
pub async fn class_days(
    state: &AppState,
    tenant: &Tenant,
    class: &ClassId,
    range: DayRange,
) -> Result<BTreeMap<Day, Counts<ClassCounter>>, DbError> {
    let (low, high) = (tenant.class_day(class, 0, &range.from()).sk, tenant.class_day(class, 0, &range.to()).sk);
    let shards = (0..CLASS_SHARDS).map(|shard| {
        let partition = tenant.class_days(class, shard);
        let (low, high) = (low.clone(), high.clone());
        async move { state.db.query_between(&partition, &low, &high).await }
    });
    let mut days: BTreeMap<Day, Counts<ClassCounter>> = BTreeMap::new();
    for item in futures_util::future::try_join_all(shards).await?.into_iter().flatten() {
        let day = item.get("sk").and_then(|sk| sk.as_s().ok()?.strip_prefix(Tenant::SERIES_DAY_PREFIX)?.parse().ok());
        if let Some(day) = day {
            days.entry(day).or_default().add(&Counts::of_item(Some(&item)));
        }
    }
    Ok(days)
}

/// A write moving the tenant's totals, for the transaction of the write
/// that changes what they count, in the shard of `user`.
pub fn total(state: &AppState, tenant: &Tenant, user: &UserId, moves: &[(Total, i64)]) -> Result<Write, DbError> {
    add(state, &tenant.totals(shard_of(user)), moves, None)
}

/// The consent totals a member moves by `by` (each kind their latest
/// decision grants): `-1` when they stop being a student, `1` when they
/// become one.
pub fn student_consents(user: &User, by: i64) -> Vec<(Total, i64)> {
    user.consents_granted().map(|kind| (Total::StudentConsents(kind), by)).collect()
}

/// The change from `from` to `to` in percent of `from`, to one decimal;
/// none from 0.
pub fn percent_change(from: i64, to: i64) -> Option<f64> {
    (from != 0).then(|| ((to - from) as f64 * 1000.0 / from as f64).round() / 10.0)
}

/// How often at most a tenant's staff are told its numbers moved.
pub const ANNOUNCE_EVERY_SECONDS: i64 = 5;

/// The tenant whose dashboard numbers the partition `pk` holds (a daily
/// counter or totals shard), if it holds any.
pub fn counted_in(pk: &str) -> Option<Tenant> {
    let tenant = Tenant::owning(pk)?;
    let rest = pk.strip_prefix(&tenant.prefix())?;
    (rest.starts_with("#DAILY#") || rest.starts_with("#TOTALS#")).then_some(tenant)
}

/// Claims the tenant's next announcement that its numbers moved: true for
/// at most one caller in any [`ANNOUNCE_EVERY_SECONDS`], however many run
/// at once (a conditional write decides).
pub async fn claim_announcement(state: &AppState, tenant: &Tenant) -> Result<bool, DbError> {
    let now = state.now().unix_timestamp();
    let claim = state.db.update(
        &tenant.dashboard_announcement(),
        "SET announced_at = :now",
        Some("attribute_not_exists(announced_at) OR announced_at <= :before"),
        &[],
        vec![(":now", number(now)), (":before", number(now - ANNOUNCE_EVERY_SECONDS))],
    )?;
    match state.db.run_update(claim).await {
        Ok(_) => Ok(true),
        Err(DbError::ConditionFailed) => Ok(false),
        Err(err) => Err(err),
    }
}

/// The shards of a tenant's totals, to read in one batch.
pub fn totals_keys(tenant: &Tenant) -> Vec<Key> {
    (0..SHARDS).map(|shard| tenant.totals(shard)).collect()
}

/// The shards of one day's counters.
pub fn daily_keys(tenant: &Tenant, day: Day) -> Vec<Key> {
    (0..SHARDS).map(|shard| tenant.daily_counter(&day, shard)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_number_has_its_own_attribute() {
        fn distinct<T: Tally>() {
            let mut names: Vec<_> = T::ALL.iter().map(|t| t.attribute()).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), T::ALL.len());
        }
        distinct::<Counter>();
        distinct::<Total>();
    }

    #[test]
    fn only_counter_and_totals_partitions_count() {
        let tenant = Tenant::for_new_organization();
        assert_eq!(counted_in(&tenant.totals(2).pk), Some(tenant.clone()));
        assert_eq!(counted_in(&tenant.daily_counter(&"2026-12-05".parse().unwrap(), 0).pk), Some(tenant.clone()));
        assert_eq!(counted_in(&tenant.user_partition(&UserId::new())), None);
        assert_eq!(counted_in(&tenant.series_partition()), None);
    }

    #[test]
    fn shards_sum_by_attribute_and_missing_ones_count_zero() {
        let shard = |logins: &str| -> Item {
            [("logins".to_owned(), number(logins)), ("sk".to_owned(), crate::db::string("COUNT"))].into()
        };
        let (a, b) = (shard("2"), shard("5"));
        let sum = Counts::<Counter>::sum([Some(&a), None, Some(&b)]);
        assert_eq!(sum.get(Counter::Logins), 7);
        assert_eq!(sum.get(Counter::MessagesSent), 0);
    }
}
