//! AWS SDK clients, configured once per cold start. `AWS_ENDPOINT_URL` (moto in
//! dev and tests) is honoured by the SDK itself.

#[cfg(any(feature = "sqs", feature = "s3"))]
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub use aws_config::SdkConfig;
use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, Region};
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// The SDK clients. DynamoDB and Secrets Manager serve most requests and
/// are made at cold start; S3 and SQS serve few (a large content body, a
/// generation job), so they are made on first use: building a client parses
/// its SDK's endpoint rules, a sizeable share of a cold start.
#[derive(Clone, Debug)]
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    #[cfg(feature = "sqs")]
    sqs: Arc<OnceLock<aws_sdk_sqs::Client>>,
    #[cfg(feature = "s3")]
    s3: Arc<OnceLock<aws_sdk_s3::Client>>,
    /// For clients only some functions need, made on first use (see
    /// `usage_plans`), so the others neither link nor build them.
    pub sdk: SdkConfig,
}

/// The roots AWS endpoints chain to: Amazon Root CA 1–4 and the Starfield
/// Services root that cross-signs them. Trusting these five instead of the
/// system store means parsing 5 certificates at cold start instead of ~140,
/// which was most of a function's init time (see docs/performance.md).
const AWS_ROOTS_PEM: &[u8] = include_bytes!("aws_roots.pem");

fn https_client() -> SharedHttpClient {
    let trust = TrustStore::empty().with_native_roots(false).with_pem_certificate(AWS_ROOTS_PEM);
    let tls = TlsContext::builder().with_trust_store(trust).build().expect("a trust store of static roots builds");
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(tls)
        .build_https()
}

/// Short timeouts: a Lambda has seconds, not minutes, to give up and answer.
/// Against a local endpoint (`AWS_ENDPOINT_URL`, moto serving one request at
/// a time) a call may wait its turn longer than that under test load, and a
/// retry of a write that was applied meanwhile would fail its own condition;
/// there an attempt may take 30 s.
///
/// Where the environment holds the credentials and the region (always, in
/// Lambda), they are read from it directly: the default chains would find
/// them there first anyway, but building the chains makes an STS client, a
/// sixth of a cold start (docs/performance.md).
pub fn sdk_config_loader() -> ConfigLoader {
    let set = |name| std::env::var(name).ok().filter(|value| !value.is_empty());
    let local = set("AWS_ENDPOINT_URL").is_some();
    let attempt = Duration::from_secs(if local { 30 } else { 5 });
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(https_client()).timeout_config(
        TimeoutConfig::builder().connect_timeout(Duration::from_secs(2)).operation_attempt_timeout(attempt).build(),
    );
    if set("AWS_ACCESS_KEY_ID").is_some() && set("AWS_SECRET_ACCESS_KEY").is_some() {
        loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    if let Some(region) = set("AWS_REGION") {
        loader = loader.region(Region::new(region));
    }
    loader
}

pub async fn load_sdk_config() -> SdkConfig {
    sdk_config_loader().load().await
}

impl AwsClients {
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
            #[cfg(feature = "sqs")]
            sqs: Arc::default(),
            #[cfg(feature = "s3")]
            s3: Arc::default(),
            sdk: sdk.clone(),
        }
    }

    #[cfg(feature = "sqs")]
    pub fn sqs(&self) -> &aws_sdk_sqs::Client {
        self.sqs.get_or_init(|| aws_sdk_sqs::Client::new(&self.sdk))
    }

    #[cfg(feature = "s3")]
    pub fn s3(&self) -> &aws_sdk_s3::Client {
        self.s3.get_or_init(|| {
            // Virtual-hosted bucket names do not resolve on a local endpoint.
            let path_style = self.sdk.endpoint_url().is_some();
            aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&self.sdk).force_path_style(path_style).build(),
            )
        })
    }
}

#[cfg(feature = "sqs")]
pub use aws_sdk_sqs::types::QueueAttributeName;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_aws_roots_are_five_certificates() {
        let pem = std::str::from_utf8(AWS_ROOTS_PEM).unwrap();
        assert_eq!(pem.matches("-----BEGIN CERTIFICATE-----").count(), 5);
        assert_eq!(pem.matches("-----END CERTIFICATE-----").count(), 5);
        // Builds without panicking: the roots parse.
        let _client = https_client();
    }
}
