//! The log stream: one JSON object per line on stdout, which is what
//! Lambda's JSON log format and CloudWatch's embedded metrics expect.
//!
//! Every line inside an invocation carries its [`Correlation`] (HTTP request
//! id, Lambda request id, function name, cold start, X-Ray trace id) flat at
//! the root, beside the fields of the event and of every span around it, so a
//! log query can filter on `request_id` or `trace_id` without knowing which
//! span set it. Metric documents ([`crate::metrics`]) go to the same stream.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormattedFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

/// Where the lines go: stdout in Lambda and `make dev`, memory in tests that
/// read what an operator would see.
#[derive(Clone)]
enum Stream {
    Stdout,
    Memory(Captured),
}

static STREAM: OnceLock<Stream> = OnceLock::new();

/// The lines written so far, for tests (see [`capture`]).
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<String>>>);

impl Captured {
    /// Every line written so far, as written.
    pub fn text(&self) -> String {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).join("\n")
    }

    /// Every line written so far, parsed; a line that is not JSON fails the
    /// caller's test, since CloudWatch would not read it either.
    pub fn lines(&self) -> Vec<Value> {
        let lines = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        lines.iter().map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"))).collect()
    }
}

/// Installs the JSON logger on stdout; `RUST_LOG` or `LOG_LEVEL` pick the level.
pub fn init() {
    let level = std::env::var("RUST_LOG").or_else(|_| std::env::var("LOG_LEVEL")).unwrap_or_else(|_| "info".into());
    install_subscriber(STREAM.get_or_init(|| Stream::Stdout).clone(), &level);
}

/// Installs the logger on memory instead, once per process, at `level`;
/// every later call returns the same lines.
pub fn capture(level: &str) -> Captured {
    let stream = STREAM.get_or_init(|| Stream::Memory(Captured::default())).clone();
    let Stream::Memory(captured) = stream else { panic!("the log stream already goes to stdout") };
    install_subscriber(Stream::Memory(captured.clone()), level);
    captured
}

fn install_subscriber(stream: Stream, level: &str) {
    let _ = tracing_subscriber::fmt()
        .fmt_fields(JsonFields::new())
        .event_format(FlatJson)
        .with_writer(stream)
        .with_env_filter(EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info")))
        .try_init();
}

/// Writes one whole line to the stream; nothing when no logger is installed
/// (unit tests), so metric documents never land in a test's output.
pub fn write_line(line: &str) {
    if let Some(stream) = STREAM.get() {
        let _ = LineWriter(stream.clone()).write_all(format!("{line}\n").as_bytes());
    }
}

/// One line per write: the formatter writes each event whole.
pub struct LineWriter(Stream);

impl Write for LineWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match &self.0 {
            Stream::Stdout => std::io::stdout().lock().write_all(bytes).map(|()| bytes.len()),
            Stream::Memory(captured) => {
                let line = String::from_utf8_lossy(bytes).trim_end().to_owned();
                captured.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(line);
                Ok(bytes.len())
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &self.0 {
            Stream::Stdout => std::io::stdout().flush(),
            Stream::Memory(_) => Ok(()),
        }
    }
}

impl<'a> MakeWriter<'a> for Stream {
    type Writer = LineWriter;
    fn make_writer(&'a self) -> LineWriter {
        LineWriter(self.clone())
    }
}

/// `{"timestamp", "level", "message", …}` with the fields of every
/// enclosing span (outermost first, inner ones winning) and then the event's.
struct FlatJson;

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut line = Map::new();
        // To the nanosecond (domain::clock::rfc3339 keeps seconds): lines of
        // one request follow each other within a millisecond.
        let now = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339);
        line.insert("timestamp".into(), now.unwrap_or_default().into());
        line.insert("level".into(), event.metadata().level().as_str().into());
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                let Some(fields) = extensions.get::<FormattedFields<N>>() else { continue };
                if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(fields) {
                    line.extend(fields);
                }
            }
        }
        event.record(&mut Fields(&mut line));
        let text = serde_json::to_string(&line).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.insert(field.name().into(), value.to_string().into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}").into());
    }
}

/// What ties a log line or metric to one invocation and one request.
#[derive(Debug, Clone, Default)]
pub struct Correlation {
    /// The HTTP request id (`X-Request-ID`), carried into the worker's jobs.
    pub request_id: String,
    /// The Lambda invocation's own id.
    pub lambda_request_id: Option<String>,
    pub function: Option<String>,
    pub cold_start: bool,
    /// The whole X-Ray trace header (`Root=…;Parent=…;Sampled=…`), passed on
    /// to SQS; logs carry its root, the trace id.
    pub trace_header: Option<String>,
    /// Set once the caller is known; a property of metrics, never a dimension.
    pub organization_id: Option<String>,
}

tokio::task_local! {
    static CURRENT: Correlation;
}

/// A function instance's invocations: the first is its cold start.
#[derive(Debug, Default)]
pub struct Invocations {
    warm: AtomicBool,
}

impl Invocations {
    /// The correlation of one invocation, from what its Lambda context says
    /// (the request id is the invocation's own until the caller knows an
    /// HTTP one); the first also writes the `ColdStarts` metric.
    pub fn begin(&self, context: &lambda_runtime::Context) -> Correlation {
        let correlation = Correlation {
            request_id: context.request_id.clone(),
            lambda_request_id: Some(context.request_id.clone()).filter(|id| !id.is_empty()),
            function: Some(context.env_config.function_name.clone()).filter(|name| !name.is_empty()),
            cold_start: !self.warm.swap(true, Ordering::Relaxed),
            trace_header: context.xray_trace_id.clone().filter(|header| sane_trace_header(header)),
            organization_id: None,
        };
        if correlation.cold_start {
            crate::metrics::cold_start(&correlation);
        }
        correlation
    }
}

impl Correlation {
    /// Runs `future` inside the correlation's span and scope.
    pub async fn run<F: Future>(self, future: F) -> F::Output {
        let span = self.span();
        self.scope(tracing::Instrument::instrument(future, span)).await
    }

    /// The X-Ray trace id: the header's `Root`.
    pub fn trace_id(&self) -> Option<&str> {
        trace_root(self.trace_header.as_deref()?)
    }

    /// A span carrying the correlation; `tenant_id` and `user_id` are left
    /// for the caller to record once known.
    pub fn span(&self) -> tracing::Span {
        let span = tracing::info_span!(
            "invocation",
            request_id = %self.request_id,
            lambda_request_id = tracing::field::Empty,
            function = tracing::field::Empty,
            cold_start = self.cold_start,
            trace_id = tracing::field::Empty,
            tenant_id = tracing::field::Empty,
            user_id = tracing::field::Empty,
        );
        if let Some(id) = &self.lambda_request_id {
            span.record("lambda_request_id", id.as_str());
        }
        if let Some(function) = &self.function {
            span.record("function", function.as_str());
        }
        if let Some(trace_id) = self.trace_id() {
            span.record("trace_id", trace_id);
        }
        if let Some(org) = &self.organization_id {
            span.record("tenant_id", org.as_str());
        }
        span
    }

    /// Runs `future` with this correlation current, for [`Correlation::current`].
    pub async fn scope<F: Future>(self, future: F) -> F::Output {
        CURRENT.scope(self, future).await
    }

    /// The correlation of the running invocation, if any.
    pub fn current() -> Option<Correlation> {
        CURRENT.try_with(Clone::clone).ok()
    }
}

/// A caller's request id is kept only when it is short and plain, so it can be
/// logged and echoed without risk of header or log injection.
pub fn sane_request_id(candidate: &str) -> bool {
    (1..=128).contains(&candidate.len())
        && candidate.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// The `Root` of an X-Ray trace header (`Root=1-…;Parent=…;Sampled=1`).
pub fn trace_root(header: &str) -> Option<&str> {
    header.split(';').find_map(|part| part.trim().strip_prefix("Root=")).filter(|root| sane_trace_part(root))
}

/// A new X-Ray trace header, as API Gateway starts one for a request that
/// arrives without: `1-`, the time in hex, 96 random bits.
pub fn new_trace_header() -> String {
    let random: [u8; 12] = rand::random();
    format!("Root=1-{:08x}-{};Sampled=1", time::OffsetDateTime::now_utc().unix_timestamp(), hex::encode(random))
}

/// A trace header is passed on only when it is short and plain, as request
/// ids are: it reaches logs and SQS attributes.
pub fn sane_trace_header(header: &str) -> bool {
    (1..=256).contains(&header.len()) && header.split(';').all(|part| sane_trace_part(part.trim()))
}

fn sane_trace_part(part: &str) -> bool {
    !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'='))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_short_request_ids_are_sane() {
        assert!(sane_request_id("abc-123_X.y:z"));
        assert!(!sane_request_id(""));
        assert!(!sane_request_id("a b"));
        assert!(!sane_request_id("line\nbreak"));
        assert!(!sane_request_id(&"x".repeat(129)));
    }

    #[test]
    fn the_templates_upper_case_levels_are_levels() {
        // template.yaml's LogLevel is also Lambda's ApplicationLogLevel, which is upper case.
        for (level, debug) in [("INFO", false), ("DEBUG", true), ("WARN", false), ("info", false)] {
            let filter = EnvFilter::try_new(level).expect(level);
            assert_eq!(filter.max_level_hint() >= Some(tracing::level_filters::LevelFilter::DEBUG), debug, "{level}");
        }
    }

    #[test]
    fn the_trace_id_is_the_root_of_a_plain_header() {
        let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        assert!(sane_trace_header(header));
        assert_eq!(trace_root(header), Some("1-5759e988-bd862e3fe1be46a994272793"));
        assert!(!sane_trace_header("Root=1-a;Parent=x\ny"));
        assert!(!sane_trace_header(&"Root=1".repeat(60)));
        assert_eq!(trace_root("Parent=53995c3f42cd8ad8"), None);
        let new = new_trace_header();
        assert!(sane_trace_header(&new) && trace_root(&new).is_some_and(|root| root.len() == 35), "{new}");
    }
}
