// The yardstick between the pass-through (b) and Edgeway (c): Edgeway's
// request path for the bench's requests, written as plain JS with no wasm.
// It makes the calls into the runtime that Edgeway makes for them — reads
// the body, draws a request id, sends one upstream fetch under a timer,
// reads the answer (or relays the stream chunk by chunk through a native
// pipe), logs one JSON line, and answers with Edgeway's headers — and does
// the same work in JS that Edgeway does in wasm: parses the request and
// re-serialises it for the upstream, reads usage from the answer, prices
// it. It has none of the rest (routing, keys, retries, breakers, cache,
// guardrails, error handling), so it is a floor, not a rival:
//   (f) / (b)  what those runtime calls cost any Worker, and
//   (c) / (f)  what Edgeway's wasm, its glue and its features add to them.
// Not part of the product.

// gpt-4o-mini's price in USD per million tokens (core/src/pricing.rs), and
// the default total timeout (config/edgeway.toml).
const PRICE = { input: 0.15, output: 0.6 };
const TIMEOUT_MS = 120_000;
const encoder = new TextEncoder();

export default {
  async fetch(request, env, ctx) {
    const started = Date.now();
    const id = `req_${[...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
    if (request.headers.get('authorization') !== `Bearer ${env.EDGEWAY_DEV_KEY}`) {
      return Response.json({ error: { message: 'invalid gateway key', type: 'authentication_error', code: 'invalid_api_key', request_id: id } }, { status: 401 });
    }
    const chat = JSON.parse(await request.text());
    const upstreamRequest = chat.stream ? { ...chat, stream_options: { ...chat.stream_options, include_usage: true } } : chat;
    // As in Edgeway, only a streamed call gets a controller; a whole answer's
    // timer just stops waiting (the runtime cancels the call with the request).
    const abort = chat.stream ? new AbortController() : null;
    const timer = setTimeout(() => abort?.abort(), TIMEOUT_MS);
    const upstream = await fetch(`${env.OPENAI_BASE_URL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${env.OPENAI_API_KEY}` },
      body: JSON.stringify(upstreamRequest),
      signal: abort?.signal,
    });
    const headers = {
      'x-request-id': id,
      'x-edgeway-provider': 'openai',
      'x-edgeway-model': chat.model,
      'x-edgeway-route': chat.model,
      'x-edgeway-attempts': '1',
      'x-edgeway-cache': 'BYPASS',
    };
    const record = { event: 'request', request_id: id, time_ms: started, method: 'POST', path: '/v1/chat/completions', key_id: 'dev', route: chat.model, provider: 'openai', model: chat.model, status: upstream.status, outcome: 'ok', stream: Boolean(chat.stream) };
    if (!chat.stream) {
      const answer = await upstream.text();
      clearTimeout(timer);
      const { usage } = JSON.parse(answer);
      const cost = price(usage);
      console.log(JSON.stringify({ ...record, latency_ms: Date.now() - started, tokens_in: usage.prompt_tokens, tokens_out: usage.completion_tokens, cost_usd: cost }));
      return new Response(answer, {
        status: upstream.status,
        headers: { 'content-type': 'application/json', ...headers, 'x-edgeway-tokens-in': `${usage.prompt_tokens}`, 'x-edgeway-tokens-out': `${usage.completion_tokens}`, 'x-edgeway-cost-usd': cost.toFixed(10).replace(/\.?0+$/, '') },
      });
    }
    const { readable, writable } = new IdentityTransformStream();
    const relayed = relay(upstream.body, writable.getWriter(), Boolean(chat.stream_options?.include_usage)).then(({ usage, firstTokenMs }) => {
      clearTimeout(timer);
      console.log(JSON.stringify({ ...record, latency_ms: Date.now() - started, ttft_ms: firstTokenMs - started, tokens_in: usage?.prompt_tokens, tokens_out: usage?.completion_tokens, cost_usd: price(usage) }));
    });
    ctx.waitUntil(relayed);
    return new Response(readable, { headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...headers } });
  },
};

/**
 * Reads every upstream chunk, parses its events, keeps the usage, drops the
 * usage-only event the caller did not ask for, and writes the rest on (one
 * write in flight while the next chunk is read, as Edgeway does).
 */
async function relay(body, writer, callerWantsUsage) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let pending = '';
  let usage = null;
  let firstTokenMs = null;
  let writing = Promise.resolve();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    pending += decoder.decode(value, { stream: true });
    let out = '';
    for (let end = pending.indexOf('\n\n'); end >= 0; end = pending.indexOf('\n\n')) {
      const event = pending.slice(0, end + 2);
      pending = pending.slice(end + 2);
      const data = event.slice('data: '.length, -2);
      if (data !== '[DONE]') {
        const chunk = JSON.parse(data);
        if (chunk.usage) usage = chunk.usage;
        if (chunk.choices.length === 0 && !callerWantsUsage) continue;
        firstTokenMs ??= Date.now();
      }
      out += event;
    }
    if (!out) continue;
    await writing;
    writing = writer.write(encoder.encode(out));
  }
  await writing;
  await writer.close();
  return { usage, firstTokenMs };
}

/** USD to ten decimal places, as Edgeway keeps it; null without usage. */
function price(usage) {
  if (!usage) return null;
  return Math.round(((usage.prompt_tokens * PRICE.input + usage.completion_tokens * PRICE.output) / 1e6) * 1e10) / 1e10;
}
