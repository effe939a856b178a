//! Building responses: JSON bodies, streams, errors, and the gateway's
//! headers.
//!
//! A [`Reply`] is kept in Rust until the router hands it to the runtime,
//! and only then becomes a JS `Response`, headers and all, in one call: an
//! answer carries a dozen headers set by different steps, and setting each
//! on a JS `Headers` object was a call into JS and a string copy apiece.

use edgeway_core::headers;
use edgeway_core::GatewayError;

/// A response in the making.
pub struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Body,
}

/// What a reply carries.
pub enum Body {
    /// Nothing (a preflight).
    Empty,
    /// A whole body.
    Bytes(Vec<u8>),
    /// A body still being produced (a streamed answer).
    Stream(web_sys::ReadableStream),
}

impl Reply {
    /// A JSON response with the given status and body.
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self { status, headers: vec![("content-type", "application/json".to_owned())], body: Body::Bytes(body.into()) }
    }

    /// A server-sent events stream (200).
    pub fn event_stream(body: web_sys::ReadableStream) -> Self {
        let headers = vec![("content-type", "text/event-stream; charset=utf-8".to_owned()), ("cache-control", "no-cache".to_owned())];
        Self { status: 200, headers, body: Body::Stream(body) }
    }

    /// A response with no body.
    pub fn empty(status: u16) -> Self {
        Self { status, headers: Vec::new(), body: Body::Empty }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Sets a header, replacing any earlier value.
    pub fn set(&mut self, name: &'static str, value: impl Into<String>) {
        let value = value.into();
        match self.headers.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some(header) => header.1 = value,
            None => self.headers.push((name, value)),
        }
    }

    /// The runtime's `Response`, made in one call into JS. A header value
    /// with a line break (which HTTP forbids) is left out.
    pub fn into_response(self) -> web_sys::Response {
        let all = self.headers.iter().map(|(n, v)| (*n, v.as_str()));
        // Only a reply with a bad value pays for a second, filtered pass.
        let packed = super::pack_headers(all.clone()).or_else(|_| super::pack_headers(all.filter(|(_, v)| !v.contains(['\n', '\r'])))).unwrap_or_default();
        match self.body {
            Body::Empty => js::respond(self.status, &packed, None, None),
            Body::Bytes(bytes) => js::respond(self.status, &packed, Some(&bytes), None),
            Body::Stream(stream) => js::respond(self.status, &packed, None, Some(&stream)),
        }
    }
}

/// A JS `ReadableStream` of `ready` (queued at once, when not empty), then
/// `chunks`, pulled as the runtime sends them. Each pull runs on
/// `crate::executor`, so a chunk read from the upstream is relayed from the
/// callback that delivers it, without a microtask in between. Cancelling
/// the stream (the caller left) drops `chunks`.
pub fn readable(ready: Vec<u8>, chunks: impl futures_util::Stream<Item = Vec<u8>> + 'static) -> web_sys::ReadableStream {
    use futures_util::StreamExt;
    use std::cell::RefCell;
    use std::rc::Rc;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsValue;

    type Chunks = std::pin::Pin<Box<dyn futures_util::Stream<Item = Vec<u8>>>>;
    let source: Rc<RefCell<Option<Chunks>>> = Rc::new(RefCell::new(Some(Box::pin(chunks))));
    let pulled = Rc::clone(&source);
    let pull = Closure::<dyn FnMut() -> js_sys::Promise>::new(move || {
        let source = Rc::clone(&pulled);
        crate::executor::spawn(async move {
            let next = std::future::poll_fn(|cx| match source.borrow_mut().as_mut() {
                Some(chunks) => chunks.poll_next_unpin(cx),
                None => std::task::Poll::Ready(None),
            })
            .await;
            match next {
                // `Uint8Array::from` copies the chunk out of wasm memory.
                Some(chunk) => js_sys::Uint8Array::from(chunk.as_slice()).into(),
                None => {
                    source.borrow_mut().take();
                    JsValue::UNDEFINED
                }
            }
        })
    });
    let cancel = Closure::<dyn FnMut()>::new(move || drop(source.borrow_mut().take()));
    // JS owns the closures from here; they go when the stream is collected.
    // (A pull still pending when the caller cancels ends with nothing to
    // enqueue into a closed stream: the JS side ignores that.)
    let ready = (!ready.is_empty()).then(|| js_sys::Uint8Array::from(ready.as_slice()));
    js::readable(ready.as_ref(), pull.into_js_value(), cancel.into_js_value())
}

/// The OpenAI-style error response for `error`.
pub fn error(error: &GatewayError, request_id: &str) -> Reply {
    let mut reply = Reply::json(error.status(), error.to_json(request_id));
    if error.should_retry() == Some(false) {
        reply.set(headers::SHOULD_RETRY, "false");
    }
    if let GatewayError::MethodNotAllowed { allowed, .. } = error {
        reply.set("allow", *allowed);
    }
    reply
}

mod js {
    use wasm_bindgen::prelude::wasm_bindgen;

    // `bytes` is a view of wasm memory: `slice` copies it before anything
    // else can run and reuse that memory.
    #[wasm_bindgen(inline_js = "export function readable(ready, pull, cancel) { return new ReadableStream({ start: (c) => { if (ready) c.enqueue(ready); }, pull: (c) => pull().then((chunk) => { try { if (chunk === undefined) c.close(); else c.enqueue(chunk); } catch {} }), cancel: () => { cancel(); } }, { highWaterMark: 8 }); } \
        export function respond(status, packed, bytes, stream) { const headers = new Headers(); const p = packed.split('\\n'); for (let i = 1; i < p.length; i += 2) { try { headers.set(p[i - 1], p[i]); } catch {} } return new Response(bytes ? bytes.slice() : (stream || null), { status, headers }); }")]
    extern "C" {
        pub fn readable(ready: Option<&js_sys::Uint8Array>, pull: wasm_bindgen::JsValue, cancel: wasm_bindgen::JsValue) -> web_sys::ReadableStream;
        pub fn respond(status: u16, headers: &str, bytes: Option<&[u8]>, stream: Option<&web_sys::ReadableStream>) -> web_sys::Response;
    }
}
