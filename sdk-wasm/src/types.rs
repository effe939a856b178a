//! The TypeScript types of everything an app passes and receives, written
//! into the `.d.ts` wasm-bindgen generates. Requests and answers are the
//! OpenAI chat-completions shapes the gateway speaks; the rest is Edgeway's.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = r#"
/** How a client reaches the gateway. Give `apiKey` or `getToken`. */
export interface EdgewayOptions {
  /** The gateway's origin, e.g. `https://gateway.example.com` (a trailing `/v1` is fine). Defaults to the page's own origin. */
  baseUrl?: string;
  /** A gateway key: in a browser, a publishable `ew_pk_` key limited to your origins. */
  apiKey?: string;
  /** Returns a short-lived token from your backend; called again when the gateway says the token expired. */
  getToken?: () => string | Promise<string>;
  /** Retries after the first attempt, on network errors, 408, 429 and 5xx. Default 2. */
  maxRetries?: number;
  /** The whole call's time limit, retries and streaming included. Default 600000 (10 minutes). */
  timeoutMs?: number;
  /** Headers sent with every call (e.g. `x-edgeway-cache: skip`). */
  headers?: Record<string, string>;
  /** The fetch to use; defaults to the global one. */
  fetch?: typeof fetch;
}

/** Options for one call; they override the client's. */
export interface CallOptions {
  /** Aborting it stops the call at once, rejecting with code `aborted`. */
  signal?: AbortSignal;
  timeoutMs?: number;
  maxRetries?: number;
  headers?: Record<string, string>;
}

export type Role = 'system' | 'developer' | 'user' | 'assistant' | 'tool';

export type ContentPart =
  | { type: 'text'; text: string }
  | { type: 'image_url'; image_url: { url: string; detail?: 'auto' | 'low' | 'high' } };

export type ChatMessage =
  | { role: 'system' | 'developer'; content: string | ContentPart[]; name?: string }
  | { role: 'user'; content: string | ContentPart[]; name?: string }
  | { role: 'assistant'; content?: string | ContentPart[] | null; name?: string; tool_calls?: ToolCall[]; refusal?: string | null }
  | { role: 'tool'; content: string | ContentPart[]; tool_call_id: string };

export interface Tool {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean };
}

export type ToolChoice = 'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } };

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; json_schema: { name: string; schema?: Record<string, unknown>; strict?: boolean; description?: string } };

/** A chat-completions request; `model` is a gateway route (see `models()`). */
export interface ChatCompletionRequest {
  model: string;
  messages: ChatMessage[];
  tools?: Tool[];
  tool_choice?: ToolChoice;
  parallel_tool_calls?: boolean;
  response_format?: ResponseFormat;
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  max_completion_tokens?: number;
  stop?: string | string[];
  seed?: number;
  n?: number;
  presence_penalty?: number;
  frequency_penalty?: number;
  logprobs?: boolean;
  top_logprobs?: number;
  user?: string;
  /** Set by `stream()`, which also asks for usage unless you set this. */
  stream_options?: { include_usage?: boolean };
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number };
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call';

export interface ChatCompletionMessage {
  role: 'assistant';
  content: string | null;
  refusal?: string | null;
  tool_calls?: ToolCall[];
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: { index: number; message: ChatCompletionMessage; finish_reason: FinishReason | null; logprobs?: unknown }[];
  usage?: Usage;
  system_fingerprint?: string;
  /** What the gateway said about this answer (not part of the JSON). */
  readonly edgeway: ResponseMetadata;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  /** Empty in the last chunk, which carries `usage`. */
  choices: {
    index: number;
    delta: { role?: 'assistant'; content?: string | null; refusal?: string | null; tool_calls?: (Partial<ToolCall> & { index: number })[] };
    finish_reason: FinishReason | null;
    logprobs?: unknown;
  }[];
  usage?: Usage | null;
  system_fingerprint?: string;
}

export interface Model {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
}

export interface ModelList {
  object: 'list';
  data: Model[];
  readonly edgeway: ResponseMetadata;
}

/** The gateway's account of an answer, from its response headers. */
export interface ResponseMetadata {
  requestId?: string;
  /** The route (model alias) used. */
  route?: string;
  /** The provider and upstream model that answered. */
  provider?: string;
  model?: string;
  /** `HIT`, `MISS`, `BYPASS`, `REFRESH` or `SEMANTIC`. */
  cache?: string;
  cacheAgeSeconds?: number;
  /** On a `SEMANTIC` hit: how close the cached question is (cosine, 0 to 1). */
  cacheSimilarity?: number;
  /** On a route with tiers: the tier that answered, and why. */
  tier?: string;
  tierReason?: string;
  /** On a route with guardrails: what ran and what it did, e.g. `ran=input:secrets; redacted=input:secrets`. */
  guardrails?: string;
  /** Upstream attempts the gateway made (0 on a cache hit). */
  attempts?: number;
  /** Known before the answer only when it was not streamed. */
  tokensIn?: number;
  tokensOut?: number;
  costUsd?: number;
  /** Retries the SDK made before this answer. */
  retries: number;
}

/** The gateway's error codes, and the SDK's own three. */
export type ErrorCode =
  | 'invalid_json' | 'invalid_request' | 'context_length_exceeded'
  | 'invalid_api_key' | 'token_expired' | 'token_invalid'
  | 'origin_not_allowed' | 'route_not_allowed'
  | 'model_not_found' | 'not_found' | 'method_not_allowed' | 'payload_too_large'
  | 'rate_limit_exceeded' | 'insufficient_quota' | 'guardrail_blocked'
  | 'upstream_error' | 'upstream_unavailable' | 'upstream_timeout' | 'gateway_misconfigured'
  | 'internal_error' | 'stream_interrupted'
  | 'timeout' | 'aborted' | 'network';
"#;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(typescript_type = "EdgewayOptions")]
    pub type EdgewayOptions;
    #[wasm_bindgen(typescript_type = "CallOptions")]
    pub type CallOptions;
    #[wasm_bindgen(typescript_type = "ChatCompletionRequest")]
    pub type ChatCompletionRequest;
    #[wasm_bindgen(typescript_type = "Promise<ChatCompletion>")]
    pub type CompletionPromise;
    #[wasm_bindgen(typescript_type = "Promise<ModelList>")]
    pub type ModelListPromise;
    #[wasm_bindgen(typescript_type = "Promise<ResponseMetadata>")]
    pub type MetadataPromise;
}
