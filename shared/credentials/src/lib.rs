//! Credentials: access tokens (JWT), refresh tokens, password hashes and
//! the limits on guessing passwords.

pub mod jwt;
#[cfg(feature = "passwords")]
pub mod lockout;
#[cfg(feature = "passwords")]
pub mod password;
pub mod refresh;
