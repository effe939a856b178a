//! Anthropic's Messages API (`POST /v1/messages`), to and from OpenAI's
//! chat completions.
//!
//! The differences that matter: the system prompt is a top-level field, not
//! a message; turns must alternate, so consecutive same-role messages merge
//! and tool results travel as `tool_result` blocks in a user turn;
//! `max_tokens` is required; tool calls are `tool_use` content blocks; and
//! the stream is a sequence of typed events (`message_start`,
//! `content_block_*`, `message_delta`, `message_stop`, `ping`, `error`)
//! rather than OpenAI's uniform chunks.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{chunk_json, encode_error, parse_data_url, Completed, ErrorDetails, FieldCheck, ReplyContext, UpstreamRequest};
use crate::openai::{
    ChatCompletion, ChatRequest, Choice, ChunkChoice, Content, ContentPart, Delta, FunctionCall, Message, ResponseFormat, ResponseMessage, Role, Stop, ToolCall,
    ToolCallDelta, ToolChoice, Usage,
};
use crate::GatewayError;

/// The API version every request names (Anthropic's current stable one).
pub const API_VERSION: &str = "2023-06-01";

/// `max_tokens` sent when the caller set none: Anthropic requires one, and
/// this is enough for a long answer from every current model.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// Anthropic's temperature range is 0 to 1 (OpenAI's is 0 to 2).
const MAX_TEMPERATURE: f64 = 1.0;

/// Request fields this adapter translates or deliberately ignores.
const HANDLED_FIELDS: &[&str] = &["parallel_tool_calls", "logprobs", "top_logprobs", "store", "metadata"];

/// Builds `POST {base_url}/messages`.
pub fn chat_request(base_url: &str, api_key: Option<&str>, model: &str, request: &ChatRequest, target: &str) -> Result<UpstreamRequest, GatewayError> {
    let mut check = FieldCheck::new(target);
    refuse_what_would_be_wrong(request, &check)?;
    let (system, messages) = translate_messages(&request.messages, &check)?;

    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert("max_tokens".into(), json!(request.max_completion_tokens.or(request.max_tokens).unwrap_or(DEFAULT_MAX_TOKENS)));
    if !system.is_empty() {
        body.insert("system".into(), json!(system));
    }
    body.insert("messages".into(), Value::Array(messages));
    if let Some(stop) = &request.stop {
        let sequences: Vec<&String> = match stop {
            Stop::One(one) => vec![one],
            Stop::Many(many) => many.iter().collect(),
        };
        // Anthropic refuses whitespace-only stop sequences; they never match
        // a sensible answer anyway.
        let sequences: Vec<&String> = sequences.into_iter().filter(|s| !s.trim().is_empty()).collect();
        if !sequences.is_empty() {
            body.insert("stop_sequences".into(), json!(sequences));
        }
    }
    if let Some(t) = request.temperature {
        if t > MAX_TEMPERATURE {
            // Decimal text without float formatting, which would cost the wasm.
            let (t, max) = (crate::pricing::format_decimal(t), crate::pricing::format_decimal(MAX_TEMPERATURE));
            check.adjusted("temperature", &format!("{t} was lowered to {max}, the highest"));
        }
        body.insert("temperature".into(), json!(t.min(MAX_TEMPERATURE)));
    }
    if let Some(p) = request.top_p {
        body.insert("top_p".into(), json!(p));
    }
    if request.is_stream() {
        body.insert("stream".into(), json!(true));
    }
    if let Some(tools) = request.tools.as_ref().filter(|t| !t.is_empty()) {
        let tools: Vec<Value> = tools
            .iter()
            .map(|tool| {
                let schema = tool.function.parameters.clone().unwrap_or_else(|| json!({"type": "object", "properties": {}}));
                let mut t = json!({"name": tool.function.name, "input_schema": schema});
                if let (Some(description), Some(obj)) = (&tool.function.description, t.as_object_mut()) {
                    obj.insert("description".into(), json!(description));
                }
                t
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
        if let Some(choice) = tool_choice(request) {
            body.insert("tool_choice".into(), choice);
        }
    }
    if let Some(user) = &request.user {
        body.insert("metadata".into(), json!({"user_id": user}));
    }
    check.drop_if(request.seed.is_some(), "seed");
    check.drop_if(matches!(request.response_format, Some(ResponseFormat::Text)), "response_format");
    check.drop_unknown(&request.extra, HANDLED_FIELDS);

    let body = serde_json::to_string(&Value::Object(body)).map_err(encode_error)?;
    let mut headers = vec![("content-type", "application/json".to_owned()), ("anthropic-version", API_VERSION.to_owned())];
    if let Some(key) = api_key {
        headers.push(("x-api-key", key.to_owned()));
    }
    Ok(UpstreamRequest { url: format!("{base_url}/messages"), headers, body, warnings: check.warnings })
}

/// Fields whose answer would be wrong without them: another target may
/// honour them, so the refusal lets the route fall back.
fn refuse_what_would_be_wrong(request: &ChatRequest, check: &FieldCheck<'_>) -> Result<(), GatewayError> {
    if request.n.is_some_and(|n| n > 1) {
        return Err(check.refuse("n", "it generates one choice per request"));
    }
    if matches!(request.response_format, Some(ResponseFormat::JsonObject | ResponseFormat::JsonSchema { .. })) {
        return Err(check.refuse("response_format", "it cannot guarantee JSON output"));
    }
    if request.extra.get("logprobs").is_some_and(|v| v.as_bool() == Some(true)) {
        return Err(check.refuse("logprobs", "it does not return log probabilities"));
    }
    Ok(())
}

/// `tool_choice`, with `parallel_tool_calls: false` carried as
/// `disable_parallel_tool_use`.
fn tool_choice(request: &ChatRequest) -> Option<Value> {
    let mut choice = match &request.tool_choice {
        None => json!({"type": "auto"}),
        Some(ToolChoice::Mode(mode)) => match mode.as_str() {
            "required" => json!({"type": "any"}),
            "none" => json!({"type": "none"}),
            _ => json!({"type": "auto"}),
        },
        Some(ToolChoice::Named(named)) => {
            let name = named.pointer("/function/name").and_then(Value::as_str).unwrap_or_default();
            json!({"type": "tool", "name": name})
        }
    };
    let parallel_off = request.extra.get("parallel_tool_calls").and_then(Value::as_bool) == Some(false);
    match (parallel_off, choice.as_object_mut()) {
        (true, Some(obj)) if obj.get("type").and_then(Value::as_str) != Some("none") => {
            obj.insert("disable_parallel_tool_use".into(), json!(true));
        }
        _ if request.tool_choice.is_none() => return None,
        _ => {}
    }
    Some(choice)
}

/// Splits the conversation into the system prompt and alternating turns.
fn translate_messages(messages: &[Message], check: &FieldCheck<'_>) -> Result<(String, Vec<Value>), GatewayError> {
    let mut system: Vec<String> = Vec::new();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let (role, blocks) = match message.role {
            Role::System | Role::Developer => {
                system.push(message.text());
                continue;
            }
            Role::User => ("user", content_blocks(message.content.as_ref(), i, check)?),
            Role::Assistant => ("assistant", assistant_blocks(message, i, check)?),
            Role::Tool => ("user", vec![tool_result(message)]),
        };
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((last_role, last_blocks)) if *last_role == role => last_blocks.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    let turns = turns.into_iter().map(|(role, content)| json!({"role": role, "content": content})).collect();
    Ok((system.join("\n\n"), turns))
}

/// A user message's content as blocks: text, and images by URL or base64.
fn content_blocks(content: Option<&Content>, index: usize, check: &FieldCheck<'_>) -> Result<Vec<Value>, GatewayError> {
    let text_block = |text: &str| (!text.is_empty()).then(|| json!({"type": "text", "text": text}));
    match content {
        None => Ok(Vec::new()),
        Some(Content::Text(text)) => Ok(text_block(text).into_iter().collect()),
        Some(Content::Parts(parts)) => {
            let mut blocks = Vec::with_capacity(parts.len());
            for (j, part) in parts.iter().enumerate() {
                let block = match part {
                    ContentPart::Text { text } => text_block(text),
                    ContentPart::Refusal { refusal } => text_block(refusal),
                    ContentPart::ImageUrl { image_url } => Some(image_block(&image_url.url)),
                    ContentPart::InputAudio { .. } | ContentPart::File { .. } => {
                        return Err(check.refuse(format!("messages[{index}].content[{j}]"), "it accepts text and image parts only"));
                    }
                };
                blocks.extend(block);
            }
            Ok(blocks)
        }
    }
}

/// An image part: `data:` URLs become base64 sources, others URL sources.
fn image_block(url: &str) -> Value {
    match parse_data_url(url) {
        Some((media_type, data)) => json!({"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}),
        None => json!({"type": "image", "source": {"type": "url", "url": url}}),
    }
}

/// An assistant turn: its text, then a `tool_use` block per tool call.
fn assistant_blocks(message: &Message, index: usize, check: &FieldCheck<'_>) -> Result<Vec<Value>, GatewayError> {
    let mut blocks = content_blocks(message.content.as_ref(), index, check)?;
    for call in message.tool_calls.iter().flatten() {
        // Arguments are a JSON string in OpenAI's format and an object in
        // Anthropic's; a model can emit broken JSON, which is kept as text
        // under one key rather than lost.
        let input = match crate::json::from_str::<Value>(&call.function.arguments) {
            Ok(Value::Object(map)) => Value::Object(map),
            _ => json!({"arguments": call.function.arguments}),
        };
        blocks.push(json!({"type": "tool_use", "id": call.id, "name": call.function.name, "input": input}));
    }
    Ok(blocks)
}

/// A tool message as the `tool_result` block Anthropic expects in a user turn.
fn tool_result(message: &Message) -> Value {
    json!({"type": "tool_result", "tool_use_id": message.tool_call_id.as_deref().unwrap_or_default(), "content": message.text()})
}

/// Anthropic's `stop_reason` as OpenAI's `finish_reason`.
fn finish_reason(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        // end_turn, stop_sequence, pause_turn and any newer reason.
        _ => "stop",
    }
}

/// Anthropic's usage: `input_tokens` excludes cached reads and writes,
/// which OpenAI's `prompt_tokens` includes.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
struct AnthropicUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
}

impl AnthropicUsage {
    /// Later counts replace earlier ones (`message_delta` repeats them).
    fn update(&mut self, newer: AnthropicUsage) {
        self.input_tokens = newer.input_tokens.or(self.input_tokens);
        self.output_tokens = newer.output_tokens.or(self.output_tokens);
        self.cache_creation_input_tokens = newer.cache_creation_input_tokens.or(self.cache_creation_input_tokens);
        self.cache_read_input_tokens = newer.cache_read_input_tokens.or(self.cache_read_input_tokens);
    }

    fn to_openai(self) -> Usage {
        let cached = self.cache_read_input_tokens.unwrap_or(0);
        let prompt = self.input_tokens.unwrap_or(0) + cached + self.cache_creation_input_tokens.unwrap_or(0);
        Usage::new(prompt, self.output_tokens.unwrap_or(0)).with_cached(cached)
    }
}

#[derive(Deserialize)]
struct MessageResponse {
    id: String,
    #[serde(default)]
    model: String,
    content: Vec<Block>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: AnthropicUsage,
}

/// A content block (`text`, `tool_use`, `thinking`, ...), read flat: one
/// struct with every field optional costs far less wasm than an
/// internally tagged enum, and unknown block types are skipped either way.
#[derive(Deserialize)]
struct Block {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    input: Option<Value>,
}

/// Translates a Messages API answer into a `chat.completion`.
pub fn completion(provider: &str, body: &[u8], reply: &ReplyContext) -> Result<Completed, GatewayError> {
    let message: MessageResponse = serde_json::from_slice(body).map_err(|e| GatewayError::UpstreamError {
        provider: provider.to_owned(),
        status: Some(200),
        message: format!("the answer is not a valid Anthropic message ({e})"),
    })?;
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in message.content {
        match block.kind.as_str() {
            "text" => text.push_str(block.text.as_deref().unwrap_or_default()),
            "tool_use" => tool_calls.push(ToolCall {
                id: block.id.unwrap_or_default(),
                kind: "function".to_owned(),
                function: FunctionCall { name: block.name.unwrap_or_default(), arguments: block.input.unwrap_or_else(|| json!({})).to_string() },
            }),
            // Thinking, redacted thinking, server tools: not part of the answer.
            _ => {}
        }
    }
    let usage = message.usage.to_openai();
    let completion = ChatCompletion {
        id: message.id,
        object: "chat.completion".to_owned(),
        created: reply.created,
        model: if message.model.is_empty() { reply.model.clone() } else { message.model },
        choices: vec![Choice {
            index: 0,
            message: ResponseMessage {
                role: "assistant".to_owned(),
                content: (!text.is_empty() || tool_calls.is_empty()).then_some(text),
                tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
                refusal: None,
                extra: Map::new(),
            },
            finish_reason: Some(finish_reason(message.stop_reason.as_deref().unwrap_or("end_turn")).to_owned()),
            logprobs: None,
        }],
        usage: Some(usage),
        system_fingerprint: None,
        extra: Map::new(),
    };
    let body = serde_json::to_vec(&completion).map_err(|e| GatewayError::Internal { message: format!("could not encode the answer: {e}") })?;
    Ok(Completed { body, usage: Some(usage) })
}

/// One event of Anthropic's stream, read flat by its `type` field (see
/// [`Block`] for why flat).
#[derive(Deserialize)]
struct StreamEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    message: Option<StartedMessage>,
    #[serde(default)]
    index: Option<u32>,
    #[serde(default)]
    content_block: Option<Block>,
    #[serde(default)]
    delta: Option<EventDelta>,
    #[serde(default)]
    usage: Option<AnthropicUsage>,
    #[serde(default)]
    error: Option<ErrorObject>,
}

#[derive(Deserialize)]
struct StartedMessage {
    id: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    usage: AnthropicUsage,
}

/// A `content_block_delta`'s or `message_delta`'s `delta`.
#[derive(Deserialize)]
struct EventDelta {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    partial_json: Option<String>,
    #[serde(default)]
    stop_reason: Option<String>,
}

#[derive(Deserialize)]
struct ErrorObject {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    message: String,
}

/// Translates Anthropic's stream events into OpenAI chunks as they come.
#[derive(Debug)]
pub struct StreamTranslator {
    reply: ReplyContext,
    id: String,
    model: String,
    usage: AnthropicUsage,
    /// Content-block index → OpenAI tool-call index, for `tool_use` blocks.
    tool_blocks: Vec<(u32, u32)>,
    finished: bool,
}

impl StreamTranslator {
    /// A translator for one stream.
    pub fn new(reply: ReplyContext) -> Self {
        Self { reply, id: String::new(), model: String::new(), usage: AnthropicUsage::default(), tool_blocks: Vec::new(), finished: false }
    }

    /// Translates one event's data; see [`super::StreamTranslator::on_event`].
    pub fn on_event(&mut self, data: &str, out: &mut Vec<String>) -> Result<(), String> {
        let event: StreamEvent = crate::json::from_str(data).map_err(|_| "the upstream sent an event that is not valid JSON".to_owned())?;
        let index = event.index.unwrap_or(0);
        match event.kind.as_str() {
            "message_start" => {
                let message = event.message.ok_or("message_start without a message")?;
                self.id = message.id;
                self.model = message.model;
                self.usage.update(message.usage);
                out.push(self.chunk(Delta { role: Some("assistant".into()), content: Some(String::new()), ..Delta::default() }, None));
            }
            "content_block_start" => match event.content_block {
                Some(Block { kind, text: Some(text), .. }) if kind == "text" && !text.is_empty() => out.push(self.text(text)),
                Some(Block { kind, id, name, .. }) if kind == "tool_use" => {
                    let call_index = u32::try_from(self.tool_blocks.len()).unwrap_or(u32::MAX);
                    self.tool_blocks.push((index, call_index));
                    let function = json!({"name": name.unwrap_or_default(), "arguments": ""});
                    let call = ToolCallDelta { index: call_index, id: Some(id.unwrap_or_default()), kind: Some("function".into()), function: Some(function) };
                    out.push(self.chunk(Delta { tool_calls: Some(vec![call]), ..Delta::default() }, None));
                }
                _ => {}
            },
            "content_block_delta" => match event.delta {
                Some(EventDelta { kind: Some(kind), text: Some(text), .. }) if kind == "text_delta" && !text.is_empty() => out.push(self.text(text)),
                Some(EventDelta { kind: Some(kind), partial_json: Some(partial), .. }) if kind == "input_json_delta" && !partial.is_empty() => {
                    let call_index = self.tool_blocks.iter().find(|(block, _)| *block == index).map_or(0, |(_, call)| *call);
                    let call = ToolCallDelta { index: call_index, id: None, kind: None, function: Some(json!({"arguments": partial})) };
                    out.push(self.chunk(Delta { tool_calls: Some(vec![call]), ..Delta::default() }, None));
                }
                // Thinking, signatures, citations: not part of the answer's text.
                _ => {}
            },
            "message_delta" => {
                if let Some(usage) = event.usage {
                    self.usage.update(usage);
                }
                if let Some(reason) = event.delta.and_then(|d| d.stop_reason) {
                    out.push(self.chunk(Delta::default(), Some(finish_reason(&reason))));
                }
            }
            "message_stop" if !self.finished => {
                self.finished = true;
                out.push(chunk_json(&self.id, &self.reply, &self.model, Vec::new(), Some(self.usage.to_openai())));
                out.push("[DONE]".to_owned());
            }
            "error" => {
                let error = event.error.unwrap_or(ErrorObject { kind: String::new(), message: "no message".to_owned() });
                return Err(format!("the upstream reported an error mid-stream: {}: {}", error.kind, error.message));
            }
            // ping, content_block_stop, and event types Anthropic may add
            // (its documentation asks clients to skip unknown ones).
            _ => {}
        }
        Ok(())
    }

    fn text(&self, text: String) -> String {
        self.chunk(Delta { content: Some(text), ..Delta::default() }, None)
    }

    fn chunk(&self, delta: Delta, finish: Option<&str>) -> String {
        let choice = ChunkChoice { index: 0, delta, finish_reason: finish.map(str::to_owned), logprobs: None };
        chunk_json(&self.id, &self.reply, &self.model, vec![choice], None)
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorObject,
}

/// Reads Anthropic's error body: `{"type":"error","error":{"type","message"}}`.
pub fn error_details(body: &[u8]) -> ErrorDetails {
    let Ok(parsed) = serde_json::from_slice::<ErrorBody>(body) else { return ErrorDetails::default() };
    let ErrorObject { kind, message } = parsed.error;
    // "prompt is too long: 210000 tokens > 200000 maximum" is OpenAI's
    // context_length_exceeded; other 400s stay the generic invalid_request.
    let code = message.starts_with("prompt is too long").then(|| "context_length_exceeded".to_owned());
    ErrorDetails { bad_credentials: kind == "authentication_error", code, message: Some(message), ..ErrorDetails::default() }
}

#[cfg(test)]
mod tests;
