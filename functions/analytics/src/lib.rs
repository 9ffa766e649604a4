//! `/api/v1/analytics*`: a tenant's counters over time, for staff and for
//! API keys with `analytics:read`: trends of one counter by day, ISO week or
//! calendar month, and weekly cohorts of new students, read from the series
//! of finished days (`store::series`) and kept five minutes (`web::cache`).

mod cohorts;
mod custom;
#[cfg(test)]
mod fixtures;
mod trends;

use utoipa::OpenApi;
use web::http::{RouteTable, routes};

pub fn routes() -> RouteTable {
    RouteTable::new(ApiDoc::openapi)
        .routes(routes!(trends::trend))
        .routes(routes!(cohorts::cohorts))
        .routes(routes!(custom::custom_query))
        .routes(routes!(custom::export))
}

#[derive(utoipa::OpenApi)]
#[openapi(tags((name = "analytics", description = "A tenant's counters over time")))]
pub struct ApiDoc;
