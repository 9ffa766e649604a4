//! `POST /payments/checkout`: a Stripe Checkout Session for a paid tier.

use axum::extract::State;
use domain::billing::{Billing, Interval, PaidTier};
use domain::organization::Organization;
use domain::tenancy::{Lookup, Tenant, global};
use integrations::stripe::Form;
use serde::{Deserialize, Serialize};
use store::AppState;
use store::db::{DbError, Write};
use utoipa::ToSchema;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::Admin;
use web::json::Json;
use web::openapi::*;

use crate::{Payments, billing, payments, stripe_failed, unavailable};

/// What to subscribe to. The price comes from the deployment's
/// configuration, never from the client.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    tier: PaidTier,
    interval: Interval,
}

/// Where to send the browser: Stripe's hosted checkout page.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CheckoutSession {
    /// The Checkout Session's id (`cs_…`).
    id: String,
    url: String,
    /// Unix seconds; after it the page no longer takes a payment.
    expires_at: i64,
}

#[derive(Deserialize)]
struct Customer {
    id: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/payments/checkout",
    tag = "payments",
    operation_id = "create_checkout_session",
    request_body = CheckoutRequest,
    responses(
        (status = 201, description = "The session to send the browser to", body = Success<CheckoutSession>),
        JsonBodyErrors,
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 503, response = PaymentsUnavailable),
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin"])))
)]
/// Admins start paying for `pro` or `enterprise`, monthly or yearly. The
/// tier changes once Stripe confirms the subscription (its webhook), not
/// here. An organization whose subscription is live gets a 409: it changes
/// plan or cancels in the billing portal.
pub async fn create(
    State(state): State<AppState>,
    Admin(_, tenant): Admin,
    Json(asked): Json<CheckoutRequest>,
) -> AppResult<ApiResponse<CheckoutSession>> {
    let payments = payments(&state)?;
    let price = payments.config.price(asked.tier, asked.interval).ok_or_else(|| {
        let tier = tier_name(asked.tier);
        unavailable(&format!("no price is configured for {tier} billed each {}", asked.interval.as_str()), None)
    })?;
    let (billing, org) = billing::load(&state, &tenant).await?;
    if billing.status.is_live() {
        return Err(AppError::Conflict(
            "the organization has a live subscription; change or cancel it in the billing portal".into(),
        ));
    }
    let customer = customer(&state, &payments, &tenant, billing, &org).await?;
    let org_id = org.id.to_string();
    let form = Form::new()
        .set("mode", "subscription")
        .set("customer", customer)
        .set("line_items[0][price]", &price.id)
        .set("line_items[0][quantity]", "1")
        .set("success_url", &payments.config.success_url)
        .set("cancel_url", &payments.config.cancel_url)
        .set("client_reference_id", &org_id)
        .set("metadata[org_id]", &org_id)
        .set("subscription_data[metadata][org_id]", &org_id);
    let key = format!("checkout-{}", ulid::Ulid::new());
    let session: CheckoutSession =
        payments.stripe.post("checkout/sessions", &form, &key).await.map_err(stripe_failed)?;
    tracing::info!(session = %session.id, tier = tier_name(asked.tier), "checkout session created");
    Ok(ApiResponse::created(session))
}

fn tier_name(tier: PaidTier) -> &'static str {
    domain::organization::Tier::from(tier).as_str()
}

/// The organisation's Stripe customer: made at its first checkout (one
/// idempotency key per organisation, so two checkouts at once make one),
/// then recorded on the billing item and in the global lookup that leads
/// Stripe's events back to the organisation, both in one transaction.
async fn customer(
    state: &AppState,
    payments: &Payments,
    tenant: &Tenant,
    billing: Billing,
    org: &Organization,
) -> AppResult<String> {
    if let Some(id) = billing.customer_id {
        return Ok(id);
    }
    let form = Form::new().set("name", org.name.to_string()).set("metadata[org_id]", org.id.to_string());
    let made: Customer =
        payments.stripe.post("customers", &form, &format!("customer-{}", org.id)).await.map_err(stripe_failed)?;
    let lookup = Lookup::organization(org.id.clone());
    let recorded = Billing { customer_id: Some(made.id.clone()), ..billing.clone() };
    let writes = vec![
        billing::replace(state, tenant, &billing, recorded, state.now())?,
        Write::Put(state.db.put(&global::stripe_customer(&made.id), &lookup)?),
    ];
    match state.db.transact(writes).await {
        Ok(()) => Ok(made.id),
        // Another checkout recorded the customer first: the same one, made
        // with the same idempotency key.
        Err(DbError::Cancelled { failed }) if failed.contains(&0) => {
            let (now, _) = billing::load(state, tenant).await?;
            now.customer_id.ok_or_else(|| AppError::Conflict("the billing account changed meanwhile; retry".into()))
        }
        Err(err) => Err(err.into()),
    }
}
