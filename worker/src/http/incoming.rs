//! The caller's request as the handlers see it.
//!
//! Its method, URL and every header cross from JS into Rust in one call,
//! as one string, when the request arrives. A request's headers
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
    /// `method\nurl\nname\nvalue…`: the method, the URL, then every
    /// header's name and value (names lowercase; a line feed can be in
    /// none of them, and the runtime joins a repeated header's values).
    packed: String,
    /// Where the URL is in `packed`.
    url: std::ops::Range<usize>,
    /// Where each header's name and value are in `packed`: found once, as
    /// a request's headers are looked up a dozen times.
    headers: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)>,
}

impl Incoming {
    /// Reads `raw`'s method, URL and headers.
    pub fn read(raw: web_sys::Request) -> Self {
        let packed = js::read_request(&raw);
        // Each line of `packed` as a range, so nothing is copied out of it.
        let mut lines = packed.split('\n').map(|line| {
            let start = line.as_ptr() as usize - packed.as_ptr() as usize;
            start..start + line.len()
        });
        let method = lines.next().unwrap_or_default();
        let url = lines.next().unwrap_or(method.end..method.end);
        let mut headers = Vec::new();
        while let (Some(name), Some(value)) = (lines.next(), lines.next()) {
            headers.push((name, value));
        }
        let method = Method::from(packed[method].to_owned());
        Self { raw, method, packed, url, headers }
    }

    /// A header's value; names are matched without regard to case.
    pub fn header(&self, name: &str) -> Option<&str> {
        let (_, value) = self.headers.iter().find(|(field, _)| self.packed[field.clone()].eq_ignore_ascii_case(name))?;
        Some(&self.packed[value.clone()])
    }

    /// The HTTP method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The full URL.
    pub fn url(&self) -> &str {
        &self.packed[self.url.clone()]
    }

    /// The URL's path, without its query.
    pub fn path(&self) -> &str {
        edgeway_core::query_string::path(self.url())
    }

    /// The runtime's request: its body and its abort signal.
    pub fn raw(&self) -> &web_sys::Request {
        &self.raw
    }
}

mod js {
    use wasm_bindgen::prelude::wasm_bindgen;

    // `forEach`, not `for…of`: the runtime's iterator costs a few
    // microseconds more per request.
    #[wasm_bindgen(inline_js = "export function read_request(r) { let s = r.method + '\\n' + r.url; r.headers.forEach((v, n) => { s += '\\n' + n + '\\n' + v; }); return s; }")]
    extern "C" {
        pub fn read_request(request: &web_sys::Request) -> String;
    }
}
