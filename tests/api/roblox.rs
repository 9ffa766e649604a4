//! Roblox environments: a lesson or quiz becomes a Rojo 7 project that the
//! real `rojo build` builds, and a place file that parses back with
//! rbx_xml into the same tree; lesson text is only ever data; bad input and
//! other tenants' ids change nothing.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::path::Path;

use axum::http::StatusCode;
use rbx_dom_weak::WeakDom;
use rbx_dom_weak::types::{Ref, Variant};
use serde_json::{Value, json};

use crate::helpers::{Account, TestApp, TestResponse};
use crate::lessons;

/// A school with a teacher, a student in the teacher's class, and a
/// generated lesson made into a lesson published to that class.
pub(crate) struct School {
    pub admin: Account,
    pub teacher: Account,
    pub student: Account,
    pub class_id: String,
    pub lesson_content: String,
    pub lesson_id: String,
}

impl School {
    pub(crate) async fn new(app: &TestApp) -> Self {
        let admin = app.register_org().await;
        let teacher = app.member(&admin, "teacher").await;
        let student = app.member(&admin, "student").await;
        let class_id = app.class_with(&teacher, &[&student]).await;
        let generated = app
            .generated(&teacher, json!({"type": "lesson", "subject": "Biology", "grade_level": 7, "topic": "Cells"}))
            .await;
        let lesson = lessons::create(app, &teacher, json!({"content_id": generated.content_id})).await;
        lesson.expect(StatusCode::CREATED, None);
        let lesson_id = lesson.data()["id"].as_str().unwrap().to_owned();
        lessons::publish(app, &teacher, &lesson_id, json!([class_id])).await.expect(StatusCode::OK, None);
        Self { admin, teacher, student, class_id, lesson_content: generated.content_id, lesson_id }
    }

    /// The body of an environment of the lesson, for its class.
    pub(crate) fn lesson_environment(&self) -> Value {
        json!({"content_id": self.lesson_content, "lesson_id": self.lesson_id, "class_id": self.class_id})
    }
}

pub(crate) async fn create(app: &TestApp, caller: &Account, body: Value) -> TestResponse {
    app.post("/api/v1/roblox/environments").bearer(&caller.access_token).json(body).send().await
}

/// The bytes behind a download link of `format`, and the link.
async fn download(app: &TestApp, caller: &Account, id: &str, format: &str) -> (Vec<u8>, String) {
    let path = format!("/api/v1/roblox/environments/{id}/download?format={format}");
    let answer = app.get(&path).bearer(&caller.access_token).send().await;
    answer.expect(StatusCode::OK, None);
    let url = answer.data()["download_url"].as_str().unwrap().to_owned();
    let fetched = reqwest::get(&url).await.unwrap();
    assert_eq!(fetched.status(), 200, "{url}");
    (fetched.bytes().await.unwrap().to_vec(), url)
}

fn unzip(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("a zip");
    (0..archive.len())
        .map(|i| {
            let mut file = archive.by_index(i).unwrap();
            let mut content = Vec::new();
            file.read_to_end(&mut content).unwrap();
            (file.name().to_owned(), content)
        })
        .collect()
}

/// Every instance under the root as `path → (class, Source)`.
fn instances(dom: &WeakDom) -> BTreeMap<String, (String, Option<String>)> {
    fn walk(dom: &WeakDom, at: Ref, path: &str, out: &mut BTreeMap<String, (String, Option<String>)>) {
        for child in dom.get_by_ref(at).unwrap().children() {
            let instance = dom.get_by_ref(*child).unwrap();
            let here = format!("{path}/{}", instance.name);
            let source = instance.properties.iter().find_map(|(name, value)| match (name.as_str(), value) {
                ("Source", Variant::String(source)) => Some(source.clone()),
                _ => None,
            });
            out.insert(here.clone(), (instance.class.to_string(), source));
            walk(dom, *child, &here, out);
        }
    }
    let mut out = BTreeMap::new();
    walk(dom, dom.root_ref(), "", &mut out);
    out
}

/// Checks `default.project.json` against Rojo 7's rules: a `DataModel`
/// root, each node a `$className` or a `$path` to a file of the project,
/// and no `$properties` naming `Name` or `Parent`.
fn check_project_node(node: &Value, files: &BTreeMap<String, Vec<u8>>, at: &str) {
    let fields = node.as_object().unwrap_or_else(|| panic!("{at} is an object"));
    match (fields.get("$className"), fields.get("$path")) {
        (Some(class), None) => assert!(class.is_string(), "{at}"),
        (None, Some(path)) => {
            let path = path.as_str().unwrap();
            assert!(files.keys().any(|file| file == path || file.starts_with(&format!("{path}/"))), "{at}: {path}");
        }
        other => panic!("{at} has neither or both of $className and $path: {other:?}"),
    }
    if let Some(properties) = fields.get("$properties") {
        assert!(properties.get("Name").is_none() && properties.get("Parent").is_none(), "{at}");
    }
    for (name, child) in fields.iter().filter(|(name, _)| !name.starts_with('$')) {
        check_project_node(child, files, &format!("{at}/{name}"));
    }
}

fn rojo_build(files: &BTreeMap<String, Vec<u8>>) -> WeakDom {
    let dir = std::env::temp_dir().join(format!("toolbox-rojo-{}", ulid::Ulid::new()));
    for (path, bytes) in files {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, bytes).unwrap();
    }
    let out = dir.join("built.rbxlx");
    let rojo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/rojo");
    let run = std::process::Command::new(rojo).arg("build").arg("-o").arg(&out).arg(&dir).output().unwrap();
    assert!(run.status.success(), "rojo build failed: {}", String::from_utf8_lossy(&run.stderr));
    let dom = rbx_xml::from_reader_default(std::fs::File::open(&out).unwrap()).expect("rojo's place parses");
    std::fs::remove_dir_all(&dir).unwrap();
    dom
}

#[tokio::test]
async fn a_lesson_becomes_a_rojo_project_that_rojo_builds_into_the_place_the_function_made() {
    let app = TestApp::spawn().await;
    let school = School::new(&app).await;
    let mut body = school.lesson_environment();
    body["theme"] = json!("space");
    body["max_players"] = json!(24);
    let created = create(&app, &school.teacher, body).await;
    created.expect(StatusCode::CREATED, None);
    let data = created.data();
    assert_eq!(
        (data["status"].as_str(), data["theme"].as_str(), data["max_players"].as_u64(), data["class_id"].as_str()),
        (Some("ready"), Some("space"), Some(24), Some(school.class_id.as_str()))
    );
    assert_eq!(data["content_id"], json!(school.lesson_content));
    let secret = data["signing_secret"].as_str().unwrap();
    assert!(secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit()), "{secret}");
    let id = data["id"].as_str().unwrap();

    let (zip, url) = download(&app, &school.teacher, id, "project").await;
    assert!(url.contains("X-Amz-Expires=900"), "{url}");
    let files = unzip(&zip);
    let project: Value = serde_json::from_slice(&files["default.project.json"]).unwrap();
    assert_eq!(project["tree"]["$className"], "DataModel");
    check_project_node(&project["tree"], &files, "tree");
    let lesson: Value = serde_json::from_slice(&files["src/shared/Lesson.json"]).unwrap();
    let taught =
        app.get(&format!("/api/v1/lessons/{}", school.lesson_id)).bearer(&school.teacher.access_token).send().await;
    assert_eq!(lesson["title"], taught.data()["title"]);
    assert_eq!(lesson["sections"].as_array().unwrap().len(), taught.data()["sections"].as_array().unwrap().len());
    assert_eq!(lesson["lesson_id"], json!(school.lesson_id));
    let config: Value = serde_json::from_slice(&files["config/ToolboxConfig.json"]).unwrap();
    // The secret is in no downloadable file.
    assert_eq!((config["signing_secret"].as_str(), config["environment_id"].as_str()), (Some(""), Some(id)));
    assert!(!zip.windows(secret.len()).any(|w| w == secret.as_bytes()));

    let built = instances(&rojo_build(&files));
    let (place, _) = download(&app, &school.teacher, id, "place").await;
    assert!(!place.windows(secret.len()).any(|w| w == secret.as_bytes()));
    let ours = instances(&rbx_xml::from_reader_default(place.as_slice()).expect("the place parses"));
    assert_eq!(
        ours.iter().map(|(path, (class, _))| (path, class)).collect::<Vec<_>>(),
        built.iter().map(|(path, (class, _))| (path, class)).collect::<Vec<_>>(),
        "the same instances"
    );
    for (path, (_, source)) in &ours {
        let data_module = path.ends_with("/Lesson") || path.ends_with("/ToolboxConfig");
        if !data_module {
            assert_eq!(source, &built[path].1, "{path}");
        }
    }
    assert!(ours.contains_key("/ServerScriptService/Toolbox/Main"), "{:?}", ours.keys());
    assert_eq!(ours["/StarterPlayer/StarterPlayerScripts/Toolbox/Client"].0, "LocalScript");
}

#[tokio::test]
async fn lesson_text_full_of_luau_and_json_metacharacters_ships_as_data_never_as_code() {
    let app = TestApp::spawn().await;
    let school = School::new(&app).await;
    let hostile = "\"]] os.exit() --[[ ${x} \\\" .. error('x') .. \"";
    let lesson = format!("/api/v1/lessons/{}", school.lesson_id);
    let edit = json!({"title": hostile, "summary": "S.", "objectives": ["O"],
                      "sections": [{"heading": hostile, "body": format!("]==] game:Destroy() --[==[\n{hostile}")}]});
    app.call(axum::http::Method::PUT, &lesson)
        .bearer(&school.teacher.access_token)
        .json(edit)
        .send()
        .await
        .expect(StatusCode::OK, None);
    let name = "\"]]--[[ ${x}\\";
    let mut body = school.lesson_environment();
    body["name"] = json!(name);
    let created = create(&app, &school.teacher, body).await;
    created.expect(StatusCode::CREATED, None);
    assert_eq!(created.data()["name"], name);
    let id = created.data()["id"].as_str().unwrap();

    let files = unzip(&download(&app, &school.teacher, id, "project").await.0);
    let data: Value = serde_json::from_slice(&files["src/shared/Lesson.json"]).unwrap();
    assert_eq!((data["title"].as_str(), data["sections"][0]["heading"].as_str()), (Some(hostile), Some(hostile)));
    // Every script is the shipped one, byte for byte: none holds tenant text.
    let shipped = toolbox_roblox::project::game_tree(json!({}), json!({}));
    let scripts = toolbox_roblox::project::rojo::files(&shipped, "x");
    for (path, bytes) in scripts.iter().filter(|(path, _)| path.ends_with(".luau")) {
        assert_eq!(&files[path], bytes, "{path}");
    }

    // In the place, the lesson is a module that returns the same data.
    let place = rbx_xml::from_reader_default(download(&app, &school.teacher, id, "place").await.0.as_slice()).unwrap();
    let (_, source) = &instances(&place)["/ReplicatedStorage/Toolbox/Lesson"];
    let source = source.as_deref().unwrap();
    let lua = mlua::Lua::new();
    let table: mlua::Value = lua.load(source).eval().expect("the module is valid Luau");
    let returned: Value = mlua::LuaSerdeExt::from_value(&lua, table).unwrap();
    assert_eq!(returned["title"], json!(hostile));
    assert_eq!(returned["sections"][0]["body"], data["sections"][0]["body"]);
}

#[tokio::test]
async fn bad_input_is_refused_and_makes_no_environment() {
    let app = TestApp::spawn().await;
    let school = School::new(&app).await;
    let stranger = School::new(&app).await;
    let listed = |account: &Account| {
        let token = account.access_token.clone();
        let app = &app;
        async move {
            let list = app.get("/api/v1/roblox/environments").bearer(&token).send().await;
            list.expect(StatusCode::OK, None);
            list.data().as_array().unwrap().len()
        }
    };
    let with = |field: &str, value: Value| {
        let mut body = school.lesson_environment();
        body[field] = value;
        body
    };
    for (body, field) in [
        (with("max_players", json!(101)), "max_players"),
        (with("max_players", json!(0)), "max_players"),
        (with("max_players", json!("ten")), "max_players"),
        (with("max_players", json!(2.5)), "max_players"),
        (with("name", json!("x".repeat(51))), "name"),
        (with("name", json!("")), "name"),
        (with("theme", json!("lava")), "theme"),
        (with("content_id", json!("not-an-id")), "content_id"),
        (with("price_id", json!("x")), "price_id"),
        (with("name", Value::Null), "name"),
        // A lesson not made from this content, another school's class.
        (with("lesson_id", json!(stranger.lesson_id)), "lesson_id"),
        (with("class_id", json!(stranger.class_id)), "class_id"),
        (json!({"name": "No content"}), "content_id"),
    ] {
        let refused = create(&app, &school.teacher, body.clone()).await;
        refused.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
        assert!(refused.text.contains(field), "{body}: {}", refused.text);
    }
    // Another tenant's content is no content at all.
    let theirs = json!({"content_id": stranger.lesson_content});
    create(&app, &school.teacher, theirs).await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    // Students and parents do not build worlds.
    create(&app, &school.student, school.lesson_environment()).await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    let malformed = app
        .post("/api/v1/roblox/environments")
        .bearer(&school.teacher.access_token)
        .raw("application/json", "{\"content_id\": ")
        .send()
        .await;
    malformed.expect(StatusCode::BAD_REQUEST, None);
    assert_eq!((listed(&school.teacher).await, listed(&stranger.teacher).await), (0, 0));
}

#[tokio::test]
async fn environments_are_listed_read_and_deleted_only_within_their_school() {
    let app = TestApp::spawn().await;
    let school = School::new(&app).await;
    let stranger = School::new(&app).await;
    let created = create(&app, &school.teacher, school.lesson_environment()).await;
    created.expect(StatusCode::CREATED, None);
    let id = created.data()["id"].as_str().unwrap();
    assert_eq!(created.data()["name"].as_str().map(|n| n.chars().count() <= 50), Some(true));
    assert_eq!(created.data()["max_players"], 30);
    let path = format!("/api/v1/roblox/environments/{id}");

    let read = app.get(&path).bearer(&school.admin.access_token).send().await;
    read.expect(StatusCode::OK, None);
    assert_eq!(read.data()["id"], json!(id));
    assert!(read.data().get("signing_secret").is_none(), "{}", read.text);
    let list = app.get("/api/v1/roblox/environments").bearer(&school.admin.access_token).send().await;
    assert_eq!(list.data().as_array().unwrap().iter().map(|e| e["id"].clone()).collect::<Vec<_>>(), vec![json!(id)]);

    // Another school's staff: as if there were no such environment.
    let key = school.teacher.tenant().roblox_environment(&id.parse().unwrap());
    let before = app.raw_item(&key).await;
    for (method, suffix) in [("GET", ""), ("DELETE", ""), ("GET", "/download?format=project")] {
        let call = app.call(method.parse().unwrap(), &format!("{path}{suffix}"));
        call.bearer(&stranger.admin.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    }
    assert_eq!(app.raw_item(&key).await, before);
    // A format that is neither: 400; a student: 403.
    let bad = app.get(&format!("{path}/download?format=zip")).bearer(&school.teacher.access_token).send().await;
    bad.expect(StatusCode::BAD_REQUEST, Some("bad_request"));
    app.get(&path).bearer(&school.student.access_token).send().await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    // Another teacher of the school reads it but may not delete it.
    let colleague = app.member(&school.admin, "teacher").await;
    app.delete(&path).bearer(&colleague.access_token).send().await.expect(StatusCode::FORBIDDEN, Some("forbidden"));

    app.delete(&path).bearer(&school.teacher.access_token).send().await.expect(StatusCode::OK, None);
    app.get(&path).bearer(&school.teacher.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    let download = app.get(&format!("{path}/download?format=place")).bearer(&school.teacher.access_token).send().await;
    download.expect(StatusCode::NOT_FOUND, Some("not_found"));
    let list = app.get("/api/v1/roblox/environments").bearer(&school.admin.access_token).send().await;
    assert_eq!(list.data().as_array().unwrap().len(), 0);
}

/// What a game server holds: its environment's key id and signing secret.
pub(crate) struct GameKey {
    pub environment_id: String,
    pub key_id: String,
    pub secret: String,
}

impl GameKey {
    pub(crate) fn of(created: &TestResponse) -> Self {
        let data = created.data();
        Self {
            environment_id: data["id"].as_str().unwrap().to_owned(),
            key_id: data["key_id"].as_str().unwrap().to_owned(),
            secret: data["signing_secret"].as_str().unwrap().to_owned(),
        }
    }

    /// A request to `path` as the game server signs it (the shipped
    /// `Api.luau`), with its signature.
    pub(crate) fn signed(&self, app: &TestApp, path: &str, body: &Value, secret: &str) -> (String, String, String) {
        let body = serde_json::to_string(body).unwrap();
        let timestamp = app.state.now().unix_timestamp();
        let signature = web::signature::sign(secret, timestamp, "POST", path, body.as_bytes());
        (body, timestamp.to_string(), signature)
    }

    pub(crate) async fn send(
        &self,
        app: &TestApp,
        (path, body, timestamp, signature): (&str, &str, &str, &str),
    ) -> TestResponse {
        app.post(path)
            .header("x-environment-key", &self.key_id)
            .header("x-timestamp", timestamp)
            .header("x-signature", signature)
            .raw("application/json", body.to_owned())
            .send()
            .await
    }

    /// POSTs `body` to `path`, signed with the environment's secret.
    pub(crate) async fn post(&self, app: &TestApp, path: &str, body: Value) -> TestResponse {
        let (body, timestamp, signature) = self.signed(app, path, &body, &self.secret);
        self.send(app, (path, &body, &timestamp, &signature)).await
    }

    pub(crate) fn events(&self) -> String {
        format!("/api/v1/roblox/environments/{}/events", self.environment_id)
    }
}

/// A student's join code for the environment.
pub(crate) async fn join_code(app: &TestApp, student: &Account, environment: &str) -> String {
    let path = format!("/api/v1/roblox/environments/{environment}/join-code");
    let code = app.post(&path).bearer(&student.access_token).send().await;
    code.expect(StatusCode::CREATED, None);
    code.data()["code"].as_str().unwrap().to_owned()
}

/// A generated quiz made into an assessment (answers shown) published to
/// the school's class, and an environment of it: the environment's key.
pub(crate) async fn quiz_environment(app: &TestApp, school: &School) -> (GameKey, String) {
    let quiz = app
        .generated(&school.teacher, json!({"type": "quiz", "subject": "Maths", "grade_level": 4, "topic": "Fractions"}))
        .await;
    let made = app
        .post("/api/v1/assessments")
        .bearer(&school.teacher.access_token)
        .json(json!({"content_id": quiz.content_id, "max_attempts": 3, "show_answers": true}))
        .send()
        .await;
    made.expect(StatusCode::CREATED, None);
    let assessment = made.data()["id"].as_str().unwrap().to_owned();
    app.post(&format!("/api/v1/assessments/{assessment}/publish"))
        .bearer(&school.teacher.access_token)
        .json(json!({"class_ids": [school.class_id]}))
        .send()
        .await
        .expect(StatusCode::OK, None);
    let body = json!({"content_id": quiz.content_id, "assessment_id": assessment, "class_id": school.class_id});
    let created = create(app, &school.teacher, body).await;
    created.expect(StatusCode::CREATED, None);
    (GameKey::of(&created), assessment)
}

async fn assessment_statistics(app: &TestApp, teacher: &Account, assessment: &str) -> Value {
    let path = format!("/api/v1/assessments/{assessment}/statistics");
    let statistics = app.get(&path).bearer(&teacher.access_token).send().await;
    statistics.expect(StatusCode::OK, None);
    statistics.data().clone()
}

#[tokio::test]
async fn a_quiz_answer_reported_by_the_game_is_graded_once_and_counts_in_the_statistics() {
    let app = TestApp::spawn().await;
    let school = School::new(&app).await;
    let (game, assessment) = quiz_environment(&app, &school).await;
    let code = join_code(&app, &school.student, &game.environment_id).await;
    let linked =
        game.post(&app, "/api/v1/roblox/links", json!({"code": code.to_lowercase(), "roblox_user_id": 4242})).await;
    linked.expect(StatusCode::CREATED, None);
    assert_eq!(
        (linked.data()["roblox_user_id"].as_u64(), linked.data()["attempts_used"].as_u64()),
        (Some(4242), Some(0))
    );

    // The right answers: each question's `answer`, as the teacher sees them.
    let view = app.get(&format!("/api/v1/assessments/{assessment}")).bearer(&school.teacher.access_token).send().await;
    let answers: Vec<Value> =
        view.data()["questions"].as_array().unwrap().iter().map(|q| q["answer"].clone()).collect();
    let submitted_before = app.daily_count(&school.student, store::counters::Counter::AssessmentsSubmitted).await;
    let attempt = json!({"type": "attempt", "roblox_user_id": 4242, "assessment_id": assessment, "attempt": 1, "answers": answers});
    let (body, timestamp, signature) = game.signed(&app, &game.events(), &attempt, &game.secret);
    let request = (game.events(), body, timestamp, signature);
    let request = (request.0.as_str(), request.1.as_str(), request.2.as_str(), request.3.as_str());
    let graded = game.send(&app, request).await;
    graded.expect(StatusCode::OK, None);
    assert_eq!(
        (graded.data()["percent"].as_f64(), graded.data()["passed"].as_bool(), graded.data()["graded_now"].as_bool()),
        (Some(100.0), Some(true), Some(true))
    );
    assert!(graded.data()["correct"].as_array().unwrap().iter().all(|c| c == true), "{}", graded.text);
    let statistics = assessment_statistics(&app, &school.teacher, &assessment).await;
    assert_eq!((statistics["submissions"].as_u64(), statistics["mean_percent"].as_f64()), (Some(1), Some(100.0)));
    assert_eq!(
        app.daily_count(&school.student, store::counters::Counter::AssessmentsSubmitted).await,
        submitted_before + 1,
        "the dashboard's count"
    );
    // The student's own submissions list it, as theirs.
    let mine = app
        .get(&format!("/api/v1/assessments/{assessment}/submissions"))
        .bearer(&school.student.access_token)
        .send()
        .await;
    assert_eq!(mine.data().as_array().unwrap().len(), 1, "{}", mine.text);

    // The same request again (a replay), and one signed with another secret
    // (a forgery): refused, nothing counted.
    game.send(&app, request).await.expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    let (body, timestamp, forged) = game.signed(&app, &game.events(), &attempt, &"0".repeat(64));
    game.send(&app, (&game.events(), &body, &timestamp, &forged))
        .await
        .expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    // Signed anew (a second later), the same attempt is the grade already
    // given; other answers for it are a conflict.
    app.clock.advance(1);
    let again = game.post(&app, &game.events(), attempt.clone()).await;
    again.expect(StatusCode::OK, None);
    assert_eq!(again.data()["graded_now"], false);
    let mut other = attempt.clone();
    other["answers"][0] = json!(if answers[0] == json!(0) { 1 } else { 0 });
    game.post(&app, &game.events(), other).await.expect(StatusCode::CONFLICT, Some("conflict"));
    assert_eq!(assessment_statistics(&app, &school.teacher, &assessment).await, statistics);

    // Linking again later: the game learns the attempts already used.
    let code = join_code(&app, &school.student, &game.environment_id).await;
    let relinked = game.post(&app, "/api/v1/roblox/links", json!({"code": code, "roblox_user_id": 4242})).await;
    assert_eq!(relinked.data()["attempts_used"], 1, "{}", relinked.text);
}

#[tokio::test]
async fn progress_reported_by_the_game_only_moves_forward_and_shows_in_the_lessons_statistics() {
    let app = TestApp::spawn().await;
    let school = School::new(&app).await;
    let created = create(&app, &school.teacher, school.lesson_environment()).await;
    let game = GameKey::of(&created);
    let code = join_code(&app, &school.student, &game.environment_id).await;
    game.post(&app, "/api/v1/roblox/links", json!({"code": code, "roblox_user_id": 77}))
        .await
        .expect(StatusCode::CREATED, None);
    let report = |percent: u64, status: &str| {
        json!({"type": "progress", "roblox_user_id": 77, "lesson_id": school.lesson_id, "status": status,
               "percent": percent, "time_spent_seconds": percent * 6})
    };
    let statistics = || async {
        let path = format!("/api/v1/lessons/{}/statistics", school.lesson_id);
        app.get(&path).bearer(&school.teacher.access_token).send().await.data().clone()
    };
    let moved = game.post(&app, &game.events(), report(50, "in_progress")).await;
    moved.expect(StatusCode::OK, None);
    assert_eq!(moved.data()["percent"], 50);
    // A late report of less changes nothing.
    let late = game.post(&app, &game.events(), report(20, "in_progress")).await;
    assert_eq!((late.data()["percent"].as_u64(), late.data()["status"].as_str()), (Some(50), Some("in_progress")));
    let before = statistics().await;
    assert_eq!(
        (before["learners"].as_u64(), before["started"].as_u64(), before["completed"].as_u64()),
        (Some(1), Some(1), Some(0))
    );
    let done = game.post(&app, &game.events(), report(100, "completed")).await;
    assert_eq!(done.data()["status"], "completed");
    assert_eq!(statistics().await["completed"], 1);
    // The student's own progress says so.
    let mine = app
        .get(&format!("/api/v1/lessons/{}/progress", school.lesson_id))
        .bearer(&school.student.access_token)
        .send()
        .await;
    assert_eq!((mine.data()["status"].as_str(), mine.data()["percent"].as_u64()), (Some("completed"), Some(100)));

    // A lesson not in the environment, an assessment it has none of, an
    // unlinked player, a percent over 100: refused, nothing moved.
    let after = statistics().await;
    let other_lesson = lessons::create(&app, &school.teacher, lessons::body("Other")).await.data()["id"].clone();
    let mut wrong = report(100, "completed");
    wrong["lesson_id"] = other_lesson;
    let refused = game.post(&app, &game.events(), wrong).await;
    refused.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
    assert!(refused.text.contains("lesson_id"), "{}", refused.text);
    let attempt = json!({"type": "attempt", "roblox_user_id": 77, "assessment_id": ulid::Ulid::new().to_string(), "attempt": 1, "answers": [1]});
    game.post(&app, &game.events(), attempt).await.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
    let mut stranger = report(100, "completed");
    stranger["roblox_user_id"] = json!(78);
    game.post(&app, &game.events(), stranger).await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    for (field, value) in
        [("percent", json!(101)), ("status", json!("finished")), ("type", json!("teleport")), ("extra", json!(1))]
    {
        let mut bad = report(100, "completed");
        bad[field] = value;
        game.post(&app, &game.events(), bad).await.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
    }
    assert_eq!(statistics().await, after);
}

#[tokio::test]
async fn join_codes_work_once_for_ten_minutes_and_only_in_their_environment() {
    let app = TestApp::spawn().await;
    let school = School::new(&app).await;
    let stranger = School::new(&app).await;
    let created = create(&app, &school.teacher, school.lesson_environment()).await;
    let game = GameKey::of(&created);
    let join = format!("/api/v1/roblox/environments/{}/join-code", game.environment_id);
    let link = |code: &str, user: u64| json!({"code": code, "roblox_user_id": user});

    // Only a student of the class asks for one.
    app.post(&join).bearer(&school.teacher.access_token).send().await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    let outsider = app.member(&school.admin, "student").await;
    app.post(&join).bearer(&outsider.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    app.post(&join)
        .bearer(&stranger.student.access_token)
        .send()
        .await
        .expect(StatusCode::NOT_FOUND, Some("not_found"));

    let code = join_code(&app, &school.student, &game.environment_id).await;
    assert_eq!(code.len(), 8);
    game.post(&app, "/api/v1/roblox/links", link(&code, 1)).await.expect(StatusCode::CREATED, None);
    // Used: refused, and the link made stays the only one.
    game.post(&app, "/api/v1/roblox/links", link(&code, 2)).await.expect(StatusCode::CONFLICT, Some("conflict"));
    let unlinked = app.raw_item(&school.teacher.tenant().roblox_link(&game.environment_id.parse().unwrap(), 2)).await;
    assert_eq!(unlinked, None);
    let late = join_code(&app, &school.student, &game.environment_id).await;
    // Unknown, malformed, or another environment's: refused.
    game.post(&app, "/api/v1/roblox/links", link("ABCDEFGH", 4)).await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    for bad in [link("0OIL", 4), json!({"code": 12345678, "roblox_user_id": 4}), link(&late, 0), json!({"code": late})]
    {
        game.post(&app, "/api/v1/roblox/links", bad)
            .await
            .expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
    }
    let other = GameKey::of(&create(&app, &school.teacher, school.lesson_environment()).await);
    let fresh = join_code(&app, &school.student, &game.environment_id).await;
    other.post(&app, "/api/v1/roblox/links", link(&fresh, 5)).await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    // One Roblox account plays as one student here.
    let classmate = app.member(&school.admin, "student").await;
    app.post(&format!("/api/v1/classes/{}/students", school.class_id))
        .bearer(&school.teacher.access_token)
        .json(json!({"student_ids": [classmate.user_id]}))
        .send()
        .await
        .expect(StatusCode::OK, None);
    let theirs = join_code(&app, &classmate, &game.environment_id).await;
    game.post(&app, "/api/v1/roblox/links", link(&theirs, 1)).await.expect(StatusCode::CONFLICT, Some("conflict"));

    // Expired after ten minutes (the clock moves last: tokens made after it are not yet valid).
    app.clock.advance(11 * 60);
    let expired = game.post(&app, "/api/v1/roblox/links", link(&late, 3)).await;
    expired.expect(StatusCode::CONFLICT, Some("conflict"));
    assert!(expired.text.contains("expired"), "{}", expired.text);

    // Without the key, with a wrong one, on another environment's path, or
    // once the environment is deleted: refused.
    let body = link(&fresh, 6);
    let unsigned = app.post("/api/v1/roblox/links").json(body.clone()).send().await;
    unsigned.expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    let pretender =
        GameKey { key_id: format!("{}.{}", stranger.admin.org_id, game.environment_id), ..GameKey::of(&created) };
    pretender
        .post(&app, "/api/v1/roblox/links", body.clone())
        .await
        .expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    let progress = json!({"type": "progress", "roblox_user_id": 1, "lesson_id": school.lesson_id, "status": "in_progress",
                          "percent": 10, "time_spent_seconds": 60});
    other.post(&app, &game.events(), progress.clone()).await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    app.delete(&format!("/api/v1/roblox/environments/{}", game.environment_id))
        .bearer(&school.teacher.access_token)
        .send()
        .await
        .expect(StatusCode::OK, None);
    game.post(&app, &game.events(), progress).await.expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
}

/// A local Roblox Open Cloud that checks what Roblox checks of a place
/// publish: the key and its place, the version type, an XML place file
/// that parses, under 10 MiB. It keeps each place it accepted, and answers
/// `failures` first, last first (0 stands for a normal answer).
#[derive(Clone, Default)]
pub(crate) struct FakeOpenCloud {
    /// The place files accepted, as uploaded.
    pub published: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
    failures: std::sync::Arc<std::sync::Mutex<Vec<u16>>>,
}

pub(crate) const OPEN_CLOUD_KEY: &str = "oc-key-for-the-tests";

impl FakeOpenCloud {
    pub(crate) async fn serve(failures: Vec<u16>) -> (String, Self) {
        use axum::extract::{Path as UrlPath, RawQuery, State};
        use axum::response::IntoResponse;
        async fn versions(
            State(fake): State<FakeOpenCloud>,
            UrlPath((universe, place)): UrlPath<(u64, u64)>,
            RawQuery(query): RawQuery,
            headers: axum::http::HeaderMap,
            body: axum::body::Bytes,
        ) -> axum::response::Response {
            let refuse = |status: u16, message: &str| {
                let status = StatusCode::from_u16(status).unwrap();
                (status, axum::Json(json!({"code": status.as_u16(), "message": message}))).into_response()
            };
            // 0: answer this one as Roblox would.
            if let Some(status) = fake.failures.lock().unwrap().pop().filter(|status| *status != 0) {
                return refuse(status, "try later");
            }
            let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            if header("x-api-key") != OPEN_CLOUD_KEY {
                return refuse(401, "Invalid API Key");
            }
            if (universe, place) != (111, 222) {
                return refuse(404, "Place or universe does not exist.");
            }
            if query.as_deref() != Some("versionType=Published") || header("content-type") != "application/xml" {
                return refuse(400, "Invalid request");
            }
            if body.len() > 10 * 1024 * 1024 || rbx_xml::from_reader_default(body.as_ref()).is_err() {
                return refuse(400, "Invalid file content.");
            }
            let mut published = fake.published.lock().unwrap();
            published.push(body.to_vec());
            let version = format!("{{\"versionNumber\":{}}}", published.len() + 6);
            (StatusCode::OK, [("content-type", "text/plain")], version).into_response()
        }
        let fake = Self { failures: std::sync::Arc::new(std::sync::Mutex::new(failures)), ..Self::default() };
        let app = axum::Router::new()
            .route("/universes/v1/{universe}/places/{place}/versions", axum::routing::post(versions))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{address}"), fake)
    }
}

async fn store_settings(app: &TestApp, admin: &Account, key: &str) -> TestResponse {
    let settings = json!({"api_key": key, "universe_id": 111, "place_id": 222});
    app.call(axum::http::Method::PUT, "/api/v1/roblox/settings").bearer(&admin.access_token).json(settings).send().await
}

#[tokio::test]
async fn an_admin_stores_the_open_cloud_key_which_is_sealed_and_never_shown() {
    let app = TestApp::spawn().await;
    let school = School::new(&app).await;
    let path = "/api/v1/roblox/settings";
    app.get(path).bearer(&school.admin.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    for account in [&school.teacher, &school.student] {
        store_settings(&app, account, OPEN_CLOUD_KEY).await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    }
    for bad in [
        json!({"api_key": "has a blank", "universe_id": 111, "place_id": 222}),
        json!({"api_key": "", "universe_id": 111, "place_id": 222}),
        json!({"api_key": "k".repeat(1025), "universe_id": 111, "place_id": 222}),
        json!({"api_key": "k", "universe_id": 0, "place_id": 222}),
        json!({"api_key": "k", "universe_id": "111", "place_id": 222}),
        json!({"api_key": "k", "universe_id": 111}),
        json!({"api_key": "k", "universe_id": 111, "place_id": 222, "secret": 1}),
    ] {
        let refused =
            app.call(axum::http::Method::PUT, path).bearer(&school.admin.access_token).json(bad.clone()).send().await;
        refused.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
        assert!(!refused.text.contains("has a blank"), "{}", refused.text);
    }
    let stored = store_settings(&app, &school.admin, OPEN_CLOUD_KEY).await;
    stored.expect(StatusCode::OK, None);
    let read = app.get(path).bearer(&school.admin.access_token).send().await;
    read.expect(StatusCode::OK, None);
    assert_eq!(
        (read.data()["universe_id"].as_u64(), read.data()["place_id"].as_u64(), read.data()["api_key_set"].as_bool()),
        (Some(111), Some(222), Some(true))
    );
    for text in [&stored.text, &read.text] {
        assert!(!text.contains(OPEN_CLOUD_KEY), "{text}");
    }
    let raw = app.raw_item(&school.admin.tenant().roblox_settings()).await.unwrap();
    assert!(!raw.contains(OPEN_CLOUD_KEY) && raw.contains("sealed:v1:"), "{raw}");
    // Another school has none.
    app.get(path)
        .bearer(&School::new(&app).await.admin.access_token)
        .send()
        .await
        .expect(StatusCode::NOT_FOUND, Some("not_found"));
}

#[tokio::test]
async fn publishing_uploads_the_place_with_its_secret_through_open_cloud() {
    let (base, cloud) = FakeOpenCloud::serve(vec![]).await;
    let app = TestApp::spawn_with(|config| config.roblox_api_base = base).await;
    let school = School::new(&app).await;
    let created = create(&app, &school.teacher, school.lesson_environment()).await;
    let game = GameKey::of(&created);
    let path = format!("/api/v1/roblox/environments/{}/publish", game.environment_id);
    // Before the organization has settings: a 409 that says what to do.
    let unset = app.post(&path).bearer(&school.teacher.access_token).send().await;
    unset.expect(StatusCode::CONFLICT, Some("conflict"));
    assert!(unset.text.contains("/api/v1/roblox/settings"), "{}", unset.text);

    store_settings(&app, &school.admin, OPEN_CLOUD_KEY).await.expect(StatusCode::OK, None);
    let published = app.post(&path).bearer(&school.teacher.access_token).send().await;
    published.expect(StatusCode::OK, None);
    assert_eq!(published.data()["version_number"], 7);
    assert_eq!(published.data()["environment"]["status"], "published");
    let read = app
        .get(&format!("/api/v1/roblox/environments/{}", game.environment_id))
        .bearer(&school.teacher.access_token)
        .send()
        .await;
    assert_eq!(
        (read.data()["status"].as_str(), read.data()["published_version"].as_u64()),
        (Some("published"), Some(7))
    );

    // What Roblox got: the downloadable place, and the secret in the server's
    // configuration (in ServerStorage, which players never receive).
    let uploaded = cloud.published.lock().unwrap()[0].clone();
    let dom = rbx_xml::from_reader_default(uploaded.as_slice()).unwrap();
    let tree = instances(&dom);
    let (downloaded, _) = download(&app, &school.teacher, &game.environment_id, "place").await;
    let downloaded = instances(&rbx_xml::from_reader_default(downloaded.as_slice()).unwrap());
    assert_eq!(tree.keys().collect::<Vec<_>>(), downloaded.keys().collect::<Vec<_>>());
    let lua = mlua::Lua::new();
    let source = tree["/ServerStorage/ToolboxConfig"].1.as_deref().unwrap();
    let config: Value = mlua::LuaSerdeExt::from_value(&lua, lua.load(source).eval::<mlua::Value>().unwrap()).unwrap();
    assert_eq!(config["signing_secret"].as_str(), Some(game.secret.as_str()));
    assert_eq!(config["key_id"].as_str(), Some(game.key_id.as_str()));
    for (path, (_, source)) in &tree {
        let secret_here = source.as_deref().is_some_and(|s| s.contains(&game.secret));
        assert_eq!(secret_here, path == "/ServerStorage/ToolboxConfig", "{path}");
    }

    // Others: a student, another teacher, another school.
    app.post(&path).bearer(&school.student.access_token).send().await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    let colleague = app.member(&school.admin, "teacher").await;
    app.post(&path).bearer(&colleague.access_token).send().await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    let stranger = School::new(&app).await;
    app.post(&path).bearer(&stranger.admin.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    assert_eq!(cloud.published.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn open_clouds_refusals_and_failures_become_answers_a_client_can_act_on() {
    // (Answered last first.) A rate limit then a success; three server errors; then refusals.
    let (base, cloud) = FakeOpenCloud::serve(vec![500, 500, 500, 0, 429]).await;
    let app = TestApp::spawn_with(|config| config.roblox_api_base = base).await;
    let school = School::new(&app).await;
    let created = create(&app, &school.teacher, school.lesson_environment()).await;
    let path = format!("/api/v1/roblox/environments/{}/publish", created.data()["id"].as_str().unwrap());
    store_settings(&app, &school.admin, OPEN_CLOUD_KEY).await.expect(StatusCode::OK, None);
    let publish = || app.post(&path).bearer(&school.admin.access_token).send();
    // Retried past the rate limit.
    publish().await.expect(StatusCode::OK, None);
    // Roblox failing on every try: 503 with Retry-After, nothing published.
    let failing = publish().await;
    failing.expect(StatusCode::SERVICE_UNAVAILABLE, Some("unavailable"));
    assert_eq!(cloud.published.lock().unwrap().len(), 1);
    // A wrong key, a place not there: 409s naming the settings.
    store_settings(&app, &school.admin, "another-key").await.expect(StatusCode::OK, None);
    let refused = publish().await;
    refused.expect(StatusCode::CONFLICT, Some("conflict"));
    assert!(
        refused.text.contains("universe-places:write") && !refused.text.contains("another-key"),
        "{}",
        refused.text
    );
    let elsewhere = json!({"api_key": OPEN_CLOUD_KEY, "universe_id": 999, "place_id": 222});
    app.call(axum::http::Method::PUT, "/api/v1/roblox/settings")
        .bearer(&school.admin.access_token)
        .json(elsewhere)
        .send()
        .await
        .expect(StatusCode::OK, None);
    let missing = publish().await;
    missing.expect(StatusCode::CONFLICT, Some("conflict"));
    assert!(missing.text.contains("no such universe or place"), "{}", missing.text);
    assert_eq!(cloud.published.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_suspended_school_s_games_are_refused_and_an_erased_student_s_links_are_gone() {
    let app = TestApp::spawn().await;
    let school = School::new(&app).await;
    // A lesson made from the content but not published: no student could
    // report through it.
    let draft = lessons::create(&app, &school.teacher, json!({"content_id": school.lesson_content})).await;
    let mut body = school.lesson_environment();
    body["lesson_id"] = draft.data()["id"].clone();
    let refused = create(&app, &school.teacher, body).await;
    refused.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
    assert!(refused.text.contains("publish it"), "{}", refused.text);

    let game = GameKey::of(&create(&app, &school.teacher, school.lesson_environment()).await);
    let code = join_code(&app, &school.student, &game.environment_id).await;
    game.post(&app, "/api/v1/roblox/links", json!({"code": code, "roblox_user_id": 55}))
        .await
        .expect(StatusCode::CREATED, None);
    let link = school.teacher.tenant().roblox_link(&game.environment_id.parse().unwrap(), 55);
    assert!(app.raw_item(&link).await.is_some());

    // Erasing the student takes their Roblox link with their progress.
    let erasure = app
        .post("/api/v1/compliance/erasures")
        .bearer(&school.admin.access_token)
        .json(json!({"user_id": school.student.user_id}))
        .send()
        .await;
    crate::privacy::run(&app, &school.admin, &erasure).await;
    assert_eq!(app.raw_item(&link).await, None);
    let progress = json!({"type": "progress", "roblox_user_id": 55, "lesson_id": school.lesson_id, "status": "in_progress",
                          "percent": 10, "time_spent_seconds": 60});
    game.post(&app, &game.events(), progress.clone()).await.expect(StatusCode::NOT_FOUND, Some("not_found"));

    crate::authorizer::suspend(&app, &school.admin).await;
    app.clock.advance(1);
    let suspended = game.post(&app, &game.events(), progress).await;
    suspended.expect(StatusCode::FORBIDDEN, Some("forbidden"));
}
