//! The chat-completions request and its validation.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::open_object::{open_object, str_or_seq, type_tagged, StrOrSeq, TypeTagged};
use crate::error::GatewayError;

/// A `POST /v1/chat/completions` request body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatRequest {
    /// The model alias (an Edgeway route) the caller asks for.
    pub model: String,
    /// The conversation so far.
    pub messages: Vec<Message>,
    /// Stream the answer as server-sent events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Streaming options (`include_usage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    /// Sampling temperature, 0 to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Upper bound on generated tokens (legacy name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Upper bound on generated tokens (current name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    /// Stop sequences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    /// Best-effort determinism seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Number of choices to generate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// Tools the model may call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    /// Whether and which tool the model must call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// Output format constraint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    /// End-user identifier, passed through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Every other field, forwarded untouched to OpenAI-compatible upstreams.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `stream_options` of a streaming request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamOptions {
    /// Send a last chunk carrying the usage of the whole request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_usage: Option<bool>,
    /// Unknown options, kept.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions from the application.
    System,
    /// Instructions from the application (newer models' name for system).
    Developer,
    /// The end user.
    User,
    /// The model.
    Assistant,
    /// The result of a tool call.
    Tool,
}

/// One message of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    /// Author of the message.
    pub role: Role,
    /// Text or content parts; absent on assistant messages that only call tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    /// Optional participant name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Tool calls made by an assistant message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// The call a tool message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// Unknown message fields, kept.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

open_object!(ChatRequest, "a chat completion request object", required: [model, messages],
    optional: [stream, stream_options, temperature, top_p, max_tokens, max_completion_tokens, stop, seed, n, tools, tool_choice, response_format, user]);
open_object!(StreamOptions, "stream options", required: [], optional: [include_usage]);
open_object!(Message, "a message object", required: [role], optional: [content, name, tool_calls, tool_call_id]);

impl Message {
    /// The message's text: the string content, or its text parts joined.
    pub fn text(&self) -> String {
        self.text_pieces().collect()
    }

    /// How many characters [`Self::text`] has, without building it.
    pub fn text_chars(&self) -> usize {
        self.text_pieces().map(|piece| piece.chars().count()).sum()
    }

    /// The string content, or each text part in order.
    fn text_pieces(&self) -> impl Iterator<Item = &str> {
        let (text, parts) = match &self.content {
            Some(Content::Text(text)) => (Some(text.as_str()), &[][..]),
            Some(Content::Parts(parts)) => (None, parts.as_slice()),
            None => (None, &[][..]),
        };
        text.into_iter().chain(parts.iter().filter_map(|part| match part {
            ContentPart::Text { text } => Some(text.as_str()),
            _ => None,
        }))
    }
}

/// Message content: plain text or a list of typed parts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Typed parts (text, images, audio, files).
    Parts(Vec<ContentPart>),
}

/// One typed part of a message's content.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// An image by URL or data URL.
    ImageUrl {
        /// The image.
        image_url: ImageUrl,
    },
    /// Base64 audio, passed through.
    InputAudio {
        /// The audio object.
        input_audio: Value,
    },
    /// A file, passed through.
    File {
        /// The file object.
        file: Value,
    },
    /// A refusal in an assistant message.
    Refusal {
        /// The refusal text.
        refusal: String,
    },
}

/// An image reference inside a content part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageUrl {
    /// `https://` URL or `data:` URL.
    pub url: String,
    /// `low`, `high` or `auto`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Stop sequences: one string or several.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Stop {
    /// One sequence.
    One(String),
    /// Several sequences.
    Many(Vec<String>),
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// Always `function` today.
    #[serde(rename = "type")]
    pub kind: String,
    /// The function's signature.
    pub function: FunctionDef,
}

/// A callable function's name, description and JSON-schema parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionDef {
    /// Function name.
    pub name: String,
    /// What the function does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON schema of the arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    /// Strict schema adherence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// `tool_choice`: a mode (`none`, `auto`, `required`) or a named function.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ToolChoice {
    /// `none`, `auto` or `required`.
    Mode(String),
    /// `{"type":"function","function":{"name":...}}`.
    Named(Value),
}

/// A tool call made by the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// Call id, echoed by the tool message that answers it.
    pub id: String,
    /// Always `function` today.
    #[serde(rename = "type")]
    pub kind: String,
    /// Function name and JSON-encoded arguments.
    pub function: FunctionCall,
}

/// A function call's name and JSON-encoded arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    /// Function name.
    pub name: String,
    /// Arguments as a JSON string.
    pub arguments: String,
}

/// `response_format`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    /// Free text.
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON matching a schema.
    JsonSchema {
        /// `{name, schema, strict}`.
        json_schema: Value,
    },
}

// The deserializers of the untagged and tagged enums above, written by hand
// so that they read straight from the input (see `open_object`).

impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match str_or_seq(deserializer, "a string or an array of content parts")? {
            StrOrSeq::Str(text) => Self::Text(text),
            StrOrSeq::Seq(parts) => Self::Parts(parts),
        })
    }
}

impl<'de> Deserialize<'de> for Stop {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match str_or_seq(deserializer, "a string or an array of strings")? {
            StrOrSeq::Str(one) => Self::One(one),
            StrOrSeq::Seq(many) => Self::Many(many),
        })
    }
}

impl<'de> Deserialize<'de> for ToolChoice {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(deserializer)? {
            Value::String(mode) => Self::Mode(mode),
            named => Self::Named(named),
        })
    }
}

impl TypeTagged for ContentPart {
    const EXPECTING: &'static str = "a content part object";
    const TAGS: &'static [&'static str] = &["text", "image_url", "input_audio", "file", "refusal"];

    fn build<'de, D: serde::Deserializer<'de>>(tag: usize, field: D) -> Result<Self, D::Error> {
        Ok(match tag {
            0 => Self::Text { text: String::deserialize(field)? },
            1 => Self::ImageUrl { image_url: ImageUrl::deserialize(field)? },
            2 => Self::InputAudio { input_audio: Value::deserialize(field)? },
            3 => Self::File { file: Value::deserialize(field)? },
            _ => Self::Refusal { refusal: String::deserialize(field)? },
        })
    }
}

impl<'de> Deserialize<'de> for ContentPart {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        type_tagged(deserializer)
    }
}

impl TypeTagged for ResponseFormat {
    const EXPECTING: &'static str = "a response format object";
    const TAGS: &'static [&'static str] = &["text", "json_object", "json_schema"];
    const UNITS: usize = 2;

    fn unit(tag: usize) -> Option<Self> {
        match tag {
            0 => Some(Self::Text),
            1 => Some(Self::JsonObject),
            _ => None,
        }
    }

    fn build<'de, D: serde::Deserializer<'de>>(_tag: usize, field: D) -> Result<Self, D::Error> {
        Ok(Self::JsonSchema { json_schema: Value::deserialize(field)? })
    }
}

impl<'de> Deserialize<'de> for ResponseFormat {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        type_tagged(deserializer)
    }
}

impl ChatRequest {
    /// Whether the caller asked for a stream.
    pub fn is_stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    /// Whether a streaming caller asked for the final usage chunk.
    pub fn wants_stream_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false)
    }

    /// The text of the last user message, if any.
    pub fn last_user_text(&self) -> Option<String> {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(Message::text)
    }

    /// Checks what serde cannot: ranges and role-specific requirements.
    /// The error names the offending field by its JSON path.
    pub fn validate(&self) -> Result<(), GatewayError> {
        let invalid = |param: String, message: String| GatewayError::InvalidRequest { param, message };
        if self.model.trim().is_empty() {
            return Err(invalid("model".into(), "`model` must not be empty".into()));
        }
        if self.messages.is_empty() {
            return Err(invalid("messages".into(), "`messages` must contain at least one message".into()));
        }
        for (i, message) in self.messages.iter().enumerate() {
            match message.role {
                Role::Tool if message.tool_call_id.is_none() => {
                    return Err(invalid(
                        format!("messages[{i}].tool_call_id"),
                        "a tool message needs `tool_call_id`".into(),
                    ));
                }
                Role::Assistant if message.content.is_none() && message.tool_calls.is_none() => {
                    return Err(invalid(
                        format!("messages[{i}].content"),
                        "an assistant message needs `content` or `tool_calls`".into(),
                    ));
                }
                Role::Assistant => {}
                _ if message.content.is_none() => {
                    return Err(invalid(format!("messages[{i}].content"), "this message needs `content`".into()));
                }
                _ => {}
            }
        }
        // The value is quoted through JSON's number formatting: f64's
        // `Display` would add its own code to the wasm.
        let in_range = |name: &str, value: Option<f64>, max: u8| match value {
            Some(v) if !(0.0..=f64::from(max)).contains(&v) => {
                let got = serde_json::Number::from_f64(v).map_or_else(|| "a non-finite number".to_owned(), |n| n.to_string());
                Err(invalid(name.into(), format!("`{name}` must be between 0 and {max}, got {got}")))
            }
            _ => Ok(()),
        };
        in_range("temperature", self.temperature, 2)?;
        in_range("top_p", self.top_p, 1)?;
        for (name, value) in [
            ("n", self.n),
            ("max_tokens", self.max_tokens),
            ("max_completion_tokens", self.max_completion_tokens),
        ] {
            if value == Some(0) {
                return Err(invalid(name.into(), format!("`{name}` must be at least 1")));
            }
        }
        if let Some(ToolChoice::Mode(mode)) = &self.tool_choice {
            if !matches!(mode.as_str(), "none" | "auto" | "required") {
                return Err(invalid(
                    "tool_choice".into(),
                    format!("`tool_choice` must be none, auto, required or a function, got {}", crate::json::quote(mode)),
                ));
            }
        }
        if self.stream_options.is_some() && !self.is_stream() {
            return Err(invalid(
                "stream_options".into(),
                "`stream_options` is only allowed when `stream` is true".into(),
            ));
        }
        Ok(())
    }
}

/// Parses and validates a request body. Malformed JSON is `invalid_json`;
/// a missing or wrongly typed field is `invalid_request` naming the field's
/// path (`messages[1].role`).
pub fn parse_chat_request(body: &[u8]) -> Result<ChatRequest, GatewayError> {
    let request: ChatRequest = parse_body(body)?;
    request.validate()?;
    Ok(request)
}

/// Parses a JSON request body into `T` in one pass (any endpoint's body). serde_json's error
/// category tells a syntax error (`invalid_json`) from a type error
/// (`invalid_request`, naming the field's path, read from the error's
/// position).
pub fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, GatewayError> {
    use serde_json::error::Category;
    serde_json::from_slice(body).map_err(|e| match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => GatewayError::InvalidJson { detail: e.to_string() },
        Category::Data => {
            let param = crate::json::error_path(body, &e);
            GatewayError::InvalidRequest { message: describe_serde_error(&param, &e.to_string()), param }
        }
    })
}

fn describe_serde_error(param: &str, detail: &str) -> String {
    // serde's untagged-enum message says nothing useful; say what is allowed.
    let detail = if detail.starts_with("data did not match any variant") {
        "has the wrong type"
    } else {
        detail
    };
    if param.is_empty() && detail.starts_with("invalid type") {
        "the request body must be a JSON object".to_owned()
    } else if param.is_empty() {
        format!("invalid request: {detail}")
    } else {
        format!("invalid field `{param}`: {detail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<ChatRequest, GatewayError> {
        parse_chat_request(json.as_bytes())
    }

    fn param_of(err: GatewayError) -> String {
        match err {
            GatewayError::InvalidRequest { param, .. } => param,
            other => panic!("expected invalid_request, got {other:?}"),
        }
    }

    #[test]
    fn string_and_part_contents_both_parse() {
        let req = parse(
            r#"{"model":"m","messages":[
                {"role":"system","content":"be brief"},
                {"role":"user","content":[{"type":"text","text":"hi "},{"type":"image_url","image_url":{"url":"https://x/y.png"}},{"type":"text","text":"there"}]}
            ]}"#,
        )
        .unwrap();
        assert_eq!(req.messages[1].text(), "hi there");
        assert_eq!(req.last_user_text().as_deref(), Some("hi there"));
    }

    #[test]
    fn unknown_fields_are_kept_for_forwarding() {
        let req = parse(r#"{"model":"m","messages":[{"role":"user","content":"x","cache_hint":1}],"logprobs":true,"reasoning_effort":"low"}"#).unwrap();
        let out = serde_json::to_value(&req).unwrap();
        assert_eq!(out["logprobs"], true);
        assert_eq!(out["reasoning_effort"], "low");
        assert_eq!(out["messages"][0]["cache_hint"], 1);
    }

    #[test]
    fn round_trip_preserves_tools_and_formats() {
        let json = r#"{"model":"m","messages":[{"role":"user","content":"x"},
            {"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
            {"role":"tool","tool_call_id":"c1","content":"42"}],
            "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],
            "tool_choice":{"type":"function","function":{"name":"f"}},
            "response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{}}},
            "stop":["a","b"],"seed":7,"n":1,"temperature":0.5,"top_p":0.9,"max_tokens":10,
            "stream":true,"stream_options":{"include_usage":true}}"#;
        let req = parse(json).unwrap();
        let again: ChatRequest = serde_json::from_value(serde_json::to_value(&req).unwrap()).unwrap();
        assert_eq!(req, again);
        assert!(req.wants_stream_usage());
    }

    #[test]
    fn malformed_json_is_invalid_json() {
        assert!(matches!(parse("{\"model\":"), Err(GatewayError::InvalidJson { .. })));
        assert!(matches!(parse("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]} trailing"), Err(GatewayError::InvalidJson { .. })));
        assert!(matches!(parse(""), Err(GatewayError::InvalidJson { .. })));
    }

    #[test]
    fn missing_field_names_the_field() {
        let err = parse(r#"{"messages":[{"role":"user","content":"x"}]}"#).unwrap_err();
        match err {
            GatewayError::InvalidRequest { message, .. } => assert!(message.contains("model"), "{message}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn wrong_type_names_the_path() {
        assert_eq!(param_of(parse(r#"{"model":"m","messages":[{"role":"wizard","content":"x"}]}"#).unwrap_err()), "messages[0].role");
        assert_eq!(param_of(parse(r#"{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":"hot"}"#).unwrap_err()), "temperature");
        assert_eq!(param_of(parse(r#"{"model":"m","messages":[{"role":"user","content":5}]}"#).unwrap_err()), "messages[0].content");
    }

    /// The `param` and message of a request that fails to parse.
    fn refusal(json: &str) -> (String, String) {
        match parse(json) {
            Err(GatewayError::InvalidRequest { param, message }) => (param, message),
            other => panic!("expected invalid_request for {json}, got {other:?}"),
        }
    }

    /// A request whose first message has `content`.
    fn with_content(content: &str) -> String {
        format!(r#"{{"model":"m","messages":[{{"role":"user","content":{content}}}]}}"#)
    }

    #[test]
    fn content_parts_of_every_type_parse_in_any_member_order() {
        let req = parse(&with_content(
            r#"[{"type":"text","text":"a"},{"text":"b","type":"text","other":[1]},
                {"image_url":{"url":"u","detail":"low"},"type":"image_url"},{"type":"input_audio","input_audio":{"data":"x","format":"wav"}},
                {"type":"file","file":{"file_id":"f"}},{"type":"refusal","refusal":"no"},
                {"type":"text","text":"c","image_url":5,"refusal":null}]"#,
        ))
        .unwrap();
        let Some(Content::Parts(parts)) = &req.messages[0].content else { panic!("{req:?}") };
        assert_eq!(parts.len(), 7);
        assert_eq!(parts[1], ContentPart::Text { text: "b".into() });
        assert_eq!(parts[2], ContentPart::ImageUrl { image_url: ImageUrl { url: "u".into(), detail: Some("low".into()) } });
        assert_eq!(parts[3], ContentPart::InputAudio { input_audio: serde_json::json!({"data":"x","format":"wav"}) });
        assert_eq!(parts[4], ContentPart::File { file: serde_json::json!({"file_id":"f"}) });
        assert_eq!(parts[5], ContentPart::Refusal { refusal: "no".into() });
        assert_eq!(parts[6], ContentPart::Text { text: "c".into() });
        assert_eq!(req.messages[0].text(), "abc");
        // Fields before `type` are kept until it comes; those of other
        // variants are then dropped, whatever their type, and duplicated too.
        let image = ContentPart::ImageUrl { image_url: ImageUrl { url: "u".into(), detail: None } };
        let req = parse(&with_content(r#"[{"text":null,"refusal":1,"refusal":2,"image_url":{"url":"u"},"type":"image_url","file":5}]"#)).unwrap();
        assert_eq!(req.messages[0].content, Some(Content::Parts(vec![image.clone()])));
        // serde's tagged enums also read `[tag, field]`.
        let req = parse(&with_content(r#"[["image_url",{"url":"u"}],["text","t"]]"#)).unwrap();
        assert_eq!(req.messages[0].content, Some(Content::Parts(vec![image, ContentPart::Text { text: "t".into() }])));
    }

    #[test]
    fn bad_contents_are_refused_where_they_go_wrong() {
        for (content, param, says) in [
            ("5", "messages[0].content", "invalid type: integer `5`, expected a string or an array of content parts"),
            ("{}", "messages[0].content", "expected a string or an array of content parts"),
            (r#"["hi"]"#, "messages[0].content[0]", "invalid type: string \"hi\", expected a content part object"),
            (r#"[{"type":"text","text":"a"},{"type":"video","video":1}]"#, "messages[0].content[1].type", "unknown variant `video`, expected one of `text`, `image_url`, `input_audio`, `file`, `refusal`"),
            (r#"[{"type":7,"text":"a"}]"#, "messages[0].content[0].type", "invalid type: integer `7`, expected a string"),
            (r#"[{"text":"a"}]"#, "messages[0].content[0].type", "missing field `type`"),
            (r#"[{"type":"text"}]"#, "messages[0].content[0].text", "missing field `text`"),
            (r#"[{"type":"image_url","image_url":{"detail":"low"}}]"#, "messages[0].content[0].image_url.url", "missing field `url`"),
            (r#"[{"type":"text","text":5}]"#, "messages[0].content[0].text", "invalid type: integer `5`, expected a string"),
            // A field met before `type` is read once the part ends, so the error is placed there.
            (r#"[{"text":5,"type":"text"}]"#, "messages[0].content[0].type", "invalid type: integer `5`, expected a string"),
            (r#"[{"image_url":{"url":1},"type":"image_url"}]"#, "messages[0].content[0].type", "invalid type: integer `1`, expected a string"),
            (r#"[{"text":"a","text":"b","type":"text"}]"#, "messages[0].content[0].type", "duplicate field `text`"),
            (r#"[{"text":"a","type":"text","text":"b"}]"#, "messages[0].content[0].text", "duplicate field `text`"),
            (r#"[["text"]]"#, "messages[0].content[0][0]", "invalid length 1, expected a content part object"),
            (r#"[["text","a","b"]]"#, "messages[0].content[0][2]", "invalid length 3, expected a content part object"),
            (r#"[{"type":"text","type":"text","text":"a"}]"#, "messages[0].content[0].type", "duplicate field `type`"),
            (r#"[{"type":"text","text":"a","text":"b"}]"#, "messages[0].content[0].text", "duplicate field `text`"),
        ] {
            let (got_param, message) = refusal(&with_content(content));
            assert_eq!(got_param, param, "{content}: {message}");
            assert!(message.contains(says), "{content}: {message}");
            assert_eq!(message.matches(" at line ").count(), 1, "{content}: {message}");
        }
    }

    #[test]
    fn stop_tool_choice_and_response_format_take_each_shape() {
        let req = |extra: &str| parse(&format!(r#"{{"model":"m","messages":[{{"role":"user","content":"x"}}],{extra}}}"#));
        assert_eq!(req(r#""stop":"s""#).unwrap().stop, Some(Stop::One("s".into())));
        assert_eq!(req(r#""stop":[]"#).unwrap().stop, Some(Stop::Many(vec![])));
        assert_eq!(req(r#""stop":null"#).unwrap().stop, None);
        assert_eq!(req(r#""tool_choice":"auto""#).unwrap().tool_choice, Some(ToolChoice::Mode("auto".into())));
        assert_eq!(req(r#""tool_choice":{"type":"function"}"#).unwrap().tool_choice, Some(ToolChoice::Named(serde_json::json!({"type":"function"}))));
        assert_eq!(req(r#""tool_choice":[1]"#).unwrap().tool_choice, Some(ToolChoice::Named(serde_json::json!([1]))));
        assert_eq!(req(r#""response_format":{"type":"text","json_schema":5}"#).unwrap().response_format, Some(ResponseFormat::Text));
        assert_eq!(req(r#""response_format":{"json_schema":5,"json_schema":6,"type":"text"}"#).unwrap().response_format, Some(ResponseFormat::Text));
        assert_eq!(req(r#""response_format":["json_object"]"#).unwrap().response_format, Some(ResponseFormat::JsonObject));
        assert_eq!(req(r#""response_format":{"type":"json_object"}"#).unwrap().response_format, Some(ResponseFormat::JsonObject));
        assert_eq!(
            req(r#""response_format":{"json_schema":{"name":"s"},"type":"json_schema"}"#).unwrap().response_format,
            Some(ResponseFormat::JsonSchema { json_schema: serde_json::json!({"name":"s"}) })
        );
        for (extra, param, says) in [
            (r#""stop":5"#, "stop", "expected a string or an array of strings"),
            (r#""stop":["a",1]"#, "stop[1]", "invalid type: integer `1`, expected a string"),
            (r#""response_format":"json_object""#, "response_format", "expected a response format object"),
            (r#""response_format":{"type":"json_schema"}"#, "response_format.json_schema", "missing field `json_schema`"),
            (r#""response_format":{"type":"yaml"}"#, "response_format.type", "unknown variant `yaml`, expected one of `text`, `json_object`, `json_schema`"),
            (r#""response_format":{}"#, "response_format.type", "missing field `type`"),
        ] {
            let (got_param, message) = match req(extra) {
                Err(GatewayError::InvalidRequest { param, message }) => (param, message),
                other => panic!("{extra}: {other:?}"),
            };
            assert_eq!(got_param, param, "{extra}: {message}");
            assert!(message.contains(says), "{extra}: {message}");
        }
    }

    #[test]
    fn hand_written_deserializers_read_back_what_serialization_writes() {
        fn round_trip<T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(value: T) {
            let json = serde_json::to_string(&value).unwrap();
            assert_eq!(crate::json::from_str::<T>(&json).unwrap(), value, "{json}");
        }
        let parts = vec![
            ContentPart::Text { text: "t".into() },
            ContentPart::ImageUrl { image_url: ImageUrl { url: "u".into(), detail: Some("high".into()) } },
            ContentPart::InputAudio { input_audio: serde_json::json!({"data":"d"}) },
            ContentPart::File { file: serde_json::json!({"file_id":"f"}) },
            ContentPart::Refusal { refusal: "r".into() },
        ];
        for part in &parts {
            round_trip(part.clone());
        }
        round_trip(Content::Parts(parts));
        round_trip(Content::Parts(vec![]));
        round_trip(Content::Text("x".into()));
        round_trip(Stop::One("a".into()));
        round_trip(Stop::Many(vec!["a".into(), "b".into()]));
        round_trip(ToolChoice::Mode("none".into()));
        round_trip(ToolChoice::Named(serde_json::json!({"type":"function","function":{"name":"f"}})));
        round_trip(ResponseFormat::Text);
        round_trip(ResponseFormat::JsonObject);
        round_trip(ResponseFormat::JsonSchema { json_schema: serde_json::json!({"name":"s","schema":{}}) });
        // Serialization is unchanged by the hand-written deserializers.
        assert_eq!(serde_json::to_string(&ResponseFormat::JsonObject).unwrap(), r#"{"type":"json_object"}"#);
        assert_eq!(serde_json::to_string(&ContentPart::Text { text: "t".into() }).unwrap(), r#"{"type":"text","text":"t"}"#);
    }

    #[test]
    fn out_of_range_values_are_refused() {
        assert_eq!(param_of(parse(r#"{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":3}"#).unwrap_err()), "temperature");
        assert_eq!(param_of(parse(r#"{"model":"m","messages":[]}"#).unwrap_err()), "messages");
        assert_eq!(param_of(parse(r#"{"model":"m","messages":[{"role":"tool","content":"x"}]}"#).unwrap_err()), "messages[0].tool_call_id");
        assert_eq!(param_of(parse(r#"{"model":"m","messages":[{"role":"user","content":"x"}],"n":0}"#).unwrap_err()), "n");
        assert_eq!(param_of(parse(r#"[1,2]"#).unwrap_err()), "");
    }
}
