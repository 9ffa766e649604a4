//! `/api/v1/lessons*`: lessons written by teachers (or made from generated
//! content), versioned, and published to classes, whose students then read
//! them; students report their progress, and teachers read each lesson's
//! statistics.

mod lessons;
mod progress;
mod publish;
mod view;

use axum::Router;
use web::http::RouteTable;

pub fn routes() -> RouteTable {
    RouteTable::new()
        .post("/api/v1/lessons", lessons::create)
        .get("/api/v1/lessons", lessons::list)
        .get("/api/v1/lessons/{id}", lessons::get)
        .put("/api/v1/lessons/{id}", lessons::update)
        .delete("/api/v1/lessons/{id}", lessons::delete)
        .post("/api/v1/lessons/{id}/publish", publish::publish)
        .get("/api/v1/lessons/progress", progress::list)
        .put("/api/v1/lessons/{id}/progress", progress::report)
        .get("/api/v1/lessons/{id}/progress", progress::get)
        .get("/api/v1/lessons/{id}/statistics", progress::statistics)
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        lessons::create,
        lessons::list,
        lessons::get,
        lessons::update,
        lessons::delete,
        publish::publish,
        progress::list,
        progress::report,
        progress::get,
        progress::statistics
    ),
    tags((name = "lessons", description = "Lessons, and the classes they are published to"))
)]
pub struct ApiDoc;

pub fn router(state: store::AppState) -> Router {
    routes().into_router(state)
}
