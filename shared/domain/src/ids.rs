//! Time-sortable identifiers (ULID) as newtypes, so an organisation id can
//! never be passed where a user id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! ulid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(ulid::Ulid);

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .pattern(Some("^[0-9A-HJKMNP-TV-Z]{26}$"))
                    .description(Some("A ULID"))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl $name {
            pub fn new() -> Self {
                Self(ulid::Ulid::new())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                ulid::Ulid::from_string(s).map(Self).map_err(|_| InvalidId)
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(s: String) -> Result<Self, InvalidId> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.to_string()
            }
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a valid id")]
pub struct InvalidId;

ulid_id!(
    /// An organisation: the tenant.
    OrgId
);
ulid_id!(UserId);
ulid_id!(InviteId);
ulid_id!(
    /// A refresh-token family: one login and every token rotated from it.
    SessionId
);
ulid_id!(
    /// An integration's API key (not its secret).
    ApiKeyId
);
ulid_id!(
    /// A content generation job.
    JobId
);
ulid_id!(
    /// A lesson or quiz, generated or written.
    ContentId
);
ulid_id!(
    /// A class: a teacher and the students enrolled in it.
    ClassId
);
ulid_id!(
    /// A lesson: sections to teach from, published to classes.
    LessonId
);
ulid_id!(
    /// An assessment: questions graded automatically, published to classes.
    AssessmentId
);
ulid_id!(
    /// A message, the same for every recipient.
    MessageId
);
ulid_id!(
    /// A conversation: the first message and its replies.
    ThreadId
);
ulid_id!(
    /// An analytics query's result, kept a day for its exports.
    QueryId
);
ulid_id!(
    /// A data export or an erasure of one member's data.
    PrivacyJobId
);
ulid_id!(
    /// A Roblox learning environment made from a lesson or quiz.
    EnvironmentId
);
