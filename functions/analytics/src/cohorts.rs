//! Weekly cohorts of new students, and how many of each were active in
//! each week since.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use domain::day::{Day, DayRange};
use serde::Serialize;
use store::AppState;
use store::counters::{COHORT_WEEKS, Counter};
use store::series::{self, DayCounts};
use utoipa::ToSchema;
use web::cache::{self, Asked};
use web::envelope::Success;
use web::error::{AppError, AppResult};
use web::extract::{Staff, query_param};
use web::openapi::*;

const DEFAULT_WEEKS: u8 = 8;

/// The students who became students in one ISO week.
#[derive(Debug, Serialize, ToSchema)]
pub struct Cohort {
    /// The Monday of the week.
    week_start: Day,
    /// How many became students that week (signed up as students, or were
    /// made students for the first time).
    students: i64,
    /// How many of them were active (signed in, renewed a session or signed
    /// up) in the week itself and in each week after it, through the
    /// current one.
    active: Vec<i64>,
    /// `active` in percent of `students` (one decimal); null for a cohort
    /// of none.
    retention_pct: Vec<Option<f64>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Cohorts {
    /// How many weeks, ending with the current one.
    weeks: u8,
    /// Oldest first.
    cohorts: Vec<Cohort>,
}

impl Cohorts {
    fn of(first: Day, weeks: u8, days: &[(Day, DayCounts)]) -> Self {
        let mut by_week: BTreeMap<Day, DayCounts> = BTreeMap::new();
        for (day, counts) in days {
            by_week.entry(day.week_start()).or_default().add(counts);
        }
        let at = |week: Day, counter: Counter| by_week.get(&week).map_or(0, |counts| counts.get(counter));
        let cohorts = (0..weeks)
            .map(|i| {
                let week_start = first.plus(7 * i64::from(i));
                let students = at(week_start, Counter::StudentsJoined);
                let active: Vec<i64> =
                    (0..weeks - i).map(|k| at(week_start.plus(7 * i64::from(k)), Counter::CohortWeek(k))).collect();
                let retention_pct = active
                    .iter()
                    .map(|n| (students > 0).then(|| (*n as f64 * 1000.0 / students as f64).round() / 10.0))
                    .collect();
                Cohort { week_start, students, active, retention_pct }
            })
            .collect();
        Self { weeks, cohorts }
    }
}

/// `?weeks=`: 1 to 12, default 8.
fn weeks_asked(uri: &Uri) -> AppResult<u8> {
    match query_param(uri, "weeks")? {
        None => Ok(DEFAULT_WEEKS),
        Some(raw) => raw
            .parse::<u8>()
            .ok()
            .filter(|n| (1..=COHORT_WEEKS).contains(n))
            .ok_or_else(|| AppError::BadRequest(format!("weeks must be a whole number from 1 to {COHORT_WEEKS}"))),
    }
}

/// The students who joined in each of the last `weeks` ISO weeks (the
/// current one included), and how many of each cohort were active in its
/// first week and every week since: counted when it happens (a student's
/// first activity of a week counts in their cohort's column for that
/// week), so every number is exact. Kept 5 minutes.
#[utoipa::path(
    get,
    path = "/api/v1/analytics/cohorts",
    operation_id = "get_cohorts",
    tag = "analytics",
    params(
        ("weeks" = Option<u8>, Query, minimum = 1, maximum = 12, description = "How many weekly cohorts, ending with the current week (default 8)"),
    ),
    responses(
        (status = 200, description = "The cohorts, oldest first", body = Success<Cohorts>),
        (status = 304, description = "Unchanged since the `ETag` sent"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 503, response = Unavailable),
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])), ("x-scopes" = json!(["analytics:read"])))
)]
pub async fn cohorts(
    State(state): State<AppState>,
    Staff(_, tenant): Staff,
    headers: HeaderMap,
    uri: Uri,
) -> AppResult<Response> {
    let weeks = weeks_asked(&uri)?;
    let today = Day::of(state.now());
    let first = today.week_start().plus(-7 * (i64::from(weeks) - 1));
    let range = DayRange::new(first, today)?;
    let (weeks_text, day) = (weeks.to_string(), today.to_string());
    let asked = Asked { tenant: &tenant, route: "cohorts", params: &[&weeks_text, &day] };
    cache::answer(&state, &headers, asked, async {
        let days = series::over(&state, &tenant, range).await?;
        Ok(Cohorts::of(first, weeks, &days))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{counts, day};

    #[test]
    fn each_cohort_follows_its_own_students_week_by_week() {
        // Weeks of Monday 2026-11-23 and 2026-11-30.
        let days = vec![
            (day("2026-11-23"), counts(&[("students_joined", 3), ("cohort_week_0", 3)])),
            (day("2026-11-25"), counts(&[("students_joined", 1), ("cohort_week_0", 1)])),
            (day("2026-11-30"), counts(&[("students_joined", 2), ("cohort_week_0", 2), ("cohort_week_1", 1)])),
            (day("2026-12-02"), counts(&[("cohort_week_1", 2)])),
        ];
        let cohorts = Cohorts::of(day("2026-11-23"), 2, &days).cohorts;
        assert_eq!((cohorts[0].students, &cohorts[0].active), (4, &vec![4, 3]));
        assert_eq!(cohorts[0].retention_pct, [Some(100.0), Some(75.0)]);
        assert_eq!((cohorts[1].students, &cohorts[1].active), (2, &vec![2]));
        assert_eq!(cohorts[1].week_start, day("2026-11-30"));
    }

    #[test]
    fn a_cohort_of_none_has_no_percentages_and_bad_weeks_are_a_400() {
        let cohorts = Cohorts::of(day("2026-11-30"), 1, &[]).cohorts;
        assert_eq!((cohorts[0].students, &cohorts[0].retention_pct), (0, &vec![None]));
        let ask = |query: &str| weeks_asked(&format!("/x?{query}").parse().unwrap());
        assert_eq!(ask("").unwrap(), 8);
        assert_eq!(ask("weeks=12").unwrap(), 12);
        for bad in ["weeks=0", "weeks=13", "weeks=-1", "weeks=x", "weeks=1.5"] {
            assert!(matches!(ask(bad), Err(AppError::BadRequest(_))), "{bad}");
        }
    }
}
