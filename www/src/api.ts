// The admin API, typed: every call the dashboard makes to /admin/api/*.
// Each sends the admin token; a 401 signs the operator out (the token was
// wrong or has been rotated), every other failure becomes an ApiError that
// pages show with the API's own message and code.

import { session } from './session';

// ---- Shapes -------------------------------------------------------------

export type CacheStatus = 'hit' | 'miss' | 'bypass' | 'refresh' | 'semantic';
export type GroupBy = 'route' | 'provider' | 'model' | 'key';

/** One request in the logs table. */
export interface LogRow {
  request_id: string;
  time_ms: number;
  key_id: string | null;
  key_name: string | null;
  user_id: string | null;
  route: string | null;
  provider: string | null;
  model: string | null;
  status: number;
  error_code: string | null;
  outcome: string;
  cache: string | null;
  stream: 0 | 1;
  latency_ms: number;
  ttft_ms: number | null;
  tokens_in: number | null;
  tokens_out: number | null;
  cost_usd: number | null;
  attempts: number;
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/** One upstream attempt of a request. */
export interface Attempt {
  target: string;
  outcome: 'ok' | 'retry' | 'fallback' | 'failed' | 'skipped' | 'unsupported' | string;
  status?: number;
  error?: string;
  /** When the attempt started, in ms after the request arrived. */
  start_ms?: number;
  latency_ms: number;
}

/** A request's whole log record. */
/** One guardrail decision in a log record (never the matched text). */
export interface GuardrailFinding {
  stage: 'input' | 'output';
  rule: string;
  kind: string;
  action: 'block' | 'redact' | 'flag';
  count: number;
}

export interface RequestLog {
  request_id: string;
  time_ms: number;
  method: string;
  path: string;
  key_id?: string;
  key_name?: string;
  user_id?: string;
  route?: string;
  /** The complexity tier, on a route with tiers, and why it was chosen. */
  tier?: string;
  tier_reason?: string;
  similarity?: number;
  guardrails?: { ran: string[]; findings: GuardrailFinding[] };
  guardrail_held_ms?: number;
  schema_error?: string;
  provider?: string;
  model?: string;
  status: number;
  error_code?: string;
  outcome: 'ok' | 'error' | 'interrupted' | 'client_closed';
  stream: boolean;
  attempts: Attempt[];
  latency_ms: number;
  ttft_ms?: number;
  tokens_in?: number;
  tokens_out?: number;
  tokens_cached?: number;
  cost_usd?: number;
  cache?: string;
  cost_saved_usd?: number;
  warnings?: string[];
  metadata?: Record<string, unknown>;
  user_agent?: string;
  colo?: string;
  prompt?: string;
  answer?: string;
}

/** Aggregates over a range or one bucket of it. */
export interface Stats {
  requests: number;
  errors: number;
  latency_p50: number | null;
  latency_p95: number | null;
  latency_p99: number | null;
  ttft_p50: number | null;
  ttft_p95: number | null;
  ttft_p99: number | null;
  tokens_in: number;
  tokens_out: number;
  cost_usd: number;
  cache_hits: number;
  cache_lookups: number;
}

export interface StatsPoint extends Stats {
  /** The bucket's start (ms since epoch). */
  t: number;
  group: string | null;
}

export interface StatsResponse {
  from: number;
  to: number;
  bucket_ms: number;
  group_by: GroupBy | null;
  totals: Stats;
  points: StatsPoint[];
}

export interface RequestLimit {
  limit: number;
  window_ms: number;
  burst: number;
}

export interface Limits {
  requests?: RequestLimit;
  tokens_per_minute?: number;
  budget_daily_usd?: number;
  budget_monthly_usd?: number;
}

export type KeyKind = 'server' | 'publishable';

export interface KeyRecord {
  id: string;
  name: string;
  kind: KeyKind;
  routes: string[];
  origins: string[];
  limits: Limits;
  user_limits: Limits;
  on_limiter_error: { rate_limits: 'open' | 'closed'; budgets: 'open' | 'closed' };
  allow_overrides: boolean;
  metadata: Record<string, unknown>;
  created_ms: number;
  revoked: boolean;
}

/** What creating or editing a key sends: only the fields that change. */
export interface KeyInput {
  name?: string;
  kind?: KeyKind;
  routes?: string[];
  origins?: string[];
  limits?: Limits;
}

export interface CreatedKey {
  /** The key string: in this answer only, never again. */
  key: string;
  /** The key's token-signing secret, when the gateway has a master secret. */
  signing_secret: string | null;
  record: KeyRecord;
}

export interface KeyUsage {
  limits: Limits;
  usage: {
    requests_last_minute: number;
    requests_today: number;
    tokens_last_minute: number;
    tokens_today: number;
    cost_today_usd: number;
    cost_month_usd: number;
  };
}

export interface AuditEntry {
  id: number;
  time_ms: number;
  action: string;
  target: string | null;
  /** Free-form: a string, or JSON the gateway wrote. */
  detail: unknown;
}

/** An eval run's summary (evals/run.mjs posts runs; README.md, "Evals"). */
export interface EvalRun {
  id: string;
  set: string;
  route: string;
  created_ms: number;
  /** Share of cases that passed, 0 to 1. */
  score: number;
  threshold: number;
  /** Whether the run passed its gate (threshold, and baseline − tolerance). */
  passed: boolean;
  baseline_score: number | null;
  p50_ms: number | null;
  p95_ms: number | null;
  tokens_in: number | null;
  tokens_out: number | null;
  cost_usd: number | null;
  cases_count: number;
  cases_passed: number;
}

/** One case of a run, as the runner stored it. */
export interface EvalCase {
  id: string;
  passed: boolean;
  failed_checks: { check: string; reason: string }[];
  latency_ms: number;
  tokens_in: number | null;
  tokens_out: number | null;
  cost_usd: number | null;
  /** The answer, cut to 2 KB. */
  answer: string;
  /** Whether it passed in the baseline; null when the baseline lacks it. */
  baseline_passed: boolean | null;
  request_id?: string | null;
  judge_score?: number | null;
}

export interface EvalRunDetail extends EvalRun {
  cases: EvalCase[];
}

/** Filters shared by the logs and stats endpoints. */
export interface LogFilters {
  from?: number;
  to?: number;
  status?: string;
  route?: string;
  provider?: string;
  model?: string;
  key?: string;
  cache?: string;
  error?: string;
  q?: string;
}

// ---- Errors -------------------------------------------------------------

/** The API's error object, as `{ "error": { ... } }` carries it. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | null,
    readonly param: string | null = null,
    readonly requestId: string | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Called when the admin token is refused; the router signs the operator out. */
let onUnauthorized: (error: ApiError) => void = () => {};
export function whenUnauthorized(handler: (error: ApiError) => void): void {
  onUnauthorized = handler;
}

// ---- Calls --------------------------------------------------------------

type Query = Record<string, string | number | undefined | null>;

function queryString(query: Query): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/**
 * Calls the admin API. `token` overrides the stored one (the login page
 * checks a token before keeping it).
 */
async function call<T>(method: string, path: string, { body, query = {}, token }: { body?: unknown; query?: Query; token?: string } = {}): Promise<T> {
  const headers: Record<string, string> = { 'x-edgeway-admin-token': token ?? session.token() ?? '' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(`/admin/api/${path}${queryString(query)}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (cause) {
    throw new ApiError(`The gateway could not be reached (${String(cause)}).`, 0, 'network');
  }
  const text = await response.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON (a proxy's error page, say): reported below by status.
  }
  if (!response.ok) {
    const error = errorFrom(response.status, json, text);
    if (response.status === 401 && token === undefined) onUnauthorized(error);
    throw error;
  }
  return json as T;
}

function errorFrom(status: number, json: unknown, text: string): ApiError {
  const body = (json as { error?: Partial<Record<'message' | 'code' | 'param' | 'request_id', string | null>> } | null)?.error;
  if (body && typeof body.message === 'string') {
    return new ApiError(body.message, status, body.code ?? null, body.param ?? null, body.request_id ?? null);
  }
  return new ApiError(`HTTP ${status}: ${text.slice(0, 200) || 'no body'}`, status, null);
}

const enc = encodeURIComponent;

export const api = {
  /** Checks a token without keeping it (any admin call would do). */
  checkToken: (token: string) => call<{ data: KeyRecord[] }>('GET', 'keys', { token }).then(() => undefined),

  logs: (filters: LogFilters, page: { limit?: number; cursor?: string | null } = {}) =>
    call<Page<LogRow>>('GET', 'logs', { query: { ...filters, limit: page.limit, cursor: page.cursor } }),

  log: (requestId: string) => call<{ record: RequestLog }>('GET', `logs/${enc(requestId)}`).then((r) => r.record),

  stats: (filters: LogFilters & { bucket_ms?: number; group_by?: GroupBy | null }) =>
    call<StatsResponse>('GET', 'stats', { query: { ...filters } }),

  audit: (cursor?: string | null) => call<Page<AuditEntry>>('GET', 'audit', { query: { limit: 50, cursor } }),

  keys: () => call<{ data: KeyRecord[] }>('GET', 'keys').then((r) => r.data),

  createKey: (input: KeyInput) => call<CreatedKey>('POST', 'keys', { body: input }),

  updateKey: (id: string, input: KeyInput) => call<KeyRecord>('PATCH', `keys/${enc(id)}`, { body: input }),

  revokeKey: (id: string) => call<KeyRecord>('DELETE', `keys/${enc(id)}`),

  keyUsage: (id: string) => call<KeyUsage>('GET', `keys/${enc(id)}/usage`),

  evalRuns: (filters: { set?: string; route?: string; limit?: number } = {}) =>
    call<{ runs: EvalRun[] }>('GET', 'evals/runs', { query: { ...filters } }).then((r) => r.runs),

  evalRun: (id: string) => call<EvalRunDetail>('GET', `evals/runs/${enc(id)}`),

  playgroundToken: () => call<{ token: string; expires_ms: number }>('POST', 'playground/token', { body: {} }),
};
