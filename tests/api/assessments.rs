//! Assessments: every question kind graded, each attempt exactly once (also
//! when submitted twice at the same moment), due dates and late policies,
//! answers hidden until the teacher shows them, statistics kept exact, and
//! students reaching only the published assessments of their classes.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use store::counters::Counter;

use crate::helpers::{Account, TestApp, TestResponse};

/// Five questions, one of each kind, worth 1 to 5 points (15 in all).
fn questions() -> Value {
    json!([
        {"kind": "multiple_choice", "prompt": "2 + 2?", "options": ["3", "4", "5"], "answer": 1, "points": 1},
        {"kind": "multiple_select", "prompt": "Primes?", "options": ["2", "4", "5"], "answers": [0, 2], "points": 2},
        {"kind": "true_false", "prompt": "Ice floats.", "answer": true, "points": 3},
        {"kind": "numeric", "prompt": "Half of five?", "answer": 2.5, "tolerance": 0.005, "points": 4},
        {"kind": "short_text", "prompt": "Capital of France?", "answers": ["Paris"], "points": 5},
    ])
}

pub(crate) const ALL_RIGHT: [&str; 5] = ["1", "[2, 0]", "true", "2.5", "\" paris \""];

pub(crate) fn answers(given: [&str; 5]) -> Value {
    Value::Array(given.iter().map(|a| serde_json::from_str(a).unwrap()).collect())
}

async fn create(app: &TestApp, teacher: &Account, rules: Value) -> String {
    let mut body = json!({"title": "Checkpoint", "questions": questions()});
    body.as_object_mut().unwrap().extend(rules.as_object().unwrap().clone());
    let created = app.post("/api/v1/assessments").bearer(&teacher.access_token).json(body).send().await;
    created.expect(StatusCode::CREATED, None);
    created.data()["id"].as_str().unwrap().to_owned()
}

/// A published assessment of `teacher`'s in a new class of `students`.
pub(crate) async fn published(app: &TestApp, teacher: &Account, students: &[&Account], rules: Value) -> String {
    let class = app.class_with(teacher, students).await;
    let id = create(app, teacher, rules).await;
    app.post(&format!("/api/v1/assessments/{id}/publish"))
        .bearer(&teacher.access_token)
        .json(json!({"class_ids": [class]}))
        .send()
        .await
        .expect(StatusCode::OK, None);
    id
}

pub(crate) async fn submit(app: &TestApp, student: &Account, id: &str, attempt: u32, answers: Value) -> TestResponse {
    app.post(&format!("/api/v1/assessments/{id}/submit"))
        .bearer(&student.access_token)
        .json(json!({"attempt": attempt, "answers": answers}))
        .send()
        .await
}

async fn statistics(app: &TestApp, teacher: &Account, id: &str) -> Value {
    let response = app.get(&format!("/api/v1/assessments/{id}/statistics")).bearer(&teacher.access_token).send().await;
    response.expect(StatusCode::OK, None);
    response.data().clone()
}

#[tokio::test]
async fn each_attempt_is_graded_once_and_the_statistics_follow() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let (ann, ben) = (app.member(&admin, "student").await, app.member(&admin, "student").await);
    let id = published(&app, &teacher, &[&ann, &ben], json!({"max_attempts": 2, "pass_percent": 50})).await;

    // A student sees the questions, never what counts as right.
    let seen = app.get(&format!("/api/v1/assessments/{id}")).bearer(&ann.access_token).send().await;
    seen.expect(StatusCode::OK, None);
    for question in seen.data()["questions"].as_array().unwrap() {
        for hidden in ["answer", "answers", "tolerance", "pattern"] {
            assert!(question.get(hidden).is_none(), "{hidden} shown to a student: {question}");
        }
    }
    let staff = app.get(&format!("/api/v1/assessments/{id}")).bearer(&teacher.access_token).send().await;
    assert_eq!(staff.data()["questions"][1]["answers"], json!([0, 2]));
    assert_eq!(staff.data()["max_score"], 15);

    // Ann: the choice and the number wrong, 10 of 15 points.
    let first = submit(&app, &ann, &id, 1, answers(["0", "[0, 2]", "true", "2.6", "\"Paris\""])).await;
    first.expect(StatusCode::CREATED, None);
    let data = first.data();
    assert_eq!((data["raw_score"].as_u64(), data["max_score"].as_u64()), (Some(10), Some(15)));
    assert!((data["percent"].as_f64().unwrap() - 200.0 / 3.0).abs() < 1e-9);
    assert_eq!((data["passed"].as_bool(), data["late"].as_bool()), (Some(true), Some(false)));
    let correct: Vec<bool> =
        data["feedback"].as_array().unwrap().iter().map(|f| f["correct"].as_bool().unwrap()).collect();
    assert_eq!(correct, [false, true, true, false, true]);
    assert!(data["feedback"][0].get("right_answer").is_none(), "answers are hidden until the teacher shows them");

    // The same attempt again: its stored grade, not a second one.
    let again = submit(&app, &ann, &id, 1, answers(["0", "[0, 2]", "true", "2.6", "\"Paris\""])).await;
    again.expect(StatusCode::OK, None);
    assert_eq!(again.data()["submitted_at"], data["submitted_at"]);
    submit(&app, &ann, &id, 1, answers(ALL_RIGHT)).await.expect(StatusCode::CONFLICT, Some("conflict"));
    // Attempts are taken in order, and only as many as allowed.
    let third = submit(&app, &ann, &id, 3, answers(ALL_RIGHT)).await;
    third.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
    assert_eq!(third.body["error"]["details"][0]["field"], "attempt");
    submit(&app, &ben, &id, 2, answers(ALL_RIGHT)).await.expect(StatusCode::CONFLICT, Some("conflict"));
    submit(&app, &ann, &id, 2, answers(ALL_RIGHT)).await.expect(StatusCode::CREATED, None);
    // Ben leaves all but the true/false unanswered: 3 of 15, failed.
    let ben_first = submit(&app, &ben, &id, 1, json!([null, null, true, null, null])).await;
    assert_eq!((ben_first.data()["raw_score"].as_u64(), ben_first.data()["passed"].as_bool()), (Some(3), Some(false)));

    let stats = statistics(&app, &teacher, &id).await;
    assert_eq!(stats["submissions"], 3);
    let mean = stats["mean_percent"].as_f64().unwrap();
    assert!((mean - (200.0 / 3.0 + 100.0 + 20.0) / 3.0).abs() < 1e-9, "{mean}");
    assert_eq!(stats["median_percent"].as_f64(), Some(66.0));
    assert!((stats["pass_rate"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9);
    let rates: Vec<f64> =
        stats["questions"].as_array().unwrap().iter().map(|q| q["correct_rate"].as_f64().unwrap()).collect();
    let thirds = |n: f64| n / 3.0;
    assert_eq!(rates, [thirds(1.0), thirds(2.0), 1.0, thirds(1.0), thirds(2.0)]);
    assert_eq!(stats["questions"][2]["difficulty"].as_f64(), Some(0.0));
    assert_eq!(app.daily_count(&admin, Counter::AssessmentsSubmitted).await, 3);

    // The teacher's list has every attempt; a student's, their own.
    let all = app.get(&format!("/api/v1/assessments/{id}/submissions")).bearer(&teacher.access_token).send().await;
    assert_eq!(all.data().as_array().unwrap().len(), 3);
    assert!(all.data()[0]["feedback"][0]["right_answer"].is_number());
    let own = app.get(&format!("/api/v1/assessments/{id}/submissions")).bearer(&ben.access_token).send().await;
    assert_eq!(own.data().as_array().unwrap().len(), 1);
    assert!(own.data()[0]["feedback"][0].get("right_answer").is_none());

    // Showing answers is a rule that may change once published; the questions may not.
    let path = format!("/api/v1/assessments/{id}");
    let shown = json!({"title": "Checkpoint", "questions": questions(), "max_attempts": 2, "pass_percent": 50,
                       "show_answers": true});
    app.call(Method::PUT, &path).bearer(&teacher.access_token).json(shown).send().await.expect(StatusCode::OK, None);
    let own = app.get(&format!("{path}/submissions")).bearer(&ben.access_token).send().await;
    assert_eq!(own.data()[0]["feedback"][4]["right_answer"], "Paris");
    let mut changed = questions();
    changed[0]["answer"] = json!(2);
    app.call(Method::PUT, &path)
        .bearer(&teacher.access_token)
        .json(json!({"title": "Checkpoint", "questions": changed}))
        .send()
        .await
        .expect(StatusCode::CONFLICT, Some("conflict"));
}

#[tokio::test]
async fn a_concurrent_double_submit_grades_once() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let student = app.member(&admin, "student").await;
    let id = published(&app, &teacher, &[&student], json!({})).await;
    let (a, b) = tokio::join!(
        submit(&app, &student, &id, 1, answers(ALL_RIGHT)),
        submit(&app, &student, &id, 1, answers(ALL_RIGHT))
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CREATED], "{} / {}", a.text, b.text);
    assert_eq!(a.data()["submitted_at"], b.data()["submitted_at"]);
    assert_eq!(statistics(&app, &teacher, &id).await["submissions"], 1);
    assert_eq!(app.daily_count(&admin, Counter::AssessmentsSubmitted).await, 1);
}

#[tokio::test]
async fn late_submissions_follow_the_assessments_policy() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let student = app.member(&admin, "student").await;
    let past = "2020-01-01T00:00:00Z";
    let future = "2999-01-01T00:00:00Z";

    let on_time = published(&app, &teacher, &[&student], json!({"due_at": future, "late_policy": "reject"})).await;
    let graded = submit(&app, &student, &on_time, 1, answers(ALL_RIGHT)).await;
    assert_eq!((graded.data()["late"].as_bool(), graded.data()["percent"].as_f64()), (Some(false), Some(100.0)));

    let rejected = published(&app, &teacher, &[&student], json!({"due_at": past, "late_policy": "reject"})).await;
    submit(&app, &student, &rejected, 1, answers(ALL_RIGHT)).await.expect(StatusCode::CONFLICT, Some("conflict"));
    assert_eq!(statistics(&app, &teacher, &rejected).await["submissions"], 0);

    let penalized = published(
        &app,
        &teacher,
        &[&student],
        json!({"due_at": past, "late_policy": "penalize", "late_penalty_percent": 30, "pass_percent": 75}),
    )
    .await;
    let late = submit(&app, &student, &penalized, 1, answers(ALL_RIGHT)).await;
    late.expect(StatusCode::CREATED, None);
    assert_eq!((late.data()["late"].as_bool(), late.data()["raw_score"].as_u64()), (Some(true), Some(15)));
    assert!((late.data()["percent"].as_f64().unwrap() - 70.0).abs() < 1e-9);
    assert_eq!(late.data()["passed"], false);

    let accepted = published(&app, &teacher, &[&student], json!({"due_at": past})).await;
    let late = submit(&app, &student, &accepted, 1, answers(ALL_RIGHT)).await;
    assert_eq!((late.data()["late"].as_bool(), late.data()["percent"].as_f64()), (Some(true), Some(100.0)));
}

#[tokio::test]
async fn students_reach_only_published_assessments_of_their_classes() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let (inside, outside) = (app.member(&admin, "student").await, app.member(&admin, "student").await);
    let parent = app.member(&admin, "parent").await;
    let id = published(&app, &teacher, &[&inside], json!({})).await;
    let draft = create(&app, &teacher, json!({})).await;
    let other_class = app.class_with(&teacher, &[&outside]).await;
    let path = format!("/api/v1/assessments/{id}");

    app.get(&path).bearer(&outside.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    let draft_path = format!("/api/v1/assessments/{draft}");
    app.get(&draft_path).bearer(&inside.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    submit(&app, &outside, &id, 1, answers(ALL_RIGHT)).await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    submit(&app, &inside, &draft, 1, answers(ALL_RIGHT)).await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    // Another class's list is not theirs; their own class lists it.
    let of = |class: &str| format!("/api/v1/assessments?class_id={class}");
    app.get(&of(&other_class))
        .bearer(&inside.access_token)
        .send()
        .await
        .expect(StatusCode::NOT_FOUND, Some("not_found"));
    app.get("/api/v1/assessments")
        .bearer(&inside.access_token)
        .send()
        .await
        .expect(StatusCode::BAD_REQUEST, Some("bad_request"));
    // Wrong roles.
    submit(&app, &teacher, &id, 1, answers(ALL_RIGHT)).await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    app.get(&path).bearer(&parent.access_token).send().await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    app.get(&format!("{path}/statistics"))
        .bearer(&inside.access_token)
        .send()
        .await
        .expect(StatusCode::FORBIDDEN, Some("forbidden"));
    let colleague = app.member(&admin, "teacher").await;
    app.delete(&path).bearer(&colleague.access_token).send().await.expect(StatusCode::FORBIDDEN, Some("forbidden"));

    // Bad answers are refused by field and grade nothing.
    for (bad, field) in [
        (json!({"attempt": 1, "answers": [1, [0], true, 2.5]}), "answers"),
        (json!({"attempt": 1, "answers": ["one", [0], true, 2.5, "x"]}), "answers[0]"),
        (json!({"attempt": 1, "answers": [1, [7], true, 2.5, "x"]}), "answers[1]"),
        (json!({"attempt": 1, "answers": [1, [0], "yes", 2.5, "x"]}), "answers[2]"),
        (json!({"attempt": 1, "answers": [1, [0], true, "pi", "x"]}), "answers[3]"),
        (json!({"attempt": 1, "answers": [1, [0], true, 2.5, 5]}), "answers[4]"),
        (json!({"attempt": 0, "answers": [1, [0], true, 2.5, "x"]}), "attempt"),
        (json!({"attempt": "1", "answers": [1, [0], true, 2.5, "x"]}), "attempt"),
    ] {
        let refused = app.post(&format!("{path}/submit")).bearer(&inside.access_token).json(bad.clone()).send().await;
        refused.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
        assert_eq!(refused.body["error"]["details"][0]["field"], field, "{bad}");
    }
    assert_eq!(statistics(&app, &teacher, &id).await["submissions"], 0);

    // Badly made questions are refused by field.
    for (bad, field) in [
        (
            json!([{"kind": "multiple_choice", "prompt": "?", "options": ["a", "b"], "answer": 2}]),
            "questions[0].answer",
        ),
        (json!([{"kind": "essay", "prompt": "?"}]), "questions[0]"),
        (json!([{"kind": "short_text", "prompt": "?", "pattern": "(open"}]), "questions[0].pattern"),
        (json!([]), "questions"),
    ] {
        let refused = app
            .post("/api/v1/assessments")
            .bearer(&teacher.access_token)
            .json(json!({"title": "Bad", "questions": bad}))
            .send()
            .await;
        refused.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
        let named = refused.body["error"]["details"][0]["field"].as_str().unwrap().to_owned();
        assert!(named.starts_with(field), "{named} for {bad}");
    }
    let refused = app
        .post("/api/v1/assessments")
        .bearer(&teacher.access_token)
        .json(json!({"title": "Bad", "questions": questions(), "due_at": "next friday"}))
        .send()
        .await;
    assert_eq!(refused.body["error"]["details"][0]["field"], "due_at");

    // Another tenant: every id is not found, and nothing of this one changes.
    let key = admin.tenant().assessment(&id.parse().unwrap());
    let before = app.raw_item(&key).await;
    let stranger_admin = app.register_org().await;
    let stranger = app.member(&stranger_admin, "student").await;
    submit(&app, &stranger, &id, 1, answers(ALL_RIGHT)).await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    for path in [path.clone(), format!("{path}/statistics"), format!("{path}/submissions")] {
        app.get(&path)
            .bearer(&stranger_admin.access_token)
            .send()
            .await
            .expect(StatusCode::NOT_FOUND, Some("not_found"));
    }
    app.delete(&path)
        .bearer(&stranger_admin.access_token)
        .send()
        .await
        .expect(StatusCode::NOT_FOUND, Some("not_found"));
    assert_eq!(app.raw_item(&key).await, before);
}

#[tokio::test]
async fn a_generated_quiz_becomes_an_assessment() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let quiz = app
        .generated(&admin, json!({"type": "quiz", "subject": "Maths", "grade_level": 4, "topic": "Fractions"}))
        .await;
    let content = app.get(&format!("/api/v1/content/{}", quiz.content_id)).bearer(&admin.access_token).send().await;
    let made = app
        .post("/api/v1/assessments")
        .bearer(&admin.access_token)
        .json(json!({"content_id": quiz.content_id, "max_attempts": 3}))
        .send()
        .await;
    made.expect(StatusCode::CREATED, None);
    let generated = content.data()["questions"].as_array().unwrap();
    let questions = made.data()["questions"].as_array().unwrap();
    assert_eq!(questions.len(), generated.len());
    assert_eq!(questions[0]["kind"], "multiple_choice");
    assert_eq!(questions[0]["prompt"], generated[0]["question"]);
    assert_eq!(questions[0]["answer"], generated[0]["answer_index"]);
    assert_eq!(
        (made.data()["max_attempts"].as_u64(), made.data()["content_id"].as_str()),
        (Some(3), Some(quiz.content_id.as_str()))
    );

    let lesson = app
        .generated(&admin, json!({"type": "lesson", "subject": "Biology", "grade_level": 7, "topic": "Cells"}))
        .await;
    let refused = app
        .post("/api/v1/assessments")
        .bearer(&admin.access_token)
        .json(json!({"content_id": lesson.content_id}))
        .send()
        .await;
    refused.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
    assert_eq!(refused.body["error"]["details"][0]["field"], "content_id");
}

#[tokio::test]
async fn a_page_of_submissions_continues_only_in_its_own_list() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let (ann, ben) = (app.member(&admin, "student").await, app.member(&admin, "student").await);
    let first = published(&app, &teacher, &[&ann, &ben], json!({})).await;
    let second = published(&app, &teacher, &[&ann, &ben], json!({})).await;
    for id in [&first, &second] {
        for student in [&ann, &ben] {
            submit(&app, student, id, 1, answers(ALL_RIGHT)).await.expect(StatusCode::CREATED, None);
        }
    }
    let list = |id: &str, account: &Account, cursor: Option<&str>| {
        let query = cursor.map(|c| format!("&cursor={c}")).unwrap_or_default();
        app.get(&format!("/api/v1/assessments/{id}/submissions?limit=1{query}")).bearer(&account.access_token).send()
    };
    let page = list(&first, &teacher, None).await;
    page.expect(StatusCode::OK, None);
    let cursor = page.body["metadata"]["next_cursor"].as_str().unwrap().to_owned();
    let next = list(&first, &teacher, Some(&cursor)).await;
    next.expect(StatusCode::OK, None);
    let students: Vec<&str> = [&page, &next].iter().map(|p| p.data()[0]["student_id"].as_str().unwrap()).collect();
    let mut expected = [ann.user_id.as_str(), ben.user_id.as_str()];
    expected.sort();
    let mut seen = students.clone();
    seen.sort();
    assert_eq!(seen, expected, "the two pages hold both students once");
    // Neither another assessment's list nor a student's own list takes it.
    list(&second, &teacher, Some(&cursor)).await.expect(StatusCode::BAD_REQUEST, Some("bad_request"));
    list(&first, &ann, Some(&cursor)).await.expect(StatusCode::BAD_REQUEST, Some("bad_request"));
}
