//! `/api/v1/organizations/current*`: the caller's organisation, its members
//! and invitations.

mod invites;
mod members;
mod organization;

use axum::Router;
use toolbox::AppState;
use toolbox::http::RouteTable;

pub fn routes() -> RouteTable {
    RouteTable::new()
        .get("/api/v1/organizations/current", organization::get)
        .patch("/api/v1/organizations/current", organization::update)
        .get("/api/v1/organizations/current/members", members::list)
        .patch("/api/v1/organizations/current/members/{user_id}", members::change_role)
        .delete("/api/v1/organizations/current/members/{user_id}", members::remove)
        .post("/api/v1/organizations/current/invites", invites::create)
}

pub fn router(state: AppState) -> Router {
    routes().into_router(state)
}
