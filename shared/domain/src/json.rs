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
    // Well-formed, so whatever fails now is a value the type refuses.
    serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        Error::Invalid(vec![field_error(&path, &err.into_inner())])
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
}
