//! Sending an upstream request over the network with `fetch`.

use edgeway_core::providers::UpstreamRequest;
use futures_util::{StreamExt, TryStreamExt};
use worker::{Fetch, Headers, Method, Request, RequestInit};

use super::UpstreamResponse;

/// Sends the request; resolves when the response headers arrive. A transport
/// failure (refused, reset, DNS) is an `Err` with a message that carries no
/// secret (the URL and headers are not echoed).
pub async fn send(request: &UpstreamRequest, signal: Option<&worker::AbortSignal>) -> Result<UpstreamResponse, String> {
    let headers = Headers::new();
    for (name, value) in &request.headers {
        headers.set(name, value).map_err(|_| format!("invalid upstream header {name}"))?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(wasm_bindgen::JsValue::from_str(&request.body)));
    let outgoing = Request::new_with_init(&request.url, &init).map_err(|e| format!("invalid upstream request: {e}"))?;
    let fetch = Fetch::Request(outgoing);
    let sent = match signal {
        Some(signal) => fetch.send_with_signal(signal).await,
        None => fetch.send().await,
    };
    let mut response = sent.map_err(|e| format!("could not reach the upstream: {}", transport_reason(&e.to_string())))?;
    let status = response.status_code();
    let body = match response.stream() {
        Ok(stream) => stream.map_err(|e| format!("the upstream connection broke: {}", transport_reason(&e.to_string()))).boxed_local(),
        Err(_) => futures_util::stream::empty().boxed_local(),
    };
    Ok(UpstreamResponse { status, body })
}

/// The runtime's error text, shortened: enough to tell refused from reset.
fn transport_reason(text: &str) -> String {
    text.chars().take(200).collect()
}
