//! `GET /compliance/status`: what an admin checks first.

use std::collections::BTreeMap;

use axum::extract::State;
use domain::audit_log::Action;
use domain::consent::ConsentType;
use domain::principal::Role;
use domain::privacy::{PrivacyJob, PrivacyJobKind};
use serde::Serialize;
use store::AppState;
use store::audit_log;
use store::counters::{self, Counts, Total};
use store::db::Range;
use utoipa::ToSchema;
use web::envelope::{ApiResponse, Success};
use web::error::AppResult;
use web::extract::Admin;
use web::openapi::*;

/// Pending jobs counted at most this far.
const MOST_PENDING: i32 = 1000;

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentSummary {
    /// Students whose latest decision grants it.
    granted: i64,
    /// Students without it: never asked, refused or withdrawn.
    missing: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ComplianceStatus {
    students: i64,
    /// For each kind, among the organization's students.
    consents: BTreeMap<ConsentType, ConsentSummary>,
    /// Exports and erasures not finished yet.
    exports_pending: usize,
    erasures_pending: usize,
    /// Entries of the last 24 hours by action (read up to about 4,000
    /// entries; `audit_complete` is false beyond).
    #[schema(value_type = Object)]
    audit_last_24_hours: BTreeMap<Action, u64>,
    audit_complete: bool,
}

/// Consents missing, exports and erasures pending, and the audit log's
/// last day, for admins.
#[utoipa::path(
    get,
    path = "/api/v1/compliance/status",
    operation_id = "get_compliance_status",
    tag = "compliance",
    responses(
        (status = 200, description = "The summary", body = Success<ComplianceStatus>),
        ReadOne,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin"])), ("x-scopes" = json!(["admin"])))
)]
pub async fn get(State(state): State<AppState>, Admin(_, tenant): Admin) -> AppResult<ApiResponse<ComplianceStatus>> {
    let pending_partition = tenant.pending_privacy_jobs();
    let since = state.now() - time::Duration::hours(24);
    let totals_keys = counters::totals_keys(&tenant);
    let pending_range = Range::gsi1(&pending_partition, "");
    let (totals, pending, audit) = tokio::try_join!(
        state.db.batch_get(&totals_keys),
        state.db.query::<PrivacyJob>(&pending_range, MOST_PENDING, None),
        audit_log::summary(&state, &tenant, since),
    )?;
    let totals: Counts<Total> = Counts::sum(totals.iter().map(Option::as_ref));
    let students = totals.get(Total::Members(Role::Student));
    let consents = ConsentType::ALL
        .into_iter()
        .map(|kind| {
            let granted = totals.get(Total::StudentConsents(kind));
            (kind, ConsentSummary { granted, missing: (students - granted).max(0) })
        })
        .collect();
    let count = |kind: PrivacyJobKind| pending.items.iter().filter(|job| job.kind == kind).count();
    Ok(ApiResponse::ok(ComplianceStatus {
        students,
        consents,
        exports_pending: count(PrivacyJobKind::Export),
        erasures_pending: count(PrivacyJobKind::Erasure),
        audit_last_24_hours: audit.by_action,
        audit_complete: audit.complete,
    }))
}
