//! `/api/v1/assessments*`: questions graded automatically. Teachers write
//! them (or make them from a generated quiz) and publish them to classes;
//! students of those classes submit attempts, each graded exactly once;
//! teachers read the submissions and the statistics.

mod assessments;
mod grading;
mod publish;
mod submit;
mod view;

use axum::Router;
use store::AppState;
use web::http::RouteTable;

pub fn routes() -> RouteTable {
    RouteTable::new()
        .post("/api/v1/assessments", assessments::create)
        .get("/api/v1/assessments", assessments::list)
        .get("/api/v1/assessments/{id}", assessments::get)
        .put("/api/v1/assessments/{id}", assessments::update)
        .delete("/api/v1/assessments/{id}", assessments::delete)
        .post("/api/v1/assessments/{id}/publish", publish::publish)
        .post("/api/v1/assessments/{id}/submit", submit::submit)
        .get("/api/v1/assessments/{id}/submissions", submit::submissions)
        .get("/api/v1/assessments/{id}/statistics", submit::statistics)
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        assessments::create,
        assessments::list,
        assessments::get,
        assessments::update,
        assessments::delete,
        publish::publish,
        submit::submit,
        submit::submissions,
        submit::statistics
    ),
    tags((name = "assessments", description = "Assessments, their submissions and statistics"))
)]
pub struct ApiDoc;

pub fn router(state: AppState) -> Router {
    routes().into_router(state)
}
