// Shortens the names of the worker wasm's imports, in the wasm and in its
// JS glue alike: wasm-bindgen names each `__wbg_<name>_<16 hex digits>`,
// and those hashes are about 3 KB of the gzipped wasm that compression
// cannot shrink. Run by scripts/build-worker.sh after worker-build.
//
// Only the import section of the wasm is rewritten; every other byte is
// kept. A name is renamed only where the glue spells it exactly once (as
// the key of the import object), so a glue of another shape is left alone
// rather than broken.
//
// Usage: node scripts/minify-imports.mjs worker/build

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? 'worker/build';
const wasmPath = join(dir, 'index_bg.wasm');
const jsPath = join(dir, 'index.js');
const wasm = readFileSync(wasmPath);
let js = readFileSync(jsPath, 'utf8');

function readUleb(bytes, at) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if (byte < 0x80) return [value, at];
  }
}

function uleb(value) {
  const out = [];
  do {
    let byte = value & 0x7f;
    value = Math.floor(value / 128);
    if (value) byte |= 0x80;
    out.push(byte);
  } while (value);
  return Buffer.from(out);
}

/** Skips an import's description (function, table, memory, global, tag). */
function skipDescription(bytes, at) {
  const kind = bytes[at++];
  if (kind === 0 || kind === 4) {
    if (kind === 4) at++; // tag attribute
    return readUleb(bytes, at)[1];
  }
  if (kind === 1) at++; // table element type
  if (kind === 1 || kind === 2) {
    const [flags, next] = readUleb(bytes, at);
    at = readUleb(bytes, next)[1];
    return flags & 1 ? readUleb(bytes, at)[1] : at;
  }
  if (kind === 3) return at + 2; // global type and mutability
  throw new Error(`unknown import kind ${kind}`);
}

const escape = (name) => name.replace(/[$]/g, '\\$');
const sections = [wasm.subarray(0, 8)];
let renamed = 0;
let at = 8;
while (at < wasm.length) {
  const start = at;
  const id = wasm[at++];
  const [size, bodyAt] = readUleb(wasm, at);
  at = bodyAt + size;
  if (id !== 2) {
    sections.push(wasm.subarray(start, at));
    continue;
  }
  const body = wasm.subarray(bodyAt, at);
  let [count, p] = readUleb(body, 0);
  const parts = [uleb(count)];
  for (let i = 0; i < count; i++) {
    const [moduleLength, moduleAt] = readUleb(body, p);
    const moduleName = body.subarray(moduleAt, moduleAt + moduleLength);
    const [fieldLength, fieldAt] = readUleb(body, moduleAt + moduleLength);
    const field = body.subarray(fieldAt, fieldAt + fieldLength).toString('utf8');
    const descriptionAt = fieldAt + fieldLength;
    p = skipDescription(body, descriptionAt);
    let name = field;
    const key = new RegExp(`(?<![\\w$])${escape(field)}(?![\\w$])`, 'g');
    if (field.length > 4 && (js.match(key) ?? []).length === 1) {
      name = `i${i.toString(36)}`;
      js = js.replace(key, name);
      renamed++;
    }
    const nameBytes = Buffer.from(name, 'utf8');
    parts.push(uleb(moduleLength), moduleName, uleb(nameBytes.length), nameBytes, body.subarray(descriptionAt, p));
  }
  const newBody = Buffer.concat(parts);
  sections.push(Buffer.from([2]), uleb(newBody.length), newBody);
}

writeFileSync(wasmPath, Buffer.concat(sections));
writeFileSync(jsPath, js);
console.log(`minify-imports: ${renamed} import names shortened`);
