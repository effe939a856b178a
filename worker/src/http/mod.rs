//! HTTP plumbing: the incoming request, reading bodies within limits,
//! writing JSON responses, and calling Durable Objects.

pub mod body;
pub mod incoming;
pub mod object;
pub mod respond;

/// A JS error's message (or a thrown string), for error messages.
pub fn error_text(value: wasm_bindgen::JsValue) -> String {
    use wasm_bindgen::JsCast;
    value
        .as_string()
        .or_else(|| value.dyn_ref::<js_sys::Error>().map(|e| String::from(e.to_string())))
        .unwrap_or_else(|| "unknown error".to_owned())
}
