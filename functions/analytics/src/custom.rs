//! Custom queries: metrics, a range, buckets and classes chosen from fixed
//! lists (never an expression), summed exactly from the same counters as
//! every other statistic, kept a day under a `query_id` for their exports.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use domain::clock::rfc3339;
use domain::day::{Day, DayRange};
use domain::ids::{ClassId, QueryId, UserId};
use domain::principal::Role;
use domain::tenancy::Tenant;
use serde::{Deserialize, Serialize};
use store::AppState;
use store::counters::{self, ClassCounter};
use store::{publication, series};
use utoipa::ToSchema;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::{PathId, Staff, query_param};
use web::json::Json;
use web::openapi::*;
use web::{csv, download};

use crate::trends::{Granularity, Metric};

/// A result is kept this long.
const KEEP_SECONDS: i64 = 24 * 3600;
/// The most classes one query filters on.
const MAX_CLASSES: usize = 10;
/// The days a range covers by default, ending with `to`.
const DEFAULT_DAYS: i64 = 30;

/// How a metric's buckets are summed up into one number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Aggregation {
    #[default]
    Sum,
    /// The mean of the buckets (one decimal).
    Average,
    Max,
    Min,
}

/// What a query may be narrowed to.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Filters {
    /// Up to 10 classes (a teacher's own only): the counts of what their
    /// students did in them, added up over the classes; a lesson completed
    /// or an assessment submitted through two of them (published to both,
    /// by a student of both) counts in each. Only `lessons_completed`,
    /// `assessments_submitted` and `messages_sent` are counted by class.
    #[serde(default)]
    #[schema(max_items = 10)]
    class_ids: Vec<ClassId>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomQuery {
    /// One to eight different metrics (the names of `/analytics/trends/{metric}`).
    #[schema(min_items = 1, max_items = 8)]
    metrics: Vec<Metric>,
    /// The first day; by default 29 days before `to`. Weekly and monthly
    /// buckets are whole: it moves back to the start of its week or month.
    from: Option<Day>,
    /// The last day; by default today.
    to: Option<Day>,
    /// Buckets of a day (default), an ISO week or a calendar month.
    granularity: Option<Granularity>,
    /// How each metric's buckets are summed up (default `sum`).
    aggregation: Option<Aggregation>,
    #[serde(default)]
    filters: Filters,
}

/// One bucket: the day, week or month starting on `start`, and each
/// metric's count in it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Row {
    start: Day,
    values: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QueryResult {
    /// Names the result for `GET /analytics/export/{format}?query_id=`.
    query_id: QueryId,
    metrics: Vec<Metric>,
    granularity: Granularity,
    aggregation: Aggregation,
    from: Day,
    to: Day,
    class_ids: Vec<ClassId>,
    /// A row per bucket, oldest first, zeros included.
    rows: Vec<Row>,
    /// Each metric's buckets summed up by `aggregation`.
    summary: BTreeMap<String, f64>,
    /// When the result is no longer kept.
    expires_at: String,
}

/// The result as kept: who asked, and when DynamoDB may delete it.
#[derive(Debug, Serialize, Deserialize)]
struct Kept {
    result: QueryResult,
    created_by: UserId,
    expires_at: i64,
}

impl QueryResult {
    /// The CSV table: a row per bucket, then the summary.
    fn csv(&self) -> String {
        let names: Vec<&str> = self.metrics.iter().map(|metric| metric.name()).collect();
        let mut header = vec!["start"];
        header.extend(&names);
        let value = |values: &BTreeMap<String, i64>, name: &str| values.get(name).copied().unwrap_or(0).to_string();
        let mut rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|row| {
                std::iter::once(row.start.to_string()).chain(names.iter().map(|n| value(&row.values, n))).collect()
            })
            .collect();
        let summed = |name: &str| self.summary.get(name).copied().unwrap_or(0.0).to_string();
        let label = serde_json::to_value(self.aggregation).ok().and_then(|v| v.as_str().map(str::to_owned));
        rows.push(std::iter::once(label.unwrap_or_default()).chain(names.iter().map(|n| summed(n))).collect());
        csv::table(&header, rows)
    }
}

fn class_counter(metric: Metric) -> Option<ClassCounter> {
    match metric {
        Metric::LessonsCompleted => Some(ClassCounter::LessonsCompleted),
        Metric::AssessmentsSubmitted => Some(ClassCounter::AssessmentsSubmitted),
        Metric::MessagesSent => Some(ClassCounter::MessagesSent),
        _ => None,
    }
}

fn summed_up(values: &[i64], aggregation: Aggregation) -> f64 {
    let as_f64 = |n: i64| n as f64;
    match aggregation {
        Aggregation::Sum => values.iter().copied().map(as_f64).sum(),
        Aggregation::Average if values.is_empty() => 0.0,
        Aggregation::Average => (values.iter().sum::<i64>() as f64 * 10.0 / values.len() as f64).round() / 10.0,
        Aggregation::Max => values.iter().copied().max().map_or(0.0, as_f64),
        Aggregation::Min => values.iter().copied().min().map_or(0.0, as_f64),
    }
}

/// The query's checked parts: its metrics (each once), range (widened to
/// whole buckets) and classes.
struct Asked {
    metrics: Vec<Metric>,
    granularity: Granularity,
    aggregation: Aggregation,
    range: DayRange,
    class_ids: Vec<ClassId>,
}

impl CustomQuery {
    fn checked(self, today: Day) -> AppResult<Asked> {
        let mut metrics = Vec::new();
        for metric in self.metrics {
            if metrics.contains(&metric) {
                return Err(AppError::invalid("metrics", format!("{} is named twice", metric.name())));
            }
            metrics.push(metric);
        }
        if metrics.is_empty() {
            return Err(AppError::invalid("metrics", "name at least one metric"));
        }
        let class_ids = self.filters.class_ids;
        if class_ids.len() > MAX_CLASSES {
            return Err(AppError::invalid("filters.class_ids", format!("give at most {MAX_CLASSES} classes")));
        }
        // Each class once: a class named twice would be counted twice.
        if let Some(twice) = class_ids.iter().enumerate().find(|(i, id)| class_ids[..*i].contains(id)) {
            return Err(AppError::invalid("filters.class_ids", format!("{} is named twice", twice.1)));
        }
        if !class_ids.is_empty()
            && let Some(metric) = metrics.iter().find(|metric| class_counter(**metric).is_none())
        {
            return Err(AppError::invalid("metrics", format!("{} is not counted by class", metric.name())));
        }
        let granularity = self.granularity.unwrap_or(Granularity::Daily);
        let to = self.to.unwrap_or(today);
        let from = granularity.start_of(self.from.unwrap_or(to.plus(1 - DEFAULT_DAYS)));
        let range = DayRange::new(from, to).map_err(|err| AppError::invalid("from", err.to_string()))?;
        Ok(Asked { metrics, granularity, aggregation: self.aggregation.unwrap_or_default(), range, class_ids })
    }
}

/// Each bucket's counts of each metric, zeros included.
async fn rows(state: &AppState, tenant: &Tenant, asked: &Asked) -> AppResult<BTreeMap<Day, Vec<i64>>> {
    let width = asked.metrics.len();
    let mut rows: BTreeMap<Day, Vec<i64>> =
        asked.range.days().map(|day| (asked.granularity.start_of(day), vec![0; width])).collect();
    let mut add = |day: Day, values: Vec<i64>| {
        let row = rows.entry(asked.granularity.start_of(day)).or_insert_with(|| vec![0; width]);
        row.iter_mut().zip(values).for_each(|(sum, n)| *sum += n);
    };
    if asked.class_ids.is_empty() {
        for (day, counts) in series::over(state, tenant, asked.range).await? {
            add(day, asked.metrics.iter().map(|m| counts.get(m.counter(asked.granularity))).collect());
        }
    } else {
        let classes = asked.class_ids.iter().map(|class| counters::class_days(state, tenant, class, asked.range));
        for days in futures_util::future::try_join_all(classes).await? {
            for (day, counts) in days {
                let counted = |m: &Metric| class_counter(*m).map_or(0, |counter| counts.get(counter));
                add(day, asked.metrics.iter().map(counted).collect());
            }
        }
    }
    Ok(rows)
}

/// Counts the metrics asked for over a range of days, by day, ISO week or
/// calendar month, for the whole organization or for up to ten classes (a
/// teacher's own), and sums each up (`sum`, `average`, `max` or `min`).
/// Every choice comes from a fixed list. The result is kept 24 hours for
/// `GET /analytics/export/{format}?query_id=`, by its asker or an admin.
#[utoipa::path(
    post,
    path = "/api/v1/analytics/custom-query",
    operation_id = "run_custom_query",
    tag = "analytics",
    request_body = CustomQuery,
    responses(
        (status = 201, description = "The result, kept a day", body = Success<QueryResult>),
        JsonBodyErrors,
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 503, response = Unavailable),
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])), ("x-scopes" = json!(["analytics:read"])))
)]
pub async fn custom_query(
    State(state): State<AppState>,
    Staff(principal, tenant): Staff,
    Json(query): Json<CustomQuery>,
) -> AppResult<ApiResponse<QueryResult>> {
    let now = state.now();
    let asked = query.checked(Day::of(now))?;
    publication::own_classes(&state, &tenant, &principal, "filters.class_ids", &asked.class_ids).await?;
    let rows = rows(&state, &tenant, &asked).await?;
    let summary = asked
        .metrics
        .iter()
        .enumerate()
        .map(|(i, metric)| {
            let values: Vec<i64> = rows.values().map(|row| row[i]).collect();
            (metric.name().to_owned(), summed_up(&values, asked.aggregation))
        })
        .collect();
    let names: Vec<String> = asked.metrics.iter().map(|metric| metric.name().to_owned()).collect();
    let expires_at = now.unix_timestamp() + KEEP_SECONDS;
    let result = QueryResult {
        query_id: QueryId::new(),
        rows: rows
            .into_iter()
            .map(|(start, values)| Row { start, values: names.iter().cloned().zip(values).collect() })
            .collect(),
        summary,
        metrics: asked.metrics,
        granularity: asked.granularity,
        aggregation: asked.aggregation,
        from: asked.range.from(),
        to: asked.range.to(),
        class_ids: asked.class_ids,
        expires_at: rfc3339(now + time::Duration::seconds(KEEP_SECONDS)),
    };
    let kept = Kept { result: result.clone(), created_by: principal.user_id.clone(), expires_at };
    state.db.create(&tenant.analytics_query(&result.query_id), &kept).await?;
    tracing::info!(query_id = %result.query_id, metrics = result.metrics.len(), "custom query kept");
    Ok(ApiResponse::created(result))
}

/// A kept result as a file: `csv` (a row per bucket, then the summary row,
/// formula-like cells escaped) or `json` (the result in the envelope),
/// named `query-<id>.<format>`. Another format is a 404, as is a
/// `query_id` that names no kept result of the caller's (an admin reads
/// any of the organization's).
#[utoipa::path(
    get,
    path = "/api/v1/analytics/export/{format}",
    operation_id = "export_custom_query",
    tag = "analytics",
    params(
        ("format" = String, Path, description = "`csv` or `json`"),
        ("query_id" = QueryId, Query, description = "`query_id` of a result of `POST /analytics/custom-query`"),
    ),
    responses(
        (status = 200, description = "The file", content(
            (Success<QueryResult> = "application/json"),
            (String = "text/csv"),
        )),
        ReadListOf,
        (status = 503, response = Unavailable),
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])), ("x-scopes" = json!(["analytics:read"])))
)]
pub async fn export(
    State(state): State<AppState>,
    Staff(principal, tenant): Staff,
    PathId(format): PathId<String>,
    uri: Uri,
) -> AppResult<Response> {
    let csv_file = match format.as_str() {
        "csv" => true,
        "json" => false,
        _ => return Err(AppError::NotFound("no such export format: csv or json".into())),
    };
    let raw = query_param(&uri, "query_id")?.ok_or_else(|| AppError::BadRequest("give ?query_id=".into()))?;
    let id: QueryId = raw.parse().map_err(|_| AppError::BadRequest("query_id must be a query's id".into()))?;
    let gone = || AppError::not_found("query");
    let kept = state.db.get::<Kept>(&tenant.analytics_query(&id)).await?.ok_or_else(gone)?;
    // DynamoDB deletes an expired item lazily: the expiry is checked here.
    let mine = kept.created_by == principal.user_id || principal.role == Role::Admin;
    if kept.expires_at <= state.now().unix_timestamp() || !mine {
        return Err(gone());
    }
    let name = format!("query-{id}");
    Ok(if csv_file { download::csv(&name, kept.result.csv()) } else { download::json(&name, kept.result) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_sum_up_by_each_aggregation() {
        let values = [4, 0, 6, 1];
        assert_eq!(summed_up(&values, Aggregation::Sum), 11.0);
        assert_eq!(summed_up(&values, Aggregation::Average), 2.8);
        assert_eq!(summed_up(&values, Aggregation::Max), 6.0);
        assert_eq!(summed_up(&values, Aggregation::Min), 0.0);
    }

    #[test]
    fn a_query_is_checked_before_anything_is_read() {
        let today: Day = "2026-12-05".parse().unwrap();
        let query = |body: serde_json::Value| serde_json::from_value::<CustomQuery>(body).unwrap().checked(today);
        let weekly = query(serde_json::json!({"metrics": ["logins"], "from": "2026-12-02", "granularity": "weekly"}));
        assert_eq!(weekly.unwrap().range.from(), "2026-11-30".parse().unwrap(), "whole weeks");
        for bad in [
            serde_json::json!({"metrics": []}),
            serde_json::json!({"metrics": ["logins", "logins"]}),
            serde_json::json!({"metrics": ["logins"], "from": "2026-12-06"}),
            serde_json::json!({"metrics": ["logins"], "from": "2025-01-01"}),
            serde_json::json!({"metrics": ["logins"], "filters": {"class_ids": [ClassId::new()]}}),
        ] {
            assert!(matches!(query(bad.clone()), Err(AppError::Validation(_))), "{bad}");
        }
        for bad in [serde_json::json!({"metrics": ["salary"]}), serde_json::json!({"metrics": ["logins"], "sql": "1"})]
        {
            assert!(serde_json::from_value::<CustomQuery>(bad).is_err());
        }
    }
}
