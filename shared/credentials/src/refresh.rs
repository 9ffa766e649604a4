//! Refresh tokens: `<org>.<user>.<session>.<secret>`. The ids say where the
//! session item lives; only the SHA-256 of the secret is stored, and each use
//! replaces it (rotation), so a token is good exactly once.

use std::fmt;
use std::str::FromStr;

use domain::ids::{OrgId, SessionId, UserId};
use store::secret::{random_secret, sha256_hex};

#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub org_id: OrgId,
    pub user_id: UserId,
    pub session_id: SessionId,
    secret: String,
}

impl RefreshToken {
    pub fn mint(org_id: OrgId, user_id: UserId, session_id: SessionId) -> Self {
        Self { org_id, user_id, session_id, secret: random_secret() }
    }

    pub fn secret_hash(&self) -> String {
        sha256_hex(self.secret.as_bytes())
    }
}

impl fmt::Display for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}.{}", self.org_id, self.user_id, self.session_id, self.secret)
    }
}

// The secret must never reach a log line through `{:?}`.
impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshToken").field("session_id", &self.session_id).finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("malformed refresh token")]
pub struct MalformedRefreshToken;

impl FromStr for RefreshToken {
    type Err = MalformedRefreshToken;

    fn from_str(s: &str) -> Result<Self, MalformedRefreshToken> {
        let mut parts = s.split('.');
        let (Some(org), Some(user), Some(session), Some(secret), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(MalformedRefreshToken);
        };
        if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(MalformedRefreshToken);
        }
        Ok(Self {
            org_id: org.parse().map_err(|_| MalformedRefreshToken)?,
            user_id: user.parse().map_err(|_| MalformedRefreshToken)?,
            session_id: session.parse().map_err(|_| MalformedRefreshToken)?,
            secret: secret.to_ascii_lowercase(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_round_trips_and_hides_its_secret_in_debug() {
        let token = RefreshToken::mint(OrgId::new(), UserId::new(), SessionId::new());
        let parsed: RefreshToken = token.to_string().parse().unwrap();
        assert_eq!(parsed, token);
        assert!(!format!("{token:?}").contains(&token.secret));
    }

    #[test]
    fn malformed_tokens_are_refused() {
        assert!("a.b.c.d".parse::<RefreshToken>().is_err());
        let token = RefreshToken::mint(OrgId::new(), UserId::new(), SessionId::new()).to_string();
        assert!(format!("{token}.x").parse::<RefreshToken>().is_err());
        assert!(token[..token.len() - 1].parse::<RefreshToken>().is_err());
    }
}
