//! Messages as the API shows them: always with the caller's own state.

use domain::ids::{ClassId, MessageId, ThreadId, UserId};
use domain::message::{InboxEntry, Message, Thread};
use serde::Serialize;
use utoipa::ToSchema;

/// A message with the caller's state of it. `body` is in a single message
/// and a thread; a list carries `preview` instead.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    id: MessageId,
    thread_id: ThreadId,
    subject: String,
    sender_id: UserId,
    sender_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    preview: Option<String>,
    sent_at: String,
    /// The caller sent it (it is in their sent box).
    sent: bool,
    read: bool,
    starred: bool,
    archived: bool,
}

impl MessageView {
    /// A list item: the caller's copy alone.
    pub fn listed(entry: InboxEntry) -> Self {
        Self::of(entry, None)
    }

    /// The whole message, with the caller's copy's state.
    pub fn of(entry: InboxEntry, message: Option<Message>) -> Self {
        let (body, preview) = match message {
            Some(message) => (Some(message.body), None),
            None => (None, Some(entry.preview)),
        };
        Self {
            id: entry.message_id,
            thread_id: entry.thread_id,
            subject: entry.subject,
            sender_id: entry.sender_id,
            sender_name: entry.sender_name,
            body,
            preview,
            sent_at: entry.sent_at,
            sent: entry.sent,
            read: entry.read,
            starred: entry.starred,
            archived: entry.archived,
        }
    }
}

/// A thread and one page of its messages, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ThreadView {
    id: ThreadId,
    subject: String,
    participant_ids: Vec<UserId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    class_id: Option<ClassId>,
    messages: Vec<MessageView>,
}

impl ThreadView {
    /// The thread as `viewer` sees it: staff see every participant; a
    /// student or a parent sees the staff and themself, not the other
    /// students and families.
    pub fn of(thread: Thread, messages: Vec<MessageView>, viewer: &UserId, viewer_is_staff: bool) -> Self {
        let participant_ids = match viewer_is_staff {
            true => thread.participants,
            false => thread.participants.into_iter().filter(|p| p == viewer || thread.staff_ids.contains(p)).collect(),
        };
        Self { id: thread.id, subject: thread.subject, participant_ids, class_id: thread.class_id, messages }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnreadCount {
    pub unread: u64,
}
