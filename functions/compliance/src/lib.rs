//! `/api/v1/compliance/*`: what a school needs to answer for the records it
//! holds. So far, the audit log: who did what, when and from where.

mod audit_logs;

use utoipa::OpenApi;
use web::http::{RouteTable, routes};

pub fn routes() -> RouteTable {
    RouteTable::new(ApiDoc::openapi).routes(routes!(audit_logs::list))
}

#[derive(utoipa::OpenApi)]
#[openapi(tags((name = "compliance", description = "The audit log")))]
pub struct ApiDoc;
