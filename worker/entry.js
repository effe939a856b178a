// The Worker's entry point: hands each event straight to the wasm handlers.
//
// worker-build's module (./build/index.js) exports the handlers as methods
// of a WorkerEntrypoint class, wrapped in Proxies that watch for a crashed
// wasm instance. That wrapping runs on every request (a class instance, two
// Proxies, a copied handler object and an extra async hop): side-by-side
// runs put it at 6 to 20% of the worker's CPU per request.
//
// The wrapping is not needed to survive a crash: wasm-bindgen's glue notes a
// trap in any call into the wasm and makes a new instance on the next call
// (tests/config/bare-workerd.test.mjs crashes one on purpose). So this
// entry calls the same handler methods with the runtime's `env` and `ctx`,
// and no wrapping. The Durable Object classes are exported as generated.

import Generated from './build/index.js';

export { Coalescer, KeyLimiter, SemanticIndex } from './build/index.js';

const { fetch, queue, scheduled } = Generated.prototype;

export default {
  fetch: (request, env, ctx) => fetch.call({ env, ctx }, request),
  queue: (batch, env, ctx) => queue.call({ env, ctx }, batch),
  scheduled: (controller, env, ctx) => scheduled.call({ env, ctx }, controller),
};
