//! Reading JSON into the domain's types: a body is held to its type, and
//! every way it can be wrong is an [`Error`] naming the field.

use serde::de::DeserializeOwned;

use crate::error::{Error, FieldError};

pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    // Syntax first: a typed parse stops at the first unknown field and would
    // call a truncated body "invalid" rather than "malformed".
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
        .map_err(|_| Error::BadRequest("the body is not well-formed JSON".into()))?;
    // Every body is an object; serde would also fill a struct from an array
    // of its fields in order, which no schema here allows.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(Error::invalid("body", "must be a JSON object"));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    // Well-formed, so whatever fails now is a value the type refuses: name
    // every such value, not only the first, as a form wants them all at once.
    serde_path_to_error::deserialize(&mut deserializer).map_err(|first| {
        let first = field_error(&first.path().to_string(), &first.into_inner());
        // Each further field costs a read of the whole body: a form's worth
        // is named in full, a large body by its first refusal only.
        let mut found = if bytes.len() <= COLLECT_LIMIT {
            every_invalid_field::<T>(serde_json::from_slice(bytes).unwrap_or_default())
        } else {
            Vec::new()
        };
        // A refusal only the text shows (a key given twice) is still the one.
        if !found.iter().any(|error| error.field == first.field) {
            found.insert(0, first);
        }
        Error::Invalid(found)
    })
}

/// For optional request fields, with `#[serde(default, deserialize_with =
/// "present")]`: an absent field is `None`, but an explicit `null` is refused,
/// as the OpenAPI schema (not nullable) says.
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// An integer as JSON Schema counts one: `5` or `5.0`, not `5.5`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WholeNumber(pub i64);

impl<'de> serde::Deserialize<'de> for WholeNumber {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let number = serde_json::Number::deserialize(deserializer)?;
        number
            .as_i64()
            .or_else(|| number.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| f as i64))
            .map(Self)
            .ok_or_else(|| D::Error::custom("must be a whole number"))
    }
}

/// Like [`present`], for an optional integer written as a [`WholeNumber`].
pub fn present_integer<'de, D>(deserializer: D) -> Result<Option<i64>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::Deserialize;
    WholeNumber::deserialize(deserializer).map(|n| Some(n.0))
}

/// For an integer field, with `#[serde(deserialize_with = "whole")]`: `5`
/// or `5.0`, as JSON Schema counts integers, in the range of the field's type.
pub fn whole<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64>,
{
    use serde::Deserialize;
    use serde::de::Error;
    let WholeNumber(value) = WholeNumber::deserialize(deserializer)?;
    T::try_from(value).map_err(|_| D::Error::custom(format!("{value} is out of range")))
}

/// Like [`whole`], for an optional field that is never `null` (see [`present`]).
pub fn present_whole<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64>,
{
    whole(deserializer).map(Some)
}

/// Like [`whole`], for a list of integers.
pub fn whole_list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64>,
{
    use serde::Deserialize;
    use serde::de::Error;
    Vec::<WholeNumber>::deserialize(deserializer)?
        .into_iter()
        .map(|WholeNumber(value)| T::try_from(value).map_err(|_| D::Error::custom(format!("{value} is out of range"))))
        .collect()
}

fn field_error(path: &str, err: &serde_json::Error) -> FieldError {
    let text = err.to_string();
    // serde_json appends the position; the field name says more to a client.
    let message = text.split(" at line ").next().unwrap_or(&text).to_owned();
    let missing = message.strip_prefix("missing field `").and_then(|rest| rest.strip_suffix('`'));
    let field = match (path, missing) {
        (".", Some(name)) => name.to_owned(),
        (".", None) => "body".to_owned(),
        (path, Some(name)) => format!("{path}.{name}"),
        (path, None) => path.to_owned(),
    };
    FieldError { field, message }
}

/// At most this many invalid fields are named in one answer.
const MAX_INVALID: usize = 50;

/// At most this many reads of a body to find them: one per field named,
/// and one per stand-in tried.
const MAX_READS: usize = 200;

/// Bodies larger than this many bytes are not read again to find more
/// invalid fields than the first (a form is a few kilobytes at most).
const COLLECT_LIMIT: usize = 64 * 1024;

/// Every value of `body` that `T` refuses, in the order of the request:
/// the value serde names is taken out and the body read again, until it
/// reads. A missing field is named where serde notices it, at the end of
/// its object, and a stand-in put in its place (never stored: it only lets
/// the rest be read); an object no stand-in satisfies is taken out whole.
fn every_invalid_field<T: DeserializeOwned>(mut body: serde_json::Value) -> Vec<FieldError> {
    let mut found: Vec<FieldError> = Vec::new();
    // Where the elements left in each array stood in the request: taking one
    // out must not renumber the ones after it in what the client is told.
    let mut arrays: Vec<(String, Vec<usize>)> = Vec::new();
    // The stand-ins in place, by field, with the next one to try.
    let mut stand_ins: Vec<(String, usize)> = Vec::new();
    for _ in 0..MAX_READS {
        if found.len() >= MAX_INVALID {
            break;
        }
        let Err(err) = serde_path_to_error::deserialize::<_, T>(&body) else { break };
        let mut steps: Vec<Step> = err.path().iter().filter_map(Step::of).collect();
        let error = field_error(&request_path(&steps, &arrays), &err.into_inner());
        let missing = error.message.strip_prefix("missing field `").and_then(|rest| rest.strip_suffix('`'));
        if let Some(name) = missing {
            steps.push(Step::Key(name.to_owned()));
        }
        let standing_in = stand_ins.iter_mut().find(|(field, _)| *field == error.field);
        match (standing_in, missing) {
            // The stand-in did not do: the next one, or take out its object.
            (Some((_, next)), None) if *next < STAND_INS.len() => {
                put(&mut body, &steps, serde_json::from_str(STAND_INS[*next]).unwrap_or_default());
                *next += 1;
            }
            (Some(_), None) => {
                if !take_out(&mut body, &steps[..steps.len() - 1], &mut arrays) {
                    break;
                }
            }
            (_, Some(_)) => {
                if !found.iter().any(|seen| seen.field == error.field) {
                    found.push(error.clone());
                }
                stand_ins.retain(|(field, _)| *field != error.field);
                stand_ins.push((error.field.clone(), 1));
                put(&mut body, &steps, serde_json::from_str(STAND_INS[0]).unwrap_or_default());
            }
            (None, None) => {
                if !found.iter().any(|seen| seen.field == error.field) {
                    found.push(error);
                }
                if !take_out(&mut body, &steps, &mut arrays) {
                    break;
                }
            }
        }
    }
    found
}

/// What a missing field is read as, in turn, until one passes its type:
/// the empty and smallest values, then the shortest that pass the commonest
/// field types (a name, a password, an email, an id).
const STAND_INS: [&str; 11] = [
    "null",
    "\"\"",
    "0",
    "1",
    "false",
    "[]",
    "{}",
    "\"a\"",
    "\"aaaaaaaaaa\"",
    "\"a@example.com\"",
    "\"00000000000000000000000000\"",
];

/// Puts `value` at `steps` (a field of an object that is there).
fn put(body: &mut serde_json::Value, steps: &[Step], value: serde_json::Value) {
    let Some((Step::Key(key), parent)) = steps.split_last() else { return };
    if let Some(serde_json::Value::Object(map)) = node(body, parent) {
        map.insert(key.clone(), value);
    }
}

/// The value at `steps`, if there is one.
fn node<'a>(body: &'a mut serde_json::Value, steps: &[Step]) -> Option<&'a mut serde_json::Value> {
    steps.iter().try_fold(body, |node, step| match (step, node) {
        (Step::Key(key), serde_json::Value::Object(map)) => map.get_mut(key),
        (Step::Index(index), serde_json::Value::Array(items)) => items.get_mut(*index),
        _ => None,
    })
}

/// One step of a path into a body: a key, or an index as it is now.
#[derive(Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

impl Step {
    fn of(segment: &serde_path_to_error::Segment) -> Option<Self> {
        match segment {
            serde_path_to_error::Segment::Map { key } => Some(Self::Key(key.clone())),
            serde_path_to_error::Segment::Seq { index } => Some(Self::Index(*index)),
            _ => None,
        }
    }
}

/// The path as the client wrote it: `questions[2].points`, with each index
/// the element's place in the request.
fn request_path(steps: &[Step], arrays: &[(String, Vec<usize>)]) -> String {
    let mut path = String::new();
    for step in steps {
        match step {
            Step::Key(key) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
            Step::Index(now) => {
                let was = arrays.iter().find(|(at, _)| *at == path).and_then(|(_, left)| left.get(*now).copied());
                path.push_str(&format!("[{}]", was.unwrap_or(*now)));
            }
        }
    }
    if path.is_empty() { ".".to_owned() } else { path }
}

/// Takes the value at `steps` out of `body`; false when there is none (or
/// it is the body itself).
fn take_out(body: &mut serde_json::Value, steps: &[Step], arrays: &mut Vec<(String, Vec<usize>)>) -> bool {
    let Some((last, parent)) = steps.split_last() else { return false };
    let path = request_path(parent, arrays);
    match (last, node(body, parent)) {
        (Step::Key(key), Some(serde_json::Value::Object(map))) => map.shift_remove(key).is_some(),
        (Step::Index(index), Some(serde_json::Value::Array(items))) if *index < items.len() => {
            let len = items.len();
            items.remove(*index);
            let at = match arrays.iter().position(|(at, _)| *at == path) {
                Some(at) => at,
                None => {
                    arrays.push((path, (0..len).collect()));
                    arrays.len() - 1
                }
            };
            arrays[at].1.remove(*index);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[allow(dead_code)]
    #[derive(Debug, Deserialize)]
    struct Sample {
        name: String,
        inner: Inner,
    }

    #[allow(dead_code)]
    #[derive(Debug, Deserialize)]
    struct Inner {
        count: u8,
    }

    fn details(err: Error) -> Vec<FieldError> {
        match err {
            Error::Invalid(details) => details,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        assert!(matches!(parse::<Sample>(b"{\"name\":"), Err(Error::BadRequest(_))));
        assert!(matches!(parse::<Sample>(br#"{"name":"x","inner":{"count":1}} {}"#), Err(Error::BadRequest(_))));
        assert!(matches!(parse::<Sample>(b""), Err(Error::BadRequest(_))));
    }

    #[test]
    fn a_body_is_an_object_never_an_array_of_its_fields() {
        #[derive(Debug, Default, Deserialize)]
        struct Flag {
            #[serde(default)]
            #[allow(dead_code)]
            on: Option<bool>,
        }
        assert_eq!(details(parse::<Flag>(b"[]").unwrap_err())[0].field, "body");
        assert_eq!(details(parse::<Sample>(br#" ["x", {"count": 1}]"#).unwrap_err())[0].field, "body");
        assert!(parse::<Flag>(b"{}").is_ok());
    }

    #[test]
    fn a_missing_field_is_named() {
        let d = details(parse::<Sample>(br#"{"inner":{"count":1}}"#).unwrap_err());
        assert_eq!(d[0].field, "name");
        let d = details(parse::<Sample>(br#"{"name":"x","inner":{}}"#).unwrap_err());
        assert_eq!(d[0].field, "inner.count");
    }

    #[test]
    fn a_wrong_type_is_named_with_its_path() {
        let d = details(parse::<Sample>(br#"{"name":"x","inner":{"count":"many"}}"#).unwrap_err());
        assert_eq!(d[0].field, "inner.count");
        assert!(!d[0].message.contains("line"));
    }

    #[test]
    fn an_integer_may_be_written_with_a_zero_fraction() {
        #[derive(Debug, Deserialize)]
        struct Seconds {
            #[serde(default, deserialize_with = "present_integer")]
            value: Option<i64>,
        }
        assert_eq!(parse::<Seconds>(br#"{"value": 60}"#).unwrap().value, Some(60));
        assert_eq!(parse::<Seconds>(br#"{"value": 60.0}"#).unwrap().value, Some(60));
        assert_eq!(parse::<Seconds>(br#"{}"#).unwrap().value, None);
        for bad in [&br#"{"value": 60.5}"#[..], br#"{"value": null}"#, br#"{"value": "60"}"#] {
            assert_eq!(details(parse::<Seconds>(bad).unwrap_err())[0].field, "value");
        }
    }

    #[allow(dead_code)]
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Form {
        name: String,
        age: u8,
        #[serde(default, deserialize_with = "present")]
        nickname: Option<String>,
        tags: Vec<u8>,
        items: Vec<Inner>,
        email: String,
    }

    fn fields(body: &[u8]) -> Vec<(String, String)> {
        details(parse::<Form>(body).unwrap_err()).into_iter().map(|e| (e.field, e.message)).collect()
    }

    #[test]
    fn every_invalid_field_is_named_in_the_order_of_the_request() {
        let found = fields(
            br#"{"age": "old", "name": 5, "nickname": null, "extra": 1,
                 "tags": [1, "two", 3, -4], "items": [{"count": 1}, {"count": "x"}, {}, {"count": 300}]}"#,
        );
        let names: Vec<&str> = found.iter().map(|(field, _)| field.as_str()).collect();
        assert_eq!(
            names,
            [
                "age",
                "name",
                "nickname",
                "extra",
                "tags[1]",
                "tags[3]",
                "items[1].count",
                "items[2].count",
                "items[3].count",
                "email"
            ],
            "{found:?}"
        );
        assert!(found[0].1.contains("expected u8"), "{found:?}");
        assert_eq!(found[3].1.split(',').next(), Some("unknown field `extra`"));
        assert_eq!(found[8].1, "invalid value: integer `300`, expected u8");
        assert_eq!(found[9].1, "missing field `email`");
    }

    #[test]
    fn a_valid_body_still_reads_and_one_bad_field_is_one_detail() {
        let ok = br#"{"name": "a", "age": 3, "tags": [], "items": [{"count": 1}], "email": "e"}"#;
        assert_eq!(parse::<Form>(ok).unwrap().items.len(), 1);
        let one = br#"{"name": "a", "age": 3, "tags": [], "items": [{"count": 1}], "email": 7}"#;
        assert_eq!(fields(one).len(), 1);
        // A key given twice is refused, though the rest reads.
        let twice = br#"{"name": "a", "name": "b", "age": 3, "tags": [], "items": [], "email": "e"}"#;
        assert_eq!(fields(twice), [("body".to_owned(), "duplicate field `name`".to_owned())]);
    }

    #[test]
    fn a_large_body_is_not_read_again_past_its_first_refusal() {
        let padding = "x".repeat(COLLECT_LIMIT);
        let body = format!(r#"{{"name": 1, "age": "old", "tags": [], "items": [], "email": "{padding}"}}"#);
        assert_eq!(fields(body.as_bytes()).len(), 1);
    }
}
