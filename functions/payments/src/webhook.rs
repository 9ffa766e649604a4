//! `POST /stripe/webhooks`: Stripe's events, verified over the raw body.

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use integrations::stripe::objects::Event;
use integrations::stripe::webhook;
use serde::Serialize;
use store::AppState;
use utoipa::ToSchema;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult, ErrorBody};
use web::json::{BODY_LIMIT, read_limited};
use web::openapi::*;

use crate::apply::{self, Outcome};
use crate::{payments, stripe_failed};

/// What became of a delivered event.
#[derive(Debug, Serialize, ToSchema)]
pub struct Receipt {
    event_id: String,
    outcome: Outcome,
}

#[utoipa::path(
    post,
    path = "/api/v1/stripe/webhooks",
    tag = "payments",
    operation_id = "stripe_webhook",
    params(("Stripe-Signature" = String, Header, description = "`t=<unix seconds>,v1=<hex HMAC-SHA256 of \"t.body\">`, as Stripe signs")),
    request_body(content = Object, content_type = "application/json", description = "A Stripe event, exactly as Stripe sent it"),
    responses(
        (status = 200, description = "Received: applied, unchanged, a redelivery, or ignored", body = Success<Receipt>),
        (status = 400, response = BadRequest),
        (status = 413, description = "`payload_too_large`: the body is over 1 MiB", body = ErrorBody),
        (status = 422, description = "`validation_failed`: a subscription of a price this deployment does not sell", body = ErrorBody),
        (status = 503, response = PaymentsUnavailable),
    ),
    security(())
)]
/// Stripe's webhook endpoint; no user credentials, the signature is the
/// credential. A missing, malformed, expired (over 300 s) or wrong
/// signature is a 400 and changes nothing. Each event is applied once: a
/// redelivery is a 200 that changes nothing, and a failure is a 5xx so
/// that Stripe delivers it again. An event whose subscription has a price
/// this deployment does not sell is a 422 (Stripe retries it for three
/// days, and the dashboard shows it failing).
pub async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    req: Request,
) -> AppResult<ApiResponse<Receipt>> {
    let payments = payments(&state)?;
    let body = read_limited(req.into_body(), BODY_LIMIT).await?;
    let keys = payments.stripe.keys().await.map_err(stripe_failed)?;
    let signature = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
    webhook::verify(signature, &body, &keys.webhook_secrets(), state.now().unix_timestamp()).map_err(|err| {
        tracing::warn!(reason = %err, "a webhook signature was refused");
        AppError::BadRequest(format!("signature refused: {err}"))
    })?;
    let event: Event =
        serde_json::from_slice(&body).map_err(|_| AppError::BadRequest("the body is not a Stripe event".into()))?;
    let outcome = apply::event(&state, &payments.config, &event).await?;
    Ok(ApiResponse::ok(Receipt { event_id: event.id, outcome }).no_store())
}
