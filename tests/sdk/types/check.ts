// Type-checked by tests/sdk/package.test.mjs (tsc, strict). Right uses of
// the `edgeway` package compile; each misuse marked @ts-expect-error must
// be an error, and tsc fails on an unused one: an `any` in the package's
// types would let the misuse through and fail the check.

import { Edgeway, EdgewayError, type ChatCompletionChunk, type ErrorCode, type ResponseMetadata } from 'edgeway';

const client = new Edgeway({ baseUrl: 'https://gateway.example.com', apiKey: 'ew_pk_example', maxRetries: 1, timeoutMs: 30_000 });
new Edgeway({ getToken: async () => 'a token from the backend', headers: { 'x-edgeway-cache': 'skip' } });

export async function ask(prompt: string, signal: AbortSignal): Promise<string> {
  const completion = await client.chat({ model: 'demo', messages: [{ role: 'user', content: prompt }], temperature: 0.2 }, { signal });
  const content: string | null = completion.choices[0].message.content;
  const requestId: string | undefined = completion.edgeway.requestId;
  console.log(requestId, completion.usage?.total_tokens);
  return content ?? '';
}

export async function streamInto(element: HTMLElement, prompt: string): Promise<ResponseMetadata> {
  const stream = client.stream({ model: 'demo', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: prompt }] });
  for await (const chunk of stream) {
    const delta: string | null | undefined = chunk.choices[0]?.delta.content;
    const object: 'chat.completion.chunk' = chunk.object;
    console.log(delta, object);
  }
  for await (const text of client.stream({ model: 'demo', messages: [{ role: 'user', content: prompt }] }).textStream) {
    element.textContent += text;
  }
  const meta = await stream.metadata();
  const retries: number = meta.retries;
  const route: string | undefined = meta.route;
  console.log(retries, route, await stream.finalText());
  return meta;
}

export async function explain(call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
    return 'ok';
  } catch (error) {
    if (!(error instanceof EdgewayError)) throw error;
    const code: ErrorCode = error.code;
    const message: string = error.message;
    if (error.code === 'rate_limit_exceeded') return `wait ${error.retryAfterMs ?? 1000} ms`;
    if (error.code === 'model_not_found') return `no such model (HTTP ${error.status}, ${error.requestId})`;
    // @ts-expect-error: not one of the SDK's error codes
    if (error.code === 'teapot') return 'short and stout';
    return `${code}: ${message}`;
  }
}

export async function misuses(chunk: ChatCompletionChunk): Promise<void> {
  // @ts-expect-error: no such role
  await client.chat({ model: 'demo', messages: [{ role: 'robot', content: 'beep' }] });
  // @ts-expect-error: temperature is a number
  await client.chat({ model: 'demo', messages: [{ role: 'user', content: 'hi' }], temperature: 'hot' });
  // @ts-expect-error: `model` (a gateway route) is required
  await client.chat({ messages: [{ role: 'user', content: 'hi' }] });
  // @ts-expect-error: a tool message needs its tool_call_id
  await client.chat({ model: 'demo', messages: [{ role: 'tool', content: '42' }] });
  // @ts-expect-error: the answer's content is a string or null
  const length: number = (await client.chat({ model: 'demo', messages: [] })).choices[0].message.content;
  // @ts-expect-error: the signal is an AbortSignal
  client.stream({ model: 'demo', messages: [] }, { signal: 'stop' });
  // @ts-expect-error: the text stream yields strings
  for await (const text of client.stream({ model: 'demo', messages: [] }).textStream) console.log(text.toFixed());
  // @ts-expect-error: an API key is a string
  new Edgeway({ apiKey: 42 });
  // @ts-expect-error: a chunk's delta may have no content
  const text: string = chunk.choices[0].delta.content;
  console.log(length, text);
}
