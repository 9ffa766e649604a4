//! Roblox learning environments (`ORG#<org>#ROBLOXENV#<id>`): a lesson or
//! quiz turned into a Rojo project and a place file, the join codes a
//! student exchanges in the game for a link to their Roblox account, and
//! those links, all in the environment's partition.

use serde::{Deserialize, Serialize};

use crate::audit::Audit;
use crate::ids::{AssessmentId, ClassId, ContentId, EnvironmentId, LessonId, OrgId, UserId};

/// The look of the generated world: colours and light, nothing else.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    #[default]
    Classroom,
    Space,
    Forest,
    Ocean,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EnvironmentStatus {
    /// Its project and place files are built and can be downloaded.
    Ready,
    /// A version of its place was published to Roblox.
    Published,
}

/// The files an environment is kept as, in the bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Artifact {
    /// The Rojo project, zipped.
    Project,
    /// The place file, `.rbxlx`.
    Place,
}

impl Artifact {
    /// Its file name, under the environment's prefix and when downloaded.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Project => "project.zip",
            Self::Place => "place.rbxlx",
        }
    }
}

pub const MAX_PLAYERS: u8 = 100;
pub const DEFAULT_MAX_PLAYERS: u8 = 30;

#[derive(Clone, Serialize, Deserialize)]
pub struct Environment {
    pub id: EnvironmentId,
    pub org_id: OrgId,
    pub name: String,
    pub theme: Theme,
    pub max_players: u8,
    pub content_id: ContentId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_id: Option<ClassId>,
    /// The lesson the game reports progress through, made from the content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lesson_id: Option<LessonId>,
    /// The assessment the game's quiz answers are graded against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assessment_id: Option<AssessmentId>,
    /// What the game server signs its requests with; sealed at rest, shown
    /// once, when the environment is made.
    #[serde(with = "crate::sealed")]
    pub signing_secret: String,
    /// Where its game reaches the API, as written into its project.
    pub api_url: String,
    /// The place version Roblox gave the last publish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_version: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<String>,
    #[serde(flatten)]
    pub audit: Audit,
}

crate::record!(Environment, EnvironmentId, "environment", roblox_environment);

// The signing secret never reaches a log line.
impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment").field("id", &self.id).field("org_id", &self.org_id).finish_non_exhaustive()
    }
}

impl Environment {
    /// What a game server names itself by (`X-Environment-Key`): the
    /// organisation, so that the environment can be found, and the
    /// environment. Not a secret.
    pub fn key_id(&self) -> String {
        format!("{}.{}", self.org_id, self.id)
    }

    /// Ready once built; published once a version went to Roblox.
    pub fn status(&self) -> EnvironmentStatus {
        match self.published_version {
            Some(_) => EnvironmentStatus::Published,
            None => EnvironmentStatus::Ready,
        }
    }
}

/// A Roblox user id (`Player.UserId`): a whole number from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct RobloxUserId(u64);

impl RobloxUserId {
    pub fn get(self) -> u64 {
        self.0
    }
}

impl<'de> Deserialize<'de> for RobloxUserId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let id: u64 = crate::json::whole(deserializer)?;
        if id == 0 {
            return Err(serde::de::Error::custom("must be a Roblox user id, from 1"));
        }
        Ok(Self(id))
    }
}

impl utoipa::PartialSchema for RobloxUserId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Integer)
            .minimum(Some(1))
            .description(Some("A Roblox user id (Player.UserId)"))
            .into()
    }
}

impl utoipa::ToSchema for RobloxUserId {}

/// A game server's key id, `<org>.<environment>`, as parsed from a header.
pub fn parse_key_id(raw: &str) -> Option<(OrgId, EnvironmentId)> {
    let (org, environment) = raw.trim().split_once('.')?;
    Some((org.parse().ok()?, environment.parse().ok()?))
}

/// A fresh signing secret: 32 random bytes as hex.
pub fn new_signing_secret() -> String {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system's random source works");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How long a join code can be exchanged.
pub const JOIN_CODE_SECONDS: i64 = 10 * 60;
/// Letters and digits no one mistakes for each other when reading them
/// off a screen (no 0/O, 1/I/L, 5/S, 2/Z).
const JOIN_CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRTUVWXY346789";
pub const JOIN_CODE_LENGTH: usize = 8;

pub fn new_join_code() -> String {
    // Bytes at or above the largest multiple of the alphabet's length are
    // drawn again, so that every letter is as likely.
    let fair = (256 / JOIN_CODE_ALPHABET.len() * JOIN_CODE_ALPHABET.len()) as u8;
    let mut code = String::with_capacity(JOIN_CODE_LENGTH);
    while code.len() < JOIN_CODE_LENGTH {
        let mut bytes = [0u8; 16];
        aws_lc_rs::rand::fill(&mut bytes).expect("the system's random source works");
        for byte in bytes.into_iter().filter(|b| *b < fair) {
            if code.len() < JOIN_CODE_LENGTH {
                code.push(JOIN_CODE_ALPHABET[usize::from(byte) % JOIN_CODE_ALPHABET.len()] as char);
            }
        }
    }
    code
}

/// A code as typed into the game: case and blanks do not matter; anything
/// that cannot be a code is `None`.
pub fn parse_join_code(raw: &str) -> Option<String> {
    let code: String = raw.chars().filter(|c| !c.is_whitespace() && *c != '-').collect::<String>().to_uppercase();
    let valid = code.len() == JOIN_CODE_LENGTH && code.bytes().all(|b| JOIN_CODE_ALPHABET.contains(&b));
    valid.then_some(code)
}

/// Where an organization's environments are published on Roblox, and the
/// Open Cloud API key that may publish there (sealed at rest, never
/// returned).
#[derive(Clone, Serialize, Deserialize)]
pub struct RobloxSettings {
    pub universe_id: u64,
    pub place_id: u64,
    #[serde(with = "crate::sealed")]
    pub api_key: String,
    pub updated_at: String,
    pub updated_by: UserId,
}

// The API key never reaches a log line.
impl std::fmt::Debug for RobloxSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RobloxSettings")
            .field("universe_id", &self.universe_id)
            .field("place_id", &self.place_id)
            .finish_non_exhaustive()
    }
}

/// An Open Cloud API key as an admin pastes it: printable ASCII without
/// blanks, at most 1024 characters. Roblox judges it; this only keeps
/// what cannot be a header value out.
pub fn parse_open_cloud_key(raw: &str) -> Option<&str> {
    let key = raw.trim();
    let valid = (1..=1024).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic());
    valid.then_some(key)
}

/// A one-time join code, kept until its TTL removes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinCode {
    pub environment_id: EnvironmentId,
    pub student_id: UserId,
    /// Epoch seconds: after this the code is refused, and the table's TTL
    /// removes it.
    pub expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_at: Option<String>,
}

/// A Roblox account linked to a student in one environment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RobloxLink {
    pub environment_id: EnvironmentId,
    pub roblox_user_id: RobloxUserId,
    pub student_id: UserId,
    pub linked_at: String,
    /// Filed under the student (`Tenant::held_by`, `ROBLOXLINK#…`), so that
    /// erasing them finds their links.
    pub gsi1pk: String,
    pub gsi1sk: String,
}

/// The `gsi1sk` prefix of a student's Roblox links.
pub const LINK_HELD_PREFIX: &str = "ROBLOXLINK#";

/// The fields a change to an environment, a join code or a link names.
pub mod field {
    use super::{Environment, JoinCode, RobloxLink, RobloxUserId};
    use crate::ids::{EnvironmentId, UserId};
    use crate::record::Field;

    pub const PUBLISHED_VERSION: Field<Environment, u64> = Field::new("published_version");
    pub const PUBLISHED_AT: Field<Environment, str> = Field::new("published_at");

    pub const CODE_USED_AT: Field<JoinCode, str> = Field::new("used_at");
    pub const CODE_EXPIRES_AT: Field<JoinCode, i64> = Field::new("expires_at");

    pub const LINK_ENVIRONMENT: Field<RobloxLink, EnvironmentId> = Field::new("environment_id");
    pub const LINK_ROBLOX_USER: Field<RobloxLink, RobloxUserId> = Field::new("roblox_user_id");
    pub const LINK_STUDENT: Field<RobloxLink, UserId> = Field::new("student_id");
    pub const LINK_AT: Field<RobloxLink, str> = Field::new("linked_at");
    pub const LINK_HELD_BY: Field<RobloxLink, str> = Field::new("gsi1pk");
    pub const LINK_HELD_AS: Field<RobloxLink, str> = Field::new("gsi1sk");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_codes_are_short_readable_and_parse_back_however_typed() {
        for _ in 0..200 {
            let code = new_join_code();
            assert_eq!(code.len(), JOIN_CODE_LENGTH);
            assert_eq!(parse_join_code(&code).as_deref(), Some(code.as_str()));
            let typed = format!(" {}-{} ", &code[..4].to_lowercase(), &code[4..]);
            assert_eq!(parse_join_code(&typed).as_deref(), Some(code.as_str()));
        }
        for wrong in ["", "ABCD", "ABCDEFGHJ", "ABCDEFG0", "ABCDEFGI", "ABCDÉFGH"] {
            assert_eq!(parse_join_code(wrong), None, "{wrong}");
        }
    }

    #[test]
    fn a_key_id_names_the_organisation_and_the_environment() {
        let (org, environment) = (OrgId::new(), EnvironmentId::new());
        assert_eq!(parse_key_id(&format!("{org}.{environment}")), Some((org.clone(), environment.clone())));
        for wrong in [format!("{org}"), format!("{org}.x"), format!("x.{environment}"), format!("{org}:{environment}")]
        {
            assert_eq!(parse_key_id(&wrong), None, "{wrong}");
        }
    }

    #[test]
    fn signing_secrets_are_64_hex_digits_and_differ() {
        let (a, b) = (new_signing_secret(), new_signing_secret());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
