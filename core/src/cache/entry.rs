//! What the cache stores, and how a hit is served from it.
//!
//! An entry keeps the whole answer in OpenAI's non-streamed shape, whichever
//! way it was first delivered, so one stored answer serves both kinds of
//! caller: [`CacheEntry::json_body`] for a plain request and
//! [`CacheEntry::sse_body`] for a streaming one, which replays the answer as
//! the chunks a live stream would have carried.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map};

use crate::openai::{ChatCompletion, ChatCompletionChunk, Choice, ChunkChoice, Delta, ToolCallDelta};
use crate::sse;

/// KV's value limit (25 MiB); larger entries are never stored.
pub const MAX_ENTRY_BYTES: usize = 25 * 1024 * 1024;

/// A replayed stream cuts content after this many words, close to what a
/// live stream sends per second, so a client's incremental rendering still
/// has something to render without paying for one event per token.
const WORDS_PER_PIECE: usize = 16;

/// And after this many bytes, for text with few or no spaces (CJK, code,
/// base64) that would otherwise arrive as one huge event.
const MAX_PIECE_BYTES: usize = 512;

/// One stored answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheEntry {
    /// When it was stored (ms since the Unix epoch, by the gateway's clock).
    pub created_ms: u64,
    /// How long it may be served, in milliseconds from `created_ms`.
    pub ttl_ms: u64,
    /// The provider that answered originally, for logs and headers.
    pub provider: String,
    /// The upstream model id that answered.
    pub model: String,
    /// The whole answer in OpenAI's non-streamed shape.
    pub answer: ChatCompletion,
    /// What the original call cost in USD: what a hit saves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
}

impl CacheEntry {
    /// Whether the entry may still be served at `now_ms`: before
    /// `created_ms + ttl_ms`. A clock behind `created_ms` (another isolate's
    /// clock skew) counts as age 0, hence fresh.
    pub fn is_fresh(&self, now_ms: u64) -> bool {
        now_ms < self.created_ms.saturating_add(self.ttl_ms)
    }

    /// Whole seconds since the entry was stored (rounded down; 0 when the
    /// clock is behind `created_ms`), as an `Age` header counts them.
    pub fn age_s(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.created_ms) / 1000
    }

    /// The stored answer as a `chat.completion` body under a new `id` and
    /// `created`: a hit is a new response, and reusing the original id would
    /// make two responses indistinguishable in the caller's logs.
    pub fn json_body(&self, id: &str, created: u64) -> Vec<u8> {
        let mut answer = self.answer.clone();
        id.clone_into(&mut answer.id);
        answer.created = created;
        // Cannot fail: every map has string keys and no type has a fallible
        // `Serialize`.
        serde_json::to_vec(&answer).unwrap_or_default()
    }

    /// The stored answer as an OpenAI event stream under a new `id` and
    /// `created`. Each choice in turn: a role chunk, its content in pieces
    /// of about 16 words (concatenated they give the content
    /// byte for byte), one delta per tool call carrying the whole call, a
    /// refusal if any, then a finish chunk with the original finish reason.
    /// Then, when `include_usage`, a usage chunk with no choices, then
    /// `data: [DONE]`. Log probabilities ride on the choice's first content
    /// piece (or its finish chunk), since clients concatenate them.
    pub fn sse_body(&self, id: &str, created: u64, include_usage: bool) -> Vec<u8> {
        let answer = &self.answer;
        let mut chunk = ChatCompletionChunk {
            id: id.to_owned(),
            object: "chat.completion.chunk".to_owned(),
            created,
            model: answer.model.clone(),
            choices: Vec::new(),
            usage: None,
            system_fingerprint: answer.system_fingerprint.clone(),
            extra: Map::new(),
        };
        let content_len: usize = answer.choices.iter().filter_map(|c| c.message.content.as_deref()).map(str::len).sum();
        let mut out = Vec::with_capacity(content_len + content_len / 4 + 512);
        for choice in &answer.choices {
            replay_choice(choice, &mut chunk, &mut out);
        }
        if let (true, Some(usage)) = (include_usage, answer.usage) {
            chunk.choices.clear();
            chunk.usage = Some(usage);
            push_chunk(&chunk, &mut out);
        }
        out.extend_from_slice(sse::DONE);
        out
    }
}

/// Writes one choice's chunks, reusing `chunk` for the fields every chunk shares.
fn replay_choice(choice: &Choice, chunk: &mut ChatCompletionChunk, out: &mut Vec<u8>) {
    let message = &choice.message;
    let mut logprobs = choice.logprobs.clone();
    let mut emit = |delta: Delta, finish_reason: Option<String>, logprobs: Option<serde_json::Value>, out: &mut Vec<u8>| {
        chunk.choices = vec![ChunkChoice { index: choice.index, delta, finish_reason, logprobs }];
        push_chunk(chunk, out);
    };
    let role = Delta { role: Some("assistant".to_owned()), content: Some(String::new()), ..Delta::default() };
    emit(role, None, None, out);
    for piece in pieces(message.content.as_deref().unwrap_or_default()) {
        emit(Delta { content: Some(piece.to_owned()), ..Delta::default() }, None, logprobs.take(), out);
    }
    for (index, call) in message.tool_calls.iter().flatten().enumerate() {
        let delta = ToolCallDelta {
            index: u32::try_from(index).unwrap_or(u32::MAX),
            id: Some(call.id.clone()),
            kind: Some(call.kind.clone()),
            function: Some(json!({"name": call.function.name, "arguments": call.function.arguments})),
        };
        emit(Delta { tool_calls: Some(vec![delta]), ..Delta::default() }, None, None, out);
    }
    if let Some(refusal) = message.refusal.as_ref().filter(|r| !r.is_empty()) {
        emit(Delta { refusal: Some(refusal.clone()), ..Delta::default() }, None, None, out);
    }
    emit(Delta::default(), choice.finish_reason.clone(), logprobs.take(), out);
}

fn push_chunk(chunk: &ChatCompletionChunk, out: &mut Vec<u8>) {
    // Cannot fail, as in `json_body`.
    if let Ok(json) = serde_json::to_string(chunk) {
        sse::encode_data(&json, out);
    }
}

/// Cuts `text` into pieces of [`WORDS_PER_PIECE`] words (each with the
/// whitespace that follows it) or [`MAX_PIECE_BYTES`] bytes, always on a
/// character boundary and without dropping a byte.
fn pieces(text: &str) -> Vec<&str> {
    let mut out = Vec::with_capacity(text.len() / 64 + 1);
    let (mut start, mut words, mut in_word) = (0, 0, false);
    for (at, c) in text.char_indices() {
        let word_starts = !c.is_whitespace() && !in_word;
        in_word = !c.is_whitespace();
        if (word_starts && words == WORDS_PER_PIECE) || at - start >= MAX_PIECE_BYTES {
            out.extend(text.get(start..at));
            start = at;
            words = 0;
        }
        words += usize::from(word_starts);
    }
    out.extend(text.get(start..).filter(|rest| !rest.is_empty()));
    out
}

/// Whether an answer may be cached: it has at least one choice, every
/// choice finished (with a reason other than `content_filter`, which cuts
/// an answer short) and said something: text, a tool call or a refusal. An
/// empty answer is more likely an upstream fault than what the model would
/// say again.
pub fn is_cacheable(answer: &ChatCompletion) -> bool {
    !answer.choices.is_empty()
        && answer.choices.iter().all(|choice| {
            let message = &choice.message;
            let finished = choice.finish_reason.as_deref().is_some_and(|r| !r.is_empty() && r != "content_filter");
            let said = message.content.as_deref().is_some_and(|t| !t.is_empty())
                || message.tool_calls.as_ref().is_some_and(|calls| !calls.is_empty())
                || message.refusal.as_deref().is_some_and(|r| !r.is_empty());
            finished && said
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::assemble::StreamAssembler;
    use crate::openai::{FunctionCall, ResponseMessage, ToolCall, Usage};
    use crate::sse::SseParser;

    fn choice(index: u32, content: Option<&str>, tool_calls: Option<Vec<ToolCall>>, finish: &str) -> Choice {
        Choice {
            index,
            message: ResponseMessage {
                role: "assistant".into(),
                content: content.map(str::to_owned),
                tool_calls,
                refusal: None,
                extra: Map::new(),
            },
            finish_reason: Some(finish.into()),
            logprobs: None,
        }
    }

    fn entry(choices: Vec<Choice>) -> CacheEntry {
        CacheEntry {
            created_ms: 1_000_000,
            ttl_ms: 60_000,
            provider: "openai".into(),
            model: "gpt-4o-mini-2024-07-18".into(),
            answer: ChatCompletion {
                id: "chatcmpl-orig".into(),
                object: "chat.completion".into(),
                created: 1,
                model: "gpt-4o-mini-2024-07-18".into(),
                choices,
                usage: Some(Usage::new(12, 34).with_cached(4)),
                system_fingerprint: Some("fp_1".into()),
                extra: Map::new(),
            },
            cost_usd: Some(0.0012),
        }
    }

    fn call(id: &str, name: &str, arguments: &str) -> ToolCall {
        ToolCall { id: id.into(), kind: "function".into(), function: FunctionCall { name: name.into(), arguments: arguments.into() } }
    }

    /// The data of every event in `body`, and whether it ended with `[DONE]`.
    fn events(body: &[u8]) -> Vec<String> {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        parser.push(body, &mut out).unwrap();
        parser.finish().unwrap();
        out.into_iter().map(|e| e.data).collect()
    }

    fn assemble(body: &[u8]) -> ChatCompletion {
        let mut assembler = StreamAssembler::new();
        for data in events(body) {
            assembler.on_event(&data);
        }
        assembler.finish().unwrap()
    }

    fn from_json(body: &[u8]) -> ChatCompletion {
        serde_json::from_slice(body).unwrap()
    }

    #[test]
    fn an_entry_round_trips_through_serde() {
        let stored = entry(vec![choice(0, Some("hi"), None, "stop")]);
        let text = serde_json::to_string(&stored).unwrap();
        assert_eq!(crate::json::from_str::<CacheEntry>(&text).unwrap(), stored);
        let without_cost = CacheEntry { cost_usd: None, ..stored };
        let text = serde_json::to_string(&without_cost).unwrap();
        assert!(!text.contains("cost_usd"));
        assert_eq!(crate::json::from_str::<CacheEntry>(&text).unwrap(), without_cost);
    }

    #[test]
    fn freshness_ends_exactly_at_created_plus_ttl() {
        let e = entry(vec![choice(0, Some("hi"), None, "stop")]);
        assert!(e.is_fresh(1_000_000));
        assert!(e.is_fresh(1_059_999));
        assert!(!e.is_fresh(1_060_000));
        assert!(e.is_fresh(5), "a clock behind created is age 0");
        assert_eq!(e.age_s(5), 0);
        assert_eq!(e.age_s(1_000_999), 0);
        assert_eq!(e.age_s(1_001_000), 1);
        assert_eq!(e.age_s(1_059_999), 59);
        let forever = CacheEntry { ttl_ms: u64::MAX, ..e };
        assert!(forever.is_fresh(u64::MAX - 1));
    }

    #[test]
    fn the_json_body_is_the_answer_under_a_new_id() {
        let e = entry(vec![choice(0, Some("hi"), None, "stop")]);
        let served = from_json(&e.json_body("chatcmpl-new", 99));
        assert_eq!(served, ChatCompletion { id: "chatcmpl-new".into(), created: 99, ..e.answer.clone() });
    }

    #[test]
    fn the_stream_reassembles_to_the_json_body() {
        let text = "Hello  there,\n\nworld!\t Ünïcødé 😀 text ".repeat(9);
        let e = entry(vec![choice(0, Some(&text), None, "length")]);
        let body = e.sse_body("chatcmpl-new", 99, true);
        assert_eq!(assemble(&body), from_json(&e.json_body("chatcmpl-new", 99)));
        let data = events(&body);
        assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
        let chunks: Vec<ChatCompletionChunk> = data[..data.len() - 1].iter().map(|d| crate::json::from_str(d).unwrap()).collect();
        assert!(chunks.iter().all(|c| c.id == "chatcmpl-new" && c.created == 99 && c.model == e.answer.model && c.object == "chat.completion.chunk"));
        assert_eq!(chunks[0].choices[0].delta, Delta { role: Some("assistant".into()), content: Some(String::new()), ..Delta::default() });
        let usage = chunks.last().unwrap();
        assert!(usage.choices.is_empty());
        assert_eq!(usage.usage, e.answer.usage);
        let finish = &chunks[chunks.len() - 2].choices[0];
        assert_eq!((finish.delta.clone(), finish.finish_reason.as_deref()), (Delta::default(), Some("length")));
    }

    #[test]
    fn pieces_keep_every_byte_and_hold_about_sixteen_words() {
        for text in ["", " ", "one", "  lead and trail  ", "a\n\nb\r\nc\td   e", &"word ".repeat(100), &"長".repeat(1000), &"x".repeat(2000)] {
            let cut = pieces(text);
            assert_eq!(cut.concat(), text);
            assert!(cut.iter().all(|p| !p.is_empty()));
            for piece in &cut {
                assert!(piece.split_whitespace().count() <= WORDS_PER_PIECE, "{piece:?}");
                assert!(piece.len() <= MAX_PIECE_BYTES + 4, "{}", piece.len());
            }
        }
        let words = "word ".repeat(100);
        let cut = pieces(&words);
        assert_eq!(cut.len(), 7);
        assert_eq!(cut[0], "word ".repeat(16));
    }

    #[test]
    fn without_include_usage_there_is_no_usage_chunk() {
        let e = entry(vec![choice(0, Some("hi"), None, "stop")]);
        let body = e.sse_body("id", 1, false);
        let data = events(&body);
        assert!(!String::from_utf8(body).unwrap().contains("prompt_tokens"));
        assert_eq!(data.len(), 4, "role, content, finish, [DONE]: {data:?}");
    }

    #[test]
    fn tool_call_only_answers_replay_one_delta_per_call() {
        let calls = vec![call("call_1", "get_weather", r#"{"city":"Paris"}"#), call("call_2", "get_time", "{}")];
        let e = entry(vec![choice(0, None, Some(calls), "tool_calls")]);
        let body = e.sse_body("id", 1, true);
        assert_eq!(assemble(&body), from_json(&e.json_body("id", 1)));
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains(r#"{"index":1,"id":"call_2","type":"function","function":{"name":"get_time","arguments":"{}"}}"#), "{text}");
    }

    #[test]
    fn refusals_and_logprobs_replay() {
        let mut refused = choice(0, None, None, "stop");
        refused.message.refusal = Some("I can't help with that.".into());
        let mut spoken = choice(1, Some("yes"), None, "stop");
        spoken.logprobs = Some(json!({"content": [{"token": "yes", "logprob": -0.1, "bytes": [121, 101, 115], "top_logprobs": []}], "refusal": null}));
        let e = entry(vec![refused, spoken]);
        assert_eq!(assemble(&e.sse_body("id", 1, true)), from_json(&e.json_body("id", 1)));
    }

    #[test]
    fn several_choices_replay_with_their_indexes() {
        let e = entry(vec![choice(0, Some("first answer"), None, "stop"), choice(1, Some("second answer"), None, "length")]);
        let body = e.sse_body("id", 1, true);
        let served = assemble(&body);
        assert_eq!(served, from_json(&e.json_body("id", 1)));
        assert_eq!(served.choices[1].message.content.as_deref(), Some("second answer"));
    }

    #[test]
    fn only_finished_non_empty_answers_are_cacheable() {
        assert!(is_cacheable(&entry(vec![choice(0, Some("hi"), None, "stop")]).answer));
        assert!(is_cacheable(&entry(vec![choice(0, None, Some(vec![call("c", "f", "{}")]), "tool_calls")]).answer));
        assert!(!is_cacheable(&entry(vec![]).answer));
        assert!(!is_cacheable(&entry(vec![choice(0, Some("hi"), None, "content_filter")]).answer));
        assert!(!is_cacheable(&entry(vec![choice(0, Some("hi"), None, "stop"), choice(1, None, None, "stop")]).answer));
        assert!(!is_cacheable(&entry(vec![choice(0, Some(""), None, "stop")]).answer));
        let mut unfinished = entry(vec![choice(0, Some("hi"), None, "stop")]);
        unfinished.answer.choices[0].finish_reason = None;
        assert!(!is_cacheable(&unfinished.answer));
        let mut refused = entry(vec![choice(0, None, None, "stop")]);
        refused.answer.choices[0].message.refusal = Some("no".into());
        assert!(is_cacheable(&refused.answer));
    }
}
