//! Content bodies: small ones travel in the content item, large ones live
//! in the artifacts bucket (S3) under a key per version.

use domain::content::{ContentItem, INLINE_BODY_LIMIT, SUPERSEDED_TAG};
use domain::error::Error;
use domain::generation::content::GeneratedContent;
use domain::ids::ContentId;
use domain::tenancy::Tenant;

use crate::objects;
use crate::state::AppState;

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
    ) -> Result<Self, Error> {
        let json = serde_json::to_vec(content).map_err(Error::internal)?;
        if json.len() <= INLINE_BODY_LIMIT {
            return Ok(Self { body: Some(content.clone()), body_object: None });
        }
        let key = tenant.content_body_object(id, version, &ulid::Ulid::new().to_string());
        objects::put(state, &key, json, "application/json").await?;
        Ok(Self { body: None, body_object: Some(key) })
    }

    /// Marks the body of a replaced version `superseded`: the bucket's
    /// lifecycle rule deletes it a day later, so a reader who fetched the
    /// item just before the change can still read it.
    pub async fn retire(state: &AppState, key: &str) -> Result<(), Error> {
        let tag =
            aws_sdk_s3::types::Tag::builder().key(SUPERSEDED_TAG).value("true").build().map_err(Error::internal)?;
        let tagging = aws_sdk_s3::types::Tagging::builder().tag_set(tag).build().map_err(Error::internal)?;
        state
            .aws
            .s3()
            .put_object_tagging()
            .bucket(&state.config.bucket_name)
            .key(key)
            .tagging(tagging)
            .send()
            .await
            .map_err(|err| Error::internal(aws_sdk_s3::error::DisplayErrorContext(err).to_string()))?;
        Ok(())
    }

    /// Deletes a body no item ever pointed at (its write lost a race).
    pub async fn discard(state: &AppState, key: &str) -> Result<(), Error> {
        state
            .aws
            .s3()
            .delete_object()
            .bucket(&state.config.bucket_name)
            .key(key)
            .send()
            .await
            .map_err(|err| Error::internal(aws_sdk_s3::error::DisplayErrorContext(err).to_string()))?;
        Ok(())
    }
}

/// A content item's body, from the item or from S3.
pub async fn load(state: &AppState, item: &ContentItem) -> Result<GeneratedContent, Error> {
    if let Some(body) = &item.body {
        return Ok(body.clone());
    }
    let Some(key) = &item.body_object else {
        return Err(Error::internal(format!("content {} has no body", item.id)));
    };
    let bytes = objects::get(state, key).await?;
    serde_json::from_slice(&bytes).map_err(Error::internal)
}
