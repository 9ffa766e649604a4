//! Metrics as CloudWatch embedded metric format (EMF) documents: one JSON
//! line in the log stream per event, which CloudWatch turns into metrics
//! without an API call from the function.
//!
//! Dimensions are few and bounded (route, status class, outcome, cache,
//! limit, breaker state, function); ids (organization, request, trace) are
//! properties, searchable in the logs but never a dimension, so a million
//! tenants cost no more metrics than one. The namespace is
//! `METRICS_NAMESPACE` (`ToolboxAI/<stack>` in template.yaml).

use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::logging::{self, Correlation};

#[derive(Debug, Clone, Copy)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Milliseconds => "Milliseconds",
        }
    }
}

/// One EMF document: its dimension sets (names from `dimensions`), metrics
/// and properties.
#[derive(Debug, Default)]
pub struct Document {
    dimension_sets: Vec<Vec<&'static str>>,
    dimensions: Vec<(&'static str, String)>,
    metrics: Vec<(&'static str, Unit, f64)>,
    properties: Map<String, Value>,
}

impl Document {
    /// A document whose metrics are aggregated by each of `sets` (names of
    /// dimensions given with [`Document::dimension`]).
    pub fn by(sets: &[&[&'static str]]) -> Self {
        Self { dimension_sets: sets.iter().map(|set| set.to_vec()).collect(), ..Self::default() }
    }

    pub fn dimension(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.dimensions.push((name, value.into()));
        self
    }

    pub fn metric(mut self, name: &'static str, unit: Unit, value: f64) -> Self {
        self.metrics.push((name, unit, value));
        self
    }

    pub fn property(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.properties.insert(name.to_owned(), value.into());
        self
    }

    /// The JSON line: properties first (the correlation's among them), then
    /// dimensions and metric values, which win over a property of the same name.
    pub fn to_json(&self, namespace: &str, timestamp_ms: i64, correlation: Option<&Correlation>) -> Value {
        let mut root = Map::new();
        if let Some(correlation) = correlation {
            root.insert("request_id".into(), correlation.request_id.clone().into());
            let optional = [
                ("lambda_request_id", correlation.lambda_request_id.as_deref()),
                ("function", correlation.function.as_deref()),
                ("trace_id", correlation.trace_id()),
                ("organization_id", correlation.organization_id.as_deref()),
            ];
            for (name, value) in optional {
                if let Some(value) = value {
                    root.insert(name.into(), value.into());
                }
            }
        }
        root.extend(self.properties.clone());
        for (name, value) in &self.dimensions {
            root.insert((*name).into(), value.clone().into());
        }
        for (name, _, value) in &self.metrics {
            root.insert((*name).into(), json!(value));
        }
        let definitions: Vec<Value> =
            self.metrics.iter().map(|(name, unit, _)| json!({"Name": name, "Unit": unit.as_str()})).collect();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": self.dimension_sets,
                    "Metrics": definitions,
                }],
            }),
        );
        Value::Object(root)
    }

    /// Writes the document to the log stream, with the current correlation.
    pub fn emit(self) {
        self.emit_in(Correlation::current().as_ref());
    }

    fn emit_in(self, correlation: Option<&Correlation>) {
        let now = time::OffsetDateTime::now_utc();
        let timestamp_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
        logging::write_line(&self.to_json(namespace(), timestamp_ms, correlation).to_string());
    }
}

fn namespace() -> &'static str {
    static NAMESPACE: OnceLock<String> = OnceLock::new();
    NAMESPACE.get_or_init(|| {
        std::env::var("METRICS_NAMESPACE").ok().filter(|ns| !ns.trim().is_empty()).unwrap_or_else(|| "ToolboxAI".into())
    })
}

/// An HTTP request answered: `Requests` and `Latency` by route and status class.
pub fn request(route: &str, status: u16, latency_ms: f64) {
    Document::by(&[&["Route", "StatusClass"], &["StatusClass"]])
        .dimension("Route", route)
        .dimension("StatusClass", format!("{}xx", status / 100))
        .metric("Requests", Unit::Count, 1.0)
        .metric("Latency", Unit::Milliseconds, latency_ms)
        .property("status", status)
        .emit();
}

/// The first invocation of a function's process (see `logging::Invocations`).
pub(crate) fn cold_start(invocation: &Correlation) {
    let function = invocation.function.as_deref().unwrap_or("unnamed");
    Document::by(&[&["Function"]])
        .dimension("Function", function)
        .metric("ColdStarts", Unit::Count, 1.0)
        .emit_in(Some(invocation));
}

/// A lookup in one of the shared caches (`cache` names it).
pub fn cache_lookup(cache: &str, hit: bool) {
    Document::by(&[&["Cache", "Result"]])
        .dimension("Cache", cache)
        .dimension("Result", if hit { "hit" } else { "miss" })
        .metric("CacheLookups", Unit::Count, 1.0)
        .emit();
}

/// A request refused by a lockout or a business quota (`limit` names it:
/// `login_lockout`, or the quota's name).
pub fn refusal(limit: &str) {
    Document::by(&[&["Limit"]]).dimension("Limit", limit).metric("Refusals", Unit::Count, 1.0).emit();
}

/// A circuit breaker moved to `state` (`open`, `half_open`, `closed`).
pub fn breaker_transition(breaker: &str, state: &str) {
    Document::by(&[&["Breaker", "State"]])
        .dimension("Breaker", breaker)
        .dimension("State", state)
        .metric("BreakerTransitions", Unit::Count, 1.0)
        .emit();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_names_its_dimensions_and_metrics_at_the_root() {
        let correlation = Correlation {
            request_id: "req-1".into(),
            organization_id: Some("org-1".into()),
            trace_header: Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1".into()),
            ..Correlation::default()
        };
        let doc = Document::by(&[&["Cache", "Result"]])
            .dimension("Cache", "dashboard")
            .dimension("Result", "hit")
            .metric("CacheLookups", Unit::Count, 1.0)
            .to_json("ToolboxAI/test", 1_700_000_000_000, Some(&correlation));
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["Cache", "Result"]]));
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Metrics"], json!([{"Name": "CacheLookups", "Unit": "Count"}]));
        assert_eq!((doc["Cache"].as_str(), doc["CacheLookups"].as_f64()), (Some("dashboard"), Some(1.0)));
        assert_eq!(doc["organization_id"], "org-1");
        assert_eq!(doc["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
    }
}
