// Starting and stopping the servers end-to-end tests need: always on
// 127.0.0.1, always waited for by polling a condition (never a fixed sleep),
// always stopped by PID (the whole process group) when the run ends.

import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '..', '..');

export { freePort, waitFor } from './wait.mjs';

const children = new Set();

/** Spawns a process in its own group, with its output teed to a log file. */
export function start(name, command, args, { env = {}, logFile, cwd = repoRoot } = {}) {
  const child = spawn(command, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const log = logFile ? createWriteStream(logFile) : null;
  const lines = [];
  let partial = '';
  const onData = (data) => {
    log?.write(data);
    partial += data.toString();
    const parts = partial.split('\n');
    partial = parts.pop();
    lines.push(...parts);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  return { name, child, lines, pid: child.pid };
}

/**
 * Every descendant of `pid`. wrangler starts workerd in a process group of
 * its own, so killing our child's group alone can leave workerd running.
 */
function descendants(pid) {
  let out = '';
  try { out = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }); } catch { return []; }
  const kids = out.split('\n').map((l) => Number(l.trim())).filter(Boolean);
  return kids.flatMap((kid) => [kid, ...descendants(kid)]);
}

function signalTree(child, signal, tree) {
  try { process.kill(-child.pid, signal); } catch { /* group gone */ }
  for (const pid of tree) {
    try { process.kill(pid, signal); } catch { /* gone */ }
  }
}

/** Stops a started process and everything it started: SIGTERM, then SIGKILL if it lingers. */
export async function stop(proc) {
  const { child } = proc;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const tree = descendants(child.pid);
  const exited = new Promise((r) => child.once('exit', r));
  signalTree(child, 'SIGTERM', tree);
  const timer = setTimeout(() => signalTree(child, 'SIGKILL', tree), 5_000);
  await exited;
  clearTimeout(timer);
  // Whatever of the tree outlived its parent goes too.
  for (const pid of tree) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
}

/** Kills every process this module started, and their descendants; for exit and signal handlers. */
export function killAllNow() {
  for (const child of children) signalTree(child, 'SIGKILL', descendants(child.pid));
}

process.once('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM']) {
  // Stop gracefully first (wrangler then stops its own workerd), so that an
  // interrupted run leaves nothing behind; killAllNow on exit is the backstop.
  process.once(signal, async () => {
    await Promise.all([...children].map((child) => stop({ child })));
    process.exit(130);
  });
}

/** A fresh temporary directory, removed by the returned function. */
export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
