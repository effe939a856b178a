//! Sending an upstream request over the network with `fetch`.
//!
//! This talks to the runtime's fetch through web-sys directly rather than
//! through workers-rs' `Response` wrapper: a whole body is then read with one
//! native `arrayBuffer()` call, and a streamed body with a plain reader that
//! is never "released" (releasing builds a JS error with a stack trace every
//! time, which profiling showed as the single biggest cost per request).

use edgeway_core::providers::UpstreamRequest;
use edgeway_core::reliability::retry_after::upstream_wait_ms;
use futures_util::StreamExt;
use wasm_bindgen::JsCast;

use super::{short, BodyStream, UpstreamBody, UpstreamResponse};

/// Sends the request; resolves when the response headers arrive. A transport
/// failure (refused, reset, DNS) is an `Err` with a message that carries no
/// secret (the URL and headers are not echoed).
pub async fn send(request: &UpstreamRequest, abort: Option<&web_sys::AbortController>) -> Result<UpstreamResponse, String> {
    // A line break in a value (a mangled secret) is refused here.
    let headers = crate::http::pack_headers(request.headers.iter().map(|(n, v)| (*n, v.as_str()))).map_err(|name| format!("invalid upstream header {name}"))?;
    let sent = crate::promise::settled(&js::post(&request.url, &headers, request.body.as_bytes(), abort))
        .await
        .map_err(|e| format!("could not reach the upstream: {}", short(&crate::http::error_text(e))))?;
    let response: web_sys::Response = sent.dyn_into().map_err(|_| "fetch did not return a Response".to_owned())?;
    let status = response.status();
    // Wait hints only matter on failures; successes skip the header reads.
    let wait_hint_ms = if (200..300).contains(&status) {
        None
    } else {
        let headers = response.headers();
        upstream_wait_ms(|name| headers.get(name).ok().flatten(), crate::runtime::now_ms())
    };
    Ok(UpstreamResponse { status, wait_hint_ms, body: UpstreamBody::Http(response) })
}

/// Reads a whole body natively; `None`, without reading, when its declared
/// `Content-Length` is over `limit`.
pub async fn read_whole(response: &web_sys::Response, limit: usize) -> Result<Option<Vec<u8>>, String> {
    let Some(promise) = js::read_within(response, limit as f64) else { return Ok(None) };
    let buffer = crate::promise::settled(&promise).await.map_err(|e| format!("the upstream connection broke: {}", short(&crate::http::error_text(e))))?;
    Ok(Some(crate::http::body::copy(&buffer)))
}

/// Streams a body chunk by chunk. Dropping the stream cancels the body,
/// which closes the upstream connection.
pub fn stream(response: &web_sys::Response) -> BodyStream {
    match response.body() {
        Some(body) => crate::http::body::chunks(body, "the upstream connection broke"),
        None => futures_util::stream::empty().boxed_local(),
    }
}

mod js {
    use wasm_bindgen::prelude::wasm_bindgen;

    // The declared length and the read in one call: `null` when the body
    // says it is longer than the limit.
    #[wasm_bindgen(inline_js = "export function read_within(response, limit) { try { return Number(response.headers.get('content-length')) > limit ? null : response.arrayBuffer(); } catch (e) { return Promise.reject(e); } }")]
    extern "C" {
        pub fn read_within(response: &web_sys::Response, limit: f64) -> Option<js_sys::Promise>;
    }

    // One call instead of a dozen: the headers come packed as
    // `name\nvalue\n`, the body as a view of wasm memory, which `fetch`
    // copies into its request before it returns (as `new Request` does:
    // mutating the memory afterwards leaves the body unchanged).
    #[wasm_bindgen(inline_js = "export function post(url, packed, body, abort) { try { const headers = {}; const p = packed.split('\\n'); for (let i = 1; i < p.length; i += 2) headers[p[i - 1]] = p[i]; return fetch(url, { method: 'POST', headers, body, signal: abort && abort.signal }); } catch (e) { return Promise.reject(e); } }")]
    extern "C" {
        pub fn post(url: &str, headers: &str, body: &[u8], abort: Option<&web_sys::AbortController>) -> js_sys::Promise;
    }
}
