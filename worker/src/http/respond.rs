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

// Setting headers one call at a time costs a trip into JS and a string
// conversion each; a response carries about ten of ours, so they are set
// in one call, as "name\nvalue\n..." (our names and values never hold a
// line break).
#[wasm_bindgen::prelude::wasm_bindgen(inline_js = "export function edgeway_set_headers(headers, pairs) { \
    const parts = pairs.split('\\n'); \
    for (let i = 0; i + 1 < parts.length; i += 2) { try { headers.set(parts[i], parts[i + 1]); } catch (_) {} } }")]
extern "C" {
    fn edgeway_set_headers(headers: &web_sys::Headers, pairs: &str);
}

/// Sets many headers in one call into JS (see above). Values with a line
/// break are skipped, as an invalid header would be.
pub fn set_all(headers: &Headers, pairs: &[(&str, String)]) {
    let mut joined = String::with_capacity(pairs.iter().map(|(n, v)| n.len() + v.len() + 2).sum());
    for (name, value) in pairs.iter().filter(|(n, v)| !n.contains('\n') && !v.contains('\n') && !v.contains('\r')) {
        joined.push_str(name);
        joined.push('\n');
        joined.push_str(value);
        joined.push('\n');
    }
    edgeway_set_headers(&headers.0, &joined);
}

/// Sets a header. Setting fails only for invalid names or values; ours are
/// fixed ASCII names and values the gateway produced, so it is ignored.
pub fn set(headers: &Headers, name: &str, value: &str) {
    let _ = headers.set(name, value);
}
