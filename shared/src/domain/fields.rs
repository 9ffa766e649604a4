//! Request fields as types that parse, so a handler holding an `Email` knows
//! it is one. Each parse error becomes a 422 naming the field.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! parsed_string {
    ($(#[$doc:meta])* $name:ident, $parse:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

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

fn plain_text(raw: String, min: usize, max: usize) -> Result<String, String> {
    let trimmed = raw.trim();
    let count = trimmed.chars().count();
    if count < min || count > max {
        return Err(format!("must be {min} to {max} characters"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(trimmed.to_owned())
}

parsed_string!(
    /// A login email, trimmed and lowercased: the same address always finds
    /// the same account.
    Email,
    |raw| {
        let email = raw.trim().to_lowercase();
        let invalid = || Err("must be an email address".to_owned());
        if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return invalid();
        }
        let Some((local, domain)) = email.split_once('@') else { return invalid() };
        if local.is_empty() || local.len() > 64 || domain.contains('@') {
            return invalid();
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 || labels.iter().any(|l| l.is_empty() || l.starts_with('-') || l.ends_with('-')) {
            return invalid();
        }
        Ok(email)
    }
);

parsed_string!(
    /// A login name: 3–32 of `a-z 0-9 . _ -`, lowercased. Never contains `@`,
    /// so a login can tell it from an email.
    Username,
    |raw| {
        let name = raw.trim().to_lowercase();
        if !(3..=32).contains(&name.len()) {
            return Err("must be 3 to 32 characters".into());
        }
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
            return Err("may contain only letters, digits, '.', '_' and '-'".into());
        }
        Ok(name)
    }
);

parsed_string!(PersonName, |raw| plain_text(raw, 1, 100));
parsed_string!(OrgName, |raw| plain_text(raw, 2, 100));

parsed_string!(
    /// An IANA time zone name such as `Europe/Paris` or `UTC`.
    TimeZone,
    |raw| {
        let ok = (1..=64).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'))
            && raw.as_bytes()[0].is_ascii_alphabetic();
        if ok { Ok(raw) } else { Err("must be an IANA time zone name, like Europe/Paris".into()) }
    }
);

parsed_string!(
    /// A BCP 47 language tag such as `en` or `pt-BR`.
    Locale,
    |raw| {
        let ok = (2..=35).contains(&raw.len())
            && raw.split('-').all(|part| !part.is_empty() && part.len() <= 8 && part.bytes().all(|b| b.is_ascii_alphanumeric()));
        if ok { Ok(raw) } else { Err("must be a language tag, like en or pt-BR".into()) }
    }
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
        assert_eq!(Email::try_from(" Ada@Example.COM ".to_owned()).unwrap().as_str(), "ada@example.com");
        for bad in
            ["", "ada", "ada@", "@example.com", "ada@example", "a b@example.com", "a@b@example.com", "ada@-x.com"]
        {
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
        assert_eq!(PersonName::try_from("  Ada ".to_owned()).unwrap().as_str(), "Ada");
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
