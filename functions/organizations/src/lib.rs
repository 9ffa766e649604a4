//! `/api/v1/organizations/current*`: the caller's organisation, its usage
//! against its plan, its members and invitations.

mod children;
mod invites;
mod members;
mod organization;
mod usage;

use utoipa::OpenApi;
use web::http::{RouteTable, routes};

pub fn routes() -> RouteTable {
    RouteTable::new(ApiDoc::openapi)
        .routes(routes!(organization::get, organization::update))
        .routes(routes!(usage::get))
        .routes(routes!(members::list))
        .routes(routes!(members::change_role, members::remove))
        .routes(routes!(children::link, children::list))
        .routes(routes!(children::unlink))
        .routes(routes!(invites::create, invites::list))
        .routes(routes!(invites::withdraw))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    tags((name = "organizations", description = "The caller's organization, its members and invites"))
)]
pub struct ApiDoc;
