//! An export's bundle: one member's data as one JSON file in the bucket,
//! under the tenant's prefix. It holds their data and nobody else's: the
//! names of others who wrote to them are left out of their copies of
//! messages, and others' addresses out of audit entries about them.

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use domain::assessment::Submission;
use domain::audit_log::Entry;
use domain::class::RosterEntry;
use domain::clock::rfc3339;
use domain::consent::Consent;
use domain::ids::UserId;
use domain::message::InboxEntry;
use domain::privacy::PrivacyJob;
use domain::progress::LessonProgress;
use domain::tenancy::Tenant;
use domain::user::User;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use store::AppState;
use store::audit_log::{self, Filter};
use store::db::{DbError, Range};

use crate::worker::JobError;

/// Items read per Query.
const PAGE: i32 = 500;
/// Audit entries read per page of the log.
const AUDIT_PAGE: usize = 100;

/// Gathers `job`'s member's data and writes it; the object's key.
pub async fn export(state: &AppState, tenant: &Tenant, job: &PrivacyJob) -> Result<String, JobError> {
    let user = &job.user_id;
    let profile: User = state.db.get(&tenant.user(user)).await?.ok_or(JobError::Erased)?;
    if profile.erasure_id.is_some() {
        return Err(JobError::Erased);
    }
    let held = tenant.held_by(user);
    let own = tenant.user_partition(user);
    let classes: Vec<RosterEntry> = all(state, &Range::gsi1(&held, Tenant::CLASS_PREFIX)).await?;
    let progress: Vec<LessonProgress> = all(state, &Range::gsi1(&held, Tenant::LESSON_PREFIX)).await?;
    let submissions: Vec<Submission> = all(state, &Range::gsi1(&tenant.submitted_by(user), "")).await?;
    let received: Vec<InboxEntry> = all(state, &Range::of(&own, Tenant::INBOX_PREFIX)).await?;
    let sent: Vec<InboxEntry> = all(state, &Range::of(&own, Tenant::SENT_PREFIX)).await?;
    let consents: Vec<Consent> = all(state, &Range::of(&tenant.consent_history(user), "")).await?;
    let audit = audit_entries(state, tenant, user).await?;
    let bundle = json!({
        "exported_at": rfc3339(state.now()),
        "organization_id": tenant.org_id(),
        "profile": {
            "id": profile.id,
            "email": profile.email,
            "username": profile.username,
            "first_name": profile.first_name,
            "last_name": profile.last_name,
            "role": profile.role,
            "created_at": profile.audit.created_at,
            "consents": profile.consents,
        },
        "classes": classes.iter().map(|entry| json!({"class_id": entry.class_id, "role": entry.role})).collect::<Vec<_>>(),
        "progress": progress,
        "submissions": submissions,
        "messages": {
            "received": received.into_iter().map(|copy| without_sender_name(copy, user)).collect::<Vec<_>>(),
            "sent": sent.into_iter().map(|copy| without_sender_name(copy, user)).collect::<Vec<_>>(),
        },
        "consents": consents,
        "audit_entries": audit,
    });
    let key = format!("{}{}.json", tenant.export_prefix(user), job.id);
    let body = serde_json::to_vec_pretty(&bundle).map_err(|err| DbError::failed("write a bundle", err))?;
    store::objects::put(state, &key, body, "application/json").await?;
    Ok(key)
}

/// Every item of `range`.
async fn all<T: DeserializeOwned>(state: &AppState, range: &Range<'_>) -> Result<Vec<T>, DbError> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = state.db.query::<T>(range, PAGE, start).await?;
        items.extend(page.items);
        match page.last_key {
            Some(key) => start = Some(key),
            None => return Ok(items),
        }
    }
}

/// A copy of a message as the bundle shows it: the sender by id only,
/// unless it is the member.
fn without_sender_name(copy: InboxEntry, member: &UserId) -> Value {
    let mine = copy.sender_id == *member;
    let mut value = serde_json::to_value(&copy).unwrap_or(Value::Null);
    if !mine && let Some(fields) = value.as_object_mut() {
        fields.remove("sender_name");
    }
    value
}

/// The audit entries the member did or that were about them; another
/// actor's address and user agent are left out.
async fn audit_entries(state: &AppState, tenant: &Tenant, user: &UserId) -> Result<Vec<Entry>, DbError> {
    let mut entries: Vec<Entry> = Vec::new();
    for filter in [
        Filter { actor_id: Some(user.to_string()), ..Filter::default() },
        Filter { target_id: Some(user.to_string()), ..Filter::default() },
    ] {
        let mut before: Option<String> = None;
        loop {
            let page = audit_log::page(state, tenant, &filter, AUDIT_PAGE, before.as_deref()).await?;
            entries.extend(page.entries);
            match page.before {
                Some(next) => before = Some(next),
                None => break,
            }
        }
    }
    entries.sort_by(|a, b| a.id.cmp(&b.id));
    entries.dedup_by(|a, b| a.id == b.id);
    let me = Some(user.to_string());
    for entry in entries.iter_mut().filter(|entry| entry.actor.id != me) {
        entry.context.ip = None;
        entry.context.user_agent = None;
    }
    Ok(entries)
}

/// Deletes every bundle exported of `user`; how many.
pub async fn delete_exports(state: &AppState, tenant: &Tenant, user: &UserId) -> Result<u64, JobError> {
    let s3 = state.aws.s3();
    let mut deleted = 0;
    loop {
        let listed = s3
            .list_objects_v2()
            .bucket(&state.config.bucket_name)
            .prefix(tenant.export_prefix(user))
            .send()
            .await
            .map_err(|err| s3_error("ListObjectsV2", DisplayErrorContext(err)))?;
        let keys: Vec<ObjectIdentifier> = listed
            .contents()
            .iter()
            .filter_map(|object| object.key())
            .filter_map(|key| ObjectIdentifier::builder().key(key).build().ok())
            .collect();
        if keys.is_empty() {
            return Ok(deleted);
        }
        deleted += keys.len() as u64;
        let delete = Delete::builder().set_objects(Some(keys)).build().map_err(|err| s3_error("DeleteObjects", err))?;
        s3.delete_objects()
            .bucket(&state.config.bucket_name)
            .delete(delete)
            .send()
            .await
            .map_err(|err| s3_error("DeleteObjects", DisplayErrorContext(err)))?;
    }
}

/// Deletes one bundle: an export whose member was erased while it ran.
pub async fn delete(state: &AppState, key: &str) -> Result<(), JobError> {
    let s3 = state.aws.s3();
    let deleted = s3.delete_object().bucket(&state.config.bucket_name).key(key).send().await;
    deleted.map_err(|err| s3_error("DeleteObject", DisplayErrorContext(err)))?;
    Ok(())
}

fn s3_error(op: &'static str, err: impl std::fmt::Display) -> JobError {
    JobError::S3 { op, message: err.to_string() }
}
