// Types of the `edgeway` package. Request, answer and option types are
// generated from the Rust crate by wasm-bindgen (edgeway_sdk.d.ts); the
// classes below are the package's entry points (index.js).

import type {
  CallOptions,
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionMessage,
  ChatCompletionRequest,
  EdgewayOptions,
  ErrorCode,
  ModelList,
  ResponseMetadata,
  Usage,
} from './edgeway_sdk.js';

export type {
  CallOptions,
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionMessage,
  ChatCompletionRequest,
  ChatMessage,
  ContentPart,
  EdgewayOptions,
  ErrorCode,
  FinishReason,
  Model,
  ModelList,
  ResponseFormat,
  ResponseMetadata,
  Role,
  Tool,
  ToolCall,
  ToolChoice,
  Usage,
} from './edgeway_sdk.js';

/** Loads the wasm engine once; calls do it themselves. */
export declare function load(wasm?: string | URL | Response | BufferSource | WebAssembly.Module): Promise<void>;

/** A client of one Edgeway gateway. */
export declare class Edgeway {
  constructor(options: EdgewayOptions);
  /** Sends a chat completion; resolves to the whole answer. */
  chat(request: ChatCompletionRequest, options?: CallOptions): Promise<ChatCompletion>;
  /** Starts a streamed chat completion: iterate it for chunks as they arrive. */
  stream(request: ChatCompletionRequest, options?: CallOptions): ChatStream;
  /** Lists the models (gateway routes) this key may use. */
  models(options?: CallOptions): Promise<ModelList>;
}

/** A streamed answer: an async iterable of chunks, with helpers. */
export declare class ChatStream implements AsyncIterableIterator<ChatCompletionChunk> {
  next(): Promise<IteratorResult<ChatCompletionChunk, undefined>>;
  return(): Promise<IteratorResult<ChatCompletionChunk, undefined>>;
  [Symbol.asyncIterator](): ChatStream;
  /** The text deltas alone, as they arrive. */
  readonly textStream: AsyncIterableIterator<string>;
  /** What the gateway said about the answer; resolves once it starts. */
  metadata(): Promise<ResponseMetadata>;
  /** The whole answer once the stream ends (reads the rest of it). */
  finalCompletion(): Promise<ChatCompletion>;
  finalMessage(): Promise<ChatCompletionMessage>;
  finalText(): Promise<string>;
  finalUsage(): Promise<Usage | null>;
  /** Stops the stream at once; pending and later reads reject with code `aborted`. */
  abort(): void;
  /** The chunks as a ReadableStream (cancelling it stops the stream). */
  toReadableStream(): ReadableStream<ChatCompletionChunk>;
}

/** Every error the SDK rejects with. */
export declare class EdgewayError extends Error {
  readonly name: 'EdgewayError';
  /** Stable: the gateway's code, or `timeout`, `aborted`, `network`. */
  readonly code: ErrorCode;
  /** The HTTP status, when the gateway answered. */
  readonly status?: number;
  /** OpenAI's error type (`invalid_request_error`, `requests`, `server_error`, ...). */
  readonly type?: string;
  /** The request field at fault, if any. */
  readonly param?: string;
  /** The gateway's request id, for its logs. */
  readonly requestId?: string;
  /** How long the gateway asked to wait before trying again. */
  readonly retryAfterMs?: number;
}
