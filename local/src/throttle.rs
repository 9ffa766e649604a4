//! API Gateway's throttling, applied locally with the numbers of
//! `template.yaml`, so a client meets the same 429s in dev as in AWS:
//!
//! - stage method settings (`MethodSettings` of the API): one token bucket
//!   per method, shared by every caller;
//! - usage plans: per usage key (one per organisation), a token bucket of the
//!   plan's rate and burst, replaced for a method by the plan's per-method
//!   throttle where it names one, and a request quota per day, week or month;
//! - the web ACL's rate-based rules (`AWS::WAFv2::WebACL`): per client
//!   address, at most `Limit` matching requests in any `EvaluationWindowSec`,
//!   checked first, as WAF runs before API Gateway.
//!
//! Which plan a key is in is read from the local API Gateway (moto), where
//! sign-up attached it and a tier change moves it, exactly as in AWS.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::clock::SharedClock;
use serde_yaml_ng::Value;
use time::OffsetDateTime;
use tokio::sync::Mutex;

use crate::provision::Provisioned;
use crate::template::{Template, TemplateError};

/// A token bucket's shape: `rate` tokens per second, at most `burst` banked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub rate: f64,
    pub burst: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Week,
    Month,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u64,
    pub period: Period,
}

/// One usage plan as the template declares it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub throttle: Option<Rate>,
    pub quota: Option<Quota>,
    /// Per-method throttles, keyed `"{resource path}/{METHOD}"` as in the template.
    pub methods: HashMap<String, Rate>,
}

/// One rate-based rule of the web ACL: per client address, at most `limit`
/// requests of `method` whose decoded, lowercased path contains `path`, in
/// any `window_seconds`.
#[derive(Debug, Clone, PartialEq)]
pub struct AddressRule {
    pub name: String,
    pub method: String,
    pub path: String,
    pub limit: u64,
    pub window_seconds: u64,
}

impl AddressRule {
    fn matches(&self, method: &str, path: &str) -> bool {
        let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy().to_lowercase();
        method == self.method && decoded.contains(&self.path)
    }
}

/// Every limit the template declares.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    /// Usage plans by logical id.
    pub plans: HashMap<String, Plan>,
    /// Stage throttles by `"{resource path}/{METHOD}"`.
    pub stage_methods: HashMap<String, Rate>,
    /// The web ACL's rules per client address.
    pub per_address: Vec<AddressRule>,
}

fn shape(message: String) -> TemplateError {
    TemplateError::Shape(message)
}

fn rate(value: &Value, what: &str) -> Result<Rate, TemplateError> {
    let rate = value.get("RateLimit").and_then(Value::as_f64);
    let burst = value.get("BurstLimit").and_then(Value::as_u64);
    match (rate, burst) {
        (Some(rate), Some(burst)) if rate > 0.0 => Ok(Rate { rate, burst: burst as u32 }),
        _ => Err(shape(format!("{what} needs a positive RateLimit and a BurstLimit"))),
    }
}

fn quota(value: &Value, what: &str) -> Result<Quota, TemplateError> {
    let limit = value.get("Limit").and_then(Value::as_u64);
    let period = match value.get("Period").and_then(Value::as_str) {
        Some("DAY") => Some(Period::Day),
        Some("WEEK") => Some(Period::Week),
        Some("MONTH") => Some(Period::Month),
        _ => None,
    };
    match (limit, period) {
        (Some(limit), Some(period)) => Ok(Quota { limit, period }),
        _ => Err(shape(format!("{what}: a quota needs a Limit and a Period of DAY, WEEK or MONTH"))),
    }
}

/// A web ACL rule in the one shape `toolbox-local` can apply: a
/// rate-based rule per IP that blocks with a 429, scoped down to one method
/// (`EXACTLY`) and a path (`CONTAINS`, URL-decoded and lowercased). Any
/// other shape is an error, so the template cannot drift from what is
/// applied locally.
fn address_rule(acl: &str, rule: &Value) -> Result<AddressRule, TemplateError> {
    let name = rule.get("Name").and_then(Value::as_str).unwrap_or("?").to_owned();
    let unsupported = |what: &str| shape(format!("{acl} rule {name}: {what}; toolbox-local cannot apply it"));
    let status = rule.get("Action").and_then(|a| a.get("Block")).and_then(|b| b.get("CustomResponse"));
    if status.and_then(|r| r.get("ResponseCode")).and_then(Value::as_u64) != Some(429) {
        return Err(unsupported("its action is not a Block with a 429"));
    }
    let rate = rule
        .get("Statement")
        .and_then(|s| s.get("RateBasedStatement"))
        .ok_or_else(|| unsupported("not a rate-based rule"))?;
    if rate.get("AggregateKeyType").and_then(Value::as_str) != Some("IP") {
        return Err(unsupported("not aggregated by IP"));
    }
    let limit = rate.get("Limit").and_then(Value::as_u64).ok_or_else(|| unsupported("no Limit"))?;
    let window_seconds = rate.get("EvaluationWindowSec").and_then(Value::as_u64).unwrap_or(300);
    let statements = rate
        .get("ScopeDownStatement")
        .and_then(|s| s.get("AndStatement"))
        .and_then(|s| s.get("Statements"))
        .and_then(Value::as_sequence)
        .ok_or_else(|| unsupported("no AndStatement scope-down"))?;
    let (mut method, mut path) = (None, None);
    for statement in statements {
        let byte_match =
            statement.get("ByteMatchStatement").ok_or_else(|| unsupported("a scope-down is not a byte match"))?;
        let field =
            byte_match.get("FieldToMatch").and_then(Value::as_mapping).ok_or_else(|| unsupported("no field"))?;
        let search =
            byte_match.get("SearchString").and_then(Value::as_str).ok_or_else(|| unsupported("no SearchString"))?;
        let constraint = byte_match.get("PositionalConstraint").and_then(Value::as_str);
        let transforms: Vec<&str> = byte_match
            .get("TextTransformations")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .filter_map(|t| t.get("Type").and_then(Value::as_str))
            .collect();
        match (field.keys().next().and_then(Value::as_str), constraint, transforms.as_slice()) {
            (Some("Method"), Some("EXACTLY"), ["NONE"]) => method = Some(search.to_owned()),
            (Some("UriPath"), Some("CONTAINS"), ["URL_DECODE", "LOWERCASE"]) => path = Some(search.to_lowercase()),
            _ => return Err(unsupported("a scope-down matches something other than the method or the path")),
        }
    }
    match (method, path) {
        (Some(method), Some(path)) => Ok(AddressRule { name, method, path, limit, window_seconds }),
        _ => Err(unsupported("the scope-down names no method or no path")),
    }
}

/// `/~1api~1v1~1auth~1login` (CloudFormation's escaping: a leading slash,
/// then each slash of the path as `~1`) → `/api/v1/auth/login`.
fn unescape_path(path: &str) -> String {
    path.strip_prefix('/').unwrap_or(path).replace("~1", "/")
}

impl Limits {
    pub fn from_template(template: &Template) -> Result<Self, TemplateError> {
        let mut limits = Limits::default();
        for (logical, resource) in template.resources_of_type("AWS::ApiGateway::UsagePlan") {
            let props = resource.get("Properties").ok_or_else(|| shape(format!("{logical} has no Properties")))?;
            let mut plan = Plan::default();
            if let Some(throttle) = props.get("Throttle") {
                plan.throttle = Some(rate(throttle, logical)?);
            }
            if let Some(value) = props.get("Quota") {
                plan.quota = Some(quota(value, logical)?);
            }
            for stage in props.get("ApiStages").and_then(Value::as_sequence).into_iter().flatten() {
                for (key, value) in stage.get("Throttle").and_then(Value::as_mapping).into_iter().flatten() {
                    let key = key.as_str().ok_or_else(|| shape(format!("{logical}: a throttle key is not text")))?;
                    plan.methods.insert(key.to_owned(), rate(value, logical)?);
                }
            }
            limits.plans.insert(logical.to_owned(), plan);
        }
        for (logical, resource) in template.resources_of_type("AWS::Serverless::Api") {
            let settings = resource.get("Properties").and_then(|p| p.get("MethodSettings"));
            for setting in settings.and_then(Value::as_sequence).into_iter().flatten() {
                let path = setting.get("ResourcePath").and_then(Value::as_str);
                let method = setting.get("HttpMethod").and_then(Value::as_str);
                let rate = setting.get("ThrottlingRateLimit").and_then(Value::as_f64);
                let burst = setting.get("ThrottlingBurstLimit").and_then(Value::as_u64);
                if let (Some(path), Some(method), Some(rate), Some(burst)) = (path, method, rate, burst) {
                    let key = format!("{}/{}", unescape_path(path), method.to_ascii_uppercase());
                    limits.stage_methods.insert(key, Rate { rate, burst: burst as u32 });
                } else {
                    return Err(shape(format!("{logical}: a MethodSettings entry lacks path, method or throttle")));
                }
            }
        }
        for (logical, resource) in template.resources_of_type("AWS::WAFv2::WebACL") {
            let rules = resource.get("Properties").and_then(|p| p.get("Rules")).and_then(Value::as_sequence);
            for rule in rules.into_iter().flatten() {
                limits.per_address.push(address_rule(logical, rule)?);
            }
        }
        Ok(limits)
    }

    /// The plan a tier uses: the one whose `UsagePlanName` is what the
    /// tier's variable (`USAGE_PLAN_FREE`, …) names.
    pub fn plan_for_tier<'a>(&'a self, template: &Template, tier: &str) -> Option<(&'a str, &'a Plan)> {
        let variable = format!("USAGE_PLAN_{}", tier.to_ascii_uppercase());
        let name = template.global_environment().into_iter().find_map(|(n, value)| (n == variable).then_some(value))?;
        let (logical, _) = template.resources_of_type("AWS::ApiGateway::UsagePlan").find(|(_, resource)| {
            resource.get("Properties").and_then(|p| p.get("UsagePlanName")).and_then(crate::template::expr).as_ref()
                == Some(&name)
        })?;
        self.plans.get_key_value(logical).map(|(k, v)| (k.as_str(), v))
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Over a web ACL rule for the client's address; 429.
    AddressLimited { retry_after: u64 },
    /// Over a rate; 429 `Retry-After` seconds.
    Throttled { retry_after: u64 },
    /// The plan's quota for the period is spent; 429 until the period ends.
    QuotaExceeded { retry_after: u64 },
    /// A metered route without a usage key in any plan: API Gateway's 403.
    NoPlan,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    /// Nanoseconds since the epoch; kept whole so elapsed time is exact.
    at: i128,
}

/// Float dust from refilling in small steps must not cost a request.
const WHOLE: f64 = 1.0 - 1e-9;

impl Bucket {
    /// Takes a token at `now` (ns), or says how many seconds until one is there.
    fn take(&mut self, rate: Rate, now: i128) -> Result<(), u64> {
        let elapsed = (now - self.at).max(0) as f64 / 1e9;
        self.tokens = (self.tokens + elapsed * rate.rate).min(rate.burst as f64);
        self.at = now;
        if self.tokens >= WHOLE {
            self.tokens = (self.tokens - 1.0).max(0.0);
            Ok(())
        } else {
            Err((((1.0 - self.tokens) / rate.rate).ceil() as u64).max(1))
        }
    }
}

fn period_bounds(period: Period, now: OffsetDateTime) -> (i64, i64) {
    let today = now.to_offset(time::UtcOffset::UTC).date();
    let (start, end) = match period {
        Period::Day => (today, today.next_day()),
        Period::Week => {
            let monday = today - time::Duration::days(today.weekday().number_days_from_monday() as i64);
            (monday, Some(monday + time::Duration::days(7)))
        }
        Period::Month => {
            let first = today.replace_day(1).unwrap_or(today);
            let next = if first.month() == time::Month::December {
                first.replace_year(first.year() + 1).ok().and_then(|d| d.replace_month(time::Month::January).ok())
            } else {
                first.replace_month(first.month().next()).ok()
            };
            (first, next)
        }
    };
    let epoch = |date: time::Date| date.midnight().assume_utc().unix_timestamp();
    (epoch(start), end.map(epoch).unwrap_or(i64::MAX))
}

#[derive(Default)]
struct State {
    /// (rule, address) → when its counted requests came (ns), oldest first.
    per_address: HashMap<(String, IpAddr), VecDeque<i128>>,
    buckets: HashMap<String, Bucket>,
    /// Usage key → (period start, requests counted).
    quotas: HashMap<String, (i64, u64)>,
}

/// Usage key value → plan logical id, as the local API Gateway has it.
struct Membership {
    keys: HashMap<String, String>,
    read_at: Option<Instant>,
}

/// How stale the plan membership may get before it is read again; a moved
/// key follows its tier within this time, as in AWS within seconds.
const MEMBERSHIP_TTL: Duration = Duration::from_secs(1);

pub struct Gate {
    limits: Limits,
    /// Plan physical id → logical id.
    plan_ids: HashMap<String, String>,
    apigateway: aws_sdk_apigateway::Client,
    clock: SharedClock,
    state: Mutex<State>,
    membership: Mutex<Membership>,
}

impl Gate {
    pub fn new(
        limits: Limits,
        provisioned: &Provisioned,
        apigateway: aws_sdk_apigateway::Client,
        clock: SharedClock,
    ) -> Arc<Self> {
        let plan_ids = limits
            .plans
            .keys()
            .filter_map(|logical| Some((provisioned.physical_id(logical)?.to_owned(), logical.clone())))
            .collect();
        Arc::new(Self {
            limits,
            plan_ids,
            apigateway,
            clock,
            state: Mutex::new(State::default()),
            membership: Mutex::new(Membership { keys: HashMap::new(), read_at: None }),
        })
    }

    /// Judges a request from `source` to `request_path` against the web
    /// ACL's rules, before anything else, as WAF runs before API Gateway.
    pub async fn admit_address(&self, method: &str, request_path: &str, source: Option<IpAddr>) -> Result<(), Refusal> {
        let Some(source) = source else { return Ok(()) };
        let now = self.clock.now().unix_timestamp_nanos();
        let mut state = self.state.lock().await;
        let rules: Vec<&AddressRule> =
            self.limits.per_address.iter().filter(|rule| rule.matches(method, request_path)).collect();
        // Judged by every rule first: a request one rule refuses is counted by none.
        for rule in &rules {
            let window = i128::from(rule.window_seconds) * 1_000_000_000;
            let seen = state.per_address.entry((rule.name.clone(), source)).or_default();
            while seen.front().is_some_and(|at| *at <= now - window) {
                seen.pop_front();
            }
            if seen.len() as u64 >= rule.limit {
                let frees_at = seen.front().copied().unwrap_or(now) + window;
                let retry_after = ((frees_at - now) as f64 / 1e9).ceil().max(1.0) as u64;
                return Err(Refusal::AddressLimited { retry_after });
            }
        }
        for rule in rules {
            state.per_address.entry((rule.name.clone(), source)).or_default().push_back(now);
        }
        Ok(())
    }

    /// Judges one request to `method path` (the template's resource path).
    /// `usage_key` is `None` for a route without the authorizer; a metered
    /// route without a key is refused, as API Gateway does. A refusal by a
    /// plan is first checked against the key's plan read afresh: a tier
    /// change applies at once, as its new limits do in AWS.
    pub async fn admit(&self, method: &str, path: &str, metered: bool, usage_key: Option<&str>) -> Result<(), Refusal> {
        let method_key = format!("{path}/{method}");
        let plan = match (metered, usage_key) {
            (false, _) => None,
            (true, None) => return Err(Refusal::NoPlan),
            (true, Some(key)) => Some((key, self.plan_of(key, false).await.ok_or(Refusal::NoPlan)?)),
        };
        let now = self.clock.now().unix_timestamp_nanos();
        if let Some(rate) = self.limits.stage_methods.get(&method_key) {
            take(&mut *self.state.lock().await, format!("stage {method_key}"), *rate, now)
                .map_err(|retry_after| Refusal::Throttled { retry_after })?;
        }
        let Some((key, plan)) = plan else { return Ok(()) };
        match self.admit_by_plan(key, &plan, &method_key).await {
            Err(refusal) => match self.plan_of(key, true).await {
                Some(moved) if moved != plan => self.admit_by_plan(key, &moved, &method_key).await,
                _ => Err(refusal),
            },
            admitted => admitted,
        }
    }

    /// Judges a request of the usage key `key` by the plan `plan`. Each
    /// plan a key is in has its own buckets, as each association of a key
    /// with a plan does in API Gateway.
    async fn admit_by_plan(&self, key: &str, plan: &str, method_key: &str) -> Result<(), Refusal> {
        let now = self.clock.now().unix_timestamp_nanos();
        let mut state = self.state.lock().await;
        let limits = &self.limits.plans[plan];
        let bucket = match limits.methods.get(method_key) {
            Some(rate) => Some((format!("{key} {plan} {method_key}"), *rate)),
            None => limits.throttle.map(|rate| (format!("{key} {plan}"), rate)),
        };
        if let Some((name, rate)) = bucket {
            take(&mut state, name, rate, now).map_err(|retry_after| Refusal::Throttled { retry_after })?;
        }
        if let Some(quota) = limits.quota {
            let (start, end) = period_bounds(quota.period, self.clock.now());
            let counted = state.quotas.entry(key.to_owned()).or_insert((start, 0));
            if counted.0 != start {
                *counted = (start, 0);
            }
            if counted.1 >= quota.limit {
                let retry_after = (end - self.clock.now().unix_timestamp()).max(1) as u64;
                return Err(Refusal::QuotaExceeded { retry_after });
            }
            counted.1 += 1;
        }
        Ok(())
    }

    /// The plan (logical id) a usage key is in, read from the local API
    /// Gateway when unknown, older than [`MEMBERSHIP_TTL`], or `again`.
    async fn plan_of(&self, key: &str, again: bool) -> Option<String> {
        let mut membership = self.membership.lock().await;
        // A key never seen is re-read at once: it is a tenant that just signed up.
        let fresh = membership.read_at.is_some_and(|at| at.elapsed() < MEMBERSHIP_TTL);
        if again || !fresh || !membership.keys.contains_key(key) {
            let mut keys = HashMap::new();
            for (physical, logical) in &self.plan_ids {
                let mut position = None;
                loop {
                    let page = match self
                        .apigateway
                        .get_usage_plan_keys()
                        .usage_plan_id(physical)
                        .set_position(position)
                        .send()
                        .await
                    {
                        Ok(page) => page,
                        Err(err) => {
                            tracing::error!(error = %aws_sdk_apigateway::error::DisplayErrorContext(&err), "usage plan keys unreadable");
                            return membership.keys.get(key).cloned();
                        }
                    };
                    for item in page.items() {
                        if let Some(value) = item.value() {
                            keys.insert(value.to_owned(), logical.clone());
                        }
                    }
                    position = page.position().map(str::to_owned);
                    if position.is_none() {
                        break;
                    }
                }
            }
            *membership = Membership { keys, read_at: Some(Instant::now()) };
        }
        membership.keys.get(key).cloned()
    }
}

fn take(state: &mut State, name: String, rate: Rate, now: i128) -> Result<(), u64> {
    state.buckets.entry(name).or_insert(Bucket { tokens: rate.burst as f64, at: now }).take(rate, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_lets_a_burst_through_then_refills_at_its_rate() {
        const S: i128 = 1_000_000_000;
        let rate = Rate { rate: 2.0, burst: 3 };
        let mut bucket = Bucket { tokens: 3.0, at: 0 };
        assert!((0..3).all(|_| bucket.take(rate, 0).is_ok()));
        assert_eq!(bucket.take(rate, 0), Err(1));
        assert_eq!(bucket.take(rate, S / 4), Err(1));
        assert_eq!(bucket.take(rate, S / 2), Ok(()));
        assert!(bucket.take(rate, 10 * S).is_ok());
        // Never more than the burst banked, however long it waited.
        assert_eq!((0..5).filter(|_| bucket.take(rate, 10 * S).is_ok()).count(), 2);
        // Ten refills of a tenth of a second are one whole token.
        let rate = Rate { rate: 10.0, burst: 1 };
        let mut bucket = Bucket { tokens: 0.0, at: 0 };
        for step in 1..10 {
            assert!(bucket.take(rate, step * S / 100).is_err());
        }
        assert_eq!(bucket.take(rate, S / 10), Ok(()));
    }

    #[test]
    fn quota_periods_start_at_midnight_monday_and_the_first() {
        let at = time::macros::datetime!(2026-11-27 15:30 UTC); // a Friday
        let day = period_bounds(Period::Day, at);
        assert_eq!(
            day,
            (
                time::macros::datetime!(2026-11-27 0:00 UTC).unix_timestamp(),
                time::macros::datetime!(2026-11-28 0:00 UTC).unix_timestamp()
            )
        );
        let week = period_bounds(Period::Week, at);
        assert_eq!(week.0, time::macros::datetime!(2026-11-23 0:00 UTC).unix_timestamp());
        assert_eq!(week.1 - week.0, 7 * 86400);
        let month = period_bounds(Period::Month, time::macros::datetime!(2026-12-31 23:59 UTC));
        assert_eq!(
            month,
            (
                time::macros::datetime!(2026-12-01 0:00 UTC).unix_timestamp(),
                time::macros::datetime!(2027-01-01 0:00 UTC).unix_timestamp()
            )
        );
    }

    #[test]
    fn the_template_declares_a_plan_per_tier_and_the_stage_throttles() {
        let template = Template::workspace().unwrap();
        let limits = Limits::from_template(&template).unwrap();
        for tier in ["free", "pro", "enterprise"] {
            let (_, plan) = limits.plan_for_tier(&template, tier).unwrap_or_else(|| panic!("no plan for {tier}"));
            assert!(plan.throttle.is_some() && plan.quota.is_some(), "{tier}");
        }
        let free = limits.plan_for_tier(&template, "free").unwrap().1;
        let pro = limits.plan_for_tier(&template, "pro").unwrap().1;
        assert!(free.throttle.unwrap().rate < pro.throttle.unwrap().rate);
        assert!(free.quota.unwrap().limit < pro.quota.unwrap().limit);
        assert!(limits.stage_methods.contains_key("/api/v1/auth/login/POST"), "{:?}", limits.stage_methods);
        assert!(free.methods.contains_key("/api/v1/auth/password/POST"));
    }
}
