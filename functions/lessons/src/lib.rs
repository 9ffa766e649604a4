//! `/api/v1/lessons*`: lessons written by teachers (or made from generated
//! content), versioned, and published to classes, whose students then read
//! them; students report their progress, and teachers read each lesson's
//! statistics.

mod lessons;
mod progress;
mod publish;
mod view;

use utoipa::OpenApi;
use web::http::{RouteTable, routes};

pub fn routes() -> RouteTable {
    RouteTable::new(ApiDoc::openapi)
        .routes(routes!(lessons::create, lessons::list))
        .routes(routes!(lessons::get, lessons::update, lessons::delete))
        .routes(routes!(publish::publish))
        .routes(routes!(progress::list))
        .routes(routes!(progress::report, progress::get))
        .routes(routes!(progress::statistics))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    tags((name = "lessons", description = "Lessons, and the classes they are published to"))
)]
pub struct ApiDoc;
