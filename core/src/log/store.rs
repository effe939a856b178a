//! Writing log records to D1, and forgetting them.
//!
//! The queue's consumer binds each record's JSON line as the only
//! parameter and SQLite's JSON functions pick the columns out of it: the
//! record's shape is defined once (by [`RequestLog`](super::RequestLog)'s
//! serialization) and the worker needs no row type of its own. Each record
//! is added to its 15-minute rollup first — only if it is not stored yet —
//! then stored, so a redelivered message changes nothing.

use super::histogram::{sql_bucket_of, BUCKETS};

/// The width of a rollup row (`request_rollups.bucket_ms` steps).
pub const ROLLUP_MS: u64 = 900_000;

/// Inserts one record; `?1` is its JSON line.
pub fn insert_request() -> String {
    format!(
        "INSERT OR IGNORE INTO requests (request_id, time_ms, path, key_id, key_name, user_id, route, provider, model, status, \
         error_code, outcome, cache, stream, latency_ms, ttft_ms, tokens_in, tokens_out, cost_usd, attempts, latency_bucket, \
         ttft_bucket, record) SELECT json_extract(?1, '$.request_id'), json_extract(?1, '$.time_ms'), \
         coalesce(json_extract(?1, '$.path'), ''), json_extract(?1, '$.key_id'), json_extract(?1, '$.key_name'), \
         json_extract(?1, '$.user_id'), json_extract(?1, '$.route'), json_extract(?1, '$.provider'), \
         json_extract(?1, '$.model'), json_extract(?1, '$.status'), json_extract(?1, '$.error_code'), \
         json_extract(?1, '$.outcome'), json_extract(?1, '$.cache'), json_extract(?1, '$.stream'), \
         json_extract(?1, '$.latency_ms'), json_extract(?1, '$.ttft_ms'), json_extract(?1, '$.tokens_in'), \
         json_extract(?1, '$.tokens_out'), json_extract(?1, '$.cost_usd'), coalesce(json_array_length(?1, '$.attempts'), 0), \
         {}, {}, ?1 WHERE json_valid(?1)",
        sql_bucket_of("json_extract(?1, '$.latency_ms')"),
        sql_bucket_of("json_extract(?1, '$.ttft_ms')"),
    )
}

/// Adds one record (`?1`, its JSON line) to its rollup row, unless the
/// record is already stored. Run before [`insert_request`].
pub fn add_to_rollup() -> String {
    let histogram = |bucket: &str| (0..BUCKETS).map(|i| format!("coalesce({bucket} = {i}, 0)")).collect::<Vec<_>>().join(", ");
    let columns = |prefix: &str| (0..BUCKETS).map(|i| format!("{prefix}{i}")).collect::<Vec<_>>().join(", ");
    let sums = |prefix: &str| (0..BUCKETS).map(|i| format!("{prefix}{i} = {prefix}{i} + excluded.{prefix}{i}")).collect::<Vec<_>>().join(", ");
    format!(
        "INSERT INTO request_rollups (bucket_ms, route, provider, model, key_id, requests, errors, tokens_in, tokens_out, \
         cost_usd, cache_hits, cache_lookups, {l_columns}, {t_columns}) \
         SELECT b, route, provider, model, key_id, 1, status >= 400, tokens_in, tokens_out, cost_usd, \
         cache IN ('hit', 'semantic'), cache IN ('hit', 'semantic', 'miss', 'refresh'), {l_values}, {t_values} \
         FROM (SELECT CAST(json_extract(?1, '$.time_ms') AS INTEGER) / {ROLLUP_MS} * {ROLLUP_MS} AS b, \
         coalesce(json_extract(?1, '$.route'), '') AS route, coalesce(json_extract(?1, '$.provider'), '') AS provider, \
         coalesce(json_extract(?1, '$.model'), '') AS model, coalesce(json_extract(?1, '$.key_id'), '') AS key_id, \
         json_extract(?1, '$.status') AS status, coalesce(json_extract(?1, '$.tokens_in'), 0) AS tokens_in, \
         coalesce(json_extract(?1, '$.tokens_out'), 0) AS tokens_out, coalesce(json_extract(?1, '$.cost_usd'), 0) AS cost_usd, \
         coalesce(json_extract(?1, '$.cache'), '') AS cache, {latency_bucket} AS lb, {ttft_bucket} AS tb \
         WHERE json_valid(?1) AND NOT EXISTS (SELECT 1 FROM requests WHERE request_id = json_extract(?1, '$.request_id'))) \
         WHERE true ON CONFLICT (bucket_ms, route, provider, model, key_id) DO UPDATE SET requests = requests + 1, \
         errors = errors + excluded.errors, tokens_in = tokens_in + excluded.tokens_in, tokens_out = tokens_out + excluded.tokens_out, \
         cost_usd = cost_usd + excluded.cost_usd, cache_hits = cache_hits + excluded.cache_hits, \
         cache_lookups = cache_lookups + excluded.cache_lookups, {l_sums}, {t_sums}",
        l_columns = columns("l"),
        t_columns = columns("t"),
        l_values = histogram("lb"),
        t_values = histogram("tb"),
        latency_bucket = sql_bucket_of("json_extract(?1, '$.latency_ms')"),
        ttft_bucket = sql_bucket_of("json_extract(?1, '$.ttft_ms')"),
        l_sums = sums("l"),
        t_sums = sums("t"),
    )
}

/// Records one admin action: `?1` time, `?2` action, `?3` target, `?4` detail.
pub const INSERT_AUDIT: &str = "INSERT INTO audit (time_ms, action, target, detail) VALUES (?1, ?2, ?3, ?4)";

/// Deletes request records older than `?1` (ms since epoch).
pub const DELETE_REQUESTS_BEFORE: &str = "DELETE FROM requests WHERE time_ms < ?1";

/// Deletes rollup rows that end before `?1`.
pub const DELETE_ROLLUPS_BEFORE: &str = "DELETE FROM request_rollups WHERE bucket_ms + 900000 <= ?1";

/// Deletes audit entries older than `?1`.
pub const DELETE_AUDIT_BEFORE: &str = "DELETE FROM audit WHERE time_ms < ?1";

/// Records older than this are deleted by the daily retention run.
pub fn retention_cutoff_ms(now_ms: u64, retention_days: u32) -> u64 {
    now_ms.saturating_sub(u64::from(retention_days) * 86_400_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cutoff_is_whole_days_back() {
        assert_eq!(retention_cutoff_ms(10 * 86_400_000 + 5, 3), 7 * 86_400_000 + 5);
        assert_eq!(retention_cutoff_ms(1_000, 30), 0);
    }

    #[test]
    fn the_rollup_statement_names_every_histogram_column_once() {
        let sql = add_to_rollup();
        for i in 0..BUCKETS {
            assert_eq!(sql.matches(&format!(" l{i} = l{i} + excluded.l{i}")).count(), 1);
            assert_eq!(sql.matches(&format!(" t{i} = t{i} + excluded.t{i}")).count(), 1);
        }
        assert!(DELETE_ROLLUPS_BEFORE.contains(&ROLLUP_MS.to_string()));
    }
}
