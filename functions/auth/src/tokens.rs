//! Starting a session and answering with its tokens: the tail of register,
//! login and refresh.

use credentials::jwt::{self, Subject};
use credentials::refresh::RefreshToken;
use domain::ids::SessionId;
use domain::session::Session;
use domain::tenancy::Tenant;
use domain::user::{User, UserView};
use serde::Serialize;
use store::AppState;
use store::db::DbError;
use store::keyset::KeySet;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuthResponse {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `bearer`.
    #[schema(value_type = String, example = "bearer")]
    pub token_type: &'static str,
    /// Seconds the access token is valid.
    pub expires_in: i64,
    pub user: UserView,
}

/// A new session for `user`, to be stored with the caller's other writes.
pub fn new_session(state: &AppState, user: &User) -> (Session, RefreshToken) {
    let now = state.now();
    let token = RefreshToken::mint(user.org_id.clone(), user.id.clone(), SessionId::new());
    let session = Session::start(
        user.id.clone(),
        token.session_id.clone(),
        token.secret_hash(),
        now,
        state.config.refresh_token_ttl_seconds,
    );
    (session, token)
}

pub fn session_write(state: &AppState, tenant: &Tenant, session: &Session) -> Result<store::db::Write, DbError> {
    Ok(store::db::Write::Put(state.db.put_new(&tenant.session(&session.user_id, &session.session_id), session)?))
}

/// The tokens for a stored session. Handlers fetch `keys` before they write,
/// so a missing key set fails the request before anything is stored.
pub fn respond(state: &AppState, keys: &KeySet, user: User, refresh: &RefreshToken) -> AuthResponse {
    let access_token = jwt::issue(
        keys,
        &state.config,
        state.now(),
        &Subject {
            user_id: &user.id.to_string(),
            org_id: &user.org_id.to_string(),
            role: user.role.as_str(),
            session_id: &refresh.session_id.to_string(),
        },
    );
    AuthResponse {
        access_token,
        refresh_token: refresh.to_string(),
        token_type: "bearer",
        expires_in: state.config.access_token_ttl_seconds,
        user: user.into(),
    }
}
