//! The numbers of a dashboard's first screen: members, content and
//! engagement, from one read of the totals, today's counters and the last
//! 30 days of the series.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use domain::day::Day;
use domain::principal::Role;
use domain::publication::ContentKind;
use domain::tenancy::Tenant;
use serde::Serialize;
use store::AppState;
use store::counters::{self, Counter, Counts, Total};
use store::series::{self, DayCounts};
use utoipa::ToSchema;
use web::cache::{self, Asked};
use web::envelope::Success;
use web::error::AppResult;
use web::extract::Staff;
use web::openapi::*;

/// The days `growth_pct` compares over.
const GROWTH_DAYS: i64 = 30;

#[derive(Debug, Serialize, ToSchema)]
pub struct Metrics {
    users: Users,
    content: Content,
    engagement: Engagement,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Users {
    /// Members now.
    total: i64,
    /// Members active this ISO week (Monday to Sunday, UTC): signed in,
    /// renewed a session or signed up.
    active: i64,
    /// The change in members over the last 30 days, in percent of the
    /// members 30 days ago (one decimal); null when there were none.
    growth_pct: Option<f64>,
    by_role: ByRole,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ByRole {
    admin: i64,
    teacher: i64,
    student: i64,
    parent: i64,
}

/// Lessons, assessments and the content library together, and each alone.
#[derive(Debug, Serialize, ToSchema)]
pub struct Content {
    total: i64,
    published: i64,
    draft: i64,
    lessons: Shelf,
    assessments: Shelf,
    /// Generated and written content (`/content`).
    library: Shelf,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Shelf {
    published: i64,
    draft: i64,
}

/// Activity, counted once per member per day, week or month. How long a
/// session lasts is not reported: a session has no end the platform sees
/// (a client simply stops renewing it), so any average would be invented.
#[derive(Debug, Serialize, ToSchema)]
pub struct Engagement {
    /// Members active today (UTC).
    daily_active: i64,
    /// Members active this ISO week.
    weekly_active: i64,
    /// Members active this calendar month.
    monthly_active: i64,
    logins_today: i64,
    lessons_completed_today: i64,
    assessments_submitted_today: i64,
    messages_sent_today: i64,
    content_generated_today: i64,
}

fn shelf(totals: &Counts<Total>, kind: ContentKind) -> Shelf {
    Shelf { published: totals.get(Total::Content(kind, true)), draft: totals.get(Total::Content(kind, false)) }
}

impl Metrics {
    fn of(today: Day, totals: &Counts<Total>, days: &BTreeMap<Day, DayCounts>) -> Self {
        let since = |first: Day, counter: Counter| -> i64 { days.range(first..).map(|(_, c)| c.get(counter)).sum() };
        let on_today = |counter: Counter| days.get(&today).map_or(0, |c| c.get(counter));
        let member = |role: Role| totals.get(Total::Members(role));
        let by_role = ByRole {
            admin: member(Role::Admin),
            teacher: member(Role::Teacher),
            student: member(Role::Student),
            parent: member(Role::Parent),
        };
        let total = by_role.admin + by_role.teacher + by_role.student + by_role.parent;
        let window = today.plus(1 - GROWTH_DAYS);
        let before = total - since(window, Counter::MembersJoined) + since(window, Counter::MembersLeft);
        let growth_pct = if before > 0 { counters::percent_change(before, total) } else { None };
        let shelves = ContentKind::ALL.map(|kind| shelf(totals, kind));
        let [library, lessons, assessments] = shelves;
        let published = library.published + lessons.published + assessments.published;
        let draft = library.draft + lessons.draft + assessments.draft;
        let weekly_active = since(today.week_start(), Counter::WeeklyActive);
        Self {
            users: Users { total, active: weekly_active, growth_pct, by_role },
            content: Content { total: published + draft, published, draft, lessons, assessments, library },
            engagement: Engagement {
                daily_active: on_today(Counter::ActiveUsers),
                weekly_active,
                monthly_active: since(today.month_start(), Counter::MonthlyActive),
                logins_today: on_today(Counter::Logins),
                lessons_completed_today: on_today(Counter::LessonsCompleted),
                assessments_submitted_today: on_today(Counter::AssessmentsSubmitted),
                messages_sent_today: on_today(Counter::MessagesSent),
                content_generated_today: on_today(Counter::ContentGenerated),
            },
        }
    }
}

/// Members by role, content by kind and status, and who was active today,
/// this week and this month: exact, from totals and counters that every
/// write they count moves in its own transaction. Kept 5 minutes
/// (`metadata.cache_ttl`), or until `dashboard.updated` says the numbers
/// moved; `Cache-Control: no-cache` computes it again.
#[utoipa::path(
    get,
    path = "/api/v1/dashboard/metrics",
    operation_id = "get_dashboard_metrics",
    tag = "dashboard",
    responses(
        (status = 200, description = "The organization's numbers", body = Success<Metrics>),
        (status = 304, description = "Unchanged since the `ETag` sent"),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 503, response = Unavailable),
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])), ("x-scopes" = json!(["analytics:read"])))
)]
pub async fn metrics(
    State(state): State<AppState>,
    Staff(_, tenant): Staff,
    headers: HeaderMap,
) -> AppResult<Response> {
    let today = Day::of(state.now());
    let day = today.to_string();
    let asked = Asked { tenant: &tenant, route: "metrics", params: &[&day] };
    cache::answer(&state, &headers, asked, compute(&state, &tenant, today)).await
}

/// The metrics as they stand: one read of the totals and the days they
/// need (the growth window, this month and this week: at most 31).
pub async fn compute(state: &AppState, tenant: &Tenant, today: Day) -> AppResult<Metrics> {
    let first = today.plus(1 - GROWTH_DAYS).min(today.month_start()).min(today.week_start());
    let days: Vec<Day> = first.through(today).collect();
    let (counts, totals) = series::by_day(state, tenant, &days, &counters::totals_keys(tenant)).await?;
    let totals = Counts::<Total>::sum(totals.iter().map(Option::as_ref));
    Ok(Metrics::of(today, &totals, &counts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_compares_members_now_with_30_days_ago_and_is_null_from_none() {
        let today: Day = "2026-12-05".parse().unwrap();
        let member_item =
            |attribute: &str, n: i64| store::db::Item::from([(attribute.to_owned(), store::db::number(n))]);
        let totals = Counts::<Total>::of_item(Some(&member_item("members_student", 12)));
        let joined = |n: i64| Counts::<Counter>::of_item(Some(&member_item("members_joined", n)));
        // Two joined today, one 29 days ago (in the window), five 30 days ago (not).
        let days = BTreeMap::from([(today, joined(2)), (today.plus(-29), joined(1)), (today.plus(-30), joined(5))]);
        let metrics = Metrics::of(today, &totals, &days);
        assert_eq!(metrics.users.total, 12);
        assert_eq!(metrics.users.growth_pct, Some(33.3));
        let all_new = BTreeMap::from([(today, joined(12))]);
        assert_eq!(Metrics::of(today, &totals, &all_new).users.growth_pct, None);
    }
}
