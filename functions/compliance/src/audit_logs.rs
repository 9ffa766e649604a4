//! `GET /compliance/audit-logs`: the organization's audit log, newest
//! first. There is no route that changes or deletes an entry.

use axum::extract::{Query, State};
use domain::audit_log::{Action, Entry, Target, TargetType};
use serde::Deserialize;
use store::AppState;
use store::audit_log::{self, Filter};
use store::cursor;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::IntoParams;
use web::audit;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::{Admin, PageRequest};
use web::openapi::*;

/// The filters, all optional and combined with AND.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// One action, such as `member.role_changed` or `login.failed`.
    #[param(value_type = Option<Action>, nullable = false)]
    action: Option<String>,
    /// The actor's id: a user id, an API key id, or a payment provider's event id.
    #[param(nullable = false)]
    actor_id: Option<String>,
    /// The id of one of the entry's targets (a user, invite, API key, organization).
    #[param(nullable = false)]
    target_id: Option<String>,
    /// Entries at or after this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime, nullable = false)]
    from: Option<String>,
    /// Entries at or before this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime, nullable = false)]
    to: Option<String>,
}

/// Ids and actions are short; anything longer is not one.
const MAX_FILTER_LEN: usize = 64;

impl AuditQuery {
    fn filter(self) -> AppResult<Filter> {
        let id = |name: &str, value: Option<String>| match value {
            Some(value) if value.is_empty() || value.len() > MAX_FILTER_LEN => {
                Err(AppError::BadRequest(format!("{name} must be 1 to {MAX_FILTER_LEN} characters")))
            }
            other => Ok(other),
        };
        let time = |name: &str, value: Option<String>| {
            value
                .map(|raw| OffsetDateTime::parse(&raw, &Rfc3339))
                .transpose()
                .map_err(|_| AppError::BadRequest(format!("{name} must be an RFC 3339 time")))
        };
        let action = id("action", self.action)?
            .map(|raw| raw.parse::<Action>())
            .transpose()
            .map_err(|reason| AppError::BadRequest(format!("action: {reason}")))?;
        let filter = Filter {
            action,
            actor_id: id("actor_id", self.actor_id)?,
            target_id: id("target_id", self.target_id)?,
            from: time("from", self.from)?,
            to: time("to", self.to)?,
        };
        if let (Some(from), Some(to)) = (filter.from, filter.to)
            && from > to
        {
            return Err(AppError::BadRequest("from must not be after to".into()));
        }
        Ok(filter)
    }
}

/// Names the list and its filters in a cursor, so one filter's cursor
/// cannot page another's.
fn list_name(filter: &Filter) -> String {
    let time = |at: Option<OffsetDateTime>| at.map(|at| at.unix_timestamp_nanos().to_string()).unwrap_or_default();
    format!(
        "audit-logs?{}&{}&{}&{}&{}",
        filter.action.map(Action::as_str).unwrap_or_default(),
        filter.actor_id.as_deref().unwrap_or_default(),
        filter.target_id.as_deref().unwrap_or_default(),
        time(filter.from),
        time(filter.to),
    )
}

/// The audit log, newest first, kept for the retention the deployment sets
/// (400 days by default). A filtered page may hold fewer entries than
/// `limit`, even none, and still have a `next_cursor`: follow it until
/// there is none. Each read is itself audited (`audit_log.read`), once it
/// has been answered.
#[utoipa::path(
    get,
    path = "/api/v1/compliance/audit-logs",
    operation_id = "list_audit_logs",
    tag = "compliance",
    params(AuditQuery, PageRequest),
    responses(
        (status = 200, description = "A page of entries, newest first", body = Success<Vec<Entry>>),
        ReadList,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin"])), ("x-scopes" = json!(["admin"])))
)]
pub async fn list(
    State(state): State<AppState>,
    Admin(principal, tenant): Admin,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
    page: PageRequest,
) -> AppResult<ApiResponse<Vec<Entry>>> {
    let Query(query) = query.map_err(|_| AppError::BadRequest("the query string is malformed".into()))?;
    let filter = query.filter()?;
    let keys = state.key_set().await?;
    let list = list_name(&filter);
    let before = page.start(&keys, &tenant, &list)?.and_then(|mut position| position.remove("sk"));
    let limit = usize::try_from(page.limit).unwrap_or(1);
    let found = audit_log::page(&state, &tenant, &filter, limit, before.as_deref()).await?;
    let next = found.before.map(|before| {
        let position = [("pk".to_owned(), tenant.audit_log(0)), ("sk".to_owned(), before)];
        cursor::encode(&keys, &tenant, &list, &position.into())
    });
    let read =
        audit::by(&state, &principal, Action::AuditLogRead).target(Target::of(TargetType::AuditLog, tenant.org_id()));
    if let Err(err) = audit_log::record(&state, &tenant, &read).await {
        tracing::error!(error = %err, "a read of the audit log was not audited");
        return Err(err.into());
    }
    Ok(ApiResponse::page(found.entries, next))
}
