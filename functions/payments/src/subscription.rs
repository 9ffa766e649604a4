//! `GET /payments/subscription`: the subscription as Stripe's events left it.

use axum::extract::State;
use domain::billing::{BillingStatus, Interval};
use domain::organization::Tier;
use serde::Serialize;
use store::AppState;
use utoipa::ToSchema;
use web::envelope::{ApiResponse, Success};
use web::error::AppResult;
use web::extract::Admin;
use web::openapi::*;

use crate::billing;

/// The organization's subscription. Before the first, `status` is `none`
/// and the rest is null.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionView {
    /// The tier in force.
    tier: Tier,
    status: BillingStatus,
    interval: Option<Interval>,
    /// In the currency's smallest unit (cents).
    amount: Option<i64>,
    /// ISO 4217, lowercase (`usd`).
    currency: Option<String>,
    current_period_start: Option<String>,
    current_period_end: Option<String>,
    /// The subscription ends when the period does.
    cancel_at_period_end: bool,
    trial_end: Option<String>,
    /// The latest invoice failed and no later one was paid.
    payment_failed: bool,
}

#[utoipa::path(
    get,
    path = "/api/v1/payments/subscription",
    tag = "payments",
    operation_id = "get_subscription",
    responses(
        (status = 200, description = "The subscription", body = Success<SubscriptionView>),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin"])))
)]
/// Admins see what the organization pays for. It reads only what Stripe's
/// verified events recorded, so it answers without calling Stripe.
pub async fn get(State(state): State<AppState>, Admin(_, tenant): Admin) -> AppResult<ApiResponse<SubscriptionView>> {
    let (billing, org) = billing::load(&state, &tenant).await?;
    Ok(ApiResponse::ok(SubscriptionView {
        tier: org.tier,
        status: billing.status,
        interval: billing.interval,
        amount: billing.amount,
        currency: billing.currency,
        current_period_start: billing.current_period_start,
        current_period_end: billing.current_period_end,
        cancel_at_period_end: billing.cancel_at_period_end,
        trial_end: billing.trial_end,
        payment_failed: billing.payment_failed_at.is_some(),
    })
    .no_store())
}
