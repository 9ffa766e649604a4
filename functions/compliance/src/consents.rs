//! `POST /compliance/consents`: a consent decision, kept as history.

use axum::extract::State;
use domain::audit_log::{Action, Target};
use domain::consent::{self, Consent, ConsentState, ConsentType};
use domain::ids::UserId;
use domain::principal::Role;
use domain::user::{User, field};
use serde::Deserialize;
use serde_json::json;
use store::AppState;
use store::audit_log;
use store::counters::{self, Total};
use store::db::{Db, Write};
use store::guardian;
use store::records::Changes;
use utoipa::ToSchema;
use web::audit;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::Caller;
use web::json::Json;
use web::openapi::*;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    /// The member the decision is about.
    user_id: UserId,
    #[serde(rename = "type")]
    kind: ConsentType,
    /// `true` grants consent, `false` withdraws (or refuses) it.
    granted: bool,
}

/// Records a consent decision about a member: an admin for anyone, a
/// parent for a child linked to them, a member for themselves (COPPA
/// only by an admin or a linked parent). Every decision is kept; the latest
/// of each kind is the member's consent.
#[utoipa::path(
    post,
    path = "/api/v1/compliance/consents",
    operation_id = "record_consent",
    tag = "compliance",
    request_body = ConsentRequest,
    responses(
        (status = 201, description = "The decision as recorded", body = Success<Consent>),
        JsonBodyErrors,
        Change,
    ),
    security(("bearer" = [])),
    extensions(("x-roles" = json!(["admin", "teacher", "student", "parent"])))
)]
pub async fn record(
    State(state): State<AppState>,
    Caller(principal, tenant): Caller,
    Json(req): Json<ConsentRequest>,
) -> AppResult<ApiResponse<Consent>> {
    // A decision is a person's act, never an integration's.
    principal.require_user()?;
    let as_parent = principal.role == Role::Parent && principal.user_id != req.user_id;
    let link = as_parent.then(|| tenant.guardian_link(&principal.user_id, &req.user_id));
    // Another tenant's member, a removed one, or a child not linked to this
    // parent: all the same 404.
    let found = guardian::read_with_link(&state.db, link, vec![tenant.user(&req.user_id)]).await?;
    let user = found.into_iter().next().flatten().map(Db::decode::<User>).transpose()?;
    let subject = user.filter(User::is_active).ok_or_else(|| AppError::not_found("user"))?;
    consent::may_record(&principal, &subject.id, req.kind, as_parent)?;
    let now = state.now();
    let decision = Consent {
        id: ulid::Ulid::from_datetime(now.into()).to_string(),
        user_id: subject.id.clone(),
        kind: req.kind,
        granted: req.granted,
        recorded_at: domain::clock::rfc3339(now),
        recorded_by: principal.user_id.clone(),
    };
    let before = subject.consents.get(&req.kind).map(|state| state.granted);
    let mut consents = subject.consents.clone();
    consents.insert(req.kind, ConsentState { granted: req.granted, recorded_at: decision.recorded_at.clone() });
    let changes = Changes::new().set(field::CONSENTS, &consents);
    let entry = audit::by(&state, &principal, Action::ConsentRecorded)
        .target(Target::user(&subject.id))
        .changes(json!({"type": req.kind, "granted": before}), json!({"type": req.kind, "granted": req.granted}));
    let mut writes = vec![
        Write::Update(state.db.patch_update(&tenant, &subject, None, &principal.user_id, now, changes)?),
        Write::Put(state.db.put_new(&tenant.consent(&subject.id, &decision.id), &decision)?),
        audit_log::put(&state, &tenant, &entry)?,
    ];
    let flipped = before.unwrap_or(false) != req.granted;
    if subject.role == Role::Student && flipped {
        let by = if req.granted { 1 } else { -1 };
        writes.push(counters::total(&state, &tenant, &subject.id, &[(Total::StudentConsents(req.kind), by)])?);
    }
    state.db.transact(writes).await.map_err(|err| Db::lost_patch::<User>(err, 0, None))?;
    tracing::info!(user_id = %subject.id, kind = ?req.kind, granted = req.granted, "consent recorded");
    Ok(ApiResponse::created(decision))
}
