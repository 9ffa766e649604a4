//! Reading and writing the organisation's billing item beside its
//! organisation item.

use domain::billing::Billing;
use domain::clock::rfc3339;
use domain::organization::Organization;
use domain::tenancy::Tenant;
use store::AppState;
use store::db::{Db, Write};
use time::OffsetDateTime;
use web::error::{AppError, AppResult};

/// The billing item (empty before the first checkout) and the
/// organisation, read together, strongly consistent: what a billing
/// change is decided on.
pub async fn load(state: &AppState, tenant: &Tenant) -> AppResult<(Billing, Organization)> {
    let found = state.db.batch_get(&[tenant.billing(), tenant.organization()]).await?;
    let [billing, org] = <[_; 2]>::try_from(found).map_err(|_| AppError::internal("two keys, two answers"))?;
    let billing = billing.map(Db::decode).transpose()?.unwrap_or_default();
    let org = org.map(Db::decode).transpose()?.ok_or_else(|| AppError::not_found("organization"))?;
    Ok((billing, org))
}

/// The write that replaces `read` with `next`, if nothing changed it
/// meanwhile (else the transaction is cancelled); `next` becomes the
/// following version.
pub fn replace(
    state: &AppState,
    tenant: &Tenant,
    read: &Billing,
    mut next: Billing,
    at: OffsetDateTime,
) -> AppResult<Write> {
    next.version = read.version + 1;
    next.updated_at = Some(rfc3339(at));
    let put = if read.version == 0 {
        state.db.put_new(&tenant.billing(), &next)?
    } else {
        state.db.put_versioned(&tenant.billing(), &next, read.version)?
    };
    Ok(Write::Put(put))
}
