//! The scale model of docs/scale.md: how hot the hottest partition gets when
//! a district of 100,000 students and 5,000 staff does one thing at once.
//!
//! A small sample of each scenario runs through the real functions, whose
//! DynamoDB client records every request with its response ([`CallLog`]).
//! Each exchange becomes the capacity it takes from each partition it
//! touches ([`touches`]); a partition is then either one member's own (it
//! names a member of the sample or the one who acts, or is a member's
//! login-failure counter), whose load is that member's alone, or shared,
//! whose load grows with the district: its units in the sample × (members at
//! scale / members in the sample), over the scenario's window. The hottest
//! partition is set against DynamoDB's per-partition ceilings (1,000 write
//! units and 3,000 read units a second).
//!
//! `make bench` runs it (`--ignored --nocapture`) and prints the table.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::assessments;
use crate::calls::{CallLog, Exchange, partition_key};
use crate::helpers::{Account, TestApp, pusher};

const WRITE_CEILING: f64 = 1_000.0;
/// The days of daily partitions (`…#DAILY#2026-12-04#…`).
const DAY: &[time::format_description::FormatItem<'static>] = time::macros::format_description!("[year]-[month]-[day]");
const READ_CEILING: f64 = 3_000.0;
/// Students (or staff) of the sample; the district is extrapolated from them.
const SAMPLE: usize = 8;

/// Capacity one call takes from one partition.
#[derive(Debug, Clone, PartialEq)]
struct Touch {
    pk: String,
    write: bool,
    units: f64,
}

/// An item's size as DynamoDB counts it for capacity: each attribute's
/// name and value ([`value_size`]), from the item in DynamoDB's JSON.
fn size(item: &Value) -> f64 {
    let attributes = item.as_object().into_iter().flatten();
    attributes.map(|(name, value)| name.len() + value_size(value)).sum::<usize>() as f64
}

/// One value's size by DynamoDB's published rules: a string's or binary's
/// bytes; a number's one byte per two significant digits, plus one; one
/// byte for a boolean or null; three bytes for a list or map, and one per
/// element besides the element (and, in a map, its name).
fn value_size(value: &Value) -> usize {
    let Some((kind, inner)) = value.as_object().and_then(|typed| typed.iter().next()) else { return 0 };
    let strings = || inner.as_array().into_iter().flatten().filter_map(Value::as_str);
    match kind.as_str() {
        "S" => inner.as_str().map_or(0, str::len),
        // Base64 in the JSON; its raw bytes count.
        "B" => inner.as_str().map_or(0, |b| b.len() * 3 / 4),
        "N" => inner.as_str().map_or(0, number_size),
        "SS" => strings().map(str::len).sum(),
        "BS" => strings().map(|b| b.len() * 3 / 4).sum(),
        "NS" => strings().map(number_size).sum(),
        "L" => 3 + inner.as_array().into_iter().flatten().map(|element| 1 + value_size(element)).sum::<usize>(),
        "M" => {
            let entries = inner.as_object().into_iter().flatten();
            3 + entries.map(|(name, element)| 1 + name.len() + value_size(element)).sum::<usize>()
        }
        _ => 1,
    }
}

fn number_size(number: &str) -> usize {
    let mantissa = number.split(['e', 'E']).next().unwrap_or_default();
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len().max(1);
    significant.div_ceil(2) + 1
}

/// Write units of an item: one per KB started.
fn write_units(item: &Value) -> f64 {
    (size(item) / 1024.0).ceil().max(1.0)
}

/// Read units of `bytes` read at once: one per 4 KB started strongly
/// consistent, half that eventually consistent.
fn read_units(bytes: f64, consistent: bool) -> f64 {
    let units = (bytes / 4096.0).ceil().max(1.0);
    if consistent { units } else { units / 2.0 }
}

/// Read units of a Query: its items' bytes are summed and rounded up to
/// 4 KB once. Taken as the bytes' share plus the one unit the rounding can
/// add, so that the units grow with what a larger sample reads, where a
/// rounded count would stay flat between two small samples.
fn query_units(bytes: f64, consistent: bool) -> f64 {
    let units = bytes / 4096.0 + 1.0;
    if consistent { units } else { units / 2.0 }
}

fn consistent(request: &Value) -> bool {
    request["ConsistentRead"].as_bool() == Some(true)
}

/// The partitions of the indexes an item is filed in (`gsi1pk`, `gsi2pk`):
/// a write of the item writes each of them too, at the same units.
fn index_partitions(item: &Value) -> impl Iterator<Item = String> + '_ {
    ["gsi1pk", "gsi2pk"].into_iter().filter_map(|name| item[name]["S"].as_str().map(str::to_owned))
}

/// The capacity a call takes from each partition it touches: reads by what
/// came back, writes by what was sent (an item's index partitions with
/// it), a transaction's writes at twice their units, as DynamoDB charges
/// them. An update names only its key: its index writes are counted when
/// its answer returns the item.
fn touches(exchange: &Exchange) -> Vec<Touch> {
    let (request, response) = (&exchange.request, &exchange.response);
    let write = |item: &Value, units: f64| {
        let partitions = partition_key(item).into_iter().chain(index_partitions(item));
        partitions.map(|pk| Touch { pk, write: true, units }).collect::<Vec<_>>()
    };
    match exchange.operation.as_str() {
        "GetItem" => {
            let bytes = response.get("Item").map_or(0.0, size);
            partition_key(&request["Key"])
                .map(|pk| Touch { pk, write: false, units: read_units(bytes, consistent(request)) })
                .into_iter()
                .collect()
        }
        "Query" => {
            let bytes: f64 = response["Items"].as_array().into_iter().flatten().map(size).sum();
            let pk = request["ExpressionAttributeValues"][":pk"]["S"].as_str().map(str::to_owned);
            pk.map(|pk| Touch { pk, write: false, units: query_units(bytes, consistent(request)) })
                .into_iter()
                .collect()
        }
        "BatchGetItem" => {
            let consistent = |table: &str| consistent(&request["RequestItems"][table]);
            response["Responses"]
                .as_object()
                .into_iter()
                .flatten()
                .flat_map(|(table, items)| items.as_array().into_iter().flatten().map(move |item| (table, item)))
                .filter_map(|(table, item)| {
                    Some(Touch {
                        pk: partition_key(item)?,
                        write: false,
                        units: read_units(size(item), consistent(table)),
                    })
                })
                .collect()
        }
        "PutItem" => write(&request["Item"], write_units(&request["Item"])),
        "UpdateItem" => {
            let new = &response["Attributes"];
            let indexed = index_partitions(new).map(|pk| Touch { pk, write: true, units: write_units(new) });
            write(&request["Key"], 1.0).into_iter().chain(indexed).collect()
        }
        "DeleteItem" => write(&request["Key"], 1.0),
        "BatchWriteItem" => request["RequestItems"]
            .as_object()
            .into_iter()
            .flat_map(|tables| tables.values())
            .flat_map(|requests| requests.as_array().cloned().unwrap_or_default())
            .flat_map(|request| match request.get("PutRequest") {
                Some(put) => write(&put["Item"], write_units(&put["Item"])),
                None => write(&request["DeleteRequest"]["Key"], 1.0),
            })
            .collect(),
        "TransactWriteItems" => request["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|item| {
                let Some((kind, change)) = item.as_object().and_then(|item| item.iter().next()) else {
                    return Vec::new();
                };
                match kind.as_str() {
                    "Put" => write(&change["Item"], 2.0 * write_units(&change["Item"])),
                    _ => write(&change["Key"], 2.0),
                }
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The questions of the model's assessment: what a checkpoint quiz holds.
const QUESTIONS: usize = 20;

/// Items are read whole, so their size is part of the load: the model's are
/// of a typical size, not a test's smallest. Twenty multiple-choice
/// questions of a sentence or two, with four options each.
fn typical_questions() -> Value {
    let question = |n: usize| {
        json!({"kind": "multiple_choice", "prompt": format!("{n}. {}", "Which of these is true of the text? ".repeat(3)),
               "options": ["The first option, a short phrase", "The second option, a short phrase",
                           "The third option, a short phrase", "The fourth option, a short phrase"],
               "answer": 1, "points": 1})
    };
    Value::Array((1..=QUESTIONS).map(question).collect())
}

/// A lesson of six sections of 1,500 characters (about 1,500 words, a
/// quarter of an hour's reading), with a summary and four objectives.
fn typical_lesson() -> Value {
    let section =
        |n: usize| json!({"heading": format!("Part {n}"), "body": "A sentence of the lesson's text. ".repeat(47)});
    json!({"title": "Fractions on the number line", "summary": "What a fraction is, and where it sits. ".repeat(8),
           "objectives": ["Place a fraction", "Compare two fractions", "Find equal fractions", "Add like fractions"],
           "sections": (1..=6).map(section).collect::<Vec<_>>()})
}

/// One scenario: `members` people at scale (or recipients, for a
/// message), each acting once within `seconds`. It is sampled twice, with
/// `half` and with all of `sample`; `actor`, when one person acts for all
/// of them (a teacher's message), is their own too.
struct Scenario<'a> {
    name: &'static str,
    members: f64,
    seconds: f64,
    sample: &'a [&'a Account],
    actor: Option<&'a Account>,
}

impl Scenario<'_> {
    fn people(&self) -> impl Iterator<Item = &Account> {
        self.sample.iter().copied().chain(self.actor)
    }

    /// Whether `pk` is one person's own: it names them, or counts their
    /// failed logins (keyed by a hash of the account).
    fn own(&self, pk: &str) -> bool {
        pk.starts_with("LOGINFAIL#")
            || self.people().any(|p| pk.contains(&p.user_id) || pk.contains(&p.email.to_lowercase()))
    }

    /// A partition key with its ids named by role: what a table shows, and
    /// what the two samples' partitions are matched by.
    fn shape(&self, pk: &str, org: &str) -> String {
        let mut shape = pk.replace(org, "<org>");
        for person in self.people() {
            shape = shape.replace(&person.user_id, "<person>").replace(&person.email.to_lowercase(), "<email>");
        }
        let ulid = |part: &str| part.len() == 26 && part.parse::<ulid::Ulid>().is_ok();
        let shard = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        let day = |part: &str| time::Date::parse(part, DAY).is_ok();
        let digest = |part: &str| part.len() == 32 && part.bytes().all(|b| b.is_ascii_hexdigit());
        let parts: Vec<&str> = shape.split('#').collect();
        let last = parts.len() - 1;
        let named = parts.iter().enumerate().map(|(at, part)| match () {
            _ if ulid(part) => "<id>",
            _ if day(part) => "<day>",
            _ if digest(part) => "<digest>",
            // Our shards end their partition key (`…#<shard>`).
            _ if at == last && shard(part) => "<shard>",
            _ => part,
        });
        named.collect::<Vec<_>>().join("#")
    }

    /// The partitions of one kind of load (writes or reads) at scale,
    /// hottest first: each one's shape and its units a second. One person's
    /// own partition carries what that person's action put on it; a shared
    /// one grows with the district, along the line through its units in the
    /// two samples (`small` by the first half of the sample, `large` by all
    /// of it).
    fn ranked(&self, small: &[Exchange], large: &[Exchange], org: &str, write: bool) -> Vec<(String, f64)> {
        let units = |exchanges: &[Exchange], own: bool| {
            let mut units: BTreeMap<String, f64> = BTreeMap::new();
            for touch in exchanges.iter().flat_map(touches).filter(|t| t.write == write && self.own(&t.pk) == own) {
                // Own partitions stay apart; shared ones meet by shape.
                let key = if own { touch.pk } else { self.shape(&touch.pk, org) };
                *units.entry(key).or_default() += touch.units;
            }
            units
        };
        let own = units(large, true).into_iter().map(|(pk, units)| (self.shape(&pk, org), units / self.seconds));
        let (n_small, n_large) = ((self.sample.len() / 2) as f64, self.sample.len() as f64);
        let small = units(small, false);
        let shared = units(large, false).into_iter().map(|(shape, at_large)| {
            let at_small = small.get(&shape).copied().unwrap_or(0.0);
            let per_member = (at_large - at_small) / (n_large - n_small);
            let fixed = at_small - per_member * n_small;
            // A tenant's shards of one thing met as one shape: each takes its
            // share. (The outbox's global shards are not a tenant's.)
            let shards = match shape.strip_prefix("ORG#<org>#") {
                Some(feed) if feed.starts_with("FEED#") => f64::from(store::activity::FEED_SHARDS),
                Some(class) if class.starts_with("CLASSDAY#") => f64::from(store::counters::CLASS_SHARDS),
                Some(other) if other.ends_with("#<shard>") => f64::from(store::counters::SHARDS),
                _ => 1.0,
            };
            (shape, (fixed + per_member * self.members).max(0.0) / self.seconds / shards)
        });
        let mut ranked: Vec<(String, f64)> = own.chain(shared).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        // Each person's own partition has one shape: the busiest stands for them.
        let mut seen = std::collections::BTreeSet::new();
        ranked.retain(|(shape, _)| seen.insert(shape.clone()));
        ranked
    }

    /// The scenario's line of the table, the larger of its two shares of a
    /// ceiling, and a line naming the next hottest partitions.
    fn row(&self, small: &[Exchange], large: &[Exchange], org: &str) -> (String, f64, String) {
        let (writes, reads) = (self.ranked(small, large, org, true), self.ranked(small, large, org, false));
        let share = |ranked: &[(String, f64)], ceiling: f64| ranked.first().map_or(0.0, |(_, units)| units / ceiling);
        let cell = |ranked: &[(String, f64)], ceiling: f64| match ranked.first() {
            Some((shape, per_second)) => {
                format!("`{shape}` | {per_second:.0} | {:.0}%", 100.0 * share(ranked, ceiling))
            }
            None => "none | 0 | 0%".to_owned(),
        };
        let line = format!(
            "| {} | {} and {} of {} in {} s | {} | {} |",
            self.name,
            self.sample.len() / 2,
            self.sample.len(),
            self.members,
            self.seconds,
            cell(&writes, WRITE_CEILING),
            cell(&reads, READ_CEILING),
        );
        let next = |ranked: &[(String, f64)]| {
            let busy = ranked.iter().skip(1).take(3).filter(|(_, units)| *units >= 0.5);
            let named: Vec<String> = busy.map(|(shape, units)| format!("`{shape}` {units:.0}")).collect();
            if named.is_empty() { "none".to_owned() } else { named.join(", ") }
        };
        let detail = format!("- {}: writes {}; reads {}.", self.name, next(&writes), next(&reads));
        (line, share(&writes, WRITE_CEILING).max(share(&reads, READ_CEILING)), detail)
    }
}

/// The calls made while `act` runs for each of the first half of `people`,
/// and for all of them.
async fn sampled<'a, F, Fut>(log: &CallLog, people: &[&'a Account], act: F) -> (Vec<Exchange>, Vec<Exchange>)
where
    F: Fn(&'a Account) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (first, second) = people.split_at(people.len() / 2);
    for person in first {
        act(person).await;
    }
    let small = log.take_exchanges();
    for person in second {
        act(person).await;
    }
    let large = small.iter().cloned().chain(log.take_exchanges()).collect();
    (small, large)
}

#[tokio::test]
#[ignore = "a benchmark: make bench runs it, docs/scale.md shows its table"]
async fn the_hottest_partition_of_each_scenario() {
    let log = CallLog::default();
    let app =
        TestApp::spawn_intercepted(log.clone(), |config| config.pusher = Some(pusher("http://127.0.0.1:9"))).await;
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
    let assessment = assessments::published(&app, teacher, &students, json!({"questions": typical_questions()})).await;
    // The dashboard's finished days are settled once a day per tenant, before any scenario.
    app.get("/api/v1/dashboard/metrics").bearer(&admin.access_token).send().await.expect(StatusCode::OK, None);
    log.take_exchanges();

    let mut rows = Vec::new();
    let scenario = Scenario {
        name: "every student submits one assessment",
        members: 100_000.0,
        seconds: 600.0,
        sample: &students,
        actor: None,
    };
    let (small, large) = sampled(&log, &students, |student| {
        let (app, assessment) = (&app, &assessment);
        async move {
            let submitted = assessments::submit(app, student, assessment, 1, Value::from(vec![1; QUESTIONS]));
            submitted.await.expect(StatusCode::CREATED, None);
        }
    })
    .await;
    assert!(large.iter().flat_map(touches).any(|t| t.write), "a submission writes");
    rows.push(scenario.row(&small, &large, &org));

    // Each student reports where they are in the lesson once a minute.
    let lesson =
        crate::lessons::create(&app, teacher, typical_lesson()).await.data()["id"].as_str().unwrap().to_owned();
    let class = app.class_with(teacher, &students).await;
    crate::lessons::publish(&app, teacher, &lesson, json!([class])).await.expect(StatusCode::OK, None);
    log.take_exchanges();
    let scenario = Scenario {
        name: "every student reports lesson progress in the same minute",
        members: 100_000.0,
        seconds: 60.0,
        sample: &students,
        actor: None,
    };
    let (small, large) = sampled(&log, &students, |student| {
        let (app, lesson) = (&app, &lesson);
        async move {
            let reported =
                crate::progress::report(app, student, lesson, crate::progress::at("in_progress", 40, 600)).await;
            reported.expect(StatusCode::OK, None);
        }
    })
    .await;
    rows.push(scenario.row(&small, &large, &org));

    // One message to a class of half the sample, one to a class of all of
    // it: its recipients are the members, all within a second.
    let scenario = Scenario {
        name: "a teacher messages a class of 500",
        members: 500.0,
        seconds: 1.0,
        sample: &students,
        actor: Some(teacher),
    };
    let half = app.class_with(teacher, &students[..students.len() / 2]).await;
    let mut exchanges = Vec::new();
    for class in [&half, &class] {
        log.take_exchanges();
        app.post("/api/v1/messages")
            .bearer(&teacher.access_token)
            .json(json!({"class_id": class, "subject": "Tomorrow", "body": "Bring your notebooks."}))
            .send()
            .await
            .expect(StatusCode::CREATED, None);
        exchanges.push(log.take_exchanges());
    }
    rows.push(scenario.row(&exchanges[0], &exchanges[1], &org));

    // 5,000 staff each reading `paths` once within five minutes.
    let staff_read = |name: &'static str, paths: &'static [&'static str]| {
        let (app, log, staff, org) = (&app, &log, &staff, &org);
        async move {
            let scenario = Scenario { name, members: 5_000.0, seconds: 300.0, sample: staff, actor: None };
            let (small, large) = sampled(log, staff, |member| async move {
                for path in paths {
                    app.get(path).bearer(&member.access_token).send().await.expect(StatusCode::OK, None);
                }
            })
            .await;
            assert!(large.iter().flat_map(touches).any(|t| !t.write), "{name}: nothing read");
            scenario.row(&small, &large, org)
        }
    };
    // What a teacher's first screen reads besides the dashboard.
    const HOME: &[&str] = &["/api/v1/auth/me", "/api/v1/classes", "/api/v1/lessons", "/api/v1/messages/unread-count"];
    rows.push(staff_read("5,000 staff open their home page", HOME).await);
    // The organization's one copy of the metrics, computed by the first and
    // given to the others (the finished days were settled above); computed
    // again at most once per `dashboard.updated`, every 5 s at most.
    rows.push(staff_read("5,000 staff open the dashboard", &["/api/v1/dashboard/metrics"]).await);

    // The morning's first sign-in: a day later, so each also counts its
    // student active for the day (last: the tokens above are not signed
    // for the moved clock).
    app.clock.advance(24 * 3600);
    let scenario = Scenario { name: "a login wave", members: 50_000.0, seconds: 900.0, sample: &students, actor: None };
    let (small, large) = sampled(&log, &students, |student| {
        let app = &app;
        async move {
            app.login(&student.email, &student.password).await.expect(StatusCode::OK, None);
        }
    })
    .await;
    rows.push(scenario.row(&small, &large, &org));

    println!(
        "\n| scenario | sampled (half, all) | hottest partition (writes) | write units/s | of 1,000 | hottest partition (reads) | read units/s | of 3,000 |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (row, _, _) in &rows {
        println!("{row}");
    }
    println!("\nThe next hottest partitions, in units a second:\n");
    for (_, _, detail) in &rows {
        println!("{detail}");
    }
    let hottest = rows.iter().map(|(_, share, _)| *share).fold(0.0, f64::max);
    let verdict = match hottest <= 1.0 {
        true => format!("a margin of {:.0}%", 100.0 * (1.0 - hottest)),
        false => format!("over it by {:.0}%", 100.0 * (hottest - 1.0)),
    };
    println!("\nThe hottest partition of any scenario is at {:.0}% of its ceiling: {verdict}.", 100.0 * hottest);
}

fn exchange(operation: &str, request: Value, response: Value) -> Exchange {
    Exchange { operation: operation.into(), request, response }
}

#[test]
fn a_transaction_takes_twice_the_units_of_each_write_from_its_own_partition() {
    let request = json!({"TransactItems": [
        {"Put": {"TableName": "t", "Item": {"pk": {"S": "ORG#a"}, "sk": {"S": "X"}, "blob": {"S": "x".repeat(1500)}}}},
        {"Update": {"TableName": "t", "Key": {"pk": {"S": "ORG#a#USER#b"}, "sk": {"S": "Y"}}}},
        {"ConditionCheck": {"TableName": "t", "Key": {"pk": {"S": "ORG#c"}, "sk": {"S": "Z"}}}},
    ]});
    assert_eq!(
        touches(&exchange("TransactWriteItems", request, json!({}))),
        [
            Touch { pk: "ORG#a".into(), write: true, units: 4.0 },
            Touch { pk: "ORG#a#USER#b".into(), write: true, units: 2.0 },
            Touch { pk: "ORG#c".into(), write: true, units: 2.0 },
        ]
    );
}

#[test]
fn a_write_of_an_indexed_item_writes_its_index_partitions_too() {
    let item = json!({"pk": {"S": "ORG#a#CLASS#c"}, "sk": {"S": "CLASS#c"}, "gsi2pk": {"S": "ORG#a#LIST#CLASS"}});
    let put = exchange("PutItem", json!({"Item": item}), json!({}));
    assert_eq!(
        touches(&put),
        [
            Touch { pk: "ORG#a#CLASS#c".into(), write: true, units: 1.0 },
            Touch { pk: "ORG#a#LIST#CLASS".into(), write: true, units: 1.0 },
        ]
    );
    let update = exchange("UpdateItem", json!({"Key": {"pk": {"S": "ORG#a#CLASS#c"}}}), json!({"Attributes": item}));
    assert_eq!(touches(&update), touches(&put));
}

#[test]
fn an_item_is_sized_as_dynamodb_counts_it() {
    let item = json!({"pk": {"S": "ab"}, "n": {"N": "-120.50"}, "ok": {"BOOL": true},
                      "l": {"L": [{"S": "x"}]}, "m": {"M": {"k": {"N": "7"}}}});
    // pk 2+2; n 1+(four digits: 2)+1; ok 2+1; l 1+3+(1+1); m 1+3+(1+1+2)
    assert_eq!(size(&item), 4.0 + 4.0 + 3.0 + 6.0 + 8.0);
}

#[test]
fn reads_take_units_by_the_size_that_came_back_and_its_consistency() {
    let item = |pk: &str, bytes: usize| json!({"pk": {"S": pk}, "blob": {"S": "x".repeat(bytes)}});
    let query = exchange(
        "Query",
        json!({"ExpressionAttributeValues": {":pk": {"S": "ORG#a"}}}),
        // Two items of 4 KB each (11 bytes of names and key besides the blob).
        json!({"Items": [item("ORG#a", 4085), item("ORG#a", 4085)]}),
    );
    // 8 KB read eventually consistently, and the unit rounding may add.
    assert_eq!(touches(&query), [Touch { pk: "ORG#a".into(), write: false, units: (2.0 + 1.0) / 2.0 }]);
    let batch = exchange(
        "BatchGetItem",
        json!({"RequestItems": {"t": {"ConsistentRead": true, "Keys": []}}}),
        json!({"Responses": {"t": [item("ORG#a", 10), item("ORG#b", 5000)]}}),
    );
    assert_eq!(
        touches(&batch),
        [
            Touch { pk: "ORG#a".into(), write: false, units: 1.0 },
            Touch { pk: "ORG#b".into(), write: false, units: 2.0 }
        ]
    );
}

/// What each kind of write spends keeping the dashboard exact: its write
/// units in all, those of the counters and totals it moves in its own
/// transaction (daily counters, tenant totals, a lesson's, an
/// assessment's, a teacher's and a class's), and those of the activity
/// events written after it.
#[tokio::test]
#[ignore = "a benchmark: make bench runs it, docs/performance.md shows its table"]
async fn the_write_units_that_keep_the_dashboard_exact() {
    let log = CallLog::default();
    let app =
        TestApp::spawn_intercepted(log.clone(), |config| config.pusher = Some(pusher("http://127.0.0.1:9"))).await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let student = app.member(&admin, "student").await;
    let class = app.class_with(&teacher, &[&student]).await;
    let lesson_body = json!({"title": "Photosynthesis", "summary": "How plants make food.", "objectives": ["Explain it"],
                             "sections": [{"heading": "Light", "body": "Leaves catch light. ".repeat(75)}]});
    let token = |account: &Account| account.access_token.clone();
    let mut rows = Vec::new();
    let mut measure = |what: &str, exchanges: Vec<Exchange>| {
        let (mut all, mut counted, mut feed) = (0.0, 0.0, 0.0);
        for touch in exchanges.iter().flat_map(touches).filter(|touch| touch.write) {
            all += touch.units;
            let rest = touch.pk.split('#').skip(2).collect::<Vec<_>>().join("#");
            if ["DAILY#", "TOTALS#", "LESSONSTATS#", "ASSESSMENTSTATS#", "TAUGHT#", "CLASSDAY#"]
                .iter()
                .any(|p| rest.starts_with(p))
            {
                counted += touch.units;
            } else if rest.starts_with("FEED#") {
                feed += touch.units;
            }
        }
        rows.push(format!("| {what} | {all} | {counted} | {feed} |"));
    };
    log.take_exchanges();
    app.member(&admin, "student").await;
    measure("a member signs up (with its invite)", log.take_exchanges());
    let created = app.post("/api/v1/lessons").bearer(&token(&teacher)).json(lesson_body).send().await;
    let lesson = created.data()["id"].as_str().unwrap().to_owned();
    measure("a lesson is created (a draft)", log.take_exchanges());
    crate::lessons::publish(&app, &teacher, &lesson, json!([class])).await.expect(StatusCode::OK, None);
    measure("it is published to a class", log.take_exchanges());
    let report = |status: &str, percent: u64| {
        crate::progress::report(&app, &student, &lesson, crate::progress::at(status, percent, 60))
    };
    report("in_progress", 10).await.expect(StatusCode::OK, None);
    measure("a student starts it (first report)", log.take_exchanges());
    report("in_progress", 50).await.expect(StatusCode::OK, None);
    measure("a later report", log.take_exchanges());
    report("completed", 100).await.expect(StatusCode::OK, None);
    measure("the report that completes it", log.take_exchanges());
    let quiz = assessments::published(&app, &teacher, &[&student], json!({"questions": typical_questions()})).await;
    log.take_exchanges();
    assessments::submit(&app, &student, &quiz, 1, json!(vec![0; QUESTIONS])).await.expect(StatusCode::CREATED, None);
    measure("an assessment is submitted", log.take_exchanges());
    app.delete(&format!("/api/v1/lessons/{lesson}")).bearer(&token(&teacher)).send().await.expect(StatusCode::OK, None);
    measure("the lesson is deleted", log.take_exchanges());
    println!("\n| write | write units | of them, counters and totals | activity events after it |\n|---|---|---|---|");
    rows.iter().for_each(|row| println!("{row}"));
}

/// Issue 18's measure: a student with 100 submissions (ten assessments, ten
/// attempts each) and 500 messages (250 sent, 250 received) erased by the
/// compliance worker, timed, with its calls counted.
#[tokio::test]
#[ignore = "a benchmark: make bench runs it, docs/performance.md shows its numbers"]
async fn erasing_a_student_with_100_submissions_and_500_messages() {
    let log = CallLog::default();
    let app = TestApp::spawn_intercepted(log.clone(), |_| {}).await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let student = app.member(&admin, "student").await;
    for _ in 0..10 {
        let id = assessments::published(&app, &teacher, &[&student], json!({"max_attempts": 10})).await;
        for attempt in 1..=10 {
            let answers = assessments::answers(assessments::ALL_RIGHT);
            assessments::submit(&app, &student, &id, attempt, answers).await.expect(StatusCode::CREATED, None);
        }
    }
    for n in 0..250 {
        for (from, to) in [(&student, &teacher), (&teacher, &student)] {
            app.send_message(from, &[to], &format!("Note {n}"), "About the homework.").await;
        }
    }
    let accepted = app
        .post("/api/v1/compliance/erasures")
        .bearer(&admin.access_token)
        .json(json!({"user_id": student.user_id}))
        .send()
        .await;
    accepted.expect(StatusCode::ACCEPTED, None);
    let message = domain::privacy::PrivacyMessage {
        org_id: admin.org_id.parse().unwrap(),
        job_id: accepted.data()["id"].as_str().unwrap().parse().unwrap(),
    };
    log.take();
    let worker = toolbox_compliance::worker::Worker { state: app.state.clone() };
    let started = std::time::Instant::now();
    worker.run(&message).await.expect("the erasure runs");
    let took = started.elapsed();
    let calls = log.take();
    let mut ops: BTreeMap<&str, usize> = BTreeMap::new();
    calls.iter().for_each(|call| *ops.entry(call.as_str()).or_default() += 1);
    let job: domain::privacy::PrivacyJob =
        app.state.db.get(&admin.tenant().privacy_job(&message.job_id)).await.unwrap().unwrap();
    assert_eq!(job.status, domain::job::JobStatus::Succeeded);
    println!(
        "\nerasure of a student with 100 submissions and 500 messages: {:.2} s against moto, {} items deleted, DynamoDB calls {ops:?}",
        took.as_secs_f64(),
        job.deleted
    );
}

/// Issue 18's measure: what sealed fields cost a read. A cold instance's
/// first read of a tenant's user (one GetItem of the wrapped key and one KMS
/// Decrypt beside the item's own read), then warm reads, and decoding alone
/// with and without the three sealed fields opened.
#[tokio::test]
#[ignore = "a benchmark: make bench runs it, docs/performance.md shows its numbers"]
async fn what_sealed_fields_cost_a_read() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let key = admin.tenant().user(&admin.user_id.parse().unwrap());
    let config = (*app.state.config).clone();
    let sdk = store::aws::load_sdk_config().await;
    let cold = store::AppState::new(config, store::aws::AwsClients::new(&sdk), app.clock.clone());
    let started = std::time::Instant::now();
    let _: domain::user::User = cold.db.get(&key).await.unwrap().unwrap();
    let first = started.elapsed();
    let started = std::time::Instant::now();
    for _ in 0..100 {
        let _: domain::user::User = cold.db.get(&key).await.unwrap().unwrap();
    }
    let warm = started.elapsed() / 100;
    let raw = cold.db.batch_get(std::slice::from_ref(&key)).await.unwrap().remove(0).unwrap();
    let plain = {
        let user: domain::user::User = store::db::Db::decode(raw.clone()).unwrap();
        store::db::Db::item(&domain::tenancy::Key::new("GLOBAL#bench".into(), "x".into()), &user).unwrap()
    };
    let decode = |item: &store::db::Item, rounds: u32| {
        let started = std::time::Instant::now();
        for _ in 0..rounds {
            let _: domain::user::User = store::db::Db::decode(item.clone()).unwrap();
        }
        started.elapsed() / rounds
    };
    let (sealed_decode, plain_decode) = (decode(&raw, 10_000), decode(&plain, 10_000));
    println!(
        "\nsealed fields: a cold instance's first read {:.1} ms (item, wrapped key, KMS Decrypt against moto); a warm read {:.2} ms; decoding a user {:.1} µs sealed vs {:.1} µs in the clear (+{:.1} µs for 3 fields)",
        first.as_secs_f64() * 1000.0,
        warm.as_secs_f64() * 1000.0,
        sealed_decode.as_secs_f64() * 1e6,
        plain_decode.as_secs_f64() * 1e6,
        (sealed_decode.as_secs_f64() - plain_decode.as_secs_f64()) * 1e6,
    );
}
