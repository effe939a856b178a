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
use js_sys::Uint8Array;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::{short, BodyStream, UpstreamBody, UpstreamResponse};

/// Sends the request; resolves when the response headers arrive. A transport
/// failure (refused, reset, DNS) is an `Err` with a message that carries no
/// secret (the URL and headers are not echoed).
pub async fn send(request: &UpstreamRequest, signal: Option<&worker::AbortSignal>) -> Result<UpstreamResponse, String> {
    let headers = web_sys::Headers::new().map_err(js_text)?;
    for (name, value) in &request.headers {
        headers.set(name, value).map_err(|_| format!("invalid upstream header {name}"))?;
    }
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers);
    init.set_body(&JsValue::from_str(&request.body));
    if let Some(signal) = signal {
        init.set_signal(Some(signal));
    }
    let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let sent = JsFuture::from(scope.fetch_with_str_and_init(&request.url, &init))
        .await
        .map_err(|e| format!("could not reach the upstream: {}", short(&js_text(e))))?;
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

/// Reads a whole body natively.
pub async fn read_whole(response: &web_sys::Response) -> Result<Vec<u8>, String> {
    let promise = response.array_buffer().map_err(js_text)?;
    let buffer = JsFuture::from(promise).await.map_err(|e| format!("the upstream connection broke: {}", short(&js_text(e))))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// The declared `Content-Length`, if any.
pub fn content_length(response: &web_sys::Response) -> Option<usize> {
    response.headers().get("content-length").ok().flatten().and_then(|v| v.parse().ok())
}

/// Streams a body chunk by chunk. Dropping the stream cancels the body,
/// which closes the upstream connection.
pub fn stream(response: &web_sys::Response) -> BodyStream {
    let Some(body) = response.body() else { return futures_util::stream::empty().boxed_local() };
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let guard = CancelOnDrop { reader: Some(reader) };
    futures_util::stream::unfold(guard, |mut guard| async move {
        let reader = guard.reader.as_ref()?;
        let result = match JsFuture::from(reader.read()).await {
            Ok(result) => result,
            Err(e) => {
                guard.disarm();
                return Some((Err(format!("the upstream connection broke: {}", short(&js_text(e)))), guard));
            }
        };
        let result: web_sys::ReadableStreamReadResult = result.unchecked_into();
        if result.get_done().unwrap_or(true) {
            guard.disarm(); // finished: nothing to cancel
            return None;
        }
        Some((Ok(Uint8Array::new(&result.get_value()).to_vec()), guard))
    })
    .boxed_local()
}

/// Holds a body reader; cancels it if dropped before the body ended.
struct CancelOnDrop {
    reader: Option<web_sys::ReadableStreamDefaultReader>,
}

impl CancelOnDrop {
    fn disarm(&mut self) {
        self.reader = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(reader) = self.reader.take() {
            let _ = reader.cancel();
        }
    }
}

fn js_text(value: JsValue) -> String {
    value
        .as_string()
        .or_else(|| value.dyn_ref::<js_sys::Error>().map(|e| String::from(e.to_string())))
        .unwrap_or_else(|| "unknown error".to_owned())
}
