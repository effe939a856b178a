//! Calling a Durable Object: one JSON POST to the object named `name` in
//! the namespace bound as `binding`, the answer's text back.
//!
//! The request is built with web-sys directly: `worker::RequestInit` would
//! convert its Cloudflare options (image resizing and all) on every call,
//! code the wasm does not need for an internal POST.

use wasm_bindgen::JsValue;
use worker::{Env, Request, Response};

/// POSTs `body` to the object and returns the answer's status and text, or
/// why the object could not be reached.
pub async fn post(env: &Env, binding: &str, name: &str, body: &str) -> Result<(u16, String), String> {
    let mut response = fetch(env, binding, name, body).await?;
    let text = response.text().await.map_err(|e| e.to_string())?;
    Ok((response.status_code(), text))
}

/// POSTs `body` to the object and returns its response as it starts (a
/// stream, for the coalescer's followers).
pub async fn fetch(env: &Env, binding: &str, name: &str, body: &str) -> Result<Response, String> {
    let namespace = env.durable_object(binding).map_err(|e| e.to_string())?;
    let stub = namespace.id_from_name(name).and_then(|id| id.get_stub()).map_err(|e| e.to_string())?;
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(body));
    let request = web_sys::Request::new_with_str_and_init("https://object.internal/", &init).map_err(|_| "could not build the request".to_owned())?;
    stub.fetch_with_request(Request::from(request)).await.map_err(|e| e.to_string())
}
