//! The caller's request as the handlers see it.
//!
//! Its method, URL, data center and every header cross from JS into Rust in
//! one call, as one string, when the request arrives. A request's headers
//! are read a dozen times on its way through the gateway (the key, the
//! request id, the overrides, the cache controls…), and each read through
//! the runtime's `Headers` was two calls into JS and a string copy: under
//! load that was a tenth of the worker's own CPU per request.

use worker::Method;

/// One incoming request: the runtime's `Request` (for its body and its
/// cancellation signal) and what was read from it up front.
pub struct Incoming {
    raw: web_sys::Request,
    method: Method,
    url: String,
    /// The Cloudflare data center that took the request, when known.
    colo: Option<String>,
    /// `name\nvalue\n` for every header, names lowercase (a line feed can be
    /// in neither), values of a repeated header joined by the runtime.
    headers: String,
}

impl Incoming {
    /// Reads `raw`'s method, URL, data center and headers.
    pub fn read(raw: web_sys::Request) -> Self {
        let packed = js::read_request(&raw);
        let mut parts = packed.splitn(4, '\n');
        let method = Method::from(parts.next().unwrap_or_default().to_owned());
        let url = parts.next().unwrap_or_default().to_owned();
        let colo = parts.next().filter(|c| !c.is_empty()).map(str::to_owned);
        let headers = parts.next().unwrap_or_default().to_owned();
        Self { raw, method, url, colo, headers }
    }

    /// A header's value; names are matched without regard to case.
    pub fn header(&self, name: &str) -> Option<&str> {
        let mut fields = self.headers.split('\n');
        while let (Some(field), Some(value)) = (fields.next(), fields.next()) {
            if field.eq_ignore_ascii_case(name) {
                return Some(value);
            }
        }
        None
    }

    /// The HTTP method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The full URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL's path, without its query.
    pub fn path(&self) -> &str {
        edgeway_core::query_string::path(&self.url)
    }

    /// The data center that took the request (`cf.colo`), when the runtime
    /// says (bare workerd and Miniflare may not).
    pub fn colo(&self) -> Option<&str> {
        self.colo.as_deref()
    }

    /// The runtime's request: its body and its abort signal.
    pub fn raw(&self) -> &web_sys::Request {
        &self.raw
    }
}

mod js {
    use wasm_bindgen::prelude::wasm_bindgen;

    #[wasm_bindgen(inline_js = "export function read_request(r) { let s = r.method + '\\n' + r.url + '\\n' + ((r.cf && r.cf.colo) || ''); for (const [n, v] of r.headers) s += '\\n' + n + '\\n' + v; return s; }")]
    extern "C" {
        pub fn read_request(request: &web_sys::Request) -> String;
    }
}
