//! Building the cacheable answer from a stream while it is relayed.
//!
//! A streamed answer is stored in the non-streamed shape, so the stream's
//! chunks must be put back together: text concatenated, tool calls joined
//! by their index, the finish reason and usage picked up. The assembler is
//! fed the data of each event the caller was sent (after any translation to
//! OpenAI's format), so what is stored is exactly what the caller saw, and
//! it refuses to produce anything from a stream that failed or was cut.
//!
//! Chunks are read as loose JSON rather than as [`ChatCompletionChunk`]s:
//! OpenAI-compatible servers differ in what they leave out (Azure's first
//! chunk has an empty id and model, some omit `object` or a tool call's
//! `index`), and none of that should stop an otherwise sound answer from
//! being cached.
//!
//! [`ChatCompletionChunk`]: crate::openai::ChatCompletionChunk

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::openai::{ChatCompletion, Choice, FunctionCall, ResponseMessage, ToolCall, Usage};

/// Rebuilds a `chat.completion` from the events of a stream. See the module docs.
#[derive(Debug, Default)]
pub struct StreamAssembler {
    id: String,
    model: String,
    created: u64,
    system_fingerprint: Option<String>,
    /// In order of first appearance; sorted by index at the end.
    choices: Vec<PartialChoice>,
    usage: Option<Usage>,
    /// `[DONE]` was seen: anything after it is not part of the answer.
    done: bool,
    /// An unreadable or error event was seen: the answer is not to be stored.
    failed: bool,
    bytes: usize,
}

/// One choice as far as it has arrived.
#[derive(Debug, Default)]
struct PartialChoice {
    index: u32,
    content: String,
    refusal: Option<String>,
    tool_calls: Vec<PartialCall>,
    finish_reason: Option<String>,
    logprobs: Option<Value>,
}

/// One tool call as far as it has arrived.
#[derive(Debug, Default)]
struct PartialCall {
    index: u32,
    id: String,
    kind: String,
    name: String,
    arguments: String,
}

impl StreamAssembler {
    /// An assembler that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one forwarded event's data (a `chat.completion.chunk` JSON, or
    /// `[DONE]`). Invalid JSON or an error event marks the assembly failed
    /// (finish then returns None).
    pub fn on_event(&mut self, data: &str) {
        if self.failed || self.done {
            return;
        }
        if data == "[DONE]" {
            self.done = true;
            return;
        }
        let Ok(Value::Object(chunk)) = crate::json::from_str::<Value>(data) else {
            self.failed = true;
            return;
        };
        if chunk.get("error").is_some_and(|e| !e.is_null()) {
            self.failed = true;
            return;
        }
        // The first non-empty values win: some servers open with a chunk
        // whose id, model and created are blank (Azure's prompt filter
        // results).
        let text = |field: &str| chunk.get(field).and_then(Value::as_str).filter(|s| !s.is_empty());
        if let (true, Some(id)) = (self.id.is_empty(), text("id")) {
            id.clone_into(&mut self.id);
        }
        if let (true, Some(model)) = (self.model.is_empty(), text("model")) {
            model.clone_into(&mut self.model);
        }
        if let (None, Some(fingerprint)) = (&self.system_fingerprint, text("system_fingerprint")) {
            self.system_fingerprint = Some(fingerprint.to_owned());
        }
        if self.created == 0 {
            self.created = chunk.get("created").and_then(Value::as_u64).unwrap_or(0);
        }
        // Usage is bookkeeping, not the answer: an unreadable one is dropped
        // rather than failing the assembly.
        if let Some(Ok(usage)) = chunk.get("usage").filter(|u| !u.is_null()).map(Usage::deserialize) {
            self.usage = Some(usage);
        }
        match chunk.get("choices") {
            None | Some(Value::Null) => {}
            Some(Value::Array(choices)) => {
                for choice in choices {
                    if !self.on_choice(choice, data.len()) {
                        self.failed = true;
                        return;
                    }
                }
            }
            Some(_) => self.failed = true,
        }
    }

    /// Adds one choice's delta; false when it is not an object.
    fn on_choice(&mut self, choice: &Value, event_len: usize) -> bool {
        let Value::Object(choice) = choice else { return false };
        let index = choice.get("index").and_then(Value::as_u64).and_then(|i| u32::try_from(i).ok()).unwrap_or(0);
        let position = match self.choices.iter().position(|c| c.index == index) {
            Some(position) => position,
            None => {
                self.choices.push(PartialChoice { index, ..PartialChoice::default() });
                self.choices.len() - 1
            }
        };
        let Some(slot) = self.choices.get_mut(position) else { return false };
        let mut added = 0;
        if let Some(delta) = choice.get("delta").and_then(Value::as_object) {
            if let Some(text) = delta.get("content").and_then(Value::as_str) {
                slot.content.push_str(text);
                added += text.len();
            }
            if let Some(text) = delta.get("refusal").and_then(Value::as_str) {
                slot.refusal.get_or_insert_with(String::new).push_str(text);
                added += text.len();
            }
            for call in delta.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
                added += slot.on_tool_call(call);
            }
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            slot.finish_reason = Some(reason.to_owned());
        }
        if let Some(logprobs) = choice.get("logprobs").filter(|l| !l.is_null()) {
            merge_logprobs(&mut slot.logprobs, logprobs);
            // A Value's size is not known without serializing it again; the
            // event's own length bounds it.
            added += event_len;
        }
        self.bytes += added;
        true
    }

    /// The whole answer once the stream ended properly (`[DONE]` seen or
    /// every choice finished): id and model from the chunks, created from
    /// the first chunk, choices with role `assistant`, content concatenated
    /// (None if there was none and there were tool calls or a refusal), tool
    /// calls assembled by index, refusal concatenated, finish_reason, and
    /// usage from the usage chunk if any. None if nothing was received, a
    /// choice never finished, or the assembly failed. A finished answer may
    /// still be one not to store (`content_filter`): that is
    /// [`is_cacheable`](super::entry::is_cacheable)'s call.
    pub fn finish(self) -> Option<ChatCompletion> {
        if self.failed || self.choices.is_empty() || self.choices.iter().any(|c| c.finish_reason.is_none()) {
            return None;
        }
        let mut choices = self.choices;
        crate::small_sort::sort_by_key(&mut choices, |c| c.index);
        let choices = choices.into_iter().map(PartialChoice::into_choice).collect();
        Some(ChatCompletion {
            id: self.id,
            object: "chat.completion".to_owned(),
            created: self.created,
            model: self.model,
            choices,
            usage: self.usage,
            system_fingerprint: self.system_fingerprint,
            extra: Map::new(),
        })
    }

    /// Bytes of answer held so far (text, tool calls, log probabilities), so
    /// the caller can give up on answers too large to store. The stored JSON
    /// exceeds it only by escaping and a small fixed envelope.
    pub fn size_hint(&self) -> usize {
        self.bytes
    }
}

impl PartialChoice {
    /// Adds one tool-call delta; returns the bytes it added. Id, type and
    /// name come from the first delta that carries them, arguments are
    /// concatenated. A delta without `index` (some servers send each call
    /// whole) opens a new call when it has an id, else continues the last.
    fn on_tool_call(&mut self, call: &Value) -> usize {
        fn text(value: Option<&Value>) -> &str {
            value.and_then(Value::as_str).unwrap_or_default()
        }
        let id = text(call.get("id"));
        let next = self.tool_calls.iter().map(|c| c.index.saturating_add(1)).max().unwrap_or(0);
        let index = match call.get("index").and_then(Value::as_u64).and_then(|i| u32::try_from(i).ok()) {
            Some(index) => index,
            None if !id.is_empty() => next,
            None => next.saturating_sub(1),
        };
        let position = match self.tool_calls.iter().position(|c| c.index == index) {
            Some(position) => position,
            None => {
                self.tool_calls.push(PartialCall { index, ..PartialCall::default() });
                self.tool_calls.len() - 1
            }
        };
        let Some(slot) = self.tool_calls.get_mut(position) else { return 0 };
        let kind = text(call.get("type"));
        let name = text(call.pointer("/function/name"));
        let arguments = text(call.pointer("/function/arguments"));
        for (held, new) in [(&mut slot.id, id), (&mut slot.kind, kind), (&mut slot.name, name)] {
            if held.is_empty() {
                new.clone_into(held);
            }
        }
        slot.arguments.push_str(arguments);
        id.len() + kind.len() + name.len() + arguments.len()
    }

    fn into_choice(self) -> Choice {
        let mut calls = self.tool_calls;
        crate::small_sort::sort_by_key(&mut calls, |c| c.index);
        let tool_calls: Vec<ToolCall> = calls
            .into_iter()
            .map(|c| ToolCall {
                id: c.id,
                kind: if c.kind.is_empty() { "function".to_owned() } else { c.kind },
                function: FunctionCall { name: c.name, arguments: c.arguments },
            })
            .collect();
        let refusal = self.refusal.filter(|r| !r.is_empty());
        // OpenAI's non-streamed shape has `content: null` beside tool calls
        // or a refusal; the empty string of a role chunk is not content.
        let content = if self.content.is_empty() && (!tool_calls.is_empty() || refusal.is_some()) { None } else { Some(self.content) };
        Choice {
            index: self.index,
            message: ResponseMessage {
                role: "assistant".to_owned(),
                content,
                tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
                refusal,
                extra: Map::new(),
            },
            finish_reason: self.finish_reason,
            logprobs: self.logprobs,
        }
    }
}

/// Appends a chunk's log probabilities to those held: the arrays under each
/// field (`content`, `refusal`) are concatenated, as clients do.
fn merge_logprobs(held: &mut Option<Value>, new: &Value) {
    let Some(Value::Object(held)) = held else {
        *held = Some(new.clone());
        return;
    };
    for (field, items) in new.as_object().into_iter().flatten() {
        let Value::Array(items) = items else { continue };
        match held.get_mut(field) {
            Some(Value::Array(existing)) => existing.extend(items.iter().cloned()),
            _ => {
                held.insert(field.clone(), Value::Array(items.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::entry::CacheEntry;
    use crate::sse::SseParser;
    use proptest::prelude::*;
    use serde_json::json;

    fn chunk(choices: Value) -> String {
        json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 7, "model": "gpt-x", "choices": choices}).to_string()
    }

    fn delta(index: u32, delta: Value) -> String {
        chunk(json!([{"index": index, "delta": delta, "finish_reason": null}]))
    }

    fn finish(index: u32, reason: &str) -> String {
        chunk(json!([{"index": index, "delta": {}, "finish_reason": reason}]))
    }

    fn run(events: &[String]) -> Option<ChatCompletion> {
        let mut assembler = StreamAssembler::new();
        for event in events {
            assembler.on_event(event);
        }
        assembler.finish()
    }

    fn message(completion: &ChatCompletion, index: usize) -> &ResponseMessage {
        &completion.choices[index].message
    }

    #[test]
    fn a_demo_like_stream_assembles() {
        let usage = json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 7, "model": "gpt-x", "choices": [],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}});
        let events = [
            delta(0, json!({"role": "assistant", "content": ""})),
            delta(0, json!({"content": "You "})),
            delta(0, json!({"content": "said: "})),
            delta(0, json!({"content": "hi"})),
            finish(0, "stop"),
            usage.to_string(),
            "[DONE]".to_owned(),
        ];
        let mut assembler = StreamAssembler::new();
        for event in &events {
            assembler.on_event(event);
        }
        assert_eq!(assembler.size_hint(), "You said: hi".len());
        let expected = ChatCompletion {
            id: "chatcmpl-1".into(),
            object: "chat.completion".into(),
            created: 7,
            model: "gpt-x".into(),
            choices: vec![Choice {
                index: 0,
                message: ResponseMessage { role: "assistant".into(), content: Some("You said: hi".into()), tool_calls: None, refusal: None, extra: Map::new() },
                finish_reason: Some("stop".into()),
                logprobs: None,
            }],
            usage: Some(Usage::new(5, 3)),
            system_fingerprint: None,
            extra: Map::new(),
        };
        assert_eq!(assembler.finish(), Some(expected));
    }

    #[test]
    fn tool_calls_split_over_many_chunks_and_interleaved_assemble_by_index() {
        let events = [
            delta(0, json!({"role": "assistant", "content": null})),
            delta(0, json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]})),
            delta(0, json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"ci"}}]})),
            delta(0, json!({"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": "{\"tz"}}]})),
            delta(0, json!({"tool_calls": [{"index": 0, "function": {"arguments": "ty\":\"Paris\"}"}}]})),
            delta(0, json!({"tool_calls": [{"index": 1, "function": {"arguments": "\":\"UTC\"}"}}]})),
            finish(0, "tool_calls"),
        ];
        let completion = run(&events).unwrap();
        let m = message(&completion, 0);
        assert_eq!(m.content, None);
        let calls = m.tool_calls.as_ref().unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!((calls[0].id.as_str(), calls[0].kind.as_str(), calls[0].function.name.as_str()), ("call_a", "function", "get_weather"));
        assert_eq!(calls[0].function.arguments, r#"{"city":"Paris"}"#);
        assert_eq!((calls[1].id.as_str(), calls[1].function.name.as_str()), ("call_b", "get_time"));
        assert_eq!(calls[1].function.arguments, r#"{"tz":"UTC"}"#);
        assert_eq!(completion.choices[0].finish_reason.as_deref(), Some("tool_calls"));
    }

    #[test]
    fn whole_tool_calls_without_index_each_open_a_call() {
        let events = [
            delta(0, json!({"tool_calls": [{"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}}]})),
            delta(0, json!({"tool_calls": [{"id": "b", "type": "function", "function": {"name": "g", "arguments": "{}"}}]})),
            finish(0, "tool_calls"),
        ];
        let completion = run(&events).unwrap();
        let names: Vec<&str> = message(&completion, 0).tool_calls.iter().flatten().map(|c| c.function.name.as_str()).collect();
        assert_eq!(names, ["f", "g"]);
    }

    #[test]
    fn interleaved_choices_assemble_separately() {
        let events = [
            chunk(json!([{"index": 1, "delta": {"role": "assistant", "content": ""}, "finish_reason": null},
                         {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}])),
            delta(1, json!({"content": "B1 "})),
            delta(0, json!({"content": "A1 "})),
            delta(0, json!({"content": "A2"})),
            delta(1, json!({"content": "B2"})),
            finish(1, "length"),
            finish(0, "stop"),
            "[DONE]".to_owned(),
        ];
        let completion = run(&events).unwrap();
        assert_eq!(completion.choices.len(), 2);
        assert_eq!((completion.choices[0].index, message(&completion, 0).content.as_deref()), (0, Some("A1 A2")));
        assert_eq!((completion.choices[1].index, message(&completion, 1).content.as_deref()), (1, Some("B1 B2")));
        assert_eq!(completion.choices[1].finish_reason.as_deref(), Some("length"));
    }

    #[test]
    fn finished_choices_without_done_assemble() {
        let completion = run(&[delta(0, json!({"content": "x"})), finish(0, "stop")]).unwrap();
        assert_eq!(message(&completion, 0).content.as_deref(), Some("x"));
    }

    #[test]
    fn cut_failed_and_empty_streams_give_nothing() {
        assert_eq!(run(&[]), None);
        assert_eq!(run(&["[DONE]".to_owned()]), None);
        assert_eq!(run(&[delta(0, json!({"content": "x"}))]), None, "cut before finish");
        assert_eq!(run(&[delta(0, json!({"content": "x"})), "[DONE]".to_owned()]), None, "done but unfinished");
        let two = chunk(json!([{"index": 0, "delta": {"content": "a"}, "finish_reason": null}, {"index": 1, "delta": {"content": "b"}, "finish_reason": null}]));
        assert_eq!(run(&[two, finish(0, "stop"), "[DONE]".to_owned()]), None, "one choice never finished");
        let error = json!({"error": {"message": "overloaded", "type": "server_error"}}).to_string();
        assert_eq!(run(&[delta(0, json!({"content": "x"})), error, finish(0, "stop")]), None, "error event");
        assert_eq!(run(&[delta(0, json!({"content": "x"})), "{not json".to_owned(), finish(0, "stop")]), None, "garbage");
        assert_eq!(run(&["[1,2]".to_owned()]), None);
        assert_eq!(run(&[chunk(json!("nope")), finish(0, "stop")]), None);
    }

    #[test]
    fn blank_opening_chunks_do_not_hide_the_id_and_model() {
        let filter = json!({"id": "", "object": "", "created": 0, "model": "", "choices": [], "prompt_filter_results": []}).to_string();
        let completion = run(&[filter, delta(0, json!({"content": "x"})), finish(0, "stop")]).unwrap();
        assert_eq!((completion.id.as_str(), completion.model.as_str(), completion.created), ("chatcmpl-1", "gpt-x", 7));
    }

    #[test]
    fn events_after_done_are_ignored() {
        let completion = run(&[delta(0, json!({"content": "x"})), finish(0, "stop"), "[DONE]".to_owned(), "garbage".to_owned()]).unwrap();
        assert_eq!(message(&completion, 0).content.as_deref(), Some("x"));
    }

    fn entry_with(content: &str) -> CacheEntry {
        let answer = ChatCompletion {
            id: "orig".into(),
            object: "chat.completion".into(),
            created: 1,
            model: "m".into(),
            choices: vec![Choice {
                index: 0,
                message: ResponseMessage { role: "assistant".into(), content: Some(content.to_owned()), tool_calls: None, refusal: None, extra: Map::new() },
                finish_reason: Some("stop".into()),
                logprobs: None,
            }],
            usage: Some(Usage::new(1, 2)),
            system_fingerprint: None,
            extra: Map::new(),
        };
        CacheEntry { created_ms: 0, ttl_ms: 1, provider: "p".into(), model: "m".into(), answer, cost_usd: None }
    }

    proptest! {
        #[test]
        fn a_replayed_entry_assembles_to_its_content(content in any::<String>(), usage in any::<bool>()) {
            let entry = entry_with(&content);
            let body = entry.sse_body("id", 2, usage);
            let mut parser = SseParser::new();
            let mut events = Vec::new();
            parser.push(&body, &mut events).unwrap();
            parser.finish().unwrap();
            let mut assembler = StreamAssembler::new();
            for event in &events {
                assembler.on_event(&event.data);
            }
            let completion = assembler.finish().unwrap();
            prop_assert_eq!(completion.choices[0].message.content.as_deref(), Some(content.as_str()));
            prop_assert_eq!(completion.usage.is_some(), usage);
        }
    }
}
