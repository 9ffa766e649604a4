//! Webhook signatures as Stripe makes them: `Stripe-Signature: t=<unix
//! seconds>,v1=<hex>[,v1=<hex>…]`, each `v1` the HMAC-SHA256 of
//! `"<t>.<raw body>"` under the endpoint's signing secret. A signature is
//! accepted under any current secret (two while one is rotated), compared
//! in constant time, and only within [`TOLERANCE_SECONDS`] of our clock, so
//! a captured delivery cannot be replayed later.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Stripe's libraries' default tolerance.
pub const TOLERANCE_SECONDS: i64 = 300;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("no Stripe-Signature header")]
    Missing,
    #[error("the Stripe-Signature header is malformed")]
    Malformed,
    #[error("the signature's timestamp is outside the tolerance")]
    Expired,
    #[error("no signature matches")]
    Mismatch,
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header Stripe would send for `body` at `timestamp`: for tests and
/// the sample events.
pub fn header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", hex::encode(mac(secret, timestamp, body).finalize().into_bytes()))
}

/// Checks `header` against `body` at `now` (unix seconds).
pub fn verify(header: Option<&str>, body: &[u8], secrets: &[&str], now: i64) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (name, value) = part.trim().split_once('=').ok_or(SignatureError::Malformed)?;
        match name {
            "t" if timestamp.is_none() => {
                timestamp = Some(value.parse::<i64>().map_err(|_| SignatureError::Malformed)?)
            }
            "t" => return Err(SignatureError::Malformed),
            // A v1 that is not hex can match nothing; others (v0) are ignored.
            "v1" => signatures.extend(hex::decode(value).ok()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(SignatureError::Expired);
    }
    let matches = secrets.iter().any(|secret| {
        let expected = mac(secret, timestamp, body);
        signatures.iter().any(|signature| expected.clone().verify_slice(signature).is_ok())
    });
    if matches { Ok(()) } else { Err(SignatureError::Mismatch) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"id":"evt_1","type":"customer.subscription.updated"}"#;
    const NOW: i64 = 1_767_225_600;

    #[test]
    fn matches_stripes_published_scheme() {
        // Computed independently: printf '1767225600.{"id":"evt_1","type":"customer.subscription.updated"}'
        // | openssl dgst -sha256 -hmac whsec_test
        let signed = header("whsec_test", NOW, BODY);
        assert_eq!(signed, "t=1767225600,v1=fe25c33ffcaac194d42e061d6625e25fe928b4c15dabf3c416dc681366b00985");
        assert_eq!(verify(Some(&signed), BODY, &["whsec_test"], NOW), Ok(()));
    }

    #[test]
    fn either_secret_of_a_rotation_is_accepted() {
        let old = header("whsec_old", NOW, BODY);
        let new = header("whsec_new", NOW, BODY);
        for signed in [&old, &new] {
            assert_eq!(verify(Some(signed), BODY, &["whsec_new", "whsec_old"], NOW), Ok(()));
        }
        assert_eq!(verify(Some(&old), BODY, &["whsec_new"], NOW), Err(SignatureError::Mismatch));
        // Stripe sends one v1 per secret during its own roll.
        let both = format!("{new},v1={}", old.rsplit_once("v1=").unwrap().1);
        assert_eq!(verify(Some(&both), BODY, &["whsec_old"], NOW), Ok(()));
    }

    #[test]
    fn anything_else_is_refused() {
        let signed = header("whsec_test", NOW, BODY);
        let mut changed = BODY.to_vec();
        changed[10] ^= 1;
        assert_eq!(verify(Some(&signed), &changed, &["whsec_test"], NOW), Err(SignatureError::Mismatch));
        assert_eq!(verify(None, BODY, &["whsec_test"], NOW), Err(SignatureError::Missing));
        for malformed in ["", "t=abc,v1=00", "v1=00", "t=1767225600", "t=1,t=2,v1=00", "garbage"] {
            assert_eq!(
                verify(Some(malformed), BODY, &["whsec_test"], NOW),
                Err(SignatureError::Malformed),
                "{malformed}"
            );
        }
        assert_eq!(
            verify(Some(&signed), BODY, &["whsec_test"], NOW + TOLERANCE_SECONDS + 1),
            Err(SignatureError::Expired)
        );
        assert_eq!(verify(Some(&signed), BODY, &["whsec_test"], NOW + TOLERANCE_SECONDS), Ok(()));
        assert_eq!(verify(Some(&signed), BODY, &[], NOW), Err(SignatureError::Mismatch), "no secret, no match");
        let v0_only = signed.replace("v1=", "v0=");
        assert_eq!(verify(Some(&v0_only), BODY, &["whsec_test"], NOW), Err(SignatureError::Malformed));
    }
}
