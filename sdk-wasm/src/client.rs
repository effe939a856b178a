//! The client an app constructs, and the calls it makes.

use std::rc::Rc;

use js_sys::{Function, Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

use crate::auth::Auth;
use crate::call::{AttemptError, Call};
use crate::js;
use crate::metadata;
use crate::stream::ChatStream;
use crate::types;

/// What every call of one client shares.
pub struct ClientInner {
    /// The gateway's origin (or "" for the page's own), without `/v1`.
    pub base_url: String,
    pub auth: Auth,
    pub fetch: Function,
    pub max_retries: u32,
    pub timeout_ms: Option<f64>,
    pub headers: Vec<(String, String)>,
}

/// A client of one Edgeway gateway.
#[wasm_bindgen]
pub struct Client {
    inner: Rc<ClientInner>,
}

/// openai-node's defaults, so code moving between the two behaves alike.
const DEFAULT_MAX_RETRIES: u32 = 2;
const DEFAULT_TIMEOUT_MS: f64 = 600_000.0;

#[wasm_bindgen]
impl Client {
    /// Reads the options; throws a `TypeError` naming what is wrong.
    #[wasm_bindgen(constructor)]
    pub fn new(options: types::EdgewayOptions) -> Result<Client, JsValue> {
        let options: JsValue = options.into();
        let fail = |message: &str| JsValue::from(js_sys::TypeError::new(&format!("Edgeway: {message}")));
        let base_url = match js::field(&options, "baseUrl") {
            None => String::new(),
            Some(url) => url.as_string().ok_or_else(|| fail("baseUrl must be a string"))?,
        };
        let base_url = base_url.trim_end_matches('/');
        let base_url = base_url.strip_suffix("/v1").unwrap_or(base_url).to_owned();
        let auth = match (js::field(&options, "apiKey"), js::field(&options, "getToken")) {
            (Some(key), None) => Auth::Key(key.as_string().filter(|k| !k.is_empty()).ok_or_else(|| fail("apiKey must be a non-empty string"))?),
            (None, Some(get)) => Auth::tokens(get.dyn_into().map_err(|_| fail("getToken must be a function"))?),
            (Some(_), Some(_)) => return Err(fail("give apiKey or getToken, not both")),
            (None, None) => return Err(fail("give apiKey (a publishable key) or getToken (short-lived tokens)")),
        };
        let fetch = match js::field(&options, "fetch") {
            Some(fetch) => fetch.dyn_into().map_err(|_| fail("fetch must be a function"))?,
            None => Reflect::get(&js_sys::global(), &"fetch".into())?.dyn_into().map_err(|_| fail("this environment has no fetch"))?,
        };
        let count = |name: &str| js::number(&options, name).filter(|n| *n >= 0.0);
        Ok(Client {
            inner: Rc::new(ClientInner {
                base_url,
                auth,
                fetch,
                max_retries: count("maxRetries").map_or(DEFAULT_MAX_RETRIES, |n| n as u32),
                timeout_ms: Some(count("timeoutMs").unwrap_or(DEFAULT_TIMEOUT_MS)),
                headers: js::field(&options, "headers").map(|h| js::string_pairs(&h)).unwrap_or_default(),
            }),
        })
    }

    /// Sends a chat completion and resolves to the whole answer; its
    /// gateway metadata is on the non-enumerable `edgeway` property.
    pub fn chat(&self, request: types::ChatCompletionRequest, options: Option<types::CallOptions>) -> Result<types::CompletionPromise, JsValue> {
        let body = request_body(&request.into(), false)?;
        let call = Call::new(self.inner.clone(), "POST", "/v1/chat/completions", Some(body), &options.map_or(JsValue::UNDEFINED, Into::into));
        Ok(future_to_promise(async move {
            let answer = call.run(async |response| read_json(&call, response).await).await;
            call.signal.dispose();
            answer
        })
        .unchecked_into())
    }

    /// Starts a streamed chat completion. The network call starts at once;
    /// chunks are read as the app asks for them.
    pub fn stream(&self, request: types::ChatCompletionRequest, options: Option<types::CallOptions>) -> Result<ChatStream, JsValue> {
        let body = request_body(&request.into(), true)?;
        let call = Call::new(self.inner.clone(), "POST", "/v1/chat/completions", Some(body), &options.map_or(JsValue::UNDEFINED, Into::into));
        Ok(ChatStream::start(call))
    }

    /// Lists the models (routes) this client's key may use.
    pub fn models(&self, options: Option<types::CallOptions>) -> types::ModelListPromise {
        let call = Call::new(self.inner.clone(), "GET", "/v1/models", None, &options.map_or(JsValue::UNDEFINED, Into::into));
        future_to_promise(async move {
            let answer = call.run(async |response| read_json(&call, response).await).await;
            call.signal.dispose();
            answer
        })
        .unchecked_into()
    }
}

/// The request as JSON, with `stream` set as the method implies. A stream
/// asks for the usage chunk unless the app chose `stream_options` itself.
fn request_body(request: &JsValue, stream: bool) -> Result<String, JsValue> {
    if !request.is_object() {
        return Err(js_sys::TypeError::new("Edgeway: the request must be an object").into());
    }
    let body = Object::assign(&Object::new(), &Object::from(request.clone()));
    js::set(&body, "stream", stream);
    if stream && js::field(&body, "stream_options").is_none() {
        let stream_options = Object::new();
        js::set(&stream_options, "include_usage", true);
        js::set(&body, "stream_options", stream_options);
    }
    js_sys::JSON::stringify(&body)?.as_string().ok_or_else(|| js_sys::TypeError::new("Edgeway: the request is not JSON").into())
}

/// A whole JSON answer, with the gateway's metadata attached.
async fn read_json(call: &Call, response: web_sys::Response) -> Result<JsValue, AttemptError> {
    let pending = response.json().map_err(|e| call.broken(e))?;
    let body = JsFuture::from(pending).await.map_err(|e| call.broken(e))?;
    if body.is_object() {
        let descriptor = Object::new();
        js::set(&descriptor, "value", metadata::read(&response.headers(), call.retries()));
        Object::define_property(&Object::from(body.clone()), &"edgeway".into(), &descriptor);
    }
    Ok(body)
}
