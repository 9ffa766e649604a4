//! The verified caller, as the API Gateway authorizer (or `toolbox-local`,
//! running the same authorizer code) put it in the request context.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use lambda_http::request::RequestContext;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::AppError;
use crate::ids::{OrgId, SessionId, UserId};

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

/// Who is calling. Only the authorizer makes one; handlers receive it through
/// the [`FromRequestParts`] extractor and never from the request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub org_id: OrgId,
    pub user_id: UserId,
    pub role: Role,
    pub scopes: Vec<String>,
    pub auth_method: AuthMethod,
    /// The refresh-token family a JWT was issued from.
    pub session_id: Option<SessionId>,
}

impl Principal {
    pub fn require_role(&self, allowed: &[Role]) -> Result<(), AppError> {
        if allowed.contains(&self.role) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!("the {} role may not do this", self.role)))
        }
    }

    /// The authorizer context as API Gateway passes it on: flat string values.
    pub fn to_context(&self) -> HashMap<String, Value> {
        let mut context = HashMap::from([
            ("tenant_id".to_owned(), Value::from(self.org_id.to_string())),
            ("user_id".to_owned(), Value::from(self.user_id.to_string())),
            ("role".to_owned(), Value::from(self.role.as_str())),
            ("scopes".to_owned(), Value::from(self.scopes.join(" "))),
            ("auth_method".to_owned(), Value::from(self.auth_method.as_str())),
        ]);
        if let Some(session) = &self.session_id {
            context.insert("session_id".to_owned(), Value::from(session.to_string()));
        }
        context
    }

    pub fn from_context(context: &HashMap<String, Value>) -> Option<Self> {
        let text = |name: &str| context.get(name).and_then(Value::as_str);
        Some(Self {
            org_id: text("tenant_id")?.parse().ok()?,
            user_id: text("user_id")?.parse().ok()?,
            role: text("role")?.parse().ok()?,
            scopes: text("scopes").unwrap_or_default().split_whitespace().map(str::to_owned).collect(),
            auth_method: match text("auth_method")? {
                "jwt" => AuthMethod::Jwt,
                "api_key" => AuthMethod::ApiKey,
                _ => return None,
            },
            session_id: text("session_id").and_then(|s| s.parse().ok()),
        })
    }

    pub fn from_request_context(context: &RequestContext) -> Option<Self> {
        match context {
            RequestContext::ApiGatewayV1(ctx) => Self::from_context(&ctx.authorizer.fields),
            _ => None,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        parts
            .extensions
            .get::<RequestContext>()
            .and_then(Self::from_request_context)
            .ok_or_else(|| AppError::Unauthenticated("authentication required".into()))
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
            scopes: vec!["read".into(), "write".into()],
            auth_method: AuthMethod::Jwt,
            session_id: Some(SessionId::new()),
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
        }
        .to_context();
        context.insert("tenant_id".into(), Value::from("ORG#x"));
        assert_eq!(Principal::from_context(&context), None);
    }
}
