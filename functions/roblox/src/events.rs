//! `POST /roblox/environments/{id}/events`: what a linked player did in the
//! game, reported by its server. A report goes through the same rules as
//! the student's own app (`store::progress`, `store::submissions`):
//! progress only moves forward, each attempt is graded exactly once, and
//! both count in the lesson's and the assessment's statistics and on the
//! dashboard.

use axum::extract::State;
use domain::ids::{AssessmentId, EnvironmentId, LessonId};
use domain::json::whole;
use domain::progress::{ProgressStatus, Report};
use domain::roblox::{RobloxLink, RobloxUserId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::AppState;
use store::submissions::{self, Outcome};
use utoipa::ToSchema;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult, ErrorBody};
use web::extract::PathId;
use web::openapi::*;

use crate::game::{GameServer, GameSignature};

/// One thing a linked player did.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum GameEvent {
    /// How far the player got through the environment's lesson.
    Progress {
        roblox_user_id: RobloxUserId,
        lesson_id: LessonId,
        status: ProgressStatus,
        #[serde(deserialize_with = "whole")]
        #[schema(minimum = 0, maximum = 100)]
        percent: u8,
        /// Total time in the lesson so far.
        #[serde(deserialize_with = "whole")]
        #[schema(minimum = 0, maximum = 31536000)]
        time_spent_seconds: u64,
    },
    /// One attempt at the environment's assessment.
    Attempt {
        roblox_user_id: RobloxUserId,
        assessment_id: AssessmentId,
        /// Which attempt, from 1: the same attempt is graded once.
        #[serde(deserialize_with = "whole")]
        #[schema(minimum = 1, maximum = 10)]
        attempt: u32,
        /// One answer per question, in order, as the assessment's submit takes them.
        #[schema(min_items = 1, max_items = 100, value_type = Vec<serde_json::Value>)]
        answers: Vec<Value>,
    },
}

/// What became of a report, for the game to show.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum GameEventResult {
    Progress {
        status: ProgressStatus,
        percent: u8,
        time_spent_seconds: u64,
    },
    Attempt {
        attempt: u32,
        percent: f64,
        passed: bool,
        /// False when this attempt was graded before (a repeat).
        graded_now: bool,
        /// Whether each answer was right, when the teacher shows answers.
        #[serde(skip_serializing_if = "Option::is_none")]
        correct: Option<Vec<bool>>,
    },
}

/// Records what a linked player did: their progress through the
/// environment's lesson, or an attempt at its assessment (graded here).
/// For game servers: signed with the environment's secret, no user
/// credentials. A replayed request is refused (its signature was used).
#[utoipa::path(
    post,
    path = "/api/v1/roblox/environments/{id}/events",
    operation_id = "report_roblox_event",
    tag = "roblox",
    params(
        ("id" = EnvironmentId, Path, description = "The environment's id (the one its key names)"),
        GameSignature,
    ),
    request_body = GameEvent,
    responses(
        (status = 200, description = "Recorded (or already recorded)", body = Success<GameEventResult>),
        (status = 401, description = "`unauthenticated`: no such environment, or the signature is missing, stale, reused or wrong", body = ErrorBody),
        (status = 404, description = "`not_found`: another environment's path, a Roblox user not linked here, or a lesson or assessment the student does not reach", body = ErrorBody),
        (status = 409, description = "`conflict`: the attempt was submitted with other answers, or an earlier one is missing", body = ErrorBody),
        JsonBodyErrors,
    ),
    security(())
)]
pub async fn report(
    State(state): State<AppState>,
    PathId(id): PathId<EnvironmentId>,
    game: GameServer,
) -> AppResult<ApiResponse<GameEventResult>> {
    let (tenant, environment) = (&game.tenant, &game.environment);
    if environment.id != id {
        return Err(AppError::not_found("environment"));
    }
    let event: GameEvent = game.json()?;
    let player = match &event {
        GameEvent::Progress { roblox_user_id, .. } | GameEvent::Attempt { roblox_user_id, .. } => *roblox_user_id,
    };
    let link = state.db.get::<RobloxLink>(&tenant.roblox_link(&id, player.get())).await?;
    let link = link.ok_or_else(|| AppError::not_found("roblox user link"))?;
    let student = &link.student_id;
    let result = match event {
        GameEvent::Progress { lesson_id, status, percent, time_spent_seconds, .. } => {
            if environment.lesson_id.as_ref() != Some(&lesson_id) {
                return Err(AppError::invalid("lesson_id", "is not this environment's lesson"));
            }
            let report = Report::checked(status, percent, time_spent_seconds)?;
            let progress = store::progress::report(&state, tenant, student, &lesson_id, report).await?;
            GameEventResult::Progress {
                status: progress.status,
                percent: progress.percent,
                time_spent_seconds: progress.time_spent_seconds,
            }
        }
        GameEvent::Attempt { assessment_id, attempt, answers, .. } => {
            if environment.assessment_id.as_ref() != Some(&assessment_id) {
                return Err(AppError::invalid("assessment_id", "is not this environment's assessment"));
            }
            let attempt = submissions::Attempt { number: attempt, answers };
            let (outcome, assessment) = submissions::submit(&state, tenant, student, &assessment_id, attempt).await?;
            let (submission, graded_now) = match outcome {
                Outcome::Graded(submission) => (submission, true),
                Outcome::Repeated(submission) => (submission, false),
            };
            GameEventResult::Attempt {
                attempt: submission.attempt,
                percent: submission.percent,
                passed: submission.passed,
                graded_now,
                correct: assessment.show_answers.then(|| submission.graded.iter().map(|g| g.correct).collect()),
            }
        }
    };
    tracing::info!(environment_id = %id, "game event recorded");
    Ok(ApiResponse::ok(result))
}
