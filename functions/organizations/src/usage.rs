//! `GET /organizations/current/usage`: requests today and this month
//! against the tier's usage plan, the generation quota, and warnings as a
//! limit comes near.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use domain::day::Day;
use domain::organization::{Organization, Tier};
use integrations::usage_plans::{Plan, QuotaPeriodType, UsagePlans};
use serde::Serialize;
use store::AppState;
use store::request_counts;
use utoipa::ToSchema;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::Admin;
use web::openapi::*;

/// The share of a limit used at which a warning is given.
const WARN_AT_PERCENT: u64 = 80;

#[derive(Debug, Serialize, ToSchema)]
pub struct Usage {
    /// The organization's tier: its usage plan applies.
    tier: Tier,
    plan: PlanLimits,
    requests: Requests,
    generation: Generation,
    /// Limits at or past 80% of what they allow; empty when none is.
    warnings: Vec<Warning>,
}

/// The tier's usage plan, as API Gateway enforces it per organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanLimits {
    /// Requests a second, sustained.
    rate_limit: Option<f64>,
    /// Requests above the rate a burst may take.
    burst_limit: Option<i32>,
    quota: Option<QuotaLimit>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaLimit {
    limit: u64,
    /// `DAY`, `WEEK` or `MONTH` (UTC; weeks start on Monday).
    period: String,
}

/// Requests made with the organization's credentials, counted per UTC day
/// by the authorizer as it reads what decides them (a few it then refuses
/// count too).
#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct Requests {
    today: u64,
    this_month: u64,
    /// Within the quota's current period; absent without a quota.
    quota_used: Option<u64>,
    quota_remaining: Option<u64>,
    /// When the quota's period ends, RFC 3339.
    quota_resets_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Generation {
    /// Generation requests one user (or API key) may make per minute.
    per_user_per_minute: u32,
}

#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct Warning {
    /// `requests_near_quota` from 80%, `requests_quota_reached` at 100%.
    code: &'static str,
    message: String,
    percent_used: u64,
}

/// The organization's usage against its plan (admins).
#[utoipa::path(
    get,
    path = "/api/v1/organizations/current/usage",
    operation_id = "organization_usage",
    tag = "organizations",
    responses(
        (status = 200, description = "Usage against the plan", body = Success<Usage>),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 503, response = Unavailable),
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin"])))
)]
pub async fn get(State(state): State<AppState>, Admin(_, tenant): Admin) -> AppResult<Response> {
    let today = Day::of(state.now());
    let periods = period_prefixes(today);
    let organization = tenant.organization();
    let (org, counts) =
        tokio::join!(state.db.get::<Organization>(&organization), request_counts::days(&state, &tenant, &periods));
    let org = org?.ok_or_else(|| AppError::not_found("organization"))?;
    let plan = UsagePlans::of(&state).plan(org.tier).await?;
    let (requests, warnings) = requests_against(&plan, &counts?, today);
    let usage = Usage {
        tier: org.tier,
        plan: PlanLimits {
            rate_limit: plan.rate_limit,
            burst_limit: plan.burst_limit,
            quota: plan.quota.map(|quota| QuotaLimit { limit: quota.limit, period: quota.period.as_str().to_owned() }),
        },
        requests,
        generation: Generation { per_user_per_minute: state.config.generations_per_minute },
        warnings,
    };
    Ok(ApiResponse::ok(usage).into_response())
}

/// The months (`YYYY-MM`) whose days a quota's period may reach back
/// into: this one, and the last when this week began in it.
fn period_prefixes(today: Day) -> Vec<String> {
    let month = |day: Day| day.to_string()[..7].to_owned();
    let mut months = vec![month(today)];
    if today.week_start().month_start() != today.month_start() {
        months.push(month(today.week_start()));
    }
    months
}

/// The first day of the quota's current period, and the first of the next.
fn period_of(period: &QuotaPeriodType, today: Day) -> (Day, Day) {
    match period {
        QuotaPeriodType::Week => (today.week_start(), today.week_start().plus(7)),
        QuotaPeriodType::Month => (today.month_start(), today.month_start_back(-1)),
        _ => (today, today.plus(1)),
    }
}

fn requests_against(plan: &Plan, counts: &BTreeMap<String, u64>, today: Day) -> (Requests, Vec<Warning>) {
    let sum_from =
        |first: Day| counts.range(first.to_string()..=today.to_string()).map(|(_, count)| count).sum::<u64>();
    let mut requests = Requests {
        today: counts.get(&today.to_string()).copied().unwrap_or(0),
        this_month: sum_from(today.month_start()),
        quota_used: None,
        quota_remaining: None,
        quota_resets_at: None,
    };
    let mut warnings = Vec::new();
    if let Some(quota) = &plan.quota {
        let (first, next) = period_of(&quota.period, today);
        let used = sum_from(first);
        requests.quota_used = Some(used);
        requests.quota_remaining = Some(quota.limit.saturating_sub(used));
        requests.quota_resets_at = Some(format!("{next}T00:00:00Z"));
        let percent_used = used.saturating_mul(100) / quota.limit.max(1);
        let period = quota.period.as_str().to_lowercase();
        if percent_used >= 100 {
            warnings.push(Warning {
                code: "requests_quota_reached",
                message: format!(
                    "this {period}'s {} requests are used: API Gateway answers 429 until it ends",
                    quota.limit
                ),
                percent_used,
            });
        } else if percent_used >= WARN_AT_PERCENT {
            warnings.push(Warning {
                code: "requests_near_quota",
                message: format!("{percent_used}% of this {period}'s {} requests are used", quota.limit),
                percent_used,
            });
        }
    }
    (requests, warnings)
}

#[cfg(test)]
mod tests {
    use integrations::usage_plans::Quota;

    use super::*;

    fn plan(limit: u64, period: QuotaPeriodType) -> Plan {
        Plan { id: "p".into(), rate_limit: Some(10.0), burst_limit: Some(20), quota: Some(Quota { limit, period }) }
    }

    fn counts(days: &[(&str, u64)]) -> BTreeMap<String, u64> {
        days.iter().map(|(day, n)| ((*day).to_owned(), *n)).collect()
    }

    #[test]
    fn a_daily_quota_counts_today_and_warns_from_eighty_percent() {
        let today: Day = "2026-12-05".parse().unwrap();
        let days = counts(&[("2026-11-30", 500), ("2026-12-01", 30), ("2026-12-05", 79)]);
        let (requests, warnings) = requests_against(&plan(100, QuotaPeriodType::Day), &days, today);
        assert_eq!((requests.today, requests.this_month, requests.quota_remaining), (79, 109, Some(21)));
        assert_eq!(requests.quota_resets_at.as_deref(), Some("2026-12-06T00:00:00Z"));
        assert!(warnings.is_empty());
        let days = counts(&[("2026-12-05", 80)]);
        let (_, warnings) = requests_against(&plan(100, QuotaPeriodType::Day), &days, today);
        assert_eq!(warnings[0].code, "requests_near_quota");
        let days = counts(&[("2026-12-05", 130)]);
        let (requests, warnings) = requests_against(&plan(100, QuotaPeriodType::Day), &days, today);
        assert_eq!(
            (requests.quota_remaining, warnings[0].code, warnings[0].percent_used),
            (Some(0), "requests_quota_reached", 130)
        );
    }

    #[test]
    fn weekly_and_monthly_quotas_sum_their_period_across_months() {
        // Wednesday 2 December: the week began on Monday 30 November.
        let today: Day = "2026-12-02".parse().unwrap();
        assert_eq!(period_prefixes(today), ["2026-12", "2026-11"]);
        let days = counts(&[("2026-11-29", 1000), ("2026-11-30", 5), ("2026-12-01", 7), ("2026-12-02", 1)]);
        let (week, _) = requests_against(&plan(100, QuotaPeriodType::Week), &days, today);
        assert_eq!((week.quota_used, week.quota_resets_at.as_deref()), (Some(13), Some("2026-12-07T00:00:00Z")));
        let (month, _) = requests_against(&plan(100, QuotaPeriodType::Month), &days, today);
        assert_eq!((month.quota_used, month.this_month), (Some(8), 8));
        assert_eq!(month.quota_resets_at.as_deref(), Some("2027-01-01T00:00:00Z"));
        assert_eq!(period_prefixes("2026-12-10".parse().unwrap()), ["2026-12"]);
    }
}
