//! The parts of Stripe's objects this platform reads, as webhook events
//! carry them. Fields Stripe moved between API versions are read from
//! either place (a subscription's period is on its items since 2025-03-31;
//! an invoice's subscription under `parent` since 2025-03-31).

use serde::Deserialize;
use serde_json::Value;

/// A webhook event: `data.object` is read once its `type` is known.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Unix seconds; events of one subscription are ordered by it.
    pub created: i64,
    pub data: EventData,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventData {
    pub object: Value,
}

/// An id field that Stripe sends as a string, or as the object when expanded.
fn id_of(value: &Value) -> Option<String> {
    match value {
        Value::String(id) => Some(id.clone()),
        Value::Object(object) => object.get("id").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Subscription {
    pub id: String,
    customer: Value,
    pub status: String,
    items: Items,
    #[serde(default)]
    current_period_start: Option<i64>,
    #[serde(default)]
    current_period_end: Option<i64>,
    #[serde(default)]
    pub cancel_at_period_end: bool,
    #[serde(default)]
    pub trial_end: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
struct Items {
    data: Vec<Item>,
}

#[derive(Debug, Clone, Deserialize)]
struct Item {
    price: Price,
    #[serde(default)]
    current_period_start: Option<i64>,
    #[serde(default)]
    current_period_end: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Price {
    pub id: String,
    #[serde(default)]
    pub unit_amount: Option<i64>,
    pub currency: String,
}

impl Subscription {
    pub fn customer(&self) -> Option<String> {
        id_of(&self.customer)
    }

    /// The price of its (only) item: a checkout here makes one.
    pub fn price(&self) -> Option<&Price> {
        self.items.data.first().map(|item| &item.price)
    }

    pub fn period(&self) -> (Option<i64>, Option<i64>) {
        let item = self.items.data.first();
        (
            self.current_period_start.or_else(|| item.and_then(|i| i.current_period_start)),
            self.current_period_end.or_else(|| item.and_then(|i| i.current_period_end)),
        )
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct CheckoutSession {
    pub id: String,
    #[serde(default)]
    customer: Value,
    #[serde(default)]
    subscription: Value,
}

impl CheckoutSession {
    pub fn customer(&self) -> Option<String> {
        id_of(&self.customer)
    }

    pub fn subscription(&self) -> Option<String> {
        id_of(&self.subscription)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Invoice {
    pub id: String,
    #[serde(default)]
    customer: Value,
    #[serde(default)]
    subscription: Value,
    #[serde(default)]
    parent: Value,
}

impl Invoice {
    pub fn customer(&self) -> Option<String> {
        id_of(&self.customer)
    }

    pub fn subscription(&self) -> Option<String> {
        id_of(&self.subscription).or_else(|| id_of(&self.parent["subscription_details"]["subscription"]))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_subscriptions_period_is_read_from_where_its_api_version_put_it() {
        let older: Subscription = serde_json::from_value(json!({
            "id": "sub_1", "customer": "cus_1", "status": "active", "current_period_start": 10,
            "current_period_end": 20, "items": {"data": [{"price": {"id": "price_1", "unit_amount": 900, "currency": "usd"}}]}
        }))
        .unwrap();
        assert_eq!(older.period(), (Some(10), Some(20)));
        let newer: Subscription = serde_json::from_value(json!({
            "id": "sub_1", "customer": {"id": "cus_1"}, "status": "active", "items": {"data": [
                {"price": {"id": "price_1", "currency": "usd"}, "current_period_start": 11, "current_period_end": 21}
            ]}
        }))
        .unwrap();
        assert_eq!(newer.period(), (Some(11), Some(21)));
        assert_eq!(newer.customer().as_deref(), Some("cus_1"));
        let invoice: Invoice = serde_json::from_value(json!({
            "id": "in_1", "customer": "cus_1", "parent": {"subscription_details": {"subscription": "sub_9"}}
        }))
        .unwrap();
        assert_eq!(invoice.subscription().as_deref(), Some("sub_9"));
    }
}
