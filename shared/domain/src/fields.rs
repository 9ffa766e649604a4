//! Request fields as types that parse, so a handler holding an `Email` knows
//! it is one. Each parse error becomes a 422 naming the field.

use std::fmt;

use serde::{Deserialize, Serialize};

use utoipa::openapi::schema::{KnownFormat, SchemaFormat, Type};
use utoipa::openapi::{ObjectBuilder, RefOr, Schema};

/// A string newtype: parsed on the way in, described to OpenAPI by `$schema`
/// (constraints that say exactly what the parse accepts).
macro_rules! parsed_string {
    ($(#[$doc:meta])* $name:ident, $parse:expr, $schema:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                let describe: fn(ObjectBuilder) -> ObjectBuilder = $schema;
                describe(ObjectBuilder::new().schema_type(Type::String)).into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(raw: String) -> Result<Self, String> {
                let parse: fn(String) -> Result<String, String> = $parse;
                parse(raw).map(Self)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }
    };
}

/// Printable text without surrounding blanks; the OpenAPI pattern below
/// says the same.
fn plain_text(raw: String, min: usize, max: usize) -> Result<String, String> {
    let count = raw.chars().count();
    if count < min || count > max {
        return Err(format!("must be {min} to {max} characters"));
    }
    if raw.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    if raw.trim() != raw {
        return Err("must not start or end with a blank".into());
    }
    Ok(raw)
}

const PLAIN_TEXT_PATTERN: &str = r"^[^\s\x00-\x1f\x7f-\x9f](?:[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$";

fn plain_text_schema(builder: ObjectBuilder, min: usize, max: usize) -> ObjectBuilder {
    builder.min_length(Some(min)).max_length(Some(max)).pattern(Some(PLAIN_TEXT_PATTERN))
}

/// Login emails: an ASCII dot-atom, as the pattern says; stored lowercased.
const EMAIL_PATTERN: &str = r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$";

parsed_string!(
    /// A login email, lowercased: the same address always finds the same
    /// account.
    Email,
    |raw| {
        let invalid = || Err("must be an email address".to_owned());
        if raw.len() > 254 {
            return invalid();
        }
        let Some((local, domain)) = raw.split_once('@') else { return invalid() };
        let local_ok = local.split('.').all(|atom| {
            !atom.is_empty() && atom.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~-".contains(&b))
        });
        let label_ok = |label: &str| {
            (1..=63).contains(&label.len())
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        let labels: Vec<&str> = domain.split('.').collect();
        if !local_ok || labels.len() < 2 || !labels.iter().all(|l| label_ok(l)) {
            return invalid();
        }
        Ok(raw.to_ascii_lowercase())
    },
    // No `format: email`: format checkers disagree at the edges; the pattern
    // says exactly what is accepted.
    |schema| schema.description(Some("An email address")).max_length(Some(254)).pattern(Some(EMAIL_PATTERN))
);

parsed_string!(
    /// A login name: 3–32 of `a-z 0-9 . _ -`, lowercased. Never contains `@`,
    /// so a login can tell it from an email.
    Username,
    |raw| {
        if !(3..=32).contains(&raw.len()) {
            return Err("must be 3 to 32 characters".into());
        }
        if !raw.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
            return Err("may contain only letters, digits, '.', '_' and '-'".into());
        }
        Ok(raw.to_ascii_lowercase())
    },
    |schema| schema.pattern(Some("^[A-Za-z0-9._-]{3,32}$"))
);

parsed_string!(PersonName, |raw| plain_text(raw, 1, 100), |schema| plain_text_schema(schema, 1, 100));
parsed_string!(OrgName, |raw| plain_text(raw, 2, 100), |schema| plain_text_schema(schema, 2, 100));
parsed_string!(
    /// A school subject for generated content, like "Biology".
    Subject,
    |raw| plain_text(raw, 1, 100),
    |schema| plain_text_schema(schema, 1, 100)
);
parsed_string!(
    /// What generated content is about, like "Photosynthesis".
    Topic,
    |raw| plain_text(raw, 1, 200),
    |schema| plain_text_schema(schema, 1, 200)
);
parsed_string!(
    /// One learning objective, like "Explain what chlorophyll does".
    Objective,
    |raw| plain_text(raw, 1, 300),
    |schema| plain_text_schema(schema, 1, 300)
);
parsed_string!(
    /// A class's name, like "7B Biology".
    ClassName,
    |raw| plain_text(raw, 1, 120),
    |schema| plain_text_schema(schema, 1, 120)
);
parsed_string!(
    /// What a class is about, in a few sentences.
    ClassDescription,
    |raw| plain_text(raw, 1, 2000),
    |schema| plain_text_schema(schema, 1, 2000)
);
parsed_string!(
    /// What an admin calls an API key, like "SIS sync".
    KeyName,
    |raw| plain_text(raw, 1, 100),
    |schema| plain_text_schema(schema, 1, 100)
);

parsed_string!(
    /// What a Roblox environment is called, like "Photosynthesis Island".
    EnvironmentName,
    |raw| plain_text(raw, 1, 50),
    |schema| plain_text_schema(schema, 1, 50)
);

parsed_string!(
    /// An IANA time zone name such as `Europe/Paris` or `UTC`.
    TimeZone,
    |raw| {
        let ok = (1..=64).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'))
            && raw.as_bytes()[0].is_ascii_alphabetic();
        if ok { Ok(raw) } else { Err("must be an IANA time zone name, like Europe/Paris".into()) }
    },
    |schema| schema.pattern(Some("^[A-Za-z][A-Za-z0-9/_+-]{0,63}$"))
);

parsed_string!(
    /// A BCP 47 language tag such as `en` or `pt-BR`.
    Locale,
    |raw| {
        let ok = (2..=35).contains(&raw.len())
            && raw.split('-').all(|part| !part.is_empty() && part.len() <= 8 && part.bytes().all(|b| b.is_ascii_alphanumeric()));
        if ok { Ok(raw) } else { Err("must be a language tag, like en or pt-BR".into()) }
    },
    |schema| schema.min_length(Some(2)).max_length(Some(35)).pattern(Some("^[A-Za-z0-9]{1,8}(-[A-Za-z0-9]{1,8})*$"))
);

/// A password as typed: 10–128 characters. Never serialized, never printed.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct Password(String);

impl Password {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Password {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        let count = raw.chars().count();
        if (10..=128).contains(&count) { Ok(Self(raw)) } else { Err("must be 10 to 128 characters".into()) }
    }
}

impl utoipa::PartialSchema for Password {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Password)))
            .min_length(Some(10))
            .max_length(Some(128))
            .into()
    }
}

impl utoipa::ToSchema for Password {}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(Email::try_from("Ada@Example.COM".to_owned()).unwrap().as_str(), "ada@example.com");
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "a@b@example.com",
            "ada@-x.com",
            " ada@example.com",
            ".ada@example.com",
            "a..da@example.com",
            "ada.@example.com",
            "ad\u{e9}@example.com",
        ] {
            assert!(Email::try_from(bad.to_owned()).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn usernames_cannot_look_like_emails() {
        assert!(Username::try_from("ada@x.io".to_owned()).is_err());
        assert_eq!(Username::try_from("Ada_L".to_owned()).unwrap().as_str(), "ada_l");
        assert!(Username::try_from("ab".to_owned()).is_err());
    }

    #[test]
    fn passwords_have_length_bounds_and_hide_in_debug() {
        assert!(Password::try_from("short".to_owned()).is_err());
        assert!(Password::try_from("x".repeat(129)).is_err());
        let password = Password::try_from("correct horse".to_owned()).unwrap();
        assert!(!format!("{password:?}").contains("horse"));
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(PersonName::try_from("Ada L".to_owned()).unwrap().as_str(), "Ada L");
        assert!(PersonName::try_from(" Ada".to_owned()).is_err());
        assert!(PersonName::try_from("   ".to_owned()).is_err());
        assert!(OrgName::try_from("x".repeat(101)).is_err());
        assert!(PersonName::try_from("a\u{0007}".to_owned()).is_err());
    }

    #[test]
    fn settings_fields() {
        assert!(TimeZone::try_from("Europe/Paris".to_owned()).is_ok());
        assert!(TimeZone::try_from("../etc".to_owned()).is_err());
        assert!(Locale::try_from("pt-BR".to_owned()).is_ok());
        assert!(Locale::try_from("pt--BR".to_owned()).is_err());
    }
}
