//! Content items: `ORG#<org>#CONTENT#<id> / CONTENT#<id>`. A body that would make the
//! item too large for DynamoDB (400 KB) is kept in S3 and the item points
//! at it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::audit::Audit;
use crate::generation::content::GeneratedContent;
use crate::generation::request::ContentKind;
use crate::ids::{ContentId, JobId, OrgId, UserId};

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
    #[serde(flatten)]
    pub audit: Audit,
}

crate::record!(ContentItem, ContentId, "content", content);

/// The fields a change to a content item names.
pub mod field {
    use super::{BTreeMap, ContentItem, ContentStatus, GeneratedContent, UserId};
    use crate::record::Field;

    pub const TITLE: Field<ContentItem, str> = Field::new("title");
    pub const SUMMARY: Field<ContentItem, str> = Field::new("summary");
    pub const BODY: Field<ContentItem, Option<GeneratedContent>> = Field::new("body");
    pub const BODY_OBJECT: Field<ContentItem, Option<String>> = Field::new("body_object");
    pub const SEARCH_TERMS: Field<ContentItem, BTreeMap<String, u32>> = Field::new("search_terms");
    pub const STATUS: Field<ContentItem, ContentStatus> = Field::new("status");
    pub const PUBLISHED_AT: Field<ContentItem, str> = Field::new("published_at");
    pub const PUBLISHED_BY: Field<ContentItem, UserId> = Field::new("published_by");
}
