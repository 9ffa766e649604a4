//! The scale model of docs/scale.md: how hot the hottest partition gets when
//! a district of 100,000 students and 5,000 staff does one thing at once.
//!
//! A small sample of each scenario runs through the real functions, whose
//! AWS clients record every DynamoDB request (`recording`). Each request
//! becomes the capacity it takes from each partition it touches
//! ([`touches`]); a partition is then either one member's own (it names a
//! member of the sample, or is their login-failure counter), whose load is
//! that member's alone, or shared, whose load grows with the district: its
//! units in the sample × (members at scale / members in the sample), over
//! the scenario's window. The hottest partition is set against DynamoDB's
//! per-partition ceilings (1,000 write units and 3,000 read units a second).
//!
//! `make bench` runs it (`--ignored --nocapture`) and prints the table.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::{Value, json};
use store::aws::load_sdk_config;

use crate::helpers::{Account, TestApp, pusher};
use crate::recording::{Recorder, Sent, string_key};

const WRITE_CEILING: f64 = 1_000.0;
const READ_CEILING: f64 = 3_000.0;
/// Students (or staff) of the sample; the district is extrapolated from them.
const SAMPLE: usize = 8;

/// Capacity one request takes from one partition.
#[derive(Debug, Clone, PartialEq)]
struct Touch {
    pk: String,
    write: bool,
    units: f64,
}

/// Write units of an item: one per KB started. Its size is taken from its
/// JSON form, which is larger than DynamoDB's count: an upper bound.
fn write_units(item: &Value) -> f64 {
    (item.to_string().len() as f64 / 1024.0).ceil().max(1.0)
}

/// A read of up to 4 KB: one unit strongly consistent, half a unit not.
fn read_units(body: &Value) -> f64 {
    if body["ConsistentRead"].as_bool() == Some(true) { 1.0 } else { 0.5 }
}

/// The capacity a DynamoDB request takes from each partition it touches.
/// A Query page is counted as 4 KB per 8 items asked for; a transaction's
/// writes at twice their units, as DynamoDB charges them.
fn touches(sent: &Sent) -> Vec<Touch> {
    let Some(operation) = sent.target.as_deref().and_then(|t| t.strip_prefix("DynamoDB_20120810.")) else {
        return Vec::new();
    };
    let body: Value = serde_json::from_slice(&sent.body).unwrap_or(Value::Null);
    let touch = |key: &Value, write: bool, units: f64| string_key(key).map(|pk| Touch { pk, write, units });
    match operation {
        "GetItem" => touch(&body["Key"], false, read_units(&body)).into_iter().collect(),
        "Query" => {
            let pages = (body["Limit"].as_f64().unwrap_or(1.0) / 8.0).ceil().max(1.0);
            let pk = body["ExpressionAttributeValues"][":pk"]["S"].as_str().map(str::to_owned);
            pk.map(|pk| Touch { pk, write: false, units: pages * read_units(&body) }).into_iter().collect()
        }
        "PutItem" => touch(&body["Item"], true, write_units(&body["Item"])).into_iter().collect(),
        "UpdateItem" | "DeleteItem" => touch(&body["Key"], true, 1.0).into_iter().collect(),
        "BatchGetItem" => body["RequestItems"]
            .as_object()
            .into_iter()
            .flat_map(|tables| tables.values())
            .flat_map(|table| {
                let units = read_units(table);
                table["Keys"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(move |key| touch(&key, false, units))
            })
            .collect(),
        "BatchWriteItem" => body["RequestItems"]
            .as_object()
            .into_iter()
            .flat_map(|tables| tables.values())
            .flat_map(|requests| requests.as_array().cloned().unwrap_or_default())
            .filter_map(|request| match request.get("PutRequest") {
                Some(put) => touch(&put["Item"], true, write_units(&put["Item"])),
                None => touch(&request["DeleteRequest"]["Key"], true, 1.0),
            })
            .collect(),
        "TransactWriteItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| {
                let (kind, write) = item.as_object()?.iter().next()?;
                match kind.as_str() {
                    "Put" => touch(&write["Item"], true, 2.0 * write_units(&write["Item"])),
                    _ => touch(&write["Key"], true, 2.0),
                }
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// One scenario: `members` people at scale (or recipients, for a message),
/// each acting once within `seconds`.
struct Scenario {
    name: &'static str,
    members: f64,
    seconds: f64,
}

/// The hottest partition of one kind (writes or reads): its shape and its
/// units a second at scale.
#[derive(Debug)]
struct Hottest {
    shape: String,
    per_second: f64,
}

/// A partition key with its ids named by role, so a table can show it.
fn shape(pk: &str, org: &str, sample: &[&Account]) -> String {
    let mut shape = pk.replace(org, "<org>");
    for member in sample {
        shape = shape.replace(&member.user_id, "<member>").replace(&member.email.to_lowercase(), "<member email>");
    }
    shape
}

/// Whether `pk` is one member's own: it names them, or counts their failed
/// logins (keyed by a hash of the account).
fn own(pk: &str, sample: &[&Account]) -> bool {
    pk.starts_with("LOGINFAIL#")
        || sample.iter().any(|m| pk.contains(&m.user_id) || pk.contains(&m.email.to_lowercase()))
}

fn hottest(scenario: &Scenario, sent: &[Sent], org: &str, sample: &[&Account], write: bool) -> Option<Hottest> {
    let mut units: BTreeMap<String, f64> = BTreeMap::new();
    for touch in sent.iter().flat_map(touches).filter(|t| t.write == write) {
        *units.entry(touch.pk).or_default() += touch.units;
    }
    let scale = scenario.members / sample.len() as f64;
    units
        .into_iter()
        .map(|(pk, units)| {
            let per_second = if own(&pk, sample) { units } else { units * scale } / scenario.seconds;
            Hottest { shape: shape(&pk, org, sample), per_second }
        })
        .max_by(|a, b| a.per_second.total_cmp(&b.per_second))
}

fn row(scenario: &Scenario, sent: &[Sent], org: &str, sample: &[&Account]) -> String {
    let cell = |hot: Option<Hottest>, ceiling: f64| match hot {
        Some(hot) => format!("`{}` | {:.0} | {:.0}%", hot.shape, hot.per_second, 100.0 * hot.per_second / ceiling),
        None => "none | 0 | 0%".to_owned(),
    };
    format!(
        "| {} | {} of {} in {} s | {} | {} |",
        scenario.name,
        sample.len(),
        scenario.members,
        scenario.seconds,
        cell(hottest(scenario, sent, org, sample, true), WRITE_CEILING),
        cell(hottest(scenario, sent, org, sample, false), READ_CEILING),
    )
}

#[tokio::test]
#[ignore = "a benchmark: make bench runs it, docs/scale.md shows its table"]
async fn the_hottest_partition_of_each_scenario() {
    let base = load_sdk_config().await;
    let recorder = Recorder::default();
    let (app, _) = TestApp::spawn_per_function(
        |function| recorder.sdk_for(&base, function),
        |config| config.pusher = Some(pusher("http://127.0.0.1:9")),
    )
    .await;
    let admin = app.register_org().await;
    let org = admin.org_id.clone();
    let mut staff = Vec::new();
    let mut students = Vec::new();
    for _ in 0..SAMPLE {
        staff.push(app.member(&admin, "teacher").await);
        students.push(app.member(&admin, "student").await);
    }
    let students: Vec<&Account> = students.iter().collect();
    let staff: Vec<&Account> = staff.iter().collect();
    let teacher = staff[0];
    let class = app.class_with(teacher, &students).await;
    let quiz = json!({"title": "Checkpoint", "questions": [
        {"kind": "true_false", "prompt": "Ice floats.", "answer": true, "points": 1}]});
    let created = app.post("/api/v1/assessments").bearer(&teacher.access_token).json(quiz).send().await;
    created.expect(StatusCode::CREATED, None);
    let assessment = created.data()["id"].as_str().unwrap().to_owned();
    app.post(&format!("/api/v1/assessments/{assessment}/publish"))
        .bearer(&teacher.access_token)
        .json(json!({"class_ids": [class]}))
        .send()
        .await
        .expect(StatusCode::OK, None);
    recorder.take();

    let mut rows = Vec::new();
    let scenario = Scenario { name: "every student submits one assessment", members: 100_000.0, seconds: 600.0 };
    for student in &students {
        app.post(&format!("/api/v1/assessments/{assessment}/submit"))
            .bearer(&student.access_token)
            .json(json!({"attempt": 1, "answers": [true]}))
            .send()
            .await
            .expect(StatusCode::CREATED, None);
    }
    let sent = recorder.take();
    assert!(sent.iter().flat_map(touches).any(|t| t.write), "a submission writes");
    rows.push(row(&scenario, &sent, &org, &students));

    let scenario = Scenario { name: "a login wave", members: 50_000.0, seconds: 900.0 };
    for student in &students {
        app.login(&student.email, &student.password).await.expect(StatusCode::OK, None);
    }
    let sent = recorder.take();
    rows.push(row(&scenario, &sent, &org, &students));

    // One message to a class: its recipients are the members, all within a second.
    let scenario = Scenario { name: "a teacher messages a class of 500", members: 500.0, seconds: 1.0 };
    app.post("/api/v1/messages")
        .bearer(&teacher.access_token)
        .json(json!({"class_id": class, "subject": "Tomorrow", "body": "Bring your notebooks."}))
        .send()
        .await
        .expect(StatusCode::CREATED, None);
    let sent = recorder.take();
    rows.push(row(&scenario, &sent, &org, &students));

    // Until the dashboards exist (issue 15), what a teacher's home page reads.
    let scenario = Scenario { name: "5,000 staff open their home page", members: 5_000.0, seconds: 300.0 };
    for member in &staff {
        for path in ["/api/v1/auth/me", "/api/v1/classes", "/api/v1/lessons", "/api/v1/messages/unread-count"] {
            app.get(path).bearer(&member.access_token).send().await.expect(StatusCode::OK, None);
        }
    }
    let sent = recorder.take();
    assert!(sent.iter().flat_map(touches).any(|t| !t.write), "a home page reads");
    rows.push(row(&scenario, &sent, &org, &staff));

    println!(
        "\n| scenario | sampled | hottest partition (writes) | write units/s | of 1,000 | hottest partition (reads) | read units/s | of 3,000 |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
}

#[test]
fn a_transaction_takes_twice_the_units_of_each_write_from_its_own_partition() {
    let body = json!({"TransactItems": [
        {"Put": {"TableName": "t", "Item": {"pk": {"S": "ORG#a"}, "sk": {"S": "X"}, "blob": {"S": "x".repeat(1500)}}}},
        {"Update": {"TableName": "t", "Key": {"pk": {"S": "ORG#a#USER#b"}, "sk": {"S": "Y"}}}},
        {"ConditionCheck": {"TableName": "t", "Key": {"pk": {"S": "ORG#c"}, "sk": {"S": "Z"}}}},
    ]});
    let sent = Sent {
        function: "f".into(),
        method: "POST".into(),
        uri: "/".into(),
        target: Some("DynamoDB_20120810.TransactWriteItems".into()),
        service: Some("dynamodb".into()),
        body: body.to_string().into_bytes(),
    };
    assert_eq!(
        touches(&sent),
        [
            Touch { pk: "ORG#a".into(), write: true, units: 4.0 },
            Touch { pk: "ORG#a#USER#b".into(), write: true, units: 2.0 },
            Touch { pk: "ORG#c".into(), write: true, units: 2.0 },
        ]
    );
}

#[test]
fn a_query_page_and_a_batch_read_take_read_units_by_size_and_consistency() {
    let sent = |target: &str, body: Value| Sent {
        function: "f".into(),
        method: "POST".into(),
        uri: "/".into(),
        target: Some(format!("DynamoDB_20120810.{target}")),
        service: Some("dynamodb".into()),
        body: body.to_string().into_bytes(),
    };
    let query = sent("Query", json!({"Limit": 20, "ExpressionAttributeValues": {":pk": {"S": "ORG#a"}}}));
    assert_eq!(touches(&query), [Touch { pk: "ORG#a".into(), write: false, units: 1.5 }]);
    let batch = sent(
        "BatchGetItem",
        json!({"RequestItems": {"t": {"ConsistentRead": true, "Keys": [{"pk": {"S": "ORG#a"}}, {"pk": {"S": "ORG#b"}}]}}}),
    );
    assert_eq!(
        touches(&batch),
        [
            Touch { pk: "ORG#a".into(), write: false, units: 1.0 },
            Touch { pk: "ORG#b".into(), write: false, units: 1.0 }
        ]
    );
}
