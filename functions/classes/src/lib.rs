//! `/api/v1/classes*`: classes and their rosters. Teachers and admins read
//! every class of the organisation; a class is changed by its teacher or an
//! admin; a student sees only the classes they are enrolled in.

mod classes;
mod roster;
mod view;

use utoipa::OpenApi;
use web::http::{RouteTable, routes};

pub fn routes() -> RouteTable {
    RouteTable::new(ApiDoc::openapi)
        .routes(routes!(classes::create, classes::list))
        .routes(routes!(classes::get, classes::update, classes::delete))
        .routes(routes!(roster::list, roster::enroll))
        .routes(routes!(roster::remove))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    tags((name = "classes", description = "Classes and their rosters"))
)]
pub struct ApiDoc;
