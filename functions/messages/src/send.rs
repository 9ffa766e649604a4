//! `POST /messages`: a new thread to members or to a class, or a reply.
//!
//! The message, the sender's copy and the day's counter are written in the
//! first transaction; each recipient's copy and unread count together, up
//! to 50 recipients per transaction (DynamoDB takes 100 writes), so every
//! unread count is exact whatever else happens. A student's or a parent's
//! message, a reply included, goes to the thread's teachers and admins only. Recipients are told by a
//! `message.created` event on `private-user-{id}`, where Pusher is set up.

use axum::extract::State;
use domain::class::{Class, RosterEntry, RosterRole};
use domain::clock::rfc3339;
use domain::ids::{ClassId, MessageId, ThreadId, UserId};
use domain::json::present;
use domain::message::{Audience, InboxEntry, MAX_PARTICIPANTS, Message, Thread, field, preview};
use domain::principal::{Principal, Role};
use domain::tenancy::Tenant;
use domain::user::User;
use integrations::pusher::Realtime;
use serde::Deserialize;
use serde_json::json;
use store::AppState;
use store::activity;
use store::counters::{self, ClassCounter, Counter};
use store::db::{Db, DbError, Range, Write};
use store::records::Changes;
use utoipa::ToSchema;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::Caller;
use web::json::Json;
use web::openapi::*;

use crate::view::MessageView;

const MAX_RECIPIENTS: usize = 100;
const MAX_BODY: usize = 10_000;
const MAX_SUBJECT: usize = 200;
/// Pusher takes at most 100 channels per event.
const CHANNELS_PER_EVENT: usize = 100;

/// A new thread (`recipient_ids` or `class_id`, with a `subject`), or a
/// reply (`thread_id`): exactly one of the three.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    /// Members of the organization to write to.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, min_items = 1, max_items = 100)]
    recipient_ids: Option<Vec<UserId>>,
    /// A class to write to: its students and teacher (its teacher or an admin only).
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    class_id: Option<ClassId>,
    /// A thread one takes part in, to reply to.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    thread_id: Option<ThreadId>,
    /// A new thread's subject (not given with a reply).
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, min_length = 1, max_length = 200)]
    subject: Option<String>,
    #[schema(min_length = 1, max_length = 10000)]
    body: String,
}

fn text(field: &str, value: &str, max: usize) -> AppResult<()> {
    if value.trim().is_empty() || value.chars().count() > max {
        return Err(AppError::invalid(field, format!("1 to {max} characters, not only spaces")));
    }
    Ok(())
}

fn is_staff(role: Role) -> bool {
    matches!(role, Role::Admin | Role::Teacher)
}

/// A new thread's audience: the sender and the named members, who must
/// exist; students and parents write to staff only.
async fn members(state: &AppState, tenant: &Tenant, principal: &Principal, ids: Vec<UserId>) -> AppResult<Audience> {
    if ids.len() > MAX_RECIPIENTS {
        return Err(AppError::invalid("recipient_ids", format!("at most {MAX_RECIPIENTS} members")));
    }
    let mut recipients: Vec<UserId> = Vec::new();
    for id in ids {
        if id != principal.user_id && !recipients.contains(&id) {
            recipients.push(id);
        }
    }
    if recipients.is_empty() {
        return Err(AppError::invalid("recipient_ids", "name at least one member other than yourself"));
    }
    let found = state.db.batch_get(&recipients.iter().map(|id| tenant.user(id)).collect::<Vec<_>>()).await?;
    let mut audience = Audience::default();
    audience.add(&principal.user_id, is_staff(principal.role));
    for (id, item) in recipients.iter().zip(found) {
        let Some(user) = item.map(Db::decode::<User>).transpose()?.filter(User::is_active) else {
            return Err(AppError::invalid("recipient_ids", format!("no such member: {id}")));
        };
        if !is_staff(principal.role) && !is_staff(user.role) {
            return Err(AppError::Forbidden("students and parents write to teachers and admins".into()));
        }
        audience.add(&user.id, is_staff(user.role));
    }
    Ok(audience)
}

/// A class's roster as it is now: its teacher and students.
async fn roster(state: &AppState, tenant: &Tenant, class: &ClassId) -> AppResult<Vec<RosterEntry>> {
    let partition = tenant.class(class).pk;
    let prefix = Tenant::ROSTER_PREFIX;
    let range = Range::of(&partition, prefix);
    let found = state.db.query::<RosterEntry>(&range, MAX_PARTICIPANTS as i32, None).await?;
    if found.last_key.is_some() {
        return Err(AppError::invalid("class_id", "the class is too large to write to as one (over 500)"));
    }
    Ok(found.items)
}

/// Adds a class's current members to an audience; returns its teacher.
fn add_roster(audience: &mut Audience, entries: &[RosterEntry]) -> Option<UserId> {
    for entry in entries {
        audience.add(&entry.user_id, entry.role == RosterRole::Teacher);
    }
    entries.iter().find(|entry| entry.role == RosterRole::Teacher).map(|entry| entry.user_id.clone())
}

/// A class thread's audience: the sender, and everyone on the roster; and
/// the class's teacher.
async fn class_members(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: &ClassId,
) -> AppResult<(Audience, Option<UserId>)> {
    principal.require_role(&[Role::Admin, Role::Teacher])?;
    let class =
        state.db.find_live::<Class>(tenant, id).await?.ok_or_else(|| AppError::invalid("class_id", "no such class"))?;
    if principal.role != Role::Admin && class.teacher_id != principal.user_id {
        return Err(AppError::Forbidden("only the class's teacher or an admin writes to the whole class".into()));
    }
    let mut audience = Audience::default();
    audience.add(&principal.user_id, true);
    let teacher = add_roster(&mut audience, &roster(state, tenant, id).await?);
    if audience.participants.len() < 2 {
        return Err(AppError::invalid("class_id", "the class has no one else to write to"));
    }
    Ok((audience, teacher))
}

/// The thread a reply goes to, and its audience now: a class's thread takes
/// in who is on the class's roster today (someone who joined the class
/// since may reply, and reads what follows). The sender must be in it.
/// Also the class's teacher, for a class's thread.
async fn reply_audience(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: &ThreadId,
) -> AppResult<(Thread, Audience, Option<UserId>)> {
    let not_found = || AppError::not_found("thread");
    let thread = state.db.get::<Thread>(&tenant.thread(id)).await?.ok_or_else(not_found)?;
    let mut audience = Audience { participants: thread.participants.clone(), staff: thread.staff_ids.clone() };
    let mut teacher = None;
    if let Some(class) = &thread.class_id {
        teacher = add_roster(&mut audience, &roster(state, tenant, class).await?);
    }
    if !audience.participants.contains(&principal.user_id) {
        return Err(not_found());
    }
    Ok((thread, audience, teacher))
}

/// Sends a message: a new thread to members or a class, or a reply to a
/// thread one takes part in. Answers with the sender's copy.
#[utoipa::path(
    post,
    path = "/api/v1/messages",
    operation_id = "send_message",
    tag = "messages",
    request_body = NewMessage,
    responses(
        (status = 201, description = "Sent", body = Success<MessageView>),
        JsonBodyErrors,
        Change,
    ),
    security(("bearer" = [])),
    extensions(("x-roles" = json!(["admin", "teacher", "student", "parent"])))
)]
pub async fn send(
    State(state): State<AppState>,
    Caller(principal, tenant): Caller,
    Json(mut req): Json<NewMessage>,
) -> AppResult<ApiResponse<MessageView>> {
    principal.require_user()?;
    let tenant = tenant.clone();
    text("body", &req.body, MAX_BODY)?;
    let now = rfc3339(state.now());
    let Addressed { thread, audience, new, teacher } = address(&state, &tenant, &principal, &mut req, &now).await?;
    let recipients = audience.recipients(&principal.user_id, is_staff(principal.role));
    if recipients.is_empty() {
        return Err(AppError::Conflict("no one else in this thread may receive your message".into()));
    }
    state.db.sealing(&tenant).await?;
    let sender =
        state.db.get::<User>(&tenant.user(&principal.user_id)).await?.ok_or_else(|| AppError::not_found("user"))?;
    let message = Message {
        id: MessageId::new(),
        thread_id: thread.id.clone(),
        sender_id: principal.user_id.clone(),
        sender_name: format!("{} {}", sender.first_name, sender.last_name),
        body: req.body,
        sent_at: now,
    };
    let copy = |sent: bool| InboxEntry {
        message_id: message.id.clone(),
        thread_id: thread.id.clone(),
        subject: thread.subject.clone(),
        sender_id: message.sender_id.clone(),
        sender_name: message.sender_name.clone(),
        preview: preview(&message.body),
        sent_at: message.sent_at.clone(),
        sent,
        read: sent,
        starred: false,
        archived: false,
        deleted_at: None,
    };
    let own = copy(true);
    let mut writes = Vec::new();
    if new {
        writes.push(Write::Put(state.db.put_new(&tenant.thread(&thread.id), &thread)?));
    } else if audience.participants != thread.participants || audience.staff != thread.staff_ids {
        // Who joined the class since may now read the thread.
        let changes =
            Changes::new().set(field::PARTICIPANTS, &audience.participants).set(field::STAFF_IDS, &audience.staff);
        writes.push(Write::Update(state.db.update_with(&tenant.thread(&thread.id), changes)?));
    }
    writes.push(Write::Put(state.db.put_new(&tenant.thread_message(&thread.id, &message.id), &message)?));
    writes.push(Write::Put(state.db.put_new(&tenant.sent_entry(&principal.user_id, &message.id), &own)?));
    writes.push(counters::count(&state, &tenant, &principal.user_id, &[(Counter::MessagesSent, 1)])?);
    if let Some(class) = &thread.class_id {
        let sent = [(ClassCounter::MessagesSent, 1)];
        writes.push(counters::count_in_class(&state, &tenant, class, &principal.user_id, &sent)?);
    }
    let received = copy(false);
    for recipient in &recipients {
        if writes.len() + 2 > 100 {
            state.db.transact(std::mem::take(&mut writes)).await?;
        }
        writes.push(Write::Put(state.db.put_new(&tenant.inbox_entry(recipient, &message.id), &received)?));
        writes.push(unread_change(&state, &tenant, recipient, 1)?);
    }
    state.db.transact(writes).await?;
    tell(&state, &recipients, &received).await;
    // A class thread's message joins its class teacher's feed.
    let in_class: Vec<_> = thread.class_id.iter().zip(teacher.iter()).collect();
    activity::record(&state, &tenant, &principal, "message.sent", &message.id, &in_class).await;
    tracing::info!(message_id = %message.id, thread_id = %thread.id, recipients = recipients.len(), "message sent");
    Ok(ApiResponse::created(MessageView::of(own, Some(message))))
}

/// Where a message goes: its thread (`new` when the message starts it),
/// who may read it, and for a class thread the class's teacher, whose
/// feed hears of it.
struct Addressed {
    thread: Thread,
    audience: Audience,
    new: bool,
    teacher: Option<UserId>,
}

/// The one way of addressing `req` gives (recipients, a class or a
/// thread), checked; the addressing fields are taken out of it.
async fn address(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    req: &mut NewMessage,
    now: &str,
) -> AppResult<Addressed> {
    match (req.recipient_ids.take(), req.class_id.take(), req.thread_id.take(), req.subject.take()) {
        (Some(_), _, _, None) | (_, Some(_), _, None) => {
            Err(AppError::invalid("subject", "a new thread needs a subject"))
        }
        (Some(ids), None, None, Some(subject)) => {
            text("subject", &subject, MAX_SUBJECT)?;
            let audience = members(state, tenant, principal, ids).await?;
            let thread = Thread::new(subject, audience.clone(), None, &principal.user_id, now);
            Ok(Addressed { thread, audience, new: true, teacher: None })
        }
        (None, Some(class), None, Some(subject)) => {
            text("subject", &subject, MAX_SUBJECT)?;
            let (audience, teacher) = class_members(state, tenant, principal, &class).await?;
            let thread = Thread::new(subject, audience.clone(), Some(class), &principal.user_id, now);
            Ok(Addressed { thread, audience, new: true, teacher })
        }
        (None, None, Some(id), None) => {
            let (thread, audience, teacher) = reply_audience(state, tenant, principal, &id).await?;
            Ok(Addressed { thread, audience, new: false, teacher })
        }
        (None, None, Some(_), Some(_)) => Err(AppError::invalid("subject", "a reply keeps its thread's subject")),
        _ => Err(AppError::invalid("recipient_ids", "give exactly one of recipient_ids, class_id, thread_id")),
    }
}

/// A user's unread count moved by `by`, for the transaction that changes a copy's read state.
pub(crate) fn unread_change(state: &AppState, tenant: &Tenant, user: &UserId, by: i64) -> Result<Write, DbError> {
    Ok(Write::Update(state.db.update_with(&tenant.unread_counter(user), Changes::new().add(field::UNREAD, by))?))
}

/// `message.created` on each recipient's private channel; a failure is logged.
async fn tell(state: &AppState, recipients: &[UserId], entry: &InboxEntry) {
    let data = json!({
        "message_id": entry.message_id, "thread_id": entry.thread_id, "subject": entry.subject,
        "sender_id": entry.sender_id, "sender_name": entry.sender_name, "preview": entry.preview,
        "sent_at": entry.sent_at,
    });
    for chunk in recipients.chunks(CHANNELS_PER_EVENT) {
        let channels: Vec<String> = chunk.iter().map(|id| format!("private-user-{id}")).collect();
        let sent = Realtime::of(state).trigger(&channels, "message.created", &data, state.now().unix_timestamp()).await;
        if let Err(err) = sent {
            tracing::warn!(error = %err, "message.created not sent");
        }
    }
}
