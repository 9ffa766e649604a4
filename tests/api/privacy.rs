//! Consents, exports and erasures: who may ask, what the worker does, and
//! that nothing of anyone else's moves.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::assessments::{ALL_RIGHT, answers, published, submit};
use crate::helpers::{Account, TestApp, TestResponse, snapshot, unique_email};

const CONSENTS: &str = "/api/v1/compliance/consents";
const EXPORTS: &str = "/api/v1/compliance/exports";
const ERASURES: &str = "/api/v1/compliance/erasures";
const STATUS: &str = "/api/v1/compliance/status";

async fn consent(app: &TestApp, by: &Account, user: &Account, kind: &str, granted: bool) -> TestResponse {
    let body = json!({"user_id": user.user_id, "type": kind, "granted": granted});
    app.post(CONSENTS).bearer(&by.access_token).json(body).send().await
}

async fn ask(app: &TestApp, path: &str, by: &Account, user_id: &str) -> TestResponse {
    app.post(path).bearer(&by.access_token).json(json!({"user_id": user_id})).send().await
}

async fn status(app: &TestApp, admin: &Account) -> Value {
    let response = app.get(STATUS).bearer(&admin.access_token).send().await;
    response.expect(StatusCode::OK, None);
    response.data().clone()
}

/// Runs the job a 202 answered with, as the compliance worker does.
pub(crate) async fn run(app: &TestApp, admin: &Account, accepted: &TestResponse) {
    accepted.expect(StatusCode::ACCEPTED, None);
    let message = domain::privacy::PrivacyMessage {
        org_id: admin.org_id.parse().unwrap(),
        job_id: accepted.data()["id"].as_str().unwrap().parse().unwrap(),
    };
    let worker = toolbox_compliance::worker::Worker { state: app.state.clone() };
    let key = admin.tenant().privacy_job(&message.job_id);
    // Another test's poller may hold it (the queue is shared): wait for it.
    for _ in 0..200 {
        worker.run(&message).await.expect("the job runs");
        let job: domain::privacy::PrivacyJob = app.state.db.get(&key).await.unwrap().unwrap();
        if job.status.is_finished() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the job never finished");
}

fn job_path(base: &str, accepted: &TestResponse) -> String {
    format!("{base}/{}", accepted.data()["id"].as_str().unwrap())
}

#[tokio::test]
async fn a_consent_is_kept_as_history_and_the_summary_counts_students_without_it() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let (ann, ben) = (app.member(&admin, "student").await, app.member(&admin, "student").await);
    let granted = consent(&app, &admin, &ann, "coppa", true).await;
    granted.expect(StatusCode::CREATED, None);
    assert_eq!(granted.data()["user_id"], ann.user_id);
    assert_eq!(granted.data()["type"], "coppa");
    assert_eq!(granted.data()["granted"], true);
    assert_eq!(granted.data()["recorded_by"], admin.user_id);
    let summary = status(&app, &admin).await;
    assert_eq!(summary["students"], 2);
    assert_eq!(summary["consents"]["coppa"], json!({"granted": 1, "missing": 1}));
    assert_eq!(summary["consents"]["gdpr"], json!({"granted": 0, "missing": 2}));
    // Granted again: one more record, the count unchanged; then withdrawn.
    consent(&app, &admin, &ann, "coppa", true).await.expect(StatusCode::CREATED, None);
    assert_eq!(status(&app, &admin).await["consents"]["coppa"]["granted"], 1);
    consent(&app, &admin, &ann, "coppa", false).await.expect(StatusCode::CREATED, None);
    assert_eq!(status(&app, &admin).await["consents"]["coppa"], json!({"granted": 0, "missing": 2}));
    let history = app
        .state
        .db
        .query::<domain::consent::Consent>(
            &store::db::Range::of(&ann.tenant().consent_history(&ann.user_id.parse().unwrap()), ""),
            100,
            None,
        )
        .await
        .unwrap()
        .items;
    assert_eq!(history.iter().map(|c| c.granted).collect::<Vec<_>>(), [true, true, false]);
    let logged =
        app.get("/api/v1/compliance/audit-logs?action=consent.recorded").bearer(&admin.access_token).send().await;
    let newest = &logged.data()[0];
    assert_eq!(
        newest["changes"],
        json!({"before": {"type": "coppa", "granted": true}, "after": {"type": "coppa", "granted": false}})
    );
    assert_eq!(logged.data().as_array().unwrap().len(), 3);
    // A consenting student who stops being one leaves the count: by a role
    // change, a removal or an erasure.
    consent(&app, &admin, &ben, "gdpr", true).await.expect(StatusCode::CREATED, None);
    assert_eq!(status(&app, &admin).await["consents"]["gdpr"]["granted"], 1);
    app.set_role(&admin, &ben.user_id, "teacher").await;
    let summary = status(&app, &admin).await;
    assert_eq!(
        (summary["students"].clone(), summary["consents"]["gdpr"].clone()),
        (json!(1), json!({"granted": 0, "missing": 1}))
    );
    let (cleo, dan) = (app.member(&admin, "student").await, app.member(&admin, "student").await);
    for student in [&cleo, &dan] {
        consent(&app, &admin, student, "ferpa", true).await.expect(StatusCode::CREATED, None);
    }
    assert_eq!(status(&app, &admin).await["consents"]["ferpa"], json!({"granted": 2, "missing": 1}));
    app.delete(&format!("/api/v1/organizations/current/members/{}", cleo.user_id))
        .bearer(&admin.access_token)
        .send()
        .await
        .expect(StatusCode::NO_CONTENT, None);
    ask(&app, ERASURES, &admin, &dan.user_id).await.expect(StatusCode::ACCEPTED, None);
    let summary = status(&app, &admin).await;
    assert_eq!(
        (summary["students"].clone(), summary["consents"]["ferpa"].clone()),
        (json!(1), json!({"granted": 0, "missing": 1}))
    );
}

#[tokio::test]
async fn coppa_consent_comes_from_an_admin_or_a_linked_parent_only() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let (ann, ben) = (app.member(&admin, "student").await, app.member(&admin, "student").await);
    let parent = app.member(&admin, "parent").await;
    app.link_parent(&admin, &parent, &ann).await;
    consent(&app, &ann, &ann, "coppa", true).await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    consent(&app, &ann, &ann, "gdpr", true).await.expect(StatusCode::CREATED, None);
    consent(&app, &ann, &ben, "gdpr", true).await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    consent(&app, &teacher, &ann, "ferpa", true).await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    consent(&app, &parent, &ben, "coppa", true).await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    consent(&app, &parent, &ann, "coppa", true).await.expect(StatusCode::CREATED, None);
    // Another tenant's member is no member here, and nothing of theirs changes.
    let other = app.register_org().await;
    let stranger = app.member(&other, "student").await;
    let before = snapshot(&app, &other).await;
    consent(&app, &admin, &stranger, "coppa", true).await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    assert_eq!(snapshot(&app, &other).await, before);
    // An integration records no consent.
    let key = app.create_api_key(&admin, json!({"name": "sis", "scopes": ["read", "write", "admin"]})).await;
    let body = json!({"user_id": ann.user_id, "type": "ferpa", "granted": true});
    app.post(CONSENTS).api_key(&key.key).json(body).send().await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
}

#[tokio::test]
async fn bad_consent_bodies_are_refused_and_record_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let ann = app.member(&admin, "student").await;
    let before = snapshot(&app, &admin).await;
    for body in [
        json!({"user_id": ann.user_id, "type": "hipaa", "granted": true}),
        json!({"user_id": ann.user_id, "type": "coppa", "granted": "yes"}),
        json!({"user_id": ann.user_id, "type": "coppa"}),
        json!({"user_id": "not-an-id", "type": "coppa", "granted": true}),
        json!({"user_id": ann.user_id, "type": "coppa", "granted": true, "recorded_by": admin.user_id}),
        json!([1, 2]),
    ] {
        let response = app.post(CONSENTS).bearer(&admin.access_token).json(body.clone()).send().await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", response.text);
    }
    app.post(CONSENTS)
        .bearer(&admin.access_token)
        .raw("application/json", "{\"user_id\": ")
        .send()
        .await
        .expect(StatusCode::BAD_REQUEST, Some("bad_request"));
    let huge =
        json!({"user_id": ann.user_id, "type": "coppa", "granted": true, "pad": "x".repeat(web::json::BODY_LIMIT)});
    let response = app.post(CONSENTS).bearer(&admin.access_token).json(huge).send().await;
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", response.text);
    assert_eq!(snapshot(&app, &admin).await, before);
}

/// A school where `ann` has a class, a submission, a lesson's progress,
/// messages both ways and a parent; `ben` is in the same class.
struct School {
    admin: Account,
    teacher: Account,
    ann: Account,
    ben: Account,
    parent: Account,
    assessment: String,
}

async fn school(app: &TestApp) -> School {
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let (ann, ben) = (app.member(&admin, "student").await, app.member(&admin, "student").await);
    let parent = app.member(&admin, "parent").await;
    app.link_parent(&admin, &parent, &ann).await;
    let assessment = published(app, &teacher, &[&ann, &ben], json!({})).await;
    for student in [&ann, &ben] {
        submit(app, student, &assessment, 1, answers(ALL_RIGHT)).await.expect(StatusCode::CREATED, None);
    }
    let lesson = crate::progress::published_lesson(app, &teacher, &[&ann]).await;
    crate::progress::report(app, &ann, &lesson, crate::progress::at("completed", 100, 60))
        .await
        .expect(StatusCode::OK, None);
    app.send_message(&ann, &[&teacher], "Homework", "Ann's question about leaves.").await;
    app.send_message(&teacher, &[&ann, &ben], "Reminder", "Bring your books.").await;
    School { admin, teacher, ann, ben, parent, assessment }
}

#[tokio::test]
async fn a_students_export_holds_their_data_and_no_other_students() {
    let app = TestApp::spawn().await;
    let s = school(&app).await;
    let accepted = ask(&app, EXPORTS, &s.ann, &s.ann.user_id).await;
    assert_eq!(accepted.data()["status"], "queued");
    let path = job_path(EXPORTS, &accepted);
    let queued = app.get(&path).bearer(&s.ann.access_token).send().await;
    queued.expect(StatusCode::OK, None);
    assert!(queued.data().get("download_url").is_none());
    run(&app, &s.admin, &accepted).await;
    let done = app.get(&path).bearer(&s.ann.access_token).send().await;
    done.expect(StatusCode::OK, None);
    assert_eq!(done.data()["status"], "succeeded", "{}", done.text);
    let url = done.data()["download_url"].as_str().unwrap();
    assert!(url.contains("X-Amz-Expires=900"), "{url}");
    let bundle: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    let text = bundle.to_string();
    assert_eq!(bundle["profile"]["email"], s.ann.email);
    assert_eq!(bundle["submissions"].as_array().unwrap().len(), 1);
    assert_eq!(bundle["submissions"][0]["student_id"], s.ann.user_id);
    assert_eq!(bundle["submissions"][0]["assessment_id"], s.assessment);
    assert_eq!(bundle["progress"].as_array().unwrap().len(), 1);
    assert_eq!(bundle["classes"].as_array().unwrap().len(), 2);
    assert_eq!(bundle["messages"]["sent"].as_array().unwrap().len(), 1);
    assert_eq!(bundle["messages"]["received"].as_array().unwrap().len(), 1);
    assert!(bundle["audit_entries"].as_array().unwrap().iter().any(|e| e["action"] == "export.requested"));
    for other in [&s.ben.email, &s.teacher.email, &s.parent.email, &s.admin.email] {
        assert!(!text.contains(other.as_str()), "the bundle holds {other}");
    }
    assert!(!text.contains(&s.ben.user_id), "the bundle names another student");
    // The teacher wrote to her: the copy says who by id, not by name.
    assert!(bundle["messages"]["received"][0].get("sender_name").is_none());
    assert_eq!(bundle["messages"]["sent"][0]["sender_name"], "Max Member");
    // The admin reads it too; another member, even the teacher, does not.
    app.get(&path).bearer(&s.admin.access_token).send().await.expect(StatusCode::OK, None);
    app.get(&path).bearer(&s.ben.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    app.get(&path).bearer(&s.teacher.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    app.get(&format!("{EXPORTS}/{}", ulid::Ulid::new()))
        .bearer(&s.admin.access_token)
        .send()
        .await
        .expect(StatusCode::NOT_FOUND, Some("not_found"));
}

#[tokio::test]
async fn an_export_asked_for_before_an_erasure_is_never_made() {
    let app = TestApp::spawn().await;
    let s = school(&app).await;
    let export = ask(&app, EXPORTS, &s.ann, &s.ann.user_id).await;
    export.expect(StatusCode::ACCEPTED, None);
    let erasure = ask(&app, ERASURES, &s.admin, &s.ann.user_id).await;
    run(&app, &s.admin, &export).await;
    let failed = app.get(&job_path(EXPORTS, &export)).bearer(&s.admin.access_token).send().await;
    assert_eq!((failed.data()["status"].as_str(), failed.data()["error"].as_str()), (Some("failed"), Some("erased")));
    assert!(failed.data().get("download_url").is_none());
    run(&app, &s.admin, &erasure).await;
    assert_eq!(app.export_objects(&s.ann).await, 0);
}

#[tokio::test]
async fn exports_go_to_the_member_their_parent_or_an_admin_only() {
    let app = TestApp::spawn().await;
    let s = school(&app).await;
    ask(&app, EXPORTS, &s.parent, &s.ann.user_id).await.expect(StatusCode::ACCEPTED, None);
    ask(&app, EXPORTS, &s.parent, &s.ben.user_id).await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    ask(&app, EXPORTS, &s.teacher, &s.ann.user_id).await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    ask(&app, EXPORTS, &s.ben, &s.ann.user_id).await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    ask(&app, EXPORTS, &s.admin, &s.ben.user_id).await.expect(StatusCode::ACCEPTED, None);
    let other = app.register_org().await;
    let before = snapshot(&app, &s.admin).await;
    ask(&app, EXPORTS, &other, &s.ann.user_id).await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    assert_eq!(snapshot(&app, &s.admin).await, before);
    for body in [json!({}), json!({"user_id": 7}), json!({"user_id": s.ann.user_id, "format": "zip"})] {
        let response = app.post(EXPORTS).bearer(&s.admin.access_token).json(body).send().await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", response.text);
    }
}

#[tokio::test]
async fn an_erasure_signs_out_at_once_then_deletes_and_keeps_the_statistics() {
    let app = TestApp::spawn().await;
    let s = school(&app).await;
    let export = ask(&app, EXPORTS, &s.admin, &s.ann.user_id).await;
    run(&app, &s.admin, &export).await;
    let stats_path = format!("/api/v1/assessments/{}/statistics", s.assessment);
    let stats = app.get(&stats_path).bearer(&s.teacher.access_token).send().await.data().clone();
    let class_before = app.get("/api/v1/classes").bearer(&s.teacher.access_token).send().await;
    let counts = |page: &TestResponse| -> Vec<Value> {
        page.data().as_array().unwrap().iter().map(|class| class["student_count"].clone()).collect()
    };

    let accepted = ask(&app, ERASURES, &s.admin, &s.ann.user_id).await;
    accepted.expect(StatusCode::ACCEPTED, None);
    assert_eq!(accepted.data()["steps_total"], 6);
    // At once: her token is refused, her password too.
    app.get("/api/v1/auth/me").bearer(&s.ann.access_token).send().await.expect(StatusCode::UNAUTHORIZED, None);
    app.login(&s.ann.email, &s.ann.password).await.expect(StatusCode::UNAUTHORIZED, None);
    // A second erasure, and an export, of someone being erased.
    ask(&app, ERASURES, &s.admin, &s.ann.user_id).await.expect(StatusCode::CONFLICT, Some("conflict"));
    ask(&app, EXPORTS, &s.admin, &s.ann.user_id).await.expect(StatusCode::NOT_FOUND, Some("not_found"));

    run(&app, &s.admin, &accepted).await;
    let done = app.get(&job_path(ERASURES, &accepted)).bearer(&s.admin.access_token).send().await;
    assert_eq!(done.data()["status"], "succeeded", "{}", done.text);
    assert_eq!(done.data()["steps_done"].as_array().unwrap().len(), 6);
    assert!(done.data()["deleted"].as_u64().unwrap() >= 5, "{}", done.text);

    // Nothing of hers is left in her partition, the index or the bucket.
    let tenant = s.ann.tenant();
    let ann: domain::ids::UserId = s.ann.user_id.parse().unwrap();
    let own = app.state.db.keys(&store::db::Range::of(&tenant.user_partition(&ann), ""), 100).await.unwrap().0;
    assert!(own.is_empty(), "{own:?}");
    let held = app.state.db.keys(&store::db::Range::gsi1(&tenant.held_by(&ann), ""), 100).await.unwrap().0;
    assert!(held.is_empty(), "{held:?}");
    let submitted = app.state.db.keys(&store::db::Range::gsi1(&tenant.submitted_by(&ann), ""), 100).await.unwrap().0;
    assert!(submitted.is_empty(), "{submitted:?}");
    assert_eq!(app.export_objects(&s.ann).await, 0);
    let children = app
        .get(&format!("/api/v1/organizations/current/members/{}/children", s.parent.user_id))
        .bearer(&s.admin.access_token)
        .send()
        .await;
    assert!(children.data().as_array().unwrap().is_empty());
    // What she sent stays, from "deleted user"; statistics stay; classes count one fewer.
    let inbox = app.get("/api/v1/messages").bearer(&s.teacher.access_token).send().await;
    let from_her = inbox.data().as_array().unwrap().iter().find(|m| m["subject"] == "Homework").expect("her message");
    assert_eq!(from_her["sender_name"], "deleted user");
    assert_eq!(app.get(&stats_path).bearer(&s.teacher.access_token).send().await.data(), &stats);
    let class_after = app.get("/api/v1/classes").bearer(&s.teacher.access_token).send().await;
    let (before, after) = (counts(&class_before), counts(&class_after));
    let dropped: i64 = before.iter().zip(&after).map(|(b, a)| b.as_i64().unwrap() - a.as_i64().unwrap()).sum();
    assert_eq!(dropped, 2, "her two classes count one fewer each: {before:?} → {after:?}");
    // Her address may register again; the audit log keeps her id only.
    let again = json!({"email": s.ann.email, "password": "another-password-1", "first_name": "A", "last_name": "N",
        "organization_name": "Elsewhere"});
    app.post("/api/v1/auth/register").json(again).send().await.expect(StatusCode::CREATED, None);
    let logged = app
        .get(&format!("/api/v1/compliance/audit-logs?target_id={}", s.ann.user_id))
        .bearer(&s.admin.access_token)
        .send()
        .await;
    let actions: Vec<&str> = logged.data().as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"erasure.completed") && actions.contains(&"erasure.requested"), "{actions:?}");
    assert!(!logged.text.contains(&s.ann.email));
    ask(&app, ERASURES, &s.admin, &s.ann.user_id).await.expect(StatusCode::NOT_FOUND, Some("not_found"));
}

#[tokio::test]
async fn erasure_is_an_admins_and_never_of_the_last_admin() {
    let app = TestApp::spawn().await;
    let s = school(&app).await;
    ask(&app, ERASURES, &s.ann, &s.ben.user_id).await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    ask(&app, ERASURES, &s.teacher, &s.ben.user_id).await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    ask(&app, ERASURES, &s.ann, &s.ann.user_id).await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    let before = snapshot(&app, &s.admin).await;
    ask(&app, ERASURES, &s.admin, &s.admin.user_id).await.expect(StatusCode::CONFLICT, Some("conflict"));
    assert_eq!(snapshot(&app, &s.admin).await, before, "a refused erasure changes nothing");
    let other = app.register_org().await;
    ask(&app, ERASURES, &other, &s.ben.user_id).await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    assert_eq!(snapshot(&app, &s.admin).await, before);
    // A former member (removed before) can be erased too.
    app.delete(&format!("/api/v1/organizations/current/members/{}", s.ben.user_id))
        .bearer(&s.admin.access_token)
        .send()
        .await
        .expect(StatusCode::NO_CONTENT, None);
    let accepted = ask(&app, ERASURES, &s.admin, &s.ben.user_id).await;
    run(&app, &s.admin, &accepted).await;
    let done = app.get(&job_path(ERASURES, &accepted)).bearer(&s.admin.access_token).send().await;
    assert_eq!(done.data()["status"], "succeeded");
    app.get(&job_path(ERASURES, &accepted))
        .bearer(&s.teacher.access_token)
        .send()
        .await
        .expect(StatusCode::FORBIDDEN, Some("forbidden"));
}

#[tokio::test]
async fn an_erasure_whose_worker_stopped_resumes_at_its_step() {
    let app = TestApp::spawn().await;
    let s = school(&app).await;
    let accepted = ask(&app, ERASURES, &s.admin, &s.ann.user_id).await;
    accepted.expect(StatusCode::ACCEPTED, None);
    // As if a worker had claimed it, finished the first two steps and died.
    let tenant = s.admin.tenant();
    let id: domain::ids::PrivacyJobId = accepted.data()["id"].as_str().unwrap().parse().unwrap();
    let mut job: domain::privacy::PrivacyJob = app.state.db.get(&tenant.privacy_job(&id)).await.unwrap().unwrap();
    job.status = domain::job::JobStatus::Running;
    job.attempts = 1;
    job.lease_until = Some(app.state.now().unix_timestamp() - 1);
    job.steps_done = vec![domain::privacy::ErasureStep::Memberships, domain::privacy::ErasureStep::Progress];
    app.state.db.overwrite(&tenant.privacy_job(&id), &job).await.unwrap();
    run(&app, &s.admin, &accepted).await;
    let done: domain::privacy::PrivacyJob = app.state.db.get(&tenant.privacy_job(&id)).await.unwrap().unwrap();
    assert_eq!(done.status, domain::job::JobStatus::Succeeded);
    assert_eq!(done.attempts, 2);
    assert_eq!(done.steps_done, domain::privacy::ErasureStep::ALL);
    // The steps recorded done were not run again (her roster entries, which
    // only the first step deletes, are still there); those after were.
    let ann: domain::ids::UserId = s.ann.user_id.parse().unwrap();
    let held = tenant.held_by(&ann);
    let rosters = store::db::Range::gsi1(&held, domain::tenancy::Tenant::CLASS_PREFIX);
    assert_eq!(app.state.db.keys(&rosters, 10).await.unwrap().0.len(), 2);
    assert!(app.state.db.keys(&store::db::Range::of(&tenant.user_partition(&ann), ""), 10).await.unwrap().0.is_empty());
    assert_eq!(status(&app, &s.admin).await["erasures_pending"], 0);
}

#[tokio::test]
async fn jobs_run_from_the_queue_as_deployed() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let ann = app.member(&admin, "student").await;
    let accepted = ask(&app, EXPORTS, &admin, &ann.user_id).await;
    accepted.expect(StatusCode::ACCEPTED, None);
    assert_eq!(status(&app, &admin).await["exports_pending"], 1);
    // The poller shares the test run's queue: it runs other tests' jobs too.
    let poller = toolbox_local::worker::Poller {
        worker: std::sync::Arc::new(toolbox_compliance::worker::Worker { state: app.state.clone() }),
        sqs: app.state.aws.sqs().clone(),
        queue_url: app.state.config.compliance_queue_url.clone(),
        visibility_timeout: Some(1),
    };
    let path = job_path(EXPORTS, &accepted);
    for _ in 0..60 {
        if poller.poll_once().await.unwrap() == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let job = app.get(&path).bearer(&admin.access_token).send().await;
        if job.data()["status"] == "succeeded" {
            assert_eq!(status(&app, &admin).await["exports_pending"], 0);
            let summary = status(&app, &admin).await;
            assert_eq!(summary["audit_last_24_hours"]["export.completed"], 1, "{summary}");
            assert_eq!(summary["audit_complete"], true);
            return;
        }
    }
    panic!("the export never ran from the queue");
}

#[tokio::test]
async fn the_summary_is_for_admins() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    for role in ["teacher", "student", "parent"] {
        let member = app.member(&admin, role).await;
        app.get(STATUS).bearer(&member.access_token).send().await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    }
    let email = unique_email("s");
    app.invite(&admin, &email, "student").await;
    let summary = status(&app, &admin).await;
    assert_eq!(summary["audit_last_24_hours"]["invite.created"], 4);
}
