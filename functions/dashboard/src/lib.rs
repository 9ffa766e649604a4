//! `/api/v1/dashboard*`: a tenant's numbers for its staff, read from
//! counters and totals that the writes they count keep exact
//! (`store::counters`), and kept for a few minutes (`web::cache`).
//!
//! Nothing here is ever estimated: when the table cannot be read, the
//! answer is a 503, never a made-up number.

mod activity;
mod export;
mod metrics;
mod overview;
mod statistics;

use utoipa::OpenApi;
use web::http::{RouteTable, routes};

pub fn routes() -> RouteTable {
    RouteTable::new(ApiDoc::openapi)
        .routes(routes!(metrics::metrics))
        .routes(routes!(statistics::statistics))
        .routes(routes!(export::export))
        .routes(routes!(activity::activity))
        .routes(routes!(overview::overview))
}

#[derive(utoipa::OpenApi)]
#[openapi(tags((name = "dashboard", description = "A tenant's numbers: totals, activity and daily statistics")))]
pub struct ApiDoc;
