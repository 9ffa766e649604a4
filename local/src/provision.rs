//! Creates the template's table, queues, bucket and secret in the local AWS
//! endpoint (moto), from the template's own definitions, so the local schema
//! cannot drift from the deployed one. Safe to run again: what exists is kept.

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_apigateway::types::{QuotaPeriodType, QuotaSettings, ThrottleSettings};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, SseSpecification, SseType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use aws_sdk_s3::types::{
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_yaml_ng::Value;

use crate::template::{Expr, Template, expr};

#[derive(Debug, thiserror::Error)]
#[error("provisioning {resource}: {message}")]
pub struct ProvisionError {
    resource: String,
    message: String,
}

fn fail(resource: &str, message: impl std::fmt::Display) -> ProvisionError {
    ProvisionError { resource: resource.to_owned(), message: message.to_string() }
}

/// What `!Ref` and `!GetAtt …Arn` of each provisioned resource resolve to.
#[derive(Debug, Clone, Default)]
pub struct Provisioned {
    refs: HashMap<String, String>,
    arns: HashMap<String, String>,
    /// What `${AWS::StackName}` stands for: the local resource prefix.
    stack_name: String,
}

impl Provisioned {
    pub fn resolve(&self, value: &Expr, stage: &str) -> Option<String> {
        match value {
            Expr::Literal(text) => Some(text.clone()),
            Expr::Ref(name) if name == "Stage" => Some(stage.to_owned()),
            Expr::Ref(name) => self.refs.get(name).cloned(),
            Expr::GetAtt(name, attribute) if attribute == "Arn" => self.arns.get(name).cloned(),
            Expr::GetAtt(..) => None,
            Expr::Sub(text) => Some(
                text.replace("${Stage}", stage)
                    .replace("${AWS::Region}", "us-east-1")
                    .replace("${AWS::StackName}", &self.stack_name),
            ),
        }
    }

    pub fn physical_id(&self, logical: &str) -> Option<&str> {
        self.refs.get(logical).map(String::as_str)
    }
}

/// The local name of a resource: `<prefix>-<logical id, lowercased>`.
pub fn local_name(prefix: &str, logical: &str) -> String {
    format!("{prefix}-{}", logical.to_ascii_lowercase())
}

pub async fn provision(template: &Template, sdk: &SdkConfig, prefix: &str) -> Result<Provisioned, ProvisionError> {
    let mut out = Provisioned { stack_name: prefix.to_owned(), ..Provisioned::default() };
    // Keys first: the table is encrypted with one.
    for (logical, _) in template.resources_of_type("AWS::KMS::Key") {
        kms_key(sdk, &mut out, logical, &local_name(prefix, logical)).await?;
    }
    for (logical, resource) in template.resources_of_type("AWS::DynamoDB::Table") {
        table(sdk, &mut out, logical, &local_name(prefix, logical), props(resource)).await?;
    }
    let queues: Vec<_> = template.resources_of_type("AWS::SQS::Queue").collect();
    for (logical, resource) in &queues {
        queue(sdk, &mut out, logical, &local_name(prefix, logical), props(resource)).await?;
    }
    // Dead-letter targets exist only once every queue does.
    for (logical, resource) in &queues {
        redrive(sdk, &out, logical, props(resource)).await?;
    }
    for (logical, _) in template.resources_of_type("AWS::S3::Bucket") {
        bucket(sdk, &mut out, logical, &local_name(prefix, logical)).await?;
    }
    for (logical, resource) in template.resources_of_type("AWS::SecretsManager::Secret") {
        secret(sdk, &mut out, logical, &format!("{prefix}/{logical}"), props(resource)).await?;
    }
    for (logical, resource) in template.resources_of_type("AWS::ApiGateway::UsagePlan") {
        let name = props(resource)
            .get("UsagePlanName")
            .and_then(expr)
            .and_then(|name| out.resolve(&name, "local"))
            .ok_or_else(|| fail(logical, "UsagePlanName does not resolve"))?;
        usage_plan(sdk, &mut out, logical, &name, props(resource)).await?;
    }
    Ok(out)
}

fn props(resource: &Value) -> &Value {
    resource.get("Properties").unwrap_or(&Value::Null)
}

fn list<'a>(value: &'a Value, name: &str) -> impl Iterator<Item = &'a Value> {
    value.get(name).and_then(Value::as_sequence).into_iter().flatten()
}

fn text<'a>(value: &'a Value, name: &str) -> &'a str {
    value.get(name).and_then(Value::as_str).unwrap_or_default()
}

fn key_schema(value: &Value, resource: &str) -> Result<Vec<KeySchemaElement>, ProvisionError> {
    list(value, "KeySchema")
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(text(k, "AttributeName"))
                .key_type(KeyType::from(text(k, "KeyType")))
                .build()
                .map_err(|e| fail(resource, e))
        })
        .collect()
}

async fn table(
    sdk: &SdkConfig,
    out: &mut Provisioned,
    logical: &str,
    name: &str,
    props: &Value,
) -> Result<(), ProvisionError> {
    let client = aws_sdk_dynamodb::Client::new(sdk);
    let attributes = list(props, "AttributeDefinitions")
        .map(|a| {
            AttributeDefinition::builder()
                .attribute_name(text(a, "AttributeName"))
                .attribute_type(ScalarAttributeType::from(text(a, "AttributeType")))
                .build()
                .map_err(|e| fail(logical, e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let indexes = list(props, "GlobalSecondaryIndexes")
        .map(|i| {
            let projection = i.get("Projection").map(|p| text(p, "ProjectionType")).unwrap_or("ALL");
            GlobalSecondaryIndex::builder()
                .index_name(text(i, "IndexName"))
                .set_key_schema(Some(key_schema(i, logical)?))
                .projection(Projection::builder().projection_type(ProjectionType::from(projection)).build())
                .build()
                .map_err(|e| fail(logical, e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let sse = props.get("SSESpecification").map(|s| {
        let key = s.get("KMSMasterKeyId").and_then(expr).and_then(|key| out.resolve(&key, "local"));
        SseSpecification::builder()
            .enabled(s.get("SSEEnabled").and_then(Value::as_bool).unwrap_or(false))
            .set_sse_type(s.get("SSEType").and_then(Value::as_str).map(SseType::from))
            .set_kms_master_key_id(key)
            .build()
    });
    let stream = props
        .get("StreamSpecification")
        .map(|s| {
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(text(s, "StreamViewType")))
                .build()
                .map_err(|e| fail(logical, e))
        })
        .transpose()?;
    let created = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::from(props.get("BillingMode").and_then(Value::as_str).unwrap_or("PAY_PER_REQUEST")))
        .set_attribute_definitions(Some(attributes))
        .set_key_schema(Some(key_schema(props, logical)?))
        .set_global_secondary_indexes((!indexes.is_empty()).then_some(indexes))
        .set_sse_specification(sse)
        .set_stream_specification(stream)
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => {}
        Err(err) => return Err(fail(logical, aws_sdk_dynamodb::error::DisplayErrorContext(err))),
    }
    if let Some(ttl) = props.get("TimeToLiveSpecification") {
        let spec = TimeToLiveSpecification::builder()
            .attribute_name(text(ttl, "AttributeName"))
            .enabled(ttl.get("Enabled").and_then(Value::as_bool).unwrap_or(false))
            .build()
            .map_err(|e| fail(logical, e))?;
        // Fails with "already enabled" on a second run; the state is what we want.
        let _ = client.update_time_to_live().table_name(name).time_to_live_specification(spec).send().await;
    }
    let described = client
        .describe_table()
        .table_name(name)
        .send()
        .await
        .map_err(|e| fail(logical, aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
    let arn = described.table.and_then(|t| t.table_arn).unwrap_or_default();
    out.refs.insert(logical.to_owned(), name.to_owned());
    out.arns.insert(logical.to_owned(), arn);
    Ok(())
}

async fn queue(
    sdk: &SdkConfig,
    out: &mut Provisioned,
    logical: &str,
    name: &str,
    props: &Value,
) -> Result<(), ProvisionError> {
    let client = aws_sdk_sqs::Client::new(sdk);
    let mut request = client.create_queue().queue_name(name);
    for (property, attribute) in [
        ("VisibilityTimeout", QueueAttributeName::VisibilityTimeout),
        ("MessageRetentionPeriod", QueueAttributeName::MessageRetentionPeriod),
        ("SqsManagedSseEnabled", QueueAttributeName::SqsManagedSseEnabled),
    ] {
        if let Some(Expr::Literal(value)) = props.get(property).and_then(expr) {
            request = request.attributes(attribute, value);
        }
    }
    let url = match request.send().await {
        Ok(created) => created.queue_url.unwrap_or_default(),
        // An existing queue with other attributes: keep it, use its URL.
        Err(_) => client
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .map_err(|e| fail(logical, aws_sdk_sqs::error::DisplayErrorContext(e)))?
            .queue_url
            .unwrap_or_default(),
    };
    let arn = client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| fail(logical, aws_sdk_sqs::error::DisplayErrorContext(e)))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .unwrap_or_default();
    out.refs.insert(logical.to_owned(), url);
    out.arns.insert(logical.to_owned(), arn);
    Ok(())
}

async fn redrive(sdk: &SdkConfig, out: &Provisioned, logical: &str, props: &Value) -> Result<(), ProvisionError> {
    let Some(policy) = props.get("RedrivePolicy") else { return Ok(()) };
    let target = policy
        .get("deadLetterTargetArn")
        .and_then(expr)
        .and_then(|e| out.resolve(&e, "local"))
        .ok_or_else(|| fail(logical, "deadLetterTargetArn does not resolve"))?;
    let max_receives = policy.get("maxReceiveCount").and_then(Value::as_u64).unwrap_or(5);
    let json = serde_json::json!({ "deadLetterTargetArn": target, "maxReceiveCount": max_receives.to_string() });
    aws_sdk_sqs::Client::new(sdk)
        .set_queue_attributes()
        .queue_url(out.physical_id(logical).unwrap_or_default())
        .attributes(QueueAttributeName::RedrivePolicy, json.to_string())
        .send()
        .await
        .map_err(|e| fail(logical, aws_sdk_sqs::error::DisplayErrorContext(e)))?;
    Ok(())
}

/// A KMS key, found again by its alias (`alias/<local name>`) on a later run.
async fn kms_key(sdk: &SdkConfig, out: &mut Provisioned, logical: &str, name: &str) -> Result<(), ProvisionError> {
    let kms = aws_sdk_kms::Client::new(sdk);
    let alias = format!("alias/{name}");
    let metadata = match kms.describe_key().key_id(&alias).send().await {
        Ok(found) => found.key_metadata,
        Err(_) => {
            let made = kms
                .create_key()
                .description(format!("{name}: local stand-in of {logical}"))
                .send()
                .await
                .map_err(|e| fail(logical, aws_sdk_kms::error::DisplayErrorContext(e)))?;
            let metadata = made.key_metadata.ok_or_else(|| fail(logical, "no key metadata"))?;
            kms.create_alias()
                .alias_name(&alias)
                .target_key_id(metadata.key_id())
                .send()
                .await
                .map_err(|e| fail(logical, aws_sdk_kms::error::DisplayErrorContext(e)))?;
            Some(metadata)
        }
    };
    let metadata = metadata.ok_or_else(|| fail(logical, "no key metadata"))?;
    out.refs.insert(logical.to_owned(), metadata.key_id().to_owned());
    out.arns.insert(logical.to_owned(), metadata.arn().unwrap_or_default().to_owned());
    Ok(())
}

async fn bucket(sdk: &SdkConfig, out: &mut Provisioned, logical: &str, name: &str) -> Result<(), ProvisionError> {
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build());
    match s3.create_bucket().bucket(name).send().await {
        Ok(_) => {}
        Err(err) if err.as_service_error().is_some_and(|e| e.is_bucket_already_owned_by_you()) => {}
        Err(err) => return Err(fail(logical, aws_sdk_s3::error::DisplayErrorContext(err))),
    }
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(
            ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::Aes256)
                .build()
                .map_err(|e| fail(logical, e))?,
        )
        .build();
    s3.put_bucket_encryption()
        .bucket(name)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder().rules(rule).build().map_err(|e| fail(logical, e))?,
        )
        .send()
        .await
        .map_err(|e| fail(logical, aws_sdk_s3::error::DisplayErrorContext(e)))?;
    s3.put_public_access_block()
        .bucket(name)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .block_public_policy(true)
                .ignore_public_acls(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .map_err(|e| fail(logical, aws_sdk_s3::error::DisplayErrorContext(e)))?;
    out.refs.insert(logical.to_owned(), name.to_owned());
    out.arns.insert(logical.to_owned(), format!("arn:aws:s3:::{name}"));
    Ok(())
}

/// Emulates `GenerateSecretString`: a random password (from Secrets Manager
/// itself) under `GenerateStringKey` of `SecretStringTemplate`.
async fn secret(
    sdk: &SdkConfig,
    out: &mut Provisioned,
    logical: &str,
    name: &str,
    props: &Value,
) -> Result<(), ProvisionError> {
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    let arn = match client.describe_secret().secret_id(name).send().await {
        Ok(existing) => existing.arn.unwrap_or_default(),
        Err(_) => {
            let generate = props
                .get("GenerateSecretString")
                .ok_or_else(|| fail(logical, "only GenerateSecretString secrets are provisioned"))?;
            let length = generate.get("PasswordLength").and_then(Value::as_i64).unwrap_or(32);
            let password = client
                .get_random_password()
                .password_length(length)
                .exclude_punctuation(generate.get("ExcludePunctuation").and_then(Value::as_bool).unwrap_or(false))
                .send()
                .await
                .map_err(|e| fail(logical, aws_sdk_secretsmanager::error::DisplayErrorContext(e)))?
                .random_password
                .unwrap_or_default();
            let mut value: serde_json::Value = serde_json::from_str(text(generate, "SecretStringTemplate"))
                .map_err(|e| fail(logical, format!("SecretStringTemplate: {e}")))?;
            value[text(generate, "GenerateStringKey")] = serde_json::Value::from(password);
            client
                .create_secret()
                .name(name)
                .secret_string(value.to_string())
                .send()
                .await
                .map_err(|e| fail(logical, aws_sdk_secretsmanager::error::DisplayErrorContext(e)))?
                .arn
                .unwrap_or_default()
        }
    };
    out.refs.insert(logical.to_owned(), arn.clone());
    out.arns.insert(logical.to_owned(), arn);
    Ok(())
}

/// A usage plan with the template's throttle and quota. The local API has no
/// API Gateway stage to attach, so `ApiStages` (and their per-method
/// throttles) live only in `toolbox-local`'s own gate (see `throttle`).
async fn usage_plan(
    sdk: &SdkConfig,
    out: &mut Provisioned,
    logical: &str,
    name: &str,
    props: &Value,
) -> Result<(), ProvisionError> {
    let client = aws_sdk_apigateway::Client::new(sdk);
    let existing = client
        .get_usage_plans()
        .limit(500)
        .send()
        .await
        .map_err(|e| fail(logical, aws_sdk_apigateway::error::DisplayErrorContext(e)))?
        .items
        .unwrap_or_default()
        .into_iter()
        .find(|plan| plan.name() == Some(name));
    let id = match existing {
        Some(plan) => plan.id.unwrap_or_default(),
        None => {
            let throttle = props.get("Throttle").map(|t| {
                ThrottleSettings::builder()
                    .set_rate_limit(t.get("RateLimit").and_then(Value::as_f64))
                    .set_burst_limit(t.get("BurstLimit").and_then(Value::as_i64).map(|b| b as i32))
                    .build()
            });
            let quota = props.get("Quota").map(|q| {
                QuotaSettings::builder()
                    .set_limit(q.get("Limit").and_then(Value::as_i64).map(|l| l as i32))
                    .set_period(q.get("Period").and_then(Value::as_str).map(QuotaPeriodType::from))
                    .build()
            });
            client
                .create_usage_plan()
                .name(name)
                .set_throttle(throttle)
                .set_quota(quota)
                .send()
                .await
                .map_err(|e| fail(logical, aws_sdk_apigateway::error::DisplayErrorContext(e)))?
                .id
                .unwrap_or_default()
        }
    };
    out.refs.insert(logical.to_owned(), id);
    Ok(())
}
