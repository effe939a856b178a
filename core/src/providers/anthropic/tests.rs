//! Anthropic adapter tests, against fixtures in Anthropic's wire format
//! (`core/tests/fixtures/anthropic/`, written from its API reference).

use super::*;
use crate::openai::parse_chat_request;
use crate::sse::{SseEvent, SseParser};

const TEXT_RESPONSE: &str = include_str!("../../../tests/fixtures/anthropic/text_response.json");
const TOOL_USE_RESPONSE: &str = include_str!("../../../tests/fixtures/anthropic/tool_use_response.json");
const TEXT_STREAM: &str = include_str!("../../../tests/fixtures/anthropic/text_stream.sse");
const TOOL_USE_STREAM: &str = include_str!("../../../tests/fixtures/anthropic/tool_use_stream.sse");
const ERROR_STREAM: &str = include_str!("../../../tests/fixtures/anthropic/error_stream.sse");
const ERROR_OVERLOADED: &str = include_str!("../../../tests/fixtures/anthropic/error_overloaded.json");
const ERROR_AUTH: &str = include_str!("../../../tests/fixtures/anthropic/error_auth.json");
const ERROR_TOO_LONG: &str = include_str!("../../../tests/fixtures/anthropic/error_prompt_too_long.json");

fn reply() -> ReplyContext {
    ReplyContext { created: 1_700_000_000, model: "claude-target".into() }
}

fn translate(json: &str) -> (Value, UpstreamRequest) {
    let request = parse_chat_request(json.as_bytes()).unwrap();
    let upstream = chat_request("https://api.anthropic.com/v1", Some("sk-ant-test-123456"), "claude-sonnet-4-5", &request, "anthropic/claude-sonnet-4-5").unwrap();
    (crate::json::from_str(&upstream.body).unwrap(), upstream)
}

fn refusal(json: &str) -> GatewayError {
    let request = parse_chat_request(json.as_bytes()).unwrap();
    chat_request("https://x/v1", None, "claude", &request, "anthropic/claude").unwrap_err()
}

/// Runs a whole SSE text through the parser and translator, split at `cuts`.
fn run_stream(text: &str, cuts: &[usize]) -> Result<Vec<Value>, String> {
    let bytes = text.as_bytes();
    let mut parser = SseParser::new();
    let mut translator = StreamTranslator::new(reply());
    let mut out = Vec::new();
    let mut events: Vec<SseEvent> = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain([&bytes.len()]) {
        parser.push(&bytes[start..cut], &mut events).unwrap();
        start = cut;
    }
    for event in events {
        translator.on_event(&event.data, &mut out)?;
    }
    Ok(out.iter().map(|data| if data == "[DONE]" { Value::String(data.clone()) } else { crate::json::from_str(data).unwrap() }).collect())
}

#[test]
fn system_prompts_are_lifted_and_consecutive_turns_merged() {
    let (body, upstream) = translate(
        r#"{"model":"m","messages":[
            {"role":"system","content":"Be brief."},
            {"role":"developer","content":"Answer in English."},
            {"role":"user","content":"Hello"},
            {"role":"user","content":[{"type":"text","text":"there"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]},
            {"role":"assistant","content":"Hi!"}
        ],"stop":["END","  "],"temperature":0.5,"top_p":0.9,"user":"u-42"}"#,
    );
    assert_eq!(upstream.url, "https://api.anthropic.com/v1/messages");
    assert!(upstream.headers.contains(&("x-api-key", "sk-ant-test-123456".to_owned())));
    assert!(upstream.headers.contains(&("anthropic-version", "2023-06-01".to_owned())));
    assert!(upstream.headers.iter().all(|(name, _)| *name != "authorization"));
    assert_eq!(body["system"], "Be brief.\n\nAnswer in English.");
    assert_eq!(body["max_tokens"], DEFAULT_MAX_TOKENS);
    assert_eq!(body["stop_sequences"], json!(["END"]));
    assert_eq!(body["metadata"]["user_id"], "u-42");
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "the two user messages merge into one turn");
    assert_eq!(messages[0]["role"], "user");
    assert_eq!(
        messages[0]["content"],
        json!([
            {"type":"text","text":"Hello"},
            {"type":"text","text":"there"},
            {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}
        ])
    );
    assert_eq!(messages[1], json!({"role":"assistant","content":[{"type":"text","text":"Hi!"}]}));
    assert!(upstream.warnings.is_empty());
}

#[test]
fn tool_calls_and_results_become_tool_use_and_tool_result_blocks() {
    let (body, _) = translate(
        r#"{"model":"m","max_tokens":300,"messages":[
            {"role":"user","content":"Weather in Paris and Rome?"},
            {"role":"assistant","content":null,"tool_calls":[
                {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
                {"id":"call_2","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},
            {"role":"tool","tool_call_id":"call_1","content":"18C"},
            {"role":"tool","tool_call_id":"call_2","content":"24C"}
        ],"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather by city","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],
        "tool_choice":{"type":"function","function":{"name":"get_weather"}},"parallel_tool_calls":false}"#,
    );
    assert_eq!(body["max_tokens"], 300);
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[1]["content"][0], json!({"type":"tool_use","id":"call_1","name":"get_weather","input":{"city":"Paris"}}));
    assert_eq!(messages[1]["content"][1]["id"], "call_2");
    assert_eq!(
        messages[2],
        json!({"role":"user","content":[
            {"type":"tool_result","tool_use_id":"call_1","content":"18C"},
            {"type":"tool_result","tool_use_id":"call_2","content":"24C"}]})
    );
    assert_eq!(body["tools"], json!([{"name":"get_weather","description":"Weather by city","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}]));
    assert_eq!(body["tool_choice"], json!({"type":"tool","name":"get_weather","disable_parallel_tool_use":true}));
}

#[test]
fn tool_choice_modes_map_to_anthropic_types() {
    let tools = r#""tools":[{"type":"function","function":{"name":"f"}}]"#;
    for (mode, expected) in [("auto", json!({"type":"auto"})), ("required", json!({"type":"any"})), ("none", json!({"type":"none"}))] {
        let (body, _) = translate(&format!(r#"{{"model":"m","messages":[{{"role":"user","content":"x"}}],{tools},"tool_choice":"{mode}"}}"#));
        assert_eq!(body["tool_choice"], expected, "{mode}");
        assert_eq!(body["tools"][0]["input_schema"], json!({"type":"object","properties":{}}));
    }
    let (body, _) = translate(&format!(r#"{{"model":"m","messages":[{{"role":"user","content":"x"}}],{tools}}}"#));
    assert!(body.get("tool_choice").is_none());
}

#[test]
fn harmless_fields_are_dropped_with_warnings_and_temperature_is_clamped() {
    let (body, upstream) = translate(r#"{"model":"m","messages":[{"role":"user","content":"x"}],"seed":7,"temperature":1.6,"logit_bias":{},"stream":true}"#);
    assert_eq!(body["temperature"], 1.0);
    assert_eq!(body["stream"], true);
    assert!(body.get("seed").is_none() && body.get("logit_bias").is_none());
    assert_eq!(upstream.warnings.len(), 3, "{:?}", upstream.warnings);
    assert!(upstream.warnings.iter().any(|w| w.starts_with("seed is not supported by anthropic/claude-sonnet-4-5")));
    assert!(upstream.warnings.iter().any(|w| w.starts_with("temperature 1.6 was lowered")));
}

#[test]
fn fields_whose_answer_would_be_wrong_are_refused_by_name() {
    let base = r#""model":"m","messages":[{"role":"user","content":"x"}]"#;
    assert_eq!(refusal(&format!(r#"{{{base},"n":2}}"#)).param(), Some("n"));
    assert_eq!(refusal(&format!(r#"{{{base},"response_format":{{"type":"json_object"}}}}"#)).param(), Some("response_format"));
    assert_eq!(refusal(&format!(r#"{{{base},"logprobs":true}}"#)).param(), Some("logprobs"));
    let audio = refusal(r#"{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAA","format":"wav"}}]}]}"#);
    assert_eq!((audio.status(), audio.param()), (400, Some("messages[0].content[0]")));
    assert!(audio.to_string().contains("anthropic/claude"));
}

#[test]
fn image_urls_are_sent_as_url_sources() {
    let (body, _) = translate(r#"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/cat.jpg"}}]}]}"#);
    assert_eq!(body["messages"][0]["content"][0], json!({"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}}));
}

#[test]
fn a_text_answer_becomes_a_chat_completion_with_cached_usage() {
    let done = completion("anthropic", TEXT_RESPONSE.as_bytes(), &reply()).unwrap();
    let body: Value = serde_json::from_slice(&done.body).unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["id"], "msg_013Zva2CMHLNnXjNJJKqJ2EF");
    assert_eq!(body["created"], 1_700_000_000);
    assert_eq!(body["model"], "claude-sonnet-4-5-20250929");
    assert_eq!(body["choices"][0]["message"], json!({"role":"assistant","content":"Hi! My name is Claude."}));
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    // 2095 uncached + 1800 read from the cache.
    assert_eq!(body["usage"], json!({"prompt_tokens":3895,"completion_tokens":503,"total_tokens":4398,"prompt_tokens_details":{"cached_tokens":1800}}));
    assert_eq!(done.usage, Some(Usage::new(3895, 503).with_cached(1800)));
}

#[test]
fn a_tool_use_answer_becomes_tool_calls() {
    let done = completion("anthropic", TOOL_USE_RESPONSE.as_bytes(), &reply()).unwrap();
    let body: Value = serde_json::from_slice(&done.body).unwrap();
    let message = &body["choices"][0]["message"];
    assert_eq!(message["content"], "I'll check the current weather in San Francisco for you.");
    assert_eq!(message["tool_calls"][0]["id"], "toolu_01A09q90qw90lq917835lq9");
    assert_eq!(message["tool_calls"][0]["type"], "function");
    assert_eq!(message["tool_calls"][0]["function"]["name"], "get_weather");
    let args: Value = crate::json::from_str(message["tool_calls"][0]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"location":"San Francisco, CA","unit":"celsius"}));
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
}

#[test]
fn a_malformed_answer_is_an_upstream_error() {
    assert_eq!(completion("anthropic", b"{\"id\":", &reply()).unwrap_err().code(), "upstream_error");
    assert_eq!(completion("anthropic", b"{\"type\":\"message\"}", &reply()).unwrap_err().code(), "upstream_error");
}

#[test]
fn a_text_stream_becomes_openai_chunks() {
    let out = run_stream(TEXT_STREAM, &[]).unwrap();
    assert_eq!(out.len(), 6, "{out:#?}");
    for chunk in &out[..5] {
        assert_eq!(chunk["id"], "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY");
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["model"], "claude-sonnet-4-5-20250929");
    }
    assert_eq!(out[0]["choices"][0]["delta"], json!({"role":"assistant","content":""}));
    assert_eq!(out[1]["choices"][0]["delta"], json!({"content":"Hello"}));
    assert_eq!(out[2]["choices"][0]["delta"], json!({"content":"!"}));
    assert_eq!(out[3]["choices"][0]["delta"], json!({}));
    assert_eq!(out[3]["choices"][0]["finish_reason"], "stop");
    assert_eq!(out[4]["choices"], json!([]));
    assert_eq!(out[4]["usage"], json!({"prompt_tokens":25,"completion_tokens":15,"total_tokens":40}));
    assert_eq!(out[5], "[DONE]");
}

#[test]
fn a_tool_use_stream_becomes_tool_call_deltas() {
    let out = run_stream(TOOL_USE_STREAM, &[]).unwrap();
    let deltas: Vec<&Value> = out.iter().filter_map(|c| c.get("choices").and_then(|ch| ch.get(0)).map(|ch| &ch["delta"])).collect();
    assert_eq!(deltas[1], &json!({"content":"Okay, let's check the weather."}));
    assert_eq!(deltas[2], &json!({"tool_calls":[{"index":0,"id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","type":"function","function":{"name":"get_weather","arguments":""}}]}));
    let arguments: String = deltas[3..]
        .iter()
        .filter_map(|d| d.pointer("/tool_calls/0/function/arguments").and_then(Value::as_str))
        .collect();
    assert_eq!(crate::json::from_str::<Value>(&arguments).unwrap(), json!({"location":"San Francisco, CA"}));
    let finish = out.iter().find_map(|c| c.pointer("/choices/0/finish_reason").and_then(Value::as_str)).unwrap();
    assert_eq!(finish, "tool_calls");
    assert_eq!(out[out.len() - 2]["usage"]["completion_tokens"], 89);
}

#[test]
fn an_error_event_stops_the_stream_with_its_message() {
    let err = run_stream(ERROR_STREAM, &[]).unwrap_err();
    assert!(err.contains("overloaded_error: Overloaded"), "{err}");
}

#[test]
fn error_bodies_are_read() {
    let overloaded = error_details(ERROR_OVERLOADED.as_bytes());
    assert_eq!(overloaded.message.as_deref(), Some("Overloaded"));
    assert!(!overloaded.bad_credentials);
    assert!(error_details(ERROR_AUTH.as_bytes()).bad_credentials);
    assert_eq!(error_details(ERROR_TOO_LONG.as_bytes()).code.as_deref(), Some("context_length_exceeded"));
    assert_eq!(error_details(b"<html>"), ErrorDetails::default());
}

#[test]
fn overloaded_is_retried_and_bad_keys_are_misconfiguration() {
    use crate::config::ProviderKind;
    use crate::providers::{error_from_status, KeyInfo};
    use crate::reliability::outcome::{classify, AttemptFailure, Verdict};
    let failure = error_from_status(ProviderKind::Anthropic, "anthropic", KeyInfo::default(), 529, ERROR_OVERLOADED.as_bytes());
    assert_eq!(failure.error.code(), "upstream_error");
    assert_eq!(classify(&AttemptFailure::Status { status: 529, error_code: failure.error_code }), Verdict::RetrySameTarget);
    let auth = error_from_status(ProviderKind::Anthropic, "anthropic", KeyInfo { secret_name: Some("ANTHROPIC_API_KEY"), value: None }, 401, ERROR_AUTH.as_bytes());
    assert_eq!(auth.error.code(), "gateway_misconfigured");
    let too_long = error_from_status(ProviderKind::Anthropic, "anthropic", KeyInfo::default(), 400, ERROR_TOO_LONG.as_bytes());
    assert_eq!(too_long.error.code(), "context_length_exceeded");
}

proptest::proptest! {
    #[test]
    fn any_split_of_a_stream_translates_the_same(cuts in proptest::collection::vec(0usize..4000, 0..16)) {
        for text in [TEXT_STREAM, TOOL_USE_STREAM] {
            let mut points: Vec<usize> = cuts.iter().map(|c| c % (text.len() + 1)).collect();
            points.sort_unstable();
            proptest::prop_assert_eq!(run_stream(text, &points).unwrap(), run_stream(text, &[]).unwrap());
        }
    }
}
