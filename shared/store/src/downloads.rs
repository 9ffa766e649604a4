//! Download links: presigned GETs of objects in the artifacts bucket,
//! saved under a given file name, made anew on each read and never valid
//! longer than [`LINK_SECONDS`]. The link carries the signing function's
//! credentials: it works for what that function may read.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use domain::clock::rfc3339;
use domain::error::Error;

use crate::state::AppState;

/// How long a download link works: 15 minutes.
const LINK_SECONDS: u64 = 900;

/// A link to `key`, saved as `filename`, and when it stops working (RFC 3339).
pub async fn link(state: &AppState, key: &str, filename: &str) -> Result<(String, String), Error> {
    let expires = PresigningConfig::expires_in(Duration::from_secs(LINK_SECONDS))
        .map_err(|err| Error::internal(format!("presigning: {err}")))?;
    let link = state
        .aws
        .s3()
        .get_object()
        .bucket(&state.config.bucket_name)
        .key(key)
        .response_content_disposition(format!("attachment; filename=\"{filename}\""))
        .presigned(expires)
        .await
        .map_err(|err| Error::internal(format!("presigning: {err}")))?;
    let expires_at = rfc3339(state.now() + time::Duration::seconds(LINK_SECONDS as i64));
    Ok((link.uri().to_owned(), expires_at))
}
