//! Key builders. Every tenant-owned item lives under a partition key that
//! begins `ORG#<org_id>`: the tenant's own (`ORG#<org>`) for its records and
//! their lists, or one of its many partitions (`ORG#<org>#USER#<user>`,
//! `ORG#<org>#SUBMISSIONS#<assessment>`, …) for what one person or one busy
//! entity writes at a rate that would make a single partition per tenant hot
//! (docs/scale.md). The only way to name such a key is through a [`Tenant`],
//! which can only be made from a verified source: the authorizer's principal, a global lookup
//! item read from the table, a freshly created organisation, or a refresh
//! token whose secret is then checked against the stored hash. A handler
//! cannot build a key for another tenant from a path, query or body value.

use serde::{Deserialize, Serialize};

use crate::ids::{
    ApiKeyId, AssessmentId, ClassId, ContentId, InviteId, JobId, LessonId, MessageId, OrgId, SessionId, ThreadId,
    UserId,
};
use crate::principal::Principal;

/// A DynamoDB primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

/// A pointer from a globally unique value (login email, username, invite
/// token hash) into one tenant's partition. It carries ids only.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lookup {
    pub org_id: OrgId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite_id: Option<InviteId>,
    /// Epoch seconds; DynamoDB's TTL removes expired invite lookups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    org_id: OrgId,
}

impl Tenant {
    pub fn of(principal: &Principal) -> Self {
        Self { org_id: principal.org_id.clone() }
    }

    pub fn of_lookup(lookup: &Lookup) -> Self {
        Self { org_id: lookup.org_id.clone() }
    }

    /// A new organisation's partition; the id is minted here, never taken
    /// from a request.
    pub fn for_new_organization() -> Self {
        Self { org_id: OrgId::new() }
    }

    /// The tenant a credential names: a verified access token, or a refresh
    /// token whose secret the caller then compares with the stored session.
    ///
    /// For an API key, the organisation its lookup item names, once the
    /// presented secret has matched the stored hash.
    pub fn claimed_by_credential(org_id: &OrgId) -> Self {
        Self { org_id: org_id.clone() }
    }

    /// The tenant a message on our own queue names: only the API writes
    /// them, after the authorizer verified the caller.
    pub fn named_by_queue(org_id: &OrgId) -> Self {
        Self { org_id: org_id.clone() }
    }

    pub fn org_id(&self) -> &OrgId {
        &self.org_id
    }

    pub fn pk(&self) -> String {
        format!("ORG#{}", self.org_id)
    }

    fn key(&self, sk: String) -> Key {
        Key { pk: self.pk(), sk }
    }

    /// One of the tenant's partitions: `ORG#<org>#<rest>`.
    fn partition(&self, rest: std::fmt::Arguments) -> String {
        format!("{}#{rest}", self.pk())
    }

    /// One person's partition: their sessions, inbox, sent box and unread
    /// count, which only they (and what they do) write.
    pub fn user_partition(&self, user: &UserId) -> String {
        self.partition(format_args!("USER#{user}"))
    }

    pub fn organization(&self) -> Key {
        self.key("ORG".into())
    }

    pub fn user(&self, user: &UserId) -> Key {
        self.key(format!("USER#{user}"))
    }

    pub const USER_PREFIX: &'static str = "USER#";

    pub fn session(&self, user: &UserId, session: &SessionId) -> Key {
        Key { pk: self.user_partition(user), sk: format!("SESSION#{session}") }
    }

    pub fn invite(&self, invite: &InviteId) -> Key {
        self.key(format!("{}{invite}", Self::INVITE_PREFIX))
    }

    pub const INVITE_PREFIX: &'static str = "INVITE#";

    pub fn api_key(&self, key: &ApiKeyId) -> Key {
        self.key(format!("APIKEY#{key}"))
    }

    pub const API_KEY_PREFIX: &'static str = "APIKEY#";

    /// Requests made with a key on one UTC day (`YYYY-MM-DD`): each key's
    /// counts in a partition of their own (`ORG#<org>#KEYUSAGE#<key>`), the
    /// one kind of item the authorizer writes, so its policy can name them
    /// by their leading key and nothing else.
    pub fn api_key_usage(&self, key: &ApiKeyId, day: &str) -> Key {
        Key { pk: format!("{}#KEYUSAGE#{key}", self.pk()), sk: day.to_owned() }
    }

    /// A signature already accepted for a key; its existence refuses a replay.
    pub fn seen_signature(&self, key: &ApiKeyId, signature_hex: &str) -> Key {
        self.key(format!("SIG#{key}#{signature_hex}"))
    }

    /// The counter of one business quota for one user in one window.
    pub fn quota_counter(&self, quota: &str, user: &UserId, window_start: i64) -> Key {
        self.key(format!("QUOTA#{quota}#{user}#{window_start}"))
    }

    pub fn job(&self, job: &JobId) -> Key {
        self.key(format!("JOB#{job}"))
    }

    pub const JOB_PREFIX: &'static str = "JOB#";

    /// `gsi1pk` of this tenant's jobs in one status; `gsi1sk` is the job's
    /// own sort key, so the index lists them newest first, like the table.
    pub fn jobs_in_status(&self, status: &str) -> String {
        format!("{}#JOBS#{status}", self.pk())
    }

    /// The answer already given to an `Idempotency-Key` of one caller.
    pub fn idempotency(&self, caller: &UserId, key_hash_hex: &str) -> Key {
        self.key(format!("IDEMPOTENCY#{caller}#{key_hash_hex}"))
    }

    pub fn content(&self, content: &ContentId) -> Key {
        self.key(format!("CONTENT#{content}"))
    }

    pub const CONTENT_PREFIX: &'static str = "CONTENT#";

    /// One search term of one content item: the inverted index `search` reads.
    pub fn search_term(&self, term: &str, content: &ContentId) -> Key {
        self.key(format!("{}{content}", Self::search_term_prefix(term)))
    }

    /// Every index entry of `term`; a prefix of a word matches longer words too.
    pub fn search_term_prefix(term: &str) -> String {
        format!("TERM#{term}#")
    }

    pub const SEARCH_TERM_PREFIX: &'static str = "TERM#";

    /// Where a content body too large for its item is kept in the bucket:
    /// one object per write (`write` is unique to it), so two edits racing
    /// for the same version never overwrite each other's body, and a reader
    /// of the old version still finds its own.
    pub fn content_body_object(&self, content: &ContentId, version: u64, write: &str) -> String {
        format!("org/{}/content/{content}/v{version}-{write}.json", self.org_id)
    }

    pub fn class(&self, class: &ClassId) -> Key {
        self.key(format!("CLASS#{class}"))
    }

    pub const CLASS_PREFIX: &'static str = "CLASS#";

    /// A user's place in a class (its teacher, or an enrolled student): the
    /// class's roster reads these, and they let their user join the class's
    /// presence channel.
    pub fn roster_entry(&self, class: &ClassId, user: &UserId) -> Key {
        self.key(format!("{}{user}", Self::roster_prefix(class)))
    }

    pub fn roster_prefix(class: &ClassId) -> String {
        format!("ROSTER#{class}#")
    }

    pub fn lesson(&self, lesson: &LessonId) -> Key {
        self.key(format!("LESSON#{lesson}"))
    }

    pub const LESSON_PREFIX: &'static str = "LESSON#";

    /// A lesson published to a class: the class's lesson list reads these.
    pub fn class_lesson(&self, class: &ClassId, lesson: &LessonId) -> Key {
        self.key(format!("{}{lesson}", Self::class_lessons_prefix(class)))
    }

    pub fn class_lessons_prefix(class: &ClassId) -> String {
        format!("CLASSLESSON#{class}#")
    }

    /// A parent's link to their child: what lets the parent read the child's
    /// classes and progress.
    pub fn guardian_link(&self, parent: &UserId, child: &UserId) -> Key {
        self.key(format!("{}{child}", Self::guardian_links_prefix(parent)))
    }

    pub fn guardian_links_prefix(parent: &UserId) -> String {
        format!("GUARDIAN#{parent}#")
    }

    /// One student's progress through one lesson, in the student's own
    /// partition: a lesson hour's reports spread over its students. It is
    /// only ever read by its key, or through `gsi1` ([`Tenant::progress_of`]).
    pub fn progress(&self, lesson: &LessonId, student: &UserId) -> Key {
        Key { pk: self.user_partition(student), sk: format!("PROGRESS#{lesson}") }
    }

    /// `gsi1pk` of one student's progress items: what a parent reads.
    pub fn progress_of(&self, student: &UserId) -> String {
        format!("{}#PROGRESS#{student}", self.pk())
    }

    /// One shard of the running totals of a lesson's progress, moved with
    /// every change; the totals are the sum of the shards.
    pub fn lesson_stats(&self, lesson: &LessonId, shard: u32) -> Key {
        Key { pk: self.partition(format_args!("LESSONSTATS#{lesson}#{shard}")), sk: "STATS".into() }
    }

    pub fn assessment(&self, assessment: &AssessmentId) -> Key {
        self.key(format!("ASSESSMENT#{assessment}"))
    }

    pub const ASSESSMENT_PREFIX: &'static str = "ASSESSMENT#";

    /// An assessment published to a class: the class's assessment list.
    pub fn class_assessment(&self, class: &ClassId, assessment: &AssessmentId) -> Key {
        self.key(format!("{}{assessment}", Self::class_assessments_prefix(class)))
    }

    pub fn class_assessments_prefix(class: &ClassId) -> String {
        format!("CLASSASSESSMENT#{class}#")
    }

    /// One student's attempt: in its assessment's partition of
    /// submissions, so the teacher's list is one Query, and a student's
    /// attempts one prefix of it.
    pub fn submission(&self, assessment: &AssessmentId, student: &UserId, attempt: u32) -> Key {
        Key {
            pk: self.submissions_partition(assessment),
            sk: format!("{}{attempt:03}", Self::submissions_of_prefix(student)),
        }
    }

    pub fn submissions_partition(&self, assessment: &AssessmentId) -> String {
        self.partition(format_args!("SUBMISSIONS#{assessment}"))
    }

    pub fn submissions_of_prefix(student: &UserId) -> String {
        format!("{student}#")
    }

    /// One shard of the running totals of an assessment's graded
    /// submissions, a partition of its own; the totals are the sum of the
    /// shards.
    pub fn assessment_stats(&self, assessment: &AssessmentId, shard: u32) -> Key {
        Key { pk: self.partition(format_args!("ASSESSMENTSTATS#{assessment}#{shard}")), sk: "STATS".into() }
    }

    /// A conversation: its subject and participants.
    pub fn thread(&self, thread: &ThreadId) -> Key {
        self.key(format!("THREAD#{thread}"))
    }

    /// One message of a thread, in the thread's partition: a thread's
    /// messages are one Query.
    pub fn thread_message(&self, thread: &ThreadId, message: &MessageId) -> Key {
        Key { pk: self.thread_partition(thread), sk: format!("{}{message}", Self::MESSAGE_PREFIX) }
    }

    pub fn thread_partition(&self, thread: &ThreadId) -> String {
        self.partition(format_args!("THREAD#{thread}"))
    }

    pub const MESSAGE_PREFIX: &'static str = "MESSAGE#";

    /// A recipient's copy of a message, with their read, starred, archived
    /// and deleted state, in their own partition: their inbox is one Query,
    /// newest first, and a message to a class writes to as many partitions
    /// as it has recipients.
    pub fn inbox_entry(&self, user: &UserId, message: &MessageId) -> Key {
        Key { pk: self.user_partition(user), sk: format!("{}{message}", Self::INBOX_PREFIX) }
    }

    pub const INBOX_PREFIX: &'static str = "INBOX#";

    /// The sender's copy of a message: their sent box.
    pub fn sent_entry(&self, user: &UserId, message: &MessageId) -> Key {
        Key { pk: self.user_partition(user), sk: format!("{}{message}", Self::SENT_PREFIX) }
    }

    pub const SENT_PREFIX: &'static str = "SENT#";

    /// How many of a user's received messages are unread, kept exact by
    /// every write that changes an entry's read state.
    pub fn unread_counter(&self, user: &UserId) -> Key {
        Key { pk: self.user_partition(user), sk: "UNREAD".into() }
    }

    /// An activity event of one UTC day (`YYYY-MM-DD`; its id sorts by
    /// time), in one of the day's shards (by its actor): a day's feed is one
    /// Query per shard, merged by id.
    pub fn activity(&self, day: &str, shard: u32, event: &str) -> Key {
        Key { pk: self.activity_partition(day, shard), sk: event.to_owned() }
    }

    pub fn activity_partition(&self, day: &str, shard: u32) -> String {
        self.partition(format_args!("ACTIVITY#{day}#{shard}"))
    }

    /// One shard of one day's counters (`day` is `YYYY-MM-DD`), a partition
    /// of its own.
    pub fn daily_counter(&self, day: &str, shard: u32) -> Key {
        Key { pk: self.partition(format_args!("DAILY#{day}#{shard}")), sk: "COUNT".into() }
    }

    /// `gsi1pk` of the members of one standing (`domain::user::directory`);
    /// `gsi1sk` is the user's own sort key.
    pub fn members_by_standing(&self, standing: &str) -> String {
        format!("{}#MEMBERS#{standing}", self.pk())
    }

    /// `gsi1pk` of the links to one child: their parents.
    pub fn guardians_of(&self, child: &UserId) -> String {
        format!("{}#GUARDIANS#{child}", self.pk())
    }

    /// `gsi1pk` of the roster entries of one user: the classes they are in.
    pub fn classes_of(&self, user: &UserId) -> String {
        format!("{}#CLASSES#{user}", self.pk())
    }

    /// True when `pk` is one of this tenant's partitions; cursors are
    /// checked with it before they reach DynamoDB. Ids are fixed-length, so
    /// `ORG#<org>#` is no other tenant's prefix.
    pub fn owns_partition(&self, pk: &str) -> bool {
        pk.strip_prefix(&self.pk()).is_some_and(|rest| rest.is_empty() || rest.starts_with('#'))
    }
}

/// Keys outside every tenant partition: lookups by globally unique values.
pub mod global {
    use super::Key;
    use crate::ids::JobId;

    pub fn email(normalized_email: &str) -> Key {
        Key { pk: format!("EMAIL#{normalized_email}"), sk: "LOOKUP".into() }
    }

    pub fn username(normalized_username: &str) -> Key {
        Key { pk: format!("USERNAME#{normalized_username}"), sk: "LOOKUP".into() }
    }

    pub fn invite_token(token_hash_hex: &str) -> Key {
        Key { pk: format!("INVITE#{token_hash_hex}"), sk: "LOOKUP".into() }
    }

    /// An API key by its public prefix.
    pub fn api_key(prefix: &str) -> Key {
        Key { pk: format!("APIKEY#{prefix}"), sk: "LOOKUP".into() }
    }

    /// Failed sign-ins of one subject (a hash of an account or of an
    /// identifier that names none), from anywhere (`auth::lockout`).
    pub fn login_failures(subject_hash: &str) -> Key {
        Key { pk: format!("LOGINFAIL#{subject_hash}"), sk: "ACCOUNT".into() }
    }

    /// Failed sign-ins of one subject from one source address (its hash).
    pub fn login_failures_from(subject_hash: &str, source_hash: &str) -> Key {
        Key { pk: format!("LOGINFAIL#{subject_hash}"), sk: format!("SOURCE#{source_hash}") }
    }

    /// The outbox shards: jobs written whose queue message is not yet known
    /// to be sent. Spread over a few partitions so no one partition is hot.
    pub const OUTBOX_SHARDS: u32 = 4;

    pub fn outbox_shard(shard: u32) -> String {
        format!("OUTBOX#{shard}")
    }

    /// A job's outbox entry: sorted by when it was written, so the sweeper
    /// reads only the entries old enough to be stuck.
    pub fn outbox(job: &JobId, written_at: i64) -> Key {
        let shard = job.to_string().bytes().fold(0u32, |sum, b| sum.wrapping_add(u32::from(b))) % OUTBOX_SHARDS;
        Key { pk: outbox_shard(shard), sk: format!("{written_at:011}#{job}") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_two_tenants_never_share_a_partition() {
        let a = Tenant::for_new_organization();
        let b = Tenant::for_new_organization();
        let user = UserId::new();
        assert_ne!(a.user(&user).pk, b.user(&user).pk);
        assert!(a.owns_partition(&a.user(&user).pk));
        assert!(!b.owns_partition(&a.user(&user).pk));
    }

    #[test]
    fn a_tenant_owns_each_of_its_partitions_and_none_of_anothers() {
        let a = Tenant::for_new_organization();
        let b = Tenant::for_new_organization();
        let (user, assessment) = (UserId::new(), AssessmentId::new());
        for key in
            [a.session(&user, &SessionId::new()), a.submission(&assessment, &user, 1), a.daily_counter("2026-12-04", 3)]
        {
            assert!(key.pk.starts_with(&format!("{}#", a.pk())), "{}", key.pk);
            assert!(a.owns_partition(&key.pk));
            assert!(!b.owns_partition(&key.pk));
        }
        // A prefix of the tenant's key that is not a partition boundary.
        assert!(!a.owns_partition(&format!("{}X", a.pk())));
        assert!(!a.owns_partition(&a.pk()[..a.pk().len() - 1]));
    }
}
