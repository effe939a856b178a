//! Google's Gemini API (`models/{model}:generateContent`, its streaming twin
//! `:streamGenerateContent?alt=sse`, and `:batchEmbedContents`), to and from
//! OpenAI's chat completions and embeddings.
//!
//! The differences that matter: the conversation is `contents` of `user`
//! and `model` turns that must alternate, with the system prompt apart
//! (`systemInstruction`); tool calls and their results are `functionCall`
//! and `functionResponse` parts matched by function *name*, not by id;
//! images travel inline as base64, never by URL; sampling settings live in
//! `generationConfig`; tool schemas must fit Gemini's OpenAPI subset; and
//! each stream event is a whole `GenerateContentResponse` carrying only the
//! new parts, with no end-of-stream marker (the body just closes).

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::openai::encode_path;
use super::{chunk_json, encode_error, truncate, Completed, ErrorDetails, FieldCheck, ReplyContext, UpstreamRequest};
use crate::openai::{
    ChatCompletion, ChatRequest, Choice, ChunkChoice, Content, ContentPart, Delta, EmbeddingsRequest, EmbeddingsResponse, FunctionCall, Message, ResponseFormat,
    ResponseMessage, Role, Stop, ToolCall, ToolCallDelta, ToolChoice, Usage,
};
use crate::GatewayError;

/// Unknown request fields this adapter translates or refuses itself; every
/// other one is dropped with a warning.
const HANDLED_FIELDS: &[&str] = &["presence_penalty", "frequency_penalty", "logprobs", "top_logprobs"];

/// The schema keywords of Gemini's OpenAPI subset. Gemini refuses a whole
/// request over one keyword it does not know (`additionalProperties`,
/// `$schema`, ...), so tool schemas keep these only.
const SCHEMA_KEYWORDS: &[&str] = &[
    "type", "format", "description", "nullable", "enum", "properties", "required", "items", "minItems", "maxItems", "minimum", "maximum", "anyOf",
    "propertyOrdering", "title", "minLength", "maxLength", "pattern", "default",
];

/// Stands in for a `responseId` Gemini did not send, in completion and
/// tool call ids.
const NO_RESPONSE_ID: &str = "gemini";

/// Longest piece of an upstream message quoted in our own errors.
const MAX_QUOTED: usize = 300;

/// Builds `POST {base_url}/models/{model}:generateContent` (or the SSE
/// stream). An error is a 400 naming the field Gemini cannot honour.
pub fn chat_request(base_url: &str, api_key: Option<&str>, model: &str, request: &ChatRequest, target: &str) -> Result<UpstreamRequest, GatewayError> {
    let mut check = FieldCheck::new(target);
    refuse_log_probabilities(request, &check)?;
    check.drop_if(request.user.is_some(), "user");
    check.drop_unknown(&request.extra, HANDLED_FIELDS);

    let (system, contents) = translate_messages(&request.messages, &check)?;
    let mut body = Map::new();
    body.insert("contents".into(), Value::Array(contents));
    if let Some(system) = system {
        body.insert("systemInstruction".into(), json!({"parts": [{"text": system}]}));
    }
    if let Some(declarations) = function_declarations(request, &check)? {
        body.insert("tools".into(), json!([{"functionDeclarations": declarations}]));
    }
    if let Some(config) = tool_config(request.tool_choice.as_ref(), &check)? {
        body.insert("toolConfig".into(), config);
    }
    let config = generation_config(request, &mut check);
    if !config.is_empty() {
        body.insert("generationConfig".into(), Value::Object(config));
    }

    let method = if request.is_stream() { "streamGenerateContent?alt=sse" } else { "generateContent" };
    Ok(UpstreamRequest {
        url: format!("{base_url}/models/{}:{method}", encode_path(model_id(model))),
        headers: headers(api_key),
        body: serde_json::to_string(&body).map_err(encode_error)?,
        warnings: check.warnings,
    })
}

/// The model's id: Google's own model list spells it `models/<id>`, and
/// either spelling is accepted in config.
fn model_id(model: &str) -> &str {
    model.strip_prefix("models/").unwrap_or(model)
}

/// The key goes in a header, never the URL: URLs end up in logs.
fn headers(api_key: Option<&str>) -> Vec<(&'static str, String)> {
    let mut headers = vec![("content-type", "application/json".to_owned())];
    if let Some(key) = api_key {
        headers.push(("x-goog-api-key", key.to_owned()));
    }
    headers
}

/// Log probabilities are refused rather than dropped: a caller that asks for
/// them reads them, and would silently get none.
fn refuse_log_probabilities(request: &ChatRequest, check: &FieldCheck) -> Result<(), GatewayError> {
    for field in ["logprobs", "top_logprobs"] {
        if request.extra.get(field).is_some_and(truthy) {
            return Err(check.refuse(field, "gemini does not return log probabilities here"));
        }
    }
    Ok(())
}

/// Whether a JSON value asks for something (`false`, `0`, `null` do not).
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// A Gemini turn being built.
struct Turn {
    role: &'static str,
    parts: Vec<Value>,
}

/// Splits the messages into the system instruction and Gemini's turns.
fn translate_messages(messages: &[Message], check: &FieldCheck) -> Result<(Option<String>, Vec<Value>), GatewayError> {
    let mut system = Vec::new();
    let mut turns: Vec<Turn> = Vec::new();
    // Tool results name the call by id, Gemini by function name: the name
    // comes from the assistant message that made the call.
    let mut call_names: HashMap<&str, &str> = HashMap::new();
    for (i, message) in messages.iter().enumerate() {
        let (role, parts) = match message.role {
            Role::System | Role::Developer => {
                system.push(message.text());
                continue;
            }
            Role::User => ("user", content_parts(message, i, check)?),
            Role::Assistant => ("model", assistant_parts(message, i, check, &mut call_names)?),
            Role::Tool => ("user", vec![function_response(message, i, check, &call_names)?]),
        };
        push_turn(&mut turns, role, parts);
    }
    let system = system.into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join("\n\n");
    let contents = turns.into_iter().map(|t| json!({"role": t.role, "parts": t.parts})).collect();
    Ok((Some(system).filter(|s| !s.is_empty()), contents))
}

/// Adds parts as a turn of `role`, merged into the previous turn when that
/// has the same role: Gemini requires alternating turns, and several
/// function responses must travel in one turn.
fn push_turn(turns: &mut Vec<Turn>, role: &'static str, parts: Vec<Value>) {
    if parts.is_empty() {
        return;
    }
    match turns.last_mut() {
        Some(last) if last.role == role => last.parts.extend(parts),
        _ => turns.push(Turn { role, parts }),
    }
}

/// The parts of a message's content; empty text is dropped (Gemini refuses
/// empty parts).
fn content_parts(message: &Message, i: usize, check: &FieldCheck) -> Result<Vec<Value>, GatewayError> {
    match &message.content {
        None => Ok(Vec::new()),
        Some(Content::Text(text)) => Ok(text_part(text).into_iter().collect()),
        Some(Content::Parts(parts)) => parts
            .iter()
            .enumerate()
            .filter_map(|(j, part)| content_part(part, &format!("messages[{i}].content[{j}]"), check).transpose())
            .collect(),
    }
}

fn text_part(text: &str) -> Option<Value> {
    (!text.is_empty()).then(|| json!({"text": text}))
}

/// One content part, `at` being its path for refusals.
fn content_part(part: &ContentPart, at: &str, check: &FieldCheck) -> Result<Option<Value>, GatewayError> {
    match part {
        ContentPart::Text { text } | ContentPart::Refusal { refusal: text } => Ok(text_part(text)),
        ContentPart::ImageUrl { image_url } => inline_image(&image_url.url)
            .map(Some)
            .ok_or_else(|| check.refuse(format!("{at}.image_url"), "gemini accepts images as data: URLs (data:<type>;base64,<data>) only")),
        ContentPart::InputAudio { input_audio } => inline_audio(input_audio)
            .map(Some)
            .ok_or_else(|| check.refuse(format!("{at}.input_audio"), "audio needs base64 `data` and a `format` such as wav or mp3")),
        ContentPart::File { .. } => Err(check.refuse(format!("{at}.file"), "gemini does not accept file parts here")),
    }
}

/// A `data:<mime>;base64,<data>` URL as an `inlineData` part.
fn inline_image(url: &str) -> Option<Value> {
    let (mime, data) = super::parse_data_url(url)?;
    Some(json!({"inlineData": {"mimeType": mime, "data": data}}))
}

/// OpenAI's `input_audio` (`{data, format}`) as an `inlineData` part.
fn inline_audio(audio: &Value) -> Option<Value> {
    let data = audio.get("data")?.as_str().filter(|d| !d.is_empty())?;
    let format = audio.get("format")?.as_str().filter(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_alphanumeric()))?;
    Some(json!({"inlineData": {"mimeType": format!("audio/{format}"), "data": data}}))
}

/// An assistant message's text, then one `functionCall` part per tool call.
fn assistant_parts<'a>(message: &'a Message, i: usize, check: &FieldCheck, call_names: &mut HashMap<&'a str, &'a str>) -> Result<Vec<Value>, GatewayError> {
    let mut parts = content_parts(message, i, check)?;
    for (j, call) in message.tool_calls.iter().flatten().enumerate() {
        let args = call_arguments(&call.function.arguments)
            .ok_or_else(|| check.refuse(format!("messages[{i}].tool_calls[{j}].function.arguments"), "gemini needs the arguments as a JSON object"))?;
        call_names.insert(call.id.as_str(), call.function.name.as_str());
        parts.push(json!({"functionCall": {"name": call.function.name, "args": args}}));
    }
    Ok(parts)
}

/// A call's arguments as the object Gemini wants. Empty arguments are read
/// as none at all: some clients send `""` for a call without arguments.
fn call_arguments(arguments: &str) -> Option<Value> {
    if arguments.trim().is_empty() {
        return Some(json!({}));
    }
    crate::json::from_str::<Value>(arguments).ok().filter(Value::is_object)
}

/// A tool message as a `functionResponse` part. Gemini wants an object:
/// JSON object content goes as it is, anything else wrapped as `content`.
fn function_response(message: &Message, i: usize, check: &FieldCheck, call_names: &HashMap<&str, &str>) -> Result<Value, GatewayError> {
    let id = message.tool_call_id.as_deref().unwrap_or_default();
    let name = call_names.get(id).ok_or_else(|| {
        check.refuse(format!("messages[{i}].tool_call_id"), "no earlier assistant message made a tool call with this id, and gemini matches results to calls by name")
    })?;
    let text = message.text();
    let response = match crate::json::from_str::<Value>(&text) {
        Ok(object @ Value::Object(_)) => object,
        _ => json!({"content": text}),
    };
    Ok(json!({"functionResponse": {"name": name, "response": response}}))
}

/// The tools as Gemini's function declarations, or `None` when there are none.
fn function_declarations(request: &ChatRequest, check: &FieldCheck) -> Result<Option<Vec<Value>>, GatewayError> {
    let Some(tools) = request.tools.as_ref().filter(|t| !t.is_empty()) else { return Ok(None) };
    let mut declarations = Vec::with_capacity(tools.len());
    for (i, tool) in tools.iter().enumerate() {
        if tool.kind != "function" {
            return Err(check.refuse(format!("tools[{i}].type"), "gemini takes function tools only"));
        }
        let mut declaration = Map::new();
        declaration.insert("name".into(), json!(tool.function.name));
        if let Some(description) = &tool.function.description {
            declaration.insert("description".into(), json!(description));
        }
        // A function without arguments has no `parameters` at all: Gemini
        // refuses an object schema with no properties.
        if let Some(parameters) = tool.function.parameters.as_ref().map(sanitize_schema).filter(has_properties) {
            declaration.insert("parameters".into(), parameters);
        }
        declarations.push(Value::Object(declaration));
    }
    Ok(Some(declarations))
}

fn has_properties(schema: &Value) -> bool {
    schema.get("properties").and_then(Value::as_object).is_some_and(|p| !p.is_empty())
}

/// `schema` cut down to Gemini's OpenAPI subset, recursively.
fn sanitize_schema(schema: &Value) -> Value {
    let Value::Object(object) = schema else { return schema.clone() };
    let mut out = Map::new();
    for (key, value) in object.iter().filter(|(k, _)| SCHEMA_KEYWORDS.contains(&k.as_str())) {
        let value = match (key.as_str(), value) {
            // Property names are the caller's, not keywords: keep every one,
            // and clean the schema under it.
            ("properties", Value::Object(properties)) => {
                Value::Object(properties.iter().map(|(name, property)| (name.clone(), sanitize_schema(property))).collect())
            }
            ("items", items) => sanitize_schema(items),
            ("anyOf", Value::Array(options)) => Value::Array(options.iter().map(sanitize_schema).collect()),
            _ => value.clone(),
        };
        out.insert(key.clone(), value);
    }
    single_type(&mut out);
    Value::Object(out)
}

/// JSON Schema's `"type": ["string", "null"]` as OpenAPI's `"type":
/// "string", "nullable": true`: Gemini takes one type name.
fn single_type(schema: &mut Map<String, Value>) {
    let (first, nullable) = match schema.get("type") {
        Some(Value::Array(types)) => (types.iter().find(|t| *t != "null").cloned(), types.iter().any(|t| t == "null")),
        _ => return,
    };
    match first {
        Some(first) => schema.insert("type".into(), first),
        None => schema.remove("type"),
    };
    if nullable {
        schema.insert("nullable".into(), Value::Bool(true));
    }
}

/// `tool_choice` as `toolConfig.functionCallingConfig`.
fn tool_config(choice: Option<&ToolChoice>, check: &FieldCheck) -> Result<Option<Value>, GatewayError> {
    let config = match choice {
        None => return Ok(None),
        Some(ToolChoice::Mode(mode)) => match mode.as_str() {
            "auto" => json!({"mode": "AUTO"}),
            "required" => json!({"mode": "ANY"}),
            "none" => json!({"mode": "NONE"}),
            _ => return Err(check.refuse("tool_choice", "it must be none, auto, required or a named function")),
        },
        Some(ToolChoice::Named(named)) => {
            let name = named
                .pointer("/function/name")
                .and_then(Value::as_str)
                .ok_or_else(|| check.refuse("tool_choice", "a named tool choice needs `function.name`"))?;
            json!({"mode": "ANY", "allowedFunctionNames": [name]})
        }
    };
    Ok(Some(json!({"functionCallingConfig": config})))
}

/// Sampling settings as `generationConfig`, absent ones left out.
fn generation_config(request: &ChatRequest, check: &mut FieldCheck) -> Map<String, Value> {
    let mut config = Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            config.insert(key.to_owned(), value);
        }
    };
    put("temperature", request.temperature.map(Value::from));
    put("topP", request.top_p.map(Value::from));
    put("maxOutputTokens", request.max_completion_tokens.or(request.max_tokens).map(Value::from));
    put("stopSequences", stop_sequences(request.stop.as_ref()));
    put("candidateCount", request.n.map(Value::from));
    put("seed", request.seed.map(Value::from));
    put("presencePenalty", penalty(request, "presence_penalty", check));
    put("frequencyPenalty", penalty(request, "frequency_penalty", check));
    match &request.response_format {
        Some(ResponseFormat::JsonObject) => put("responseMimeType", Some(json!("application/json"))),
        Some(ResponseFormat::JsonSchema { json_schema }) => {
            put("responseMimeType", Some(json!("application/json")));
            put("responseJsonSchema", json_schema.get("schema").cloned());
        }
        Some(ResponseFormat::Text) | None => {}
    }
    config
}

fn stop_sequences(stop: Option<&Stop>) -> Option<Value> {
    let sequences = match stop? {
        Stop::One(one) => vec![one.clone()],
        Stop::Many(many) => many.clone(),
    };
    (!sequences.is_empty()).then(|| json!(sequences))
}

/// A penalty from the request's extra fields; one that is not a number is
/// dropped with a warning.
fn penalty(request: &ChatRequest, field: &str, check: &mut FieldCheck) -> Option<Value> {
    let value = request.extra.get(field).filter(|v| !v.is_null())?;
    check.drop_if(!value.is_number(), field);
    value.is_number().then(|| value.clone())
}

/// A `GenerateContentResponse`: the whole answer, or one stream event.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerateContentResponse {
    candidates: Option<Vec<Candidate>>,
    prompt_feedback: Option<PromptFeedback>,
    usage_metadata: Option<UsageMetadata>,
    model_version: Option<String>,
    response_id: Option<String>,
    /// Set instead of the rest when a stream fails midway.
    error: Option<GoogleError>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    content: Option<CandidateContent>,
    finish_reason: Option<String>,
    index: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct CandidateContent {
    parts: Option<Vec<ResponsePart>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResponsePart {
    text: Option<String>,
    /// The model's reasoning, shown when asked for: not part of the answer.
    thought: Option<bool>,
    function_call: Option<GeminiCall>,
}

#[derive(Debug, Deserialize)]
struct GeminiCall {
    name: String,
    args: Option<Value>,
    id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback {
    block_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct UsageMetadata {
    prompt_token_count: u64,
    candidates_token_count: u64,
    cached_content_token_count: u64,
    thoughts_token_count: u64,
}

impl UsageMetadata {
    /// Thinking is generated and billed as output, so it counts as completion.
    fn usage(&self) -> Usage {
        // Capped so absurd counts cannot overflow the sums: no real request
        // comes near four billion tokens.
        let cap = |n: u64| n.min(u64::from(u32::MAX));
        let completion = cap(self.candidates_token_count).saturating_add(cap(self.thoughts_token_count));
        Usage::new(cap(self.prompt_token_count), completion).with_cached(cap(self.cached_content_token_count))
    }
}

impl Candidate {
    fn parts(&self) -> impl Iterator<Item = &ResponsePart> {
        self.content.iter().flat_map(|c| c.parts.iter().flatten())
    }

    /// The answer's text, thoughts left out. Gemini cuts text into parts at
    /// arbitrary points, so they join with nothing between.
    fn text(&self) -> Option<String> {
        let text: String = self.parts().filter(|p| p.thought != Some(true)).filter_map(|p| p.text.as_deref()).collect();
        Some(text).filter(|t| !t.is_empty())
    }

    fn calls(&self) -> impl Iterator<Item = &GeminiCall> {
        self.parts().filter_map(|p| p.function_call.as_ref())
    }

    fn index_or(&self, position: usize) -> u32 {
        self.index.unwrap_or_else(|| u32::try_from(position).unwrap_or(u32::MAX))
    }
}

impl GeminiCall {
    /// Gemini's id when it gives one; otherwise one unique within the
    /// response (candidate, call number) and across responses (`suffix`).
    fn id_or(&self, candidate: u32, n: u32, suffix: &str) -> String {
        self.id.clone().filter(|id| !id.is_empty()).unwrap_or_else(|| format!("call_{candidate}_{n}_{suffix}"))
    }

    fn arguments(&self) -> String {
        self.args.as_ref().map_or_else(|| "{}".to_owned(), Value::to_string)
    }
}

/// OpenAI's finish reason for Gemini's.
fn finish_reason(reason: &str, called_tools: bool) -> &'static str {
    if called_tools {
        return "tool_calls";
    }
    match reason {
        "MAX_TOKENS" => "length",
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" | "LANGUAGE" => "content_filter",
        _ => "stop",
    }
}

/// Translates a 2xx `generateContent` answer into a `chat.completion`.
pub fn completion(provider: &str, body: &[u8], reply: &ReplyContext) -> Result<Completed, GatewayError> {
    let malformed = |detail: String| GatewayError::UpstreamError {
        provider: provider.to_owned(),
        status: Some(200),
        message: format!("the answer is not a valid Gemini response ({detail})"),
    };
    let response: GenerateContentResponse = serde_json::from_slice(body).map_err(|e| malformed(e.to_string()))?;
    if let Some(error) = &response.error {
        return Err(malformed(format!("it reports an error: {}", error.summary())));
    }
    let suffix = response.response_id.as_deref().filter(|id| !id.is_empty()).unwrap_or(NO_RESPONSE_ID);
    let choices = match (&response.candidates, &response.prompt_feedback) {
        (Some(candidates), _) if !candidates.is_empty() => candidates.iter().enumerate().map(|(position, c)| choice(c, position, suffix)).collect(),
        // No candidates and feedback on the prompt: the prompt was blocked.
        (_, Some(_)) => vec![blocked_choice()],
        _ => return Err(malformed("it has neither candidates nor promptFeedback".to_owned())),
    };
    let usage = response.usage_metadata.as_ref().map(UsageMetadata::usage);
    let completion = ChatCompletion {
        id: format!("chatcmpl-{suffix}"),
        object: "chat.completion".to_owned(),
        created: reply.created,
        model: response.model_version.clone().filter(|m| !m.is_empty()).unwrap_or_else(|| reply.model.clone()),
        choices,
        usage,
        system_fingerprint: None,
        extra: Map::new(),
    };
    let body = serde_json::to_vec(&completion).map_err(|e| GatewayError::Internal { message: format!("could not encode the translated answer: {e}") })?;
    Ok(Completed { body, usage })
}

fn choice(candidate: &Candidate, position: usize, suffix: &str) -> Choice {
    let index = candidate.index_or(position);
    let tool_calls: Vec<ToolCall> = candidate
        .calls()
        .zip(0u32..)
        .map(|(call, n)| ToolCall {
            id: call.id_or(index, n, suffix),
            kind: "function".to_owned(),
            function: FunctionCall { name: call.name.clone(), arguments: call.arguments() },
        })
        .collect();
    let finish = finish_reason(candidate.finish_reason.as_deref().unwrap_or_default(), !tool_calls.is_empty());
    let message = ResponseMessage {
        role: "assistant".to_owned(),
        content: candidate.text(),
        tool_calls: Some(tool_calls).filter(|calls| !calls.is_empty()),
        refusal: None,
        extra: Map::new(),
    };
    Choice { index, message, finish_reason: Some(finish.to_owned()), logprobs: None }
}

fn blocked_choice() -> Choice {
    let message = ResponseMessage { role: "assistant".to_owned(), content: None, tool_calls: None, refusal: None, extra: Map::new() };
    Choice { index: 0, message, finish_reason: Some("content_filter".to_owned()), logprobs: None }
}

/// What the stream has said so far about one candidate.
#[derive(Debug, Default)]
struct CandidateState {
    /// Its role chunk went out.
    started: bool,
    /// Function calls streamed: the next tool call's index.
    calls: u32,
    /// Its finish chunk went out.
    finished: bool,
}

/// Turns Gemini's `alt=sse` stream into OpenAI chunks.
#[derive(Debug)]
pub struct StreamTranslator {
    reply: ReplyContext,
    /// `responseId` of the first event (the chunks' id); `None` before it.
    response_id: Option<String>,
    /// `modelVersion` of the first event; empty means the reply's model.
    model: String,
    candidates: BTreeMap<u32, CandidateState>,
    /// From the latest event that reported it: Gemini's counts are cumulative.
    usage: Option<Usage>,
    /// Some candidate finished: the stream is complete when the body closes.
    finished: bool,
    /// `on_end` already ended the stream.
    ended: bool,
}

impl StreamTranslator {
    /// A translator for one stream; `reply` supplies `created` and the
    /// fallback model name.
    pub fn new(reply: ReplyContext) -> Self {
        Self { reply, response_id: None, model: String::new(), candidates: BTreeMap::new(), usage: None, finished: false, ended: false }
    }

    /// Translates one event's data (a whole `GenerateContentResponse`),
    /// appending chunk JSON to `out`. An error event or unreadable data ends
    /// the stream.
    pub fn on_event(&mut self, data: &str, out: &mut Vec<String>) -> Result<(), String> {
        let event: GenerateContentResponse = crate::json::from_str(data).map_err(|e| format!("gemini sent an unreadable stream event: {e}"))?;
        if let Some(error) = &event.error {
            return Err(format!("gemini reported an error mid-stream: {}", error.summary()));
        }
        if self.response_id.is_none() {
            self.response_id = Some(event.response_id.clone().filter(|id| !id.is_empty()).unwrap_or_else(|| NO_RESPONSE_ID.to_owned()));
            self.model = event.model_version.clone().unwrap_or_default();
        }
        if let Some(metadata) = &event.usage_metadata {
            self.usage = Some(metadata.usage());
        }
        let candidates = event.candidates.as_deref().unwrap_or_default();
        for (position, candidate) in candidates.iter().enumerate() {
            self.on_candidate(candidate, position, out);
        }
        if candidates.is_empty() && event.prompt_feedback.as_ref().is_some_and(|f| f.block_reason.is_some()) {
            self.on_blocked(out);
        }
        Ok(())
    }

    /// The upstream closed its body. A stream that finished ends with the
    /// usage chunk and `[DONE]`; one that did not gets nothing, so the
    /// relay reports it as cut.
    pub fn on_end(&mut self, out: &mut Vec<String>) {
        if !self.finished || self.ended {
            return;
        }
        self.ended = true;
        // A usage chunk without usage would reach callers who never asked
        // for one: the relay only hides chunks that carry usage.
        if let Some(usage) = self.usage {
            out.push(self.chunk(Vec::new(), Some(usage)));
        }
        out.push("[DONE]".to_owned());
    }

    fn on_candidate(&mut self, candidate: &Candidate, position: usize, out: &mut Vec<String>) {
        let index = candidate.index_or(position);
        let suffix = self.suffix().to_owned();
        let state = self.candidates.entry(index).or_default();
        let mut choices = Vec::new();
        if !std::mem::replace(&mut state.started, true) {
            choices.push(delta_choice(index, role_delta()));
        }
        if let Some(text) = candidate.text() {
            choices.push(delta_choice(index, Delta { content: Some(text), ..Delta::default() }));
        }
        // Gemini sends each call whole: one delta carries all of it.
        for call in candidate.calls() {
            let piece = ToolCallDelta {
                index: state.calls,
                id: Some(call.id_or(index, state.calls, &suffix)),
                kind: Some("function".to_owned()),
                function: Some(json!({"name": call.name, "arguments": call.arguments()})),
            };
            state.calls = state.calls.saturating_add(1);
            choices.push(delta_choice(index, Delta { tool_calls: Some(vec![piece]), ..Delta::default() }));
        }
        if let Some(reason) = candidate.finish_reason.as_deref().filter(|_| !state.finished) {
            state.finished = true;
            choices.push(finish_choice(index, finish_reason(reason, state.calls > 0)));
            self.finished = true;
        }
        for choice in choices {
            out.push(self.chunk(vec![choice], None));
        }
    }

    /// The prompt was blocked: nothing was generated, and nothing will be.
    fn on_blocked(&mut self, out: &mut Vec<String>) {
        let state = self.candidates.entry(0).or_default();
        if state.finished {
            return;
        }
        state.finished = true;
        let started = std::mem::replace(&mut state.started, true);
        self.finished = true;
        if !started {
            out.push(self.chunk(vec![delta_choice(0, role_delta())], None));
        }
        out.push(self.chunk(vec![finish_choice(0, "content_filter")], None));
    }

    fn suffix(&self) -> &str {
        self.response_id.as_deref().unwrap_or(NO_RESPONSE_ID)
    }

    fn chunk(&self, choices: Vec<ChunkChoice>, usage: Option<Usage>) -> String {
        chunk_json(&format!("chatcmpl-{}", self.suffix()), &self.reply, &self.model, choices, usage)
    }
}

fn role_delta() -> Delta {
    Delta { role: Some("assistant".to_owned()), content: Some(String::new()), ..Delta::default() }
}

fn delta_choice(index: u32, delta: Delta) -> ChunkChoice {
    ChunkChoice { index, delta, finish_reason: None, logprobs: None }
}

fn finish_choice(index: u32, reason: &str) -> ChunkChoice {
    ChunkChoice { index, delta: Delta::default(), finish_reason: Some(reason.to_owned()), logprobs: None }
}

/// Google's error object (`google.rpc.Status` in JSON).
#[derive(Debug, Deserialize)]
struct GoogleError {
    message: Option<String>,
    status: Option<String>,
    /// Typed details (`@type`): `RetryInfo`, `ErrorInfo`, `QuotaFailure`, ...
    details: Option<Vec<Value>>,
}

impl GoogleError {
    fn summary(&self) -> String {
        truncate(self.message.as_deref().or(self.status.as_deref()).unwrap_or("no message"), MAX_QUOTED)
    }

    fn detail(&self, kind: &str) -> impl Iterator<Item = &Value> {
        let suffix = format!("/google.rpc.{kind}");
        self.details.iter().flatten().filter(move |d| d.get("@type").and_then(Value::as_str).is_some_and(|t| t.ends_with(&suffix)))
    }
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: GoogleError,
}

/// Reads a Gemini error body: `{"error": {...}}`, or the same in a list.
pub fn error_details(body: &[u8]) -> ErrorDetails {
    // Google sometimes answers with the error wrapped in a one-item list.
    // (Parsed from the bytes both ways rather than through a `Value`, so no
    // second deserializer of these types is compiled into the wasm.)
    // (A struct would also accept a JSON array, field by field: look first.)
    let listed = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    let envelope = if listed {
        serde_json::from_slice::<Vec<ErrorEnvelope>>(body).ok().and_then(|list| list.into_iter().next())
    } else {
        serde_json::from_slice::<ErrorEnvelope>(body).ok()
    };
    let Some(ErrorEnvelope { error }) = envelope else { return ErrorDetails::default() };
    let retry_after_ms = error.detail("RetryInfo").find_map(|d| d.get("retryDelay").and_then(Value::as_str).and_then(duration_ms));
    // Gemini answers a bad key with 400 INVALID_ARGUMENT: only the reason tells.
    let bad_credentials =
        error.status.as_deref() == Some("UNAUTHENTICATED") || error.detail("ErrorInfo").any(|d| d.get("reason").and_then(Value::as_str) == Some("API_KEY_INVALID"));
    let code = error_code(error.status.as_deref(), error.message.as_deref());
    ErrorDetails { message: error.message, code, param: None, bad_credentials, retry_after_ms }
}

/// OpenAI's code for a Gemini status, where one fits.
fn error_code(status: Option<&str>, message: Option<&str>) -> Option<String> {
    let code = match status? {
        "INVALID_ARGUMENT" if message.is_some_and(|m| m.contains("exceeds the maximum number of tokens")) => "context_length_exceeded",
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" => "invalid_request",
        _ => return None,
    };
    Some(code.to_owned())
}

/// A protobuf `Duration` in JSON (`"37s"`, `"1.5s"`) in milliseconds,
/// rounded up. Read as fixed point (the reset-duration reader), which keeps
/// float parsing and its tables out of the wasm.
fn duration_ms(text: &str) -> Option<u64> {
    let seconds = text.strip_suffix('s')?;
    if seconds.is_empty() || !seconds.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    crate::reliability::retry_after::parse_reset_duration(text)
}

/// Builds `POST {base_url}/models/{model}:batchEmbedContents`, one request
/// per input text.
pub fn embeddings_request(base_url: &str, api_key: Option<&str>, model: &str, request: &EmbeddingsRequest) -> Result<UpstreamRequest, GatewayError> {
    let texts = request.texts().ok_or_else(|| GatewayError::InvalidRequest {
        param: "input".to_owned(),
        message: format!("{model} cannot honour `input`: gemini embeds text only, not token arrays"),
    })?;
    let model = model_id(model);
    let requests: Vec<Value> = texts
        .iter()
        .map(|text| {
            let mut one = Map::new();
            one.insert("model".into(), json!(format!("models/{model}")));
            one.insert("content".into(), json!({"parts": [{"text": text}]}));
            if let Some(dimensions) = request.dimensions {
                one.insert("outputDimensionality".into(), json!(dimensions));
            }
            Value::Object(one)
        })
        .collect();
    Ok(UpstreamRequest {
        url: format!("{base_url}/models/{}:batchEmbedContents", encode_path(model)),
        headers: headers(api_key),
        body: serde_json::to_string(&json!({"requests": requests})).map_err(encode_error)?,
        warnings: Vec::new(),
    })
}

#[derive(Deserialize)]
struct BatchEmbedResponse {
    embeddings: Vec<ContentEmbedding>,
}

#[derive(Deserialize)]
struct ContentEmbedding {
    values: Vec<f32>,
}

/// Translates a 2xx `batchEmbedContents` answer into OpenAI's embeddings
/// list. Gemini reports no token count here, so usage is estimated.
pub fn embeddings(provider: &str, body: &[u8], request: &EmbeddingsRequest, model: &str) -> Result<Completed, GatewayError> {
    let malformed = |detail: String| GatewayError::UpstreamError {
        provider: provider.to_owned(),
        status: Some(200),
        message: format!("the answer is not a valid batchEmbedContents answer ({detail})"),
    };
    let parsed: BatchEmbedResponse = serde_json::from_slice(body).map_err(|e| malformed(e.to_string()))?;
    let texts = request.texts().unwrap_or_default();
    if parsed.embeddings.len() != texts.len() {
        return Err(malformed(format!("{} vectors for {} inputs", parsed.embeddings.len(), texts.len())));
    }
    let prompt_tokens = texts.iter().map(|text| crate::tokens::estimate_text(text)).sum();
    let vectors = parsed.embeddings.into_iter().map(|e| e.values).collect();
    let response = EmbeddingsResponse::from_vectors(model, vectors, request.wants_base64(), prompt_tokens);
    let body = serde_json::to_vec(&response).map_err(|e| GatewayError::Internal { message: format!("could not encode the translated answer: {e}") })?;
    Ok(Completed { body, usage: Some(Usage::new(prompt_tokens, 0)) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProviderKind;
    use crate::openai::{encode_base64_f32, parse_chat_request, parse_embeddings_request};
    use crate::providers::{error_from_status, KeyInfo};
    use crate::sse::SseParser;
    use proptest::prelude::*;

    const BASE: &str = "https://generativelanguage.googleapis.com/v1beta";
    const KEY: &str = "AIzaSyTest-key-0123456789";
    const TARGET: &str = "gemini/gemini-2.0-flash";

    const TEXT_RESPONSE: &str = include_str!("../../tests/fixtures/gemini/text_response.json");
    const FUNCTION_CALL_RESPONSE: &str = include_str!("../../tests/fixtures/gemini/function_call_response.json");
    const BLOCKED_PROMPT: &str = include_str!("../../tests/fixtures/gemini/blocked_prompt.json");
    const SAFETY_FINISH: &str = include_str!("../../tests/fixtures/gemini/safety_finish.json");
    const TEXT_STREAM: &str = include_str!("../../tests/fixtures/gemini/text_stream.sse");
    const FUNCTION_CALL_STREAM: &str = include_str!("../../tests/fixtures/gemini/function_call_stream.sse");
    const ERROR_429: &str = include_str!("../../tests/fixtures/gemini/error_429.json");
    const ERROR_BAD_KEY: &str = include_str!("../../tests/fixtures/gemini/error_bad_key.json");
    const BATCH_EMBED: &str = include_str!("../../tests/fixtures/gemini/batch_embed.json");

    fn translate(json: &str) -> (UpstreamRequest, Value) {
        let request = parse_chat_request(json.as_bytes()).unwrap();
        let upstream = chat_request(BASE, Some(KEY), "gemini-2.0-flash", &request, TARGET).unwrap();
        let body = crate::json::from_str(&upstream.body).unwrap();
        (upstream, body)
    }

    fn refusal(json: &str) -> GatewayError {
        let request = parse_chat_request(json.as_bytes()).unwrap();
        chat_request(BASE, Some(KEY), "gemini-2.0-flash", &request, TARGET).unwrap_err()
    }

    fn has_null(value: &Value) -> bool {
        match value {
            Value::Null => true,
            Value::Array(items) => items.iter().any(has_null),
            Value::Object(map) => map.values().any(has_null),
            _ => false,
        }
    }

    fn reply() -> ReplyContext {
        ReplyContext { created: 1_700_000_000, model: "gemini-fallback".to_owned() }
    }

    fn complete(body: &str) -> (Value, Option<Usage>) {
        let done = completion("gemini", body.as_bytes(), &reply()).unwrap();
        (serde_json::from_slice(&done.body).unwrap(), done.usage)
    }

    /// Feeds `pieces` through the SSE parser and the translator, as the relay does.
    fn run_stream(pieces: &[&[u8]]) -> Vec<String> {
        let mut parser = SseParser::new();
        let mut translator = StreamTranslator::new(reply());
        let mut out = Vec::new();
        for piece in pieces {
            let mut events = Vec::new();
            parser.push(piece, &mut events).unwrap();
            for event in events {
                translator.on_event(&event.data, &mut out).unwrap();
            }
        }
        parser.finish().unwrap();
        translator.on_end(&mut out);
        out
    }

    /// The chunk payloads as JSON, with `[DONE]` as a string.
    fn parsed(out: &[String]) -> Vec<Value> {
        out.iter().map(|s| if s == "[DONE]" { json!("[DONE]") } else { crate::json::from_str(s).unwrap() }).collect()
    }

    fn chunk(id: &str, model: &str, choices: Value) -> Value {
        json!({"id": id, "object": "chat.completion.chunk", "created": 1_700_000_000u64, "model": model, "choices": choices})
    }

    fn delta(index: u32, delta: Value) -> Value {
        json!([{"index": index, "delta": delta, "finish_reason": null, "logprobs": null}])
    }

    fn finish(index: u32, reason: &str) -> Value {
        json!([{"index": index, "delta": {}, "finish_reason": reason, "logprobs": null}])
    }

    #[test]
    fn system_messages_become_the_instruction_and_turns_alternate() {
        let (_, body) = translate(
            r#"{"model":"m","messages":[
                {"role":"system","content":"Be brief."},
                {"role":"developer","content":[{"type":"text","text":"Answer in French."}]},
                {"role":"user","content":"Hello"},
                {"role":"user","content":[{"type":"text","text":"there"},{"type":"text","text":""}]},
                {"role":"assistant","content":"Bonjour"},
                {"role":"user","content":"Capital of France?"}]}"#,
        );
        assert_eq!(body["systemInstruction"], json!({"parts": [{"text": "Be brief.\n\nAnswer in French."}]}));
        assert_eq!(
            body["contents"],
            json!([
                {"role": "user", "parts": [{"text": "Hello"}, {"text": "there"}]},
                {"role": "model", "parts": [{"text": "Bonjour"}]},
                {"role": "user", "parts": [{"text": "Capital of France?"}]}
            ])
        );
        assert!(body.get("generationConfig").is_none());
        assert!(body.get("tools").is_none() && body.get("toolConfig").is_none());
        assert!(!has_null(&body));
    }

    #[test]
    fn tool_calls_and_results_round_trip_by_name() {
        let (_, body) = translate(
            r#"{"model":"m","messages":[
                {"role":"user","content":"Weather in Paris and the time?"},
                {"role":"assistant","content":"Checking.","tool_calls":[
                    {"id":"call_a","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
                    {"id":"call_b","type":"function","function":{"name":"get_time","arguments":""}}]},
                {"role":"tool","tool_call_id":"call_a","content":"{\"temp_c\":18}"},
                {"role":"tool","tool_call_id":"call_b","content":"14:05"},
                {"role":"user","content":"Thanks"}]}"#,
        );
        assert_eq!(
            body["contents"],
            json!([
                {"role": "user", "parts": [{"text": "Weather in Paris and the time?"}]},
                {"role": "model", "parts": [
                    {"text": "Checking."},
                    {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                    {"functionCall": {"name": "get_time", "args": {}}}
                ]},
                {"role": "user", "parts": [
                    {"functionResponse": {"name": "get_weather", "response": {"temp_c": 18}}},
                    {"functionResponse": {"name": "get_time", "response": {"content": "14:05"}}},
                    {"text": "Thanks"}
                ]}
            ])
        );
    }

    #[test]
    fn unknown_call_ids_and_non_object_arguments_are_refused() {
        let unknown = refusal(r#"{"model":"m","messages":[{"role":"user","content":"x"},{"role":"tool","tool_call_id":"nope","content":"1"}]}"#);
        assert_eq!((unknown.status(), unknown.param()), (400, Some("messages[1].tool_call_id")));
        let arguments = refusal(
            r#"{"model":"m","messages":[{"role":"user","content":"x"},
            {"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"[1,2]"}}]}]}"#,
        );
        assert_eq!((arguments.status(), arguments.param()), (400, Some("messages[1].tool_calls[0].function.arguments")));
        assert!(arguments.to_string().contains(TARGET), "{arguments}");
    }

    #[test]
    fn images_and_audio_travel_inline_and_urls_or_files_are_refused() {
        let (_, body) = translate(
            r#"{"model":"m","messages":[{"role":"user","content":[
                {"type":"text","text":"What is this?"},
                {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
                {"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}}]}]}"#,
        );
        assert_eq!(
            body["contents"][0]["parts"],
            json!([
                {"text": "What is this?"},
                {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
                {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}}
            ])
        );
        let url = refusal(r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"},{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}]}"#);
        assert_eq!((url.status(), url.param()), (400, Some("messages[0].content[1].image_url")));
        assert!(url.to_string().contains("data: URLs"), "{url}");
        let plain = refusal(r#"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,rawbytes"}}]}]}"#);
        assert_eq!(plain.param(), Some("messages[0].content[0].image_url"));
        let file = refusal(r#"{"model":"m","messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"file-1"}}]}]}"#);
        assert_eq!((file.status(), file.param()), (400, Some("messages[0].content[0].file")));
    }

    #[test]
    fn tool_schemas_are_cut_to_gemini_subset() {
        let (_, body) = translate(
            r#"{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[
                {"type":"function","function":{"name":"get_weather","description":"Weather for a city","strict":true,"parameters":{
                    "$schema":"http://json-schema.org/draft-07/schema#","type":"object","additionalProperties":false,
                    "properties":{
                        "city":{"type":"string","description":"City name","minLength":1},
                        "unit":{"type":["string","null"],"enum":["celsius","fahrenheit"]},
                        "pattern":{"type":"array","items":{"type":"object","additionalProperties":false,"properties":{"x":{"type":"integer","exclusiveMinimum":0}}}},
                        "either":{"anyOf":[{"type":"string","$comment":"no"},{"type":"number"}]}
                    },
                    "required":["city"]}}},
                {"type":"function","function":{"name":"now","parameters":{"type":"object","properties":{}}}},
                {"type":"function","function":{"name":"ping"}}]}"#,
        );
        assert_eq!(
            body["tools"],
            json!([{"functionDeclarations": [
                {"name": "get_weather", "description": "Weather for a city", "parameters": {
                    "type": "object",
                    "properties": {
                        "city": {"type": "string", "description": "City name", "minLength": 1},
                        "unit": {"type": "string", "nullable": true, "enum": ["celsius", "fahrenheit"]},
                        "pattern": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "integer"}}}},
                        "either": {"anyOf": [{"type": "string"}, {"type": "number"}]}
                    },
                    "required": ["city"]
                }},
                {"name": "now"},
                {"name": "ping"}
            ]}])
        );
    }

    #[test]
    fn tool_choice_sets_the_function_calling_mode() {
        let tools = r#""tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"string"}}}}}]"#;
        for (choice, expected) in [
            (r#""auto""#, json!({"mode": "AUTO"})),
            (r#""required""#, json!({"mode": "ANY"})),
            (r#""none""#, json!({"mode": "NONE"})),
            (r#"{"type":"function","function":{"name":"f"}}"#, json!({"mode": "ANY", "allowedFunctionNames": ["f"]})),
        ] {
            let (_, body) = translate(&format!(r#"{{"model":"m","messages":[{{"role":"user","content":"x"}}],{tools},"tool_choice":{choice}}}"#));
            assert_eq!(body["toolConfig"], json!({"functionCallingConfig": expected}), "{choice}");
        }
        let nameless = refusal(r#"{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"function"}}"#);
        assert_eq!(nameless.param(), Some("tool_choice"));
    }

    #[test]
    fn sampling_settings_go_in_generation_config() {
        let (_, body) = translate(
            r#"{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":0.5,"top_p":0.9,"max_tokens":50,"max_completion_tokens":100,
            "stop":"END","n":2,"seed":7,"presence_penalty":0.5,"frequency_penalty":-0.25,"response_format":{"type":"json_object"}}"#,
        );
        assert_eq!(
            body["generationConfig"],
            json!({"temperature": 0.5, "topP": 0.9, "maxOutputTokens": 100, "stopSequences": ["END"], "candidateCount": 2, "seed": 7,
                   "presencePenalty": 0.5, "frequencyPenalty": -0.25, "responseMimeType": "application/json"})
        );
        let (_, body) = translate(r#"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":50,"stop":["a","b"]}"#);
        assert_eq!(body["generationConfig"], json!({"maxOutputTokens": 50, "stopSequences": ["a", "b"]}));
    }

    #[test]
    fn json_schema_output_sends_the_schema() {
        let (up, body) = translate(
            r#"{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"city","strict":true,
            "schema":{"type":"object","properties":{"name":{"type":"string"}},"required":["name"],"additionalProperties":false}}}}"#,
        );
        assert_eq!(
            body["generationConfig"],
            json!({"responseMimeType": "application/json",
                   "responseJsonSchema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"], "additionalProperties": false}})
        );
        assert!(up.warnings.is_empty());
    }

    #[test]
    fn unsupported_fields_are_dropped_with_warnings() {
        let (up, body) = translate(
            r#"{"model":"m","messages":[{"role":"user","content":"x"}],"user":"u1","logit_bias":{"1":2},"parallel_tool_calls":false,
            "service_tier":"auto","store":true,"metadata":{"a":"b"},"reasoning_effort":"low","logprobs":false,"presence_penalty":"high"}"#,
        );
        let dropped: Vec<&str> = up.warnings.iter().map(|w| w.split(' ').next().unwrap()).collect();
        assert_eq!(dropped, ["user", "logit_bias", "parallel_tool_calls", "service_tier", "store", "metadata", "reasoning_effort", "presence_penalty"]);
        assert!(up.warnings.iter().all(|w| w.contains(TARGET)));
        assert!(body.get("generationConfig").is_none());
    }

    #[test]
    fn log_probabilities_are_refused() {
        for extra in [r#""logprobs":true"#, r#""top_logprobs":3"#] {
            let e = refusal(&format!(r#"{{"model":"m","messages":[{{"role":"user","content":"x"}}],{extra}}}"#));
            assert_eq!(e.status(), 400);
            assert!(e.to_string().contains("log probabilities"), "{e}");
        }
        assert_eq!(refusal(r#"{"model":"m","messages":[{"role":"user","content":"x"}],"logprobs":true}"#).param(), Some("logprobs"));
    }

    #[test]
    fn urls_and_headers_for_stream_and_not_and_the_key_only_in_a_header() {
        let (plain, _) = translate(r#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#);
        assert_eq!(plain.url, format!("{BASE}/models/gemini-2.0-flash:generateContent"));
        let (stream, body) = translate(r#"{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_usage":true}}"#);
        assert_eq!(stream.url, format!("{BASE}/models/gemini-2.0-flash:streamGenerateContent?alt=sse"));
        assert!(body.get("stream").is_none() && body.get("stream_options").is_none());
        for up in [&plain, &stream] {
            assert_eq!(up.headers, vec![("content-type", "application/json".to_owned()), ("x-goog-api-key", KEY.to_owned())]);
            assert!(!up.url.contains(KEY) && !up.body.contains(KEY));
        }
        let request = parse_chat_request(br#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#).unwrap();
        let keyless = chat_request(BASE, None, "models/tuned model", &request, TARGET).unwrap();
        assert_eq!(keyless.url, format!("{BASE}/models/tuned%20model:generateContent"));
        assert_eq!(keyless.headers, vec![("content-type", "application/json".to_owned())]);
    }

    #[test]
    fn a_text_answer_leaves_out_thoughts_and_counts_them_as_output() {
        let (body, usage) = complete(TEXT_RESPONSE);
        assert_eq!(
            body,
            json!({
                "id": "chatcmpl-mSgaaJ2bNq6c1dkP4o2AsAs", "object": "chat.completion", "created": 1_700_000_000u64, "model": "gemini-2.5-flash",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "The capital of France is Paris."}, "finish_reason": "stop", "logprobs": null}],
                "usage": {"prompt_tokens": 2056, "completion_tokens": 45, "total_tokens": 2101, "prompt_tokens_details": {"cached_tokens": 2048}}
            })
        );
        assert_eq!(usage, Some(Usage::new(2056, 45).with_cached(2048)));
    }

    #[test]
    fn function_calls_become_tool_calls() {
        let (body, usage) = complete(FUNCTION_CALL_RESPONSE);
        let choice = &body["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls");
        assert_eq!(choice["message"]["content"], Value::Null);
        assert_eq!(
            choice["message"]["tool_calls"],
            json!([
                {"id": "call_0_0_Ky8aaOWdEr2Mz7IPxu3M-AQ", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\",\"unit\":\"celsius\"}"}},
                {"id": "call_0_1_Ky8aaOWdEr2Mz7IPxu3M-AQ", "type": "function", "function": {"name": "get_time", "arguments": "{\"timezone\":\"Europe/Paris\"}"}}
            ])
        );
        assert_eq!(usage, Some(Usage::new(96, 102)));
        let with_id = r#"{"candidates":[{"content":{"parts":[{"functionCall":{"id":"fc-1","name":"f"}}],"role":"model"},"finishReason":"STOP"}]}"#;
        let (body, _) = complete(with_id);
        assert_eq!(body["id"], "chatcmpl-gemini");
        assert_eq!(body["model"], "gemini-fallback");
        assert_eq!(body["choices"][0]["message"]["tool_calls"][0]["id"], "fc-1");
        assert_eq!(body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"], "{}");
    }

    #[test]
    fn blocked_prompts_and_safety_stops_are_content_filtered() {
        let (body, usage) = complete(BLOCKED_PROMPT);
        assert_eq!(body["choices"], json!([{"index": 0, "message": {"role": "assistant", "content": null}, "finish_reason": "content_filter", "logprobs": null}]));
        assert_eq!(usage, Some(Usage::new(14, 0)));
        let (body, _) = complete(SAFETY_FINISH);
        assert_eq!(body["choices"][0]["finish_reason"], "content_filter");
        assert_eq!(body["choices"][0]["message"]["content"], Value::Null);
        let long = r#"{"candidates":[{"content":{"parts":[{"text":"a"}]},"finishReason":"MAX_TOKENS","index":0},{"content":{"parts":[{"text":"b"}]},"finishReason":"OTHER","index":1}]}"#;
        let (body, usage) = complete(long);
        assert_eq!((body["choices"][0]["finish_reason"].as_str(), body["choices"][1]["finish_reason"].as_str()), (Some("length"), Some("stop")));
        assert_eq!((body["choices"][1]["index"].as_u64(), usage), (Some(1), None));
    }

    #[test]
    fn absurd_token_counts_do_not_overflow() {
        let huge = r#"{"candidates":[{"content":{"parts":[{"text":"a"}]},"finishReason":"STOP"}],
            "usageMetadata":{"promptTokenCount":18446744073709551615,"candidatesTokenCount":18446744073709551615,"thoughtsTokenCount":18446744073709551615}}"#;
        let (_, usage) = complete(huge);
        assert_eq!(usage.map(|u| u.total_tokens), Some(3 * u64::from(u32::MAX)));
    }

    #[test]
    fn malformed_answers_are_upstream_errors() {
        for bad in ["{\"candidates\":", "{}", "[]", r#"{"candidates":[]}"#, r#"{"error":{"code":500,"message":"boom"}}"#] {
            let e = completion("gemini", bad.as_bytes(), &reply()).unwrap_err();
            assert!(matches!(&e, GatewayError::UpstreamError { status: Some(200), .. }), "{bad}: {e:?}");
        }
    }

    #[test]
    fn a_text_stream_becomes_openai_chunks() {
        let id = "chatcmpl-nDMaaLvKBeWp1dkPvs6PoQI";
        let model = "gemini-2.0-flash";
        let expected = vec![
            chunk(id, model, delta(0, json!({"role": "assistant", "content": ""}))),
            chunk(id, model, delta(0, json!({"content": "The"}))),
            chunk(id, model, delta(0, json!({"content": " capital of France is Paris, a city known"}))),
            chunk(id, model, delta(0, json!({"content": " for the Eiffel Tower — and café culture.\n"}))),
            chunk(id, model, finish(0, "stop")),
            json!({"id": id, "object": "chat.completion.chunk", "created": 1_700_000_000u64, "model": model, "choices": [],
                   "usage": {"prompt_tokens": 8, "completion_tokens": 21, "total_tokens": 29}}),
            json!("[DONE]"),
        ];
        assert_eq!(parsed(&run_stream(&[TEXT_STREAM.as_bytes()])), expected);
    }

    #[test]
    fn a_function_call_stream_numbers_the_calls() {
        let id = "chatcmpl-HzQaaKi3Bv6W1dkPqNjhyQ0";
        let model = "gemini-2.0-flash";
        let call = |index: u32, city: &str| {
            delta(0, json!({"tool_calls": [{"index": index, "id": format!("call_0_{index}_HzQaaKi3Bv6W1dkPqNjhyQ0"), "type": "function",
                "function": {"name": "get_weather", "arguments": format!("{{\"city\":\"{city}\"}}")}}]}))
        };
        let expected = vec![
            chunk(id, model, delta(0, json!({"role": "assistant", "content": ""}))),
            chunk(id, model, call(0, "Paris")),
            chunk(id, model, call(1, "London")),
            chunk(id, model, finish(0, "tool_calls")),
            json!({"id": id, "object": "chat.completion.chunk", "created": 1_700_000_000u64, "model": model, "choices": [],
                   "usage": {"prompt_tokens": 57, "completion_tokens": 12, "total_tokens": 69}}),
            json!("[DONE]"),
        ];
        assert_eq!(parsed(&run_stream(&[FUNCTION_CALL_STREAM.as_bytes()])), expected);
    }

    #[test]
    fn a_blocked_prompt_stream_ends_content_filtered() {
        let mut translator = StreamTranslator::new(reply());
        let mut out = Vec::new();
        translator.on_event(r#"{"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"},"usageMetadata":{"promptTokenCount":5,"totalTokenCount":5}}"#, &mut out).unwrap();
        translator.on_end(&mut out);
        translator.on_end(&mut out);
        let id = "chatcmpl-gemini";
        let expected = vec![
            chunk(id, "gemini-fallback", delta(0, json!({"role": "assistant", "content": ""}))),
            chunk(id, "gemini-fallback", finish(0, "content_filter")),
            json!({"id": id, "object": "chat.completion.chunk", "created": 1_700_000_000u64, "model": "gemini-fallback", "choices": [],
                   "usage": {"prompt_tokens": 5, "completion_tokens": 0, "total_tokens": 5}}),
            json!("[DONE]"),
        ];
        assert_eq!(parsed(&out), expected);
    }

    #[test]
    fn stream_errors_and_cuts() {
        let mut translator = StreamTranslator::new(reply());
        let mut out = Vec::new();
        let first = TEXT_STREAM.split("\r\n\r\n").next().unwrap().strip_prefix("data: ").unwrap();
        translator.on_event(first, &mut out).unwrap();
        let error = r#"{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}"#;
        assert_eq!(translator.on_event(error, &mut out).unwrap_err(), "gemini reported an error mid-stream: The model is overloaded. Please try again later.");
        assert!(translator.on_event("not json", &mut out).is_err());
        let before = out.len();
        translator.on_end(&mut out);
        assert_eq!(out.len(), before, "a stream cut before its finish gets no [DONE]");
    }

    proptest! {
        #[test]
        fn split_streams_translate_the_same(cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12), which in 0usize..2) {
            let bytes = [TEXT_STREAM, FUNCTION_CALL_STREAM][which].as_bytes();
            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
            points.sort_unstable();
            let mut pieces = Vec::new();
            let mut start = 0;
            for point in points {
                pieces.push(&bytes[start..point]);
                start = point;
            }
            pieces.push(&bytes[start..]);
            prop_assert_eq!(run_stream(&pieces), run_stream(&[bytes]));
        }
    }

    #[test]
    fn rate_limits_carry_the_retry_delay() {
        let details = error_details(ERROR_429.as_bytes());
        assert!(details.message.as_deref().unwrap().starts_with("You exceeded your current quota"));
        assert_eq!((details.retry_after_ms, details.code, details.bad_credentials), (Some(37_000), None, false));
        let failure = error_from_status(ProviderKind::Gemini, "gemini", KeyInfo::default(), 429, ERROR_429.as_bytes());
        assert_eq!((failure.error.code(), failure.wait_hint_ms), ("upstream_error", Some(37_000)));
    }

    #[test]
    fn a_bad_key_is_bad_credentials_despite_the_400() {
        let details = error_details(ERROR_BAD_KEY.as_bytes());
        assert!(details.bad_credentials);
        assert_eq!(details.message.as_deref(), Some("API key not valid. Please pass a valid API key."));
        let key = KeyInfo { secret_name: Some("GEMINI_API_KEY"), value: Some(KEY) };
        let failure = error_from_status(ProviderKind::Gemini, "gemini", key, 400, ERROR_BAD_KEY.as_bytes());
        assert_eq!(failure.error.code(), "gateway_misconfigured");
        assert!(failure.error.to_string().contains("GEMINI_API_KEY"));
    }

    #[test]
    fn error_shapes_and_codes() {
        let listed = format!("[{ERROR_429}]");
        assert_eq!(error_details(listed.as_bytes()).retry_after_ms, Some(37_000));
        let too_long = br#"{"error":{"code":400,"message":"The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).","status":"INVALID_ARGUMENT"}}"#;
        assert_eq!(error_details(too_long).code.as_deref(), Some("context_length_exceeded"));
        let invalid = br#"{"error":{"code":400,"message":"User location is not supported for the API use.","status":"FAILED_PRECONDITION"}}"#;
        assert_eq!(error_details(invalid).code.as_deref(), Some("invalid_request"));
        let unauthenticated = br#"{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}"#;
        assert!(error_details(unauthenticated).bad_credentials);
        let fractional = br#"{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1.5s"}]}}"#;
        assert_eq!(error_details(fractional).retry_after_ms, Some(1500));
        assert_eq!(error_details(b"<html>502</html>"), ErrorDetails::default());
        assert_eq!(error_details(b"[]"), ErrorDetails::default());
        assert_eq!((duration_ms("0s"), duration_ms("-1s"), duration_ms("NaNs"), duration_ms("5")), (Some(0), None, None, None));
    }

    #[test]
    fn embeddings_requests_batch_one_request_per_text() {
        let request = parse_embeddings_request(br#"{"model":"e","input":["first","second"],"dimensions":256}"#).unwrap();
        let up = embeddings_request(BASE, Some(KEY), "text-embedding-004", &request).unwrap();
        assert_eq!(up.url, format!("{BASE}/models/text-embedding-004:batchEmbedContents"));
        assert!(up.headers.contains(&("x-goog-api-key", KEY.to_owned())) && !up.url.contains(KEY));
        let body: Value = crate::json::from_str(&up.body).unwrap();
        assert_eq!(
            body,
            json!({"requests": [
                {"model": "models/text-embedding-004", "content": {"parts": [{"text": "first"}]}, "outputDimensionality": 256},
                {"model": "models/text-embedding-004", "content": {"parts": [{"text": "second"}]}, "outputDimensionality": 256}
            ]})
        );
        let one = parse_embeddings_request(br#"{"model":"e","input":"solo"}"#).unwrap();
        let body: Value = crate::json::from_str(&embeddings_request(BASE, None, "models/text-embedding-004", &one).unwrap().body).unwrap();
        assert_eq!(body["requests"][0], json!({"model": "models/text-embedding-004", "content": {"parts": [{"text": "solo"}]}}));
        let tokens = parse_embeddings_request(br#"{"model":"e","input":[1,2,3]}"#).unwrap();
        let e = embeddings_request(BASE, None, "text-embedding-004", &tokens).unwrap_err();
        assert_eq!((e.status(), e.param()), (400, Some("input")));
    }

    #[test]
    fn embeddings_answers_become_openai_lists() {
        let request = parse_embeddings_request(br#"{"model":"e","input":["first text","second"]}"#).unwrap();
        let done = embeddings("gemini", BATCH_EMBED.as_bytes(), &request, "text-embedding-004").unwrap();
        let body: Value = serde_json::from_slice(&done.body).unwrap();
        assert_eq!((body["object"].as_str(), body["model"].as_str()), (Some("list"), Some("text-embedding-004")));
        assert_eq!(body["data"][1]["index"], 1);
        let first: Vec<f32> = serde_json::from_value(body["data"][0]["embedding"].clone()).unwrap();
        assert_eq!(first, [0.013_168_523_f32, -0.008_711_934, -0.046_782_676, 0.000_699_689_84]);
        assert_eq!(body["usage"], json!({"prompt_tokens": 5, "total_tokens": 5}));
        assert_eq!(done.usage, Some(Usage::new(5, 0)));

        let base64 = parse_embeddings_request(br#"{"model":"e","input":["first text","second"],"encoding_format":"base64"}"#).unwrap();
        let done = embeddings("gemini", BATCH_EMBED.as_bytes(), &base64, "text-embedding-004").unwrap();
        let body: Value = serde_json::from_slice(&done.body).unwrap();
        assert_eq!(body["data"][0]["embedding"], json!(encode_base64_f32(&first)));

        let one = parse_embeddings_request(br#"{"model":"e","input":"only one"}"#).unwrap();
        let mismatch = embeddings("gemini", BATCH_EMBED.as_bytes(), &one, "m").unwrap_err();
        assert!(matches!(mismatch, GatewayError::UpstreamError { status: Some(200), .. }));
        assert!(matches!(embeddings("gemini", b"{\"embeddings\":[{}]}", &one, "m"), Err(GatewayError::UpstreamError { .. })));
    }
}
