//! Applying one verified Stripe event to the organisation it is about.
//!
//! The event's customer leads to the organisation (a global lookup item
//! written at checkout). What the event changes is decided from the billing
//! item alone ([`decide`]); then the event's id, the billing item and the
//! organisation's tier and billing status are written in one transaction,
//! so an event is applied exactly once: a redelivery finds its id and
//! changes nothing, and a failure writes nothing and answers 5xx, so that
//! Stripe delivers it again. A tier change first moves the organisation's
//! usage key to the new plan, and back if the transaction fails.

use domain::audit_log::{Action, Actor, StateChange, Target};
use domain::billing::{APPLIED_EVENT_TTL_SECONDS, AppliedEvent, Billing, BillingStatus};
use domain::clock::rfc3339;
use domain::organization::{Organization, Tier, field};
use domain::record::Field;
use domain::tenancy::{Lookup, Tenant, global};
use integrations::pusher::Realtime;
use integrations::stripe::objects::{CheckoutSession, Event, Invoice, Subscription};
use integrations::usage_plans;
use serde::Serialize;
use serde_json::json;
use store::AppState;
use store::config::StripeConfig;
use store::db::{Db, Write};
use store::records::{Changes, Condition};
use store::{activity, audit_log};
use time::OffsetDateTime;
use web::audit;
use web::error::{AppError, AppResult};

/// What became of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It changed the organisation's billing.
    Applied,
    /// Recorded, and it changed nothing: older than what was applied, or
    /// about a subscription that is not the organisation's.
    Unchanged,
    /// Applied before: a redelivery.
    Duplicate,
    /// A type this platform does not act on.
    Ignored,
    /// Its customer belongs to no organisation here (logged).
    UnknownCustomer,
}

/// The events acted on, with their objects read.
enum Change {
    Subscription { subscription: Subscription, deleted: bool },
    TrialWillEnd(Subscription),
    CheckoutCompleted(CheckoutSession),
    InvoicePaid(Invoice),
    InvoiceFailed(Invoice),
}

impl Change {
    fn of(event: &Event) -> AppResult<Option<Self>> {
        fn read<T: serde::de::DeserializeOwned>(event: &Event) -> AppResult<T> {
            serde_json::from_value(event.data.object.clone())
                .map_err(|err| AppError::BadRequest(format!("the {} event's object is malformed: {err}", event.kind)))
        }
        Ok(Some(match event.kind.as_str() {
            "customer.subscription.created" | "customer.subscription.updated" => {
                Self::Subscription { subscription: read(event)?, deleted: false }
            }
            "customer.subscription.deleted" => Self::Subscription { subscription: read(event)?, deleted: true },
            "customer.subscription.trial_will_end" => Self::TrialWillEnd(read(event)?),
            "checkout.session.completed" => Self::CheckoutCompleted(read(event)?),
            "invoice.paid" => Self::InvoicePaid(read(event)?),
            "invoice.payment_failed" => Self::InvoiceFailed(read(event)?),
            _ => return Ok(None),
        }))
    }

    fn customer(&self) -> Option<String> {
        match self {
            Self::Subscription { subscription, .. } | Self::TrialWillEnd(subscription) => subscription.customer(),
            Self::CheckoutCompleted(session) => session.customer(),
            Self::InvoicePaid(invoice) | Self::InvoiceFailed(invoice) => invoice.customer(),
        }
    }
}

fn timestamp(seconds: i64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp(seconds).ok().map(rfc3339)
}

/// The billing item after an event created at `created`, or `None` when
/// the event changes nothing. Stripe does not promise order: an event of
/// the organisation's subscription older than the last one applied is
/// stale, and the end of another subscription does not end a live one.
fn decide(read: &Billing, change: &Change, created: i64, config: &StripeConfig) -> AppResult<Option<Billing>> {
    let current = read.subscription_id.as_deref();
    let ours = |id: Option<String>| id.is_some() && id.as_deref() == current;
    Ok(match change {
        Change::Subscription { subscription, deleted } => {
            let status = if *deleted {
                BillingStatus::Canceled
            } else {
                serde_json::from_value(json!(subscription.status)).map_err(|_| {
                    AppError::invalid("data.object.status", format!("unknown status {}", subscription.status))
                })?
            };
            let same = current == Some(subscription.id.as_str());
            if (same && created < read.last_event_at) || (!same && read.status.is_live() && !status.is_live()) {
                return Ok(None);
            }
            let price = subscription
                .price()
                .ok_or_else(|| AppError::invalid("data.object.items", "the subscription has no price"))?;
            let paid = config.price_by_id(&price.id).ok_or_else(|| {
                AppError::invalid(
                    "data.object.items",
                    format!("the price {} is not one this deployment sells", price.id),
                )
            })?;
            let (start, end) = subscription.period();
            let paid_up = matches!(status, BillingStatus::Active | BillingStatus::Trialing);
            Some(Billing {
                customer_id: read.customer_id.clone().or_else(|| subscription.customer()),
                subscription_id: Some(subscription.id.clone()),
                status,
                paid_tier: Some(paid.tier),
                interval: Some(paid.interval),
                amount: price.unit_amount,
                currency: Some(price.currency.clone()),
                current_period_start: start.and_then(timestamp),
                current_period_end: end.and_then(timestamp),
                cancel_at_period_end: subscription.cancel_at_period_end,
                trial_end: subscription.trial_end.and_then(timestamp),
                payment_failed_at: if paid_up { None } else { read.payment_failed_at },
                last_event_at: created,
                ..read.clone()
            })
        }
        // The subscription the checkout made, so its events are known as
        // the organisation's before the first of them arrives.
        Change::CheckoutCompleted(session) => match session.subscription() {
            Some(id) if current != Some(id.as_str()) && !read.status.is_live() => Some(Billing {
                customer_id: read.customer_id.clone().or_else(|| session.customer()),
                subscription_id: Some(id),
                ..read.clone()
            }),
            _ => None,
        },
        Change::InvoiceFailed(invoice)
            if ours(invoice.subscription()) && read.payment_failed_at.is_none_or(|at| at < created) =>
        {
            Some(Billing { payment_failed_at: Some(created), ..read.clone() })
        }
        Change::InvoicePaid(invoice)
            if ours(invoice.subscription()) && read.payment_failed_at.is_some_and(|at| at <= created) =>
        {
            Some(Billing { payment_failed_at: None, ..read.clone() })
        }
        Change::InvoiceFailed(_) | Change::InvoicePaid(_) | Change::TrialWillEnd(_) => None,
    })
}

/// Applies `event`, whose signature has been verified.
pub async fn event(state: &AppState, config: &StripeConfig, event: &Event) -> AppResult<Outcome> {
    let Some(change) = Change::of(event)? else {
        return Ok(Outcome::Ignored);
    };
    let Some(customer) = change.customer() else {
        tracing::warn!(event_id = %event.id, kind = %event.kind, "a Stripe event without a customer");
        return Ok(Outcome::Ignored);
    };
    let Some(lookup) = state.db.get::<Lookup>(&global::stripe_customer(&customer)).await? else {
        tracing::warn!(event_id = %event.id, customer, "a Stripe event about a customer of no organization");
        return Ok(Outcome::UnknownCustomer);
    };
    // The signature verified, the customer's lookup names the organisation.
    let tenant = Tenant::of_lookup(&lookup);
    let found = state.db.batch_get(&[tenant.billing(), tenant.organization(), tenant.billing_event(&event.id)]).await?;
    if found[2].is_some() {
        return Ok(Outcome::Duplicate);
    }
    let read: Billing = found[0].clone().map(Db::decode).transpose()?.unwrap_or_default();
    let org: Organization = found[1]
        .clone()
        .map(Db::decode)
        .transpose()?
        .ok_or_else(|| AppError::internal("a customer's organization is gone"))?;
    let next = decide(&read, &change, event.created, config)?;
    let now = state.now();
    let applied = AppliedEvent {
        event_type: event.kind.clone(),
        applied_at: rfc3339(now),
        expires_at: now.unix_timestamp() + APPLIED_EVENT_TTL_SECONDS,
    };
    let mut writes = vec![Write::Put(state.db.put_new(&tenant.billing_event(&event.id), &applied)?)];
    let (tier, status) = match &next {
        Some(next) => (next.status.tier(next.paid_tier.map_or(org.tier, Tier::from), org.tier), next.status),
        None => (org.tier, org.billing_status),
    };
    if let Some(next) = &next {
        writes.push(crate::billing::replace(state, &tenant, &read, next.clone(), now)?);
    }
    if (tier, status) != (org.tier, org.billing_status) {
        let changes = Changes::new()
            .set(field::TIER, &tier)
            .set(field::BILLING_STATUS, &status)
            .set(Field::new("updated_at"), &rfc3339(now))
            .add(Field::<Organization, u64>::new("version"), 1)
            .when(Condition::equals(field::TIER, &org.tier));
        writes.push(Write::Update(state.db.update_with(&tenant.organization(), changes)?));
    }
    if tier != org.tier {
        let entry = audit::entry(state, Action::TierChanged, Actor::payment_provider(&event.id))
            .target(Target::organization(&org.id))
            .changes(json!({"tier": org.tier}), json!({"tier": tier}));
        writes.push(audit_log::put(state, &tenant, &entry)?);
    }
    let commit = async { state.db.transact(writes).await.map_err(domain::Error::from) };
    let committed = if tier == org.tier {
        commit.await
    } else {
        usage_plans::with_key_moved(state, &tenant, &org, tier, commit).await
    };
    if let Err(err) = committed {
        // A delivery of the same event at the same moment won.
        if state.db.get::<AppliedEvent>(&tenant.billing_event(&event.id)).await?.is_some() {
            return Ok(Outcome::Duplicate);
        }
        tracing::warn!(error = %err, event_id = %event.id, "a Stripe event was not applied; Stripe will retry");
        return Err(AppError::Unavailable {
            message: "the event could not be applied; retry".into(),
            retry_after_seconds: Some(5),
        });
    }
    tracing::info!(event_id = %event.id, kind = %event.kind, from = org.tier.as_str(), to = tier.as_str(), "stripe event applied");
    tell(state, &tenant, &org, &read, next.as_ref(), &change, tier).await;
    Ok(if next.is_some() { Outcome::Applied } else { Outcome::Unchanged })
}

/// After a committed change: the activity event (before and after) and, for
/// what admins must act on, `billing.updated` on their channel.
async fn tell(
    state: &AppState,
    tenant: &Tenant,
    org: &Organization,
    read: &Billing,
    next: Option<&Billing>,
    change: &Change,
    tier: Tier,
) {
    let status = next.map_or(org.billing_status, |next| next.status);
    let subject = next.and_then(|next| next.subscription_id.clone()).unwrap_or_else(|| org.id.to_string());
    if (tier, status) != (org.tier, org.billing_status) {
        let kind = if tier != org.tier { "billing.tier_changed" } else { "billing.status_changed" };
        let changes = StateChange {
            before: json!({"tier": org.tier, "billing_status": org.billing_status}),
            after: json!({"tier": tier, "billing_status": status}),
        };
        activity::record_billing(state, tenant, kind, &subject, changes).await;
    }
    let failed_before = read.payment_failed_at.is_some();
    let failed_after = next.map_or(failed_before, |next| next.payment_failed_at.is_some());
    let reason = if matches!(change, Change::TrialWillEnd(_)) {
        "trial_will_end"
    } else if status == BillingStatus::PastDue && org.billing_status != BillingStatus::PastDue {
        "past_due"
    } else if tier != org.tier {
        "tier_changed"
    } else if failed_after && !failed_before {
        "payment_failed"
    } else if failed_before && !failed_after {
        "payment_recovered"
    } else {
        return;
    };
    let data = json!({"organization_id": org.id, "tier": tier, "billing_status": status, "reason": reason});
    let channels = [format!("private-admins-{}", org.id)];
    let realtime = Realtime::of(state);
    if let Err(err) = realtime.trigger(&channels, "billing.updated", &data, state.now().unix_timestamp()).await {
        tracing::warn!(error = %err, "billing.updated not sent");
    }
}

#[cfg(test)]
mod tests {
    use domain::billing::{Interval, PaidTier};
    use store::config::Price;

    use super::*;

    fn config() -> StripeConfig {
        StripeConfig {
            secret_id: "s".into(),
            api_base: "http://localhost".into(),
            prices: vec![Price { id: "price_pro_m".into(), tier: PaidTier::Pro, interval: Interval::Month }],
            success_url: "s".into(),
            cancel_url: "c".into(),
            return_url: "r".into(),
        }
    }

    fn subscription(id: &str, status: &str, price: &str) -> Change {
        let subscription = serde_json::from_value(json!({
            "id": id, "customer": "cus_1", "status": status, "cancel_at_period_end": false,
            "current_period_start": 1_767_225_600, "current_period_end": 1_769_904_000,
            "items": {"data": [{"price": {"id": price, "unit_amount": 1900, "currency": "usd"}}]}
        }))
        .unwrap();
        Change::Subscription { subscription, deleted: false }
    }

    #[test]
    fn an_active_subscription_records_its_price_tier_and_period() {
        let next = decide(&Billing::default(), &subscription("sub_1", "active", "price_pro_m"), 100, &config())
            .unwrap()
            .unwrap();
        assert_eq!(next.status, BillingStatus::Active);
        assert_eq!((next.paid_tier, next.interval), (Some(PaidTier::Pro), Some(Interval::Month)));
        assert_eq!(next.current_period_start.as_deref(), Some("2026-01-01T00:00:00Z"));
        assert_eq!((next.amount, next.last_event_at), (Some(1900), 100));
    }

    #[test]
    fn an_older_event_of_the_same_subscription_changes_nothing() {
        let applied = decide(&Billing::default(), &subscription("sub_1", "active", "price_pro_m"), 100, &config())
            .unwrap()
            .unwrap();
        let late = subscription("sub_1", "incomplete", "price_pro_m");
        assert_eq!(decide(&applied, &late, 99, &config()).unwrap(), None);
        // The same second is applied: Stripe's `created` has no finer grain.
        assert!(decide(&applied, &late, 100, &config()).unwrap().is_some());
    }

    #[test]
    fn the_end_of_another_subscription_does_not_end_the_live_one() {
        let live = decide(&Billing::default(), &subscription("sub_2", "active", "price_pro_m"), 100, &config())
            .unwrap()
            .unwrap();
        let old_end = subscription("sub_1", "canceled", "price_pro_m");
        assert_eq!(decide(&live, &old_end, 200, &config()).unwrap(), None);
    }

    #[test]
    fn an_unknown_price_or_status_is_refused() {
        let unknown = subscription("sub_1", "active", "price_someone_elses");
        assert!(matches!(decide(&Billing::default(), &unknown, 1, &config()), Err(AppError::Validation(_))));
        let odd = subscription("sub_1", "exploded", "price_pro_m");
        assert!(matches!(decide(&Billing::default(), &odd, 1, &config()), Err(AppError::Validation(_))));
    }
}
