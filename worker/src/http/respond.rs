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

/// Sets several headers in one call into JS: every string crossing from
/// wasm is decoded on its own, and an answer carries a dozen headers, so
/// they cross as one string (names and values never hold a line feed).
pub fn set_all(headers: &Headers, pairs: &[(&str, &str)]) {
    let mut packed = String::with_capacity(pairs.iter().map(|(n, v)| n.len() + v.len() + 2).sum());
    for (name, value) in pairs {
        if name.contains('\n') || value.contains('\n') {
            continue;
        }
        packed.push_str(name);
        packed.push('\n');
        packed.push_str(value);
        packed.push('\n');
    }
    js::set_headers(headers.as_ref(), &packed);
}

mod js {
    use wasm_bindgen::prelude::wasm_bindgen;

    #[wasm_bindgen(inline_js = "export function set_headers(headers, packed) { const p = packed.split('\\n'); for (let i = 1; i < p.length; i += 2) { try { headers.set(p[i - 1], p[i]); } catch {} } }")]
    extern "C" {
        pub fn set_headers(headers: &wasm_bindgen::JsValue, packed: &str);
    }
}
