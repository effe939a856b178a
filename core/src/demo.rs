//! The built-in `demo` provider: a deterministic model with fault models.
//!
//! It needs no key and no network, answers like a real model (role chunk,
//! content word by word, finish chunk, usage) and its *model name* picks a
//! behaviour, so every failure the gateway handles can be shown and tested
//! without an upstream (CONVENTIONS.md, "The demo provider"). This module only
//! decides what the demo says; the worker plays the script with real timers,
//! producing exactly the bytes an OpenAI-compatible server would send, so the
//! demo goes through the same relay, retries and timeouts as a real upstream.

use serde_json::{json, Map, Value};

use crate::openai::{
    ChatCompletion, ChatCompletionChunk, ChatRequest, Choice, ChunkChoice, Delta, FunctionCall,
    ResponseMessage, ToolCall, Usage,
};
use crate::tokens;

pub mod embed;

/// A demo model name, parsed into the behaviour it selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoModel {
    /// Restates the last user message.
    Echo,
    /// A longer deterministic reply.
    Story,
    /// Calls the first tool offered.
    Tools,
    /// Answers this HTTP status with an error body.
    Fail(u16),
    /// Fails with 503 on the first n attempts, then answers.
    Flaky(u32),
    /// Waits this long before sending headers.
    Slow(u64),
    /// Streams k chunks, then stops sending without closing.
    Stall(usize),
    /// Streams k chunks, then drops the connection.
    Drop(usize),
    /// An embeddings model (`/v1/embeddings` only).
    Embed,
    /// An LLM-as-judge: scores an answer against a rubric, `SCORE: <1-5>`.
    Judge,
}

/// Longest `slow-<ms>` accepted: ten minutes outlasts every timeout.
const MAX_SLOW_MS: u64 = 600_000;
/// Echo restates at most this many words, to stay a short reply.
const ECHO_MAX_WORDS: usize = 48;

impl DemoModel {
    /// Parses `echo`, `story`, `tools`, `embed`, `judge`, `fail-<status>`,
    /// `flaky-<n>`, `slow-<ms>`, `stall-<k>` or `drop-<k>`.
    pub fn parse(model: &str) -> Result<Self, String> {
        let number = |rest: &str| rest.parse::<u64>().ok();
        let parsed = match model {
            "echo" => Some(Self::Echo),
            "story" => Some(Self::Story),
            "tools" => Some(Self::Tools),
            "embed" => Some(Self::Embed),
            "judge" => Some(Self::Judge),
            _ => match model.split_once('-') {
                Some(("fail", n)) => number(n)
                    .filter(|s| (400..=599).contains(s))
                    .and_then(|s| u16::try_from(s).ok())
                    .map(Self::Fail),
                Some(("flaky", n)) => number(n).and_then(|n| u32::try_from(n).ok()).map(Self::Flaky),
                Some(("slow", n)) => number(n).filter(|ms| *ms <= MAX_SLOW_MS).map(Self::Slow),
                Some(("stall", n)) => number(n).and_then(|n| usize::try_from(n).ok()).map(Self::Stall),
                Some(("drop", n)) => number(n).and_then(|n| usize::try_from(n).ok()).map(Self::Drop),
                _ => None,
            },
        };
        parsed.ok_or_else(|| {
            format!(
                "unknown demo model {} (expected echo, story, tools, embed, judge, fail-<400..599>, flaky-<n>, slow-<ms ≤ {MAX_SLOW_MS}>, stall-<k> or drop-<k>)",
                crate::json::quote(model)
            )
        })
    }
}

/// What the demo upstream does with one request.
#[derive(Debug, Clone, PartialEq)]
pub enum DemoScript {
    /// An HTTP error, as an OpenAI-compatible server sends it.
    Fail {
        /// HTTP status.
        status: u16,
        /// `Retry-After` in seconds, if any.
        retry_after_s: Option<u32>,
        /// OpenAI-style JSON error body.
        body: String,
    },
    /// A model answer.
    Answer(DemoAnswer),
}

/// A demo answer and how its delivery goes.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoAnswer {
    /// Wait before the response headers.
    pub header_delay_ms: u64,
    /// Content pieces, one word each (with its trailing space).
    pub pieces: Vec<String>,
    /// A tool call instead of text, for the `tools` model.
    pub tool_call: Option<ToolCall>,
    /// Token counts.
    pub usage: Usage,
    /// How the delivery ends.
    pub ending: DemoEnding,
}

/// How a demo stream ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoEnding {
    /// Finish chunk, usage, `[DONE]`.
    Complete,
    /// After this many content chunks, nothing more and never closes.
    StallAfter(usize),
    /// After this many content chunks, the connection drops.
    DropAfter(usize),
}

/// Decides the demo's answer. `attempt` counts from 0 within the gateway
/// request (and across a client's retries with one idempotency key), which
/// is what `flaky-<n>` counts.
pub fn script(model: DemoModel, request: &ChatRequest, attempt: u32) -> DemoScript {
    let ending = match model {
        DemoModel::Stall(k) => DemoEnding::StallAfter(k),
        DemoModel::Drop(k) => DemoEnding::DropAfter(k),
        _ => DemoEnding::Complete,
    };
    match model {
        DemoModel::Fail(status) => return fail(status),
        DemoModel::Flaky(n) if attempt < n => return fail(503),
        _ => {}
    }
    let header_delay_ms = match model {
        DemoModel::Slow(ms) => ms,
        _ => 0,
    };
    let prompt_tokens = tokens::estimate_prompt(request);
    if model == DemoModel::Tools {
        if let Some(call) = first_tool_call(request) {
            let usage = Usage::new(prompt_tokens, tokens::estimate_text(&call.function.arguments).max(1));
            return DemoScript::Answer(DemoAnswer { header_delay_ms, pieces: Vec::new(), tool_call: Some(call), usage, ending });
        }
    }
    let text = match model {
        DemoModel::Story => story(request),
        DemoModel::Tools => "No tools were offered, so there is nothing to call.".to_owned(),
        DemoModel::Judge => judge(&request.last_user_text().unwrap_or_default()),
        _ => echo(request),
    };
    let pieces = words(&text);
    let usage = Usage::new(prompt_tokens, pieces.len() as u64);
    DemoScript::Answer(DemoAnswer { header_delay_ms, pieces, tool_call: None, usage, ending })
}

fn fail(status: u16) -> DemoScript {
    let (kind, code, message) = match status {
        429 => ("requests", "rate_limit_exceeded", "demo: rate limit reached, retry after 1 s"),
        400..=499 => ("invalid_request_error", "demo_error", "demo: the request was refused"),
        _ => ("server_error", "demo_unavailable", "demo: the model is overloaded"),
    };
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
    DemoScript::Fail { status, retry_after_s: (status == 429).then_some(1), body: body.to_string() }
}

fn echo(request: &ChatRequest) -> String {
    let said = request.last_user_text().unwrap_or_default();
    let mut words: Vec<&str> = said.split_whitespace().collect();
    let truncated = words.len() > ECHO_MAX_WORDS;
    words.truncate(ECHO_MAX_WORDS);
    if words.is_empty() {
        return "You said nothing, so I have nothing to repeat.".to_owned();
    }
    format!("You said: {}{}", words.join(" "), if truncated { " …" } else { "" })
}

/// Rubric filler that says nothing about the answer's content, left out of
/// the judge's word list ("the answer should mention Paris" is about Paris).
const JUDGE_FILLER: [&str; 12] = ["answer", "should", "must", "mention", "mentions", "says", "that", "this", "with", "from", "about", "include"];

/// The `judge` model: reads `RUBRIC:\n<rubric>\nANSWER:\n<answer>` (what
/// `evals/judge.mjs` sends) and replies `SCORE: <1-5>`, 1 + 4 × the share of
/// the rubric's content words (runs of 4 or more ASCII letters, lower-cased,
/// filler left out) that the answer contains, rounded half up. A message
/// without the markers, or a rubric with no content words, scores 1:
/// there is nothing to match.
fn judge(said: &str) -> String {
    let (rubric, answer) = match said.split_once("RUBRIC:").and_then(|(_, rest)| rest.split_once("ANSWER:")) {
        Some((rubric, answer)) => (rubric, answer),
        None => ("", said),
    };
    let words = |text: &str| -> Vec<String> {
        let mut found: Vec<String> = Vec::new();
        // ASCII letters only: Unicode case tables would cost the wasm kilobytes.
        for word in text.split(|c: char| !c.is_ascii_alphabetic()).map(str::to_ascii_lowercase) {
            if word.len() >= 4 && !JUDGE_FILLER.contains(&word.as_str()) && !found.contains(&word) {
                found.push(word);
            }
        }
        found
    };
    let wanted = words(rubric);
    let given = words(answer);
    let hits = wanted.iter().filter(|w| given.contains(w)).count();
    // 1 + round(4 × hits / wanted), in integers: round(x / y) = (2x + y) / 2y.
    let score = match wanted.len() {
        0 => 1,
        n => 1 + (8 * hits + n) / (2 * n),
    };
    format!("SCORE: {score}")
}

/// Sentences the story is built from; the prompt picks the order.
const STORY: [&str; 8] = [
    "The gateway woke before the first request of the day, its caches cold and its breakers closed.",
    "A developer in a small town sent a question, and the edge answered from the nearest city within a few milliseconds.",
    "Somewhere upstream a model was overloaded, so the gateway waited with jittered patience and then tried the next provider.",
    "Every token travelled as soon as it was born, never held back to be counted in bulk.",
    "The operator watched the dashboard as latency stayed flat while the traffic doubled.",
    "When a budget ran out the caller was told exactly when it would reset, and nobody was surprised.",
    "By evening the cache had answered a third of all questions without waking a single model.",
    "And when the last stream closed cleanly, the logs told the whole story, attempt by attempt.",
];

fn story(request: &ChatRequest) -> String {
    let seed = fnv1a(request.last_user_text().unwrap_or_default().as_bytes());
    let mut sentences: Vec<&str> = Vec::with_capacity(STORY.len() * 3);
    // Three passes over the sentences, each rotated by the prompt's hash: a
    // few hundred words, the same for the same prompt.
    for pass in 0..3u64 {
        let offset = (seed.rotate_left((pass * 8) as u32) % STORY.len() as u64) as usize;
        sentences.extend(STORY.iter().cycle().skip(offset).take(STORY.len()));
    }
    sentences.join(" ")
}

/// FNV-1a, 64 bit: a tiny deterministic hash for picking story order.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// Splits text into streamable pieces: each word keeps its following space.
fn words(text: &str) -> Vec<String> {
    let all: Vec<&str> = text.split(' ').filter(|w| !w.is_empty()).collect();
    let last = all.len().saturating_sub(1);
    all.iter()
        .enumerate()
        .map(|(i, w)| if i < last { format!("{w} ") } else { (*w).to_owned() })
        .collect()
}

fn first_tool_call(request: &ChatRequest) -> Option<ToolCall> {
    if matches!(&request.tool_choice, Some(crate::openai::ToolChoice::Mode(m)) if m == "none") {
        return None;
    }
    let tool = request.tools.as_ref()?.first()?;
    let arguments = tool.function.parameters.as_ref().map(example_for_schema).unwrap_or_else(|| json!({}));
    Some(ToolCall {
        id: format!("call_demo_{:016x}", fnv1a(tool.function.name.as_bytes())),
        kind: "function".to_owned(),
        function: FunctionCall { name: tool.function.name.clone(), arguments: arguments.to_string() },
    })
}

/// A value that fits a JSON schema: the first enum value, or a plain value of
/// the declared type, with every property of an object filled in.
fn example_for_schema(schema: &Value) -> Value {
    if let Some(first) = schema.get("enum").and_then(Value::as_array).and_then(|v| v.first()) {
        return first.clone();
    }
    let kind = schema.get("type").and_then(|t| t.as_str().or_else(|| t.as_array()?.first()?.as_str()));
    match kind {
        Some("string") => json!("demo"),
        Some("integer") => json!(1),
        Some("number") => json!(1.5),
        Some("boolean") => json!(true),
        Some("null") => Value::Null,
        Some("array") => match schema.get("items") {
            Some(items) => json!([example_for_schema(items)]),
            None => json!([]),
        },
        _ => {
            let mut object = Map::new();
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (name, property) in properties {
                    object.insert(name.clone(), example_for_schema(property));
                }
            }
            Value::Object(object)
        }
    }
}

impl DemoAnswer {
    /// The whole answer as a `chat.completion` object.
    pub fn completion(&self, id: &str, created: u64, model: &str) -> ChatCompletion {
        let (content, tool_calls, finish) = match &self.tool_call {
            Some(call) => (None, Some(vec![call.clone()]), "tool_calls"),
            None => (Some(self.pieces.concat()), None, "stop"),
        };
        ChatCompletion {
            id: id.to_owned(),
            object: "chat.completion".to_owned(),
            created,
            model: model.to_owned(),
            choices: vec![Choice {
                index: 0,
                message: ResponseMessage { role: "assistant".to_owned(), content, tool_calls, refusal: None, extra: Map::new() },
                finish_reason: Some(finish.to_owned()),
                logprobs: None,
            }],
            usage: Some(self.usage),
            system_fingerprint: Some("fp_edgeway_demo".to_owned()),
            extra: Map::new(),
        }
    }

    /// The stream's chunks before the ending: role chunk, then one chunk per
    /// piece (or the tool call in two pieces: name, then arguments).
    pub fn content_chunks(&self, id: &str, created: u64, model: &str) -> Vec<ChatCompletionChunk> {
        let chunk = |delta: Delta, finish_reason: Option<&str>| chunk(id, created, model, delta, finish_reason, None);
        let mut chunks = vec![chunk(Delta { role: Some("assistant".into()), content: Some(String::new()), ..Delta::default() }, None)];
        if let Some(call) = &self.tool_call {
            let head = crate::openai::ToolCallDelta {
                index: 0,
                id: Some(call.id.clone()),
                kind: Some("function".into()),
                function: Some(json!({"name": call.function.name, "arguments": ""})),
            };
            let args = crate::openai::ToolCallDelta {
                index: 0,
                id: None,
                kind: None,
                function: Some(json!({"arguments": call.function.arguments})),
            };
            chunks.push(chunk(Delta { tool_calls: Some(vec![head]), ..Delta::default() }, None));
            chunks.push(chunk(Delta { tool_calls: Some(vec![args]), ..Delta::default() }, None));
        } else {
            chunks.extend(self.pieces.iter().map(|p| chunk(Delta { content: Some(p.clone()), ..Delta::default() }, None)));
        }
        chunks
    }

    /// The chunks after the content: finish, then usage when asked.
    pub fn closing_chunks(&self, id: &str, created: u64, model: &str, include_usage: bool) -> Vec<ChatCompletionChunk> {
        let finish = if self.tool_call.is_some() { "tool_calls" } else { "stop" };
        let mut chunks = vec![chunk(id, created, model, Delta::default(), Some(finish), None)];
        if include_usage {
            let mut usage_chunk = chunk(id, created, model, Delta::default(), None, Some(self.usage));
            usage_chunk.choices.clear();
            chunks.push(usage_chunk);
        }
        chunks
    }
}

fn chunk(id: &str, created: u64, model: &str, delta: Delta, finish_reason: Option<&str>, usage: Option<Usage>) -> ChatCompletionChunk {
    ChatCompletionChunk {
        id: id.to_owned(),
        object: "chat.completion.chunk".to_owned(),
        created,
        model: model.to_owned(),
        choices: vec![ChunkChoice { index: 0, delta, finish_reason: finish_reason.map(str::to_owned), logprobs: None }],
        usage,
        system_fingerprint: Some("fp_edgeway_demo".to_owned()),
        extra: Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::parse_chat_request;

    fn request(json: &str) -> ChatRequest {
        parse_chat_request(json.as_bytes()).unwrap()
    }

    fn answer(model: &str, req: &ChatRequest, attempt: u32) -> DemoAnswer {
        match script(DemoModel::parse(model).unwrap(), req, attempt) {
            DemoScript::Answer(a) => a,
            other => panic!("expected an answer, got {other:?}"),
        }
    }

    #[test]
    fn model_names_select_behaviours() {
        assert_eq!(DemoModel::parse("fail-429"), Ok(DemoModel::Fail(429)));
        assert_eq!(DemoModel::parse("flaky-2"), Ok(DemoModel::Flaky(2)));
        assert_eq!(DemoModel::parse("slow-1500"), Ok(DemoModel::Slow(1500)));
        assert_eq!(DemoModel::parse("stall-3"), Ok(DemoModel::Stall(3)));
        assert_eq!(DemoModel::parse("drop-0"), Ok(DemoModel::Drop(0)));
        for bad in ["fail-200", "fail-abc", "slow-", "teleport", "slow-99999999"] {
            assert!(DemoModel::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn echo_is_deterministic_and_restates_the_last_user_message() {
        let req = request(r#"{"model":"demo","messages":[{"role":"user","content":"first"},{"role":"assistant","content":"ok"},{"role":"user","content":"hello edge world"}]}"#);
        let a = answer("echo", &req, 0);
        assert_eq!(a.pieces.concat(), "You said: hello edge world");
        assert_eq!(a, answer("echo", &req, 0));
        assert_eq!(a.usage.completion_tokens, a.pieces.len() as u64);
        assert!(a.usage.prompt_tokens > 0);
    }

    fn judged(rubric: &str, answer: &str) -> String {
        let prompt = serde_json::to_string(&format!("RUBRIC:\n{rubric}\nANSWER:\n{answer}")).unwrap();
        let req = request(&format!(r#"{{"model":"demo","messages":[{{"role":"user","content":{prompt}}}]}}"#));
        let a = answer_of("judge", &req);
        assert_eq!(a, answer_of("judge", &req), "deterministic");
        a
    }

    fn answer_of(model: &str, req: &ChatRequest) -> String {
        answer(model, req, 0).pieces.concat()
    }

    #[test]
    fn judge_scores_the_share_of_rubric_words_the_answer_contains() {
        assert_eq!(DemoModel::parse("judge"), Ok(DemoModel::Judge));
        // Content words: paris, capital, france (filler and short words out).
        assert_eq!(judged("The answer should mention Paris, the capital of France.", "Paris is the capital of France."), "SCORE: 5");
        assert_eq!(judged("The answer should mention Paris, the capital of France.", "It is PARIS."), "SCORE: 2");
        assert_eq!(judged("The answer should mention Paris, the capital of France.", "I do not know."), "SCORE: 1");
        // 2 of 3 words: 1 + round(2.67) = 4; 1 of 2: 1 + round(2) = 3.
        assert_eq!(judged("Paris capital France", "capital of France"), "SCORE: 4");
        assert_eq!(judged("edge gateway", "a gateway"), "SCORE: 3");
    }

    #[test]
    fn judge_without_a_rubric_scores_one() {
        assert_eq!(judged("be ok, not bad", "ok"), "SCORE: 1");
        let req = request(r#"{"model":"demo","messages":[{"role":"user","content":"no markers at all here"}]}"#);
        assert_eq!(answer_of("judge", &req), "SCORE: 1");
    }

    #[test]
    fn story_is_a_few_hundred_words_and_stable() {
        let req = request(r#"{"model":"demo","messages":[{"role":"user","content":"tell me"}]}"#);
        let a = answer("story", &req, 0);
        assert!((200..600).contains(&a.pieces.len()), "{}", a.pieces.len());
        assert_eq!(a, answer("story", &req, 0));
    }

    #[test]
    fn flaky_fails_with_503_until_its_attempts_are_spent() {
        let req = request(r#"{"model":"demo","messages":[{"role":"user","content":"x"}]}"#);
        let model = DemoModel::parse("flaky-2").unwrap();
        assert!(matches!(script(model, &req, 0), DemoScript::Fail { status: 503, .. }));
        assert!(matches!(script(model, &req, 1), DemoScript::Fail { status: 503, .. }));
        assert!(matches!(script(model, &req, 2), DemoScript::Answer(_)));
    }

    #[test]
    fn fail_429_carries_retry_after_and_an_openai_error_body() {
        let req = request(r#"{"model":"demo","messages":[{"role":"user","content":"x"}]}"#);
        let DemoScript::Fail { status, retry_after_s, body } = script(DemoModel::Fail(429), &req, 0) else { panic!() };
        assert_eq!((status, retry_after_s), (429, Some(1)));
        let body: Value = crate::json::from_str(&body).unwrap();
        assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    }

    #[test]
    fn tools_calls_the_first_tool_with_arguments_that_fit_its_schema() {
        let req = request(r#"{"model":"demo","messages":[{"role":"user","content":"weather?"}],
            "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object",
            "properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["c","f"]},"days":{"type":"integer"}},"required":["city"]}}}]}"#);
        let a = answer("tools", &req, 0);
        let call = a.tool_call.clone().unwrap();
        assert_eq!(call.function.name, "get_weather");
        let args: Value = crate::json::from_str(&call.function.arguments).unwrap();
        assert_eq!(args, json!({"city": "demo", "unit": "c", "days": 1}));
        let completion = a.completion("id", 1, "tools");
        assert_eq!(completion.choices[0].finish_reason.as_deref(), Some("tool_calls"));
    }

    #[test]
    fn stream_chunks_reassemble_to_the_completion() {
        let req = request(r#"{"model":"demo","messages":[{"role":"user","content":"one two three"}]}"#);
        let a = answer("echo", &req, 0);
        let chunks = a.content_chunks("id", 1, "echo");
        assert_eq!(chunks[0].choices[0].delta.role.as_deref(), Some("assistant"));
        let text: String = chunks.iter().filter_map(|c| c.choices[0].delta.content.clone()).collect();
        assert_eq!(Some(text), a.completion("id", 1, "echo").choices[0].message.content);
        let closing = a.closing_chunks("id", 1, "echo", true);
        assert_eq!(closing[0].choices[0].finish_reason.as_deref(), Some("stop"));
        assert!(closing[1].choices.is_empty());
        assert_eq!(closing[1].usage, Some(a.usage));
    }

    #[test]
    fn stall_and_drop_say_where_the_stream_stops() {
        let req = request(r#"{"model":"demo","messages":[{"role":"user","content":"x"}]}"#);
        assert_eq!(answer("stall-2", &req, 0).ending, DemoEnding::StallAfter(2));
        assert_eq!(answer("drop-1", &req, 0).ending, DemoEnding::DropAfter(1));
        assert_eq!(answer("slow-250", &req, 0).header_delay_ms, 250);
    }
}
