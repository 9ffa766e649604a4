//! JSON as a Luau table literal: what a `.json` module becomes in a place
//! file (Rojo does the same for the project). Every string is written
//! byte by byte, anything but plain letters, digits and a few harmless
//! signs as a decimal escape (`\034`), so no text can end the string, open
//! a comment or a long bracket, or otherwise become code.

use std::fmt::Write;

use serde_json::Value;

/// The source of a module that returns `value`.
pub fn module(value: &Value) -> String {
    let mut out = String::from("return ");
    write_value(value, &mut out);
    out.push('\n');
    out
}

fn write_value(value: &Value, out: &mut String) {
    match value {
        // Only the data modules are written here, and they hold no nulls
        // (a nil would end a Luau array early).
        Value::Null => out.push_str("nil"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        // serde_json prints finite numbers only, in a form Luau reads.
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('{');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(item, out);
            }
            out.push('}');
        }
        Value::Object(fields) => {
            out.push('{');
            for (i, (key, item)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push('[');
                write_string(key, out);
                out.push_str("] = ");
                write_value(item, out);
            }
            out.push('}');
        }
    }
}

fn write_string(text: &str, out: &mut String) {
    out.push('"');
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b" .,:;!?'()_/+*=@%&".contains(&byte) {
            out.push(byte as char);
        } else {
            let _ = write!(out, "\\{byte:03}");
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use mlua::{Lua, LuaSerdeExt};
    use serde_json::json;

    use super::*;

    /// Runs the module in the Luau VM and reads its table back as JSON.
    fn evaluated(value: &Value) -> Value {
        let lua = Lua::new();
        let table: mlua::Value = lua.load(module(value)).eval().expect("the literal is valid Luau");
        lua.from_value(table).expect("the table converts back")
    }

    /// Luau has one number type: every number as a float.
    fn as_floats(value: Value) -> Value {
        match value {
            Value::Number(n) => json!(n.as_f64()),
            Value::Array(items) => Value::Array(items.into_iter().map(as_floats).collect()),
            Value::Object(fields) => Value::Object(fields.into_iter().map(|(k, v)| (k, as_floats(v))).collect()),
            other => other,
        }
    }

    #[test]
    fn hostile_text_stays_text_in_the_luau_vm() {
        let hostile = [
            "\"]] os.exit() --[[",
            "\\\" .. error('x') .. \"",
            "]==] game:Destroy() --[==[",
            "line\nbreak\r\ttab \0 nul",
            "ünïcödé 漢字 🎮",
            "${x} {{y}} %s %d <script>",
        ];
        for text in hostile {
            let value = json!({"title": text, "list": [text, 1, 2.5, true], "nested": {"k]": text}});
            assert_eq!(as_floats(evaluated(&value)), as_floats(value), "{text:?}");
        }
    }

    #[test]
    fn no_quote_bracket_or_line_break_survives_unescaped() {
        let source = module(&json!({"a": "\"'[]--\n\\"}));
        let body = source.trim_start_matches("return ").trim_end();
        // Only the literal's own quotes, brackets and `=` signs, never the text's.
        assert_eq!(body, "{[\"a\"] = \"\\034'\\091\\093\\045\\045\\010\\092\"}");
    }
}
