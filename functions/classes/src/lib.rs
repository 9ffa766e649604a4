//! `/api/v1/classes*`: classes and their rosters. Teachers and admins read
//! every class of the organisation; a class is changed by its teacher or an
//! admin; a student sees only the classes they are enrolled in.

mod classes;
mod roster;
mod view;

use axum::Router;
use web::http::RouteTable;

pub fn routes() -> RouteTable {
    RouteTable::new()
        .post("/api/v1/classes", classes::create)
        .get("/api/v1/classes", classes::list)
        .get("/api/v1/classes/{id}", classes::get)
        .put("/api/v1/classes/{id}", classes::update)
        .delete("/api/v1/classes/{id}", classes::delete)
        .get("/api/v1/classes/{id}/students", roster::list)
        .post("/api/v1/classes/{id}/students", roster::enroll)
        .delete("/api/v1/classes/{id}/students/{student_id}", roster::remove)
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        classes::create,
        classes::list,
        classes::get,
        classes::update,
        classes::delete,
        roster::list,
        roster::enroll,
        roster::remove
    ),
    tags((name = "classes", description = "Classes and their rosters"))
)]
pub struct ApiDoc;

pub fn router(state: store::AppState) -> Router {
    routes().into_router(state)
}
