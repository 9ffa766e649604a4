//! `/api/v1/organizations/current*`: the caller's organisation, its members
//! and invitations.

mod children;
mod invites;
mod members;
mod organization;

use axum::Router;
use store::AppState;
use web::http::RouteTable;

pub fn routes() -> RouteTable {
    RouteTable::new()
        .get("/api/v1/organizations/current", organization::get)
        .patch("/api/v1/organizations/current", organization::update)
        .get("/api/v1/organizations/current/members", members::list)
        .patch("/api/v1/organizations/current/members/{user_id}", members::change_role)
        .delete("/api/v1/organizations/current/members/{user_id}", members::remove)
        .post("/api/v1/organizations/current/members/{user_id}/children", children::link)
        .get("/api/v1/organizations/current/members/{user_id}/children", children::list)
        .delete("/api/v1/organizations/current/members/{user_id}/children/{child_id}", children::unlink)
        .post("/api/v1/organizations/current/invites", invites::create)
        .get("/api/v1/organizations/current/invites", invites::list)
        .delete("/api/v1/organizations/current/invites/{id}", invites::withdraw)
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        organization::get,
        organization::update,
        members::list,
        members::change_role,
        members::remove,
        children::link,
        children::list,
        children::unlink,
        invites::create,
        invites::list,
        invites::withdraw
    ),
    tags((name = "organizations", description = "The caller's organization, its members and invites"))
)]
pub struct ApiDoc;

pub fn router(state: AppState) -> Router {
    routes().into_router(state)
}
