//! Relaying an upstream SSE stream to the caller, chunk by chunk.
//!
//! [`StreamRelay`] is fed the upstream's bytes as they arrive and writes the
//! caller's bytes: each complete upstream event is checked, observed (first
//! token, finish reason, usage) and re-encoded at once, so nothing waits for
//! more than the event it belongs to. It knows whether the stream ended
//! properly; if it did not, it writes a final `stream_interrupted` error
//! event instead of letting a truncated answer look complete.
//!
//! States, named after what they wait for: `ExpectFirstEvent` (nothing has
//! reached the caller yet, so a failure can still become a plain HTTP error,
//! or a retry), `Streaming`, then `Done` or `Failed`.
//!
//! With output guardrails ([`StreamRelay::with_guard`]) each choice's
//! content passes through its own [`OutputGuard`]: a chunk carries the text
//! the guard released (often `""`), the text still held goes out in a chunk
//! of its own just before the choice's finish chunk (or before `[DONE]`),
//! and a block ends the stream with a `guardrail_blocked` error event. The
//! assembler and the tap see the guarded chunks, never the raw ones.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::cache::assemble::StreamAssembler;
use crate::guardrails::schema::SchemaError;
use crate::guardrails::{Blocked, OutputGuard, Release, Report};
use crate::openai::{ChatCompletion, Usage};
use crate::providers::StreamTranslator;
use crate::sse::{self, SseEvent, SseParser};
use crate::GatewayError;

/// Where the relay is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayState {
    /// Nothing forwarded yet.
    ExpectFirstEvent,
    /// At least one event forwarded, the end not yet seen.
    Streaming,
    /// `[DONE]` forwarded: the stream is complete.
    Done,
    /// A final error event was written.
    Failed,
}

/// What the relay learned about the stream, for logs and (later) cost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamSummary {
    /// When the first content or tool-call delta arrived (ms since epoch).
    pub first_token_at: Option<u64>,
    /// Usage from the upstream's final chunk.
    pub usage: Option<Usage>,
    /// The last finish reason seen.
    pub finish_reason: Option<String>,
    /// Events forwarded to the caller.
    pub events_forwarded: u32,
    /// Characters of content, refusal and tool-call arguments streamed: the
    /// basis of a token estimate for providers that report no usage.
    pub streamed_chars: u64,
}

/// Relays one upstream stream. See the module docs.
#[derive(Debug)]
pub struct StreamRelay {
    parser: SseParser,
    events: Vec<SseEvent>,
    state: RelayState,
    forward_usage_chunk: bool,
    summary: StreamSummary,
    /// Turns a non-OpenAI provider's events into OpenAI chunks.
    translator: Option<StreamTranslator>,
    translated: Vec<String>,
    /// Builds the whole answer for the cache as it streams past.
    assembler: Option<StreamAssembler>,
    /// Every event forwarded (usage chunk included), kept for
    /// [`Self::drain_tapped`] when requests wait on this stream.
    tapped: Option<Vec<String>>,
    /// Output guardrails, when the route has them.
    guard: Option<Guard>,
    /// The JSON schema the answer must match, when the caller asked for one
    /// and the route checks it.
    schema: Option<SchemaCheck>,
}

/// A streamed answer's JSON-schema check. The bytes reach the caller as
/// they come, so a failure cannot stop them: it is reported in one last
/// chunk before `[DONE]` (no choices, an `edgeway.json_schema` member), and
/// in the log.
#[derive(Debug)]
struct SchemaCheck {
    schema: Value,
    /// The first choice's content so far.
    text: String,
    /// The last chunk's `id`, `created` and `model`, to frame the report.
    frame: Map<String, Value>,
    result: Option<Result<(), SchemaError>>,
}

/// The output guardrails of a stream: one guard per choice.
#[derive(Debug)]
struct Guard {
    /// Copied for each choice as it first appears.
    template: OutputGuard,
    /// By choice index.
    choices: Vec<(u64, OutputGuard)>,
    /// For the error event a block ends the stream with.
    request_id: String,
    /// The last chunk without its choices and usage (id, model, created,
    /// ...): the frame of the chunks that carry held text.
    envelope: Option<Map<String, Value>>,
    blocked: Option<Blocked>,
    /// The latest time seen, for what the upstream's end releases.
    last_now: u64,
}

impl Guard {
    fn choice(&mut self, index: u64) -> &mut OutputGuard {
        if !self.choices.iter().any(|(i, _)| *i == index) {
            self.choices.push((index, self.template.clone()));
        }
        match self.choices.iter_mut().find(|(i, _)| *i == index) {
            Some((_, guard)) => guard,
            None => &mut self.template, // unreachable: pushed above
        }
    }
}

/// The fields of a `chat.completion.chunk` the relay looks at; everything
/// else is forwarded untouched. Text is borrowed from the event where it
/// can be (no escapes), as every chunk of every stream passes through here.
#[derive(Deserialize)]
struct ObservedChunk<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default)]
    created: Option<u64>,
    #[serde(default, borrow)]
    model: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    choices: Option<Vec<ObservedChoice<'a>>>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ObservedChoice<'a> {
    #[serde(default, borrow)]
    delta: Option<ObservedDelta<'a>>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct ObservedDelta<'a> {
    #[serde(default, borrow)]
    content: Option<Cow<'a, str>>,
    #[serde(default)]
    tool_calls: Option<serde_json::Value>,
    #[serde(default, borrow)]
    refusal: Option<Cow<'a, str>>,
}

impl StreamRelay {
    /// A relay for a caller who did (`true`) or did not ask for the final
    /// usage chunk; the upstream is always asked for it.
    pub fn new(caller_wants_usage: bool) -> Self {
        Self {
            parser: SseParser::new(),
            events: Vec::new(),
            state: RelayState::ExpectFirstEvent,
            forward_usage_chunk: caller_wants_usage,
            summary: StreamSummary::default(),
            translator: None,
            translated: Vec::new(),
            assembler: None,
            tapped: None,
            guard: None,
            schema: None,
        }
    }

    /// The same relay, checking the answer against `schema` once it is
    /// complete (see [`SchemaCheck`]).
    pub fn with_schema(mut self, schema: Value) -> Self {
        self.schema = Some(SchemaCheck { schema, text: String::new(), frame: Map::new(), result: None });
        self
    }

    /// The streamed answer's schema check: `None` before the end or without
    /// a schema, `Some(Err(..))` when it did not match.
    pub fn schema_result(&self) -> Option<&Result<(), SchemaError>> {
        self.schema.as_ref().and_then(|s| s.result.as_ref())
    }

    /// Checks the finished answer against the schema and, if it does not
    /// match, writes the report chunk.
    fn check_schema(&mut self, out: &mut Vec<u8>) {
        let Some(check) = self.schema.as_mut().filter(|c| c.result.is_none()) else { return };
        let result = crate::guardrails::schema::check_answer_text(&check.schema, &check.text);
        if let Err(error) = &result {
            let mut chunk = std::mem::take(&mut check.frame);
            chunk.insert("object".to_owned(), Value::from("chat.completion.chunk"));
            chunk.insert("choices".to_owned(), Value::Array(Vec::new()));
            chunk.insert("edgeway".to_owned(), serde_json::json!({"json_schema": {"valid": false, "path": error.path, "message": error.message}}));
            sse::encode_data(&Value::Object(chunk).to_string(), out);
        }
        check.result = Some(result);
    }

    /// The same relay, passing each choice's streamed content through a
    /// copy of `guard` (see the module docs); `request_id` goes in the
    /// `guardrail_blocked` event if a rule blocks.
    pub fn with_guard(mut self, guard: OutputGuard, request_id: &str) -> Self {
        self.guard = Some(Guard {
            template: guard,
            choices: Vec::new(),
            request_id: request_id.to_owned(),
            envelope: None,
            blocked: None,
            last_now: 0,
        });
        self
    }

    /// What the output guardrails ran and found, all choices together
    /// (`None` without a guard).
    pub fn guard_report(&self) -> Option<Report> {
        let guard = self.guard.as_ref()?;
        let mut report = guard.template.report().clone();
        for (_, choice) in &guard.choices {
            report.merge(choice.report().clone());
        }
        Some(report)
    }

    /// The longest the guard held any character back, in ms: the latency it
    /// added (0 without a guard).
    pub fn guard_held_ms(&self) -> u64 {
        self.guard.as_ref().map_or(0, |g| g.choices.iter().map(|(_, c)| c.max_held_ms()).max().unwrap_or(0))
    }

    /// The block that ended the stream, if a guardrail blocked it.
    pub fn guard_blocked(&self) -> Option<&Blocked> {
        self.guard.as_ref().and_then(|g| g.blocked.as_ref())
    }

    /// The same relay, also keeping every event it forwards (in OpenAI's
    /// chunk format, the usage chunk included) for others to follow.
    pub fn with_tap(mut self) -> Self {
        self.tapped = Some(Vec::new());
        self
    }

    /// Moves the events kept since the last call into `out`.
    pub fn drain_tapped(&mut self, out: &mut Vec<String>) {
        if let Some(tapped) = self.tapped.as_mut() {
            out.append(tapped);
        }
    }

    /// The same relay, also assembling the answer for the cache.
    pub fn with_assembler(mut self) -> Self {
        self.assembler = Some(StreamAssembler::new());
        self
    }

    /// The whole answer, once the stream completed properly; `None` for a
    /// stream that failed, was cut, or was not assembled. Nothing partial
    /// is ever handed out for caching.
    pub fn take_answer(&mut self) -> Option<ChatCompletion> {
        if self.state != RelayState::Done {
            return None;
        }
        self.assembler.take().and_then(StreamAssembler::finish)
    }

    /// The same relay, reading a provider's own stream format through
    /// `translator` (`None`: the upstream already speaks OpenAI's).
    pub fn with_translator(mut self, translator: Option<StreamTranslator>) -> Self {
        self.translator = translator;
        self
    }

    /// Where the relay is.
    pub fn state(&self) -> RelayState {
        self.state
    }

    /// What was learned so far.
    pub fn summary(&self) -> &StreamSummary {
        &self.summary
    }

    /// Feeds upstream bytes received at `now`; appends the caller's bytes to
    /// `out`. An error means the stream cannot go on: call [`Self::fail`]
    /// (or, in `ExpectFirstEvent`, answer with a plain error instead).
    pub fn on_upstream_bytes(&mut self, bytes: &[u8], now: u64, out: &mut Vec<u8>) -> Result<(), String> {
        if matches!(self.state, RelayState::Done | RelayState::Failed) {
            return Ok(());
        }
        self.events.clear();
        let parsed = self.parser.push(bytes, &mut self.events);
        let events = std::mem::take(&mut self.events);
        let mut result = Ok(());
        for event in &events {
            if let Err(reason) = self.forward_event(event, now, out) {
                result = Err(reason);
                break;
            }
            // Failed: a guardrail blocked the stream.
            if matches!(self.state, RelayState::Done | RelayState::Failed) {
                break;
            }
        }
        self.events = events;
        result?;
        parsed.map_err(|e| format!("the upstream sent an unreadable event stream ({e})"))
    }

    /// Forwards one upstream event, through the translator if there is one.
    fn forward_event(&mut self, event: &SseEvent, now: u64, out: &mut Vec<u8>) -> Result<(), String> {
        let Some(translator) = self.translator.as_mut() else { return self.forward(&event.data, now, out) };
        let mut translated = std::mem::take(&mut self.translated);
        let result = translator.on_event(&event.data, &mut translated);
        let forwarded = self.forward_all(&mut translated, now, out);
        self.translated = translated;
        result.and(forwarded)
    }

    fn forward_all(&mut self, translated: &mut Vec<String>, now: u64, out: &mut Vec<u8>) -> Result<(), String> {
        for data in translated.drain(..) {
            if !matches!(self.state, RelayState::Done | RelayState::Failed) {
                self.forward(&data, now, out)?;
            }
        }
        Ok(())
    }

    fn forward(&mut self, data: &str, now: u64, out: &mut Vec<u8>) -> Result<(), String> {
        if self.guard.is_some() {
            return self.forward_guarded(data, now, out);
        }
        self.forward_plain(data, now, out)
    }

    /// Forwards one chunk after passing its content through the guard; a
    /// choice that finishes here first gets the text its guard still held,
    /// in a chunk of its own.
    fn forward_guarded(&mut self, data: &str, now: u64, out: &mut Vec<u8>) -> Result<(), String> {
        if data == "[DONE]" {
            if self.finish_guards(now, out)? {
                return Ok(());
            }
            return self.forward_plain(data, now, out);
        }
        let mut chunk = match crate::json::from_str::<Value>(data) {
            Ok(Value::Object(chunk)) if !chunk.contains_key("error") => chunk,
            // The plain path reports what is wrong with it.
            _ => return self.forward_plain(data, now, out),
        };
        let Some(guard) = self.guard.as_mut() else { return self.forward_plain(data, now, out) };
        guard.last_now = guard.last_now.max(now);
        let mut held = Vec::new();
        let mut blocked = None;
        if let Some(Value::Array(choices)) = chunk.get_mut("choices") {
            for (position, choice) in choices.iter_mut().enumerate() {
                let index = choice.get("index").and_then(Value::as_u64).unwrap_or(position as u64);
                let choice_guard = guard.choice(index);
                let mut release = match choice.pointer("/delta/content").and_then(Value::as_str) {
                    Some(text) => choice_guard.push(text, now),
                    None => Release::default(),
                };
                let finishing = choice.get("finish_reason").is_some_and(|r| !r.is_null());
                if finishing && release.blocked.is_none() {
                    let rest = choice_guard.finish(now);
                    release.text.push_str(&rest.text);
                    release.blocked = rest.blocked;
                }
                if release.blocked.is_some() {
                    blocked = release.blocked;
                    break;
                }
                let content = choice.pointer_mut("/delta/content");
                if finishing {
                    held.push((index, release.text));
                    if let Some(content) = content {
                        *content = Value::String(String::new());
                    }
                } else if let Some(content) = content {
                    *content = Value::String(release.text);
                }
            }
        }
        let envelope: Map<String, Value> = chunk.iter().filter(|(k, _)| !matches!(k.as_str(), "choices" | "usage")).map(|(k, v)| (k.clone(), v.clone())).collect();
        guard.envelope = Some(envelope);
        if let Some(blocked) = blocked {
            self.block(blocked, out);
            return Ok(());
        }
        for (index, text) in held {
            self.forward_held(index, &text, now, out)?;
        }
        self.forward_plain(&Value::Object(chunk).to_string(), now, out)
    }

    /// Finishes every choice's guard that is not done yet and forwards what
    /// they held; `true` if one blocked (the stream is then over).
    fn finish_guards(&mut self, now: u64, out: &mut Vec<u8>) -> Result<bool, String> {
        let Some(guard) = self.guard.as_mut() else { return Ok(false) };
        let mut held = Vec::new();
        for (index, choice) in guard.choices.iter_mut().filter(|(_, c)| !c.is_done()) {
            let release = choice.finish(now);
            if let Some(blocked) = release.blocked {
                self.block(blocked, out);
                return Ok(true);
            }
            held.push((*index, release.text));
        }
        for (index, text) in held {
            self.forward_held(index, &text, now, out)?;
        }
        Ok(false)
    }

    /// Forwards a chunk carrying only `text` for choice `index`, framed like
    /// the stream's last chunk.
    fn forward_held(&mut self, index: u64, text: &str, now: u64, out: &mut Vec<u8>) -> Result<(), String> {
        let Some(mut chunk) = self.guard.as_ref().and_then(|g| g.envelope.clone()).filter(|_| !text.is_empty()) else {
            return Ok(());
        };
        chunk.insert("choices".to_owned(), serde_json::json!([{"index": index, "delta": {"content": text}, "finish_reason": null}]));
        self.forward_plain(&Value::Object(chunk).to_string(), now, out)
    }

    /// Ends the stream with a `guardrail_blocked` error event: nothing more
    /// is forwarded, and nothing is cached.
    fn block(&mut self, blocked: Blocked, out: &mut Vec<u8>) {
        if let Some(guard) = self.guard.as_mut() {
            sse::encode_data(&blocked.to_json(&guard.request_id), out);
            guard.blocked = Some(blocked);
        }
        self.state = RelayState::Failed;
    }

    fn forward_plain(&mut self, data: &str, now: u64, out: &mut Vec<u8>) -> Result<(), String> {
        if let Some(assembler) = self.assembler.as_mut() {
            assembler.on_event(data);
        }
        if let Some(tapped) = self.tapped.as_mut() {
            tapped.push(data.to_owned());
        }
        if data == "[DONE]" {
            self.check_schema(out);
            out.extend_from_slice(sse::DONE);
            self.state = RelayState::Done;
            return Ok(());
        }
        let chunk: ObservedChunk = serde_json::from_slice(data.as_bytes())
            .map_err(|_| "the upstream sent an event that is not valid JSON".to_owned())?;
        if let Some(error) = chunk.error {
            let message = error.get("message").and_then(|m| m.as_str()).unwrap_or("no message");
            return Err(format!("the upstream reported an error mid-stream: {message}"));
        }
        if let Some(usage) = chunk.usage {
            self.summary.usage = Some(usage);
        }
        let choices = chunk.choices.unwrap_or_default();
        if let Some(check) = self.schema.as_mut() {
            if let Some(text) = choices.first().and_then(|c| c.delta.as_ref()).and_then(|d| d.content.as_deref()) {
                check.text.push_str(text);
            }
            for (field, value) in [("id", chunk.id), ("model", chunk.model)] {
                if let Some(value) = value {
                    check.frame.insert(field.to_owned(), Value::String(value.into_owned()));
                }
            }
            if let Some(created) = chunk.created {
                check.frame.insert("created".to_owned(), Value::from(created));
            }
        }
        for choice in &choices {
            if let Some(delta) = &choice.delta {
                let has_token = delta.content.as_deref().is_some_and(|c| !c.is_empty())
                    || delta.tool_calls.is_some()
                    || delta.refusal.as_deref().is_some_and(|r| !r.is_empty());
                if has_token && self.summary.first_token_at.is_none() {
                    self.summary.first_token_at = Some(now);
                }
                self.summary.streamed_chars += delta_chars(delta);
            }
            if let Some(reason) = &choice.finish_reason {
                self.summary.finish_reason = Some(reason.clone());
            }
        }
        // The usage-only chunk exists because the gateway asked for it; a
        // caller who did not ask must not see it.
        let usage_only = choices.is_empty() && self.summary.usage.is_some();
        if usage_only && !self.forward_usage_chunk {
            return Ok(());
        }
        sse::encode_data(data, out);
        self.summary.events_forwarded += 1;
        self.state = RelayState::Streaming;
        Ok(())
    }

    /// The upstream closed its body. A stream is complete when `[DONE]` was
    /// seen, or when a finish reason was seen (some OpenAI-compatible servers
    /// omit `[DONE]`; the caller gets one anyway). Otherwise it was cut.
    pub fn on_upstream_end(&mut self, out: &mut Vec<u8>) -> Result<(), String> {
        if let Some(translator) = self.translator.as_mut() {
            let mut translated = std::mem::take(&mut self.translated);
            translator.on_end(&mut translated);
            // What the end adds (usage, `[DONE]`) carries no token: no time to
            // record, except for how long a guard held text.
            let now = self.guard.as_ref().map_or(0, |g| g.last_now);
            let forwarded = self.forward_all(&mut translated, now, out);
            self.translated = translated;
            forwarded?;
        }
        match self.state {
            RelayState::Done | RelayState::Failed => Ok(()),
            _ if self.summary.finish_reason.is_some() => {
                let now = self.guard.as_ref().map_or(0, |g| g.last_now);
                if self.finish_guards(now, out)? {
                    return Ok(());
                }
                self.check_schema(out);
                out.extend_from_slice(sse::DONE);
                self.state = RelayState::Done;
                Ok(())
            }
            _ => Err("the upstream closed the stream before it finished".to_owned()),
        }
    }

    /// Ends the stream with a final error event carrying `stream_interrupted`
    /// and the request id, the way OpenAI's clients expect an error mid-stream.
    pub fn fail(&mut self, reason: &str, request_id: &str, out: &mut Vec<u8>) {
        if matches!(self.state, RelayState::Done | RelayState::Failed) {
            return;
        }
        let error = GatewayError::StreamInterrupted { reason: reason.to_owned() };
        sse::encode_data(&error.to_json(request_id), out);
        self.state = RelayState::Failed;
    }
}

/// Characters a delta adds to the answer (text, refusal, tool arguments).
fn delta_chars(delta: &ObservedDelta) -> u64 {
    let text = |s: &Option<Cow<str>>| s.as_deref().map_or(0, |t| t.chars().count() as u64);
    let arguments = delta.tool_calls.as_ref().and_then(|calls| calls.as_array()).map_or(0, |calls| {
        calls
            .iter()
            .filter_map(|call| call.pointer("/function/arguments").and_then(|a| a.as_str()))
            .map(|a| a.chars().count() as u64)
            .sum()
    });
    text(&delta.content) + text(&delta.refusal) + arguments
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(content: &str) -> String {
        format!("data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":{content:?}}},\"finish_reason\":null}}],\"usage\":null}}\n\n")
    }

    const FINISH: &str = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n";
    const USAGE: &str = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}\n\n";
    const DONE: &str = "data: [DONE]\n\n";

    fn full_stream() -> String {
        format!("{}{}{FINISH}{USAGE}{DONE}", chunk("Hel"), chunk("lo"))
    }

    fn relay_all(relay: &mut StreamRelay, input: &str) -> String {
        let mut out = Vec::new();
        relay.on_upstream_bytes(input.as_bytes(), 100, &mut out).unwrap();
        relay.on_upstream_end(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_complete_stream_passes_through_and_is_observed() {
        let mut relay = StreamRelay::new(true);
        let out = relay_all(&mut relay, &full_stream());
        assert_eq!(out, full_stream());
        assert_eq!(relay.state(), RelayState::Done);
        let summary = relay.summary();
        assert_eq!(summary.usage, Some(Usage::new(5, 2)));
        assert_eq!(summary.finish_reason.as_deref(), Some("stop"));
        assert_eq!(summary.first_token_at, Some(100));
    }

    #[test]
    fn the_usage_chunk_is_hidden_from_callers_who_did_not_ask() {
        let mut relay = StreamRelay::new(false);
        let out = relay_all(&mut relay, &full_stream());
        assert!(!out.contains("prompt_tokens"));
        assert!(out.ends_with(DONE));
        assert_eq!(relay.summary().usage, Some(Usage::new(5, 2)));
    }

    #[test]
    fn each_event_is_forwarded_as_soon_as_it_is_complete() {
        let mut relay = StreamRelay::new(false);
        let stream = full_stream();
        let first = chunk("Hel");
        let (a, b) = stream.split_at(first.len() - 1);
        let mut out = Vec::new();
        relay.on_upstream_bytes(a.as_bytes(), 1, &mut out).unwrap();
        assert!(out.is_empty(), "an incomplete event must wait");
        assert_eq!(relay.state(), RelayState::ExpectFirstEvent);
        relay.on_upstream_bytes(b.get(..1).unwrap().as_bytes(), 2, &mut out).unwrap();
        assert_eq!(String::from_utf8(out.clone()).unwrap(), first);
        assert_eq!(relay.state(), RelayState::Streaming);
    }

    #[test]
    fn a_cut_stream_is_an_error_not_a_quiet_end() {
        let mut relay = StreamRelay::new(false);
        let mut out = Vec::new();
        relay.on_upstream_bytes(chunk("Hel").as_bytes(), 1, &mut out).unwrap();
        let reason = relay.on_upstream_end(&mut out).unwrap_err();
        relay.fail(&reason, "req_9", &mut out);
        let text = String::from_utf8(out).unwrap();
        let last = text.trim_end().rsplit("\n\n").next().unwrap();
        let error: serde_json::Value = crate::json::from_str(last.strip_prefix("data: ").unwrap()).unwrap();
        assert_eq!(error["error"]["code"], "stream_interrupted");
        assert_eq!(error["error"]["request_id"], "req_9");
        assert!(!text.contains("[DONE]"));
        assert_eq!(relay.state(), RelayState::Failed);
    }

    #[test]
    fn a_finish_without_done_still_completes() {
        let mut relay = StreamRelay::new(false);
        let out = relay_all(&mut relay, &format!("{}{FINISH}", chunk("x")));
        assert!(out.ends_with(DONE));
    }

    #[test]
    fn malformed_json_and_upstream_errors_stop_the_stream() {
        let mut relay = StreamRelay::new(false);
        let mut out = Vec::new();
        assert!(relay.on_upstream_bytes(b"data: {not json\n\n", 1, &mut out).is_err());
        let mut relay = StreamRelay::new(false);
        let err = relay.on_upstream_bytes(b"data: {\"error\":{\"message\":\"overloaded\"}}\n\n", 1, &mut out).unwrap_err();
        assert!(err.contains("overloaded"));
    }

    #[test]
    fn a_tap_keeps_every_forwarded_event_including_the_hidden_usage_chunk() {
        let mut relay = StreamRelay::new(false).with_tap();
        let out = relay_all(&mut relay, &full_stream());
        assert!(!out.contains("prompt_tokens"));
        let mut tapped = Vec::new();
        relay.drain_tapped(&mut tapped);
        assert_eq!(tapped.len(), 5);
        assert!(tapped[3].contains("prompt_tokens"));
        assert_eq!(tapped[4], "[DONE]");
        relay.drain_tapped(&mut tapped);
        assert_eq!(tapped.len(), 5, "drained once");
    }

    #[test]
    fn the_role_chunk_is_not_the_first_token() {
        let mut relay = StreamRelay::new(false);
        let mut out = Vec::new();
        let role = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n";
        relay.on_upstream_bytes(role.as_bytes(), 5, &mut out).unwrap();
        assert_eq!(relay.summary().first_token_at, None);
        relay.on_upstream_bytes(chunk("a").as_bytes(), 9, &mut out).unwrap();
        assert_eq!(relay.summary().first_token_at, Some(9));
    }

    mod schema_checked {
        use super::*;

        fn relay_of(pieces: &[&str]) -> (StreamRelay, String) {
            let schema = serde_json::json!({"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}});
            let mut relay = StreamRelay::new(false).with_schema(schema);
            let chunks: String = pieces.iter().map(|p| chunk(p)).collect();
            let mut out = Vec::new();
            relay.on_upstream_bytes(format!("{chunks}{FINISH}{DONE}").as_bytes(), 1, &mut out).unwrap();
            (relay, String::from_utf8(out).unwrap())
        }

        #[test]
        fn a_matching_answer_streams_as_is() {
            let (relay, out) = relay_of(&["{\"city\": ", "\"Paris\"}"]);
            assert_eq!(relay.schema_result(), Some(&Ok(())));
            assert!(!out.contains("edgeway"));
            assert!(out.ends_with("data: [DONE]\n\n"));
        }

        #[test]
        fn a_mismatch_is_reported_in_a_last_chunk_before_done() {
            let (relay, out) = relay_of(&["{\"town\": ", "\"Paris\"}"]);
            assert!(matches!(relay.schema_result(), Some(Err(error)) if error.message.contains("city")));
            let events: Vec<&str> = out.split("\n\n").filter(|e| !e.is_empty()).collect();
            assert_eq!(events.last(), Some(&"data: [DONE]"));
            let report: Value = crate::json::from_str(events[events.len() - 2].strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(report["choices"], serde_json::json!([]));
            assert_eq!(report["edgeway"]["json_schema"]["valid"], false);
            assert_eq!(report["object"], "chat.completion.chunk");
            assert!(report["id"].is_string(), "framed like the stream's chunks");
        }
    }

    mod guarded {
        use super::*;
        use crate::guardrails::{Guardrails, RawGuardrails};

        const ROLE: &str = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n";

        fn guard(output: &str) -> OutputGuard {
            let raw: RawGuardrails = toml::from_str(&format!("output = [{output}]\nholdback_chars = 16")).unwrap();
            OutputGuard::new(&Guardrails::from_raw(&raw).unwrap())
        }

        fn secret_stream() -> String {
            let pieces = ["Your key is sk-pr", "oj-Zq3xT9", "vLm2Wp8Rk4", "Jd6Hs1Fg and", " nothing else is secret here, really."];
            let chunks: String = pieces.iter().map(|p| chunk(p)).collect();
            format!("{ROLE}{chunks}{FINISH}{USAGE}{DONE}")
        }

        /// The caller's events as JSON (`[DONE]` as a string).
        fn events(out: &[u8]) -> Vec<serde_json::Value> {
            let text = String::from_utf8(out.to_vec()).unwrap();
            text.split("\n\n")
                .filter(|e| !e.is_empty())
                .map(|e| {
                    let data = e.strip_prefix("data: ").unwrap();
                    crate::json::from_str(data).unwrap_or_else(|_| serde_json::Value::String(data.to_owned()))
                })
                .collect()
        }

        fn content(events: &[serde_json::Value]) -> String {
            events.iter().filter_map(|e| e.pointer("/choices/0/delta/content").and_then(|c| c.as_str())).collect()
        }

        #[test]
        fn a_secret_split_over_chunks_never_reaches_the_caller_or_the_cache() {
            let stream = secret_stream();
            let expected = "Your key is [REDACTED:openai_key] and nothing else is secret here, really.";
            for cut in 0..=stream.len() {
                let mut relay = StreamRelay::new(true).with_assembler().with_guard(guard(r#"{ rule = "secrets", action = "redact" }"#), "req_1");
                let mut out = Vec::new();
                relay.on_upstream_bytes(&stream.as_bytes()[..cut], 1, &mut out).unwrap();
                relay.on_upstream_bytes(&stream.as_bytes()[cut..], 2, &mut out).unwrap();
                relay.on_upstream_end(&mut out).unwrap();
                let text = String::from_utf8(out.clone()).unwrap();
                for part in ["sk-pr", "Zq3xT9", "vLm2Wp8Rk4", "Jd6Hs1Fg"] {
                    assert!(!text.contains(part), "{part} leaked with the cut at {cut}: {text}");
                }
                let events = events(&out);
                assert_eq!(content(&events), expected);
                assert_eq!(events[0]["choices"][0]["delta"]["role"], "assistant", "the role chunk is kept");
                let finish = events.iter().position(|e| e["choices"][0]["finish_reason"] == "stop").unwrap();
                assert_eq!(content(&events[finish..]), "", "held text goes before the finish chunk");
                assert_eq!(events[finish + 1]["usage"]["total_tokens"], 7);
                assert_eq!(events.last().unwrap(), "[DONE]");
                assert_eq!(relay.state(), RelayState::Done);
                let answer = relay.take_answer().unwrap();
                assert_eq!(answer.choices[0].message.content.as_deref(), Some(expected));
                assert_eq!(relay.guard_report().unwrap().header_value(), "ran=output:secrets; redacted=output:secrets");
            }
        }

        #[test]
        fn a_block_ends_the_stream_with_guardrail_blocked_and_nothing_is_cached() {
            let pieces = ["All fine so far, and this part may go out. About proj", "ect Night", "ingale: the plan is", " secret and must stay so"];
            let stream: String = std::iter::once(ROLE.to_owned()).chain(pieces.iter().map(|p| chunk(p))).collect();
            let mut relay = StreamRelay::new(false).with_assembler().with_guard(guard(r#"{ rule = "deny", action = "block", phrases = ["project nightingale"] }"#), "req_7");
            let mut out = Vec::new();
            relay.on_upstream_bytes(stream.as_bytes(), 1, &mut out).unwrap();
            relay.on_upstream_bytes(format!("{}{FINISH}{DONE}", chunk(" more")).as_bytes(), 2, &mut out).unwrap();
            relay.on_upstream_end(&mut out).unwrap();
            relay.fail("ignored", "req_7", &mut out);
            let events = events(&out);
            let error = &events.last().unwrap()["error"];
            assert_eq!(error["code"], "guardrail_blocked");
            assert_eq!(error["request_id"], "req_7");
            assert!(error["message"].as_str().unwrap().contains("`deny`"));
            let text = String::from_utf8(out).unwrap().to_lowercase();
            assert!(!text.contains("nightingale") && !text.contains("proj") && !text.contains("[done]") && !text.contains("more"), "{text}");
            assert_eq!(content(&events), "All fine so far, and this part may go out. About ");
            assert_eq!(relay.state(), RelayState::Failed);
            assert_eq!(relay.guard_blocked().unwrap().rule, "deny");
            assert!(relay.take_answer().is_none());
        }

        #[test]
        fn held_text_goes_out_before_done_when_no_finish_reason_came() {
            let stream = format!("{}{}{DONE}", chunk("mail ada@exam"), chunk("ple.com"));
            let mut relay = StreamRelay::new(false).with_guard(guard(r#"{ rule = "email", action = "redact" }"#), "r");
            let out = relay_all(&mut relay, &stream);
            let events = events(out.as_bytes());
            assert_eq!(content(&events), "mail [REDACTED:email]");
            assert_eq!(events.last().unwrap(), "[DONE]");
        }

        #[test]
        fn each_choice_has_its_own_guard_and_the_hold_is_measured() {
            let two = |a: &str, b: &str| format!("data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":{a:?}}},\"finish_reason\":null}},{{\"index\":1,\"delta\":{{\"content\":{b:?}}},\"finish_reason\":null}}]}}\n\n");
            let mut relay = StreamRelay::new(false).with_guard(guard(r#"{ rule = "card", action = "redact" }"#), "r");
            let mut out = Vec::new();
            relay.on_upstream_bytes(two("card 4111 1111 ", "no card in this one at all, just text").as_bytes(), 10, &mut out).unwrap();
            relay.on_upstream_bytes(two("1111 1111 ok", " and more").as_bytes(), 250, &mut out).unwrap();
            relay.on_upstream_bytes(DONE.as_bytes(), 400, &mut out).unwrap();
            let events = events(&out);
            let of = |i: usize| -> String {
                events.iter().flat_map(|e| e["choices"].as_array().cloned().unwrap_or_default()).filter(|c| c["index"] == i).filter_map(|c| c["delta"]["content"].as_str().map(str::to_owned)).collect()
            };
            assert_eq!(of(0), "card [REDACTED:card] ok");
            assert_eq!(of(1), "no card in this one at all, just text and more");
            assert_eq!(relay.guard_held_ms(), 390);
            assert_eq!(relay.summary().first_token_at, Some(10), "choice 1 released text at once");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_split_of_the_upstream_relays_the_same(cuts in proptest::collection::vec(0usize..400, 0..12)) {
            let stream = full_stream();
            let bytes = stream.as_bytes();
            let mut points: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
            points.sort_unstable();
            let mut relay = StreamRelay::new(true);
            let mut out = Vec::new();
            let mut start = 0;
            for p in points.into_iter().chain([bytes.len()]) {
                relay.on_upstream_bytes(&bytes[start..p], 1, &mut out).unwrap();
                start = p;
            }
            relay.on_upstream_end(&mut out).unwrap();
            proptest::prop_assert_eq!(String::from_utf8(out).unwrap(), stream);
        }
    }
}
