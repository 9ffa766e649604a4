//! Objects in the artifacts bucket: written, read, and handed out as
//! download links (presigned GETs saved under a given file name, made anew
//! on each read and never valid longer than [`LINK_SECONDS`]; a link
//! carries the signing function's credentials, so it works for what that
//! function may read). Errors name the S3 operation that failed.

use std::time::Duration;

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::presigning::PresigningConfig;
use domain::clock::rfc3339;

use crate::db::DbError;
use crate::state::AppState;

/// How long a download link works: 15 minutes.
const LINK_SECONDS: u64 = 900;

/// Writes `bytes` at `key`.
pub async fn put(state: &AppState, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), DbError> {
    state
        .aws
        .s3()
        .put_object()
        .bucket(&state.config.bucket_name)
        .key(key)
        .content_type(content_type)
        .body(bytes.into())
        .send()
        .await
        .map_err(|err| DbError::failed("PutObject", DisplayErrorContext(err).to_string()))?;
    Ok(())
}

/// The bytes at `key`.
pub async fn get(state: &AppState, key: &str) -> Result<Vec<u8>, DbError> {
    let object = state
        .aws
        .s3()
        .get_object()
        .bucket(&state.config.bucket_name)
        .key(key)
        .send()
        .await
        .map_err(|err| DbError::failed("GetObject", DisplayErrorContext(err).to_string()))?;
    let bytes = object.body.collect().await.map_err(|err| DbError::failed("GetObject", err))?;
    Ok(bytes.into_bytes().to_vec())
}

/// A link to `key`, saved as `filename`, and when it stops working (RFC 3339).
pub async fn download_link(state: &AppState, key: &str, filename: &str) -> Result<(String, String), DbError> {
    let expires = PresigningConfig::expires_in(Duration::from_secs(LINK_SECONDS))
        .map_err(|err| DbError::failed("presigning", err))?;
    let link = state
        .aws
        .s3()
        .get_object()
        .bucket(&state.config.bucket_name)
        .key(key)
        .response_content_disposition(format!("attachment; filename=\"{filename}\""))
        .presigned(expires)
        .await
        .map_err(|err| DbError::failed("presigning", DisplayErrorContext(err).to_string()))?;
    let expires_at = rfc3339(state.now() + time::Duration::seconds(LINK_SECONDS as i64));
    Ok((link.uri().to_owned(), expires_at))
}
