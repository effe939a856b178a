// The `edgeway` package as its users get it: packed like a publisher would,
// installed into an app, bundled by Vite and run in Chromium against this
// run's gateway; loaded without a bundler; type-checked by a strict
// TypeScript project; and small enough.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, readFileSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { launchChromium } from '../harness/browser.mjs';
import { build } from 'vite';
import { GATEWAY, createKey } from '../e2e/helpers.mjs';
import { repoRoot, tempDir } from '../harness/processes.mjs';

const run = promisify(execFile);
const pkg = join(repoRoot, 'sdk-wasm/pkg');
const runtimeJs = `snippets/${readdirSync(join(pkg, 'snippets'))[0]}/js/runtime.js`;

let temp;
let packed;
let app;
let plain;
let key;
let browser;

before(async () => {
  temp = tempDir('edgeway-package-');
  // npm's cache in the temp dir too: the run leaves nothing in ~/.npm.
  const npm = (args, cwd) => run('npm', args, { cwd, env: { ...process.env, npm_config_cache: join(temp.dir, 'npm-cache') } });

  // `./`: a bare `sdk-wasm/pkg` would be read as a GitHub repository.
  const { stdout } = await npm(['pack', './sdk-wasm/pkg', '--pack-destination', temp.dir, '--json'], repoRoot);
  [packed] = JSON.parse(stdout);

  const appDir = join(temp.dir, 'app');
  cpSync(join(repoRoot, 'tests/sdk/app'), appDir, { recursive: true, filter: (src) => !/[/\\](node_modules|dist)$/.test(src) });
  await npm(['install', '--no-audit', '--no-fund', '--offline', join(temp.dir, packed.filename)], appDir);
  await build({ root: appDir, logLevel: 'warn', build: { outDir: 'dist' } });

  // The package's own files, with a page beside them that imports it.
  [app, plain] = await Promise.all([serve(join(appDir, 'dist')), serve(pkg, { '/': plainPage })]);
  ({ key } = await createKey({ kind: 'publishable', origins: [app.origin, plain.origin] }));

  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await Promise.all([app?.close(), plain?.close()]);
  temp?.remove();
});

test('the packed package holds the entry, the engine, its types and the README', () => {
  assert.equal(packed.name, 'edgeway');
  const files = packed.files.map((f) => f.path);
  for (const file of ['index.js', 'index.d.ts', 'edgeway_sdk.js', 'edgeway_sdk_bg.wasm', runtimeJs, 'README.md']) {
    assert.ok(files.includes(file), `${file} missing from ${files.join(', ')}`);
  }
  assert.ok(packed.files.find((f) => f.path === 'README.md').size > 0, 'the README is empty');
});

test('a Vite-built app streams an answer into the page token by token', async () => {
  const page = await openApp();
  // Every change to the answer, with its time: a stream shows up in steps.
  await page.evaluate(() => {
    const answer = document.querySelector('#answer');
    window.growth = [];
    new MutationObserver(() => window.growth.push({ t: performance.now(), length: answer.textContent.length }))
      .observe(answer, { childList: true, characterData: true, subtree: true });
  });
  await ask(page, 'streamed into the page by the edgeway package');

  assert.equal(await text(page, '#status'), 'done', `error: ${await text(page, '#error')}`);
  assert.equal(await text(page, '#answer'), 'You said: streamed into the page by the edgeway package');
  const growth = await page.evaluate(() => window.growth);
  assert.ok(new Set(growth.map((g) => g.length)).size >= 5, `the answer grew in too few steps: ${JSON.stringify(growth)}`);
  assert.ok(growth.at(-1).t - growth[0].t >= 60, `the answer arrived all at once: ${JSON.stringify(growth)}`);
  assert.match(await text(page, '#meta'), /^req_\S+ via demo$/);
});

test('the same app shows a typed error', async () => {
  const page = await openApp();
  await page.getByLabel('Model').fill('no-such-route');
  await ask(page, 'anyone there?');
  assert.equal(await text(page, '#status'), 'failed');
  assert.equal(await text(page, '#error'), 'model_not_found');
  assert.equal(await text(page, '#answer'), '');
});

test('the package works from a plain module script, with no bundler', async () => {
  const page = await browser.newPage();
  await page.goto(`${plain.origin}/?${new URLSearchParams({ gateway: GATEWAY, key })}`);
  await page.waitForFunction(() => document.querySelector('#out').textContent !== 'waiting');
  assert.equal(await text(page, '#out'), 'You said: no bundler needed');
});

test('the types are precise: right uses compile, misuses do not', async () => {
  // check.ts marks each misuse @ts-expect-error; tsc fails on one that is
  // not an error, so an `any` in the package's types fails this test.
  const tsc = join(repoRoot, 'node_modules/.bin/tsc');
  const result = await run(tsc, ['-p', 'tests/sdk/types/tsconfig.json'], { cwd: repoRoot }).catch((error) => error);
  assert.equal(result.code ?? 0, 0, `${result.stdout}${result.stderr}`);
});

test('the engine and its JS glue fit in 60 KiB gzipped', (t) => {
  const files = ['edgeway_sdk_bg.wasm', 'edgeway_sdk.js', 'index.js', runtimeJs];
  const bytes = files.reduce((sum, file) => sum + gzipSync(readFileSync(join(pkg, file)), { level: 9 }).length, 0);
  t.diagnostic(`wasm + JS: ${bytes} bytes gzipped`);
  assert.ok(bytes <= 60 * 1024, `${bytes} bytes gzipped`);
});

// No bundler, no import map: the entry by its relative URL.
const plainPage = `<!doctype html>
<title>edgeway without a bundler</title>
<p id="out">waiting</p>
<script type="module">
  import { Edgeway } from './index.js';
  const params = new URLSearchParams(location.search);
  const client = new Edgeway({ baseUrl: params.get('gateway'), apiKey: params.get('key') });
  const out = document.querySelector('#out');
  try {
    const completion = await client.chat({ model: 'demo', messages: [{ role: 'user', content: 'no bundler needed' }] });
    out.textContent = completion.choices[0].message.content;
  } catch (error) {
    out.textContent = \`failed: \${error.code ?? error}\`;
  }
</script>`;

/** Opens the built app, pointed at the gateway with the publishable key. */
async function openApp() {
  const page = await browser.newPage();
  await page.goto(`${app.origin}/?${new URLSearchParams({ gateway: GATEWAY, key })}`);
  return page;
}

/** Asks the app a question and waits until the answer is over, either way. */
async function ask(page, prompt) {
  await page.getByLabel('Prompt').fill(prompt);
  await page.getByRole('button', { name: 'Ask' }).click();
  await page.waitForFunction(() => ['done', 'failed'].includes(document.querySelector('#status').textContent));
}

function text(page, selector) {
  return page.locator(selector).textContent();
}

const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
};

/** Serves `dir` (and `pages`, by path) on 127.0.0.1; `close()` stops it. */
async function serve(dir, pages = {}) {
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://host').pathname);
    if (pages[path]) {
      res.writeHead(200, { 'content-type': types['.html'] });
      return res.end(pages[path]);
    }
    const file = resolve(dir, `.${path.endsWith('/') ? `${path}index.html` : path}`);
    try {
      if (!file.startsWith(dir + sep)) throw new Error('outside the served directory');
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  await new Promise((done) => server.listen(0, '127.0.0.1', done));
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((done) => {
      server.closeAllConnections();
      server.close(done);
    }),
  };
}
