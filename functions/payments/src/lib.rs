//! `/api/v1/payments/*` and `/api/v1/stripe/webhooks`: subscriptions paid
//! through Stripe. Admins start a Checkout Session or open the Billing
//! Portal; the tier changes only when Stripe's signed webhook says a
//! subscription is paid for ([`apply`]), never because a client asked.

mod apply;
mod billing;
mod checkout;
mod portal;
mod subscription;
mod webhook;

use std::sync::Arc;

use integrations::stripe::{DEFAULT_RETRY, Keys, Stripe, StripeError};
use store::AppState;
use store::config::StripeConfig;
use utoipa::OpenApi;
use web::error::{AppError, AppResult};
use web::http::{RouteTable, routes};

pub fn routes() -> RouteTable {
    RouteTable::new(ApiDoc::openapi)
        .routes(routes!(checkout::create))
        .routes(routes!(portal::create))
        .routes(routes!(subscription::get))
        .routes(routes!(webhook::receive))
}

#[derive(utoipa::OpenApi)]
#[openapi(tags((name = "payments", description = "Subscriptions paid through Stripe")))]
pub struct ApiDoc;

/// The function's Stripe configuration and client, made on first use and
/// kept with its state.
pub(crate) struct Payments {
    pub config: StripeConfig,
    pub stripe: Stripe,
}

/// The function's payments, or a 503 `payments_unavailable` when Stripe
/// is not configured.
pub(crate) fn payments(state: &AppState) -> AppResult<Arc<Payments>> {
    let made = state.lazy(|| {
        let config = state.config.stripe.clone()?;
        let keys = Keys::stored(state.aws.secrets.clone(), &config.secret_id);
        match Stripe::new(&config.api_base, keys, DEFAULT_RETRY) {
            Ok(stripe) => Some(Arc::new(Payments { config, stripe })),
            Err(err) => {
                tracing::error!(error = %err, "the Stripe client could not be built");
                None
            }
        }
    });
    made.as_ref().clone().ok_or_else(|| unavailable("payments are not configured", None))
}

pub(crate) fn unavailable(message: &str, retry_after_seconds: Option<u64>) -> AppError {
    AppError::PaymentsUnavailable { message: message.into(), retry_after_seconds }
}

/// How a failed call to Stripe is answered: the client learns that
/// payments are unavailable, the log learns why.
pub(crate) fn stripe_failed(err: StripeError) -> AppError {
    match err {
        StripeError::NotConfigured => unavailable("payments are not configured", None),
        StripeError::Keys | StripeError::CircuitOpen | StripeError::Unreachable | StripeError::Server(_) => {
            tracing::warn!(error = %err, "stripe unavailable");
            unavailable("the payment provider is unavailable; retry shortly", Some(30))
        }
        StripeError::Refused { .. } | StripeError::Malformed => {
            tracing::error!(error = %err, "stripe refused a request: check the Stripe configuration");
            unavailable("the payment provider refused the request; payments may be misconfigured", None)
        }
    }
}
