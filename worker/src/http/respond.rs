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

/// A body of `ready` (sent at once, when not empty), then `chunks` as they
/// come. A task writes each chunk into a runtime-native pipe (workerd's
/// `IdentityTransformStream`) whose readable end is the body: the runtime
/// sends what is written with no JS between the pipe and the socket, where
/// a JS `ReadableStream` cost a `pull` call, a promise and a turn of the
/// stream machinery for every chunk (a streamed answer used about a tenth
/// more CPU). One write is in flight while the next chunk is read. When the
/// caller goes away the pipe closes, the task stops, and dropping `chunks`
/// cancels the upstream.
pub fn readable(ready: Vec<u8>, chunks: impl futures_util::Stream<Item = Vec<u8>> + 'static) -> web_sys::ReadableStream {
    use wasm_bindgen::JsCast;

    let pipe = js::open_pipe();
    let writer = pipe.get(1);
    crate::executor::detach(pump(writer, ready, chunks));
    pipe.get(0).unchecked_into()
}

/// Writes `ready`, then every chunk, into the pipe's `writer`, and closes
/// it; stops early when a write fails or the pipe closes (the caller left).
async fn pump(writer: wasm_bindgen::JsValue, ready: Vec<u8>, chunks: impl futures_util::Stream<Item = Vec<u8>>) {
    use crate::promise::settled;
    use futures_util::future::{select, Either};
    use futures_util::StreamExt;

    // On the heap, not pinned in place: `pin!` would keep a second copy of
    // the relay's state in this future.
    let mut chunks = Box::pin(chunks);
    let mut closed = settled(&js::closed(&writer));
    let mut in_flight = (!ready.is_empty()).then(|| settled(&js::write(&writer, &ready)));
    loop {
        let next = match select(chunks.next(), &mut closed).await {
            Either::Left((next, _)) => next,
            Either::Right(_) => return,
        };
        if let Some(write) = in_flight.take() {
            if write.await.is_err() {
                return;
            }
        }
        match next {
            Some(chunk) => in_flight = Some(settled(&js::write(&writer, &chunk))),
            None => break,
        }
    }
    js::close(&writer);
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

    // `bytes` is a view of wasm memory. A `Response` copies its body when it
    // is made (mutating the memory afterwards leaves it unchanged), so the
    // view goes in as is; a write into the pipe is read later, so `write`
    // copies (`slice`) before anything else can reuse that memory. The
    // headers go in as one object (a `set` apiece cost about a microsecond
    // more per header); only a value the runtime refuses sends them through
    // `set`, one by one, to leave that one out.
    #[wasm_bindgen(inline_js = "export function open_pipe() { const { readable, writable } = new IdentityTransformStream(); return [readable, writable.getWriter()]; } \
        export function write(writer, bytes) { try { return writer.write(bytes.slice()); } catch (e) { return Promise.reject(e); } } \
        export function closed(writer) { return writer.closed; } \
        export function close(writer) { writer.close().catch(() => {}); } \
        export function respond(status, packed, bytes, stream) { const p = packed.split('\\n'); const body = bytes || stream || null; const init = {}; for (let i = 1; i < p.length; i += 2) init[p[i - 1]] = p[i]; try { return new Response(body, { status, headers: init }); } catch { const headers = new Headers(); for (let i = 1; i < p.length; i += 2) { try { headers.set(p[i - 1], p[i]); } catch {} } return new Response(body, { status, headers }); } }")]
    extern "C" {
        pub fn open_pipe() -> js_sys::Array;
        pub fn write(writer: &wasm_bindgen::JsValue, bytes: &[u8]) -> js_sys::Promise;
        pub fn closed(writer: &wasm_bindgen::JsValue) -> js_sys::Promise;
        pub fn close(writer: &wasm_bindgen::JsValue);
        pub fn respond(status: u16, headers: &str, bytes: Option<&[u8]>, stream: Option<&web_sys::ReadableStream>) -> web_sys::Response;
    }
}
