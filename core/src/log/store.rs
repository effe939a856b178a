//! Writing log records to D1, and forgetting them.
//!
//! The queue's consumer binds each record's JSON line as the only
//! parameter and SQLite's JSON functions pick the columns out of it: the
//! record's shape is defined once (by [`RequestLog`](super::RequestLog)'s
//! serialization) and the worker needs no row type of its own. `OR IGNORE`
//! makes a redelivered message harmless.

/// Inserts one record; `?1` is its JSON line.
pub const INSERT_REQUEST: &str = "INSERT OR IGNORE INTO requests (request_id, time_ms, path, key_id, key_name, user_id, route, \
provider, model, status, error_code, outcome, cache, stream, latency_ms, ttft_ms, tokens_in, tokens_out, cost_usd, \
attempts, record) SELECT json_extract(?1, '$.request_id'), json_extract(?1, '$.time_ms'), coalesce(json_extract(?1, '$.path'), ''), \
json_extract(?1, '$.key_id'), \
json_extract(?1, '$.key_name'), json_extract(?1, '$.user_id'), json_extract(?1, '$.route'), \
json_extract(?1, '$.provider'), json_extract(?1, '$.model'), json_extract(?1, '$.status'), \
json_extract(?1, '$.error_code'), json_extract(?1, '$.outcome'), json_extract(?1, '$.cache'), \
json_extract(?1, '$.stream'), json_extract(?1, '$.latency_ms'), json_extract(?1, '$.ttft_ms'), \
json_extract(?1, '$.tokens_in'), json_extract(?1, '$.tokens_out'), json_extract(?1, '$.cost_usd'), \
coalesce(json_array_length(?1, '$.attempts'), 0), ?1 WHERE json_valid(?1)";

/// Records one admin action: `?1` time, `?2` action, `?3` target, `?4` detail.
pub const INSERT_AUDIT: &str = "INSERT INTO audit (time_ms, action, target, detail) VALUES (?1, ?2, ?3, ?4)";

/// Deletes request records older than `?1` (ms since epoch).
pub const DELETE_REQUESTS_BEFORE: &str = "DELETE FROM requests WHERE time_ms < ?1";

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
}
