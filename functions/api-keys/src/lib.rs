//! `/api/v1/api-keys*`: the organisation's integration keys. Only a
//! signed-in admin manages them, so a leaked key can neither mint another
//! nor outlive its own revocation.

mod keys;
mod usage;
mod view;

use utoipa::OpenApi;
use web::http::{RouteTable, routes};

pub fn routes() -> RouteTable {
    RouteTable::new(ApiDoc::openapi)
        .routes(routes!(keys::create, keys::list))
        .routes(routes!(keys::get, keys::revoke))
        .routes(routes!(keys::rotate))
        .routes(routes!(usage::get))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    tags((name = "api-keys", description = "Integration API keys: created, listed, rotated, revoked, metered"))
)]
pub struct ApiDoc;
