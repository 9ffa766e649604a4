//! Content items: `ORG#<org> / CONTENT#<id>`. A body that would make the
//! item too large for DynamoDB (400 KB) is kept in S3 and the item points
//! at it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::audit::Audit;
use crate::error::AppError;
use crate::generation::content::GeneratedContent;
use crate::generation::request::ContentKind;
use crate::ids::{ContentId, JobId, OrgId, UserId};
use crate::state::AppState;
use crate::tenancy::Tenant;

/// The S3 tag of bodies that a newer version replaced; template.yaml's
/// lifecycle rule expires them.
pub const SUPERSEDED_TAG: &str = "superseded";

/// Bodies above this many bytes of JSON go to S3.
pub const INLINE_BODY_LIMIT: usize = 100 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ContentStatus {
    Draft,
    Published,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContentItem {
    pub id: ContentId,
    pub org_id: OrgId,
    #[serde(rename = "type")]
    pub kind: ContentKind,
    pub title: String,
    pub summary: String,
    pub status: ContentStatus,
    /// The provider that wrote it (`template` for the offline one).
    pub provider: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<JobId>,
    /// The body, when small enough to live in the item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<GeneratedContent>,
    /// Else its S3 key in the artifacts bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_object: Option<String>,
    /// The weight of each term the item is indexed under (see `search`).
    #[serde(default)]
    pub search_terms: BTreeMap<String, u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_by: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_by: Option<UserId>,
    #[serde(flatten)]
    pub audit: Audit,
}

/// Where a body is kept: in the item, or (when large) in S3.
pub struct StoredBody {
    pub body: Option<GeneratedContent>,
    pub body_object: Option<String>,
}

impl StoredBody {
    /// Keeps a large body of `version` in S3 before the item that points at it
    /// is written; a small one travels in the item.
    pub async fn store(
        state: &AppState,
        tenant: &Tenant,
        id: &ContentId,
        version: u64,
        content: &GeneratedContent,
    ) -> Result<Self, AppError> {
        let json = serde_json::to_vec(content).map_err(AppError::internal)?;
        if json.len() <= INLINE_BODY_LIMIT {
            return Ok(Self { body: Some(content.clone()), body_object: None });
        }
        let key = tenant.content_body_object(id, version, &ulid::Ulid::new().to_string());
        state
            .aws
            .s3
            .put_object()
            .bucket(&state.config.bucket_name)
            .key(&key)
            .content_type("application/json")
            .body(json.into())
            .send()
            .await
            .map_err(|err| AppError::internal(aws_sdk_s3::error::DisplayErrorContext(err).to_string()))?;
        Ok(Self { body: None, body_object: Some(key) })
    }

    /// Marks the body of a replaced version `superseded`: the bucket's
    /// lifecycle rule deletes it a day later, so a reader who fetched the
    /// item just before the change can still read it.
    pub async fn retire(state: &AppState, key: &str) -> Result<(), AppError> {
        let tag =
            aws_sdk_s3::types::Tag::builder().key(SUPERSEDED_TAG).value("true").build().map_err(AppError::internal)?;
        let tagging = aws_sdk_s3::types::Tagging::builder().tag_set(tag).build().map_err(AppError::internal)?;
        state
            .aws
            .s3
            .put_object_tagging()
            .bucket(&state.config.bucket_name)
            .key(key)
            .tagging(tagging)
            .send()
            .await
            .map_err(|err| AppError::internal(aws_sdk_s3::error::DisplayErrorContext(err).to_string()))?;
        Ok(())
    }

    /// Deletes a body no item ever pointed at (its write lost a race).
    pub async fn discard(state: &AppState, key: &str) -> Result<(), AppError> {
        state
            .aws
            .s3
            .delete_object()
            .bucket(&state.config.bucket_name)
            .key(key)
            .send()
            .await
            .map_err(|err| AppError::internal(aws_sdk_s3::error::DisplayErrorContext(err).to_string()))?;
        Ok(())
    }
}

impl ContentItem {
    /// The body, from the item or from S3.
    pub async fn load_body(&self, state: &AppState) -> Result<GeneratedContent, AppError> {
        if let Some(body) = &self.body {
            return Ok(body.clone());
        }
        let Some(key) = &self.body_object else {
            return Err(AppError::internal(format!("content {} has no body", self.id)));
        };
        let object = state
            .aws
            .s3
            .get_object()
            .bucket(&state.config.bucket_name)
            .key(key)
            .send()
            .await
            .map_err(|err| AppError::internal(aws_sdk_s3::error::DisplayErrorContext(err).to_string()))?;
        let bytes = object.body.collect().await.map_err(AppError::internal)?.into_bytes();
        serde_json::from_slice(&bytes).map_err(AppError::internal)
    }
}
