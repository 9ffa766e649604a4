//! The daily counters over a range of days, one point a day.

use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use domain::day::{Day, DayRange};
use domain::tenancy::Tenant;
use serde::Serialize;
use store::AppState;
use store::counters::Counter;
use store::series::{self, DayCounts};
use utoipa::ToSchema;
use web::cache::{self, Asked};
use web::envelope::Success;
use web::error::{AppError, AppResult};
use web::extract::{Staff, query_param};
use web::openapi::*;

/// What happened on one UTC day.
#[derive(Debug, Serialize, ToSchema)]
pub struct DayPoint {
    date: Day,
    logins: i64,
    /// Members active that day (signed in, renewed a session or signed up).
    active_users: i64,
    lessons_completed: i64,
    assessments_submitted: i64,
    messages_sent: i64,
    content_generated: i64,
}

impl DayPoint {
    fn of(date: Day, counts: &DayCounts) -> Self {
        Self {
            date,
            logins: counts.get(Counter::Logins),
            active_users: counts.get(Counter::ActiveUsers),
            lessons_completed: counts.get(Counter::LessonsCompleted),
            assessments_submitted: counts.get(Counter::AssessmentsSubmitted),
            messages_sent: counts.get(Counter::MessagesSent),
            content_generated: counts.get(Counter::ContentGenerated),
        }
    }

    /// The columns of a CSV export, in the order of [`DayPoint::cells`].
    pub const COLUMNS: [&str; 7] = [
        "date",
        "logins",
        "active_users",
        "lessons_completed",
        "assessments_submitted",
        "messages_sent",
        "content_generated",
    ];

    pub fn cells(&self) -> Vec<String> {
        let numbers = [
            self.logins,
            self.active_users,
            self.lessons_completed,
            self.assessments_submitted,
            self.messages_sent,
            self.content_generated,
        ];
        std::iter::once(self.date.to_string()).chain(numbers.iter().map(i64::to_string)).collect()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Statistics {
    pub from: Day,
    pub to: Day,
    /// One point for each day from `from` through `to`, zeros included.
    pub points: Vec<DayPoint>,
}

/// The days from `from` through `to` (UTC, both included): by default the
/// 30 days that end with `to`, which is by default today.
pub fn range_of(from: Option<Day>, to: Option<Day>, today: Day) -> Result<DayRange, domain::Error> {
    let to = to.unwrap_or(today);
    match from {
        Some(from) => DayRange::new(from, to),
        None => DayRange::ending(to, 30),
    }
}

/// The days `?from=` and `?to=` name (`YYYY-MM-DD`).
fn asked_range(uri: &Uri, today: Day) -> AppResult<DayRange> {
    let day = |name: &str| -> AppResult<Option<Day>> {
        query_param(uri, name)?
            .map(|raw| raw.parse::<Day>().map_err(|why| AppError::BadRequest(format!("{name} {why}"))))
            .transpose()
    };
    Ok(range_of(day("from")?, day("to")?, today)?)
}

/// The statistics of `range`: one point a day.
pub async fn compute(state: &AppState, tenant: &Tenant, range: DayRange) -> AppResult<Statistics> {
    let days = series::over(state, tenant, range).await?;
    let points = days.iter().map(|(day, counts)| DayPoint::of(*day, counts)).collect();
    Ok(Statistics { from: range.from(), to: range.to(), points })
}

/// The daily counters (sign-ins, active members, lessons completed,
/// assessments submitted, messages sent, content generated) for a range of
/// UTC days, at most 366. Days before the organization existed, and after
/// today, are zeros.
#[utoipa::path(
    get,
    path = "/api/v1/dashboard/statistics",
    operation_id = "get_dashboard_statistics",
    tag = "dashboard",
    params(
        ("from" = Option<Day>, Query, description = "The first day, `YYYY-MM-DD` (UTC); by default 29 days before `to`"),
        ("to" = Option<Day>, Query, description = "The last day, `YYYY-MM-DD` (UTC); by default today"),
    ),
    responses(
        (status = 200, description = "One point per day", body = Success<Statistics>),
        (status = 304, description = "Unchanged since the `ETag` sent"),
        ReadList,
        (status = 503, response = Unavailable),
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])), ("x-scopes" = json!(["analytics:read"])))
)]
pub async fn statistics(
    State(state): State<AppState>,
    Staff(_, tenant): Staff,
    headers: HeaderMap,
    uri: Uri,
) -> AppResult<Response> {
    let range = asked_range(&uri, Day::of(state.now()))?;
    let (from, to) = (range.from().to_string(), range.to().to_string());
    let asked = Asked { tenant: &tenant, route: "statistics", params: &[&from, &to] };
    cache::answer(&state, &headers, asked, compute(&state, &tenant, range)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(query: &str) -> AppResult<DayRange> {
        asked_range(&format!("/api/v1/dashboard/statistics?{query}").parse().unwrap(), "2026-12-05".parse().unwrap())
    }

    #[test]
    fn a_range_defaults_to_the_30_days_ending_today() {
        let default = range("").unwrap();
        assert_eq!((default.from().to_string(), default.to().to_string()), ("2026-11-06".into(), "2026-12-05".into()));
        assert_eq!(range("from=2026-12-01&to=2026-12-07").unwrap().days().count(), 7);
    }

    #[test]
    fn bad_dates_and_ranges_are_a_400() {
        for query in
            ["from=yesterday", "to=2026-13-01", "from=2026-12-05&to=2026-12-04", "from=2025-01-01&to=2026-01-02"]
        {
            assert!(matches!(range(query), Err(AppError::BadRequest(_))), "{query}");
        }
    }
}
