//! One's own copies of messages: the boxes, one message, the unread count,
//! and read / unread / star / archive / delete, which change only one's own
//! copy. A change of read state (read, unread, deleting an unread message)
//! is conditional on the state it saw and moves the unread count in the
//! same transaction, so the count is exact under any concurrency.

use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use domain::clock::rfc3339;
use domain::ids::MessageId;
use domain::json::present;
use domain::message::{self, InboxEntry, Message, field};
use domain::principal::Principal;
use domain::record::Field;
use domain::tenancy::Tenant;
use serde::Deserialize;
use store::AppState;
use store::cursor;
use store::db::{Db, DbError, Range, Write};
use store::records::{Changes, Condition};
use utoipa::ToSchema;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::Caller;
use web::extract::PageRequest;
use web::extract::PathId;
use web::json::OptionalJson;
use web::openapi::*;

use crate::own_copy;
use crate::send::unread_change;
use crate::view::{MessageView, UnreadCount};

/// A change of read state that lost a race is tried again this often.
const MAX_RACES: usize = 5;

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageBox {
    /// Received, not archived (the default).
    #[default]
    Inbox,
    Sent,
    Starred,
    Archived,
}

#[derive(Deserialize)]
struct BoxQuery {
    #[serde(rename = "box", default)]
    which: MessageBox,
}

/// One's messages, newest first: received (`inbox`, the default), `sent`,
/// `starred` or `archived`. Messages one deleted are left out.
#[utoipa::path(
    get,
    path = "/api/v1/messages",
    operation_id = "list_messages",
    tag = "messages",
    params(
        ("box" = Option<MessageBox>, Query, nullable = false, description = "Which messages (default `inbox`)"),
        PageRequest,
    ),
    responses(
        (status = 200, description = "A page of messages (with `preview`, not `body`)", body = Success<Vec<MessageView>>),
        ReadList,
    ),
    security(("bearer" = [])),
    extensions(("x-roles" = json!(["admin", "teacher", "student", "parent"])))
)]
pub async fn list(
    State(state): State<AppState>,
    Caller(principal, tenant): Caller,
    uri: Uri,
    page: PageRequest,
) -> AppResult<ApiResponse<Vec<MessageView>>> {
    principal.require_user()?;
    let tenant = tenant.clone();
    let Query(query) = Query::<BoxQuery>::try_from_uri(&uri)
        .map_err(|_| AppError::BadRequest("box must be inbox, sent, starred or archived".into()))?;
    let keys = state.key_set().await?;
    // The cursor is bound to the user: another's would point into their box.
    let list = format!("messages:{}?box={:?}", principal.user_id, query.which);
    let start = page.start(&keys, &tenant, &list)?;
    let prefix = match query.which {
        MessageBox::Sent => Tenant::SENT_PREFIX,
        _ => Tenant::INBOX_PREFIX,
    };
    let partition = tenant.user_partition(&principal.user_id);
    let range = Range::of(&partition, prefix).newest_first().live_only();
    let found = state.db.query::<InboxEntry>(&range, page.limit, start).await?;
    // The boxes within received messages are a filter on one Query: a page
    // may come back shorter than asked, never with a message of another box.
    let kept = found.items.into_iter().filter(|entry| match query.which {
        MessageBox::Inbox => !entry.archived,
        MessageBox::Sent => true,
        MessageBox::Starred => entry.starred,
        MessageBox::Archived => entry.archived,
    });
    let next = found.last_key.map(|key| cursor::encode(&keys, &tenant, &list, &key));
    Ok(ApiResponse::page(kept.map(MessageView::listed).collect(), next))
}

/// How many received messages one has not read (archived ones included).
#[utoipa::path(
    get,
    path = "/api/v1/messages/unread-count",
    operation_id = "unread_count",
    tag = "messages",
    responses(
        (status = 200, description = "The count", body = Success<UnreadCount>),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = [])),
    extensions(("x-roles" = json!(["admin", "teacher", "student", "parent"])))
)]
pub async fn unread_count(
    State(state): State<AppState>,
    Caller(principal, tenant): Caller,
) -> AppResult<ApiResponse<UnreadCount>> {
    principal.require_user()?;
    let tenant = tenant.clone();
    let count =
        state.db.get::<message::UnreadCount>(&tenant.unread_counter(&principal.user_id)).await?.map_or(0, |c| c.count);
    Ok(ApiResponse::ok(UnreadCount { unread: count.max(0) as u64 }))
}

/// One message of one's own, with its body.
#[utoipa::path(
    get,
    path = "/api/v1/messages/{id}",
    operation_id = "get_message",
    tag = "messages",
    params(("id" = MessageId, Path, description = "The message's id")),
    responses(
        (status = 200, description = "The message", body = Success<MessageView>),
        ReadOne,
    ),
    security(("bearer" = [])),
    extensions(("x-roles" = json!(["admin", "teacher", "student", "parent"])))
)]
pub async fn get(
    State(state): State<AppState>,
    Caller(principal, tenant): Caller,
    PathId(id): PathId<MessageId>,
) -> AppResult<ApiResponse<MessageView>> {
    principal.require_user()?;
    let tenant = tenant.clone();
    let (_, entry) = own_copy(&state, &tenant, &principal.user_id, &id).await?;
    let message = state
        .db
        .get::<Message>(&tenant.thread_message(&entry.thread_id, &id))
        .await?
        .ok_or_else(|| AppError::not_found("message"))?;
    Ok(ApiResponse::ok(MessageView::of(entry, Some(message))))
}

/// A change of one's copy that may move the unread count: what it sets,
/// and how the count moves.
struct CopyChange {
    changes: Changes<InboxEntry>,
    unread_by: i64,
}

/// Applies `change` to one's copy as read now (`None` from it: nothing to
/// do), on the condition that the copy's read state is still the one seen,
/// with the unread count in the same transaction; if another request
/// changed the copy first, reads it again. Returns the copy as it was.
async fn change_copy(
    state: &AppState,
    principal: &Principal,
    id: &MessageId,
    change: impl Fn(&InboxEntry) -> Option<CopyChange>,
) -> AppResult<InboxEntry> {
    principal.require_user()?;
    let tenant = Tenant::of(principal);
    for _ in 0..MAX_RACES {
        let (key, entry) = own_copy(state, &tenant, &principal.user_id, id).await?;
        let Some(CopyChange { changes, unread_by }) = change(&entry) else { return Ok(entry) };
        let update = state
            .db
            .update_with(&key, changes.when(Condition::live().and(Condition::equals(field::READ, &entry.read))))?;
        let mut writes = vec![Write::Update(update)];
        if unread_by != 0 {
            writes.push(unread_change(state, &tenant, &principal.user_id, unread_by)?);
        }
        match state.db.transact(writes).await {
            Ok(()) => return Ok(entry),
            // Changed by another request since it was read: look again.
            Err(DbError::Cancelled { failed }) if failed.contains(&0) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(AppError::Conflict("the message is being changed by other requests; retry".into()))
}

/// Moves one's copy to `read` (or back), and the unread count with it.
/// Nothing changes when it is already so, or when it is one's own sent copy.
async fn set_read(state: &AppState, principal: &Principal, id: &MessageId, read: bool) -> AppResult<MessageView> {
    let change = |entry: &InboxEntry| {
        (!entry.sent && entry.read != read).then(|| CopyChange {
            changes: Changes::new().set(field::READ, &read),
            unread_by: if read { -1 } else { 1 },
        })
    };
    let mut entry = change_copy(state, principal, id, change).await?;
    if !entry.sent {
        entry.read = read;
    }
    Ok(MessageView::listed(entry))
}

/// Marks a received message read.
#[utoipa::path(
    post,
    path = "/api/v1/messages/{id}/read",
    operation_id = "mark_message_read",
    tag = "messages",
    params(("id" = MessageId, Path, description = "The message's id")),
    responses(
        (status = 200, description = "One's copy, read", body = Success<MessageView>),
        Change,
    ),
    security(("bearer" = [])),
    extensions(("x-roles" = json!(["admin", "teacher", "student", "parent"])))
)]
pub async fn read(
    State(state): State<AppState>,
    Caller(principal, _): Caller,
    PathId(id): PathId<MessageId>,
) -> AppResult<ApiResponse<MessageView>> {
    Ok(ApiResponse::ok(set_read(&state, &principal, &id, true).await?))
}

/// Marks a received message unread again.
#[utoipa::path(
    post,
    path = "/api/v1/messages/{id}/unread",
    operation_id = "mark_message_unread",
    tag = "messages",
    params(("id" = MessageId, Path, description = "The message's id")),
    responses(
        (status = 200, description = "One's copy, unread", body = Success<MessageView>),
        Change,
    ),
    security(("bearer" = [])),
    extensions(("x-roles" = json!(["admin", "teacher", "student", "parent"])))
)]
pub async fn unread(
    State(state): State<AppState>,
    Caller(principal, _): Caller,
    PathId(id): PathId<MessageId>,
) -> AppResult<ApiResponse<MessageView>> {
    Ok(ApiResponse::ok(set_read(&state, &principal, &id, false).await?))
}

/// Sets one flag of one's copy (`starred`, `archived`).
async fn set_flag(
    state: &AppState,
    principal: &Principal,
    id: &MessageId,
    flag: Field<InboxEntry, bool>,
    on: bool,
) -> AppResult<MessageView> {
    principal.require_user()?;
    let tenant = Tenant::of(principal);
    let (key, entry) = own_copy(state, &tenant, &principal.user_id, id).await?;
    if entry.sent {
        // The sent box is one Query of one's own copies, without these flags.
        return Err(AppError::Conflict("only received messages are starred or archived".into()));
    }
    let update = state.db.update_with(&key, Changes::new().set(flag, &on).when(Condition::live()))?;
    let item = state.db.run_update(update).await.map_err(|err| match err {
        DbError::ConditionFailed => AppError::not_found("message"),
        other => other.into(),
    })?;
    Ok(MessageView::listed(Db::decode(item)?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Starred {
    /// `false` takes the star away (default `true`).
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    starred: Option<bool>,
}

/// Stars one's copy of a message (or, with `{"starred": false}`, unstars it).
#[utoipa::path(
    post,
    path = "/api/v1/messages/{id}/star",
    operation_id = "star_message",
    tag = "messages",
    params(("id" = MessageId, Path, description = "The message's id")),
    request_body(content = Option<Starred>, description = "Optional"),
    responses(
        (status = 200, description = "One's copy", body = Success<MessageView>),
        JsonBodyErrors,
        Change,
    ),
    security(("bearer" = [])),
    extensions(("x-roles" = json!(["admin", "teacher", "student", "parent"])))
)]
pub async fn star(
    State(state): State<AppState>,
    Caller(principal, _): Caller,
    PathId(id): PathId<MessageId>,
    OptionalJson(body): OptionalJson<Starred>,
) -> AppResult<ApiResponse<MessageView>> {
    Ok(ApiResponse::ok(set_flag(&state, &principal, &id, field::STARRED, body.starred.unwrap_or(true)).await?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Archived {
    /// `false` brings it back to the inbox (default `true`).
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    archived: Option<bool>,
}

/// Archives one's copy of a message (or, with `{"archived": false}`, brings it back).
#[utoipa::path(
    post,
    path = "/api/v1/messages/{id}/archive",
    operation_id = "archive_message",
    tag = "messages",
    params(("id" = MessageId, Path, description = "The message's id")),
    request_body(content = Option<Archived>, description = "Optional"),
    responses(
        (status = 200, description = "One's copy", body = Success<MessageView>),
        JsonBodyErrors,
        Change,
    ),
    security(("bearer" = [])),
    extensions(("x-roles" = json!(["admin", "teacher", "student", "parent"])))
)]
pub async fn archive(
    State(state): State<AppState>,
    Caller(principal, _): Caller,
    PathId(id): PathId<MessageId>,
    OptionalJson(body): OptionalJson<Archived>,
) -> AppResult<ApiResponse<MessageView>> {
    Ok(ApiResponse::ok(set_flag(&state, &principal, &id, field::ARCHIVED, body.archived.unwrap_or(true)).await?))
}

/// Deletes a message for oneself: it leaves one's boxes and threads (an
/// unread one leaves the unread count); the other participants keep theirs.
#[utoipa::path(
    delete,
    path = "/api/v1/messages/{id}",
    operation_id = "delete_message",
    tag = "messages",
    params(("id" = MessageId, Path, description = "The message's id")),
    responses(
        (status = 204, description = "Deleted for the caller"),
        Change,
    ),
    security(("bearer" = [])),
    extensions(("x-roles" = json!(["admin", "teacher", "student", "parent"])))
)]
pub async fn delete(
    State(state): State<AppState>,
    Caller(principal, _): Caller,
    PathId(id): PathId<MessageId>,
) -> AppResult<StatusCode> {
    let now = rfc3339(state.now());
    let change = |entry: &InboxEntry| {
        let changes = Changes::new().set(field::DELETED_AT, &now);
        Some(CopyChange { changes, unread_by: if entry.read { 0 } else { -1 } })
    };
    change_copy(&state, &principal, &id, change).await?;
    Ok(StatusCode::NO_CONTENT)
}
