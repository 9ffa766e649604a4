//! The verified caller, as the API Gateway authorizer (or `toolbox-local`,
//! running the same authorizer code) put it in the request context.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Error;
use crate::ids::{ApiKeyId, OrgId, SessionId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Teacher,
    Student,
    Parent,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Teacher => "teacher",
            Self::Student => "student",
            Self::Parent => "parent",
        }
    }

    /// Admins and teachers: the organization's staff, who see more of it
    /// than students and parents do.
    pub fn is_staff(self) -> bool {
        matches!(self, Self::Admin | Self::Teacher)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "admin" => Ok(Self::Admin),
            "teacher" => Ok(Self::Teacher),
            "student" => Ok(Self::Student),
            "parent" => Ok(Self::Parent),
            _ => Err("must be one of admin, teacher, student, parent".into()),
        }
    }
}

/// What a credential may do. A signed-in user's scopes follow from the role;
/// an API key carries the subset its admin chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Scope {
    #[serde(rename = "read")]
    Read,
    #[serde(rename = "write")]
    Write,
    #[serde(rename = "content:generate")]
    ContentGenerate,
    #[serde(rename = "analytics:read")]
    AnalyticsRead,
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 5] = [Self::Read, Self::Write, Self::ContentGenerate, Self::AnalyticsRead, Self::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::ContentGenerate => "content:generate",
            Self::AnalyticsRead => "analytics:read",
            Self::Admin => "admin",
        }
    }

    /// The scopes a signed-in user of `role` holds.
    pub fn of_role(role: Role) -> Vec<Scope> {
        match role {
            Role::Admin => Self::ALL.to_vec(),
            Role::Teacher => vec![Self::Read, Self::Write, Self::ContentGenerate, Self::AnalyticsRead],
            Role::Student | Role::Parent => vec![Self::Read, Self::Write],
        }
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| "must be one of read, write, content:generate, analytics:read, admin".into())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    Jwt,
    ApiKey,
}

impl AuthMethod {
    fn as_str(self) -> &'static str {
        match self {
            Self::Jwt => "jwt",
            Self::ApiKey => "api_key",
        }
    }
}

/// The API key a request came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyGrant {
    pub id: ApiKeyId,
    /// Set when the key requires signed requests: which signing secret the
    /// function derives to check them (see `domain::api_key`).
    pub signing: Option<SigningRef>,
}

/// Names a derived signing secret: the key-set key it is derived with and
/// the key's secret generation (each rotation makes a new one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningRef {
    pub kid: String,
    pub generation: u32,
}

/// Who is calling. Only the authorizer makes one; handlers receive it through
/// the web layer's extractor and never from the request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub org_id: OrgId,
    /// The signed-in user, or for an API key the admin who created it.
    pub user_id: UserId,
    pub role: Role,
    pub scopes: Vec<Scope>,
    pub auth_method: AuthMethod,
    /// The refresh-token family a JWT was issued from.
    pub session_id: Option<SessionId>,
    pub api_key: Option<KeyGrant>,
}

impl Principal {
    pub fn require_role(&self, allowed: &[Role]) -> Result<(), Error> {
        if allowed.contains(&self.role) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!("the {} role may not do this", self.role)))
        }
    }

    pub fn require_scope(&self, scope: Scope) -> Result<(), Error> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!("this credential lacks the {} scope", scope.as_str())))
        }
    }

    /// At least one of `scopes` (a route that several scopes open).
    pub fn require_any_scope(&self, scopes: &[Scope]) -> Result<(), Error> {
        if scopes.iter().any(|scope| self.scopes.contains(scope)) {
            return Ok(());
        }
        let names: Vec<&str> = scopes.iter().map(|scope| scope.as_str()).collect();
        Err(Error::Forbidden(format!("this credential lacks the {} scope", names.join(" or "))))
    }

    /// For what only its owner (`owner`, named in the refusal as `whose`,
    /// like "the lesson's author") or an admin may change: other staff are
    /// refused, as are students and parents.
    pub fn require_owner_or_admin(&self, owner: &UserId, whose: &str) -> Result<(), Error> {
        if self.role == Role::Admin || (self.role == Role::Teacher && &self.user_id == owner) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!("only {whose} or an admin may change it")))
        }
    }

    /// For what only a person may do (their password, their sessions, the
    /// organisation's API keys): an integration's key is refused.
    pub fn require_user(&self) -> Result<(), Error> {
        match self.auth_method {
            AuthMethod::Jwt => Ok(()),
            AuthMethod::ApiKey => Err(Error::Forbidden("this route needs a signed-in user, not an API key".into())),
        }
    }

    /// The authorizer context as API Gateway passes it on: flat string values.
    pub fn to_context(&self) -> HashMap<String, Value> {
        let mut context = HashMap::from([
            ("tenant_id".to_owned(), Value::from(self.org_id.to_string())),
            ("user_id".to_owned(), Value::from(self.user_id.to_string())),
            ("role".to_owned(), Value::from(self.role.as_str())),
            ("scopes".to_owned(), Value::from(self.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "))),
            ("auth_method".to_owned(), Value::from(self.auth_method.as_str())),
        ]);
        if let Some(session) = &self.session_id {
            context.insert("session_id".to_owned(), Value::from(session.to_string()));
        }
        if let Some(key) = &self.api_key {
            context.insert("api_key_id".to_owned(), Value::from(key.id.to_string()));
            if let Some(signing) = &key.signing {
                context.insert("signing_kid".to_owned(), Value::from(signing.kid.clone()));
                context.insert("signing_generation".to_owned(), Value::from(signing.generation.to_string()));
            }
        }
        context
    }

    pub fn from_context(context: &HashMap<String, Value>) -> Option<Self> {
        let text = |name: &str| context.get(name).and_then(Value::as_str);
        Some(Self {
            org_id: text("tenant_id")?.parse().ok()?,
            user_id: text("user_id")?.parse().ok()?,
            role: text("role")?.parse().ok()?,
            scopes: text("scopes")
                .unwrap_or_default()
                .split_whitespace()
                .map(str::parse)
                .collect::<Result<_, _>>()
                .ok()?,
            auth_method: match text("auth_method")? {
                "jwt" => AuthMethod::Jwt,
                "api_key" => AuthMethod::ApiKey,
                _ => return None,
            },
            session_id: text("session_id").and_then(|s| s.parse().ok()),
            api_key: match text("api_key_id") {
                None => None,
                Some(id) => Some(KeyGrant {
                    id: id.parse().ok()?,
                    signing: match (text("signing_kid"), text("signing_generation")) {
                        (Some(kid), Some(generation)) => {
                            Some(SigningRef { kid: kid.to_owned(), generation: generation.parse().ok()? })
                        }
                        _ => None,
                    },
                }),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_round_trips() {
        let principal = Principal {
            org_id: OrgId::new(),
            user_id: UserId::new(),
            role: Role::Teacher,
            scopes: vec![Scope::Read, Scope::Write],
            auth_method: AuthMethod::Jwt,
            session_id: Some(SessionId::new()),
            api_key: None,
        };
        assert_eq!(Principal::from_context(&principal.to_context()), Some(principal));
    }

    #[test]
    fn an_api_key_context_round_trips() {
        let principal = Principal {
            org_id: OrgId::new(),
            user_id: UserId::new(),
            role: Role::Teacher,
            scopes: vec![Scope::Read, Scope::ContentGenerate],
            auth_method: AuthMethod::ApiKey,
            session_id: None,
            api_key: Some(KeyGrant {
                id: ApiKeyId::new(),
                signing: Some(SigningRef { kid: "k1".into(), generation: 3 }),
            }),
        };
        assert_eq!(Principal::from_context(&principal.to_context()), Some(principal));
    }

    #[test]
    fn a_context_with_a_bad_tenant_is_no_principal() {
        let mut context = Principal {
            org_id: OrgId::new(),
            user_id: UserId::new(),
            role: Role::Admin,
            scopes: vec![],
            auth_method: AuthMethod::Jwt,
            session_id: None,
            api_key: None,
        }
        .to_context();
        context.insert("tenant_id".into(), Value::from("ORG#x"));
        assert_eq!(Principal::from_context(&context), None);
    }
}
