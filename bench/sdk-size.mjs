#!/usr/bin/env node
// `make bench`: what the browser SDK costs an app, next to OpenAI's official
// client, both bundled by the same bundler in one run (Vite's production
// build, no plugins) from the same minimal app: stream one chat answer into
// the page. Sizes are every emitted asset the app loads (JS and wasm),
// each `gzip -9`; the package's own budget (wasm + JS glue ≤ 60 KB gzipped)
// is checked from sdk-wasm/pkg as published.
//
// Usage (after `sh scripts/build-sdk.sh`, which `make bench` runs):
//   node bench/sdk-size.mjs [--out bench/results/sdk-size.json]

import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'vite';
import { gzipSizes } from './lib/sizes.mjs';

const repoRoot = resolve(import.meta.dirname, '..');
const pkg = join(repoRoot, 'sdk-wasm', 'pkg');
const { values: opts } = parseArgs({ options: { out: { type: 'string', default: 'bench/results/sdk-size.json' } } });
const BUDGET_BYTES = 60 * 1024;

const apps = {
  edgeway: `import { Edgeway } from 'edgeway';
const client = new Edgeway({ baseUrl: location.origin, apiKey: 'ew_pk_example' });
(async () => {
  const stream = client.stream({ model: 'demo', messages: [{ role: 'user', content: 'hi' }] });
  for await (const text of stream.textStream) document.body.append(text);
})();
`,
  openai: `import OpenAI from 'openai';
const client = new OpenAI({ baseURL: location.origin + '/v1', apiKey: 'ew_pk_example', dangerouslyAllowBrowser: true });
(async () => {
  const stream = await client.chat.completions.create({ model: 'demo', messages: [{ role: 'user', content: 'hi' }], stream: true });
  for await (const chunk of stream) document.body.append(chunk.choices[0]?.delta?.content ?? '');
})();
`,
};

/** Builds one app with Vite; returns the gzip size of each emitted asset. */
async function bundle(name, source) {
  // Inside the repo, so the app resolves `openai` from its node_modules.
  const root = join(repoRoot, 'bench', 'results', 'sdk-size', name);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'index.html'), '<!doctype html><script type="module" src="./main.js"></script>\n');
  writeFileSync(join(root, 'main.js'), source);
  await build({
    root,
    logLevel: 'error',
    configFile: false,
    resolve: { alias: { edgeway: join(pkg, 'index.js') } },
    build: { outDir: 'dist', emptyOutDir: true },
  });
  const assets = join(root, 'dist', 'assets');
  const files = readdirSync(assets).map((file) => ({ file, ...gzipSizes(join(assets, file)) }));
  return { files, gzipBytes: files.reduce((sum, f) => sum + f.gzipBytes, 0) };
}

const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;

const packageFiles = ['edgeway_sdk_bg.wasm', 'edgeway_sdk.js', 'index.js',
  ...readdirSync(join(pkg, 'snippets'), { recursive: true }).filter((f) => f.endsWith('.js')).map((f) => join('snippets', f))];
const packageBytes = packageFiles.reduce((sum, f) => sum + gzipSizes(join(pkg, f)).gzipBytes, 0);
const edgeway = await bundle('edgeway', apps.edgeway);
const openai = await bundle('openai', apps.openai);

const report = {
  package: { files: packageFiles, gzipBytes: packageBytes, budgetBytes: BUDGET_BYTES, pass: packageBytes <= BUDGET_BYTES },
  apps: { edgeway, openai, ratio: edgeway.gzipBytes / openai.gzipBytes },
};
mkdirSync(join(repoRoot, 'bench', 'results'), { recursive: true });
writeFileSync(join(repoRoot, opts.out), `${JSON.stringify(report, null, 2)}\n`);

console.log('\nBrowser SDK size (gzip -9)');
console.log(`  edgeway package, wasm + JS glue:   ${kb(packageBytes)}   budget ${kb(BUDGET_BYTES)}: ${report.package.pass ? 'PASS' : 'MISS'}`);
console.log(`  app streaming one answer, built by Vite ${(await import('vite')).version}:`);
console.log(`    with edgeway:  ${kb(edgeway.gzipBytes)}  (${edgeway.files.map((f) => `${f.file.replace(/-[\w-]{8}\./, '.')} ${kb(f.gzipBytes)}`).join(', ')})`);
console.log(`    with openai:   ${kb(openai.gzipBytes)}  (${openai.files.map((f) => `${f.file.replace(/-[\w-]{8}\./, '.')} ${kb(f.gzipBytes)}`).join(', ')})`);
console.log(`    edgeway / openai: ×${report.apps.ratio.toFixed(2)}`);
if (!report.package.pass) process.exitCode = 1;
