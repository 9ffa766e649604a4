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
    for (function, routes) in toolbox_local::HTTP_FUNCTIONS {
        let routes = routes();
        for (method, path) in routes.served() {
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
            toolbox_local::function_routes(&route.function).is_some(),
            "{} has API events but toolbox-local does not serve it",
            route.function
        );
    }
}

#[tokio::test]
async fn public_routes_are_exactly_health_docs_register_login_refresh_stripes_webhook_and_roblox_games() {
    let template = &stack().await.template;
    let public: BTreeSet<String> = template.routes().into_iter().filter(|r| !r.authorized).map(|r| r.path).collect();
    let expected: BTreeSet<String> = [
        "/api/v1/health",
        "/api/v1/health/live",
        "/api/v1/health/ready",
        "/api/v1/openapi.json",
        "/api/v1/docs",
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        // Stripe's deliveries: the signature is the credential.
        "/api/v1/stripe/webhooks",
        // A Roblox game server's reports: its environment's signature is the credential.
        "/api/v1/roblox/links",
        "/api/v1/roblox/environments/{id}/events",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(public, expected);
    // Usage plans meter exactly the authorized routes: a public route has no
    // usage key to meter, and an authorized one must not escape its plan.
    for route in template.routes() {
        assert_eq!(route.metered, route.authorized, "{} {}", route.method, route.path);
    }

    // The document says the same of each operation.
    let doc: serde_json::Value = serde_json::from_str(toolbox_health::OPENAPI_JSON).unwrap();
    for route in template.routes() {
        let security = &doc["paths"][&route.path][route.method.to_lowercase()]["security"];
        let documented_public = security.as_array().unwrap().iter().all(|s| s.as_object().unwrap().is_empty());
        assert_eq!(documented_public, !route.authorized, "{} {}", route.method, route.path);
    }
}

#[tokio::test]
async fn provisioning_again_keeps_what_exists() {
    let stack = stack().await;
    let sdk = store::aws::load_sdk_config().await;
    let again = toolbox_local::provision::provision(&stack.template, &sdk, "toolbox-test")
        .await
        .expect("a second run succeeds");
    for logical in [
        "Table",
        "GenerationQueue",
        "GenerationDeadLetterQueue",
        "ArtifactsBucket",
        "JwtKeySecret",
        "FreeUsagePlan",
        "ProUsagePlan",
        "EnterpriseUsagePlan",
    ] {
        assert_eq!(again.physical_id(logical), stack.provisioned.physical_id(logical), "{logical}");
        assert!(again.physical_id(logical).is_some(), "{logical} was not provisioned");
    }
}

#[tokio::test]
async fn local_resources_follow_the_template_definitions() {
    let stack = stack().await;
    let app = crate::helpers::TestApp::spawn().await;
    let table = app.state.aws.dynamodb.describe_table().table_name(&app.state.config.table_name).send().await.unwrap();
    let table = table.table.unwrap();
    let keys: Vec<String> =
        table.key_schema().iter().map(|k| format!("{}:{}", k.attribute_name(), k.key_type())).collect();
    assert_eq!(keys, ["pk:HASH", "sk:RANGE"]);
    let indexes: Vec<_> = table.global_secondary_indexes().iter().filter_map(|index| index.index_name()).collect();
    assert_eq!(indexes, ["gsi1", "gsi2"]);
    let ttl =
        app.state.aws.dynamodb.describe_time_to_live().table_name(&app.state.config.table_name).send().await.unwrap();
    assert_eq!(ttl.time_to_live_description().and_then(|t| t.attribute_name()), Some("expires_at"));

    let queue = stack.provisioned.physical_id("GenerationQueue").unwrap();
    let attributes = app
        .state
        .aws
        .sqs()
        .get_queue_attributes()
        .queue_url(queue)
        .attribute_names(store::aws::QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    let redrive: serde_json::Value =
        serde_json::from_str(&attributes[&store::aws::QueueAttributeName::RedrivePolicy]).unwrap();
    assert_eq!(redrive["maxReceiveCount"].to_string().trim_matches('"'), "5");
    assert!(redrive["deadLetterTargetArn"].as_str().unwrap().ends_with("generationdeadletterqueue"));
    let declared = stack.template.resources().find(|(id, _)| *id == "GenerationQueue").unwrap().1["Properties"]
        ["VisibilityTimeout"]
        .as_u64()
        .unwrap();
    assert_eq!(attributes[&store::aws::QueueAttributeName::VisibilityTimeout], declared.to_string());

    let secret =
        app.state.aws.secrets.get_secret_value().secret_id(&app.state.config.jwt_secret_id).send().await.unwrap();
    let value: serde_json::Value = serde_json::from_str(secret.secret_string().unwrap()).unwrap();
    assert_eq!(value["kid"], "k1");
    assert_eq!(value["secret"].as_str().unwrap().len(), 64);
}

#[test]
fn the_committed_openapi_document_is_generated_from_the_code() {
    let generated = toolbox_local::openapi_json().unwrap();
    assert_eq!(
        toolbox_health::OPENAPI_JSON.trim_end(),
        generated.trim_end(),
        "openapi.json is stale: run `make openapi` and commit it"
    );
}

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_served_routes() {
    let doc: serde_json::Value = serde_json::from_str(toolbox_health::OPENAPI_JSON).unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let served: BTreeSet<(String, String)> =
        stack().await.template.routes().into_iter().map(|r| (r.method, r.path)).collect();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(undocumented.is_empty(), "served but not in openapi.json: {undocumented:?}");
    assert!(unserved.is_empty(), "in openapi.json but served by nobody: {unserved:?}");
}

/// OpenAPI requires it, and clients generated from the document (and the
/// matrix's fixtures) name operations by it.
#[test]
fn every_operation_id_is_unique() {
    let doc: serde_json::Value = serde_json::from_str(toolbox_health::OPENAPI_JSON).unwrap();
    let mut seen = BTreeSet::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            let id = operation["operationId"].as_str().expect("every operation has an id");
            assert!(seen.insert(id.to_owned()), "operationId {id} is used twice");
        }
    }
}

/// The whole document merges every function's: a schema name two functions
/// give different schemas would keep only one of them, and the other's
/// operations would be documented with a stranger's shape.
#[test]
fn no_two_functions_give_one_schema_name_different_shapes() {
    let mut seen: std::collections::BTreeMap<String, (&str, serde_json::Value)> = Default::default();
    for (function, routes) in toolbox_local::HTTP_FUNCTIONS {
        let doc = serde_json::to_value(routes().openapi()).unwrap();
        for (name, schema) in doc["components"]["schemas"].as_object().into_iter().flatten() {
            match seen.get(name) {
                Some((first, shape)) => {
                    assert_eq!(shape, schema, "schema {name} of {function} differs from {first}'s: rename one")
                }
                None => {
                    seen.insert(name.clone(), (function, schema.clone()));
                }
            }
        }
    }
}

#[test]
fn every_reference_in_the_openapi_document_resolves() {
    let doc: serde_json::Value = serde_json::from_str(toolbox_health::OPENAPI_JSON).unwrap();
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for reference in refs {
        let pointer = reference.trim_start_matches('#');
        assert!(doc.pointer(pointer).is_some(), "dangling $ref {reference}");
    }
}

fn collect_refs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("$ref", serde_json::Value::String(target)) => out.push(target.clone()),
                    _ => collect_refs(inner, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| collect_refs(item, out)),
        _ => {}
    }
}

#[test]
fn every_authenticated_operation_documents_401_and_every_public_one_says_so() {
    let doc: serde_json::Value = serde_json::from_str(toolbox_health::OPENAPI_JSON).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let security =
                operation["security"].as_array().unwrap_or_else(|| panic!("{method} {path} has no security"));
            let public = security.iter().all(|s| s.as_object().is_some_and(|o| o.is_empty()));
            if !public {
                assert!(operation["responses"]["401"].is_object(), "{method} {path} does not document 401");
            }
        }
    }
}

#[tokio::test]
async fn sam_local_invoke_gets_the_local_resources_names_not_logical_ids() {
    let stack = stack().await;
    let vars = toolbox_local::sam_env_vars(&stack.template, &stack.provisioned, "http://127.0.0.1:4566");
    let functions = vars.as_object().unwrap();
    let declared: BTreeSet<&str> =
        stack.template.resources_of_type("AWS::Serverless::Function").map(|(logical, _)| logical).collect();
    assert_eq!(functions.keys().map(String::as_str).collect::<BTreeSet<_>>(), declared);
    let logical_ids: BTreeSet<&str> = stack.template.resources().map(|(logical, _)| logical).collect();
    for (function, variables) in functions {
        assert_eq!(variables["TABLE_NAME"], stack.provisioned.physical_id("Table").unwrap(), "{function}");
        assert_eq!(variables["AWS_ENDPOINT_URL"], "http://127.0.0.1:4566");
        for (name, value) in variables.as_object().unwrap() {
            assert!(!logical_ids.contains(value.as_str().unwrap()), "{function}: {name} is a logical id");
        }
    }
    let worker = &functions["ContentWorkerFunction"];
    assert_eq!(worker["PROVIDER_SECRET_ID"], stack.provisioned.physical_id("ProviderSecret").unwrap());
    assert_eq!(worker["PUSHER_SECRET_ID"], stack.provisioned.physical_id("PusherSecret").unwrap());
}
