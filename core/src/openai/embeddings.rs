//! `POST /v1/embeddings`: the request and response shapes of OpenAI's API.

use serde::de::value::SeqAccessDeserializer;
use serde::de::{Error, SeqAccess, Unexpected, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::open_object::open_object;
use super::request::parse_body;
use crate::GatewayError;

/// An embeddings request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmbeddingsRequest {
    /// The model alias (an Edgeway route).
    pub model: String,
    /// What to embed.
    pub input: EmbeddingInput,
    /// `float` (default) or `base64` (little-endian f32 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_format: Option<String>,
    /// Length of the vectors, for models that can shorten them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    /// End-user identifier, passed through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Unknown fields, forwarded to OpenAI-compatible upstreams.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

open_object!(EmbeddingsRequest, "an embeddings request object", required: [model, input], optional: [encoding_format, dimensions, user]);

/// One text, several, or pre-tokenized input.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum EmbeddingInput {
    /// One text.
    One(String),
    /// Several texts.
    Many(Vec<String>),
    /// One token array.
    Tokens(Vec<u32>),
    /// Several token arrays.
    ManyTokens(Vec<Vec<u32>>),
}

/// Reads the input in one pass, without serde's buffering of untagged
/// enums: an array's first element tells which kind of array it is, and the
/// others must be of the same kind (an empty array is `Many`, as it was
/// with the untagged enum).
impl<'de> Deserialize<'de> for EmbeddingInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(InputVisitor)
    }
}

struct InputVisitor;

impl<'de> Visitor<'de> for InputVisitor {
    type Value = EmbeddingInput;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string, an array of strings, a token array or an array of token arrays")
    }

    fn visit_str<E: Error>(self, text: &str) -> Result<EmbeddingInput, E> {
        Ok(EmbeddingInput::One(text.to_owned()))
    }

    fn visit_string<E: Error>(self, text: String) -> Result<EmbeddingInput, E> {
        Ok(EmbeddingInput::One(text))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<EmbeddingInput, A::Error> {
        fn rest<'de, T: Deserialize<'de>, A: SeqAccess<'de>>(first: T, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut items = vec![first];
            while let Some(item) = seq.next_element()? {
                items.push(item);
            }
            Ok(items)
        }
        Ok(match seq.next_element()? {
            None => EmbeddingInput::Many(Vec::new()),
            Some(Item::Text(first)) => EmbeddingInput::Many(rest(first, seq)?),
            Some(Item::Token(first)) => EmbeddingInput::Tokens(rest(first, seq)?),
            Some(Item::Tokens(first)) => EmbeddingInput::ManyTokens(rest(first, seq)?),
        })
    }
}

/// The first element of an input array.
enum Item {
    Text(String),
    Token(u32),
    Tokens(Vec<u32>),
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ItemVisitor)
    }
}

struct ItemVisitor;

impl<'de> Visitor<'de> for ItemVisitor {
    type Value = Item;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string, a token or a token array")
    }

    fn visit_str<E: Error>(self, text: &str) -> Result<Item, E> {
        Ok(Item::Text(text.to_owned()))
    }

    fn visit_string<E: Error>(self, text: String) -> Result<Item, E> {
        Ok(Item::Text(text))
    }

    fn visit_u64<E: Error>(self, token: u64) -> Result<Item, E> {
        u32::try_from(token).map(Item::Token).map_err(|_| E::invalid_value(Unexpected::Unsigned(token), &"u32"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Item, A::Error> {
        Vec::deserialize(SeqAccessDeserializer::new(seq)).map(Item::Tokens)
    }
}

impl EmbeddingsRequest {
    /// The texts to embed, or `None` for token input (which only
    /// OpenAI-compatible upstreams accept, and which is forwarded as is).
    pub fn texts(&self) -> Option<Vec<&str>> {
        match &self.input {
            EmbeddingInput::One(text) => Some(vec![text.as_str()]),
            EmbeddingInput::Many(texts) => Some(texts.iter().map(String::as_str).collect()),
            EmbeddingInput::Tokens(_) | EmbeddingInput::ManyTokens(_) => None,
        }
    }

    /// Whether the caller asked for base64 vectors.
    pub fn wants_base64(&self) -> bool {
        self.encoding_format.as_deref() == Some("base64")
    }
}

/// Largest number of inputs in one request (OpenAI's own limit).
pub const MAX_EMBEDDING_INPUTS: usize = 2048;

/// Parses and validates an embeddings body.
pub fn parse_embeddings_request(body: &[u8]) -> Result<EmbeddingsRequest, GatewayError> {
    let request: EmbeddingsRequest = parse_body(body)?;
    let invalid = |param: &str, message: &str| GatewayError::InvalidRequest { param: param.to_owned(), message: message.to_owned() };
    if request.model.trim().is_empty() {
        return Err(invalid("model", "`model` must not be empty"));
    }
    let count = match &request.input {
        EmbeddingInput::One(text) if text.is_empty() => 0,
        EmbeddingInput::One(_) => 1,
        EmbeddingInput::Many(texts) if texts.iter().any(String::is_empty) => 0,
        EmbeddingInput::Many(texts) => texts.len(),
        EmbeddingInput::Tokens(tokens) => usize::from(!tokens.is_empty()),
        EmbeddingInput::ManyTokens(arrays) if arrays.iter().any(Vec::is_empty) => 0,
        EmbeddingInput::ManyTokens(arrays) => arrays.len(),
    };
    if count == 0 {
        return Err(invalid("input", "`input` must be a non-empty string or a non-empty array of non-empty strings"));
    }
    if count > MAX_EMBEDDING_INPUTS {
        return Err(invalid("input", "`input` may hold at most 2048 items"));
    }
    if let Some(format) = request.encoding_format.as_deref().filter(|f| !matches!(*f, "float" | "base64")) {
        return Err(invalid("encoding_format", &format!("`encoding_format` must be \"float\" or \"base64\", got {}", crate::json::quote(format))));
    }
    if request.dimensions == Some(0) {
        return Err(invalid("dimensions", "`dimensions` must be at least 1"));
    }
    Ok(request)
}

/// An embeddings answer in OpenAI's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingsResponse {
    /// Always `list`.
    pub object: String,
    /// One vector per input, in order.
    pub data: Vec<Embedding>,
    /// The model that answered.
    pub model: String,
    /// Tokens read.
    #[serde(default)]
    pub usage: EmbeddingsUsage,
}

/// One vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Embedding {
    /// Always `embedding`.
    pub object: String,
    /// Which input it embeds.
    pub index: u32,
    /// Floats, or a base64 string of little-endian f32s.
    pub embedding: Value,
}

/// Usage of an embeddings request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbeddingsUsage {
    /// Tokens read.
    #[serde(default)]
    pub prompt_tokens: u64,
    /// The same number.
    #[serde(default)]
    pub total_tokens: u64,
}

impl EmbeddingsResponse {
    /// Builds a response from vectors, encoded as the caller asked.
    pub fn from_vectors(model: &str, vectors: Vec<Vec<f32>>, base64: bool, prompt_tokens: u64) -> Self {
        let data = vectors
            .into_iter()
            .enumerate()
            .map(|(index, vector)| Embedding {
                object: "embedding".to_owned(),
                index: u32::try_from(index).unwrap_or(u32::MAX),
                embedding: if base64 { Value::String(encode_base64_f32(&vector)) } else { Value::from(vector) },
            })
            .collect();
        Self { object: "list".to_owned(), data, model: model.to_owned(), usage: EmbeddingsUsage { prompt_tokens, total_tokens: prompt_tokens } }
    }
}

/// Little-endian f32 bytes in standard base64, as OpenAI's `base64` format.
pub fn encode_base64_f32(vector: &[f32]) -> String {
    let bytes: Vec<u8> = vector.iter().flat_map(|f| f.to_le_bytes()).collect();
    crate::keys::base64url::encode_standard(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_of_every_shape_parse_and_empty_ones_are_refused() {
        let one = parse_embeddings_request(br#"{"model":"e","input":"hi"}"#).unwrap();
        assert_eq!(one.texts(), Some(vec!["hi"]));
        let many = parse_embeddings_request(br#"{"model":"e","input":["a","b"],"dimensions":8}"#).unwrap();
        assert_eq!(many.texts(), Some(vec!["a", "b"]));
        assert_eq!(parse_embeddings_request(br#"{"model":"e","input":[1,2]}"#).unwrap().texts(), None);
        for bad in [r#"{"model":"e","input":""}"#, r#"{"model":"e","input":[]}"#, r#"{"model":"e","input":["a",""]}"#] {
            assert_eq!(parse_embeddings_request(bad.as_bytes()).unwrap_err().param(), Some("input"), "{bad}");
        }
        let err = parse_embeddings_request(br#"{"model":"e","input":"a","encoding_format":"hex"}"#).unwrap_err();
        assert_eq!(err.param(), Some("encoding_format"));
        assert_eq!(parse_embeddings_request(br#"{"model":"e"}"#).unwrap_err().code(), "invalid_request");
        assert_eq!(parse_embeddings_request(b"{").unwrap_err().code(), "invalid_json");
    }

    #[test]
    fn input_shapes_are_told_apart_in_one_pass() {
        let input = |json: &str| crate::json::from_str::<EmbeddingInput>(json);
        assert_eq!(input(r#""a""#).unwrap(), EmbeddingInput::One("a".into()));
        assert_eq!(input("[]").unwrap(), EmbeddingInput::Many(vec![]));
        assert_eq!(input(r#"["a","b"]"#).unwrap(), EmbeddingInput::Many(vec!["a".into(), "b".into()]));
        assert_eq!(input("[1,4294967295]").unwrap(), EmbeddingInput::Tokens(vec![1, u32::MAX]));
        assert_eq!(input("[[1],[],[2,3]]").unwrap(), EmbeddingInput::ManyTokens(vec![vec![1], vec![], vec![2, 3]]));
        for (json, says) in [
            ("5", "invalid type: integer `5`, expected a string, an array of strings, a token array or an array of token arrays"),
            ("null", "invalid type: null, expected a string"),
            (r#"{"a":1}"#, "invalid type: map, expected a string"),
            (r#"["a",1]"#, "invalid type: integer `1`, expected a string"),
            (r#"[1,"a"]"#, "invalid type: string \"a\", expected u32"),
            ("[[1],2]", "invalid type: integer `2`, expected a sequence"),
            ("[-1]", "invalid type: integer `-1`, expected a string, a token or a token array"),
            ("[1.5]", "invalid type: floating point `1.5`, expected a string, a token or a token array"),
            ("[4294967296]", "invalid value: integer `4294967296`, expected u32"),
            ("[1,4294967296]", "invalid value: integer `4294967296`, expected u32"),
            ("[[1,-2]]", "invalid value: integer `-2`, expected u32"),
            (r#"[null]"#, "invalid type: null, expected a string, a token or a token array"),
        ] {
            let message = input(json).unwrap_err().to_string();
            assert!(message.starts_with(says), "{json}: {message}");
        }
        for value in [
            EmbeddingInput::One("a".into()),
            EmbeddingInput::Many(vec!["a".into(), String::new()]),
            EmbeddingInput::Tokens(vec![0, 7]),
            EmbeddingInput::ManyTokens(vec![vec![1, 2], vec![3]]),
        ] {
            assert_eq!(input(&serde_json::to_string(&value).unwrap()).unwrap(), value);
        }
    }

    #[test]
    fn a_bad_input_element_is_named_by_its_index() {
        let err = parse_embeddings_request(br#"{"model":"e","input":["a","b",3]}"#).unwrap_err();
        assert_eq!(err.param(), Some("input[2]"));
        let err = parse_embeddings_request(br#"{"model":"e","input":true}"#).unwrap_err();
        assert_eq!(err.param(), Some("input"));
    }

    #[test]
    fn base64_is_little_endian_f32() {
        // 1.0f32 = 00 00 80 3f
        assert_eq!(encode_base64_f32(&[1.0]), "AACAPw==");
        assert_eq!(encode_base64_f32(&[1.0, 1.0, 1.0]), "AACAPwAAgD8AAIA/");
        let response = EmbeddingsResponse::from_vectors("m", vec![vec![1.0]], true, 3);
        assert_eq!(response.data[0].embedding, Value::String("AACAPw==".into()));
        assert_eq!(response.usage.total_tokens, 3);
    }
}
