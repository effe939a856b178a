//! The SDK's engine in a real browser (headless Chromium) against the
//! gateway running in workerd. tests/sdk/browser.test.mjs runs these: it
//! starts the gateway, creates the gateway keys, and serves them from a
//! small "app backend" that also mints short-lived tokens, as an app's own
//! backend would. Each test asserts what an app sees: answers, chunks as
//! they arrive, error codes, and (through a recording `fetch`) the attempts
//! the SDK made.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::cell::RefCell;
use std::rc::Rc;

use edgeway_sdk::{ChatStream, Client};
use js_sys::{Array, Date, Function, Object, Promise, Reflect, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Set by the harness: the app backend's URL.
const BACKEND: Option<&str> = option_env!("EDGEWAY_SDK_TEST_BACKEND");

struct Setup {
    backend: String,
    gateway: String,
    key: String,
    limited_keys: Vec<String>,
    broke_key: String,
}

async fn setup() -> Setup {
    let backend = BACKEND.expect("run these through `make test` (tests/sdk/browser.test.mjs), which starts the gateway");
    let config = get_json(&format!("{backend}/config")).await;
    let text = |name: &str| get(&config, name).as_string().unwrap();
    Setup {
        backend: backend.to_owned(),
        gateway: text("gateway"),
        key: text("key"),
        limited_keys: Array::from(&get(&config, "limitedKeys")).iter().map(|k| k.as_string().unwrap()).collect(),
        broke_key: text("brokeKey"),
    }
}

fn global_fetch() -> Function {
    Reflect::get(&js_sys::global(), &"fetch".into()).unwrap().into()
}

async fn get_json(url: &str) -> JsValue {
    let response: web_sys::Response = JsFuture::from(Promise::from(global_fetch().call1(&JsValue::UNDEFINED, &url.into()).unwrap()))
        .await
        .unwrap()
        .into();
    JsFuture::from(response.json().unwrap()).await.unwrap()
}

async fn get_text(url: &str) -> String {
    let response: web_sys::Response = JsFuture::from(Promise::from(global_fetch().call1(&JsValue::UNDEFINED, &url.into()).unwrap()))
        .await
        .unwrap()
        .into();
    JsFuture::from(response.text().unwrap()).await.unwrap().as_string().unwrap()
}

fn get(value: &JsValue, name: &str) -> JsValue {
    Reflect::get(value, &name.into()).unwrap()
}

/// `value?.a?.b?.c`, with numeric segments indexing arrays.
fn path(value: &JsValue, segments: &[&str]) -> JsValue {
    segments.iter().fold(value.clone(), |at, segment| if at.is_object() { get(&at, segment) } else { JsValue::UNDEFINED })
}

fn object(fields: &[(&str, JsValue)]) -> JsValue {
    let object = Object::new();
    for (name, value) in fields {
        Reflect::set(&object, &(*name).into(), value).unwrap();
    }
    object.into()
}

fn request(model: &str, text: &str) -> JsValue {
    JSON::parse(&format!(r#"{{"model":"{model}","messages":[{{"role":"user","content":"{text}"}}]}}"#)).unwrap()
}

fn client(setup: &Setup, key: &str, extra: &[(&str, JsValue)]) -> Client {
    let mut fields = vec![("baseUrl", JsValue::from(setup.gateway.as_str())), ("apiKey", key.into())];
    fields.extend(extra.iter().cloned());
    Client::new(object(&fields).unchecked_into()).unwrap()
}

fn no_retries() -> (&'static str, JsValue) {
    ("maxRetries", 0.into())
}

async fn chat(client: &Client, request: JsValue, options: Option<JsValue>) -> Result<JsValue, JsValue> {
    JsFuture::from(Promise::from(JsValue::from(client.chat(request.unchecked_into(), options.map(JsCast::unchecked_into)).unwrap()))).await
}

fn stream(client: &Client, request: JsValue, options: Option<JsValue>) -> ChatStream {
    client.stream(request.unchecked_into(), options.map(JsCast::unchecked_into)).unwrap()
}

/// The next chunk's text delta, `Ok(None)` at the end of the stream.
async fn next_text(stream: &ChatStream) -> Result<Option<String>, JsValue> {
    let result = JsFuture::from(stream.next()).await?;
    if get(&result, "done").is_truthy() {
        return Ok(None);
    }
    Ok(Some(path(&result, &["value", "choices", "0", "delta", "content"]).as_string().unwrap_or_default()))
}

/// Reads a stream that must fail: the chunks that came first, and the error.
async fn read_until_error(stream: &ChatStream) -> (usize, JsValue) {
    let mut chunks = 0;
    loop {
        match next_text(stream).await {
            Ok(Some(_)) => chunks += 1,
            Ok(None) => panic!("the stream ended cleanly"),
            Err(error) => return (chunks, error),
        }
    }
}

fn content(completion: &JsValue) -> String {
    path(completion, &["choices", "0", "message", "content"]).as_string().unwrap()
}

/// Asserts an `EdgewayError` with `code`; returns it.
fn expect_code(result: Result<JsValue, JsValue>, code: &str) -> JsValue {
    let error = match result {
        Ok(answer) => panic!("expected {code}, got an answer: {:?}", JSON::stringify(&answer)),
        Err(error) => error,
    };
    assert!(error.is_instance_of::<js_sys::Error>(), "not an Error: {error:?}");
    assert_eq!(get(&error, "name").as_string().as_deref(), Some("EdgewayError"));
    assert_eq!(get(&error, "code").as_string().as_deref(), Some(code), "{:?}", get(&error, "message"));
    error
}

/// One request the SDK sent, as a recording `fetch` saw it.
#[derive(Debug, Clone)]
struct Attempt {
    at_ms: f64,
    authorization: String,
    idempotency_key: String,
}

/// A `fetch` that notes every request, then sends it with the real one.
fn recording_fetch() -> (JsValue, Rc<RefCell<Vec<Attempt>>>) {
    let attempts = Rc::new(RefCell::new(Vec::new()));
    let seen = attempts.clone();
    let real = global_fetch();
    let fetch = Closure::<dyn FnMut(JsValue, JsValue) -> JsValue>::new(move |url: JsValue, init: JsValue| {
        let headers: web_sys::Headers = get(&init, "headers").unchecked_into();
        let header = |name: &str| headers.get(name).unwrap().unwrap_or_default();
        seen.borrow_mut().push(Attempt {
            at_ms: Date::now(),
            authorization: header("authorization"),
            idempotency_key: header("x-edgeway-idempotency-key"),
        });
        real.call2(&JsValue::UNDEFINED, &url, &init).unwrap()
    });
    (fetch.into_js_value(), attempts)
}

fn gaps(attempts: &[Attempt]) -> Vec<f64> {
    attempts.windows(2).map(|pair| pair[1].at_ms - pair[0].at_ms).collect()
}

#[wasm_bindgen_test]
async fn chat_resolves_to_the_answer_with_the_gateways_metadata() {
    let setup = setup().await;
    let client = client(&setup, &setup.key, &[]);
    let answer = chat(&client, request("demo", "hello from the browser"), None).await.unwrap();
    assert_eq!(content(&answer), "You said: hello from the browser");
    assert_eq!(get(&answer, "object").as_string().as_deref(), Some("chat.completion"));
    let metadata = get(&answer, "edgeway");
    assert!(get(&metadata, "requestId").as_string().unwrap().starts_with("req_"));
    assert_eq!(get(&metadata, "route").as_string().as_deref(), Some("demo"));
    assert_eq!(get(&metadata, "provider").as_string().as_deref(), Some("demo"));
    assert_eq!(get(&metadata, "attempts").as_f64(), Some(1.0));
    assert_eq!(get(&metadata, "retries").as_f64(), Some(0.0));
    assert!(get(&metadata, "costUsd").as_f64().unwrap() > 0.0);
    // The metadata rides along without changing the answer's JSON.
    let keys: Vec<String> = Object::keys(&Object::from(answer.clone())).iter().filter_map(|k| k.as_string()).collect();
    assert!(!keys.iter().any(|k| k == "edgeway"), "{keys:?}");
}

#[wasm_bindgen_test]
async fn the_metadata_tells_the_tier_and_the_guardrails() {
    let setup = setup().await;
    let client = client(&setup, &setup.key, &[]);
    let tiered = chat(&client, request("demo-auto", "hi"), None).await.unwrap();
    let metadata = get(&tiered, "edgeway");
    assert_eq!(get(&metadata, "tier").as_string().as_deref(), Some("small"));
    assert!(get(&metadata, "tierReason").as_string().unwrap().starts_with("score "));
    let guarded = chat(&client, request("demo-guarded", "write to ada@example.com"), None).await.unwrap();
    let guardrails = get(&get(&guarded, "edgeway"), "guardrails").as_string().unwrap();
    assert!(guardrails.contains("flagged=input:email"), "{guardrails}");
}

#[wasm_bindgen_test]
async fn a_stream_delivers_each_chunk_as_it_arrives() {
    let setup = setup().await;
    let client = client(&setup, &setup.key, &[]);
    let words = "one two three four five six seven eight nine ten eleven twelve";
    let stream = stream(&client, request("demo", words), None);
    let mut text = String::new();
    let mut arrivals = Vec::new();
    while let Some(delta) = next_text(&stream).await.unwrap() {
        arrivals.push(Date::now());
        text.push_str(&delta);
    }
    assert_eq!(text, format!("You said: {words}"));
    // The demo sends a word every 20 ms: the chunks reach the app spread
    // over that time, not in one batch at the end.
    let span = arrivals.last().unwrap() - arrivals.first().unwrap();
    assert!(span >= 150.0, "{} chunks arrived within {span} ms", arrivals.len());
    let mut distinct = arrivals.clone();
    distinct.dedup();
    assert!(distinct.len() >= 10, "only {} distinct arrival times for {} chunks", distinct.len(), arrivals.len());
    let metadata = JsFuture::from(Promise::from(JsValue::from(stream.metadata()))).await.unwrap();
    assert_eq!(get(&metadata, "route").as_string().as_deref(), Some("demo"));
}

#[wasm_bindgen_test]
async fn aborting_the_callers_signal_stops_a_stream_mid_way() {
    let setup = setup().await;
    let client = client(&setup, &setup.key, &[]);
    let controller = web_sys::AbortController::new().unwrap();
    let stream = stream(&client, request("demo-story", "a long one"), Some(object(&[("signal", controller.signal().into())])));
    for _ in 0..3 {
        next_text(&stream).await.unwrap().expect("a chunk before the abort");
    }
    controller.abort();
    expect_code(next_text(&stream).await.map(|_| JsValue::NULL), "aborted");
    // Nothing more comes: later reads keep failing the same way.
    expect_code(next_text(&stream).await.map(|_| JsValue::NULL), "aborted");
}

#[wasm_bindgen_test]
async fn abort_on_the_stream_itself_rejects_pending_reads() {
    let setup = setup().await;
    let client = client(&setup, &setup.key, &[]);
    let stream = stream(&client, request("demo-story", "another long one"), None);
    next_text(&stream).await.unwrap().expect("a first chunk");
    let pending = stream.next();
    stream.abort();
    expect_code(JsFuture::from(pending).await, "aborted");
}

#[wasm_bindgen_test]
async fn a_call_whose_signal_already_fired_sends_nothing() {
    let setup = setup().await;
    let (fetch, attempts) = recording_fetch();
    let client = client(&setup, &setup.key, &[("fetch", fetch)]);
    let controller = web_sys::AbortController::new().unwrap();
    controller.abort();
    expect_code(chat(&client, request("demo", "never sent"), Some(object(&[("signal", controller.signal().into())]))).await, "aborted");
    // The fetch was handed an aborted signal and refused at once.
    assert!(attempts.borrow().len() <= 1);
}

#[wasm_bindgen_test]
async fn timeouts_reject_a_slow_answer_and_a_stalled_stream() {
    let setup = setup().await;
    let client = client(&setup, &setup.key, &[]);
    let started = Date::now();
    let error = expect_code(chat(&client, request("demo-slow", "slow"), Some(object(&[("timeoutMs", 300.into())]))).await, "timeout");
    assert!(get(&error, "message").as_string().unwrap().contains("300 ms"));
    // The demo waits 1.5 s before answering; the call did not.
    assert!(Date::now() - started < 1_400.0);

    let stream = stream(&client, request("demo-stall", "stall"), Some(object(&[("timeoutMs", 800.into())])));
    let (chunks, error) = read_until_error(&stream).await;
    assert!(chunks >= 1, "the words before the stall arrived");
    expect_code(Err(error), "timeout");
}

#[wasm_bindgen_test]
async fn a_429_is_retried_after_its_retry_after_with_the_same_idempotency_key() {
    let setup = setup().await;
    let (fetch, attempts) = recording_fetch();
    // One request per 2 s: the second call is refused with Retry-After.
    let client = client(&setup, &setup.limited_keys[0], &[("fetch", fetch)]);
    chat(&client, request("demo", "first"), None).await.unwrap();
    let answer = chat(&client, request("demo", "second"), None).await.unwrap();
    assert_eq!(content(&answer), "You said: second");
    let attempts = attempts.borrow();
    assert_eq!(attempts.len(), 3, "{attempts:?}");
    let waited = gaps(&attempts)[1];
    assert!(waited >= 1_000.0, "retried {waited} ms after a 429 that said Retry-After");
    assert_eq!(attempts[1].idempotency_key, attempts[2].idempotency_key);
    assert_ne!(attempts[0].idempotency_key, attempts[1].idempotency_key, "each call has its own key");
    assert_eq!(get(&get(&answer, "edgeway"), "retries").as_f64(), Some(1.0));
}

#[wasm_bindgen_test]
async fn status_503_is_retried_with_backoff_until_the_call_gets_through() {
    let setup = setup().await;
    let (fetch, attempts) = recording_fetch();
    let client = client(&setup, &setup.key, &[("fetch", fetch)]);
    // demo-flaky answers 503 twice per idempotency key, and the gateway
    // itself does not retry it: the SDK's two default retries get through.
    let answer = chat(&client, request("demo-flaky", "eventually"), None).await.unwrap();
    assert_eq!(content(&answer), "You said: eventually");
    let attempts = attempts.borrow();
    assert_eq!(attempts.len(), 3, "{attempts:?}");
    assert!(attempts.iter().all(|a| a.idempotency_key == attempts[0].idempotency_key));
    // Full jitter: up to 500 ms before the first retry, up to 1 s before
    // the second (plus the time a request takes).
    let gaps = gaps(&attempts);
    assert!(gaps[0] <= 500.0 + 1_000.0 && gaps[1] <= 1_000.0 + 1_000.0, "{gaps:?}");
    assert_eq!(get(&get(&answer, "edgeway"), "retries").as_f64(), Some(2.0));
}

#[wasm_bindgen_test]
async fn a_stream_is_retried_before_its_first_chunk_and_never_after() {
    let setup = setup().await;
    let (fetch, attempts) = recording_fetch();
    let client = client(&setup, &setup.key, &[("fetch", fetch)]);
    let flaky = stream(&client, request("demo-flaky", "streamed eventually"), None);
    let mut text = String::new();
    while let Some(delta) = next_text(&flaky).await.unwrap() {
        text.push_str(&delta);
    }
    assert_eq!(text, "You said: streamed eventually");
    assert_eq!(attempts.borrow().len(), 3, "two 503s before the stream started, then the answer");

    // Dropped after three words: the app has seen part of the answer, so
    // the SDK reports the failure instead of sending the call again.
    let dropped = stream(&client, request("demo-drop", "cut short"), None);
    let (_, error) = read_until_error(&dropped).await;
    expect_code(Err(error), "stream_interrupted");
    assert_eq!(attempts.borrow().len(), 4);
}

#[wasm_bindgen_test]
async fn x_should_retry_false_is_honoured_even_on_a_429() {
    let setup = setup().await;
    let (fetch, attempts) = recording_fetch();
    let client = client(&setup, &setup.broke_key, &[("fetch", fetch)]);
    chat(&client, request("demo", "spend the budget"), None).await.unwrap();
    // Counted from here: what the first call took (a retried network
    // hiccup, say) is not what this test is about.
    let before = attempts.borrow().len();
    let error = expect_code(chat(&client, request("demo", "and more"), None).await, "insufficient_quota");
    assert_eq!(get(&error, "status").as_f64(), Some(429.0));
    assert_eq!(attempts.borrow().len() - before, 1, "the refused call was sent once, not retried");
}

#[wasm_bindgen_test]
async fn a_400_is_not_retried_and_keeps_the_gateways_code() {
    let setup = setup().await;
    let (fetch, attempts) = recording_fetch();
    let client = client(&setup, &setup.key, &[("fetch", fetch)]);
    let bad = JSON::parse(r#"{"model":"demo","messages":"not a list"}"#).unwrap();
    let error = expect_code(chat(&client, bad, None).await, "invalid_request");
    assert_eq!(get(&error, "status").as_f64(), Some(400.0));
    assert_eq!(get(&error, "type").as_string().as_deref(), Some("invalid_request_error"));
    assert!(get(&error, "requestId").as_string().unwrap().starts_with("req_"));
    assert_eq!(attempts.borrow().len(), 1);
}

#[wasm_bindgen_test]
async fn gateway_errors_arrive_with_their_codes() {
    let setup = setup().await;
    let quick = client(&setup, &setup.key, &[no_retries()]);
    let error = expect_code(chat(&quick, request("no-such-route", "hi"), None).await, "model_not_found");
    assert_eq!(get(&error, "status").as_f64(), Some(404.0));
    let error = expect_code(chat(&quick, request("demo-fail", "hi"), None).await, "upstream_error");
    assert_eq!(get(&error, "status").as_f64(), Some(502.0));

    // A rate limit with retries off: the wait it asked for is on the error.
    let limited = client(&setup, &setup.limited_keys[1], &[no_retries()]);
    let mut outcome = chat(&limited, request("demo", "one"), None).await;
    if outcome.is_ok() {
        outcome = chat(&limited, request("demo", "two"), None).await;
    }
    let error = expect_code(outcome, "rate_limit_exceeded");
    assert_eq!(get(&error, "status").as_f64(), Some(429.0));
    assert!(get(&error, "retryAfterMs").as_f64().unwrap() >= 1_000.0);
}

#[wasm_bindgen_test]
async fn an_unreachable_gateway_is_a_network_error_after_the_retries() {
    let (fetch, attempts) = recording_fetch();
    let options = object(&[("baseUrl", "http://127.0.0.1:9".into()), ("apiKey", "ew_pk_nothing".into()), ("maxRetries", 1.into()), ("fetch", fetch)]);
    let client = Client::new(options.unchecked_into()).unwrap();
    expect_code(chat(&client, request("demo", "anyone?"), None).await, "network");
    assert_eq!(attempts.borrow().len(), 2);
}

#[wasm_bindgen_test]
async fn an_expired_token_is_replaced_through_get_token_and_the_call_goes_through() {
    let setup = setup().await;
    let (fetch, attempts) = recording_fetch();
    let asked = Rc::new(RefCell::new(0));
    let counter = asked.clone();
    let backend = setup.backend.clone();
    // The app's getToken: the first token it hands out has already expired.
    let get_token = Closure::<dyn FnMut() -> Promise>::new(move || {
        *counter.borrow_mut() += 1;
        let url = format!("{backend}/token{}", if *counter.borrow() == 1 { "?expired=1" } else { "" });
        wasm_bindgen_futures::future_to_promise(async move { Ok(get_text(&url).await.into()) })
    });
    let options = object(&[("baseUrl", setup.gateway.as_str().into()), ("getToken", get_token.into_js_value()), ("fetch", fetch)]);
    let client = Client::new(options.unchecked_into()).unwrap();
    let answer = chat(&client, request("demo", "with a token"), None).await.unwrap();
    assert_eq!(content(&answer), "You said: with a token");
    assert_eq!(*asked.borrow(), 2);
    {
        let attempts = attempts.borrow();
        assert_eq!(attempts.len(), 2);
        assert_ne!(attempts[0].authorization, attempts[1].authorization);
    }
    // A refresh is not a retry.
    assert_eq!(get(&get(&answer, "edgeway"), "retries").as_f64(), Some(0.0));
    // The next call reuses the fresh token without asking again.
    chat(&client, request("demo", "again"), None).await.unwrap();
    assert_eq!(*asked.borrow(), 2);
}

#[wasm_bindgen_test]
fn bad_options_throw_a_type_error_naming_the_problem() {
    let missing = Client::new(object(&[("baseUrl", "http://127.0.0.1:1".into())]).unchecked_into());
    let error = missing.err().expect("no credential");
    assert!(error.is_instance_of::<js_sys::TypeError>());
    assert!(get(&error, "message").as_string().unwrap().contains("apiKey"));
}
