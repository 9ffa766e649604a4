//! The record store: any [`Record`] read live or not at all, created if
//! absent, patched at the version the client saw, and soft deleted, with the
//! refusals every such route shares (404, 409, 412) decided here once.

use aws_sdk_dynamodb::types::Update;
use time::OffsetDateTime;

use domain::clock::rfc3339;
use domain::error::{Error, Result};
use domain::ids::UserId;
use domain::record::{Field, Record, expect_version};
use domain::tenancy::Tenant;

pub use crate::changes::{Changes, Condition};
use crate::db::{Db, DbError, Item, Write};

/// What a versioned write that found the item changed means to the client:
/// a 412 when it named the version it expected, else a 409.
fn lost_race<R: Record>(asked: Option<u64>) -> impl Fn(DbError) -> Error {
    move |err| match err {
        DbError::ConditionFailed if asked.is_some() => {
            Error::PreconditionFailed(format!("the {} was changed meanwhile", R::NAME))
        }
        other => other.into(),
    }
}

impl Db {
    /// The record, if it is there and not deleted; else a 404 that says no
    /// more than another tenant's id would.
    pub async fn live<R: Record>(&self, tenant: &Tenant, id: &R::Id) -> Result<R> {
        self.find_live(tenant, id).await?.ok_or_else(|| Error::not_found(R::NAME))
    }

    /// The record, if it is there and not deleted, for a caller whose
    /// refusal of a missing one is not a 404 (an id named in a body).
    pub async fn find_live<R: Record>(&self, tenant: &Tenant, id: &R::Id) -> Result<Option<R>, DbError> {
        Ok(self.get::<R>(&R::key(tenant, id)).await?.filter(R::is_live))
    }

    /// A record read in a batch, if it was there and is not deleted.
    pub fn decode_live<R: Record>(item: Option<Item>) -> Result<Option<R>, DbError> {
        Ok(item.map(Db::decode::<R>).transpose()?.filter(R::is_live))
    }

    /// Writes a new record and the writes beside it (the counts it moves) in
    /// one transaction; a 409 if the record is already there.
    pub async fn insert<R: Record>(&self, tenant: &Tenant, record: &R, beside: Vec<Write>) -> Result<()> {
        let mut writes = vec![Write::Put(self.put_new(&R::key(tenant, record.id()), record)?)];
        writes.extend(beside);
        self.transact(writes).await.map_err(|err| match err {
            DbError::Cancelled { failed } if failed.contains(&0) => {
                Error::Conflict(format!("the {} exists already", R::NAME))
            }
            other => other.into(),
        })
    }

    /// The update that applies `changes` to `current` as a new version, for
    /// a transaction that writes more beside it; a stale `asked` version
    /// (the client's `If-Match`) is a 412 before anything is written. Run
    /// it with [`Db::commit_patch`] or in a transaction whose cancellation
    /// goes through [`Db::lost_patch`].
    pub fn patch_update<R: Record>(
        &self,
        tenant: &Tenant,
        current: &R,
        asked: Option<u64>,
        by: &UserId,
        at: OffsetDateTime,
        changes: Changes<R>,
    ) -> Result<Update> {
        expect_version(current, asked)?;
        let changes = changes
            .set(Field::new("updated_at"), &rfc3339(at))
            .set(Field::new("updated_by"), by)
            .add(Field::<R, u64>::new("version"), 1)
            .when(Condition::exists().and(Condition::equals(Field::new("version"), &current.version())));
        Ok(self.update_with(&R::key(tenant, current.id()), changes)?)
    }

    /// Applies `changes` to `current` as its next version and returns the
    /// record as it now stands: a 412 if `asked` (the client's `If-Match`)
    /// is not the version read, or if it changed since; a 409 for a change
    /// made meanwhile when the client named no version.
    pub async fn patch<R: Record>(
        &self,
        tenant: &Tenant,
        current: &R,
        asked: Option<u64>,
        by: &UserId,
        at: OffsetDateTime,
        changes: Changes<R>,
    ) -> Result<R> {
        let update = self.patch_update(tenant, current, asked, by, at, changes)?;
        self.commit_patch::<R>(update, asked).await
    }

    /// [`Db::patch`] with more writes beside it in one transaction (items
    /// kept beside the record, counts it moves): all land, or none do.
    #[allow(clippy::too_many_arguments)]
    pub async fn patch_with<R: Record>(
        &self,
        tenant: &Tenant,
        current: &R,
        asked: Option<u64>,
        by: &UserId,
        at: OffsetDateTime,
        changes: Changes<R>,
        beside: Vec<Write>,
    ) -> Result<R> {
        if beside.is_empty() {
            return self.patch(tenant, current, asked, by, at, changes).await;
        }
        let mut writes = vec![Write::Update(self.patch_update(tenant, current, asked, by, at, changes)?)];
        writes.extend(beside);
        self.transact(writes).await.map_err(|err| Db::lost_patch::<R>(err, 0, asked))?;
        let stored = self.get::<R>(&R::key(tenant, current.id())).await?;
        stored.ok_or_else(|| Error::internal(format!("the {} changed is gone", R::NAME)))
    }

    /// Runs an update from [`Db::patch_update`]: the record as it now stands.
    pub async fn commit_patch<R: Record>(&self, update: Update, asked: Option<u64>) -> Result<R> {
        let item = self.run_update(update).await.map_err(lost_race::<R>(asked))?;
        Ok(Db::decode(item)?)
    }

    /// The refusal of a transaction whose patch of an `R` (write `index`)
    /// found it changed: as [`Db::patch`] would refuse.
    pub fn lost_patch<R: Record>(err: DbError, index: usize, asked: Option<u64>) -> Error {
        match err {
            DbError::Cancelled { failed } if failed.contains(&index) => lost_race::<R>(asked)(DbError::ConditionFailed),
            other => other.into(),
        }
    }

    /// Marks `current` deleted (`deleted_at`, `deleted_by`) as its next
    /// version, with [`Db::patch`]'s refusals; every read then passes it by.
    pub async fn soft_delete<R: Record>(
        &self,
        tenant: &Tenant,
        current: &R,
        asked: Option<u64>,
        by: &UserId,
        at: OffsetDateTime,
    ) -> Result<R> {
        self.patch(tenant, current, asked, by, at, Changes::new().deleted(by, at)).await
    }
}

impl<R: Record> Changes<R> {
    /// These changes, and the record marked deleted by `by` at `at`: every
    /// read then passes it by. With [`Db::patch_update`], a soft delete that
    /// writes more beside it in one transaction.
    pub fn deleted(self, by: &UserId, at: OffsetDateTime) -> Self {
        self.set(Field::new("deleted_at"), &rfc3339(at)).set(Field::new("deleted_by"), by)
    }
}
