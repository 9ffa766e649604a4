//! Router plumbing shared by every function: a route table that remembers its
//! routes (so tests can compare them with `template.yaml`), the request-id and
//! logging middleware, and the envelope for unknown routes and methods.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use lambda_http::request::RequestContext;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::Instrument;
use utoipa::openapi::HttpMethod;
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::Operation;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};

use domain::error::RateLimit;
use domain::principal::Scope;
use store::AppState;
use store::logging::{self, Invocations};
use store::metrics;

use crate::client_ip;
use crate::error::AppError;
use crate::extract::principal_of;
use crate::request_meta::{self, RequestMeta};
use crate::signature;

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// API Gateway's X-Ray trace header, when the Lambda context has none.
static X_AMZN_TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");
pub static X_RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
pub static X_RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
pub static X_RATELIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// Where a caller stands against a business quota, as `X-RateLimit-*` headers.
pub fn set_rate_limit(headers: &mut HeaderMap, limit: &RateLimit) {
    headers.insert(X_RATELIMIT_LIMIT.clone(), HeaderValue::from(limit.limit));
    headers.insert(X_RATELIMIT_REMAINING.clone(), HeaderValue::from(limit.remaining));
    headers.insert(X_RATELIMIT_RESET.clone(), HeaderValue::from(limit.reset));
}

/// The scope a request needs by its method alone: reading is `read`,
/// anything that changes state is `write`. Routes add what they need more.
fn scope_for_method(method: &Method) -> Scope {
    if method.is_safe() { Scope::Read } else { Scope::Write }
}

/// What [`routes!`] expands to; not for use by hand.
#[doc(hidden)]
pub mod __private {
    pub use axum::routing::MethodRouter;
    pub use utoipa_axum::{PathItemExt, routes};
}

/// One path's handlers for [`RouteTable::routes`], read from their
/// `#[utoipa::path]` attributes: `routes!(lessons::get, lessons::update)`.
/// The router is made at once from each handler's method and path; the
/// scopes its operation names are read on the route's first request, and
/// the OpenAPI part, with every schema it references, only when the document
/// is asked for, so a cold start builds no operation it does not serve.
#[macro_export]
macro_rules! routes {
    ($($first:ident $(:: $rest:ident)*),+ $(,)?) => {{
        #[allow(unused_imports)]
        use $crate::http::__private::PathItemExt;
        let mut path = ::std::string::String::new();
        let mut router = $crate::http::__private::MethodRouter::new();
        let mut scopes = ::std::vec::Vec::new();
        $(
            path = $crate::http::__private::routes!(@path [path()] of $first $(:: $rest)*);
            let needed: $crate::http::ScopesOf = || {
                $crate::http::needed_scopes(&$crate::http::__private::routes!(@path [operation()] of $first $(:: $rest)*))
            };
            for method in $crate::http::__private::routes!(@path [methods()] of $first $(:: $rest)*) {
                router = router.on(method.to_method_filter(), $first $(:: $rest)*);
                scopes.push(($crate::http::method_of(&method), needed));
            }
        )+
        $crate::http::PathRoutes {
            path,
            router,
            scopes,
            doc: || $crate::http::__private::routes!($($first $(:: $rest)*),+),
        }
    }};
}
pub use routes;

/// One path of a [`RouteTable`]: see [`routes!`].
pub struct PathRoutes {
    pub path: String,
    pub router: MethodRouter<AppState>,
    /// Each method served, with what reads the scopes it needs.
    pub scopes: Vec<(Method, ScopesOf)>,
    pub doc: fn() -> UtoipaMethodRouter<AppState>,
}

/// Reads the scopes a route needs from its operation, when they are not its
/// method's own (see [`needed_scopes`]).
pub type ScopesOf = fn() -> Option<Vec<Scope>>;

/// The operation extension naming the scopes a route needs instead of its
/// method's (`read` to read, `write` to change): one of them will do.
pub const SCOPES_EXTENSION: &str = "x-scopes";

/// A function's routes, from one list: each handler's `#[utoipa::path]`
/// gives its method, path, OpenAPI operation and (in [`SCOPES_EXTENSION`])
/// the scopes it needs, so the router, the document and the scope checks
/// cannot disagree. Paths are written as in `template.yaml`.
pub struct RouteTable {
    /// The function's tags (its `ApiDoc::openapi`).
    base: fn() -> OpenApi,
    paths: Vec<PathRoutes>,
}

impl RouteTable {
    /// A function's routes, under the tags of the document `base` makes.
    pub fn new(base: fn() -> OpenApi) -> Self {
        Self { base, paths: Vec::new() }
    }

    /// Adds the handlers of one path (made by [`routes!`]).
    pub fn routes(mut self, routes: PathRoutes) -> Self {
        self.paths.push(routes);
        self
    }

    /// The `(method, path)` pairs served.
    pub fn served(&self) -> Vec<(Method, String)> {
        self.paths
            .iter()
            .flat_map(|routes| routes.scopes.iter().map(|(method, _)| (method.clone(), routes.path.clone())))
            .collect()
    }

    /// The function's part of the OpenAPI document.
    pub fn openapi(&self) -> OpenApi {
        let doc = self
            .paths
            .iter()
            .fold(OpenApiRouter::with_openapi((self.base)()), |doc, routes| doc.routes((routes.doc)()));
        doc.into_openapi()
    }

    /// The finished router: unknown paths and methods answer in the envelope,
    /// and every request runs inside the request-id and logging middleware.
    pub fn into_router(self, state: AppState) -> Router {
        let cors = state.config.cors_origin.as_deref().and_then(cors);
        let mut scopes = HashMap::new();
        let mut router = Router::new();
        for routes in self.paths {
            for (method, read) in routes.scopes {
                scopes.insert((method, routes.path.clone()), RouteScopes { read, needed: OnceLock::new() });
            }
            router = router.route(&routes.path, routes.router);
        }
        router
            .fallback(|| async { AppError::NotFound("no such route".into()) })
            .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
            .layer(middleware::from_fn_with_state(
                Guard { state: state.clone(), scopes: Arc::new(scopes) },
                credential_guard,
            ))
            .layer(middleware::from_fn_with_state(
                Instance { state: state.clone(), invocations: Arc::default() },
                request_scope,
            ))
            .layer(tower::util::option_layer(cors))
            .with_state(state)
    }
}

/// An OpenAPI method as axum names it.
#[doc(hidden)]
pub fn method_of(method: &HttpMethod) -> Method {
    match method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Trace => Method::TRACE,
    }
}

/// The scopes an operation's [`SCOPES_EXTENSION`] names, if it names any.
#[doc(hidden)]
pub fn needed_scopes(operation: &Operation) -> Option<Vec<Scope>> {
    let names = operation.extensions.as_ref()?.get(SCOPES_EXTENSION)?.as_array()?;
    let scopes = names.iter().map(|name| name.as_str()?.parse().ok()).collect::<Option<Vec<Scope>>>();
    Some(scopes.expect("x-scopes names known scopes"))
}

/// CORS for the dashboard origin. With Lambda proxy integration the function
/// must send these headers itself; API Gateway only answers the preflight.
fn cors(origin: &str) -> Option<CorsLayer> {
    let origin = HeaderValue::from_str(origin).ok()?;
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::exact(origin))
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::OPTIONS])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_MATCH,
                header::IF_NONE_MATCH,
                X_REQUEST_ID.clone(),
                HeaderName::from_static("idempotency-key"),
                HeaderName::from_static("x-api-key"),
                signature::X_TIMESTAMP.clone(),
                signature::X_SIGNATURE.clone(),
            ])
            .expose_headers([
                X_REQUEST_ID.clone(),
                header::ETAG,
                header::RETRY_AFTER,
                X_RATELIMIT_LIMIT.clone(),
                X_RATELIMIT_REMAINING.clone(),
                X_RATELIMIT_RESET.clone(),
            ])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// Gives the request its id (the caller's if sane, else API Gateway's, else a
/// new one) and its [`Correlation`] from the Lambda context (a span that
/// every log line inside it carries); writes one access log line and one
/// request metric; echoes the id in `X-Request-ID`.
async fn request_scope(State(scope): State<Instance>, req: Request, next: Next) -> Response {
    let context = req.extensions().get::<RequestContext>();
    let request_id = request_meta::from_headers(req.headers())
        .or_else(|| match context {
            Some(RequestContext::ApiGatewayV1(ctx)) => {
                ctx.request_id.clone().filter(|id| request_meta::sane_request_id(id))
            }
            _ => None,
        })
        .unwrap_or_else(request_meta::new_request_id);
    let principal = context.and_then(principal_of);
    // A request replayed without Lambda (a test's oneshot) has no context.
    let lambda = req.extensions().get::<lambda_http::Context>().cloned().unwrap_or_default();
    let mut correlation = scope.invocations.begin(&lambda);
    correlation.request_id = request_id.clone();
    if correlation.trace_header.is_none() {
        let header = req.headers().get(&X_AMZN_TRACE_ID).and_then(|v| v.to_str().ok());
        correlation.trace_header = header.filter(|header| logging::sane_trace_header(header)).map(str::to_owned);
    }
    correlation.organization_id = principal.as_ref().map(|principal| principal.org_id.to_string());
    let span = correlation.span();
    if let Some(principal) = &principal {
        span.record("user_id", tracing::field::display(&principal.user_id));
    }
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let route = req.extensions().get::<MatchedPath>().map(|route| format!("{method} {}", route.as_str()));
    let started = Instant::now();
    let meta = RequestMeta::new(request_id.clone(), scope.state.now())
        .from(client_ip::source_ip(req.extensions().get::<RequestContext>()), req.headers());
    let served = async move {
        let response = request_meta::scope(meta, next.run(req)).await;
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        let status = response.status().as_u16();
        tracing::info!(%method, %path, status, latency_ms = latency_ms as u64, "request finished");
        metrics::request(route.as_deref().unwrap_or("unmatched"), status, latency_ms);
        response
    };
    let mut response = correlation.scope(served.instrument(span)).await;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(X_REQUEST_ID.clone(), value);
    }
    response
}

/// What [`request_scope`] keeps per router, that is per function instance.
#[derive(Clone)]
struct Instance {
    state: AppState,
    invocations: Arc<Invocations>,
}

#[derive(Clone)]
struct Guard {
    state: AppState,
    /// Every route's scopes, each read on its first request.
    scopes: Arc<HashMap<(Method, String), RouteScopes>>,
}

struct RouteScopes {
    read: ScopesOf,
    /// `None` inside: the method's own scope will do.
    needed: OnceLock<Option<Vec<Scope>>>,
}

impl RouteScopes {
    fn needed(&self) -> Option<&[Scope]> {
        self.needed.get_or_init(self.read).as_deref()
    }
}

/// What the authorizer could not check: an API key's signature over the
/// body, then the scope the route needs: its own if it named one, else the
/// method's (`read` to read, `write` to change).
async fn credential_guard(State(Guard { state, scopes }): State<Guard>, req: Request, next: Next) -> Response {
    let Some(principal) = req.extensions().get::<RequestContext>().and_then(principal_of) else {
        return next.run(req).await;
    };
    let signed = principal.api_key.as_ref().and_then(|key| Some((&key.id, key.signing.as_ref()?)));
    let req = match signed {
        Some((key_id, signing)) => match signature::verify(&state, &principal, key_id, signing, req).await {
            Ok(req) => req,
            Err(err) => return err.into_response(),
        },
        None => req,
    };
    let route = req.extensions().get::<MatchedPath>().map(MatchedPath::as_str);
    let method_scope = [scope_for_method(req.method())];
    let needed = route
        .and_then(|path| scopes.get(&(req.method().clone(), path.to_owned())))
        .and_then(RouteScopes::needed)
        .unwrap_or(&method_scope[..]);
    if let Err(err) = principal.require_any_scope(needed) {
        return AppError::from(err).into_response();
    }
    next.run(req).await
}

/// True when the client's `If-None-Match` already names this version, so a
/// cacheable GET can answer 304 without a body.
pub fn not_modified(headers: &axum::http::HeaderMap, version: u64) -> bool {
    let tag = format!("\"{version}\"");
    headers.get(axum::http::header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|value| {
        value.split(',').any(|candidate| {
            let candidate = candidate.trim();
            candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == tag
        })
    })
}

/// A cacheable GET's answer: `304 Not Modified` when the client's
/// `If-None-Match` already names `version`, else `data` with its `ETag`.
pub fn revalidated<T: serde::Serialize>(headers: &axum::http::HeaderMap, version: u64, data: T) -> Response {
    if not_modified(headers, version) {
        let etag = HeaderValue::from_str(&format!("\"{version}\"")).expect("a number is a valid header value");
        return (
            axum::http::StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag), (header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"))],
        )
            .into_response();
    }
    crate::envelope::ApiResponse::ok(data).with_etag(version).revalidate().into_response()
}

/// A JSON body with the content type docs/api.md names, charset included.
pub fn json_response<T: serde::Serialize>(status: axum::http::StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut response = Response::new(axum::body::Body::from(bytes));
            *response.status_mut() = status;
            response
                .headers_mut()
                .insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
            response
        }
        Err(err) => {
            tracing::error!(error = %err, "response did not serialize");
            let mut response = Response::new(axum::body::Body::empty());
            *response.status_mut() = axum::http::StatusCode::INTERNAL_SERVER_ERROR;
            response
        }
    }
}
