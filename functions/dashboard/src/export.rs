//! The daily statistics as a file to download.

use axum::extract::State;
use axum::response::Response;
use domain::day::Day;
use serde::Deserialize;
use store::AppState;
use utoipa::ToSchema;
use web::envelope::Success;
use web::error::{AppError, AppResult};
use web::extract::Staff;
use web::json::Json;
use web::openapi::*;
use web::{csv, download};

use crate::statistics::{self, DayPoint, Statistics};

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Json,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    format: Format,
    /// The first day; by default 29 days before `to`.
    from: Option<Day>,
    /// The last day; by default today.
    to: Option<Day>,
}

/// The daily statistics of a range of UTC days (at most 366) as a file:
/// CSV (`text/csv`, a header row and a row a day; a cell that a spreadsheet
/// would take for a formula is escaped) or JSON (the statistics in the
/// envelope), named `statistics-<from>-<to>.<format>`.
#[utoipa::path(
    post,
    path = "/api/v1/dashboard/export",
    operation_id = "export_dashboard_statistics",
    tag = "dashboard",
    request_body = ExportRequest,
    responses(
        (status = 200, description = "The file", content(
            (Success<Statistics> = "application/json"),
            (String = "text/csv"),
        )),
        JsonBodyErrors,
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 503, response = Unavailable),
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])), ("x-scopes" = json!(["analytics:read"])))
)]
pub async fn export(
    State(state): State<AppState>,
    Staff(_, tenant): Staff,
    Json(req): Json<ExportRequest>,
) -> AppResult<Response> {
    let range = statistics::range_of(req.from, req.to, Day::of(state.now()))
        .map_err(|err| AppError::invalid("to", err.to_string()))?;
    let stats = statistics::compute(&state, &tenant, range).await?;
    let name = format!("statistics-{}-{}", range.from(), range.to());
    Ok(match req.format {
        Format::Csv => download::csv(&name, csv::table(&DayPoint::COLUMNS, stats.points.iter().map(DayPoint::cells))),
        Format::Json => download::json(&name, stats),
    })
}
