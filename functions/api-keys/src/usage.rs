//! `GET /api-keys/{id}/usage`: requests per UTC day, as the authorizer
//! counted them (beside its own read, so counting adds no latency).

use axum::extract::{Query, State};
use domain::api_key::ApiKey;
use domain::api_key::usage::{self, DayCount, MAX_DAYS};
use domain::ids::ApiKeyId;
use serde::{Deserialize, Serialize};
use store::AppState;
use store::db::Db;
use utoipa::{IntoParams, ToSchema};
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::Caller;
use web::extract::PathId;
use web::openapi::*;

use crate::keys::admin_tenant;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// How many days back from today (UTC), today included: 1–90, default 30.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 90, nullable = false)]
    days: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageDay {
    /// `YYYY-MM-DD`, UTC.
    date: String,
    requests: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyUsage {
    key_id: ApiKeyId,
    /// Oldest first; days without requests are there with 0.
    days: Vec<UsageDay>,
    total: u64,
}

/// Requests made with a key, per day.
#[utoipa::path(
    get,
    path = "/api/v1/api-keys/{id}/usage",
    operation_id = "api_key_usage",
    tag = "api-keys",
    params(("id" = ApiKeyId, Path, description = "The key's id"), UsageQuery),
    responses(
        (status = 200, description = "Requests per day", body = Success<KeyUsage>),
        ReadListOf,
    ),
    security(("bearer" = [])),
    extensions(("x-roles" = json!(["admin"])))
)]
pub async fn get(
    State(state): State<AppState>,
    Caller(principal, _): Caller,
    PathId(id): PathId<ApiKeyId>,
    query: Result<Query<UsageQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<ApiResponse<KeyUsage>> {
    let tenant = admin_tenant(&principal)?;
    let Query(query) = query.map_err(|_| AppError::BadRequest("the only query parameter is days".into()))?;
    let days: u32 = match query.days.as_deref() {
        None => 30,
        Some(raw) => raw
            .parse()
            .ok()
            .filter(|d| (1..=MAX_DAYS).contains(d))
            .ok_or_else(|| AppError::BadRequest(format!("days must be a whole number from 1 to {MAX_DAYS}")))?,
    };
    state.db.live::<ApiKey>(&tenant, &id).await?;
    let today = state.now();
    let dates: Vec<String> =
        (0..days).rev().map(|back| usage::day(today - time::Duration::days(i64::from(back)))).collect();
    let keys: Vec<_> = dates.iter().map(|date| tenant.api_key_usage(&id, date)).collect();
    let items = state.db.batch_get(&keys).await?;
    let mut total = 0;
    let days = dates
        .into_iter()
        .zip(items)
        .map(|(date, item)| {
            let requests = item.map(Db::decode::<DayCount>).transpose()?.map_or(0, |c| c.count);
            total += requests;
            Ok(UsageDay { date, requests })
        })
        .collect::<Result<Vec<_>, store::db::DbError>>()?;
    Ok(ApiResponse::ok(KeyUsage { key_id: id, days, total }))
}
