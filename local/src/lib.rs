//! `toolbox-local`: every function's router on one port, behind the same
//! authorizer code and the same request context API Gateway would give them,
//! with routes read from `template.yaml`.

pub mod provision;
pub mod stream;
pub mod template;
pub mod throttle;
pub mod worker;

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayProxyRequestContext;
use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use lambda_http::request::RequestContext;
use store::AppState;
use store::config::{Config, ConfigError};
use store::logging;
use toolbox_authorizer::{Credentials, Denial};
use tower::ServiceExt;
use web::error::AppError;
use web::http::{RouteTable, X_REQUEST_ID};
use web::request_meta::{self, RequestMeta};

use crate::provision::Provisioned;
use crate::template::{Expr, Template};
use crate::throttle::{Gate, Refusal};

const X_API_KEY: &str = "x-api-key";

/// The header `toolbox-local` (never API Gateway) takes as the client's address.
pub const LOCAL_SOURCE_IP: &str = "x-local-source-ip";

/// The stage name local requests carry, like `dev` or `prod` in AWS.
pub const STAGE: &str = "local";

/// How a function crate gives its routes.
pub type Routes = fn() -> RouteTable;

/// Every HTTP function, by its logical id in `template.yaml`, with its routes.
pub const HTTP_FUNCTIONS: &[(&str, Routes)] = &[
    ("HealthFunction", toolbox_health::routes),
    ("AuthFunction", toolbox_auth::routes),
    ("OrganizationsFunction", toolbox_organizations::routes),
    ("ApiKeysFunction", toolbox_api_keys::routes),
    ("ClassesFunction", toolbox_classes::routes),
    ("ContentFunction", toolbox_content::routes),
    ("LessonsFunction", toolbox_lessons::routes),
    ("AssessmentsFunction", toolbox_assessments::routes),
    ("MessagesFunction", toolbox_messages::routes),
    ("RealtimeFunction", toolbox_realtime::routes),
    ("DashboardFunction", toolbox_dashboard::routes),
    ("AnalyticsFunction", toolbox_analytics::routes),
    ("PaymentsFunction", toolbox_payments::routes),
    ("ComplianceFunction", toolbox_compliance::routes),
    ("RobloxFunction", toolbox_roblox::routes),
];

/// The routes of the function a template logical id names.
pub fn function_routes(logical_id: &str) -> Option<RouteTable> {
    HTTP_FUNCTIONS.iter().find(|(id, _)| *id == logical_id).map(|(_, routes)| routes())
}

/// The whole API's OpenAPI document: the shared parts and every function's
/// paths. `make openapi` writes it to `openapi.json`, which the health
/// function serves.
pub fn openapi() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi;
    let mut doc = web::openapi::BaseDoc::openapi();
    for (_, routes) in HTTP_FUNCTIONS {
        doc.merge(routes().openapi());
    }
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    if let Ok(template) = Template::workspace() {
        document_throttling(&mut doc, &template);
    }
    doc
}

/// The document as `openapi.json` holds it. An operation's extensions
/// (`x-roles`, `x-scopes`) are kept in a map without an order, so they are
/// written sorted, and the file is the same from one run to the next.
pub fn openapi_json() -> serde_json::Result<String> {
    let mut doc = serde_json::to_value(openapi())?;
    for item in doc["paths"].as_object_mut().into_iter().flat_map(|paths| paths.values_mut()) {
        for operation in item.as_object_mut().into_iter().flat_map(|item| item.values_mut()) {
            let Some(fields) = operation.as_object_mut() else { continue };
            let (mut extensions, rest): (Vec<_>, Vec<_>) =
                std::mem::take(fields).into_iter().partition(|(key, _)| key.starts_with("x-"));
            extensions.sort_by(|(a, _), (b, _)| a.cmp(b));
            fields.extend(rest.into_iter().chain(extensions));
        }
    }
    serde_json::to_string_pretty(&doc)
}

/// Every operation API Gateway may throttle (a metered route, or one with a
/// stage throttle) may answer 429; the document says so, from the template.
fn document_throttling(doc: &mut utoipa::openapi::OpenApi, template: &Template) {
    use utoipa::openapi::{Ref, RefOr};
    let stage_throttled: HashSet<String> = throttle::Limits::from_template(template)
        .map(|limits| limits.stage_methods.into_keys().collect())
        .unwrap_or_default();
    for route in template.routes() {
        let throttled = route.metered || stage_throttled.contains(&format!("{}/{}", route.path, route.method));
        let Some(item) = doc.paths.paths.get_mut(&route.path) else { continue };
        let operation = match route.method.as_str() {
            "GET" => item.get.as_mut(),
            "POST" => item.post.as_mut(),
            "PUT" => item.put.as_mut(),
            "PATCH" => item.patch.as_mut(),
            "DELETE" => item.delete.as_mut(),
            _ => None,
        };
        if let Some(operation) = operation.filter(|_| throttled) {
            operation
                .responses
                .responses
                .entry("429".to_owned())
                .or_insert_with(|| RefOr::Ref(Ref::from_response_name("RateLimited")));
        }
    }
}

/// The authorizer's logical id in `template.yaml`.
pub const AUTHORIZER: &str = "AuthorizerFunction";

/// The environment the template's `Globals` give every function, resolved
/// against the local resources.
pub fn environment(template: &Template, provisioned: &Provisioned) -> HashMap<String, String> {
    template
        .global_environment()
        .into_iter()
        .filter_map(|(name, value)| {
            let resolved = provisioned.resolve(&value, STAGE).or_else(|| match &value {
                Expr::Ref(parameter) => template.parameter_default(parameter),
                _ => None,
            });
            Some((name, resolved?))
        })
        .collect()
}

/// What `sam local invoke --env-vars` takes: every function's variables
/// (the `Globals`' and its own) with the local resources' names instead of
/// the logical ids SAM would put there, and the local AWS endpoint, as a
/// function in a container on the host's network reaches it.
pub fn sam_env_vars(template: &Template, provisioned: &Provisioned, endpoint: &str) -> serde_json::Value {
    let resolve = |value: &Expr| {
        provisioned.resolve(value, STAGE).or_else(|| match value {
            Expr::Ref(parameter) => template.parameter_default(parameter),
            _ => None,
        })
    };
    let functions = template.resources_of_type("AWS::Serverless::Function").map(|(logical, _)| {
        let mut variables = serde_json::Map::new();
        for (name, value) in template.global_environment().into_iter().chain(template.function_environment(logical)) {
            if let Some(resolved) = resolve(&value) {
                variables.insert(name, resolved.into());
            }
        }
        for (name, value) in [
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
        ] {
            variables.insert(name.to_owned(), value.into());
        }
        (logical.to_owned(), serde_json::Value::Object(variables))
    });
    serde_json::Value::Object(functions.collect())
}

/// The functions' configuration as the template's `Globals` give it, with
/// the local resources' names; the process environment overrides any value.
pub fn config(template: &Template, provisioned: &Provisioned) -> Result<Config, ConfigError> {
    let from_template = environment(template, provisioned);
    Config::from_source(|name| std::env::var(name).ok().or_else(|| from_template.get(name).cloned()))
}

#[derive(Debug, thiserror::Error)]
pub enum AppBuildError {
    #[error("template route {method} {path} names {function}, which toolbox-local cannot serve")]
    UnknownFunction { function: String, method: String, path: String },
    #[error("template route {method} {path} has a method axum cannot route")]
    BadMethod { method: String, path: String },
}

struct Target {
    router: Router,
    /// The function's configuration, as its Lambda context would give it.
    function: Arc<lambda_http::lambda_runtime::Config>,
    authorized: bool,
    metered: bool,
    resource_path: String,
    gate: Option<Arc<Gate>>,
}

/// The whole API. Each template route forwards to its function's router after
/// the authorizer has judged it and `gate` (when given) has applied the
/// template's throttles and usage plans, as API Gateway would.
pub fn app(state: AppState, template: &Template, gate: Option<Arc<Gate>>) -> Result<Router, AppBuildError> {
    app_per_function(|_| state.clone(), template, gate)
}

/// [`app`] with each function (and the authorizer, `AuthorizerFunction`) on
/// the state `state_of` gives for its logical id, as each Lambda has its
/// own: tests give each its own AWS clients to see what each one calls.
pub fn app_per_function(
    state_of: impl Fn(&str) -> AppState,
    template: &Template,
    gate: Option<Arc<Gate>>,
) -> Result<Router, AppBuildError> {
    let state = state_of(AUTHORIZER);
    let mut routers: HashMap<String, Router> = HashMap::new();
    let mut preflights: HashSet<String> = HashSet::new();
    let mut app: Router = Router::new();
    for route in template.routes() {
        let router = match routers.get(&route.function) {
            Some(router) => router.clone(),
            None => {
                let router = function_routes(&route.function)
                    .map(|routes| routes.into_router(state_of(&route.function)))
                    .ok_or_else(|| AppBuildError::UnknownFunction {
                        function: route.function.clone(),
                        method: route.method.clone(),
                        path: route.path.clone(),
                    })?;
                routers.insert(route.function.clone(), router.clone());
                router
            }
        };
        let method: Method = route.method.parse().map_err(|_| bad_method(&route))?;
        let filter = MethodFilter::try_from(method).map_err(|_| bad_method(&route))?;
        // Browsers' CORS preflights reach the function unauthorized and its
        // CORS layer answers them, as SAM's OPTIONS mock does in AWS.
        if preflights.insert(route.path.clone()) {
            let preflight = Arc::new(Target {
                router: router.clone(),
                function: lambda_config(&route.function),
                authorized: false,
                metered: false,
                resource_path: route.path.clone(),
                gate: None,
            });
            let state = state.clone();
            app = app.route(
                &route.path,
                on(MethodFilter::OPTIONS, move |req: Request| {
                    let target = preflight.clone();
                    let state = state.clone();
                    async move { dispatch(&state, &target, req).await }
                }),
            );
        }
        let target = Arc::new(Target {
            router,
            function: lambda_config(&route.function),
            authorized: route.authorized,
            metered: route.metered,
            resource_path: route.path.clone(),
            gate: gate.clone(),
        });
        let state = state.clone();
        app = app.route(
            &route.path,
            on(filter, move |req: Request| {
                let target = target.clone();
                let state = state.clone();
                async move { dispatch(&state, &target, req).await }
            }),
        );
    }
    // axum adds the `Allow` header to the 405.
    let app = app
        .fallback(|| async { AppError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed });
    Ok(app)
}

/// What Lambda tells a function about itself; locally its name is its logical id.
fn lambda_config(function: &str) -> Arc<lambda_http::lambda_runtime::Config> {
    Arc::new(lambda_http::lambda_runtime::Config { function_name: function.to_owned(), ..Default::default() })
}

fn bad_method(route: &template::Route) -> AppBuildError {
    AppBuildError::BadMethod { method: route.method.clone(), path: route.path.clone() }
}

async fn dispatch(state: &AppState, target: &Target, req: Request) -> Response {
    let request_id = request_meta::from_headers(req.headers()).unwrap_or_else(request_meta::new_request_id);
    let mut context = ApiGatewayProxyRequestContext::default();
    context.stage = Some(STAGE.into());
    context.request_id = Some(request_id.clone());
    context.resource_path = Some(target.resource_path.clone());
    context.path = Some(req.uri().path().to_owned());
    context.http_method = req.method().clone();
    let source_ip = source_ip(&req);
    context.identity.source_ip = source_ip.map(|ip| ip.to_string());
    if let Some(gate) = &target.gate
        && let Err(refusal) = gate.admit_address(req.method().as_str(), req.uri().path(), source_ip).await
    {
        return refuse(refusal_error(refusal), request_id, state).await;
    }
    let mut usage_key = None;
    if target.authorized {
        let headers = req.headers();
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let credentials = Credentials {
            authorization: header(header::AUTHORIZATION.as_str()),
            api_key: header(X_API_KEY),
            source_ip,
        };
        match toolbox_authorizer::authorize(state, credentials).await {
            Ok(grant) => {
                context.authorizer.fields = grant.principal.to_context();
                usage_key = grant.usage_key;
            }
            Err(denial) => return refuse(denial_error(denial), request_id, state).await,
        }
    }
    if let Some(gate) = &target.gate
        && let Err(refusal) =
            gate.admit(req.method().as_str(), &target.resource_path, target.metered, usage_key.as_deref()).await
    {
        return refuse(refusal_error(refusal), request_id, state).await;
    }
    // The function gets a fresh request, as from an API Gateway event: only
    // method, URI, headers, body and the request context, nothing of this router.
    let (parts, body) = req.into_parts();
    let mut forwarded = Request::new(body);
    *forwarded.method_mut() = parts.method;
    *forwarded.uri_mut() = parts.uri;
    *forwarded.headers_mut() = parts.headers;
    forwarded.extensions_mut().insert(RequestContext::ApiGatewayV1(context));
    let lambda = lambda_context(target, forwarded.headers());
    forwarded.extensions_mut().insert(lambda);
    match target.router.clone().oneshot(forwarded).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// The invocation's Lambda context: a new invocation id, the function, and
/// the X-Ray trace API Gateway passes on (the caller's `X-Amzn-Trace-Id`, or
/// a new trace).
fn lambda_context(target: &Target, headers: &axum::http::HeaderMap) -> lambda_http::Context {
    let mut context = lambda_http::Context::default();
    context.request_id = request_meta::new_request_id().to_lowercase();
    context.env_config = target.function.clone();
    let traced = headers.get("x-amzn-trace-id").and_then(|v| v.to_str().ok()).filter(|h| logging::sane_trace_header(h));
    context.xray_trace_id = Some(traced.map_or_else(logging::new_trace_header, str::to_owned));
    context
}

/// Where a request comes from, as API Gateway's `sourceIp` would say: the
/// connection's peer. Locally, and only here, `X-Local-Source-Ip` stands in
/// for it, so tests and a developer's curl can act as many clients; API
/// Gateway never reads that header and the functions never see it used.
fn source_ip(req: &Request) -> Option<IpAddr> {
    let spoofed = req.headers().get(LOCAL_SOURCE_IP).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok());
    spoofed.or_else(|| req.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip()))
}

/// The local twin of API Gateway's gateway responses for an authorizer's
/// refusal (401, 403; 503 when the authorizer itself fails).
fn denial_error(denial: Denial) -> AppError {
    match denial {
        Denial::Unauthenticated(reason) => AppError::Unauthenticated(reason.into()),
        Denial::Forbidden(reason) => AppError::Forbidden(reason.into()),
        Denial::Unavailable => {
            AppError::Unavailable { message: "the authorizer is unavailable".into(), retry_after_seconds: Some(5) }
        }
    }
}

/// The local twin of the web ACL's 429, of the `THROTTLED` and
/// `QUOTA_EXCEEDED` gateway responses (429), and of API Gateway's 403 for a
/// metered call without a plan.
fn refusal_error(refusal: Refusal) -> AppError {
    match refusal {
        Refusal::AddressLimited { retry_after } => AppError::RateLimited {
            message: "too many requests from this address; retry later".into(),
            retry_after_seconds: retry_after,
            limit: None,
        },
        Refusal::Throttled { retry_after } => {
            AppError::RateLimited { message: "too many requests".into(), retry_after_seconds: retry_after, limit: None }
        }
        Refusal::QuotaExceeded { retry_after } => AppError::RateLimited {
            message: "the plan's request quota is used up for this period".into(),
            retry_after_seconds: retry_after,
            limit: None,
        },
        Refusal::NoPlan => AppError::Forbidden("access denied".into()),
    }
}

async fn refuse(error: AppError, request_id: String, state: &AppState) -> Response {
    let meta = RequestMeta::new(request_id.clone(), state.now());
    let mut response = request_meta::scope(meta, async move { error.into_response() }).await;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(X_REQUEST_ID.clone(), value);
    }
    response
}
