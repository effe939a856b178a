//! Building responses: JSON bodies, errors, and the gateway's headers.

use edgeway_core::headers;
use edgeway_core::GatewayError;
use worker::{Headers, Response};

/// A JSON response with the given status and body.
pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Response {
    let headers = Headers::new();
    set(&headers, "content-type", "application/json");
    Response::builder().with_status(status).with_headers(headers).fixed(body.into())
}

/// The OpenAI-style error response for `error`.
pub fn error(error: &GatewayError, request_id: &str) -> Response {
    let response = json(error.status(), error.to_json(request_id));
    if error.should_retry() == Some(false) {
        set(response.headers(), headers::SHOULD_RETRY, "false");
    }
    if let GatewayError::MethodNotAllowed { allowed, .. } = error {
        set(response.headers(), "allow", allowed);
    }
    response
}

/// Sets a header. Setting fails only for invalid names or values; ours are
/// fixed ASCII names and values the gateway produced, so it is ignored.
pub fn set(headers: &Headers, name: &str, value: &str) {
    let _ = headers.set(name, value);
}
