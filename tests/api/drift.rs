//! `template.yaml` is the routing truth: every route a router serves is in
//! the template, and every template route reaches a handler.

use std::collections::BTreeSet;

use crate::helpers::stack;

#[tokio::test]
async fn template_routes_and_router_routes_are_the_same() {
    let template = &stack().await.template;
    let from_template: BTreeSet<(String, String, String)> =
        template.routes().into_iter().map(|r| (r.function, r.method, r.path)).collect();
    let mut from_routers = BTreeSet::new();
    for function in toolbox_local::HTTP_FUNCTIONS {
        let routes = toolbox_local::function_routes(function).expect("a known function");
        for (method, path) in routes.routes() {
            from_routers.insert((function.to_string(), method.to_string(), path.to_string()));
        }
    }
    let missing_in_template: Vec<_> = from_routers.difference(&from_template).collect();
    let missing_in_routers: Vec<_> = from_template.difference(&from_routers).collect();
    assert!(missing_in_template.is_empty(), "served but not in template.yaml: {missing_in_template:?}");
    assert!(missing_in_routers.is_empty(), "in template.yaml but served by no router: {missing_in_routers:?}");
}

#[tokio::test]
async fn every_template_function_with_api_events_is_served_locally() {
    let template = &stack().await.template;
    for route in template.routes() {
        assert!(
            toolbox_local::HTTP_FUNCTIONS.contains(&route.function.as_str()),
            "{} has API events but toolbox-local does not serve it",
            route.function
        );
    }
}

#[tokio::test]
async fn public_routes_are_exactly_health_register_login_and_refresh() {
    let template = &stack().await.template;
    let public: BTreeSet<String> = template.routes().into_iter().filter(|r| !r.authorized).map(|r| r.path).collect();
    let expected: BTreeSet<String> = [
        "/health",
        "/health/live",
        "/health/ready",
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(public, expected);
}
