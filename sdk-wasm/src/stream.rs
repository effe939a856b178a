//! A streamed answer, read chunk by chunk as the app asks for them.
//!
//! The call opens at once and is retried (by [`Call::run`]) until its first
//! chunk arrives; after that a failure goes to the app, which has already
//! seen part of the answer. Bytes go through core's SSE parser as they
//! arrive and each event becomes the chunk object the app receives; the
//! network is read only when the app asks for a chunk and none is queued.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::rc::Rc;

use edgeway_core::sse::SseParser;
use js_sys::{Object, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::ReadableStreamDefaultReader;

use crate::call::{AttemptError, Call};
use crate::errors::ErrorInfo;
use crate::js;
use crate::metadata;
use crate::runtime;
use crate::types;

/// A streamed chat completion (wrapped by the package's `ChatStream`).
#[wasm_bindgen]
pub struct ChatStream {
    inner: Rc<StreamInner>,
    /// Resolves to the metadata once the first chunk arrived.
    opened: Promise,
}

struct StreamInner {
    call: Call,
    reading: RefCell<Reading>,
    /// The last operation queued: operations run one after another.
    turn: RefCell<Option<Promise>>,
}

/// Where the stream's reading stands.
struct Reading {
    reader: Option<ReadableStreamDefaultReader>,
    parser: SseParser,
    /// Chunks read from the network and not yet taken by the app.
    queue: VecDeque<JsValue>,
    metadata: Option<Object>,
    end: End,
}

enum End {
    Open,
    /// `[DONE]` arrived, or the app stopped reading.
    Done,
    /// The stream failed; every later operation rejects with this error.
    Failed(JsValue),
}

impl Reading {
    fn new() -> Self {
        Self { reader: None, parser: SseParser::new(), queue: VecDeque::new(), metadata: None, end: End::Open }
    }

    /// Parses arrived bytes into chunks.
    fn push(&mut self, bytes: &[u8]) {
        let mut events = Vec::new();
        if let Err(error) = self.parser.push(bytes, &mut events) {
            self.end = End::Failed(ErrorInfo::local("stream_interrupted", error.to_string()).into_js(&JsValue::UNDEFINED));
            return;
        }
        for event in events {
            if !matches!(self.end, End::Open) {
                return;
            }
            if event.is_done() {
                self.end = End::Done;
                return;
            }
            let chunk = js_sys::JSON::parse(&event.data).unwrap_or(JsValue::UNDEFINED);
            if js::field(&chunk, "error").is_some() {
                let request_id = self.metadata.as_ref().and_then(|m| js::string(m, "requestId"));
                self.end = End::Failed(ErrorInfo::from_error_body(&chunk, None, request_id).into_js(&JsValue::UNDEFINED));
                return;
            }
            if !chunk.is_object() {
                let error = ErrorInfo::local("stream_interrupted", "the gateway sent an event that is not JSON");
                self.end = End::Failed(error.into_js(&JsValue::UNDEFINED));
                return;
            }
            self.queue.push_back(chunk);
        }
    }

    /// The network stream closed: complete only if `[DONE]` came first.
    fn closed(&mut self) {
        if matches!(self.end, End::Open) {
            let error = ErrorInfo::local("stream_interrupted", "the stream closed before it was complete");
            self.end = End::Failed(error.into_js(&JsValue::UNDEFINED));
        }
    }

}

impl ChatStream {
    /// Opens the stream in the background and returns at once.
    pub(crate) fn start(call: Call) -> Self {
        let inner = Rc::new(StreamInner { call, reading: RefCell::new(Reading::new()), turn: RefCell::new(None) });
        let opening = inner.clone();
        let opened = future_to_promise(async move { opening.open().await });
        // Its failure reaches the app through next() and metadata().
        *inner.turn.borrow_mut() = Some(runtime::handled(&opened));
        Self { inner, opened }
    }

    /// Queues `operation` after every earlier one: chunks are taken in order
    /// however the app calls.
    fn in_turn<F>(&self, operation: impl FnOnce(Rc<StreamInner>) -> F) -> Promise
    where
        F: Future<Output = Result<JsValue, JsValue>> + 'static,
    {
        let previous = self.inner.turn.borrow_mut().take();
        let work = operation(self.inner.clone());
        let promise = future_to_promise(async move {
            if let Some(previous) = previous {
                // Its outcome went to whoever asked for it.
                let _ = JsFuture::from(previous).await;
            }
            work.await
        });
        *self.inner.turn.borrow_mut() = Some(runtime::handled(&promise));
        promise
    }
}

#[wasm_bindgen]
impl ChatStream {
    /// The next chunk, as an iterator result (`{ done, value }`).
    pub fn next(&self) -> Promise {
        self.in_turn(|inner| async move {
            let chunk = inner.next_chunk().await?;
            let result = Object::new();
            js::set(&result, "done", chunk.is_none());
            js::set(&result, "value", chunk.unwrap_or(JsValue::UNDEFINED));
            Ok(result.into())
        })
    }

    /// The gateway's metadata, once the answer has started.
    pub fn metadata(&self) -> types::MetadataPromise {
        self.opened.clone().unchecked_into()
    }

    /// Stops the stream: the network read ends at once, chunks not yet
    /// taken are dropped, and pending and later reads reject with `aborted`.
    pub fn abort(&self) {
        self.inner.stop(true);
    }

    /// Stops reading without an error (the app left its `for await` loop).
    pub fn cancel(&self) {
        self.inner.stop(false);
    }
}

impl StreamInner {
    /// Sends the call until its answer's first chunk arrived (or it ended).
    async fn open(self: Rc<Self>) -> Result<JsValue, JsValue> {
        let opened = self.call.run(async |response| self.first_chunk(response).await).await;
        match opened {
            Ok(metadata) => Ok(metadata),
            Err(error) => {
                self.call.signal.dispose();
                let mut reading = self.reading.borrow_mut();
                if matches!(reading.end, End::Open) {
                    reading.end = End::Failed(error.clone());
                }
                Err(error)
            }
        }
    }

    /// One attempt's answer, read until a chunk or the end arrived. A
    /// network failure before then is retryable: the app saw nothing.
    async fn first_chunk(&self, response: web_sys::Response) -> Result<JsValue, AttemptError> {
        let reader: ReadableStreamDefaultReader = match response.body() {
            Some(body) => body.get_reader().unchecked_into(),
            None => return Err(self.call.broken(JsValue::from_str("the answer had no body"))),
        };
        let metadata = metadata::read(&response.headers(), self.call.retries());
        {
            let mut reading = self.reading.borrow_mut();
            *reading = Reading::new();
            reading.reader = Some(reader.clone());
            reading.metadata = Some(metadata.clone());
        }
        loop {
            let chunk = JsFuture::from(reader.read()).await.map_err(|e| self.call.broken(e))?;
            let mut reading = self.reading.borrow_mut();
            match read_result(&chunk) {
                Some(bytes) => reading.push(&bytes),
                None => reading.closed(),
            }
            if !matches!(reading.end, End::Open) {
                self.call.signal.dispose();
            }
            if !reading.queue.is_empty() || !matches!(reading.end, End::Open) {
                return Ok(metadata.into());
            }
        }
    }

    async fn next_chunk(&self) -> Result<Option<JsValue>, JsValue> {
        loop {
            if let Some(chunk) = self.reading.borrow_mut().queue.pop_front() {
                return Ok(Some(chunk));
            }
            if !self.fill().await? {
                return Ok(None);
            }
        }
    }

    /// Reads once from the network into the queue. False when the stream is
    /// over; the stream's error when it failed.
    async fn fill(&self) -> Result<bool, JsValue> {
        let reader = {
            let reading = self.reading.borrow();
            match (&reading.end, &reading.reader) {
                (End::Failed(error), _) => return Err(error.clone()),
                (End::Done, _) | (End::Open, None) => return Ok(false),
                (End::Open, Some(reader)) => reader.clone(),
            }
        };
        let chunk = JsFuture::from(reader.read()).await;
        let mut reading = self.reading.borrow_mut();
        // Stopped while waiting: the stop decided the outcome.
        match &reading.end {
            End::Failed(error) => return Err(error.clone()),
            End::Done => return Ok(false),
            End::Open => {}
        }
        match chunk {
            Ok(chunk) => match read_result(&chunk) {
                Some(bytes) => reading.push(&bytes),
                None => reading.closed(),
            },
            Err(error) => {
                reading.end = End::Failed(match self.call.broken(error) {
                    AttemptError::Final(error) | AttemptError::Retryable(_, error) => error,
                });
            }
        }
        if !matches!(reading.end, End::Open) {
            self.call.signal.dispose();
        }
        if let End::Failed(error) = &reading.end {
            let error = error.clone();
            reading.queue.clear();
            return Err(error);
        }
        Ok(true)
    }

    fn stop(&self, with_error: bool) {
        {
            let mut reading = self.reading.borrow_mut();
            if !matches!(reading.end, End::Open) {
                return;
            }
            reading.queue.clear();
            reading.end = if with_error { End::Failed(ErrorInfo::aborted().into_js(&JsValue::UNDEFINED)) } else { End::Done };
        }
        self.call.signal.abort();
    }
}

/// The bytes of a `reader.read()` result, or None when the stream closed.
fn read_result(result: &JsValue) -> Option<Vec<u8>> {
    if js::field(result, "done").is_some_and(|done| done.is_truthy()) {
        return None;
    }
    Some(js::field(result, "value").map(|v| Uint8Array::new(&v).to_vec()).unwrap_or_default())
}
