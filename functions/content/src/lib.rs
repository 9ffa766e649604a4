//! `/api/v1/content*`: generation requests and their jobs, and the content
//! they produce: read, edited, published, deleted and searched. The work
//! itself runs in `content-worker`.

mod generate;
mod items;
mod jobs;
mod search;
mod view;

use utoipa::OpenApi;
use web::http::{RouteTable, routes};

pub fn routes() -> RouteTable {
    RouteTable::new(ApiDoc::openapi)
        .routes(routes!(generate::start))
        .routes(routes!(jobs::list))
        .routes(routes!(jobs::get))
        .routes(routes!(search::search))
        .routes(routes!(items::list))
        .routes(routes!(items::get, items::update, items::delete))
        .routes(routes!(items::publish))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    tags((name = "content", description = "AI content generation, its jobs, and the content it produces"))
)]
pub struct ApiDoc;
