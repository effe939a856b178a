// Waiting without sleeping blindly: a free port to listen on, and polling a
// condition until it holds. Shared by the test harness and the benchmarks;
// no side effects on import.

import { createServer } from 'node:net';

/** A port that was free on 127.0.0.1 a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Polls `check` until it returns something truthy; throws after `timeoutMs`.
 * An error thrown by `check` counts as "not yet", unless it has `fatal` set.
 */
export async function waitFor(check, { timeoutMs = 30_000, intervalMs = 50, what = 'a condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      if (error.fatal) throw error;
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (${lastError.message})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
