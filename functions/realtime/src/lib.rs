//! `POST /api/v1/pusher/auth`: signs a browser's subscription to a private
//! or presence channel, in Pusher's own request and response shapes, and only
//! for channels the signed-in user may join.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use domain::class::Class;
use domain::error::FieldError;
use domain::ids::{ClassId, OrgId, UserId};
use domain::principal::Role;
use domain::user::User;
use integrations::pusher::{ChannelName, Signing, SocketId};
use serde::{Deserialize, Serialize};
use serde_json::json;
use store::AppState;
use store::db::Db;
use utoipa::{OpenApi, ToSchema};
use web::envelope::NO_STORE;
use web::error::{AppError, AppResult};
use web::extract::Caller;
use web::http::{RouteTable, json_response, routes};
use web::json::{self, BODY_LIMIT};
use web::openapi::*;

pub fn routes() -> RouteTable {
    RouteTable::new(ApiDoc::openapi).routes(routes!(auth))
}

#[derive(utoipa::OpenApi)]
#[openapi(tags((name = "realtime", description = "Pusher Channels subscriptions")))]
pub struct ApiDoc;

/// What pusher-js sends: form-encoded by default, JSON if so configured.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AuthRequest {
    /// The connection's id, like `1234.5678`.
    #[schema(required = true, nullable = false, max_length = 40, pattern = r"^\d+\.\d+$")]
    socket_id: Option<String>,
    /// `private-org-{org_id}` (staff), `private-admins-{org_id}` (admins),
    /// `private-user-{user_id}` or `presence-class-{class_id}`.
    #[schema(required = true, nullable = false, min_length = 1, max_length = 164, pattern = r"^[A-Za-z0-9_\-=@,.;]+$")]
    channel_name: Option<String>,
}

/// Pusher's answer shape (not the envelope): what pusher-js expects.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelAuth {
    /// `"<app key>:<hex HMAC-SHA256>"`.
    auth: String,
    /// Presence channels only: the member's id and info, as signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    channel_data: Option<String>,
}

/// The channels docs/api.md names, parsed from a channel name.
enum Channel {
    Org(OrgId),
    Admins(OrgId),
    User(UserId),
    Class(ClassId),
}

impl Channel {
    fn parse(name: &ChannelName) -> Option<Self> {
        let name = name.as_str();
        if let Some(id) = name.strip_prefix("private-org-") {
            return id.parse().ok().map(Self::Org);
        }
        if let Some(id) = name.strip_prefix("private-admins-") {
            return id.parse().ok().map(Self::Admins);
        }
        if let Some(id) = name.strip_prefix("private-user-") {
            return id.parse().ok().map(Self::User);
        }
        name.strip_prefix("presence-class-").and_then(|id| id.parse().ok()).map(Self::Class)
    }
}

async fn read_request(req: Request) -> AppResult<(SocketId, ChannelName)> {
    let content_type = req.headers().get(header::CONTENT_TYPE).cloned();
    let bytes = json::read_limited(req.into_body(), BODY_LIMIT).await?;
    let form = content_type
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().unwrap_or_default().trim() == "application/x-www-form-urlencoded");
    let body: AuthRequest = if form {
        serde_urlencoded::from_bytes(&bytes).map_err(|_| AppError::BadRequest("the form is malformed".into()))?
    } else if json::is_json(content_type.as_ref()) {
        domain::json::parse(&bytes)?
    } else {
        return Err(AppError::UnsupportedMediaType(
            "the body must be application/x-www-form-urlencoded or application/json".into(),
        ));
    };
    let mut problems = Vec::new();
    let socket = match body.socket_id.as_deref().map(str::parse::<SocketId>) {
        Some(Ok(socket)) => Some(socket),
        Some(Err(problem)) => {
            problems.push(FieldError::new("socket_id", problem));
            None
        }
        None => {
            problems.push(FieldError::new("socket_id", "is required"));
            None
        }
    };
    let channel = match body.channel_name.as_deref().map(str::parse::<ChannelName>) {
        Some(Ok(channel)) => Some(channel),
        Some(Err(problem)) => {
            problems.push(FieldError::new("channel_name", problem));
            None
        }
        None => {
            problems.push(FieldError::new("channel_name", "is required"));
            None
        }
    };
    match (socket, channel) {
        (Some(socket), Some(channel)) => Ok((socket, channel)),
        _ => Err(AppError::Validation(problems)),
    }
}

/// Signs a subscription for the signed-in user: their organization's
/// channel (staff only), its admins' channel (admins only), their own user channel, or the presence channel of a class they
/// teach or attend. Any other channel is a 403.
#[utoipa::path(
    post,
    path = "/api/v1/pusher/auth",
    operation_id = "pusher_auth",
    tag = "realtime",
    request_body(content(
        (AuthRequest = "application/x-www-form-urlencoded"),
        (AuthRequest = "application/json"),
    )),
    responses(
        (status = 200, description = "The subscription's signature, in Pusher's shape", body = ChannelAuth),
        JsonBodyErrors,
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 503, response = Unavailable),
    ),
    security(("bearer" = []))
)]
pub async fn auth(
    State(state): State<AppState>,
    Caller(principal, tenant): Caller,
    req: Request,
) -> AppResult<Response> {
    principal.require_user()?;
    let (socket, channel_name) = read_request(req).await?;
    // One reader of the secret per function, kept with its state.
    let keys = state.lazy(|| state.config.pusher.as_ref().map(|pusher| pusher.keys(state.aws.secrets.clone())));
    let Some(keys) = keys.as_ref() else {
        return Err(AppError::Unavailable { message: "realtime is not configured".into(), retry_after_seconds: None });
    };
    let signer = keys.signer().await.map_err(|err| {
        tracing::error!(error = %err, "the pusher secret could not be read");
        AppError::Unavailable { message: "realtime is unavailable".into(), retry_after_seconds: Some(5) }
    })?;
    let tenant = tenant.clone();
    let refused = || AppError::Forbidden(format!("you may not join {channel_name}"));
    let channel_data = match Channel::parse(&channel_name).ok_or_else(refused)? {
        // The organization's channel carries staff events (jobs, dashboards).
        Channel::Org(org) if org == principal.org_id && principal.role.is_staff() => None,
        // The admins' channel carries billing events.
        Channel::Admins(org) if org == principal.org_id && principal.role == Role::Admin => None,
        Channel::User(user) if user == principal.user_id => None,
        Channel::Class(class) => {
            let found =
                state.db.batch_get(&[tenant.class(&class), tenant.roster_entry(&class, &principal.user_id)]).await?;
            if Db::decode_live::<Class>(found[0].clone())?.is_none() || found[1].is_none() {
                return Err(refused());
            }
            let user = state.db.get::<User>(&tenant.user(&principal.user_id)).await?.ok_or_else(refused)?;
            let info = json!({"name": format!("{} {}", user.first_name, user.last_name), "role": user.role});
            Some(json!({"user_id": principal.user_id, "user_info": info}).to_string())
        }
        _ => return Err(refused()),
    };
    let auth = signer.channel_auth(&socket, &channel_name, channel_data.as_deref());
    tracing::info!(channel = %channel_name, "channel subscription signed");
    let mut response = json_response(StatusCode::OK, &ChannelAuth { auth, channel_data });
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_STORE));
    Ok(response)
}
