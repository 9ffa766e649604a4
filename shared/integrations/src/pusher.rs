//! Pusher Channels, spoken directly: the HTTP events API with its signed
//! query string, and the signatures `POST /pusher/auth` gives a browser to
//! join a private or presence channel. Both follow Pusher's published
//! "Generating authentication signatures" rules; the tests check them
//! against Pusher's own worked examples.

use std::collections::BTreeMap;
use std::fmt;

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;
pub use store::config::{PusherConfig, PusherSigner};

#[cfg(feature = "pusher-events")]
mod events;
#[cfg(feature = "pusher-events")]
pub use events::{PusherError, Realtime};

/// The signatures of one Pusher app, made with its secret.
pub trait Signing {
    /// The query string of a signed API request: the auth parameters (and
    /// `body_md5` for a body), sorted, then `auth_signature` over
    /// `"{METHOD}\n{path}\n{query}"`.
    fn signed_query(&self, method: &str, path: &str, body: &[u8], timestamp: i64) -> String;

    /// `"<key>:<signature>"` for a private channel, or for a presence
    /// channel with its `channel_data` (signed as sent).
    fn channel_auth(&self, socket_id: &SocketId, channel: &ChannelName, channel_data: Option<&str>) -> String;
}

fn sign(signer: &PusherSigner, message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(signer.secret().as_bytes()).expect("hmac takes any key length");
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

impl Signing for PusherSigner {
    fn signed_query(&self, method: &str, path: &str, body: &[u8], timestamp: i64) -> String {
        let mut params = BTreeMap::from([
            ("auth_key", self.key.clone()),
            ("auth_timestamp", timestamp.to_string()),
            ("auth_version", "1.0".to_owned()),
        ]);
        if !body.is_empty() {
            params.insert("body_md5", hex::encode(Md5::digest(body)));
        }
        let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let query = query.join("&");
        let signature = sign(self, &format!("{method}\n{path}\n{query}"));
        format!("{query}&auth_signature={signature}")
    }

    fn channel_auth(&self, socket_id: &SocketId, channel: &ChannelName, channel_data: Option<&str>) -> String {
        let message = match channel_data {
            Some(data) => format!("{socket_id}:{channel}:{data}"),
            None => format!("{socket_id}:{channel}"),
        };
        format!("{}:{}", self.key, sign(self, &message))
    }
}

/// A connection's id as Pusher gives it: `<digits>.<digits>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketId(String);

impl std::str::FromStr for SocketId {
    type Err = &'static str;
    fn from_str(raw: &str) -> Result<Self, &'static str> {
        let valid = raw.split_once('.').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && a.len() + b.len() < 40
                && (a.bytes().chain(b.bytes())).all(|c| c.is_ascii_digit())
        });
        if valid { Ok(Self(raw.to_owned())) } else { Err("must be a Pusher socket id, like 1234.5678") }
    }
}

impl fmt::Display for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A channel name as Pusher allows it: up to 164 of `A-Za-z0-9_-=@,.;`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelName(String);

impl std::str::FromStr for ChannelName {
    type Err = &'static str;
    fn from_str(raw: &str) -> Result<Self, &'static str> {
        let valid =
            (1..=164).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-=@,.;".contains(&b));
        if valid { Ok(Self(raw.to_owned())) } else { Err("must be a Pusher channel name") }
    }
}

impl ChannelName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The credentials of Pusher's documented examples.
    pub(crate) fn documented(base_url: &str) -> PusherConfig {
        PusherConfig::with_secret(
            "3".into(),
            "278d425bdf160c739803".into(),
            "7ad3773142a6692b25b8".into(),
            base_url.into(),
        )
    }

    pub(crate) fn documented_signer() -> PusherSigner {
        PusherSigner::new("278d425bdf160c739803".into(), "7ad3773142a6692b25b8".into())
    }

    #[test]
    fn the_events_request_is_signed_as_in_pushers_worked_example() {
        let body = br#"{"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"}"#;
        assert_eq!(
            documented_signer().signed_query("POST", "/apps/3/events", body, 1353088179),
            "auth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0\
             &body_md5=ec365a775a4cd0599faeb73354201b6f\
             &auth_signature=da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c"
        );
    }

    #[test]
    fn channel_auth_matches_pushers_worked_examples() {
        let config = documented_signer();
        let socket: SocketId = "1234.1234".parse().unwrap();
        assert_eq!(
            config.channel_auth(&socket, &"private-foobar".parse().unwrap(), None),
            "278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"
        );
        assert_eq!(
            config.channel_auth(
                &socket,
                &"presence-foobar".parse().unwrap(),
                Some(r#"{"user_id":10,"user_info":{"name":"Mr. Pusher"}}"#)
            ),
            "278d425bdf160c739803:afaed3695da2ffd16931f457e338e6c9f2921fa133ce7dac49f529792be6304c"
        );
    }

    #[test]
    fn socket_ids_and_channel_names_parse_as_pusher_allows() {
        for good in ["1234.1234", "1.2"] {
            assert!(good.parse::<SocketId>().is_ok(), "{good}");
        }
        for bad in ["", "1234", "1234.", ".1", "12a4.1", "1.2.3", "1234.1234:private-x"] {
            assert!(bad.parse::<SocketId>().is_err(), "{bad}");
        }
        assert!("private-org-01ABC".parse::<ChannelName>().is_ok());
        for bad in ["", "private org", "private:x", &"a".repeat(165)] {
            assert!(bad.parse::<ChannelName>().is_err(), "{bad}");
        }
    }
}
