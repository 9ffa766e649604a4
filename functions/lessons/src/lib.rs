//! `/api/v1/lessons*`: lessons written by teachers (or made from generated
//! content), versioned, and published to classes, whose students then read
//! them. Progress and statistics are not built yet.

mod lessons;
mod publish;
mod view;

use axum::Router;
use toolbox::AppResult;
use toolbox::domain::lesson::Lesson;
use toolbox::error::AppError;
use toolbox::http::RouteTable;
use toolbox::principal::{Principal, Role};

pub fn routes() -> RouteTable {
    RouteTable::new()
        .post("/api/v1/lessons", lessons::create)
        .get("/api/v1/lessons", lessons::list)
        .get("/api/v1/lessons/{id}", lessons::get)
        .put("/api/v1/lessons/{id}", lessons::update)
        .delete("/api/v1/lessons/{id}", lessons::delete)
        .post("/api/v1/lessons/{id}/publish", publish::publish)
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(lessons::create, lessons::list, lessons::get, lessons::update, lessons::delete, publish::publish),
    tags((name = "lessons", description = "Lessons, and the classes they are published to"))
)]
pub struct ApiDoc;

pub fn router(state: toolbox::AppState) -> Router {
    routes().into_router(state)
}

/// A lesson is changed by whoever wrote it, or an admin.
fn may_manage(principal: &Principal, lesson: &Lesson) -> AppResult<()> {
    if principal.role == Role::Admin
        || (principal.role == Role::Teacher && principal.user_id == lesson.audit.created_by)
    {
        Ok(())
    } else {
        Err(AppError::Forbidden("only the lesson's author or an admin may change it".into()))
    }
}
