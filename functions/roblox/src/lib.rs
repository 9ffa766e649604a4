//! `/api/v1/roblox/*`: Roblox learning environments. A teacher turns a
//! generated lesson or quiz into a world: a Rojo 7 project and a place
//! file of the same tree ([`project`]), kept in S3 and downloaded through
//! short-lived links. Students link their Roblox accounts with one-time
//! join codes, and the game's server reports progress and quiz answers
//! (`game`), which count as the student's own.

mod download;
mod environments;
mod events;
mod game;
mod join_codes;
mod links;
pub mod project;
mod publish;
mod settings;

use utoipa::OpenApi;
use web::http::{RouteTable, routes};

pub fn routes() -> RouteTable {
    RouteTable::new(ApiDoc::openapi)
        .routes(routes!(environments::create, environments::list))
        .routes(routes!(environments::get, environments::delete))
        .routes(routes!(download::download))
        .routes(routes!(join_codes::create))
        .routes(routes!(links::create))
        .routes(routes!(events::report))
        .routes(routes!(publish::publish))
        .routes(routes!(settings::put, settings::get))
}

#[derive(utoipa::OpenApi)]
#[openapi(tags((name = "roblox", description = "Roblox learning environments made from lessons and quizzes")))]
pub struct ApiDoc;
