// Runs the real worker under `wrangler dev` (workerd with local KV, D1 and
// Durable Objects) and the mock upstream, for end-to-end tests and `make eval`.

import { join } from 'node:path';
import { freePort, repoRoot, start, stop, tempDir, waitFor } from './processes.mjs';

/** The gateway key the tests use. Not a secret: test-only. */
export const TEST_GATEWAY_KEY = 'ew-test-key-0123456789abcdef';
/** The admin token of the test gateway (`/admin/api/*`). */
export const TEST_ADMIN_TOKEN = 'ew-admin-test-token-5c8e1f0a2b7d';
/** The master secret tokens are signed with (per key, through HKDF). */
export const TEST_SIGNING_SECRET = 'test-signing-master-secret-9d2f6a1c';
/** The provider key the mock demands; tests assert it never leaks. */
export const TEST_PROVIDER_KEY = 'sk-test-provider-secret-7f3a9c2e5b1d';

/** Applies migrations/ to the local D1 database under `persistTo`. */
async function applyMigrations(persistTo) {
  const migrate = start('d1-migrations', 'npx', ['wrangler', 'd1', 'migrations', 'apply', 'edgeway-logs', '--local', '--persist-to', persistTo], {
    env: { WRANGLER_SEND_METRICS: 'false', CI: 'true', NO_COLOR: '1' },
  });
  const code = await new Promise((resolve) => migrate.child.once('exit', resolve));
  if (code !== 0) throw new Error(`applying D1 migrations failed:\n${migrate.lines.slice(-20).join('\n')}`);
}

/**
 * Starts the mock upstream and the gateway pointed at it. Resolves when both
 * answer. `stop()` ends both, by PID.
 */
export async function startStack({ logDir, vars = {} } = {}) {
  const state = tempDir('edgeway-state-');
  const mockPort = await freePort();
  const mock = start('mock-upstream', process.execPath, [join(repoRoot, 'tests/mock/upstream.mjs'), '--port', String(mockPort), '--api-key', TEST_PROVIDER_KEY], {
    logFile: logDir && join(logDir, 'mock-upstream.log'),
  });
  const mockUrl = `http://127.0.0.1:${mockPort}`;
  await waitFor(() => mock.lines.some((l) => l.startsWith('mock-upstream listening')), { what: 'the mock upstream', timeoutMs: 20_000 });

  const port = await freePort();
  const inspectorPort = await freePort();
  // A port nothing listens on: the `llama` route's provider, for
  // connection-refused tests, whatever the developer runs locally.
  const closedPort = await freePort();
  const allVars = {
    EDGEWAY_DEV_KEY: TEST_GATEWAY_KEY,
    EDGEWAY_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    EDGEWAY_SIGNING_SECRET: TEST_SIGNING_SECRET,
    // The movable clock and failure switches of /admin/api/test/*.
    EDGEWAY_TEST_MODE: '1',
    OPENAI_API_KEY: TEST_PROVIDER_KEY,
    OPENAI_BASE_URL: `${mockUrl}/v1`,
    // Every vendor at the mock, which speaks each one's wire format.
    ANTHROPIC_API_KEY: TEST_PROVIDER_KEY,
    ANTHROPIC_BASE_URL: `${mockUrl}/v1`,
    GEMINI_API_KEY: TEST_PROVIDER_KEY,
    GEMINI_BASE_URL: `${mockUrl}/v1beta`,
    AZURE_OPENAI_API_KEY: TEST_PROVIDER_KEY,
    AZURE_BASE_URL: mockUrl,
    CLOUDFLARE_API_TOKEN: TEST_PROVIDER_KEY,
    WORKERS_AI_BASE_URL: `${mockUrl}/client/v4/accounts/test-account/ai/v1`,
    OLLAMA_BASE_URL: `http://127.0.0.1:${closedPort}/v1`,
    ...vars,
  };
  // The log database's schema, as `make dev` and a deploy apply it.
  await applyMigrations(state.dir);
  // --test-scheduled: GET /__scheduled runs the cron handler (retention).
  const args = ['wrangler', 'dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspectorPort),
    '--persist-to', state.dir, '--show-interactive-dev-session=false', '--test-scheduled'];
  for (const [k, v] of Object.entries(allVars)) args.push('--var', `${k}:${v}`);
  const gateway = start('wrangler-dev', 'npx', args, {
    env: { WRANGLER_SEND_METRICS: 'false', CI: 'true', NO_COLOR: '1' },
    logFile: logDir && join(logDir, 'gateway.log'),
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(async () => (await fetch(`${url}/healthz`)).ok, { what: 'the gateway (wrangler dev)', timeoutMs: 180_000, intervalMs: 250 });
  } catch (error) {
    await stop(gateway);
    await stop(mock);
    state.remove();
    throw new Error(`${error.message}\n--- wrangler output ---\n${gateway.lines.slice(-40).join('\n')}`);
  }
  return {
    url,
    mockUrl,
    gateway,
    mock,
    async stop() {
      await stop(gateway);
      await stop(mock);
      state.remove();
    },
  };
}
