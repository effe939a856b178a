//! Reading a request body without ever holding more than the limit.

use edgeway_core::GatewayError;
use futures_util::StreamExt;
use wasm_bindgen::JsCast;

use super::incoming::Incoming;
use crate::upstream::{short, BodyStream};

/// Reads the whole body, refusing it with 413 as soon as it is known to be
/// over `limit`: from `Content-Length` before reading anything, or while
/// reading a body sent without one.
pub async fn read_limited(request: &Incoming, limit: u64) -> Result<Vec<u8>, GatewayError> {
    let too_large = GatewayError::PayloadTooLarge { limit };
    let unreadable = |e: String| GatewayError::InvalidRequest {
        param: String::new(),
        message: format!("the request body could not be read: {e}"),
    };
    let declared = request.header("content-length").and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(len) if len > limit => Err(too_large),
        // The runtime enforces the declared length, so a native read of the
        // whole body (one call, far cheaper than a stream reader) is bounded.
        Some(_) => whole(request.raw()).await.map_err(unreadable),
        None => {
            let Some(mut stream) = request.raw().body().map(|body| chunks(body, "the upload broke off")) else { return Ok(Vec::new()) };
            let mut body = Vec::new();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(unreadable)?;
                if (body.len() + chunk.len()) as u64 > limit {
                    // Stop the upload: dropping the reader cancels the body.
                    drop(stream);
                    return Err(too_large);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body)
        }
    }
}

/// Reads a whole request body with one native call.
async fn whole(request: &web_sys::Request) -> Result<Vec<u8>, String> {
    let promise = request.array_buffer().map_err(super::error_text)?;
    let buffer = crate::promise::settled(&promise).await.map_err(super::error_text)?;
    Ok(copy(&buffer))
}

/// A copy in wasm memory of `data`, an `ArrayBuffer` or a `Uint8Array`:
/// one call into JS, where `Uint8Array::new(..).to_vec()` made three.
pub fn copy(data: &wasm_bindgen::JsValue) -> Vec<u8> {
    js::bytes_of(data)
}

/// A body as a stream of chunks; `broke` starts the message of a read that
/// fails. Dropping the stream before the body ends cancels it: for an
/// upload that stops it, for an upstream answer that closes the connection.
pub fn chunks(body: web_sys::ReadableStream, broke: &'static str) -> BodyStream {
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let guard = CancelOnDrop { reader: Some(reader) };
    futures_util::stream::unfold(guard, move |mut guard| async move {
        let reader = guard.reader.as_ref()?;
        let chunk = match crate::promise::next_chunk(reader).await {
            Ok(chunk) => chunk,
            Err(e) => {
                guard.disarm();
                return Some((Err(format!("{broke}: {}", short(&super::error_text(e)))), guard));
            }
        };
        if chunk.is_undefined() {
            guard.disarm(); // finished: nothing to cancel
            return None;
        }
        Some((Ok(copy(&chunk)), guard))
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

mod js {
    use wasm_bindgen::prelude::wasm_bindgen;

    #[wasm_bindgen(inline_js = "export function bytes_of(data) { return data instanceof Uint8Array ? data : new Uint8Array(data); }")]
    extern "C" {
        pub fn bytes_of(data: &wasm_bindgen::JsValue) -> Vec<u8>;
    }
}
