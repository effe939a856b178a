-- Request logs for the dashboard: one row per request, written in batches
-- by the log queue's consumer. The columns are what the dashboard filters
-- and aggregates on; `record` keeps the whole JSON record (attempt
-- timeline, warnings, metadata, bodies when a route stores them) for the
-- detail view.
CREATE TABLE requests (
  request_id   TEXT PRIMARY KEY,
  time_ms      INTEGER NOT NULL,
  path         TEXT NOT NULL,
  key_id       TEXT,
  key_name     TEXT,
  user_id      TEXT,
  route        TEXT,
  provider     TEXT,
  model        TEXT,
  status       INTEGER NOT NULL,
  error_code   TEXT,
  outcome      TEXT NOT NULL,
  cache        TEXT,
  stream       INTEGER NOT NULL,
  latency_ms   INTEGER NOT NULL,
  ttft_ms      INTEGER,
  tokens_in    INTEGER,
  tokens_out   INTEGER,
  cost_usd     REAL,
  attempts     INTEGER NOT NULL,
  record       TEXT NOT NULL
);

-- Newest first, and the same with each filter the dashboard offers: a
-- filtered page reads only its own rows, and a range's aggregates scan
-- only the range.
CREATE INDEX requests_by_time ON requests (time_ms, request_id);
CREATE INDEX requests_by_route ON requests (route, time_ms);
CREATE INDEX requests_by_provider ON requests (provider, time_ms);
CREATE INDEX requests_by_model ON requests (model, time_ms);
CREATE INDEX requests_by_key ON requests (key_id, time_ms);
CREATE INDEX requests_by_status ON requests (status, time_ms);
CREATE INDEX requests_by_error ON requests (error_code, time_ms) WHERE error_code IS NOT NULL;
CREATE INDEX requests_by_cache ON requests (cache, time_ms) WHERE cache IS NOT NULL;

-- What operators did through the admin API.
CREATE TABLE audit (
  id       INTEGER PRIMARY KEY AUTOINCREMENT,
  time_ms  INTEGER NOT NULL,
  action   TEXT NOT NULL,
  target   TEXT,
  detail   TEXT
);
CREATE INDEX audit_by_time ON audit (time_ms);
