//! The one interface every content provider implements: given a stage of
//! the pipeline and what is drafted so far, answer that stage's JSON.

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

use domain::generation::content::GeneratedContent;
use domain::generation::request::GenerateRequest;

/// The pipeline's stages, in order; `Repair` runs only after a failed review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// `{"title", "summary", "objectives": [..], "sections": [{"heading"}]}`
    Outline,
    /// `{"sections": [{"heading", "body"}]}` (lessons only)
    Content,
    /// `{"questions": [{"question", "options", "answer_index", "explanation"}]}`
    Quiz,
    /// The whole content again, with the review's problems fixed.
    Repair,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Outline => "outline",
            Self::Content => "content",
            Self::Quiz => "quiz",
            Self::Repair => "repair",
        }
    }
}

/// One call to a provider.
#[derive(Debug, Clone, Copy)]
pub struct Task<'a> {
    pub stage: Stage,
    pub request: &'a GenerateRequest,
    pub draft: &'a GeneratedContent,
    /// For `Repair`: what the review found.
    pub problems: &'a [String],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("the provider did not answer in time")]
    Timeout,
    #[error("the provider could not be reached")]
    Unreachable,
    #[error("the provider is rate limiting")]
    RateLimited { retry_after_seconds: Option<u64> },
    #[error("the provider failed with status {0}")]
    Server(u16),
    #[error("the provider's answer is not the JSON asked for: {0}")]
    Malformed(String),
    #[error("the provider refused the request: {0}")]
    Refused(String),
    /// Too many calls failed lately; jobs fail fast instead of waiting.
    #[error("the provider is unavailable")]
    Unavailable,
    /// Its API key could not be read from Secrets Manager (for now, or for
    /// good: a missing or malformed secret); no call was made.
    #[error("the provider's API key could not be read")]
    KeyUnavailable,
}

impl ProviderError {
    /// Worth another try after a pause: the provider may answer next time.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Timeout | Self::Unreachable | Self::RateLimited { .. } | Self::Server(_) | Self::KeyUnavailable
        )
    }
}

pub type ProviderFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, ProviderError>> + Send + 'a>>;

pub trait Provider: Send + Sync {
    /// Named in logs and in the content's metadata.
    fn name(&self) -> &'static str;

    fn complete<'a>(&'a self, task: Task<'a>) -> ProviderFuture<'a>;
}
