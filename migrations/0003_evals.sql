-- Evals (evals/run.mjs, worker/src/handlers/evals.rs): each run of a golden
-- set against a route, as the runner posts it, and the golden sets uploaded
-- through the admin API. The summary columns are what the dashboard lists
-- and filters on; `cases` keeps the per-case results as the runner sent
-- them (JSON text: id, passed, failed_checks, latency_ms, tokens, cost,
-- answer truncated to 2 KB, baseline_passed) for the run's detail view.
CREATE TABLE eval_runs (
  id             TEXT PRIMARY KEY,
  set_name       TEXT NOT NULL,
  route          TEXT NOT NULL,
  created_ms     INTEGER NOT NULL,
  score          REAL NOT NULL,
  threshold      REAL NOT NULL,
  passed         INTEGER NOT NULL,
  baseline_score REAL,
  p50_ms         INTEGER,
  p95_ms         INTEGER,
  tokens_in      INTEGER,
  tokens_out     INTEGER,
  cost_usd       REAL,
  cases_count    INTEGER NOT NULL,
  cases_passed   INTEGER NOT NULL,
  cases          TEXT NOT NULL
);

-- Newest first, overall and per set (and route): the runs list and its filters.
CREATE INDEX eval_runs_by_time ON eval_runs (created_ms);
CREATE INDEX eval_runs_by_set ON eval_runs (set_name, route, created_ms);

-- Golden sets kept by the gateway (`--set gateway:<name>`): the JSONL as
-- uploaded, one per name.
CREATE TABLE eval_sets (
  name        TEXT PRIMARY KEY,
  jsonl       TEXT NOT NULL,
  cases_count INTEGER NOT NULL,
  updated_ms  INTEGER NOT NULL
);
