// Child processes for the benchmark, and their CPU time.
//
// Why a module of its own: every server the bench starts must listen on
// 127.0.0.1, be waited for by polling (never a fixed sleep), and be stopped
// by PID when the run ends — also after an error or Ctrl-C — so no stray
// workerd (~300 MB each) outlives a run. Servers run in their own process
// group and write to a log file (not a pipe: nothing in this process has to
// drain their output while it is measuring). CPU per request is read from
// /proc/<pid>/stat, so the process we track must be the server itself, not
// a wrapper script around it.

import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';

/** Every child this module started and that has not exited yet. */
const running = new Set();

export { freePort, waitFor } from '../../tests/harness/wait.mjs';

/**
 * Starts a long-running server in its own process group with stdout and
 * stderr appended to `logFile`. Returns `{ name, pid, child, logFile }`.
 */
export function startServer(name, command, args, { cwd, env = {}, logFile }) {
  const fd = openSync(logFile, 'a');
  let child;
  try {
    child = spawn(command, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', fd, fd],
      detached: true,
    });
  } finally {
    closeSync(fd);
  }
  if (!child.pid) throw new Error(`could not start ${name} (${command})`);
  return track(child, name, { logFile });
}

/**
 * Runs a command to completion, collecting its stdout and stderr; the child
 * is tracked, so Ctrl-C or an error elsewhere still stops it.
 */
export function runCommand(name, command, args, { cwd, env = {}, timeoutMs = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.once('error', reject);
    if (!child.pid) return; // 'error' follows
    const proc = track(child, name);
    const timer = setTimeout(() => signalGroup(proc.pid, 'SIGKILL'), timeoutMs);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function track(child, name, extra = {}) {
  const proc = { name, pid: child.pid, child, exited: false, ...extra };
  running.add(proc);
  child.once('exit', (code, signal) => {
    proc.exited = true;
    proc.exit = signal ?? code;
    running.delete(proc);
  });
  return proc;
}

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    /* already gone */
  }
}

/** Stops one started process (its whole group): SIGTERM, then SIGKILL. */
export async function stopProcess(proc, { graceMs = 3_000 } = {}) {
  if (proc.exited) return;
  const exited = new Promise((resolve) => proc.child.once('exit', resolve));
  signalGroup(proc.pid, 'SIGTERM');
  const timer = setTimeout(() => signalGroup(proc.pid, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Stops everything this module started. */
export async function stopAll() {
  await Promise.all([...running].map((proc) => stopProcess(proc)));
}

function killAllNow() {
  for (const proc of running) signalGroup(proc.pid, 'SIGKILL');
}

/** SIGKILLs everything and waits (briefly) until each child is reaped. */
async function killAllAndReap(timeoutMs = 3_000) {
  const procs = [...running];
  const reaped = procs.map((proc) => new Promise((resolve) => (proc.exited ? resolve() : proc.child.once('exit', resolve))));
  killAllNow();
  await Promise.race([Promise.all(reaped), new Promise((resolve) => setTimeout(resolve, timeoutMs))]);
}

// Last resort when the bench dies without reaching its `finally`.
process.once('exit', killAllNow);
// Ctrl-C and friends: stop the servers, then exit (which runs 'exit'
// listeners, e.g. the temp-dir cleanup in run.mjs). Waiting for the exits
// lets Node reap the children instead of leaving zombies behind.
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
  process.once(signal, async () => {
    process.stderr.write(`\nbench: ${signal}, stopping the servers it started\n`);
    await killAllAndReap();
    process.exit(code);
  });
}

/** The last `lines` lines of a log file, for error messages. */
export function logTail(logFile, lines = 30) {
  if (!logFile || !existsSync(logFile)) return '';
  return readFileSync(logFile, 'utf8').split('\n').slice(-lines - 1).join('\n');
}

let ticksPerSecond;

/** User + system CPU seconds a process has used so far (all its threads). */
export function cpuSeconds(pid) {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces:
  // [0] is field 3 (state), so utime (field 14) is [11] and stime (15) is [12].
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/**
 * How busy the whole machine is: the share of all cores' time spent not idle
 * over `ms` (0–1), from /proc/stat. Sampled before the bench starts, to flag
 * runs that shared the machine with other work.
 */
export async function machineBusy(ms = 1_000) {
  const sample = () => {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = fields[3] + (fields[4] ?? 0); // idle + iowait
    return { idle, total: sum(fields.slice(0, 8)) }; // guest time is already in user
  };
  const sum = (values) => values.reduce((a, b) => a + b, 0);
  const a = sample();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const b = sample();
  const total = b.total - a.total;
  return total > 0 ? 1 - (b.idle - a.idle) / total : 0;
}
