//! The shipped Luau, run in the Luau VM: every script compiles, the SHA-256
//! and HMAC agree with Rust's, and `Api.luau` calls exactly the routes the
//! API serves, signed so that the API accepts them.

use mlua::{Lua, LuaSerdeExt, Value as LuaValue};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Content, Node, game_tree};

const SHA256: &str = include_str!("luau/Sha256.luau");
const API: &str = include_str!("luau/Api.luau");

fn scripts(node: &Node, out: &mut Vec<(String, &'static str)>) {
    if let Content::Luau(source) = node.content {
        out.push((node.name.clone(), source));
    }
    node.children.iter().for_each(|child| scripts(child, out));
}

#[test]
fn every_shipped_script_compiles_as_luau() {
    let mut found = Vec::new();
    scripts(&game_tree(json!({}), json!({})), &mut found);
    let names: Vec<&str> = found.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["Quiz", "Api", "Main", "Sha256", "Client"]);
    let lua = Lua::new();
    for (name, source) in found {
        lua.load(source).set_name(name.as_str()).into_function().unwrap_or_else(|err| panic!("{name}: {err}"));
    }
}

fn sha256_module(lua: &Lua) -> mlua::Table {
    lua.load(SHA256).eval().expect("Sha256.luau returns its module")
}

#[test]
fn the_luau_sha256_and_hmac_agree_with_rusts() {
    let lua = Lua::new();
    let module = sha256_module(&lua);
    let hex: mlua::Function = module.get("hex").unwrap();
    let hmac: mlua::Function = module.get("hmac").unwrap();
    // Lengths around the padding's edges (55, 56, 64 bytes) and several blocks.
    for length in [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000] {
        let message: String = (0..length).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
        let ours: String = hex.call(lua.create_string(&message).unwrap()).unwrap();
        assert_eq!(ours, hex::encode(Sha256::digest(message.as_bytes())), "length {length}");
        for key in ["k".repeat(64), "short".to_owned(), "long".repeat(40)] {
            let signed: String = hmac.call((key.as_str(), message.as_str())).unwrap();
            let mut mac = <hmac::Hmac<Sha256> as hmac::Mac>::new_from_slice(key.as_bytes()).unwrap();
            hmac::Mac::update(&mut mac, message.as_bytes());
            assert_eq!(signed, hex::encode(hmac::Mac::finalize(mac).into_bytes()), "key {} length {length}", key.len());
        }
    }
}

/// Roblox's JSONEncode writes whole numbers without a fraction.
fn as_roblox_json(value: Value) -> Value {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => json!(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(as_roblox_json).collect()),
        Value::Object(fields) => Value::Object(fields.into_iter().map(|(k, v)| (k, as_roblox_json(v))).collect()),
        other => other,
    }
}

/// `Api.luau` with stand-ins for Roblox's services: HttpService records
/// each request and answers `answer`.
fn api(lua: &Lua, secret: &str, answer: Value) -> mlua::Table {
    let globals = lua.globals();
    let encode = lua
        .create_function(|lua, value: LuaValue| {
            let value: Value = lua.from_value(value)?;
            Ok(serde_json::to_string(&as_roblox_json(value)).unwrap())
        })
        .unwrap();
    let decode =
        lua.create_function(|lua, text: String| lua.to_value(&serde_json::from_str::<Value>(&text).unwrap())).unwrap();
    let sent = lua.create_table().unwrap();
    globals.set("sent", &sent).unwrap();
    globals.set("json_encode", encode).unwrap();
    globals.set("json_decode", decode).unwrap();
    globals.set("answer_body", answer.to_string()).unwrap();
    let modules = lua.create_table().unwrap();
    modules.set("Sha256", sha256_module(lua)).unwrap();
    let config = lua
        .to_value(&json!({"api_url": "https://api.example.test", "environment_id": "ENV",
                          "key_id": "ORG.ENV", "signing_secret": secret}))
        .unwrap();
    modules.set("ToolboxConfig", config).unwrap();
    globals.set("modules", modules).unwrap();
    lua.load(
        r#"
        local HttpService = {
            JSONEncode = function(_, value) return json_encode(value) end,
            JSONDecode = function(_, text) return json_decode(text) end,
            RequestAsync = function(_, request)
                table.insert(sent, request)
                return { Success = true, StatusCode = 201, StatusMessage = "Created", Body = answer_body }
            end,
        }
        local ServerStorage = { WaitForChild = function(_, name) return name end }
        game = { GetService = function(_, name) return if name == "HttpService" then HttpService else ServerStorage end }
        script = { Parent = { Sha256 = "Sha256" } }
        require = function(name) return modules[name] end
        "#,
    )
    .exec()
    .unwrap();
    lua.load(API).eval().expect("Api.luau returns its module")
}

/// The one request the game sent: path, headers and body.
fn sent(lua: &Lua) -> (String, Value, String) {
    let sent: mlua::Table = lua.globals().get("sent").unwrap();
    assert_eq!(sent.raw_len(), 1);
    let request: mlua::Table = sent.get(1).unwrap();
    let url: String = request.get("Url").unwrap();
    assert_eq!(request.get::<String>("Method").unwrap(), "POST");
    let headers: Value = lua.from_value(request.get::<LuaValue>("Headers").unwrap()).unwrap();
    let path = url.strip_prefix("https://api.example.test").expect("the configured API").to_owned();
    (path, headers, request.get("Body").unwrap())
}

/// A call of one of `Api.luau`'s functions.
type Call = fn(&Lua, &mlua::Table) -> mlua::Result<()>;

#[test]
fn the_game_server_signs_its_calls_to_exactly_the_apis_routes() {
    let secret = "ab".repeat(32);
    let cases: [(&str, Call, &str, Value); 3] = [
        (
            "link",
            |_, api| api.get::<mlua::Function>("link")?.call::<()>(("ABCD-EFGH", 4242)),
            "/api/v1/roblox/links",
            json!({"code": "ABCD-EFGH", "roblox_user_id": 4242}),
        ),
        (
            "progress",
            |_, api| api.get::<mlua::Function>("progress")?.call::<()>((4242, "LESSON", "completed", 100, 600)),
            "/api/v1/roblox/environments/ENV/events",
            json!({"type": "progress", "roblox_user_id": 4242, "lesson_id": "LESSON", "status": "completed",
                   "percent": 100, "time_spent_seconds": 600}),
        ),
        (
            "attempt",
            |lua, api| {
                let answers = lua.to_value(&json!([1, true, "Paris", [0, 2]]))?;
                api.get::<mlua::Function>("attempt")?.call::<()>((4242, "QUIZ", 2, answers))
            },
            "/api/v1/roblox/environments/ENV/events",
            json!({"type": "attempt", "roblox_user_id": 4242, "assessment_id": "QUIZ", "attempt": 2,
                   "answers": [1, true, "Paris", [0, 2]]}),
        ),
    ];
    let served = crate::routes().served();
    for (name, call, path, body) in cases {
        let route = path.replace("/ENV/", "/{id}/");
        assert!(served.contains(&(axum::http::Method::POST, route.clone())), "{route} is not served: {served:?}");
        let lua = Lua::new();
        let module = api(&lua, &secret, json!({"status": "success", "data": {"ok": true}}));
        call(&lua, &module).unwrap_or_else(|err| panic!("{name}: {err}"));
        let (sent_path, headers, sent_body) = sent(&lua);
        assert_eq!(sent_path, path, "{name}");
        assert_eq!(serde_json::from_str::<Value>(&sent_body).unwrap(), body, "{name}");
        assert_eq!(
            (headers["X-Environment-Key"].as_str(), headers["Content-Type"].as_str()),
            (Some("ORG.ENV"), Some("application/json"))
        );
        let timestamp: i64 = headers["X-Timestamp"].as_str().unwrap().parse().unwrap();
        let expected = web::signature::sign(&secret, timestamp, "POST", path, sent_body.as_bytes());
        assert_eq!(headers["X-Signature"].as_str(), Some(expected.as_str()), "{name}");
    }
}

#[test]
fn without_its_secret_the_game_sends_nothing() {
    let lua = Lua::new();
    let module = api(&lua, "", json!({}));
    let (ok, error): (bool, LuaValue) = module.get::<mlua::Function>("link").unwrap().call(("ABCD-EFGH", 1)).unwrap();
    let error: Value = lua.from_value(error).unwrap();
    assert_eq!((ok, error["code"].as_str()), (false, Some("not_configured")));
    let sent: mlua::Table = lua.globals().get("sent").unwrap();
    assert_eq!(sent.raw_len(), 0);
}
