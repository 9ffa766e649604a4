//! `POST /payments/portal`: a Stripe Billing Portal session.

use axum::extract::State;
use integrations::stripe::Form;
use serde::{Deserialize, Serialize};
use store::AppState;
use utoipa::ToSchema;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::Admin;
use web::openapi::*;

use crate::{billing, payments, stripe_failed};

/// Where to send the browser: Stripe's hosted billing portal.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PortalSession {
    url: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/payments/portal",
    tag = "payments",
    operation_id = "create_billing_portal_session",
    responses(
        (status = 201, description = "The portal session to send the browser to", body = Success<PortalSession>),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 503, response = PaymentsUnavailable),
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin"])))
)]
/// Admins change the card, switch plan, cancel, and read and download
/// invoices in Stripe's billing portal; what they change there reaches the
/// organization through Stripe's webhook. A 409 before the first checkout:
/// there is no billing account yet.
pub async fn create(State(state): State<AppState>, Admin(_, tenant): Admin) -> AppResult<ApiResponse<PortalSession>> {
    let payments = payments(&state)?;
    let (billing, _) = billing::load(&state, &tenant).await?;
    let customer = billing
        .customer_id
        .ok_or_else(|| AppError::Conflict("the organization has no billing account yet; start a checkout".into()))?;
    let form = Form::new().set("customer", customer).set("return_url", &payments.config.return_url);
    let key = format!("portal-{}", ulid::Ulid::new());
    let session: PortalSession =
        payments.stripe.post("billing_portal/sessions", &form, &key).await.map_err(stripe_failed)?;
    Ok(ApiResponse::created(session))
}
