//! Key builders. Every tenant-owned item lives under a partition key that
//! begins `ORG#<org_id>#` and goes on to name what it holds: a record at the
//! head of its own partition (`ORG#<org>#LESSON#<id>`, sort key
//! `LESSON#<id>`), with what belongs to it beside it (a class's roster and
//! published items, a person's sessions, inbox and progress), or one of the
//! shards of something one partition could not carry (statistics, daily
//! counters, activity feeds). A tenant is spread over as many partitions
//! as it has records (docs/scale.md); the tenant-wide list of each kind of
//! record is a partition of the `gsi2` index ([`Tenant::listing`]).
//!
//! The only way to name such a key is through a [`Tenant`], which can only
//! be made from a verified source: the authorizer's principal, a global
//! lookup item read from the table, a freshly created organisation, or a
//! refresh token whose secret is then checked against the stored hash. A
//! handler cannot build a key for another tenant from a path, query or body
//! value.

use serde::{Deserialize, Serialize};

use crate::day::Day;
use crate::ids::{
    ApiKeyId, AssessmentId, ClassId, ContentId, EnvironmentId, InviteId, JobId, LessonId, MessageId, OrgId,
    PrivacyJobId, QueryId, SessionId, ThreadId, UserId,
};
use crate::principal::Principal;

/// A DynamoDB primary key, and the tenant-wide list its item is filed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub pk: String,
    pub sk: String,
    /// The listing partition (`gsi2pk`) a record is filed under when it is
    /// written; its `gsi2sk` is its sort key, so a list sorts by id.
    pub listed_in: Option<String>,
}

impl Key {
    /// The key of an item that is in no tenant-wide list.
    pub fn new(pk: String, sk: String) -> Self {
        Self { pk, sk, listed_in: None }
    }
}

/// A pointer from a globally unique value (login email, username, invite
/// token hash) into one tenant's partitions. It carries ids only.
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

impl Lookup {
    /// A pointer to an organisation alone (a payment provider's customer).
    pub fn organization(org_id: OrgId) -> Self {
        Self { org_id, user_id: None, invite_id: None, expires_at: None }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    org_id: OrgId,
}

impl Tenant {
    pub fn of(principal: &Principal) -> Self {
        Self { org_id: principal.org_id.clone() }
    }

    /// The organisation a global lookup item points into: found by a login's
    /// email, an invite's token, or the customer of a verified payment event.
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
    /// presented secret has matched the stored hash. For a Roblox game
    /// server, the organisation its environment key names: the caller then
    /// checks the request's signature with the environment's secret, which
    /// only that organisation's partition holds.
    pub fn claimed_by_credential(org_id: &OrgId) -> Self {
        Self { org_id: org_id.clone() }
    }

    /// The tenant a message on our own queue names: only the API writes
    /// them, after the authorizer verified the caller.
    pub fn named_by_queue(org_id: &OrgId) -> Self {
        Self { org_id: org_id.clone() }
    }

    /// The tenant a change on our own table names: its partition key, which
    /// only our functions write.
    pub fn named_by_table_change(org_id: &OrgId) -> Self {
        Self { org_id: org_id.clone() }
    }

    /// The tenant whose partition `pk` is, if it is a tenant's.
    pub fn owning(pk: &str) -> Option<Self> {
        let org = pk.strip_prefix("ORG#")?.split('#').next()?;
        Some(Self::named_by_table_change(&org.parse().ok()?))
    }

    /// The tenant whose data key the store loads to seal or open its
    /// personal fields (`domain::sealed`): named by the item being read or
    /// written, which is already the tenant's.
    pub fn for_data_key(org_id: &OrgId) -> Self {
        Self { org_id: org_id.clone() }
    }

    pub fn org_id(&self) -> &OrgId {
        &self.org_id
    }

    /// `ORG#<org>`: what every partition key of the tenant begins with,
    /// followed by `#`. No item has it as its whole partition key.
    pub fn prefix(&self) -> String {
        format!("ORG#{}", self.org_id)
    }

    /// One of the tenant's partitions: `ORG#<org>#<rest>`.
    fn partition(&self, rest: std::fmt::Arguments) -> String {
        format!("{}#{rest}", self.prefix())
    }

    /// A record at the head of its own partition, `ORG#<org>#<KIND>#<id>`
    /// with the sort key `<KIND>#<id>` (`prefix` is `<KIND>#`), filed in the
    /// tenant's list of its kind when `listed`.
    fn record(&self, prefix: &str, id: &dyn std::fmt::Display, listed: bool) -> Key {
        let sk = format!("{prefix}{id}");
        Key { pk: self.partition(format_args!("{sk}")), listed_in: listed.then(|| self.listing(prefix)), sk }
    }

    /// `gsi2pk` of the tenant-wide list of one kind of record, named by its
    /// sort-key prefix (`LESSON#`): `ORG#<org>#LIST#LESSON`. Its `gsi2sk` is
    /// the record's sort key.
    pub fn listing(&self, prefix: &str) -> String {
        self.partition(format_args!("LIST#{}", prefix.trim_end_matches('#')))
    }

    pub fn organization(&self) -> Key {
        Key::new(self.partition(format_args!("ORGANIZATION")), "ORGANIZATION".into())
    }

    /// One person's partition: their record, sessions, inbox, sent box,
    /// unread count, progress, quotas and links to their children, which
    /// only they (and what they do) write.
    pub fn user_partition(&self, user: &UserId) -> String {
        self.user(user).pk
    }

    pub fn user(&self, user: &UserId) -> Key {
        self.record(Self::USER_PREFIX, user, true)
    }

    pub const USER_PREFIX: &'static str = "USER#";

    pub fn session(&self, user: &UserId, session: &SessionId) -> Key {
        Key::new(self.user_partition(user), format!("SESSION#{session}"))
    }

    pub fn invite(&self, invite: &InviteId) -> Key {
        self.record(Self::INVITE_PREFIX, invite, true)
    }

    pub const INVITE_PREFIX: &'static str = "INVITE#";

    pub fn api_key(&self, key: &ApiKeyId) -> Key {
        self.record(Self::API_KEY_PREFIX, key, true)
    }

    pub const API_KEY_PREFIX: &'static str = "APIKEY#";

    /// Requests made with a key on one UTC day (`YYYY-MM-DD`): each key's
    /// counts in a partition of their own (`ORG#<org>#KEYUSAGE#<key>`), the
    /// one kind of item the authorizer writes, so its policy can name them
    /// by their leading key and nothing else.
    pub fn api_key_usage(&self, key: &ApiKeyId, day: &str) -> Key {
        Key::new(self.partition(format_args!("KEYUSAGE#{key}")), day.to_owned())
    }

    /// The partition of one shard of the organization's request counts, one
    /// item per UTC day (sort key `YYYY-MM-DD`): every request the authorizer
    /// judged (its credential verified), close to what the plan's quota counts.
    pub fn request_counts(&self, shard: u32) -> String {
        self.partition(format_args!("USAGE#{shard}"))
    }

    /// A signature already accepted for a key, beside the key; its
    /// existence refuses a replay.
    pub fn seen_signature(&self, key: &ApiKeyId, signature_hex: &str) -> Key {
        Key::new(self.api_key(key).pk, format!("SIG#{signature_hex}"))
    }

    /// The counter of one business quota for one user in one window.
    pub fn quota_counter(&self, quota: &str, user: &UserId, window_start: i64) -> Key {
        Key::new(self.user_partition(user), format!("QUOTA#{quota}#{window_start}"))
    }

    pub fn job(&self, job: &JobId) -> Key {
        self.record(Self::JOB_PREFIX, job, true)
    }

    pub const JOB_PREFIX: &'static str = "JOB#";

    /// `gsi1pk` of this tenant's jobs in one status; `gsi1sk` is the job's
    /// own sort key, so the index lists them newest first, like the table.
    pub fn jobs_in_status(&self, status: &str) -> String {
        self.partition(format_args!("JOBS#{status}"))
    }

    /// The answer already given to an `Idempotency-Key` of one caller.
    pub fn idempotency(&self, caller: &UserId, key_hash_hex: &str) -> Key {
        Key::new(self.user_partition(caller), format!("IDEMPOTENCY#{key_hash_hex}"))
    }

    pub fn content(&self, content: &ContentId) -> Key {
        self.record(Self::CONTENT_PREFIX, content, true)
    }

    pub const CONTENT_PREFIX: &'static str = "CONTENT#";

    /// One search term of one content item: the inverted index `search`
    /// reads, one partition per tenant, since a prefix of a word must find
    /// every longer word. Only content writes it.
    pub fn search_term(&self, term: &str, content: &ContentId) -> Key {
        Key::new(self.search_partition(), format!("{}{content}", Self::search_term_prefix(term)))
    }

    pub fn search_partition(&self) -> String {
        self.partition(format_args!("SEARCH"))
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

    /// A class's partition: the class, its roster and the lessons and
    /// assessments published to it.
    pub fn class(&self, class: &ClassId) -> Key {
        self.record(Self::CLASS_PREFIX, class, true)
    }

    pub const CLASS_PREFIX: &'static str = "CLASS#";

    /// The due dates of the assessments published to a class
    /// (`publication::Due`, one attribute each), beside the class item so
    /// that the reads of the class on every progress report stay small.
    pub fn class_dues(&self, class: &ClassId) -> Key {
        Key::new(self.class(class).pk, "DUE".to_owned())
    }

    /// A user's place in a class (its teacher, or an enrolled student): the
    /// class's roster reads these, and they let their user join the class's
    /// presence channel.
    pub fn roster_entry(&self, class: &ClassId, user: &UserId) -> Key {
        Key::new(self.class(class).pk, format!("{}{user}", Self::ROSTER_PREFIX))
    }

    pub const ROSTER_PREFIX: &'static str = "ROSTER#";

    pub fn lesson(&self, lesson: &LessonId) -> Key {
        self.record(Self::LESSON_PREFIX, lesson, true)
    }

    pub const LESSON_PREFIX: &'static str = "LESSON#";

    /// What progress reports read of a published lesson, beside it
    /// (`domain::lesson::PublishedLesson`).
    pub fn published_lesson(&self, lesson: &LessonId) -> Key {
        Key::new(self.lesson(lesson).pk, "PUBLISHED".into())
    }

    /// A lesson published to a class, in the class's partition under the
    /// lesson's own sort key: the class's lesson list reads these.
    pub fn class_lesson(&self, class: &ClassId, lesson: &LessonId) -> Key {
        Key::new(self.class(class).pk, self.lesson(lesson).sk)
    }

    /// A parent's link to their child, in the parent's partition: what
    /// lets the parent read the child's classes and progress.
    pub fn guardian_link(&self, parent: &UserId, child: &UserId) -> Key {
        Key::new(self.user_partition(parent), format!("{}{child}", Self::CHILD_PREFIX))
    }

    pub const CHILD_PREFIX: &'static str = "CHILD#";

    /// One student's progress through one lesson, in the student's own
    /// partition: a lesson hour's reports spread over its students. It is
    /// only ever read by its key, or through `gsi1` ([`Tenant::held_by`]).
    pub fn progress(&self, lesson: &LessonId, student: &UserId) -> Key {
        Key::new(self.user_partition(student), format!("PROGRESS#{lesson}"))
    }

    /// `gsi1pk` of what is a user's but kept elsewhere: their roster entries
    /// (`gsi1sk` `CLASS#<class>`, the classes they are in) and their
    /// progress records (`LESSON#<lesson>`). One partition for both, so a
    /// student's home page, or a parent's view of a child, is one Query.
    pub fn held_by(&self, user: &UserId) -> String {
        self.partition(format_args!("HELD#{user}"))
    }

    /// One shard of the running totals of a lesson's progress, moved with
    /// every change; the totals are the sum of the shards.
    pub fn lesson_stats(&self, lesson: &LessonId, shard: u32) -> Key {
        Key::new(self.partition(format_args!("LESSONSTATS#{lesson}#{shard}")), "STATS".into())
    }

    /// One shard of the same totals over every lesson students reported in
    /// the classes a teacher taught, for the teacher's overview.
    pub fn teacher_stats(&self, teacher: &UserId, shard: u32) -> Key {
        Key::new(self.partition(format_args!("TAUGHT#{teacher}#{shard}")), "STATS".into())
    }

    pub fn assessment(&self, assessment: &AssessmentId) -> Key {
        self.record(Self::ASSESSMENT_PREFIX, assessment, true)
    }

    pub const ASSESSMENT_PREFIX: &'static str = "ASSESSMENT#";

    /// An assessment published to a class: the class's assessment list.
    pub fn class_assessment(&self, class: &ClassId, assessment: &AssessmentId) -> Key {
        Key::new(self.class(class).pk, self.assessment(assessment).sk)
    }

    /// One student's attempt: in its assessment's partition of
    /// submissions, so the teacher's list is one Query, and a student's
    /// attempts one prefix of it.
    pub fn submission(&self, assessment: &AssessmentId, student: &UserId, attempt: u32) -> Key {
        Key::new(
            self.submissions_partition(assessment),
            format!("{}{attempt:03}", Self::submissions_of_prefix(student)),
        )
    }

    pub fn submissions_partition(&self, assessment: &AssessmentId) -> String {
        self.partition(format_args!("SUBMISSIONS#{assessment}"))
    }

    /// `gsi1pk` of a student's submissions to every assessment.
    pub fn submitted_by(&self, student: &UserId) -> String {
        self.partition(format_args!("SUBMITTED#{student}"))
    }

    pub fn submissions_of_prefix(student: &UserId) -> String {
        format!("{student}#")
    }

    /// One shard of the running totals of an assessment's graded
    /// submissions, a partition of its own; the totals are the sum of the
    /// shards.
    pub fn assessment_stats(&self, assessment: &AssessmentId, shard: u32) -> Key {
        Key::new(self.partition(format_args!("ASSESSMENTSTATS#{assessment}#{shard}")), "STATS".into())
    }

    /// A conversation: its subject and participants, at the head of the
    /// partition of its messages.
    pub fn thread(&self, thread: &ThreadId) -> Key {
        self.record("THREAD#", thread, false)
    }

    /// One message of a thread, in the thread's partition: a thread's
    /// messages are one Query.
    pub fn thread_message(&self, thread: &ThreadId, message: &MessageId) -> Key {
        Key::new(self.thread_partition(thread), format!("{}{message}", Self::MESSAGE_PREFIX))
    }

    pub fn thread_partition(&self, thread: &ThreadId) -> String {
        self.thread(thread).pk
    }

    pub const MESSAGE_PREFIX: &'static str = "MESSAGE#";

    /// A recipient's copy of a message, with their read, starred, archived
    /// and deleted state, in their own partition: their inbox is one Query,
    /// newest first, and a message to a class writes to as many partitions
    /// as it has recipients.
    pub fn inbox_entry(&self, user: &UserId, message: &MessageId) -> Key {
        Key::new(self.user_partition(user), format!("{}{message}", Self::INBOX_PREFIX))
    }

    pub const INBOX_PREFIX: &'static str = "INBOX#";

    /// The sender's copy of a message: their sent box.
    pub fn sent_entry(&self, user: &UserId, message: &MessageId) -> Key {
        Key::new(self.user_partition(user), format!("{}{message}", Self::SENT_PREFIX))
    }

    pub const SENT_PREFIX: &'static str = "SENT#";

    /// How many of a user's received messages are unread, kept exact by
    /// every write that changes an entry's read state.
    pub fn unread_counter(&self, user: &UserId) -> Key {
        Key::new(self.user_partition(user), "UNREAD".into())
    }

    /// One shard of the organisation's activity feed: everything that
    /// happened in it, newest last by id (a ULID). Shards (by actor) keep a
    /// district's busiest minute off one partition; a page is one Query per
    /// shard, merged by id.
    pub fn organization_feed(&self, shard: u32) -> String {
        self.partition(format_args!("FEED#ORG#{shard}"))
    }

    /// One shard of a teacher's activity feed: what happened in the classes
    /// they teach, and what they did.
    pub fn teacher_feed(&self, teacher: &UserId, shard: u32) -> String {
        self.partition(format_args!("FEED#TEACHER#{teacher}#{shard}"))
    }

    /// One recorded consent decision about `user`, by id (a ULID): their
    /// history is a partition of its own, kept when they are erased as the
    /// record of what was consented to.
    pub fn consent(&self, user: &UserId, consent_id: &str) -> Key {
        Key::new(self.consent_history(user), consent_id.to_owned())
    }

    pub fn consent_history(&self, user: &UserId) -> String {
        self.partition(format_args!("CONSENT#{user}"))
    }

    /// The tenant's data key for its personal fields, wrapped by KMS.
    pub fn data_key(&self) -> Key {
        Key::new(self.partition(format_args!("DATAKEY")), "DATAKEY".into())
    }

    /// A data export or erasure job.
    pub fn privacy_job(&self, job: &PrivacyJobId) -> Key {
        Key::new(self.partition(format_args!("PRIVACY")), format!("JOB#{job}"))
    }

    /// `gsi1pk` of the tenant's export and erasure jobs not yet finished.
    pub fn pending_privacy_jobs(&self) -> String {
        self.partition(format_args!("PRIVACY#PENDING"))
    }

    /// Where a member's export bundles are kept in the bucket: under
    /// `exports/`, which the bucket's lifecycle empties after 7 days.
    pub fn export_prefix(&self, user: &UserId) -> String {
        format!("exports/{}/{user}/", self.org_id)
    }

    /// One shard of the organisation's audit log, entries sorted by id (a
    /// ULID), spread by actor like the feeds; nothing but an entry's
    /// creation ever writes here.
    pub fn audit_log(&self, shard: u32) -> String {
        self.partition(format_args!("AUDIT#{shard}"))
    }

    /// One shard of one day's counters, a partition of its own.
    pub fn daily_counter(&self, day: &Day, shard: u32) -> Key {
        Key::new(self.partition(format_args!("DAILY#{day}#{shard}")), "COUNT".into())
    }

    /// One class's counters of one UTC day, in one of the class's shards
    /// (by who acted): a range of a class's days is one Query per shard.
    pub fn class_day(&self, class: &ClassId, shard: u32, day: &Day) -> Key {
        Key::new(self.class_days(class, shard), format!("{}{day}", Self::SERIES_DAY_PREFIX))
    }

    pub fn class_days(&self, class: &ClassId, shard: u32) -> String {
        self.partition(format_args!("CLASSDAY#{class}#{shard}"))
    }

    /// One shard of the tenant's running totals (members by role, content
    /// by kind and status), a partition of its own.
    pub fn totals(&self, shard: u32) -> Key {
        Key::new(self.partition(format_args!("TOTALS#{shard}")), "TOTALS".into())
    }

    /// When the tenant's staff were last told its dashboard numbers moved.
    pub fn dashboard_announcement(&self) -> Key {
        Key::new(self.partition(format_args!("ANNOUNCED")), "DASHBOARD".into())
    }

    /// A finished day's counters, summed from its shards: the series that
    /// statistics and trends read, one Query for any range of days.
    pub fn series_day(&self, day: &Day) -> Key {
        Key::new(self.series_partition(), format!("{}{day}", Self::SERIES_DAY_PREFIX))
    }

    pub fn series_partition(&self) -> String {
        self.partition(format_args!("SERIES"))
    }

    pub const SERIES_DAY_PREFIX: &'static str = "DAY#";

    /// A custom analytics query's result, kept a day (TTL) for its exports.
    pub fn analytics_query(&self, query: &QueryId) -> Key {
        Key::new(self.partition(format_args!("QUERY#{query}")), "QUERY".into())
    }

    /// A computed answer kept for a while (`store::cache`), named by a
    /// digest of what was asked and, where the answer depends on it, by whom:
    /// each in a partition of its own.
    pub fn cached_answer(&self, digest: &str) -> Key {
        Key::new(self.partition(format_args!("CACHE#{digest}")), "CACHE".into())
    }

    /// The organisation's subscription as its billing events left it.
    pub fn billing(&self) -> Key {
        Key::new(self.partition(format_args!("BILLING")), "BILLING".into())
    }

    /// A billing event applied to the organisation, by the provider's
    /// event id: written in the transaction that applies it, so a
    /// redelivered event is seen as done.
    pub fn billing_event(&self, event_id: &str) -> Key {
        Key::new(self.partition(format_args!("BILLING")), format!("EVENT#{event_id}"))
    }

    /// `gsi1pk` of the members of one standing (`domain::user::directory`);
    /// `gsi1sk` is the user's own sort key.
    pub fn members_by_standing(&self, standing: &str) -> String {
        self.partition(format_args!("MEMBERS#{standing}"))
    }

    pub fn roblox_environment(&self, environment: &EnvironmentId) -> Key {
        self.record(Self::ROBLOX_ENVIRONMENT_PREFIX, environment, true)
    }

    pub const ROBLOX_ENVIRONMENT_PREFIX: &'static str = "ROBLOXENV#";

    /// A join code a student asked for, in its environment's partition:
    /// only that environment's game server can exchange it.
    pub fn join_code(&self, environment: &EnvironmentId, code: &str) -> Key {
        Key::new(self.roblox_environment(environment).pk, format!("JOINCODE#{code}"))
    }

    /// Which student a Roblox user plays as in one environment.
    pub fn roblox_link(&self, environment: &EnvironmentId, roblox_user_id: u64) -> Key {
        Key::new(self.roblox_environment(environment).pk, format!("LINK#{roblox_user_id}"))
    }

    /// A game server's signature already accepted, beside its environment;
    /// its existence refuses a replay.
    pub fn seen_game_signature(&self, environment: &EnvironmentId, signature_hex: &str) -> Key {
        Key::new(self.roblox_environment(environment).pk, format!("SIG#{signature_hex}"))
    }

    /// The organization's Roblox Open Cloud settings.
    pub fn roblox_settings(&self) -> Key {
        Key::new(self.partition(format_args!("ROBLOXSETTINGS")), "ROBLOXSETTINGS".into())
    }

    /// Where one of an environment's files is kept in the bucket.
    pub fn roblox_object(&self, environment: &EnvironmentId, artifact: crate::roblox::Artifact) -> String {
        format!("roblox/{}/{environment}/{}", self.org_id, artifact.file_name())
    }

    /// `gsi1pk` of the links to one child: their parents.
    pub fn guardians_of(&self, child: &UserId) -> String {
        self.partition(format_args!("GUARDIANS#{child}"))
    }

    /// True when `pk` is one of this tenant's partitions; cursors are
    /// checked with it before they reach DynamoDB. Ids are fixed-length, so
    /// `ORG#<org>#` is no other tenant's prefix.
    pub fn owns_partition(&self, pk: &str) -> bool {
        pk.strip_prefix(&self.prefix()).is_some_and(|rest| rest.starts_with('#'))
    }
}

/// Keys outside every tenant partition: lookups by globally unique values.
pub mod global {
    use super::Key;
    use crate::ids::JobId;

    /// The account with an email, by its blind index (`store::blind_index`).
    pub fn email(index_hex: &str) -> Key {
        Key::new(format!("EMAIL#{index_hex}"), "LOOKUP".into())
    }

    /// The account with a username, by its blind index.
    pub fn username(index_hex: &str) -> Key {
        Key::new(format!("USERNAME#{index_hex}"), "LOOKUP".into())
    }

    pub fn invite_token(token_hash_hex: &str) -> Key {
        Key::new(format!("INVITE#{token_hash_hex}"), "LOOKUP".into())
    }

    /// An API key by its public prefix.
    pub fn api_key(prefix: &str) -> Key {
        Key::new(format!("APIKEY#{prefix}"), "LOOKUP".into())
    }

    /// A Stripe customer: the organisation it was made for.
    pub fn stripe_customer(customer_id: &str) -> Key {
        Key::new(format!("STRIPECUSTOMER#{customer_id}"), "LOOKUP".into())
    }

    /// Failed sign-ins of one subject (a hash of an account or of an
    /// identifier that names none), from anywhere (`auth::lockout`).
    pub fn login_failures(subject_hash: &str) -> Key {
        Key::new(format!("LOGINFAIL#{subject_hash}"), "ACCOUNT".into())
    }

    /// Failed sign-ins of one subject from one source address (its hash).
    pub fn login_failures_from(subject_hash: &str, source_hash: &str) -> Key {
        Key::new(format!("LOGINFAIL#{subject_hash}"), format!("SOURCE#{source_hash}"))
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
        Key::new(outbox_shard(shard), format!("{written_at:011}#{job}"))
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
        let (user, assessment, class) = (UserId::new(), AssessmentId::new(), ClassId::new());
        for key in [
            a.organization(),
            a.user(&user),
            a.class(&class),
            a.roster_entry(&class, &user),
            a.search_term("light", &ContentId::new()),
            a.session(&user, &SessionId::new()),
            a.submission(&assessment, &user, 1),
            a.daily_counter(&"2026-12-04".parse().unwrap(), 3),
            a.totals(3),
            a.series_day(&"2026-12-04".parse().unwrap()),
            a.cached_answer("digest"),
        ] {
            assert!(key.pk.starts_with(&format!("{}#", a.prefix())), "{}", key.pk);
            assert!(a.owns_partition(&key.pk));
            assert!(!b.owns_partition(&key.pk));
        }
        assert_eq!(Tenant::owning(&a.totals(3).pk), Some(a.clone()));
        assert_eq!(Tenant::owning("LOOKUP#EMAIL#a@b.c"), None);
        assert_eq!(Tenant::owning("ORG#not-an-id#TOTALS#3"), None);
        // The bare prefix, and a prefix of it, are no partition of the tenant.
        assert!(!a.owns_partition(&a.prefix()));
        assert!(!a.owns_partition(&format!("{}X", a.prefix())));
        assert!(!a.owns_partition(&a.prefix()[..a.prefix().len() - 1]));
    }

    #[test]
    fn a_record_heads_its_own_partition_and_is_filed_in_its_kinds_list() {
        let tenant = Tenant::for_new_organization();
        let (class, lesson, student) = (ClassId::new(), LessonId::new(), UserId::new());
        let key = tenant.lesson(&lesson);
        assert_eq!(key.pk, format!("{}#LESSON#{lesson}", tenant.prefix()));
        assert_eq!(key.sk, format!("LESSON#{lesson}"));
        assert_eq!(key.listed_in, Some(format!("{}#LIST#LESSON", tenant.prefix())));
        // What belongs to a class sits beside it, in no tenant-wide list.
        for beside in [tenant.roster_entry(&class, &student), tenant.class_lesson(&class, &lesson)] {
            assert_eq!(beside.pk, tenant.class(&class).pk);
            assert_eq!(beside.listed_in, None);
        }
        assert_eq!(tenant.class_lesson(&class, &lesson).sk, key.sk);
        assert_eq!(tenant.user_partition(&student), tenant.progress(&lesson, &student).pk);
    }
}
