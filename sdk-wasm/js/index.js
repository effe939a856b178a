// The `edgeway` package: a client for an Edgeway LLM gateway, for browsers.
//
// The engine is Rust compiled to wasm (edgeway_sdk.js and its .wasm): it
// sends calls, retries them, reads streams and reports errors. This module
// loads it on first use, so importing the package costs nothing until a
// call, and adds what is plainer in JavaScript: iteration, text deltas,
// the final answer, and ReadableStream.

import init, { Client, EdgewayError } from './edgeway_sdk.js';

export { EdgewayError };

let loading;

/**
 * Loads the wasm engine (once). Calls do it themselves; call it early to
 * overlap the download with other work, or pass where the .wasm is served
 * if your bundler does not handle `new URL(..., import.meta.url)`.
 */
export function load(wasm) {
  loading ??= init(wasm === undefined ? undefined : { module_or_path: wasm }).then(() => undefined);
  return loading;
}

/** A client of one Edgeway gateway. */
export class Edgeway {
  #client;

  constructor(options) {
    this.#client = load().then(() => new Client(options ?? {}));
    // A bad option rejects every call; it is not also an unhandled rejection.
    this.#client.catch(() => {});
  }

  /** Sends a chat completion; resolves to the whole answer. */
  async chat(request, options) {
    return (await this.#client).chat(request, options);
  }

  /** Starts a streamed chat completion: iterate it for chunks as they arrive. */
  stream(request, options) {
    return new ChatStream(this.#client.then((client) => client.stream(request, options)));
  }

  /** Lists the models (gateway routes) this key may use. */
  async models(options) {
    return (await this.#client).models(options);
  }
}

/** A streamed answer: an async iterable of chunks, with helpers. */
export class ChatStream {
  #inner;
  #ready;
  #answer = new Answer();
  #ended = false;

  constructor(inner) {
    this.#inner = inner;
    inner.then((stream) => { this.#ready = stream; }, () => {});
  }

  /** The next chunk (the async iterator protocol). */
  async next() {
    const result = await (await this.#inner).next();
    if (result.done) this.#ended = true;
    else this.#answer.add(result.value);
    return result;
  }

  /** Stops reading (a `break` out of `for await` calls this). */
  async return() {
    (await this.#inner).cancel();
    return { done: true, value: undefined };
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  /** The text deltas alone, as they arrive. */
  get textStream() {
    const stream = this;
    return (async function* text() {
      for await (const chunk of stream) {
        const text = chunk.choices?.[0]?.delta?.content;
        if (text) yield text;
      }
    })();
  }

  /** What the gateway said about the answer: request id, route, provider, cache, attempts. */
  async metadata() {
    return (await this.#inner).metadata();
  }

  /** The whole answer once the stream ends (reads the rest of it). */
  async finalCompletion() {
    while (!this.#ended) await this.next();
    return this.#answer.completion(await this.metadata());
  }

  /** The assistant's message once the stream ends. */
  async finalMessage() {
    return (await this.finalCompletion()).choices[0]?.message ?? { role: 'assistant', content: null };
  }

  /** The answer's text once the stream ends. */
  async finalText() {
    return (await this.finalMessage()).content ?? '';
  }

  /** Token usage once the stream ends (null if the gateway sent none). */
  async finalUsage() {
    return (await this.finalCompletion()).usage ?? null;
  }

  /** Stops the stream at once; pending and later reads reject with code `aborted`. */
  abort() {
    if (this.#ready) this.#ready.abort();
    else this.#inner.then((stream) => stream.abort(), () => {});
  }

  /** The chunks as a ReadableStream (cancelling it stops the stream). */
  toReadableStream() {
    return new ReadableStream({
      pull: async (controller) => {
        try {
          const { done, value } = await this.next();
          if (done) controller.close();
          else controller.enqueue(value);
        } catch (error) {
          controller.error(error);
        }
      },
      cancel: () => this.return(),
    });
  }
}

/**
 * Puts a `chat.completion` back together from its chunks: text and refusals
 * concatenated, tool calls joined by index, finish reasons and usage kept.
 */
class Answer {
  #head = { id: '', object: 'chat.completion', created: 0, model: '' };
  #choices = [];
  #usage;

  add(chunk) {
    this.#head.id ||= chunk.id ?? '';
    this.#head.model ||= chunk.model ?? '';
    this.#head.created ||= chunk.created ?? 0;
    if (chunk.system_fingerprint) this.#head.system_fingerprint ??= chunk.system_fingerprint;
    if (chunk.usage) this.#usage = chunk.usage;
    for (const choice of chunk.choices ?? []) {
      const index = choice.index ?? 0;
      const slot = (this.#choices[index] ??= { index, message: { role: 'assistant', content: null }, finish_reason: null });
      const { content, refusal, tool_calls: calls } = choice.delta ?? {};
      if (content) slot.message.content = (slot.message.content ?? '') + content;
      if (refusal) slot.message.refusal = (slot.message.refusal ?? '') + refusal;
      for (const delta of calls ?? []) {
        const list = (slot.message.tool_calls ??= []);
        // A delta without an index (some servers send calls whole) opens a
        // new call when it has an id, else continues the last one.
        const at = delta.index ?? (delta.id ? list.length : Math.max(list.length - 1, 0));
        const call = (list[at] ??= { id: '', type: 'function', function: { name: '', arguments: '' } });
        call.id ||= delta.id ?? '';
        call.function.name ||= delta.function?.name ?? '';
        call.function.arguments += delta.function?.arguments ?? '';
      }
      if (choice.finish_reason) slot.finish_reason = choice.finish_reason;
    }
  }

  completion(metadata) {
    const completion = { ...this.#head, choices: this.#choices.filter(Boolean) };
    if (this.#usage) completion.usage = this.#usage;
    return Object.defineProperty(completion, 'edgeway', { value: metadata });
  }
}
