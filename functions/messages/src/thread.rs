//! `GET /messages/thread/{thread_id}`: a thread's messages, oldest first,
//! for its participants only, without the ones the caller deleted.

use axum::extract::State;
use domain::ids::ThreadId;
use domain::message::{InboxEntry, Message, Thread};
use domain::principal::Role;
use domain::tenancy::Tenant;
use store::AppState;
use store::cursor;
use store::db::{Db, Range};
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::Caller;
use web::extract::PageRequest;
use web::extract::PathId;
use web::openapi::*;

use crate::view::{MessageView, ThreadView};

/// A thread one takes part in, a page of its messages at a time (oldest first).
#[utoipa::path(
    get,
    path = "/api/v1/messages/thread/{thread_id}",
    operation_id = "get_thread",
    tag = "messages",
    params(
        ("thread_id" = ThreadId, Path, description = "The thread's id"),
        PageRequest,
    ),
    responses(
        (status = 200, description = "The thread and a page of its messages", body = Success<ThreadView>),
        ReadListOf,
    ),
    security(("bearer" = [])),
    extensions(("x-roles" = json!(["admin", "teacher", "student", "parent"])))
)]
pub async fn thread(
    State(state): State<AppState>,
    Caller(principal, tenant): Caller,
    PathId(id): PathId<ThreadId>,
    page: PageRequest,
) -> AppResult<ApiResponse<ThreadView>> {
    principal.require_user()?;
    let tenant = tenant.clone();
    let keys = state.key_set().await?;
    let list = format!("thread:{id}:{}", principal.user_id);
    let start = page.start(&keys, &tenant, &list)?;
    let partition = tenant.thread_partition(&id);
    let range = Range::of(&partition, Tenant::MESSAGE_PREFIX);
    // One key besides a copy per message (the thread): BatchGetItem takes 100 at most.
    let messages = state.db.query::<Message>(&range, page.limit.min(99), start).await?;
    let me = &principal.user_id;
    let mut wanted = vec![tenant.thread(&id)];
    for message in &messages.items {
        wanted.push(match &message.sender_id {
            sender if sender == me => tenant.sent_entry(me, &message.id),
            _ => tenant.inbox_entry(me, &message.id),
        });
    }
    let mut found = state.db.batch_get(&wanted).await?.into_iter();
    let thread = found
        .next()
        .flatten()
        .map(Db::decode::<Thread>)
        .transpose()?
        .filter(|thread| thread.participants.contains(me))
        .ok_or_else(|| AppError::not_found("thread"))?;
    let mut shown = Vec::new();
    for (message, copy) in messages.items.into_iter().zip(found) {
        let Some(copy) = copy.map(Db::decode::<InboxEntry>).transpose()? else { continue };
        if copy.deleted_at.is_none() {
            shown.push(MessageView::of(copy, Some(message)));
        }
    }
    let next = messages.last_key.map(|key| cursor::encode(&keys, &tenant, &list, &key));
    let staff = matches!(principal.role, Role::Admin | Role::Teacher);
    Ok(ApiResponse::page(ThreadView::of(thread, shown, me, staff), next))
}
