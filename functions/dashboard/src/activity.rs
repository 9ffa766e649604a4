//! The activity feed: what happened, newest first, a page at a time.

use axum::extract::State;
use domain::audit_log::StateChange;
use domain::ids::{ClassId, UserId};
use domain::principal::Role;
use serde::Serialize;
use store::AppState;
use store::activity::{self, ActivityEvent, Feed};
use store::cursor;
use utoipa::ToSchema;
use web::envelope::{ApiResponse, Success};
use web::error::AppResult;
use web::extract::{PageRequest, Staff};
use web::openapi::*;

/// One thing that happened.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityView {
    /// Sorts by time: a later event has a greater id.
    id: String,
    /// What happened: `class.created`, `class.updated`, `class.deleted`,
    /// `class.students_enrolled`, `class.student_removed`,
    /// `lesson.created`, `lesson.updated`, `lesson.published`,
    /// `lesson.deleted`, `lesson.started`, `lesson.completed`,
    /// `assessment.created`, `assessment.updated`, `assessment.published`,
    /// `assessment.deleted`, `assessment.submitted`, `message.sent`, or, for
    /// admins, `billing.tier_changed` and `billing.status_changed`.
    kind: String,
    /// Who did it: null when a verified payment event did (`billing.*`).
    actor_id: Option<UserId>,
    /// For `billing.*`: the values before and after the change.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>, nullable = false)]
    changes: Option<StateChange>,
    /// The id of what it happened to: a class, lesson, assessment or message.
    subject_id: String,
    /// The classes it happened in, if any.
    class_ids: Vec<ClassId>,
    at: String,
}

impl From<ActivityEvent> for ActivityView {
    fn from(event: ActivityEvent) -> Self {
        Self {
            id: event.id,
            kind: event.kind,
            actor_id: event.actor_id,
            changes: event.changes,
            subject_id: event.subject_id,
            class_ids: event.class_ids,
            at: event.at,
        }
    }
}

/// The activity feed, newest first, kept 90 days: for an admin (or an API
/// key with `admin`) everything that happened in the organization; for a
/// teacher (or a key without `admin`, for its maker) what happened in the
/// classes they teach (students starting and completing lessons,
/// submitting assessments, class messages, enrollments and publications)
/// and what they did themselves. An event is written just after the write
/// it tells of, so it may appear a moment later.
#[utoipa::path(
    get,
    path = "/api/v1/dashboard/activity",
    operation_id = "get_dashboard_activity",
    tag = "dashboard",
    params(PageRequest),
    responses(
        (status = 200, description = "A page of events, newest first", body = Success<Vec<ActivityView>>),
        ReadList,
        (status = 503, response = Unavailable),
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])), ("x-scopes" = json!(["analytics:read"])))
)]
pub async fn activity(
    State(state): State<AppState>,
    Staff(principal, tenant): Staff,
    page: PageRequest,
) -> AppResult<ApiResponse<Vec<ActivityView>>> {
    let feed = match principal.role {
        Role::Teacher => Feed::Teacher(principal.user_id.clone()),
        _ => Feed::Organization,
    };
    let keys = state.key_set().await?;
    // The cursor carries the id of the last event shown: the next page is
    // the events before it, in every shard.
    let before = page.start(&keys, &tenant, &feed.name())?.and_then(|mut last| last.remove("sk"));
    let limit = usize::try_from(page.limit).unwrap_or(1);
    let (events, more) = activity::page(&state, &tenant, &feed, limit, before.as_deref()).await?;
    let next = match events.last() {
        Some(last) if more => {
            let position = [("pk".to_owned(), feed.first_partition(&tenant)), ("sk".to_owned(), last.id.clone())];
            Some(cursor::encode(&keys, &tenant, &feed.name(), &position.into()))
        }
        _ => None,
    };
    Ok(ApiResponse::page(events.into_iter().map(ActivityView::from).collect(), next))
}
