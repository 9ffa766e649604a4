//! `dashboard.updated`: announced from the table's stream, once per
//! organization whose numbers moved, at most every five seconds.

use std::sync::Arc;

use integrations::pusher::Realtime;
use serde_json::Value;
use toolbox_dashboard_events::Announcer;
use toolbox_local::stream::StreamPoller;

use domain::day::Day;
use store::counters::{Counter, Counts};

use crate::helpers::TestApp;

fn announcer(app: &TestApp) -> Announcer {
    Announcer { state: app.state.clone(), realtime: Realtime::configured(&app.state) }
}

/// The events Pusher accepted for `org`'s staff channel.
fn announced(seen: &std::sync::Mutex<Vec<Value>>, org: &str) -> Vec<Value> {
    let channel = Value::from(format!("private-org-{org}"));
    seen.lock()
        .unwrap()
        .iter()
        .filter(|event| event["channels"].as_array().unwrap().contains(&channel))
        .cloned()
        .collect()
}

/// The sample stream batch of `events/`, its organization swapped for
/// `org`, and the organization whose expired counter it also holds for
/// `expired`.
fn sample_batch(org: &str, expired: &str) -> aws_lambda_events::dynamodb::Event {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/dashboard-events/stream.json");
    let text = std::fs::read_to_string(dir).unwrap();
    let text = text.replace("01JEVENTS0000000000000000A", org).replace("01JEVENTS0000000000000000Z", expired);
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn the_stream_event_announces_its_organization_once_and_then_waits() {
    let (app, seen) = TestApp::spawn_with_fake_pusher().await;
    let (org, expired) = (app.register_org().await.org_id, app.register_org().await.org_id);
    let announcer = announcer(&app);
    // Five seconds decided to the second: a slow moment of the test must not count.
    app.clock.freeze();
    // A counter, a totals shard, a user and a kept answer changed: one
    // announcement. Another organization's counter shard expired (TTL): none.
    assert_eq!(announcer.handle(sample_batch(&org, &expired)).await, 1);
    assert!(announced(&seen, &expired).is_empty());
    let events = announced(&seen, &org);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["name"], "dashboard.updated");
    let data: Value = serde_json::from_str(events[0]["data"].as_str().unwrap()).unwrap();
    assert_eq!(data["organization_id"], org.as_str());

    // More changes within five seconds: nothing more.
    app.clock.advance(4);
    assert_eq!(announcer.handle(sample_batch(&org, &expired)).await, 0);
    assert_eq!(announced(&seen, &org).len(), 1);
    app.clock.advance(2);
    assert_eq!(announcer.handle(sample_batch(&org, &expired)).await, 1);
    assert_eq!(announced(&seen, &org).len(), 2);
}

#[tokio::test]
async fn changes_that_move_no_numbers_announce_nothing() {
    let (app, seen) = TestApp::spawn_with_fake_pusher().await;
    let admin = app.register_org().await;
    let tenant = admin.tenant();
    let quiet =
        [tenant.series_partition(), tenant.cached_answer("x").pk, tenant.organization().pk, "LOOKUP#x".to_owned()];
    assert_eq!(announcer(&app).announce(quiet.iter().map(String::as_str)).await, 0);
    assert!(announced(&seen, &admin.org_id).is_empty());
}

#[tokio::test]
async fn concurrent_batches_announce_an_organization_once() {
    let (app, seen) = TestApp::spawn_with_fake_pusher().await;
    let (org, expired) = (app.register_org().await.org_id, app.register_org().await.org_id);
    let (one, two) = (announcer(&app), announcer(&app));
    let (a, b) = tokio::join!(one.handle(sample_batch(&org, &expired)), two.handle(sample_batch(&org, &expired)));
    assert_eq!(a + b, 1);
    assert_eq!(announced(&seen, &org).len(), 1);
}

#[tokio::test]
async fn a_write_reaches_the_staff_channel_through_the_tables_stream() {
    let (app, seen) = TestApp::spawn_with_fake_pusher().await;
    let streams = aws_sdk_dynamodbstreams::Client::new(&store::aws::load_sdk_config().await);
    let mut poller = StreamPoller::new(streams, &app.state.config.table_name, Arc::new(announcer(&app))).await.unwrap();
    // Signing up moves the new organization's totals and today's counters.
    let org = app.register_org().await.org_id;
    poller.poll_once().await.unwrap();
    assert_eq!(announced(&seen, &org).len(), 1, "one dashboard.updated for the new organization");
}

#[tokio::test]
async fn the_next_days_first_announcement_keeps_the_days_before_without_a_reader() {
    let (app, _) = TestApp::spawn_with_fake_pusher().await;
    let tenant = app.register_org().await.tenant();
    let announcer = announcer(&app);
    let counted = |day: Day| tenant.daily_counter(&day, 0).pk;
    let signed_up = Day::of(app.state.now());
    let db = app.state.db.clone();
    let kept = |day: Day| {
        let (key, db) = (tenant.series_day(&day), db.clone());
        async move { db.batch_get(&[key]).await.unwrap().remove(0) }
    };
    // Sign-up moved today's counters: the first announcement only notes the day.
    assert_eq!(announcer.announce([counted(signed_up).as_str()]).await, 1);
    assert_eq!(kept(signed_up).await, None, "a running day is not settled");
    // Nobody opens the dashboard; three days later the counters move again.
    app.clock.advance(3 * 24 * 3600);
    let today = Day::of(app.state.now());
    assert_eq!(announcer.announce([counted(today).as_str()]).await, 1);
    let day = Counts::<Counter>::of_item(kept(signed_up).await.as_ref());
    assert_eq!(day.get(Counter::MembersJoined), 1, "the sign-up day, summed from its shards");
    for quiet in [signed_up.plus(1), signed_up.plus(2)] {
        let settled = kept(quiet).await.expect("each day since is settled, zeros included");
        assert_eq!(Counts::<Counter>::of_item(Some(&settled)).get(Counter::MembersJoined), 0);
    }
    assert_eq!(kept(today).await, None);
    // Later announcements the same day settle nothing more.
    app.clock.advance(10);
    assert_eq!(store::series::keep_up(&app.state, &tenant).await.unwrap(), 0);
}
