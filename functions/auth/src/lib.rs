//! `/api/v1/auth/*`: registration, login, refresh, logout (one session or
//! all), me, password.

mod login;
mod me;
mod register;
mod session;
mod tokens;

use axum::Router;
use store::AppState;
use web::http::RouteTable;

pub fn routes() -> RouteTable {
    RouteTable::new()
        .post("/api/v1/auth/register", register::register)
        .post("/api/v1/auth/login", login::login)
        .post("/api/v1/auth/refresh", session::refresh)
        .post("/api/v1/auth/logout", session::logout)
        .post("/api/v1/auth/logout-all", session::logout_all)
        .get("/api/v1/auth/me", me::me)
        .post("/api/v1/auth/password", me::change_password)
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        register::register,
        login::login,
        session::refresh,
        session::logout,
        session::logout_all,
        me::me,
        me::change_password
    ),
    tags((name = "auth", description = "Registration, sessions and the signed-in user"))
)]
pub struct ApiDoc;

pub fn router(state: AppState) -> Router {
    routes().into_router(state)
}
