//! `/api/v1/assessments*`: questions graded automatically. Teachers write
//! them (or make them from a generated quiz) and publish them to classes;
//! students of those classes submit attempts, each graded exactly once;
//! teachers read the submissions and the statistics.

mod assessments;
mod publish;
mod submit;
mod view;

use utoipa::OpenApi;
use web::http::{RouteTable, routes};

pub fn routes() -> RouteTable {
    RouteTable::new(ApiDoc::openapi)
        .routes(routes!(assessments::create, assessments::list))
        .routes(routes!(assessments::get, assessments::update, assessments::delete))
        .routes(routes!(publish::publish))
        .routes(routes!(submit::submit))
        .routes(routes!(submit::submissions))
        .routes(routes!(submit::statistics))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    tags((name = "assessments", description = "Assessments, their submissions and statistics"))
)]
pub struct ApiDoc;
