//! Secrets that are looked up by their hash: refresh tokens, invite tokens
//! and API-key secrets.

use sha2::{Digest, Sha256};

/// Lowercase hex SHA-256: how secrets that need lookup (refresh and invite
/// tokens) are stored. They are 256-bit random, so a fast hash is enough.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// 32 random bytes as lowercase hex.
pub fn random_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}
