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
