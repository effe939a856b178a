//! Where a finished request's record goes: one JSON line on the console
//! (Workers Logs), printed as the response is handed back, and the log
//! queue, whose consumer stores it in D1, sent after the response
//! (`wait_until`). A queue that cannot take the record costs the dashboard
//! one row, never the caller an answer.

use edgeway_core::json::quote;
use edgeway_core::log::RequestLog;
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use worker::Env;

/// Prints `log`, and enqueues it when it is an API request (the admin
/// API's own calls, such as the dashboard's polling, are not the traffic
/// operators want to read about).
pub async fn write(env: &Env, log: &RequestLog) {
    if let Some(queued) = print(env, log) {
        queued.send().await;
    }
}

/// Prints `log`'s line, and returns it when it must also go on the queue.
/// Printing is synchronous: a request with nothing else to do after its
/// response needs no background task at all.
pub fn print(env: &Env, log: &RequestLog) -> Option<Queued> {
    let line = log.to_json_line();
    web_sys::console::log_1(&line.as_str().into());
    if !log.path.starts_with("/v1/") {
        return None;
    }
    let queue = queue(env)?;
    Some(Queued { queue, line, request_id: log.request_id.clone() })
}

/// A printed record still to be sent to the log queue.
pub struct Queued {
    queue: JsValue,
    line: String,
    request_id: String,
}

impl Queued {
    /// Sends the record; a failure is reported on the console.
    pub async fn send(self) {
        if let Err(error) = enqueue(&self.queue, &self.line).await {
            let reason = Reflect::get(&error, &"message".into()).ok().and_then(|m| m.as_string()).unwrap_or_default();
            worker::console_error!("{{\"event\":\"log_queue_failed\",\"request_id\":{},\"error\":{}}}", quote(&self.request_id), quote(&reason));
        }
    }
}

thread_local! {
    /// The `LOG_QUEUE` binding, looked up on the first request: bindings
    /// are the same for every request an isolate serves.
    static QUEUE: std::cell::OnceCell<Option<JsValue>> = const { std::cell::OnceCell::new() };
}

/// The `LOG_QUEUE` binding. A deployment without it (README, "Deploy") is
/// told once per isolate, not on every request.
fn queue(env: &Env) -> Option<JsValue> {
    QUEUE.with(|queue| {
        queue
            .get_or_init(|| {
                let queue = Reflect::get(env.as_ref(), &"LOG_QUEUE".into()).ok().filter(|q| q.is_object());
                if queue.is_none() {
                    worker::console_error!("{{\"event\":\"log_queue_missing\",\"error\":\"no LOG_QUEUE binding: request logs reach the console only\"}}");
                }
                queue
            })
            .clone()
    })
}

/// `queue.send(line)`, called directly: the line is already JSON text, so
/// the binding's serde layer would only add wasm.
async fn enqueue(queue: &JsValue, line: &str) -> Result<(), JsValue> {
    let send: Function = Reflect::get(queue, &"send".into())?.dyn_into()?;
    crate::promise::settled(&Promise::from(send.call1(queue, &line.into())?)).await.map(|_| ())
}
