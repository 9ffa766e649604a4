//! Payments: checkout, the portal and the subscription against a local
//! Stripe that checks what Stripe checks, and Stripe's webhook, signed as
//! Stripe signs, moving an organisation between tiers exactly once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use domain::billing::{Interval, PaidTier};
use domain::clock::ManualClock;
use domain::organization::{Organization, Tier};
use integrations::stripe::webhook;
use integrations::usage_plans::UsagePlans;
use serde_json::{Value, json};
use store::config::{Price, StripeConfig};
use toolbox_local::throttle::Limits;

use crate::helpers::{
    Account, FakePusher, PUSHER_TEST_SECRET, TestApp, TestResponse, pusher, put_secret, snapshot, stack,
};

const CHECKOUT: &str = "/api/v1/payments/checkout";
const PORTAL: &str = "/api/v1/payments/portal";
const SUBSCRIPTION: &str = "/api/v1/payments/subscription";
const WEBHOOK: &str = "/api/v1/stripe/webhooks";
const ORG: &str = "/api/v1/organizations/current";

pub const API_KEY: &str = "sk_test_toolbox";
pub const WEBHOOK_SECRET: &str = "whsec_toolbox_current";
pub const PREVIOUS_WEBHOOK_SECRET: &str = "whsec_toolbox_previous";
pub const PRO_MONTH: &str = "price_test_pro_month";

/// A form as Stripe received it, by the path it was posted to.
type Received = (String, HashMap<String, String>);

/// A local Stripe: checks the secret key, the pinned version, the form
/// body, the idempotency key and each endpoint's parameters as Stripe does,
/// keeps a customer per idempotency key, and records every request.
#[derive(Clone, Default)]
pub struct FakeStripe {
    pub base_url: String,
    pub requests: Arc<Mutex<Vec<Received>>>,
    customers: Arc<Mutex<HashMap<String, String>>>,
}

fn refusal(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"error": {"type": "invalid_request_error", "message": message}}))).into_response()
}

async fn stripe_endpoint(
    State(fake): State<FakeStripe>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    if header("authorization") != format!("Bearer {API_KEY}") {
        return refusal(StatusCode::UNAUTHORIZED, "Invalid API Key provided");
    }
    if header("stripe-version") != integrations::stripe::client::API_VERSION || header("idempotency-key").is_empty() {
        return refusal(StatusCode::BAD_REQUEST, "a version and an idempotency key are required");
    }
    if !header("content-type").starts_with("application/x-www-form-urlencoded") {
        return refusal(StatusCode::BAD_REQUEST, "the body must be a form");
    }
    let form: HashMap<String, String> = serde_urlencoded::from_str(&body).unwrap();
    let (allowed, required): (&[&str], &[&str]) = match path.as_str() {
        "customers" => (&["name", "metadata[org_id]"], &["metadata[org_id]"]),
        "checkout/sessions" => (
            &[
                "mode",
                "customer",
                "line_items[0][price]",
                "line_items[0][quantity]",
                "success_url",
                "cancel_url",
                "client_reference_id",
                "metadata[org_id]",
                "subscription_data[metadata][org_id]",
            ],
            &["mode", "customer", "line_items[0][price]", "line_items[0][quantity]", "success_url"],
        ),
        "billing_portal/sessions" => (&["customer", "return_url"], &["customer"]),
        _ => return refusal(StatusCode::NOT_FOUND, "Unrecognized request URL"),
    };
    if let Some(unknown) = form.keys().find(|key| !allowed.contains(&key.as_str())) {
        return refusal(StatusCode::BAD_REQUEST, &format!("Received unknown parameter: {unknown}"));
    }
    if let Some(missing) = required.iter().find(|key| !form.contains_key(**key)) {
        return refusal(StatusCode::BAD_REQUEST, &format!("Missing required param: {missing}"));
    }
    fake.requests.lock().unwrap().push((path.clone(), form.clone()));
    let answer = match path.as_str() {
        "customers" => {
            let mut customers = fake.customers.lock().unwrap();
            let count = customers.len();
            let id = customers
                .entry(header("idempotency-key"))
                .or_insert_with(|| format!("cus_test{count}_{}", ulid::Ulid::new()));
            json!({"id": id, "object": "customer"})
        }
        "checkout/sessions" => json!({
            "id": "cs_test_1", "object": "checkout.session", "url": "https://checkout.stripe.com/c/pay/cs_test_1",
            "expires_at": 1_900_000_000, "customer": form["customer"],
        }),
        _ => {
            json!({"id": "bps_1", "object": "billing_portal.session", "url": "https://billing.stripe.com/p/session/test_1"})
        }
    };
    axum::Json(answer).into_response()
}

impl FakeStripe {
    pub async fn serve() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = Self { base_url: format!("http://{}", listener.local_addr().unwrap()), ..Self::default() };
        let app = Router::new().route("/v1/{*path}", post(stripe_endpoint)).with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        fake
    }

    pub fn calls_to(&self, path: &str) -> Vec<HashMap<String, String>> {
        self.requests.lock().unwrap().iter().filter(|(p, _)| p == path).map(|(_, form)| form.clone()).collect()
    }
}

/// Stripe's configuration for a test: its keys in a secret of its own.
pub async fn stripe_config(base_url: &str, keys: Value) -> StripeConfig {
    let secret_id = format!("toolbox-test-stripe-{}", ulid::Ulid::new());
    let secrets = aws_sdk_secretsmanager::Client::new(&store::aws::load_sdk_config().await);
    put_secret(&secrets, &secret_id, &keys.to_string()).await;
    StripeConfig {
        secret_id,
        api_base: base_url.to_owned(),
        prices: vec![
            Price { id: PRO_MONTH.into(), tier: PaidTier::Pro, interval: Interval::Month },
            Price { id: "price_test_enterprise_year".into(), tier: PaidTier::Enterprise, interval: Interval::Year },
        ],
        success_url: "https://app.example/billing?ok".into(),
        cancel_url: "https://app.example/billing?canceled".into(),
        return_url: "https://app.example/billing".into(),
    }
}

pub fn keys() -> Value {
    json!({"api_key": API_KEY, "webhook_secret": WEBHOOK_SECRET, "previous_webhook_secret": PREVIOUS_WEBHOOK_SECRET})
}

/// An app with Stripe (a [`FakeStripe`]) and Pusher (a [`FakePusher`]).
pub async fn billing_app() -> (TestApp, FakeStripe, FakePusher) {
    let stripe = FakeStripe::serve().await;
    let pusher_fake = FakePusher::serve(PUSHER_TEST_SECRET).await;
    let config = stripe_config(&stripe.base_url, keys()).await;
    let app = TestApp::spawn_with(|c| {
        c.stripe = Some(config);
        c.pusher = Some(pusher(&pusher_fake.base_url));
    })
    .await;
    (app, stripe, pusher_fake)
}

/// A subscription event as Stripe sends it.
pub fn subscription_event(kind: &str, customer: &str, status: &str, price: &str, created: i64) -> Value {
    json!({
        "id": format!("evt_{}", ulid::Ulid::new()), "object": "event", "type": kind, "created": created,
        "api_version": integrations::stripe::client::API_VERSION, "livemode": false,
        "data": {"object": {
            "id": "sub_test_1", "object": "subscription", "customer": customer, "status": status,
            "cancel_at_period_end": false, "trial_end": null,
            "current_period_start": created, "current_period_end": created + 30 * 86_400,
            "items": {"object": "list", "data": [{"id": "si_1", "price": {
                "id": price, "object": "price", "unit_amount": 1900, "currency": "usd", "recurring": {"interval": "month"}
            }}]}
        }}
    })
}

/// Delivers `event` signed with `secret` at the app's now.
pub async fn deliver(app: &TestApp, event: &Value, secret: &str) -> TestResponse {
    let body = event.to_string();
    let signature = webhook::header(secret, app.state.now().unix_timestamp(), body.as_bytes());
    app.post(WEBHOOK).header("stripe-signature", &signature).raw("application/json", body).send().await
}

/// A checkout by `admin`, which makes the organisation's customer; its id.
pub async fn customer_of(app: &TestApp, stripe: &FakeStripe, admin: &Account) -> String {
    app.post(CHECKOUT)
        .bearer(&admin.access_token)
        .json(json!({"tier": "pro", "interval": "month"}))
        .send()
        .await
        .expect(StatusCode::CREATED, None);
    stripe.calls_to("checkout/sessions").last().unwrap()["customer"].clone()
}

async fn organization(app: &TestApp, admin: &Account) -> Organization {
    app.state.db.get(&admin.tenant().organization()).await.unwrap().unwrap()
}

fn now(app: &TestApp) -> i64 {
    app.state.now().unix_timestamp()
}

#[tokio::test]
async fn a_checkout_sells_the_configured_price_to_one_customer_per_organization() {
    let (app, stripe, _) = billing_app().await;
    let admin = app.register_org().await;
    let started =
        app.post(CHECKOUT).bearer(&admin.access_token).json(json!({"tier": "pro", "interval": "month"})).send().await;
    started.expect(StatusCode::CREATED, None);
    assert_eq!(started.data()["url"], "https://checkout.stripe.com/c/pay/cs_test_1");
    assert_eq!(started.data()["expires_at"], 1_900_000_000);
    let sessions = stripe.calls_to("checkout/sessions");
    assert_eq!(sessions[0]["line_items[0][price]"], PRO_MONTH, "the price comes from configuration");
    assert_eq!(sessions[0]["mode"], "subscription");
    assert_eq!(sessions[0]["client_reference_id"], admin.org_id);
    assert_eq!(sessions[0]["success_url"], "https://app.example/billing?ok");
    // A second checkout (an abandoned first one) reuses the customer.
    app.post(CHECKOUT)
        .bearer(&admin.access_token)
        .json(json!({"tier": "enterprise", "interval": "year"}))
        .send()
        .await
        .expect(StatusCode::CREATED, None);
    let sessions = stripe.calls_to("checkout/sessions");
    assert_eq!(sessions[1]["customer"], sessions[0]["customer"]);
    assert_eq!(sessions[1]["line_items[0][price]"], "price_test_enterprise_year");
    assert_eq!(stripe.calls_to("customers").len(), 1);
    assert_eq!(stripe.calls_to("customers")[0]["metadata[org_id]"], admin.org_id);
    // The customer leads back to the organisation.
    let lookup: domain::tenancy::Lookup = app
        .state
        .db
        .get(&domain::tenancy::global::stripe_customer(&sessions[0]["customer"]))
        .await
        .unwrap()
        .expect("a lookup item");
    assert_eq!(lookup.org_id.to_string(), admin.org_id);
}

#[tokio::test]
async fn checkout_refuses_teachers_free_unknown_fields_and_bad_bodies() {
    let (app, stripe, _) = billing_app().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let before = snapshot(&app, &admin).await;
    let checkout = |account: &Account, body: Value| app.post(CHECKOUT).bearer(&account.access_token).json(body).send();
    checkout(&teacher, json!({"tier": "pro", "interval": "month"}))
        .await
        .expect(StatusCode::FORBIDDEN, Some("forbidden"));
    for body in [
        json!({"tier": "free", "interval": "month"}),
        json!({"tier": "pro", "interval": "month", "price_id": "price_cheap"}),
        json!({"tier": "pro"}),
        json!({"tier": "pro", "interval": "week"}),
        json!({"tier": 1, "interval": "month"}),
        json!({"tier": "pro", "interval": "month", "success_url": "https://evil.example"}),
    ] {
        checkout(&admin, body.clone()).await.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
    }
    app.post(CHECKOUT)
        .bearer(&admin.access_token)
        .raw("application/json", "{\"tier\": ")
        .send()
        .await
        .expect(StatusCode::BAD_REQUEST, Some("bad_request"));
    app.post(CHECKOUT)
        .bearer(&admin.access_token)
        .raw("application/json", format!("{{\"tier\": \"{}\"}}", "p".repeat(2 * 1024 * 1024)))
        .send()
        .await
        .expect(StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"));
    assert!(stripe.requests.lock().unwrap().is_empty(), "nothing reached Stripe");
    assert_eq!(snapshot(&app, &admin).await, before, "nothing was stored");
}

#[tokio::test]
async fn without_stripe_configured_payments_answer_503_payments_unavailable() {
    let app = TestApp::spawn_with(|config| config.stripe = None).await;
    let admin = app.register_org().await;
    let body = json!({"tier": "pro", "interval": "month"});
    app.post(CHECKOUT)
        .bearer(&admin.access_token)
        .json(body.clone())
        .send()
        .await
        .expect(StatusCode::SERVICE_UNAVAILABLE, Some("payments_unavailable"));
    app.post(PORTAL)
        .bearer(&admin.access_token)
        .send()
        .await
        .expect(StatusCode::SERVICE_UNAVAILABLE, Some("payments_unavailable"));
    let event = subscription_event("customer.subscription.created", "cus_x", "active", PRO_MONTH, now(&app));
    deliver(&app, &event, WEBHOOK_SECRET).await.expect(StatusCode::SERVICE_UNAVAILABLE, Some("payments_unavailable"));
    // A deploy whose secret holds only its generated webhook secret has no API key.
    let stripe = FakeStripe::serve().await;
    let config = stripe_config(&stripe.base_url, json!({"webhook_secret": "generated"})).await;
    let app = TestApp::spawn_with(|c| c.stripe = Some(config)).await;
    let admin = app.register_org().await;
    app.post(CHECKOUT)
        .bearer(&admin.access_token)
        .json(body)
        .send()
        .await
        .expect(StatusCode::SERVICE_UNAVAILABLE, Some("payments_unavailable"));
    assert!(stripe.requests.lock().unwrap().is_empty());
}

#[tokio::test]
async fn the_portal_opens_for_a_billing_account_and_only_for_admins() {
    let (app, stripe, _) = billing_app().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    app.post(PORTAL).bearer(&admin.access_token).send().await.expect(StatusCode::CONFLICT, Some("conflict"));
    let customer = customer_of(&app, &stripe, &admin).await;
    let portal = app.post(PORTAL).bearer(&admin.access_token).send().await;
    portal.expect(StatusCode::CREATED, None);
    assert_eq!(portal.data()["url"], "https://billing.stripe.com/p/session/test_1");
    let asked = stripe.calls_to("billing_portal/sessions");
    assert_eq!(
        (asked[0]["customer"].as_str(), asked[0]["return_url"].as_str()),
        (customer.as_str(), "https://app.example/billing")
    );
    app.post(PORTAL).bearer(&teacher.access_token).send().await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    app.get(SUBSCRIPTION).bearer(&teacher.access_token).send().await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
}

#[tokio::test]
async fn a_signed_event_moves_the_tier_once_and_late_or_ended_subscriptions_follow_the_rules() {
    let (app, stripe, pusher_fake) = billing_app().await;
    let admin = app.register_org().await;
    let other = app.register_org().await;
    let other_before = snapshot(&app, &other).await;
    let customer = customer_of(&app, &stripe, &admin).await;
    let key = organization(&app, &admin).await.usage_key.unwrap();
    let plans = UsagePlans::of(&app.state);
    let t0 = now(&app);

    let created = subscription_event("customer.subscription.created", &customer, "active", PRO_MONTH, t0);
    let applied = deliver(&app, &created, WEBHOOK_SECRET).await;
    applied.expect(StatusCode::OK, None);
    assert_eq!(applied.data()["outcome"], "applied");
    let org = organization(&app, &admin).await;
    assert_eq!((org.tier, plans.tiers_of(&key).await.unwrap()), (Tier::Pro, vec![Tier::Pro]));
    let shown = app.get(ORG).bearer(&admin.access_token).send().await;
    assert_eq!((shown.data()["tier"].as_str(), shown.data()["billing_status"].as_str()), (Some("pro"), Some("active")));
    let subscription = app.get(SUBSCRIPTION).bearer(&admin.access_token).send().await;
    subscription.expect(StatusCode::OK, None);
    assert_eq!(subscription.data()["status"], "active");
    assert_eq!(subscription.data()["interval"], "month");
    assert_eq!(subscription.data()["amount"], 1900);

    // A replay changes nothing; a live subscription refuses a second checkout.
    let replayed = deliver(&app, &created, WEBHOOK_SECRET).await;
    assert_eq!(replayed.data()["outcome"], "duplicate");
    assert_eq!(organization(&app, &admin).await.audit.version, org.audit.version);
    app.post(CHECKOUT)
        .bearer(&admin.access_token)
        .json(json!({"tier": "enterprise", "interval": "year"}))
        .send()
        .await
        .expect(StatusCode::CONFLICT, Some("conflict"));

    // A late payment keeps the tier, flags it, and tells the admins.
    let late = subscription_event("customer.subscription.updated", &customer, "past_due", PRO_MONTH, t0 + 10);
    assert_eq!(deliver(&app, &late, WEBHOOK_SECRET).await.data()["outcome"], "applied");
    let org = organization(&app, &admin).await;
    assert_eq!((org.tier, org.billing_status), (Tier::Pro, domain::billing::BillingStatus::PastDue));
    let told = pusher_fake.seen.lock().unwrap().clone();
    let billing: Vec<&Value> = told.iter().filter(|event| event["name"] == "billing.updated").collect();
    assert_eq!(billing.last().unwrap()["channels"], json!([format!("private-admins-{}", admin.org_id)]));
    let data: Value = serde_json::from_str(billing.last().unwrap()["data"].as_str().unwrap()).unwrap();
    assert_eq!((data["reason"].as_str(), data["tier"].as_str()), (Some("past_due"), Some("pro")));

    // The end of the subscription returns the organisation to free...
    let deleted = subscription_event("customer.subscription.deleted", &customer, "canceled", PRO_MONTH, t0 + 20);
    assert_eq!(deliver(&app, &deleted, WEBHOOK_SECRET).await.data()["outcome"], "applied");
    let org = organization(&app, &admin).await;
    assert_eq!((org.tier, plans.tiers_of(&key).await.unwrap()), (Tier::Free, vec![Tier::Free]));
    // ...and an older event delivered late changes nothing.
    let older = subscription_event("customer.subscription.updated", &customer, "active", PRO_MONTH, t0 + 15);
    assert_eq!(deliver(&app, &older, WEBHOOK_SECRET).await.data()["outcome"], "unchanged");
    let after = organization(&app, &admin).await;
    assert_eq!((after.tier, after.audit.version), (Tier::Free, org.audit.version));
    assert_eq!(plans.tiers_of(&key).await.unwrap(), vec![Tier::Free]);

    // Each change left an activity event with before and after.
    let feed = app.get("/api/v1/dashboard/activity").bearer(&admin.access_token).send().await;
    let billing_events: Vec<&Value> = feed
        .data()
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"].as_str().unwrap().starts_with("billing."))
        .collect();
    assert_eq!(billing_events.len(), 3, "{}", feed.text);
    assert_eq!(billing_events[0]["kind"], "billing.tier_changed");
    assert_eq!(billing_events[0]["changes"]["before"]["tier"], "pro");
    assert_eq!(billing_events[0]["changes"]["after"]["tier"], "free");
    assert!(billing_events[0]["actor_id"].is_null());
    // ...and each tier change an audit entry by the provider's event, the
    // replay and the late event none.
    let audit =
        app.get("/api/v1/compliance/audit-logs?action=billing.tier_changed").bearer(&admin.access_token).send().await;
    let tiers: Vec<(&Value, &Value, &Value)> = audit
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (&e["changes"]["before"]["tier"], &e["changes"]["after"]["tier"], &e["actor"]["type"]))
        .collect();
    let provider = json!("payment_provider");
    assert_eq!(tiers, [(&json!("pro"), &json!("free"), &provider), (&json!("free"), &json!("pro"), &provider)]);
    assert_eq!(audit.data()[0]["actor"]["id"], deleted["id"]);
    assert_eq!(snapshot(&app, &other).await, other_before, "another tenant is untouched");
}

#[tokio::test]
async fn only_a_valid_signature_is_heard_and_anything_else_changes_nothing() {
    let (app, stripe, _) = billing_app().await;
    let admin = app.register_org().await;
    let customer = customer_of(&app, &stripe, &admin).await;
    let before = snapshot(&app, &admin).await;
    let event = subscription_event("customer.subscription.created", &customer, "active", PRO_MONTH, now(&app));
    let body = event.to_string();
    let at = now(&app);
    let signed = webhook::header(WEBHOOK_SECRET, at, body.as_bytes());
    let send = |signature: Option<String>, body: String| {
        let mut call = app.post(WEBHOOK).raw("application/json", body);
        if let Some(signature) = signature {
            call = call.header("stripe-signature", &signature);
        }
        call.send()
    };
    let mut changed = body.clone().into_bytes();
    let last = changed.len() - 2;
    changed[last] ^= 1;
    for (signature, body) in [
        (None, body.clone()),
        (Some("t=,v1=".to_owned()), body.clone()),
        (Some("garbage".to_owned()), body.clone()),
        (Some(webhook::header(WEBHOOK_SECRET, at - 301, body.as_bytes())), body.clone()),
        (Some(webhook::header("whsec_someone_else", at, body.as_bytes())), body.clone()),
        (Some(signed.clone()), String::from_utf8_lossy(&changed).into_owned()),
    ] {
        send(signature, body).await.expect(StatusCode::BAD_REQUEST, Some("bad_request"));
    }
    assert_eq!(snapshot(&app, &admin).await, before);
    // The previous secret of a rotation is still accepted.
    let rotated = deliver(&app, &event, PREVIOUS_WEBHOOK_SECRET).await;
    assert_eq!(rotated.data()["outcome"], "applied");
}

#[tokio::test]
async fn unknown_customers_prices_and_event_types_change_nothing() {
    let (app, stripe, _) = billing_app().await;
    let admin = app.register_org().await;
    let customer = customer_of(&app, &stripe, &admin).await;
    let before = snapshot(&app, &admin).await;
    let nobody = subscription_event("customer.subscription.created", "cus_nobody", "active", PRO_MONTH, now(&app));
    assert_eq!(deliver(&app, &nobody, WEBHOOK_SECRET).await.data()["outcome"], "unknown_customer");
    let unknown_price =
        subscription_event("customer.subscription.created", &customer, "active", "price_not_ours", now(&app));
    deliver(&app, &unknown_price, WEBHOOK_SECRET)
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
    let other_type =
        json!({"id": "evt_other", "type": "charge.refunded", "created": now(&app), "data": {"object": {}}});
    assert_eq!(deliver(&app, &other_type, WEBHOOK_SECRET).await.data()["outcome"], "ignored");
    let malformed = json!({"id": "evt_bad", "type": "customer.subscription.updated", "created": now(&app), "data": {"object": {"id": 5}}});
    deliver(&app, &malformed, WEBHOOK_SECRET).await.expect(StatusCode::BAD_REQUEST, Some("bad_request"));
    deliver(&app, &json!({"not": "an event"}), WEBHOOK_SECRET)
        .await
        .expect(StatusCode::BAD_REQUEST, Some("bad_request"));
    let wrong_types =
        json!({"id": "evt_types", "type": "invoice.paid", "created": "yesterday", "data": {"object": {}}});
    deliver(&app, &wrong_types, WEBHOOK_SECRET).await.expect(StatusCode::BAD_REQUEST, Some("bad_request"));
    let oversized =
        json!({"id": "evt_big", "type": "invoice.paid", "created": now(&app), "padding": "x".repeat(1024 * 1024)});
    deliver(&app, &oversized, WEBHOOK_SECRET).await.expect(StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"));
    assert_eq!(snapshot(&app, &admin).await, before);
    assert_eq!(organization(&app, &admin).await.tier, Tier::Free);
}

#[tokio::test]
async fn a_failed_invoice_flags_the_subscription_until_one_is_paid() {
    let (app, stripe, pusher_fake) = billing_app().await;
    let admin = app.register_org().await;
    let customer = customer_of(&app, &stripe, &admin).await;
    let t0 = now(&app);
    let created = subscription_event("customer.subscription.created", &customer, "active", PRO_MONTH, t0);
    deliver(&app, &created, WEBHOOK_SECRET).await.expect(StatusCode::OK, None);
    let invoice = |kind: &str, created: i64| {
        json!({"id": format!("evt_{}", ulid::Ulid::new()), "type": kind, "created": created, "data": {"object": {
            "id": "in_1", "object": "invoice", "customer": customer, "subscription": "sub_test_1"
        }}})
    };
    assert_eq!(
        deliver(&app, &invoice("invoice.payment_failed", t0 + 5), WEBHOOK_SECRET).await.data()["outcome"],
        "applied"
    );
    let shown = app.get(SUBSCRIPTION).bearer(&admin.access_token).send().await;
    assert_eq!(shown.data()["payment_failed"], true);
    assert_eq!(deliver(&app, &invoice("invoice.paid", t0 + 6), WEBHOOK_SECRET).await.data()["outcome"], "applied");
    assert_eq!(app.get(SUBSCRIPTION).bearer(&admin.access_token).send().await.data()["payment_failed"], false);
    let reasons: Vec<String> = pusher_fake
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|event| event["name"] == "billing.updated")
        .map(|event| {
            serde_json::from_str::<Value>(event["data"].as_str().unwrap()).unwrap()["reason"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(reasons, ["tier_changed", "payment_failed", "payment_recovered"]);
    assert_eq!(organization(&app, &admin).await.tier, Tier::Pro, "a failed invoice alone changes no tier");
}

#[tokio::test]
async fn a_burst_refused_at_the_free_rate_passes_once_a_webhook_moved_the_tenant_to_pro() {
    let clock = Arc::new(ManualClock::default());
    let stripe = FakeStripe::serve().await;
    let config = stripe_config(&stripe.base_url, keys()).await;
    let app = TestApp::spawn_gated_with(clock, |c| c.stripe = Some(config), |_| {}).await;
    let limits = Limits::from_template(&stack().await.template).unwrap();
    let template = &stack().await.template;
    let free = limits.plan_for_tier(template, "free").unwrap().1.throttle.unwrap().burst;
    let pro = limits.plan_for_tier(template, "pro").unwrap().1.throttle.unwrap().burst;
    assert!(pro > free + 1);
    let admin = app.register_org().await;
    let customer = customer_of(&app, &stripe, &admin).await;
    // The checkout took one token; the rest of the free burst, then 429.
    for _ in 1..free {
        app.get(ORG).bearer(&admin.access_token).send().await.expect(StatusCode::OK, None);
    }
    app.get(ORG).bearer(&admin.access_token).send().await.expect(StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"));
    let event = subscription_event("customer.subscription.created", &customer, "active", PRO_MONTH, now(&app));
    assert_eq!(deliver(&app, &event, WEBHOOK_SECRET).await.data()["outcome"], "applied");
    // At once, with no time passing: the pro burst.
    for _ in 0..free + 1 {
        app.get(ORG).bearer(&admin.access_token).send().await.expect(StatusCode::OK, None);
    }
}
