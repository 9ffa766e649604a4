//! Stripe's webhook through `toolbox-local`: events signed as Stripe signs
//! them, one at a time on one connection (events of one organisation are
//! applied one after another), for each path an event takes.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::http_load;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Events per row.
const EVENTS: usize = 60;

/// The price `toolbox-local` is given for pro, monthly.
pub const PRO_MONTH: &str = "price_bench_pro_month";

fn subscription_event(id: &str, customer: &str, status: &str, created: i64) -> Value {
    json!({
        "id": id, "object": "event", "type": "customer.subscription.updated", "created": created,
        "data": {"object": {
            "id": "sub_bench", "object": "subscription", "customer": customer, "status": status,
            "cancel_at_period_end": false, "current_period_start": created, "current_period_end": created + 2_592_000,
            "items": {"data": [{"price": {"id": PRO_MONTH, "unit_amount": 1900, "currency": "usd"}}]}
        }}
    })
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Prints a row per path: a tier change (the usage key moves between
/// plans), a status change within a tier, and a redelivery.
pub async fn run(addr: SocketAddr, customer: &str, secret: &str) -> Result<(), Error> {
    let mut stream = http_load::connect(addr).await?;
    let start = now();
    let mut sequence = 0i64;
    let deliver = async |stream: &mut _, event: &Value| -> Result<(Duration, String), Error> {
        let body = event.to_string();
        let signature = integrations::stripe::webhook::header(secret, now(), body.as_bytes());
        let headers = format!("Stripe-Signature: {signature}\r\n");
        let began = Instant::now();
        let (status, answer) =
            http_load::request_with(stream, "POST", "/api/v1/stripe/webhooks", None, Some(&body), &headers).await?;
        let took = began.elapsed();
        if status != 200 {
            return Err(format!("the webhook answered {status}: {answer}").into());
        }
        let outcome: Value = serde_json::from_str(&answer)?;
        Ok((took, outcome["data"]["outcome"].as_str().unwrap_or_default().to_owned()))
    };
    println!("\n### Stripe webhook through toolbox-local ({EVENTS} signed events each, one at a time)\n");
    println!("| event | outcome | p50 ms | p99 ms |\n|---|---|---|---|");
    for (what, statuses) in [
        ("subscription active ⇄ canceled (tier pro ⇄ free, usage key moved)", ["active", "canceled"]),
        ("subscription active ⇄ past_due (status only, tier kept)", ["active", "past_due"]),
    ] {
        let mut times = Vec::with_capacity(EVENTS);
        for i in 0..EVENTS {
            sequence += 1;
            let event =
                subscription_event(&format!("evt_bench_{sequence}"), customer, statuses[i % 2], start + sequence);
            let (took, outcome) = deliver(&mut stream, &event).await?;
            if outcome != "applied" {
                return Err(format!("{what}: {outcome}").into());
            }
            times.push(took);
        }
        row(what, "applied", &mut times);
    }
    let replayed = subscription_event(&format!("evt_bench_{sequence}"), customer, "past_due", start + sequence);
    let mut times = Vec::with_capacity(EVENTS);
    for _ in 0..EVENTS {
        let (took, outcome) = deliver(&mut stream, &replayed).await?;
        if outcome != "duplicate" {
            return Err(format!("a redelivery: {outcome}").into());
        }
        times.push(took);
    }
    row("the last event again", "duplicate", &mut times);
    Ok(())
}

fn row(what: &str, outcome: &str, times: &mut [Duration]) {
    times.sort();
    let ms = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1000.0);
    let (p50, p99) = (http_load::percentile(times, 0.5), http_load::percentile(times, 0.99));
    println!("| {what} | {outcome} | {} | {} |", ms(p50), ms(p99));
}
