//! One counter over time: its points by day, week or month, and what they
//! show (direction, change, peak, lowest, average).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use domain::day::{Day, DayRange};
use serde::{Deserialize, Serialize};
use store::AppState;
use store::counters::{self, Counter, Tally};
use store::series::{self, DayCounts};
use utoipa::ToSchema;
use web::cache::{self, Asked};
use web::envelope::Success;
use web::error::{AppError, AppResult};
use web::extract::{PathId, Staff, query_param};
use web::openapi::*;

/// What a trend can follow: one of the daily counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Logins,
    /// Distinct members active in each day, week or month.
    ActiveUsers,
    LessonsCompleted,
    AssessmentsSubmitted,
    MessagesSent,
    ContentGenerated,
    MembersJoined,
    MembersLeft,
}

impl Metric {
    pub(crate) const ALL: [Metric; 8] = [
        Metric::Logins,
        Metric::ActiveUsers,
        Metric::LessonsCompleted,
        Metric::AssessmentsSubmitted,
        Metric::MessagesSent,
        Metric::ContentGenerated,
        Metric::MembersJoined,
        Metric::MembersLeft,
    ];

    /// Its name in a path: its daily counter's.
    pub(crate) fn name(self) -> &'static str {
        self.counter(Granularity::Daily).attribute()
    }

    /// The daily counter whose sum over a bucket is the metric's value: for
    /// active members, those first active in the bucket, so a week's or a
    /// month's members are counted once each.
    pub(crate) fn counter(self, granularity: Granularity) -> Counter {
        match (self, granularity) {
            (Metric::ActiveUsers, Granularity::Daily) => Counter::ActiveUsers,
            (Metric::ActiveUsers, Granularity::Weekly) => Counter::WeeklyActive,
            (Metric::ActiveUsers, Granularity::Monthly) => Counter::MonthlyActive,
            (Metric::Logins, _) => Counter::Logins,
            (Metric::LessonsCompleted, _) => Counter::LessonsCompleted,
            (Metric::AssessmentsSubmitted, _) => Counter::AssessmentsSubmitted,
            (Metric::MessagesSent, _) => Counter::MessagesSent,
            (Metric::ContentGenerated, _) => Counter::ContentGenerated,
            (Metric::MembersJoined, _) => Counter::MembersJoined,
            (Metric::MembersLeft, _) => Counter::MembersLeft,
        }
    }
}

impl std::str::FromStr for Metric {
    type Err = ();

    fn from_str(name: &str) -> Result<Self, ()> {
        Metric::ALL.into_iter().find(|metric| metric.name() == name).ok_or(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    /// UTC days.
    Daily,
    /// ISO weeks, Monday to Sunday.
    Weekly,
    /// Calendar months.
    Monthly,
}

impl Granularity {
    /// The most buckets one trend has (a year, read in one Query), and how many by default.
    fn periods(self) -> (u32, u32) {
        match self {
            Granularity::Daily => (366, 30),
            Granularity::Weekly => (52, 12),
            Granularity::Monthly => (12, 12),
        }
    }

    /// The first day of the bucket `day` is in.
    pub(crate) fn start_of(self, day: Day) -> Day {
        match self {
            Granularity::Daily => day,
            Granularity::Weekly => day.week_start(),
            Granularity::Monthly => day.month_start(),
        }
    }

    /// The first day of the earliest of `period` buckets that end with today's.
    fn first_day(self, today: Day, period: u32) -> Day {
        let back = i64::from(period) - 1;
        match self {
            Granularity::Daily => today.plus(-back),
            Granularity::Weekly => today.week_start().plus(-7 * back),
            Granularity::Monthly => today.month_start_back(back as i32),
        }
    }
}

/// One bucket: the day, week or month that starts on `start`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Point {
    start: Day,
    value: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Up,
    Down,
    Flat,
}

/// What the points show. The last point is the current day, week or month so far.
#[derive(Debug, Serialize, ToSchema)]
pub struct Summary {
    /// From the first point to the last.
    direction: Direction,
    /// The change from the first point to the last, in percent of the first
    /// (one decimal); null when the first is 0.
    percent_change: Option<f64>,
    /// The highest point (the earliest, if several are).
    peak: Point,
    /// The lowest point (the earliest, if several are).
    lowest: Point,
    /// The mean of the points.
    average: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Trend {
    metric: Metric,
    granularity: Granularity,
    points: Vec<Point>,
    summary: Summary,
}

impl Trend {
    fn of(metric: Metric, granularity: Granularity, days: &[(Day, DayCounts)]) -> Self {
        let counter = metric.counter(granularity);
        let mut buckets: BTreeMap<Day, i64> = BTreeMap::new();
        for (day, counts) in days {
            *buckets.entry(granularity.start_of(*day)).or_default() += counts.get(counter);
        }
        let points: Vec<Point> = buckets.into_iter().map(|(start, value)| Point { start, value }).collect();
        let (first, last) = (points[0], points[points.len() - 1]);
        let direction = match last.value.cmp(&first.value) {
            std::cmp::Ordering::Greater => Direction::Up,
            std::cmp::Ordering::Less => Direction::Down,
            std::cmp::Ordering::Equal => Direction::Flat,
        };
        let percent_change = counters::percent_change(first.value, last.value);
        let peak = points.iter().fold(first, |best, p| if p.value > best.value { *p } else { best });
        let lowest = points.iter().fold(first, |best, p| if p.value < best.value { *p } else { best });
        let average = points.iter().map(|p| p.value as f64).sum::<f64>() / points.len() as f64;
        Self { metric, granularity, summary: Summary { direction, percent_change, peak, lowest, average }, points }
    }
}

/// `?granularity=` (default daily) and `?period=` (how many buckets, ending
/// with the current one).
fn asked(uri: &Uri) -> AppResult<(Granularity, u32)> {
    let granularity = match query_param(uri, "granularity")?.as_deref() {
        None | Some("daily") => Granularity::Daily,
        Some("weekly") => Granularity::Weekly,
        Some("monthly") => Granularity::Monthly,
        Some(_) => return Err(AppError::BadRequest("granularity must be daily, weekly or monthly".into())),
    };
    let (most, default) = granularity.periods();
    let period = match query_param(uri, "period")? {
        None => default,
        Some(raw) => raw.parse::<u32>().ok().filter(|n| (1..=most).contains(n)).ok_or_else(|| {
            AppError::BadRequest(format!("period must be a whole number from 1 to {most} for this granularity"))
        })?,
    };
    Ok((granularity, period))
}

/// One counter over the last `period` days, ISO weeks or calendar months
/// (at most a year), the current one included, with its direction, change,
/// peak, lowest point and average. Active members are counted once per
/// bucket. An unknown metric is a 404.
#[utoipa::path(
    get,
    path = "/api/v1/analytics/trends/{metric}",
    operation_id = "get_trend",
    tag = "analytics",
    params(
        ("metric" = Metric, Path, description = "The counter to follow"),
        ("granularity" = Option<Granularity>, Query, description = "Buckets of a day (default), an ISO week or a calendar month"),
        ("period" = Option<u32>, Query, minimum = 1, maximum = 366,
            description = "How many buckets, ending with the current one: 1–366 days (default 30), 1–52 weeks (default 12) or 1–12 months (default 12)"),
    ),
    responses(
        (status = 200, description = "The trend", body = Success<Trend>),
        (status = 304, description = "Unchanged since the `ETag` sent"),
        ReadListOf,
        (status = 503, response = Unavailable),
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])), ("x-scopes" = json!(["analytics:read"])))
)]
pub async fn trend(
    State(state): State<AppState>,
    Staff(_, tenant): Staff,
    PathId(name): PathId<String>,
    headers: HeaderMap,
    uri: Uri,
) -> AppResult<Response> {
    let metric: Metric = name.parse().map_err(|_| AppError::NotFound("no such metric".into()))?;
    let (granularity, period) = asked(&uri)?;
    let today = Day::of(state.now());
    let range = DayRange::new(granularity.first_day(today, period), today)?;
    let (period_text, granularity_text, day) = (period.to_string(), format!("{granularity:?}"), today.to_string());
    let params = [metric.name(), granularity_text.as_str(), period_text.as_str(), day.as_str()];
    let asked = Asked { tenant: &tenant, route: "trends", params: &params };
    cache::answer(&state, &headers, asked, async {
        let days = series::over(&state, &tenant, range).await?;
        Ok(Trend::of(metric, granularity, &days))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{counts, day};

    #[test]
    fn a_year_of_any_granularity_fits_one_range() {
        let today = day("2026-12-05");
        for granularity in [Granularity::Daily, Granularity::Weekly, Granularity::Monthly] {
            let (most, _) = granularity.periods();
            let first = granularity.first_day(today, most);
            assert!(DayRange::new(first, today).is_ok(), "{granularity:?}");
            assert_eq!(granularity.start_of(first), first);
        }
        assert_eq!(Granularity::Weekly.first_day(today, 2), day("2026-11-23"));
        assert_eq!(Granularity::Monthly.first_day(today, 12), day("2026-01-01"));
    }

    #[test]
    fn weeks_sum_their_days_and_count_active_members_once() {
        // Monday 2026-11-23 to Sunday 2026-11-29, then Monday 2026-11-30.
        let days = vec![
            (day("2026-11-23"), counts(&[("active_users", 3), ("weekly_active", 3), ("logins", 4)])),
            (day("2026-11-24"), counts(&[("active_users", 3), ("weekly_active", 1), ("logins", 2)])),
            (day("2026-11-30"), counts(&[("active_users", 2), ("weekly_active", 2), ("logins", 8)])),
        ];
        let active = Trend::of(Metric::ActiveUsers, Granularity::Weekly, &days);
        let values: Vec<i64> = active.points.iter().map(|p| p.value).collect();
        assert_eq!(values, [4, 2]);
        let logins = Trend::of(Metric::Logins, Granularity::Weekly, &days);
        assert_eq!(logins.points.iter().map(|p| p.value).collect::<Vec<_>>(), [6, 8]);
        assert_eq!(logins.summary.percent_change, Some(33.3));
        assert!(matches!(logins.summary.direction, Direction::Up));
        assert_eq!((logins.summary.peak.value, logins.summary.lowest.value, logins.summary.average), (8, 6, 7.0));
    }

    #[test]
    fn a_change_from_nothing_has_no_percentage() {
        let days = vec![(day("2026-12-04"), counts(&[])), (day("2026-12-05"), counts(&[("logins", 5)]))];
        let trend = Trend::of(Metric::Logins, Granularity::Daily, &days);
        assert_eq!(trend.summary.percent_change, None);
        assert_eq!(trend.summary.lowest.start, day("2026-12-04"));
    }

    #[test]
    fn bad_granularities_and_periods_are_a_400() {
        let ask = |query: &str| asked(&format!("/x?{query}").parse().unwrap());
        assert_eq!(ask("").unwrap(), (Granularity::Daily, 30));
        assert_eq!(ask("granularity=monthly&period=3").unwrap(), (Granularity::Monthly, 3));
        for bad in
            ["granularity=hourly", "period=0", "period=367", "granularity=weekly&period=53", "period=-1", "period=x"]
        {
            assert!(matches!(ask(bad), Err(AppError::BadRequest(_))), "{bad}");
        }
    }
}
