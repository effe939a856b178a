//! What went wrong, as an `EdgewayError` with a stable `code`.
//!
//! The gateway's codes pass through untouched (its error body is the
//! OpenAI shape, `{"error": {message, type, param, code, request_id}}`);
//! the SDK adds `aborted`, `timeout` and `network` for calls that never got
//! an answer from it.

use js_sys::Object;
use wasm_bindgen::JsValue;

use crate::js;
use crate::runtime::EdgewayError;

/// The fields of an `EdgewayError`, before it becomes a JS object.
#[derive(Debug, Default)]
pub struct ErrorInfo {
    pub code: String,
    pub message: String,
    pub status: Option<u16>,
    pub kind: Option<String>,
    pub param: Option<String>,
    pub request_id: Option<String>,
    pub retry_after_ms: Option<u64>,
}

impl ErrorInfo {
    /// An error the SDK itself observed.
    pub fn local(code: &str, message: impl Into<String>) -> Self {
        Self { code: code.to_owned(), message: message.into(), ..Self::default() }
    }

    /// The caller's signal fired, or the stream was aborted.
    pub fn aborted() -> Self {
        Self::local("aborted", "the call was aborted")
    }

    /// The call's `timeoutMs` passed.
    pub fn timeout(timeout_ms: Option<f64>) -> Self {
        let after = timeout_ms.map_or_else(String::new, |ms| format!(" after {} ms", ms as u64));
        Self::local("timeout", format!("the call timed out{after}"))
    }

    /// Reads the gateway's error object (`body.error`, or a stream's error
    /// event). Anything else becomes `network`: an answer that is not the
    /// gateway's JSON came from something in between.
    pub fn from_error_body(body: &JsValue, status: Option<u16>, request_id: Option<String>) -> Self {
        let Some(error) = js::field(body, "error").filter(JsValue::is_object) else {
            let what = status.map_or_else(|| "an unreadable answer".to_owned(), |s| format!("HTTP {s}"));
            return Self { status, request_id, ..Self::local("network", format!("{what} that did not come from the gateway")) };
        };
        Self {
            code: js::string(&error, "code").unwrap_or_else(|| "internal_error".to_owned()),
            message: js::string(&error, "message").unwrap_or_else(|| "the gateway gave no message".to_owned()),
            status,
            kind: js::string(&error, "type"),
            param: js::string(&error, "param"),
            request_id: js::string(&error, "request_id").or(request_id),
            retry_after_ms: None,
        }
    }

    /// The JS `EdgewayError`, with `cause` when there was an underlying one.
    pub fn into_js(self, cause: &JsValue) -> JsValue {
        let fields = Object::new();
        js::set(&fields, "code", self.code);
        js::set(&fields, "status", self.status.map(f64::from));
        js::set(&fields, "type", self.kind);
        js::set(&fields, "param", self.param);
        js::set(&fields, "requestId", self.request_id);
        js::set(&fields, "retryAfterMs", self.retry_after_ms.map(|ms| ms as f64));
        EdgewayError::new(&self.message, &fields, cause).into()
    }
}
