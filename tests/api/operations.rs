//! What `template.yaml` gives an operator, which no local run exercises
//! (moto has no CloudWatch alarms, dashboards or log groups): every
//! function's logs kept and in JSON, API Gateway's access log, an alarm per
//! failure that matters, each one notifying the alarm topic, and the
//! dashboard.

use std::collections::BTreeSet;

use serde_yaml_ng::Value;
use serde_yaml_ng::value::TaggedValue;

use crate::helpers::stack;

/// The logical id a `!Ref` names, if `value` is one.
fn reference(value: &Value) -> Option<&str> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "!Ref" => tagged.value.as_str(),
        _ => None,
    }
}

fn tagged(value: &Value) -> Option<&TaggedValue> {
    match value {
        Value::Tagged(tagged) => Some(tagged),
        _ => None,
    }
}

async fn alarms() -> Vec<(String, Value)> {
    let template = &stack().await.template;
    template
        .resources_of_type("AWS::CloudWatch::Alarm")
        .map(|(id, alarm)| (id.to_owned(), alarm["Properties"].clone()))
        .collect()
}

#[tokio::test]
async fn every_function_logs_json_to_a_group_kept_for_the_retention_parameter() {
    let template = &stack().await.template;
    let globals = template.global_logging().expect("Globals.Function.LoggingConfig");
    assert_eq!(globals["LogFormat"], "JSON");
    // Metric documents have no level, which Lambda reads as INFO: it must
    // never filter above INFO (LOG_LEVEL does, in the function).
    let level = tagged(&globals["ApplicationLogLevel"]).expect("!If");
    assert_eq!(level.tag, "!If");
    assert_eq!(level.value.as_sequence().unwrap()[1..], [Value::from("DEBUG"), Value::from("INFO")]);
    assert_eq!(globals["SystemLogLevel"], "INFO", "REPORT lines are INFO");
    let groups: Vec<(&str, &Value)> = template.resources_of_type("AWS::Logs::LogGroup").collect();
    for (function, resource) in template.resources_of_type("AWS::Serverless::Function") {
        let group = reference(&resource["Properties"]["LoggingConfig"]["LogGroup"])
            .unwrap_or_else(|| panic!("{function} names no log group"));
        let (_, group) = groups.iter().find(|(id, _)| *id == group).unwrap_or_else(|| panic!("{function}: no {group}"));
        assert_eq!(reference(&group["Properties"]["RetentionInDays"]), Some("LogRetentionDays"), "{function}");
    }
}

#[tokio::test]
async fn api_gateway_writes_a_json_access_log_line_per_request() {
    let template = &stack().await.template;
    let (_, api) = template.resources_of_type("AWS::Serverless::Api").next().unwrap();
    let setting = &api["Properties"]["AccessLogSetting"];
    let format: serde_json::Value =
        serde_json::from_str(setting["Format"].as_str().unwrap()).expect("the format is JSON");
    for field in ["requestId", "status", "ip", "responseLatency", "xrayTraceId", "authorizerError", "errorType"] {
        assert!(format[field].as_str().is_some_and(|v| v.starts_with("$context.")), "{field}");
    }
    let destination = tagged(&setting["DestinationArn"]).expect("!GetAtt");
    assert_eq!(destination.value.as_str(), Some("ApiAccessLogs.Arn"));
}

#[tokio::test]
async fn every_alarm_notifies_the_alarm_topic_and_each_function_has_errors_and_throttles_alarms() {
    let template = &stack().await.template;
    let alarms = alarms().await;
    for (id, alarm) in &alarms {
        for actions in ["AlarmActions", "OKActions"] {
            let targets: Vec<_> =
                alarm[actions].as_sequence().unwrap_or_else(|| panic!("{id}: no {actions}")).iter().collect();
            assert_eq!(targets.iter().filter_map(|t| reference(t)).collect::<Vec<_>>(), ["AlarmTopic"], "{id}");
        }
    }
    let watched = |metric: &str| -> BTreeSet<String> {
        alarms
            .iter()
            .filter(|(_, alarm)| alarm["Namespace"] == "AWS/Lambda" && alarm["MetricName"] == metric)
            .filter_map(|(_, alarm)| reference(&alarm["Dimensions"][0]["Value"]).map(str::to_owned))
            .collect()
    };
    let functions: BTreeSet<String> =
        template.resources_of_type("AWS::Serverless::Function").map(|(id, _)| id.to_owned()).collect();
    assert_eq!(watched("Throttles"), functions);
    // The authorizer answers every refused credential with an error (that is
    // how API Gateway makes a 401): its Errors are no failure.
    // AuthorizerFailureAlarm watches the requests it could not judge.
    let mut failing = functions.clone();
    failing.remove("AuthorizerFunction");
    assert_eq!(watched("Errors"), failing);
    let named: BTreeSet<&str> = alarms.iter().map(|(id, _)| id.as_str()).collect();
    for alarm in [
        "ApiServerErrorRateAlarm",
        "ApiLatencyAlarm",
        "ApiThrottledRateAlarm",
        "AuthorizerFailureAlarm",
        "GenerationQueueAgeAlarm",
        "GenerationDeadLetterAlarm",
        "JobFailureRateAlarm",
    ] {
        assert!(named.contains(alarm), "{alarm}");
    }
}

#[tokio::test]
async fn the_job_failure_alarm_reads_the_outcomes_the_worker_emits() {
    let alarms = alarms().await;
    let (_, alarm) = alarms.iter().find(|(id, _)| id == "JobFailureRateAlarm").unwrap();
    let outcomes: BTreeSet<&str> = alarm["Metrics"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|metric| {
            let stat = &metric["MetricStat"]["Metric"];
            (stat["MetricName"] == "Jobs").then(|| stat["Dimensions"][0]["Value"].as_str().unwrap())
        })
        .collect();
    // tests/logs/telemetry.rs checks the worker's `Jobs` document carries `Outcome`.
    assert_eq!(outcomes, BTreeSet::from(["failed", "succeeded"]));
}

#[tokio::test]
async fn the_dashboard_and_the_alarm_topic_are_declared_and_subscribed_on_request() {
    let template = &stack().await.template;
    let (_, dashboard) = template.resources_of_type("AWS::CloudWatch::Dashboard").next().expect("a dashboard");
    let body = tagged(&dashboard["Properties"]["DashboardBody"]).expect("!Sub");
    let body: serde_json::Value = serde_json::from_str(body.value.as_str().unwrap()).expect("the body is JSON");
    let titles: Vec<&str> =
        body["widgets"].as_array().unwrap().iter().map(|w| w["properties"]["title"].as_str().unwrap()).collect();
    assert!(titles.len() >= 10, "{titles:?}");
    let (_, subscription) = template.resources_of_type("AWS::SNS::Subscription").next().expect("a subscription");
    assert_eq!(subscription["Condition"], "HasAlarmEmail");
    assert_eq!(reference(&subscription["Properties"]["Endpoint"]), Some("AlarmEmail"));
}
