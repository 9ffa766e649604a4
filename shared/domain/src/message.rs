//! Messages. A conversation is a thread (`THREAD#<thread>`: its subject and
//! participants); its messages are `MESSAGE#<message>` in the thread's own
//! partition (`ORG#<org>#THREAD#<thread>`), so a thread reads as one Query.
//! Each participant has an inbox entry per message (`INBOX#<message>`,
//! newest first) with their own read, starred, archived and deleted state,
//! and one unread counter (`UNREAD`) that every change of an entry's read
//! state moves in the same transaction, all in their own partition
//! (`ORG#<org>#USER#<user>`): a message to a class writes to as many
//! partitions as it has recipients.

use serde::{Deserialize, Serialize};

use crate::ids::{ClassId, MessageId, ThreadId, UserId};

/// A thread holds at most this many participants (a class of 500 and its teacher).
pub const MAX_PARTICIPANTS: usize = 501;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Thread {
    pub id: ThreadId,
    pub subject: String,
    /// Everyone who may read it and reply: the sender and the recipients
    /// (and, in a class's thread, who joined the class since).
    pub participants: Vec<UserId>,
    /// The teachers and admins among them: whom a student's or a parent's
    /// reply goes to.
    #[serde(default)]
    pub staff_ids: Vec<UserId>,
    /// The class it was sent to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_id: Option<ClassId>,
    pub created_by: UserId,
    pub created_at: String,
}

impl Thread {
    pub fn new(subject: String, audience: Audience, class_id: Option<ClassId>, by: &UserId, at: &str) -> Self {
        Self {
            id: ThreadId::new(),
            subject,
            participants: audience.participants,
            staff_ids: audience.staff,
            class_id,
            created_by: by.clone(),
            created_at: at.to_owned(),
        }
    }
}

/// Who is in a conversation: everyone, and the teachers and admins among them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audience {
    pub participants: Vec<UserId>,
    pub staff: Vec<UserId>,
}

impl Audience {
    /// Adds a member once; `staff` when they are a teacher or an admin.
    pub fn add(&mut self, user: &UserId, staff: bool) {
        if !self.participants.contains(user) {
            self.participants.push(user.clone());
        }
        if staff && !self.staff.contains(user) {
            self.staff.push(user.clone());
        }
    }

    /// Whom a message from `sender` goes to: everyone else, or, from a
    /// student or a parent, the staff only (they write to no other student
    /// or family, in a reply no more than in a new thread).
    pub fn recipients(&self, sender: &UserId, sender_is_staff: bool) -> Vec<UserId> {
        let to = if sender_is_staff { &self.participants } else { &self.staff };
        to.iter().filter(|user| *user != sender).cloned().collect()
    }
}

/// One message, the same for every participant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub thread_id: ThreadId,
    pub sender_id: UserId,
    #[serde(with = "crate::sealed")]
    pub sender_name: String,
    #[serde(with = "crate::sealed")]
    pub body: String,
    pub sent_at: String,
}

/// One participant's copy of a message: what their inbox lists.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InboxEntry {
    pub message_id: MessageId,
    pub thread_id: ThreadId,
    pub subject: String,
    pub sender_id: UserId,
    #[serde(with = "crate::sealed")]
    pub sender_name: String,
    /// The start of the body, so a page of the inbox needs no more reads.
    #[serde(with = "crate::sealed")]
    pub preview: String,
    pub sent_at: String,
    /// True on the sender's own copy: it is in their sent box, not their inbox.
    pub sent: bool,
    pub read: bool,
    #[serde(default)]
    pub starred: bool,
    #[serde(default)]
    pub archived: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
}

/// A user's count of unread messages, moved in the same transaction as the
/// copy whose read state changes.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct UnreadCount {
    #[serde(default)]
    pub count: i64,
}

/// The fields a change to a thread, a copy or a count names.
pub mod field {
    use super::{InboxEntry, Thread, UnreadCount};
    use crate::ids::UserId;
    use crate::record::Field;

    pub const PARTICIPANTS: Field<Thread, [UserId]> = Field::new("participants");
    pub const STAFF_IDS: Field<Thread, [UserId]> = Field::new("staff_ids");
    pub const READ: Field<InboxEntry, bool> = Field::new("read");
    pub const STARRED: Field<InboxEntry, bool> = Field::new("starred");
    pub const ARCHIVED: Field<InboxEntry, bool> = Field::new("archived");
    /// Deleted for its owner only: the other copies stay.
    pub const DELETED_AT: Field<InboxEntry, str> = Field::new("deleted_at");
    pub const UNREAD: Field<UnreadCount, i64> = Field::new("count");
}

/// The first characters of a body, cut at a character boundary.
pub fn preview(body: &str) -> String {
    const LENGTH: usize = 140;
    match body.char_indices().nth(LENGTH) {
        Some((cut, _)) => format!("{}…", &body[..cut]),
        None => body.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_preview_cuts_long_bodies_at_a_character() {
        assert_eq!(preview("short"), "short");
        let long = "é".repeat(200);
        assert_eq!(preview(&long).chars().count(), 141);
    }

    #[test]
    fn students_and_parents_reach_only_the_staff() {
        let (teacher, ann, ben) = (UserId::new(), UserId::new(), UserId::new());
        let mut audience = Audience::default();
        audience.add(&teacher, true);
        audience.add(&ann, false);
        audience.add(&ben, false);
        audience.add(&ann, false);
        assert_eq!(audience.participants.len(), 3);
        assert_eq!(audience.recipients(&ann, false), std::slice::from_ref(&teacher));
        assert_eq!(audience.recipients(&teacher, true), [ann, ben]);
    }
}
