//! An organisation's subscription as the payment provider's verified events
//! last told it (`ORG#<org>#BILLING / BILLING`), and the one rule that
//! turns a subscription into a tier. Nothing here trusts a client: the item
//! is written only by the webhook (and by checkout, which records the
//! customer it made).

use serde::{Deserialize, Serialize};

use crate::organization::Tier;

/// How often a subscription is paid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Interval {
    Month,
    Year,
}

impl Interval {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Month => "month",
            Self::Year => "year",
        }
    }
}

/// A tier that is paid for: what a checkout may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PaidTier {
    Pro,
    Enterprise,
}

impl From<PaidTier> for Tier {
    fn from(tier: PaidTier) -> Self {
        match tier {
            PaidTier::Pro => Tier::Pro,
            PaidTier::Enterprise => Tier::Enterprise,
        }
    }
}

/// A subscription's status as Stripe names it, and `none` before the first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BillingStatus {
    #[default]
    None,
    Incomplete,
    IncompleteExpired,
    Trialing,
    Active,
    PastDue,
    Canceled,
    Unpaid,
    Paused,
}

impl BillingStatus {
    /// A subscription that exists and may still be paid: a second checkout
    /// would charge twice, so it is refused while one is live.
    pub fn is_live(self) -> bool {
        !matches!(self, Self::None | Self::IncompleteExpired | Self::Canceled)
    }

    /// The tier an organisation holds while its subscription (for a price
    /// of `paid`) is in this status, given the tier it holds now: paid for
    /// while active or trialing; kept (and flagged) while a payment is late
    /// or the first one pending; free once it ended or went unpaid.
    pub fn tier(self, paid: Tier, now: Tier) -> Tier {
        match self {
            Self::Active | Self::Trialing => paid,
            Self::PastDue | Self::Incomplete => now,
            Self::None | Self::IncompleteExpired | Self::Canceled | Self::Unpaid | Self::Paused => Tier::Free,
        }
    }
}

/// The organisation's billing item.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Billing {
    /// The Stripe customer, made once at the first checkout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
    #[serde(default)]
    pub status: BillingStatus,
    /// The tier the subscription's price buys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_tier: Option<PaidTier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Interval>,
    /// In the currency's smallest unit (cents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_period_start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_period_end: Option<String>,
    #[serde(default)]
    pub cancel_at_period_end: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial_end: Option<String>,
    /// `created` of the latest failed invoice not yet followed by a paid one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_failed_at: Option<i64>,
    /// `created` (unix seconds) of the last subscription event applied:
    /// Stripe does not promise order, so an older one changes nothing.
    #[serde(default)]
    pub last_event_at: i64,
    /// 0 before the item is first written; each write adds one.
    #[serde(default)]
    pub version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

/// One verified event's record, kept so a redelivery changes nothing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppliedEvent {
    pub event_type: String,
    pub applied_at: String,
    /// Epoch seconds; DynamoDB's TTL removes it once Stripe has stopped
    /// retrying (three days) with a margin.
    pub expires_at: i64,
}

/// How long an applied event's id is kept.
pub const APPLIED_EVENT_TTL_SECONDS: i64 = 30 * 24 * 3600;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_active_and_trialing_subscriptions_grant_their_tier() {
        use BillingStatus::*;
        assert_eq!(Active.tier(Tier::Pro, Tier::Free), Tier::Pro);
        assert_eq!(Trialing.tier(Tier::Enterprise, Tier::Free), Tier::Enterprise);
        assert_eq!(PastDue.tier(Tier::Pro, Tier::Pro), Tier::Pro, "kept while the payment is late");
        assert_eq!(PastDue.tier(Tier::Pro, Tier::Free), Tier::Free, "never granted by a late payment");
        for ended in [Canceled, Unpaid, IncompleteExpired, Paused] {
            assert_eq!(ended.tier(Tier::Pro, Tier::Pro), Tier::Free, "{ended:?}");
        }
    }

    #[test]
    fn a_live_subscription_is_one_that_may_still_be_paid() {
        use BillingStatus::*;
        assert!(Active.is_live() && Trialing.is_live() && PastDue.is_live() && Unpaid.is_live());
        assert!(!None.is_live() && !Canceled.is_live() && !IncompleteExpired.is_live());
    }
}
