//! `/api/v1/api-keys*`: the organisation's integration keys. Only a
//! signed-in admin manages them, so a leaked key can neither mint another
//! nor outlive its own revocation.

mod keys;
mod usage;
mod view;

use axum::Router;
use store::AppState;
use web::http::RouteTable;

pub fn routes() -> RouteTable {
    RouteTable::new()
        .post("/api/v1/api-keys", keys::create)
        .get("/api/v1/api-keys", keys::list)
        .get("/api/v1/api-keys/{id}", keys::get)
        .delete("/api/v1/api-keys/{id}", keys::revoke)
        .post("/api/v1/api-keys/{id}/rotate", keys::rotate)
        .get("/api/v1/api-keys/{id}/usage", usage::get)
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(keys::create, keys::list, keys::get, keys::revoke, keys::rotate, usage::get),
    tags((name = "api-keys", description = "Integration API keys: created, listed, rotated, revoked, metered"))
)]
pub struct ApiDoc;

pub fn router(state: AppState) -> Router {
    routes().into_router(state)
}
