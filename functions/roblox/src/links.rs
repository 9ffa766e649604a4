//! `POST /roblox/links`: the game server exchanges a student's join code,
//! with the Roblox user id of the player who typed it, for a link: from
//! then on the environment's reports about that player are the student's.

use axum::extract::State;
use domain::clock::rfc3339;
use domain::ids::EnvironmentId;
use domain::roblox::{self, JoinCode, RobloxLink, RobloxUserId, field};
use serde::{Deserialize, Serialize};
use store::AppState;
use store::DbError;
use store::db::{Range, Write};
use store::records::{Changes, Condition};
use utoipa::ToSchema;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult, ErrorBody};
use web::openapi::*;

use crate::game::{GameServer, GameSignature};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// The code the student typed (case, blanks and dashes do not matter).
    #[schema(min_length = 1, max_length = 20)]
    code: String,
    /// The player's Roblox user id (`Player.UserId`).
    roblox_user_id: RobloxUserId,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LinkView {
    environment_id: EnvironmentId,
    roblox_user_id: RobloxUserId,
    linked_at: String,
    /// Attempts the student already submitted at the environment's
    /// assessment: the game's next attempt is this plus one.
    attempts_used: usize,
}

/// Links the player who typed a join code to the student who asked for
/// it. The code works once and for ten minutes; a Roblox account plays as
/// one student in an environment. For game servers: signed with the
/// environment's secret (`X-Environment-Key`, `X-Timestamp`,
/// `X-Signature`), no user credentials.
#[utoipa::path(
    post,
    path = "/api/v1/roblox/links",
    operation_id = "link_roblox_user",
    tag = "roblox",
    params(GameSignature),
    request_body = LinkRequest,
    responses(
        (status = 201, description = "Linked", body = Success<LinkView>),
        (status = 401, description = "`unauthenticated`: no such environment, or the signature is missing, stale, reused or wrong", body = ErrorBody),
        (status = 404, description = "`not_found`: no such join code for this environment", body = ErrorBody),
        (status = 409, description = "`conflict`: the code was used or expired, or the Roblox account plays as another student here", body = ErrorBody),
        JsonBodyErrors,
    ),
    security(())
)]
pub async fn create(State(state): State<AppState>, game: GameServer) -> AppResult<ApiResponse<LinkView>> {
    let req: LinkRequest = game.json()?;
    let code = roblox::parse_join_code(&req.code)
        .ok_or_else(|| AppError::invalid("code", "must be the 8 letters and digits the student was shown"))?;
    let (tenant, environment) = (&game.tenant, &game.environment);
    let code_key = tenant.join_code(&environment.id, &code);
    let not_found = || AppError::not_found("join code");
    let joined = state.db.get::<JoinCode>(&code_key).await?.ok_or_else(not_found)?;
    let used = || AppError::Conflict("this join code was used already; ask for a new one".into());
    let now = state.now();
    if joined.used_at.is_some() {
        return Err(used());
    }
    if joined.expires_at <= now.unix_timestamp() {
        return Err(AppError::Conflict("this join code expired; ask for a new one".into()));
    }
    let at = rfc3339(now);
    let link = RobloxLink {
        environment_id: environment.id.clone(),
        roblox_user_id: req.roblox_user_id,
        student_id: joined.student_id.clone(),
        linked_at: at.clone(),
        gsi1pk: tenant.held_by(&joined.student_id),
        gsi1sk: format!("{}{}#{}", roblox::LINK_HELD_PREFIX, environment.id, req.roblox_user_id.get()),
    };
    let spent = Changes::new().set(field::CODE_USED_AT, &at).when(
        Condition::exists()
            .and(Condition::absent(field::CODE_USED_AT))
            .and(Condition::above(field::CODE_EXPIRES_AT, &now.unix_timestamp())),
    );
    let linked = Changes::new()
        .set(field::LINK_ENVIRONMENT, &link.environment_id)
        .set(field::LINK_ROBLOX_USER, &link.roblox_user_id)
        .set(field::LINK_STUDENT, &link.student_id)
        .set(field::LINK_AT, &link.linked_at)
        .set(field::LINK_HELD_BY, &link.gsi1pk)
        .set(field::LINK_HELD_AS, &link.gsi1sk)
        .when(Condition::absent(field::LINK_STUDENT).or(Condition::equals(field::LINK_STUDENT, &link.student_id)));
    let writes = vec![
        Write::Update(state.db.update_with(&code_key, spent)?),
        Write::Update(state.db.update_with(&tenant.roblox_link(&environment.id, req.roblox_user_id.get()), linked)?),
    ];
    match state.db.transact(writes).await {
        Ok(()) => {}
        // Used by another request between the read and the write.
        Err(DbError::Cancelled { failed }) if failed.contains(&0) => return Err(used()),
        Err(DbError::Cancelled { failed }) if failed.contains(&1) => {
            return Err(AppError::Conflict("this Roblox account plays as another student in this environment".into()));
        }
        Err(err) => return Err(err.into()),
    }
    let attempts_used = match &environment.assessment_id {
        Some(assessment) => {
            let partition = tenant.submissions_partition(assessment);
            let prefix = domain::tenancy::Tenant::submissions_of_prefix(&link.student_id);
            state.db.keys(&Range::of(&partition, &prefix), 100).await?.0.len()
        }
        None => 0,
    };
    tracing::info!(environment_id = %environment.id, "roblox user linked");
    Ok(ApiResponse::created(LinkView {
        environment_id: link.environment_id,
        roblox_user_id: link.roblox_user_id,
        linked_at: link.linked_at,
        attempts_used,
    }))
}
