//! `/api/v1/auth/*`: registration, login, refresh, logout (one session or
//! all), me, password.

mod attempts;
mod login;
mod me;
mod register;
mod session;
mod tokens;

use utoipa::OpenApi;
use web::http::{RouteTable, routes};

pub fn routes() -> RouteTable {
    RouteTable::new(ApiDoc::openapi)
        .routes(routes!(register::register))
        .routes(routes!(login::login))
        .routes(routes!(session::refresh))
        .routes(routes!(session::logout))
        .routes(routes!(session::logout_all))
        .routes(routes!(me::me))
        .routes(routes!(me::change_password))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    tags((name = "auth", description = "Registration, sessions and the signed-in user"))
)]
pub struct ApiDoc;
