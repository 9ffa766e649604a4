//! AWS SDK clients, configured once per cold start. `AWS_ENDPOINT_URL` (moto in
//! dev and tests) is honoured by the SDK itself.

use std::time::Duration;

pub use aws_config::SdkConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader};

#[derive(Clone, Debug)]
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub s3: aws_sdk_s3::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
}

/// Short timeouts: a Lambda has seconds, not minutes, to give up and answer.
pub fn sdk_config_loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).timeout_config(
        TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(2))
            .operation_attempt_timeout(Duration::from_secs(5))
            .build(),
    )
}

pub async fn load_sdk_config() -> SdkConfig {
    sdk_config_loader().load().await
}

impl AwsClients {
    pub fn new(sdk: &SdkConfig) -> Self {
        // Virtual-hosted bucket names do not resolve on a local endpoint.
        let s3 = aws_sdk_s3::config::Builder::from(sdk).force_path_style(sdk.endpoint_url().is_some()).build();
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            s3: aws_sdk_s3::Client::from_conf(s3),
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
        }
    }
}

pub use aws_sdk_sqs::types::QueueAttributeName;
