// How big the Worker is. Two figures, because they answer different
// questions: the wasm alone, raw and `gzip -9` (what our Rust code costs —
// the gzip size is what the target is about), and the whole upload
// as wrangler computes it for `wrangler deploy` (JS glue + wasm, checked
// against Cloudflare's script size limits). `wrangler deploy --dry-run`
// builds and bundles without an account or network.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { runCommand } from './processes.mjs';

/** Raw and gzip -9 size of a file, in bytes. */
export function gzipSizes(path) {
  const raw = readFileSync(path);
  let gzipBytes;
  let gzipTool = 'gzip -9';
  try {
    gzipBytes = execFileSync('gzip', ['-9', '-c', path], { maxBuffer: 1 << 28 }).length;
  } catch {
    gzipBytes = gzipSync(raw, { level: 9 }).length; // same deflate, a few header bytes apart
    gzipTool = 'zlib level 9';
  }
  return { rawBytes: raw.length, gzipBytes, gzipTool };
}

/** `Total Upload: X KiB / gzip: Y KiB` from `wrangler deploy --dry-run`. */
export async function wranglerBundleSize(repoRoot, outDir) {
  const wrangler = join(repoRoot, 'node_modules', '.bin', 'wrangler');
  const { code, stdout, stderr } = await runCommand('wrangler deploy --dry-run', wrangler,
    ['deploy', '--dry-run', '--outdir', outDir], {
      cwd: repoRoot,
      env: { WRANGLER_SEND_METRICS: 'false', CI: 'true', NO_COLOR: '1', FORCE_COLOR: '0' },
      timeoutMs: 300_000,
    });
  const output = `${stdout}\n${stderr}`;
  const m = /Total Upload:\s*([\d.]+)\s*KiB\s*\/\s*gzip:\s*([\d.]+)\s*KiB/.exec(output);
  if (code !== 0 || !m) {
    return { error: `wrangler deploy --dry-run failed (exit ${code}): ${output.trim().split('\n').slice(-8).join('\n')}` };
  }
  return { totalKiB: Number(m[1]), gzipKiB: Number(m[2]) };
}
