//! Content generation end to end, and the content it makes: jobs, reads,
//! versioned edits, publishing, soft deletes, search and tenant isolation.

use axum::http::StatusCode;
use domain::content::{ContentItem, SUPERSEDED_TAG};
use domain::job::{Job, JobStatus};
use domain::tenancy::global;
use serde_json::{Value, json};
use store::outbox;

use crate::helpers::{Account, TestApp};

fn lesson() -> Value {
    json!({"type": "lesson", "subject": "Biology", "grade_level": 7, "topic": "Photosynthesis",
           "learning_objectives": ["Explain what chlorophyll does"], "num_questions": 3})
}

fn quiz() -> Value {
    json!({"type": "quiz", "subject": "Maths", "grade_level": 4, "topic": "Fractions", "num_questions": 4})
}

/// The outbox entry `POST /content/generate` wrote beside `job`.
fn outbox_entry(job: &Job) -> domain::tenancy::Key {
    let written = time::OffsetDateTime::parse(&job.audit.created_at, &time::format_description::well_known::Rfc3339);
    global::outbox(&job.id, written.unwrap().unix_timestamp())
}

async fn content(app: &TestApp, account: &Account, id: &str) -> crate::helpers::TestResponse {
    app.get(&format!("/api/v1/content/{id}")).bearer(&account.access_token).send().await
}

/// Every question has 2 to 6 options and an `answer_index` among them.
fn assert_valid_questions(questions: &Value, count: usize) {
    let questions = questions.as_array().expect("questions");
    assert_eq!(questions.len(), count);
    for q in questions {
        let options = q["options"].as_array().unwrap().len();
        assert!((2..=6).contains(&options), "{q}");
        assert!(q["answer_index"].as_u64().unwrap() < options as u64, "{q}");
    }
}

#[tokio::test]
async fn a_teachers_request_is_queued_run_by_the_local_poller_and_its_lesson_is_readable() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let accepted = app
        .post("/api/v1/content/generate")
        .bearer(&teacher.access_token)
        .header("x-request-id", "e2e-generation-request")
        .json(lesson())
        .send()
        .await;
    accepted.expect(StatusCode::ACCEPTED, None);
    let job_id = accepted.data()["job_id"].as_str().unwrap().to_owned();
    assert_eq!(accepted.data()["status"], "queued");
    assert_eq!(accepted.data()["status_url"], format!("/api/v1/content/jobs/{job_id}"));
    assert_eq!(accepted.headers["x-ratelimit-limit"], "10");
    assert_eq!(accepted.headers["x-ratelimit-remaining"], "9");
    let job: Job = app.state.db.get(&teacher.tenant().job(&job_id.parse().unwrap())).await.unwrap().unwrap();
    assert_eq!(job.request_id, "e2e-generation-request", "the request id travels with the job");
    // The message was sent, so its outbox entry is settled.
    assert!(app.raw_item(&outbox_entry(&job)).await.is_none());

    // The poller shares the test run's queue: it runs other tests' jobs too.
    let poller = toolbox_local::worker::Poller {
        worker: app.worker(integrations::generation::template::TemplateProvider),
        sqs: app.state.aws.sqs().clone(),
        queue_url: app.state.config.queue_url.clone(),
        visibility_timeout: Some(1),
    };
    let path = format!("/api/v1/content/jobs/{job_id}");
    let mut status = String::new();
    for _ in 0..60 {
        if poller.poll_once().await.unwrap() == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        let job = app.get(&path).bearer(&teacher.access_token).send().await;
        job.expect(StatusCode::OK, None);
        status = job.data()["status"].as_str().unwrap().to_owned();
        if status == "succeeded" || status == "failed" {
            break;
        }
    }
    assert_eq!(status, "succeeded");
    let job = app.get(&path).bearer(&teacher.access_token).send().await;
    assert_eq!((job.data()["progress"].as_u64(), job.data()["type"].as_str()), (Some(100), Some("lesson")));
    let content_id = job.data()["content_id"].as_str().unwrap().to_owned();

    let read = content(&app, &teacher, &content_id).await;
    read.expect(StatusCode::OK, None);
    let lesson = read.data();
    assert_eq!((lesson["type"].as_str(), lesson["status"].as_str()), (Some("lesson"), Some("draft")));
    assert_eq!(lesson["provider"], "template", "the offline provider names itself");
    assert_eq!(lesson["job_id"], job_id.as_str());
    assert!(!lesson["sections"].as_array().unwrap().is_empty());
    assert!(lesson["sections"].as_array().unwrap().iter().all(|s| !s["body"].as_str().unwrap().is_empty()));
    assert_valid_questions(&lesson["quiz"], 3);
    assert!(lesson["objectives"].as_array().unwrap().iter().any(|o| o.as_str().unwrap().contains("chlorophyll")));
    assert_eq!(read.headers["etag"], "\"1\"");
    let again = app
        .get(&format!("/api/v1/content/{content_id}"))
        .bearer(&teacher.access_token)
        .header("if-none-match", "\"1\"")
        .send()
        .await;
    again.expect(StatusCode::NOT_MODIFIED, None);
}

#[tokio::test]
async fn a_quiz_has_questions_and_no_sections() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let made = app.generated(&admin, quiz()).await;
    let read = content(&app, &admin, &made.content_id).await;
    read.expect(StatusCode::OK, None);
    assert_eq!(read.data()["type"], "quiz");
    assert!(read.data().get("sections").is_none() && read.data().get("quiz").is_none());
    assert_valid_questions(&read.data()["questions"], 4);
}

#[tokio::test]
async fn jobs_are_listed_newest_first_and_by_status_from_the_index() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let done = app.generated(&admin, quiz()).await;
    let queued = app.post("/api/v1/content/generate").bearer(&admin.access_token).json(lesson()).send().await;
    let queued_id = queued.data()["job_id"].as_str().unwrap().to_owned();
    let ids = |response: &crate::helpers::TestResponse| -> Vec<String> {
        response.data().as_array().unwrap().iter().map(|j| j["id"].as_str().unwrap().to_owned()).collect()
    };
    let all = app.get("/api/v1/content/jobs").bearer(&admin.access_token).send().await;
    all.expect(StatusCode::OK, None);
    assert_eq!(ids(&all), vec![queued_id.clone(), done.job_id.clone()]);
    let succeeded = app.get("/api/v1/content/jobs?status=succeeded").bearer(&admin.access_token).send().await;
    assert_eq!(ids(&succeeded), vec![done.job_id.clone()]);
    let waiting = app.get("/api/v1/content/jobs?status=queued").bearer(&admin.access_token).send().await;
    assert_eq!(ids(&waiting), vec![queued_id]);
    let first = app.get("/api/v1/content/jobs?limit=1").bearer(&admin.access_token).send().await;
    let cursor = first.body["metadata"]["next_cursor"].as_str().unwrap().to_owned();
    let second =
        app.get(&format!("/api/v1/content/jobs?limit=1&cursor={cursor}")).bearer(&admin.access_token).send().await;
    assert_eq!(ids(&second), vec![done.job_id]);
    // A cursor of the unfiltered list does not page through a filtered one.
    app.get(&format!("/api/v1/content/jobs?status=queued&cursor={cursor}"))
        .bearer(&admin.access_token)
        .send()
        .await
        .expect(StatusCode::BAD_REQUEST, Some("bad_request"));
    for bad in ["status=done", "status=", "status=QUEUED"] {
        app.get(&format!("/api/v1/content/jobs?{bad}"))
            .bearer(&admin.access_token)
            .send()
            .await
            .expect(StatusCode::BAD_REQUEST, Some("bad_request"));
    }
}

#[tokio::test]
async fn the_same_idempotency_key_gives_the_same_job_and_another_body_with_it_is_a_422() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let send = |body: Value, key: &'static str| {
        app.post("/api/v1/content/generate").bearer(&admin.access_token).header("idempotency-key", key).json(body)
    };
    let first = send(lesson(), "lesson-42").send().await;
    first.expect(StatusCode::ACCEPTED, None);
    // Same request, other spacing and key order: the same job.
    let reordered = json!({"topic": "Photosynthesis", "num_questions": 3, "grade_level": 7, "subject": "Biology",
                           "type": "lesson", "learning_objectives": ["Explain what chlorophyll does"]});
    let second = send(reordered, "lesson-42").send().await;
    second.expect(StatusCode::ACCEPTED, None);
    assert_eq!(first.data()["job_id"], second.data()["job_id"]);
    let changed = send(quiz(), "lesson-42").send().await;
    changed.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
    assert_eq!(changed.body["error"]["details"][0]["field"], "Idempotency-Key");
    let jobs = app.get("/api/v1/content/jobs").bearer(&admin.access_token).send().await;
    assert_eq!(jobs.data().as_array().unwrap().len(), 1, "one job for one key");
    // Another user's key is their own.
    let teacher = app.member(&admin, "teacher").await;
    let theirs = app
        .post("/api/v1/content/generate")
        .bearer(&teacher.access_token)
        .header("idempotency-key", "lesson-42")
        .json(quiz())
        .send()
        .await;
    theirs.expect(StatusCode::ACCEPTED, None);
    assert_ne!(theirs.data()["job_id"], first.data()["job_id"]);
    for bad in ["", &"k".repeat(256), "with space"] {
        app.post("/api/v1/content/generate")
            .bearer(&admin.access_token)
            .header("idempotency-key", bad)
            .json(lesson())
            .send()
            .await
            .expect(StatusCode::BAD_REQUEST, Some("bad_request"));
    }
}

#[tokio::test]
async fn concurrent_requests_with_one_idempotency_key_make_one_job() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let send = || {
        app.post("/api/v1/content/generate")
            .bearer(&admin.access_token)
            .header("idempotency-key", "race")
            .json(lesson())
            .send()
    };
    let (a, b, c) = tokio::join!(send(), send(), send());
    let ids: Vec<&Value> = [&a, &b, &c].iter().map(|r| &r.data()["job_id"]).collect();
    for response in [&a, &b, &c] {
        response.expect(StatusCode::ACCEPTED, None);
    }
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let jobs = app.get("/api/v1/content/jobs").bearer(&admin.access_token).send().await;
    assert_eq!(jobs.data().as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_generation_quota_answers_429_with_retry_after_and_counts_per_user() {
    let app = TestApp::spawn_with(|config| config.generations_per_minute = 2).await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    for remaining in ["1", "0"] {
        let ok = app.post("/api/v1/content/generate").bearer(&admin.access_token).json(quiz()).send().await;
        ok.expect(StatusCode::ACCEPTED, None);
        assert_eq!(ok.headers["x-ratelimit-remaining"], remaining);
    }
    let refused = app.post("/api/v1/content/generate").bearer(&admin.access_token).json(quiz()).send().await;
    refused.expect(StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"));
    let retry: i64 = refused.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(refused.headers["x-ratelimit-remaining"], "0");
    let jobs = app.get("/api/v1/content/jobs").bearer(&admin.access_token).send().await;
    assert_eq!(jobs.data().as_array().unwrap().len(), 2, "a refused request makes no job");
    app.post("/api/v1/content/generate")
        .bearer(&teacher.access_token)
        .json(quiz())
        .send()
        .await
        .expect(StatusCode::ACCEPTED, None);
    app.clock.advance(60);
    app.post("/api/v1/content/generate")
        .bearer(&admin.access_token)
        .json(quiz())
        .send()
        .await
        .expect(StatusCode::ACCEPTED, None);
}

#[tokio::test]
async fn a_key_with_content_generate_may_generate_and_a_key_without_it_may_not() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let generator = app.create_api_key(&admin, json!({"name": "lms", "scopes": ["content:generate"]})).await;
    let writer = app.create_api_key(&admin, json!({"name": "writer", "scopes": ["read", "write"]})).await;
    app.post("/api/v1/content/generate")
        .api_key(&generator.key)
        .json(quiz())
        .send()
        .await
        .expect(StatusCode::ACCEPTED, None);
    let refused = app.post("/api/v1/content/generate").api_key(&writer.key).json(quiz()).send().await;
    refused.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("content:generate"));
    // It may follow its jobs and read what they made, and write nothing else.
    let made = app.generated(&admin, quiz()).await;
    for path in [
        format!("/api/v1/content/jobs/{}", made.job_id),
        "/api/v1/content/jobs".to_owned(),
        format!("/api/v1/content/{}", made.content_id),
    ] {
        app.get(&path).api_key(&generator.key).send().await.expect(StatusCode::OK, None);
    }
    app.get("/api/v1/content").api_key(&generator.key).send().await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    app.call(axum::http::Method::POST, &format!("/api/v1/content/{}/publish", made.content_id))
        .api_key(&generator.key)
        .send()
        .await
        .expect(StatusCode::FORBIDDEN, Some("forbidden"));
}

#[tokio::test]
async fn a_generate_request_with_a_bad_body_is_refused_by_field_and_makes_no_job() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    for (body, field) in [
        (json!({"type": "essay", "subject": "M", "grade_level": 3, "topic": "T"}), "type"),
        (json!({"type": "quiz", "subject": "M", "grade_level": 13, "topic": "T"}), "grade_level"),
        (json!({"type": "quiz", "subject": "M", "grade_level": 3}), "topic"),
        (json!({"type": "quiz", "subject": "", "grade_level": 3, "topic": "T"}), "subject"),
        (json!({"type": "quiz", "subject": "M", "grade_level": 3, "topic": "T", "num_questions": 0}), "num_questions"),
        (json!({"type": "quiz", "subject": "M", "grade_level": 3, "topic": "T", "difficulty": "brutal"}), "difficulty"),
    ] {
        let refused = app.post("/api/v1/content/generate").bearer(&admin.access_token).json(body).send().await;
        refused.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
        assert_eq!(refused.body["error"]["details"][0]["field"], field, "{}", refused.text);
    }
    let jobs = app.get("/api/v1/content/jobs").bearer(&admin.access_token).send().await;
    assert!(jobs.data().as_array().unwrap().is_empty());
}

/// The body of a content view, as `PUT` takes it back.
fn editable(view: &Value) -> Value {
    let mut body = json!({"title": view["title"], "summary": view["summary"], "objectives": view["objectives"]});
    for part in ["sections", "quiz", "questions"] {
        if let Some(value) = view.get(part) {
            body[part] = value.clone();
        }
    }
    body
}

#[tokio::test]
async fn an_edit_makes_a_new_version_and_a_stale_or_invalid_one_changes_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let made = app.generated(&teacher, lesson()).await;
    let path = format!("/api/v1/content/{}", made.content_id);
    let view = content(&app, &teacher, &made.content_id).await.data().clone();
    let mut edit = editable(&view);
    edit["title"] = json!("Light and leaves");
    let changed = app
        .call(axum::http::Method::PUT, &path)
        .bearer(&teacher.access_token)
        .header("if-match", "\"1\"")
        .json(edit.clone())
        .send()
        .await;
    changed.expect(StatusCode::OK, None);
    assert_eq!(
        (changed.data()["title"].as_str(), changed.data()["version"].as_u64()),
        (Some("Light and leaves"), Some(2))
    );
    assert_eq!(changed.headers["etag"], "\"2\"");
    let stored = app.raw_item(&teacher.tenant().content(&made.content_id.parse().unwrap())).await.unwrap();

    // Stale: 412, and nothing changes.
    edit["title"] = json!("Lost update");
    let stale = app
        .call(axum::http::Method::PUT, &path)
        .bearer(&teacher.access_token)
        .header("if-match", "\"1\"")
        .json(edit.clone())
        .send()
        .await;
    stale.expect(StatusCode::PRECONDITION_FAILED, Some("precondition_failed"));
    let mut broken = editable(changed.data());
    broken["quiz"][0]["answer_index"] = json!(9);
    broken["sections"] = json!([]);
    let invalid = app.call(axum::http::Method::PUT, &path).bearer(&teacher.access_token).json(broken).send().await;
    invalid.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
    let fields: Vec<&str> =
        invalid.body["error"]["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&"sections") && fields.contains(&"quiz[0].answer_index"), "{fields:?}");
    let mut misplaced = editable(changed.data());
    misplaced["questions"] = misplaced["quiz"].clone();
    let refused = app.call(axum::http::Method::PUT, &path).bearer(&teacher.access_token).json(misplaced).send().await;
    refused.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
    assert_eq!(refused.body["error"]["details"][0]["field"], "questions");
    for bad in [
        json!({"title": 5}),
        json!({"title": "t"}),
        json!([]),
        json!({"title": "t", "summary": "s", "objectives": ["o"], "extra": 1}),
    ] {
        app.call(axum::http::Method::PUT, &path)
            .bearer(&teacher.access_token)
            .json(bad)
            .send()
            .await
            .expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
    }
    app.call(axum::http::Method::PUT, &path)
        .bearer(&teacher.access_token)
        .header("if-match", "soon")
        .json(editable(changed.data()))
        .send()
        .await
        .expect(StatusCode::BAD_REQUEST, Some("bad_request"));
    assert_eq!(app.raw_item(&teacher.tenant().content(&made.content_id.parse().unwrap())).await.unwrap(), stored);
    let read = content(&app, &teacher, &made.content_id).await;
    assert_eq!(read.data()["title"], "Light and leaves");
}

#[tokio::test]
async fn a_body_too_large_for_its_item_is_kept_in_s3_and_read_back() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let made = app.generated(&admin, lesson()).await;
    let path = format!("/api/v1/content/{}", made.content_id);
    let mut edit = editable(content(&app, &admin, &made.content_id).await.data());
    let long = "Chlorophyll absorbs red and blue light. ".repeat(450);
    edit["sections"] = json!((0..8).map(|i| json!({"heading": format!("Part {i}"), "body": long})).collect::<Vec<_>>());
    let changed = app.call(axum::http::Method::PUT, &path).bearer(&admin.access_token).json(edit.clone()).send().await;
    changed.expect(StatusCode::OK, None);
    let key = admin.tenant().content(&made.content_id.parse().unwrap());
    let item: ContentItem = app.state.db.get(&key).await.unwrap().unwrap();
    assert!(item.body.is_none());
    let object = item.body_object.clone().expect("the body is in S3");
    assert!(object.starts_with(&format!("org/{}/content/{}/v2-", admin.org_id, made.content_id)), "{object}");
    let read = content(&app, &admin, &made.content_id).await;
    assert_eq!(read.data()["sections"], edit["sections"]);
    // Back to a small body: the item holds it again and the S3 copy is gone.
    edit["sections"] = json!([{"heading": "Short", "body": "Leaves are green."}]);
    app.call(axum::http::Method::PUT, &path)
        .bearer(&admin.access_token)
        .json(edit)
        .send()
        .await
        .expect(StatusCode::OK, None);
    let item: ContentItem = app.state.db.get(&key).await.unwrap().unwrap();
    assert!(item.body.is_some() && item.body_object.is_none());
    // Left for a reader of version 2, marked for the bucket's lifecycle rule.
    let tags = app.state.aws.s3().get_object_tagging().bucket(&app.state.config.bucket_name).key(&object).send().await;
    let tags = tags.expect("the replaced body is still readable");
    assert!(tags.tag_set().iter().any(|t| t.key() == SUPERSEDED_TAG && t.value() == "true"));
}

#[tokio::test]
async fn publishing_is_a_new_version_once_and_a_deleted_item_is_gone_from_reads_lists_and_search() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let made = app.generated(&admin, lesson()).await;
    let publish = format!("/api/v1/content/{}/publish", made.content_id);
    let published = app.post(&publish).bearer(&admin.access_token).send().await;
    published.expect(StatusCode::OK, None);
    assert_eq!(
        (published.data()["status"].as_str(), published.data()["version"].as_u64()),
        (Some("published"), Some(2))
    );
    assert!(published.data()["published_at"].is_string());
    app.post(&publish).bearer(&admin.access_token).send().await.expect(StatusCode::CONFLICT, Some("conflict"));

    let listed = app.get("/api/v1/content").bearer(&admin.access_token).send().await;
    assert_eq!(listed.data().as_array().unwrap().len(), 1);
    let found = app.get("/api/v1/content/search?q=photosynthesis").bearer(&admin.access_token).send().await;
    assert_eq!(found.data().as_array().unwrap().len(), 1);

    let path = format!("/api/v1/content/{}", made.content_id);
    app.delete(&path)
        .bearer(&admin.access_token)
        .header("if-match", "\"1\"")
        .send()
        .await
        .expect(StatusCode::PRECONDITION_FAILED, Some("precondition_failed"));
    app.delete(&path).bearer(&admin.access_token).send().await.expect(StatusCode::OK, None);
    content(&app, &admin, &made.content_id).await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    app.delete(&path).bearer(&admin.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    app.post(&publish).bearer(&admin.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    let listed = app.get("/api/v1/content").bearer(&admin.access_token).send().await;
    assert!(listed.data().as_array().unwrap().is_empty());
    let found = app.get("/api/v1/content/search?q=photosynthesis").bearer(&admin.access_token).send().await;
    assert!(found.data().as_array().unwrap().is_empty());
    // Kept for the audit trail, marked deleted.
    let item: ContentItem =
        app.state.db.get(&admin.tenant().content(&made.content_id.parse().unwrap())).await.unwrap().unwrap();
    assert!(item.audit.deleted_at.is_some() && item.audit.deleted_by.is_some());
}

#[tokio::test]
async fn search_ranks_by_matched_words_and_where_they_appear_and_follows_edits() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let leaves = app.generated(&admin, lesson()).await;
    let fractions = app.generated(&admin, quiz()).await;
    let search = |q: &str| app.get(&format!("/api/v1/content/search?q={q}")).bearer(&admin.access_token).send();
    let ids = |response: &crate::helpers::TestResponse| -> Vec<String> {
        response.data().as_array().unwrap().iter().map(|h| h["id"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(ids(&search("photosynthesis").await), vec![leaves.content_id.clone()]);
    assert_eq!(ids(&search("FRACTIONS").await), vec![fractions.content_id.clone()]);
    // The last word also finds longer words it begins.
    assert_eq!(ids(&search("photosyn").await), vec![leaves.content_id.clone()]);
    assert_eq!(ids(&search("chlorophyll").await), vec![leaves.content_id.clone()], "objectives are searched");
    assert!(ids(&search("volcano").await).is_empty());

    // An edit moves the item to its new words: the old ones no longer find it.
    let path = format!("/api/v1/content/{}", fractions.content_id);
    let mut edit = editable(content(&app, &admin, &fractions.content_id).await.data());
    edit["title"] = json!("Volcano quiz");
    edit["summary"] = json!("Eruptions and magma.");
    edit["objectives"] = json!(["Name a volcano"]);
    edit["questions"] = json!([{"question": "What flows from a volcano?", "options": ["Magma", "Milk"],
                                "answer_index": 0, "explanation": "Molten rock."}]);
    app.call(axum::http::Method::PUT, &path)
        .bearer(&admin.access_token)
        .json(edit)
        .send()
        .await
        .expect(StatusCode::OK, None);
    assert_eq!(ids(&search("volcano").await), vec![fractions.content_id.clone()]);
    assert!(ids(&search("fractions").await).is_empty());

    // Two words: the item matching both comes before one matching either.
    let both = search("volcano+magma").await;
    assert_eq!(both.data()[0]["id"], fractions.content_id.as_str());
    assert_eq!(both.data()[0]["matched"], 2);

    let page = search("volcano&limit=1").await;
    assert!(page.body["metadata"]["next_cursor"].is_null());
    for bad in ["", "q=", "q=the%20of%20a", &format!("q={}", "x".repeat(201)), "q=aa+bb+cc+dd+ee+ff+gg+hh+ii"] {
        app.get(&format!("/api/v1/content/search?{bad}"))
            .bearer(&admin.access_token)
            .send()
            .await
            .expect(StatusCode::BAD_REQUEST, Some("bad_request"));
    }
}

#[tokio::test]
async fn search_pages_with_a_cursor_bound_to_its_query() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let mut made = Vec::new();
    for _ in 0..3 {
        made.push(app.generated(&admin, quiz()).await.content_id);
    }
    let first = app.get("/api/v1/content/search?q=fractions&limit=2").bearer(&admin.access_token).send().await;
    assert_eq!(first.data().as_array().unwrap().len(), 2);
    let cursor = first.body["metadata"]["next_cursor"].as_str().unwrap().to_owned();
    let second = app
        .get(&format!("/api/v1/content/search?q=fractions&limit=2&cursor={cursor}"))
        .bearer(&admin.access_token)
        .send()
        .await;
    assert_eq!(second.data().as_array().unwrap().len(), 1);
    assert!(second.body["metadata"]["next_cursor"].is_null());
    let mut seen: Vec<String> = first
        .data()
        .as_array()
        .unwrap()
        .iter()
        .chain(second.data().as_array().unwrap())
        .map(|h| h["id"].as_str().unwrap().to_owned())
        .collect();
    seen.sort();
    made.sort();
    assert_eq!(seen, made);
    app.get(&format!("/api/v1/content/search?q=maths&cursor={cursor}"))
        .bearer(&admin.access_token)
        .send()
        .await
        .expect(StatusCode::BAD_REQUEST, Some("bad_request"));
}

#[tokio::test]
async fn another_tenants_jobs_and_content_are_404_unchanged_and_never_found_by_search() {
    let app = TestApp::spawn().await;
    let a = app.register_org().await;
    let b = app.register_org().await;
    let made = app.generated(&a, lesson()).await;
    let key = a.tenant().content(&made.content_id.parse().unwrap());
    let before = app.raw_item(&key).await.unwrap();
    let token = &b.access_token;
    let content_path = format!("/api/v1/content/{}", made.content_id);
    app.get(&format!("/api/v1/content/jobs/{}", made.job_id))
        .bearer(token)
        .send()
        .await
        .expect(StatusCode::NOT_FOUND, Some("not_found"));
    app.get(&content_path).bearer(token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    let view = content(&app, &a, &made.content_id).await.data().clone();
    app.call(axum::http::Method::PUT, &content_path)
        .bearer(token)
        .json(editable(&view))
        .send()
        .await
        .expect(StatusCode::NOT_FOUND, Some("not_found"));
    app.post(&format!("{content_path}/publish"))
        .bearer(token)
        .send()
        .await
        .expect(StatusCode::NOT_FOUND, Some("not_found"));
    app.delete(&content_path).bearer(token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    assert_eq!(app.raw_item(&key).await.unwrap(), before);
    let search = app.get("/api/v1/content/search?q=photosynthesis").bearer(token).send().await;
    assert!(search.data().as_array().unwrap().is_empty());
    let listed = app.get("/api/v1/content").bearer(token).send().await;
    assert!(listed.data().as_array().unwrap().is_empty());
    let jobs = app.get("/api/v1/content/jobs").bearer(token).send().await;
    assert!(jobs.data().as_array().unwrap().is_empty());
    app.get("/api/v1/content/jobs/not-an-id")
        .bearer(token)
        .send()
        .await
        .expect(StatusCode::NOT_FOUND, Some("not_found"));
}

#[tokio::test]
async fn students_and_parents_may_not_generate_or_read_content() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let made = app.generated(&admin, quiz()).await;
    for role in ["student", "parent"] {
        let member = app.member(&admin, role).await;
        for (method, path) in [
            (axum::http::Method::POST, "/api/v1/content/generate".to_owned()),
            (axum::http::Method::GET, "/api/v1/content".to_owned()),
            (axum::http::Method::GET, format!("/api/v1/content/{}", made.content_id)),
            (axum::http::Method::GET, format!("/api/v1/content/jobs/{}", made.job_id)),
        ] {
            app.call(method, &path)
                .bearer(&member.access_token)
                .json(quiz())
                .send()
                .await
                .expect(StatusCode::FORBIDDEN, Some("forbidden"));
        }
    }
}

#[tokio::test]
async fn a_job_whose_message_was_not_sent_is_sent_by_the_outbox_sweep_and_runs() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    // The queue cannot be reached: the job is stored, its message is owed.
    let broken = TestApp::spawn_with(|config| config.queue_url = format!("{}-missing", config.queue_url)).await;
    let accepted = broken.post("/api/v1/content/generate").bearer(&admin.access_token).json(quiz()).send().await;
    accepted.expect(StatusCode::ACCEPTED, None);
    let job_id = accepted.data()["job_id"].as_str().unwrap().to_owned();
    let job: Job = app.state.db.get(&admin.tenant().job(&job_id.parse().unwrap())).await.unwrap().unwrap();
    let entry = outbox_entry(&job);
    assert!(app.raw_item(&entry).await.is_some(), "the outbox still owes the message");

    let worker = app.worker(integrations::generation::template::TemplateProvider);
    // Too young to be stuck: its sender may still be at work.
    worker.sweep().await.unwrap();
    assert!(app.raw_item(&entry).await.is_some());
    app.clock.advance(outbox::STUCK_AFTER_SECONDS + 1);
    assert!(worker.sweep().await.unwrap() >= 1);
    assert!(app.raw_item(&entry).await.is_none(), "the entry is settled once the message is sent");

    let poller = toolbox_local::worker::Poller {
        worker,
        sqs: app.state.aws.sqs().clone(),
        queue_url: app.state.config.queue_url.clone(),
        visibility_timeout: Some(1),
    };
    let mut status = JobStatus::Queued;
    for _ in 0..60 {
        if poller.poll_once().await.unwrap() == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        let job: Job = app.state.db.get(&admin.tenant().job(&job.id)).await.unwrap().unwrap();
        status = job.status;
        if status.is_finished() {
            break;
        }
    }
    assert_eq!(status, JobStatus::Succeeded);
}

#[tokio::test]
async fn a_slow_prune_never_removes_a_search_entry_a_later_edit_put_back() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let made = app.generated(&admin, quiz()).await;
    let (tenant, id) = (admin.tenant(), made.content_id.parse().unwrap());
    let term = std::collections::BTreeMap::from([("volcano".to_owned(), 8)]);
    // Edit 3 put the term back while edit 2, which dropped it, had not pruned yet.
    store::search::add(&app.state.db, &tenant, &id, 3, &term).await.unwrap();
    store::search::prune(&app.state.db, &tenant, &id, &term, &Default::default(), 2).await.unwrap();
    assert!(app.raw_item(&tenant.search_term("volcano", &id)).await.is_some(), "the newer entry stays");
    // The prune of an edit that came after it does remove it.
    store::search::prune(&app.state.db, &tenant, &id, &term, &Default::default(), 4).await.unwrap();
    assert!(app.raw_item(&tenant.search_term("volcano", &id)).await.is_none());
}

#[tokio::test]
async fn only_the_creator_or_an_admin_may_change_publish_or_delete_content() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let author = app.member(&admin, "teacher").await;
    let colleague = app.member(&admin, "teacher").await;
    let made = app.generated(&author, lesson()).await;
    let key = author.tenant().content(&made.content_id.parse().unwrap());
    let path = format!("/api/v1/content/{}", made.content_id);
    let publish = format!("{path}/publish");
    let view = content(&app, &author, &made.content_id).await.data().clone();
    let before = app.raw_item(&key).await;

    let mut edit = editable(&view);
    edit["title"] = json!("Rewritten by someone else");
    let refused = [
        app.call(axum::http::Method::PUT, &path).bearer(&colleague.access_token).json(edit.clone()).send().await,
        app.post(&publish).bearer(&colleague.access_token).send().await,
        app.delete(&path).bearer(&colleague.access_token).send().await,
    ];
    for response in refused {
        response.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    }
    assert_eq!(app.raw_item(&key).await, before, "a refused change changed the content");
    // Another teacher may still read it.
    content(&app, &colleague, &made.content_id).await.expect(StatusCode::OK, None);

    // The author and an admin may.
    let changed = app.call(axum::http::Method::PUT, &path).bearer(&author.access_token).json(edit).send().await;
    changed.expect(StatusCode::OK, None);
    app.post(&publish).bearer(&admin.access_token).send().await.expect(StatusCode::OK, None);
    app.delete(&path).bearer(&admin.access_token).send().await.expect(StatusCode::OK, None);
}
