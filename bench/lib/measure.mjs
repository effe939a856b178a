// The measurements, each a function of one scenario, plus the summary of a
// scenario over its rounds. Kept apart from run.mjs so that the order of the
// run (what is interleaved with what) is readable there, and so a new
// scenario needs no new measuring code.
//
// What is measured, per scenario:
//   - latency at concurrency 1 and 32, throughput at 32 (wrk, fixed duration)
//   - CPU per request: utime+stime of every server process, read from /proc
//     before and after each wrk run, divided by the requests wrk completed
//   - time to first token of a streamed answer: sequential requests from
//     this process over one kept-alive connection (bench/lib/http.mjs),
//     with the time to the answer's end and the CPU each server used

import http from 'node:http';
import { request, streamChat } from './http.mjs';
import { cpuSeconds } from './processes.mjs';
import { median, percentile, sum } from './stats.mjs';
import { runWrk } from './wrk.mjs';

/** One real request each way (plain and streamed) before any timing. */
export async function smokeCheck(scenario) {
  const res = await request(scenario.url, { method: 'POST', headers: scenario.headers, body: scenario.body });
  const problem = (scenario.check ?? expectMockReply)(res);
  if (problem) throw new Error(`${scenario.label}: ${problem}`);
  if (!scenario.streamBody) return { status: res.status };
  const streamed = await streamChat(scenario.url, { headers: scenario.headers, body: scenario.streamBody, agent: false });
  if (!streamed.done) throw new Error(`${scenario.label}: the streamed answer did not end with [DONE]`);
  return { status: res.status, streamedText: streamed.text, contentChunks: streamed.contentChunks };
}

/** The default check: HTTP 200 with the mock's answer in it. */
export function expectMockReply(res) {
  if (res.status !== 200) return `HTTP ${res.status}: ${res.text.slice(0, 300)}`;
  let content;
  try {
    content = JSON.parse(res.text).choices?.[0]?.message?.content;
  } catch {
    return `not JSON: ${res.text.slice(0, 300)}`;
  }
  return typeof content === 'string' && content.startsWith('Mock reply:') ? null : `unexpected answer: ${res.text.slice(0, 300)}`;
}

function cpuSnapshot(servers) {
  return Object.fromEntries(Object.entries(servers).map(([name, proc]) => [name, cpuSeconds(proc.pid)]));
}

/**
 * One wrk run, with the CPU each server process used during it. With one
 * connection the script also times each request itself (lib/wrk.mjs).
 */
export async function loadRun(scenario, { connections, seconds, servers }) {
  const script = connections === 1 ? scenario.wrkScripts.timed : scenario.wrkScripts.plain;
  const before = cpuSnapshot(servers);
  const report = await runWrk({ url: scenario.url, script, connections, seconds, allowNon2xx: scenario.allowNon2xx })
    .catch((error) => {
      throw new Error(`${scenario.label}, ${connections} connection(s): ${error.message}`);
    });
  const after = cpuSnapshot(servers);
  const cpu = Object.fromEntries(Object.keys(before).map((name) => [name, after[name] - before[name]]));
  return { ...report, cpuSeconds: cpu };
}

/**
 * `requests` sequential streamed requests (after `warmup` untimed ones),
 * with the CPU each server process used for the timed ones.
 */
export async function ttftRun(scenario, { requests, warmup, servers }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const send = () => streamChat(scenario.url, { headers: scenario.headers, body: scenario.streamBody, agent });
  try {
    for (let i = 0; i < warmup; i++) await send();
    const samples = [];
    const before = cpuSnapshot(servers);
    for (let i = 0; i < requests; i++) samples.push(await send());
    const after = cpuSnapshot(servers);
    const cpuSeconds = Object.fromEntries(Object.keys(before).map((name) => [name, after[name] - before[name]]));
    return { ttftMs: samples.map((s) => s.ttftMs), totalMs: samples.map((s) => s.totalMs), requests, cpuSeconds };
  } finally {
    agent.destroy();
  }
}

/**
 * A scenario's figures over all its rounds: latency and throughput are the
 * median over rounds; TTFT pools every sample; CPU per request is total CPU
 * over total requests. Times in ms, CPU in µs per request.
 */
export function summarize(scenario, rounds) {
  const med = (pick) => median(rounds.map(pick));
  const load = (key) => ({
    p50: med((r) => r[key].latency.p50),
    p75: med((r) => r[key].latency.p75),
    p90: med((r) => r[key].latency.p90),
    p99: med((r) => r[key].latency.p99),
    rps: med((r) => r[key].rps),
    requests: sum(rounds.map((r) => r[key].requests)),
    // Uncorrected per-request percentiles, where measured (one connection).
    raw: rounds[0][key].rawLatency
      ? { p50: med((r) => r[key].rawLatency.p50), p99: med((r) => r[key].rawLatency.p99), max: Math.max(...rounds.map((r) => r[key].rawLatency.max)) }
      : null,
  });
  const cpuUsPerRequest = (key) => {
    const requests = sum(rounds.map((r) => r[key].requests));
    const names = Object.keys(rounds[0][key].cpuSeconds);
    return Object.fromEntries(names.map((name) => [name, (sum(rounds.map((r) => r[key].cpuSeconds[name])) / requests) * 1e6]));
  };
  const ttft = rounds.flatMap((r) => r.ttft?.ttftMs ?? []);
  const total = rounds.flatMap((r) => r.ttft?.totalMs ?? []);
  const streamed = rounds.map((r) => r.ttft).filter(Boolean);
  const streams = sum(streamed.map((t) => t.requests));
  const cpu = { c1: cpuUsPerRequest('c1'), c32: cpuUsPerRequest('c32') };
  return {
    id: scenario.id,
    label: scenario.label,
    c1: load('c1'),
    c32: load('c32'),
    ttft: ttft.length === 0 ? null : {
      p50: median(ttft),
      p90: percentile(ttft, 90),
      min: Math.min(...ttft),
      samples: ttft.length,
      streamTotalP50: median(total),
    },
    cpuUsPerRequest: cpu,
    // The figure the targets use: the Worker runtime's CPU (or, for the
    // mock-direct scenario, the mock's own), at concurrency 32.
    workerCpuUs: scenario.worker ? cpu.c32[scenario.worker] : null,
    // The same over the sequential (one-connection) runs, for comparison: a
    // saturated runtime spends its one JS thread's whole time on requests,
    // so at 32 connections CPU per request is about 1 / throughput.
    workerCpuC1Us: scenario.worker ? cpu.c1[scenario.worker] : null,
    // Per streamed answer, over the TTFT requests (one at a time): what
    // relaying every event costs, which the plain requests above never show.
    workerCpuStreamUs: scenario.worker && streams > 0 ? (sum(streamed.map((t) => t.cpuSeconds[scenario.worker])) / streams) * 1e6 : null,
    upstreamCpuUs: scenario.upstream ? cpu.c32[scenario.upstream] : null,
  };
}
