//! `/api/v1/compliance/*`: what a school needs to answer for the records it
//! holds: the audit log (who did what, when and from where), consents,
//! exports and erasures of one member's data, and a summary of them.
//! Exports and erasures are jobs the [`worker`] runs from the compliance
//! queue (binary `compliance-worker`).

mod audit_logs;
mod bundle;
mod consents;
mod erase;
mod erasures;
mod exports;
mod jobs;
mod status;
pub mod worker;

use utoipa::OpenApi;
use web::http::{RouteTable, routes};

pub fn routes() -> RouteTable {
    RouteTable::new(ApiDoc::openapi)
        .routes(routes!(audit_logs::list))
        .routes(routes!(consents::record))
        .routes(routes!(exports::create))
        .routes(routes!(exports::get))
        .routes(routes!(erasures::create))
        .routes(routes!(erasures::get))
        .routes(routes!(status::get))
}

#[derive(utoipa::OpenApi)]
#[openapi(tags((name = "compliance", description = "The audit log, consents, exports and erasures")))]
pub struct ApiDoc;
