//! `/api/v1/content*`: generation requests and their jobs, and the content
//! they produce: read, edited, published, deleted and searched. The work
//! itself runs in `content-worker`.

mod generate;
mod items;
mod jobs;
mod search;
mod view;

use axum::Router;
use domain::principal::Scope;
use store::AppState;
use web::http::RouteTable;

/// A key that may generate may also follow its jobs and read what they made.
const FOLLOW: &[Scope] = &[Scope::Read, Scope::ContentGenerate];

pub fn routes() -> RouteTable {
    RouteTable::new()
        .post("/api/v1/content/generate", generate::start)
        .needs(&[Scope::ContentGenerate])
        .get("/api/v1/content/jobs", jobs::list)
        .needs(FOLLOW)
        .get("/api/v1/content/jobs/{id}", jobs::get)
        .needs(FOLLOW)
        .get("/api/v1/content/search", search::search)
        .get("/api/v1/content", items::list)
        .get("/api/v1/content/{id}", items::get)
        .needs(FOLLOW)
        .put("/api/v1/content/{id}", items::update)
        .delete("/api/v1/content/{id}", items::delete)
        .post("/api/v1/content/{id}/publish", items::publish)
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        generate::start,
        jobs::list,
        jobs::get,
        search::search,
        items::list,
        items::get,
        items::update,
        items::delete,
        items::publish
    ),
    tags((name = "content", description = "AI content generation, its jobs, and the content it produces"))
)]
pub struct ApiDoc;

pub fn router(state: AppState) -> Router {
    routes().into_router(state)
}
