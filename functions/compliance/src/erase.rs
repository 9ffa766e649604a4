//! The steps of an erasure ([`ErasureStep`]), each safe to run again: a
//! step deletes what is still there, and the job records it done.

use std::collections::HashMap;

use domain::ids::{ThreadId, UserId};
use domain::message::{InboxEntry, Thread};
use domain::privacy::{ErasureStep, PrivacyJob, field};
use domain::tenancy::{Key, Tenant};
use futures_util::StreamExt;
use store::AppState;
use store::db::{Db, DbError, Range};
use store::membership;
use store::records::{Changes, Condition};

use crate::worker::{JobError, held, remaining};

/// What a message's sender becomes once they are erased.
pub const DELETED_USER: &str = "deleted user";
/// Keys deleted per read; updates in flight at once.
const PAGE: usize = 500;
const IN_FLIGHT: usize = 16;

/// Runs the steps `job` has not finished, recording each as it ends.
pub async fn run(state: &AppState, tenant: &Tenant, job: &PrivacyJob) -> Result<(), JobError> {
    let user = &job.user_id;
    let mut done = job.steps_done.clone();
    let mut deleted = job.deleted;
    for step in remaining(job) {
        deleted += match step {
            ErasureStep::Memberships => {
                membership::leave(state, tenant, user).await?;
                0
            }
            // With their progress, the Roblox accounts they played as.
            ErasureStep::Progress => {
                let held = tenant.held_by(user);
                state.db.delete_range(&Range::gsi1(&held, Tenant::LESSON_PREFIX), PAGE).await?
                    + state.db.delete_range(&Range::gsi1(&held, domain::roblox::LINK_HELD_PREFIX), PAGE).await?
            }
            ErasureStep::Submissions => {
                state.db.delete_range(&Range::gsi1(&tenant.submitted_by(user), ""), PAGE).await?
            }
            ErasureStep::SentMessages => {
                anonymise_sent(state, tenant, user).await?;
                0
            }
            ErasureStep::OwnItems => state.db.delete_range(&Range::of(&tenant.user_partition(user), ""), PAGE).await?,
            ErasureStep::Objects => crate::bundle::delete_exports(state, tenant, user).await?,
        };
        done.push(step);
        let progress = Changes::new().set(field::STEPS_DONE, &done).set(field::DELETED, &deleted).when(held(job));
        state.db.run_update(state.db.update_with(&tenant.privacy_job(&job.id), progress)?).await?;
        tracing::info!(job_id = %job.id, ?step, deleted, "erasure step done");
    }
    Ok(())
}

/// The messages `user` sent stay with their recipients, from "deleted
/// user": the message itself and each recipient's copy.
async fn anonymise_sent(state: &AppState, tenant: &Tenant, user: &UserId) -> Result<(), DbError> {
    let partition = tenant.user_partition(user);
    let range = Range::of(&partition, Tenant::SENT_PREFIX);
    let mut start = None;
    let mut threads: HashMap<ThreadId, Option<Thread>> = HashMap::new();
    loop {
        let page = state.db.query::<InboxEntry>(&range, PAGE as i32, start).await?;
        // The page's threads not read yet, 100 to a batch.
        let mut unread: Vec<&ThreadId> = page.items.iter().map(|sent| &sent.thread_id).collect();
        unread.sort();
        unread.dedup();
        unread.retain(|thread| !threads.contains_key(*thread));
        for batch in unread.chunks(100) {
            let found =
                state.db.batch_get(&batch.iter().map(|thread| tenant.thread(thread)).collect::<Vec<_>>()).await?;
            for (thread, item) in batch.iter().zip(found) {
                threads.insert((*thread).clone(), item.map(Db::decode::<Thread>).transpose()?);
            }
        }
        let mut copies: Vec<Key> = Vec::new();
        for sent in &page.items {
            copies.push(tenant.thread_message(&sent.thread_id, &sent.message_id));
            let recipients = threads[&sent.thread_id].iter().flat_map(|thread| thread.participants.iter());
            copies.extend(recipients.filter(|p| *p != user).map(|p| tenant.inbox_entry(p, &sent.message_id)));
        }
        let renamed = futures_util::stream::iter(copies.into_iter().map(|key| rename_sender(state, key)))
            .buffer_unordered(IN_FLIGHT)
            .collect::<Vec<_>>()
            .await;
        renamed.into_iter().collect::<Result<Vec<()>, DbError>>()?;
        match page.last_key {
            Some(key) => start = Some(key),
            None => return Ok(()),
        }
    }
}

/// Renames a message's sender, where the message (or copy) is still there.
async fn rename_sender(state: &AppState, key: Key) -> Result<(), DbError> {
    let sender = domain::record::Field::<InboxEntry, str>::new("sender_name");
    let rename = Changes::new().set(sender, DELETED_USER).when(Condition::exists());
    match state.db.run_update(state.db.update_with(&key, rename)?).await {
        Ok(_) | Err(DbError::ConditionFailed) => Ok(()),
        Err(err) => Err(err),
    }
}
