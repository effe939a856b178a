//! OpenAI chat-completions wire types: what callers send and receive.
//!
//! Field names and shapes follow OpenAI's API reference for
//! `POST /v1/chat/completions`. Request types keep fields they do not know in
//! `extra`, so a newer OpenAI parameter still reaches an OpenAI-compatible
//! upstream instead of being silently dropped.

mod chunk;
mod embeddings;
mod error_body;
mod open_object;
mod request;
mod response;

pub use chunk::{ChatCompletionChunk, ChunkChoice, Delta, ToolCallDelta};
pub use embeddings::{encode_base64_f32, parse_embeddings_request, Embedding, EmbeddingInput, EmbeddingsRequest, EmbeddingsResponse, EmbeddingsUsage, MAX_EMBEDDING_INPUTS};
pub use error_body::{ErrorBody, ErrorObject};
pub use request::{
    parse_body, parse_chat_request, ChatRequest, Content, ContentPart, FunctionCall, FunctionDef, ImageUrl,
    Message, ResponseFormat, Role, Stop, StreamOptions, Tool, ToolCall, ToolChoice,
};
pub use response::{ChatCompletion, Choice, PromptTokensDetails, ResponseMessage, Usage};
