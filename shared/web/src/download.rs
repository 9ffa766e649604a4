//! Answers a browser saves as a file: the same body as any answer, with a
//! `Content-Disposition` that names the file.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::envelope::ApiResponse;

/// `body` (already a CSV table) as `<name>.csv`.
pub fn csv(name: &str, body: String) -> Response {
    let typed = ([(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"))], body);
    attachment(&format!("{name}.csv"), typed.into_response())
}

/// `data` in the usual envelope as `<name>.json`.
pub fn json(name: &str, data: impl Serialize) -> Response {
    attachment(&format!("{name}.json"), ApiResponse::ok(data).into_response())
}

fn attachment(filename: &str, mut response: Response) -> Response {
    // Names are built from ids and dates; a name a header cannot carry
    // still downloads, under the browser's choice of name.
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    response.headers_mut().insert(header::CONTENT_DISPOSITION, disposition);
    response
}
