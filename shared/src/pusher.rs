//! Pusher Channels, spoken directly: the HTTP events API with its signed
//! query string, and the signatures `POST /pusher/auth` gives a browser to
//! join a private or presence channel. Both follow Pusher's published
//! "Generating authentication signatures" rules; the tests check them
//! against Pusher's own worked examples.

use std::collections::BTreeMap;
use std::fmt;

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use serde_json::{Value, json};
use sha2::Sha256;

/// `PUSHER_APP_ID`, `PUSHER_KEY`, `PUSHER_SECRET`, `PUSHER_CLUSTER`.
#[derive(Clone)]
pub struct PusherConfig {
    pub app_id: String,
    pub key: String,
    secret: String,
    /// `https://api-<cluster>.pusher.com`, or a local server in tests.
    pub base_url: String,
}

impl fmt::Debug for PusherConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PusherConfig").field("app_id", &self.app_id).field("key", &self.key).finish_non_exhaustive()
    }
}

impl PusherConfig {
    pub fn new(app_id: String, key: String, secret: String, cluster: &str) -> Self {
        Self::with_base_url(app_id, key, secret, format!("https://api-{cluster}.pusher.com"))
    }

    pub fn with_base_url(app_id: String, key: String, secret: String, base_url: String) -> Self {
        Self { app_id, key, secret, base_url }
    }

    /// All four variables, or none: Pusher is then not configured.
    pub fn from_source(source: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let get = |name| source(name).filter(|v| !v.trim().is_empty());
        Some(Self::new(get("PUSHER_APP_ID")?, get("PUSHER_KEY")?, get("PUSHER_SECRET")?, &get("PUSHER_CLUSTER")?))
    }

    fn sign(&self, message: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.as_bytes()).expect("hmac takes any key length");
        mac.update(message.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The query string of a signed API request: the auth parameters (and
    /// `body_md5` for a body), sorted, then `auth_signature` over
    /// `"{METHOD}\n{path}\n{query}"`.
    pub fn signed_query(&self, method: &str, path: &str, body: &[u8], timestamp: i64) -> String {
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
        let signature = self.sign(&format!("{method}\n{path}\n{query}"));
        format!("{query}&auth_signature={signature}")
    }

    /// `"<key>:<signature>"` for a private channel, or for a presence
    /// channel with its `channel_data` (signed as sent).
    pub fn channel_auth(&self, socket_id: &SocketId, channel: &ChannelName, channel_data: Option<&str>) -> String {
        let message = match channel_data {
            Some(data) => format!("{socket_id}:{channel}:{data}"),
            None => format!("{socket_id}:{channel}"),
        };
        format!("{}:{}", self.key, self.sign(&message))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PusherError {
    #[error("pusher could not be reached: {0}")]
    Unreachable(String),
    #[error("pusher answered {0}")]
    Status(u16),
}

/// Sends events, or only logs them when Pusher is not configured.
#[derive(Clone, Debug)]
pub struct Realtime {
    /// The HTTP client is made on the first event: building its TLS setup
    /// would otherwise double the worker's cold start. Clones (one per
    /// request, with the state) share it.
    pusher: Option<(PusherConfig, std::sync::Arc<std::sync::OnceLock<reqwest::Client>>)>,
}

impl Realtime {
    pub fn new(config: Option<PusherConfig>) -> Self {
        Self { pusher: config.map(|config| (config, Default::default())) }
    }

    pub fn config(&self) -> Option<&PusherConfig> {
        self.pusher.as_ref().map(|(config, _)| config)
    }

    /// Triggers `event` with `data` on `channels` (at most 100 per call, as
    /// Pusher allows). Failures are the caller's to log: an event is never
    /// worth failing the work it reports on.
    pub async fn trigger(&self, channels: &[String], event: &str, data: &Value, now: i64) -> Result<(), PusherError> {
        let Some((config, http)) = &self.pusher else {
            tracing::info!(event, ?channels, "pusher is not configured; event not sent");
            return Ok(());
        };
        let body = json!({"name": event, "channels": channels, "data": data.to_string()}).to_string();
        let path = format!("/apps/{}/events", config.app_id);
        let query = config.signed_query("POST", &path, body.as_bytes(), now);
        let response = http
            .get_or_init(reqwest::Client::new)
            .post(format!("{}{path}?{query}", config.base_url))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|err| PusherError::Unreachable(err.to_string()))?;
        if response.status().is_success() { Ok(()) } else { Err(PusherError::Status(response.status().as_u16())) }
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
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::extract::{RawQuery, State};
    use axum::http::StatusCode;
    use axum::routing::post;

    use super::*;

    /// The credentials of Pusher's documented examples.
    fn documented(base_url: &str) -> PusherConfig {
        PusherConfig::with_base_url(
            "3".into(),
            "278d425bdf160c739803".into(),
            "7ad3773142a6692b25b8".into(),
            base_url.into(),
        )
    }

    #[test]
    fn the_events_request_is_signed_as_in_pushers_worked_example() {
        let body = br#"{"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"}"#;
        assert_eq!(
            documented("").signed_query("POST", "/apps/3/events", body, 1353088179),
            "auth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0\
             &body_md5=ec365a775a4cd0599faeb73354201b6f\
             &auth_signature=da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c"
        );
    }

    #[test]
    fn channel_auth_matches_pushers_worked_examples() {
        let config = documented("");
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

    /// Pusher's side: recompute body_md5 and the signature from the secret.
    async fn events(State(seen): State<Arc<Mutex<Vec<Value>>>>, RawQuery(query): RawQuery, body: String) -> StatusCode {
        let query = query.unwrap_or_default();
        let (unsigned, signature) = query.rsplit_once("&auth_signature=").unwrap_or_default();
        let params: BTreeMap<&str, &str> = unsigned.split('&').filter_map(|p| p.split_once('=')).collect();
        let expected = documented("").signed_query(
            "POST",
            "/apps/3/events",
            body.as_bytes(),
            params["auth_timestamp"].parse().unwrap(),
        );
        if params.get("body_md5") != Some(&hex::encode(Md5::digest(body.as_bytes())).as_str())
            || !expected.ends_with(signature)
        {
            return StatusCode::UNAUTHORIZED;
        }
        seen.lock().unwrap().push(serde_json::from_str(&body).unwrap());
        StatusCode::OK
    }

    #[tokio::test]
    async fn trigger_posts_a_signed_event_pusher_accepts() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new().route("/apps/3/events", post(events)).with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let realtime = Realtime::new(Some(documented(&format!("http://{addr}"))));
        let channels = vec!["private-org-1".to_owned(), "private-user-2".to_owned()];
        realtime.trigger(&channels, "job.completed", &json!({"job_id": "j1"}), 1_800_000_000).await.unwrap();
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen[0]["name"], "job.completed");
        assert_eq!(seen[0]["channels"], json!(channels));
        // `data` is itself JSON, as a string.
        assert_eq!(serde_json::from_str::<Value>(seen[0]["data"].as_str().unwrap()).unwrap(), json!({"job_id": "j1"}));

        // A wrong secret is Pusher's 401.
        let wrong = PusherConfig::with_base_url(
            "3".into(),
            "278d425bdf160c739803".into(),
            "not-the-secret".into(),
            format!("http://{addr}"),
        );
        let failed = Realtime::new(Some(wrong)).trigger(&channels, "job.completed", &json!({}), 1_800_000_000).await;
        assert!(matches!(failed, Err(PusherError::Status(401))));
    }

    #[tokio::test]
    async fn without_configuration_events_are_only_logged() {
        let realtime = Realtime::new(PusherConfig::from_source(|_| None));
        assert!(realtime.config().is_none());
        realtime.trigger(&["private-org-1".into()], "job.progress", &json!({}), 0).await.unwrap();
    }
}
