//! Turning stats rows (from [`super::query::stats`]) into what the admin API
//! returns: per-bucket points with percentiles, and the range's totals,
//! which are the points added up — histograms included, so the totals'
//! percentiles are those of every request in the range.

use serde::Serialize;

use super::histogram::{percentile, BUCKETS};

/// One row of a stats query: a bucket (and group) with its sums and
/// histograms.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsRow {
    /// Bucket start (ms since epoch).
    pub t: u64,
    /// The group's value, when grouped.
    pub group: Option<String>,
    /// Requests.
    pub requests: u64,
    /// Requests answered with status ≥ 400.
    pub errors: u64,
    /// Prompt tokens.
    pub tokens_in: u64,
    /// Completion tokens.
    pub tokens_out: u64,
    /// Cost in USD.
    pub cost_usd: f64,
    /// Cache hits (exact and semantic).
    pub cache_hits: u64,
    /// Cache lookups (hits, misses and refreshes).
    pub cache_lookups: u64,
    /// Latency counts per histogram bucket.
    pub latency: [u64; BUCKETS],
    /// Time-to-first-token counts per bucket (streams only).
    pub ttft: [u64; BUCKETS],
}

impl StatsRow {
    /// An empty row for bucket `t`.
    pub fn empty(t: u64, group: Option<String>) -> Self {
        Self { t, group, requests: 0, errors: 0, tokens_in: 0, tokens_out: 0, cost_usd: 0.0, cache_hits: 0, cache_lookups: 0, latency: [0; BUCKETS], ttft: [0; BUCKETS] }
    }

    fn add(&mut self, other: &Self) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.tokens_in += other.tokens_in;
        self.tokens_out += other.tokens_out;
        self.cost_usd += other.cost_usd;
        self.cache_hits += other.cache_hits;
        self.cache_lookups += other.cache_lookups;
        for (sum, count) in self.latency.iter_mut().zip(other.latency) {
            *sum += count;
        }
        for (sum, count) in self.ttft.iter_mut().zip(other.ttft) {
            *sum += count;
        }
    }
}

/// One point (or the totals) as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// Bucket start (absent in the totals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub t: Option<u64>,
    /// The group (points only; `null` when not grouped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<Option<String>>,
    /// Requests.
    pub requests: u64,
    /// Requests with status ≥ 400.
    pub errors: u64,
    /// Latency percentiles (ms).
    pub latency_p50: Option<u64>,
    /// See `latency_p50`.
    pub latency_p95: Option<u64>,
    /// See `latency_p50`.
    pub latency_p99: Option<u64>,
    /// Time-to-first-token percentiles (ms), streams only.
    pub ttft_p50: Option<u64>,
    /// See `ttft_p50`.
    pub ttft_p95: Option<u64>,
    /// See `ttft_p50`.
    pub ttft_p99: Option<u64>,
    /// Prompt tokens.
    pub tokens_in: u64,
    /// Completion tokens.
    pub tokens_out: u64,
    /// Cost in USD.
    pub cost_usd: f64,
    /// Cache hits.
    pub cache_hits: u64,
    /// Cache lookups.
    pub cache_lookups: u64,
}

fn summary(row: &StatsRow, point: bool) -> Stats {
    Stats {
        t: point.then_some(row.t),
        group: point.then(|| row.group.clone()),
        requests: row.requests,
        errors: row.errors,
        latency_p50: percentile(&row.latency, 50),
        latency_p95: percentile(&row.latency, 95),
        latency_p99: percentile(&row.latency, 99),
        ttft_p50: percentile(&row.ttft, 50),
        ttft_p95: percentile(&row.ttft, 95),
        ttft_p99: percentile(&row.ttft, 99),
        tokens_in: row.tokens_in,
        tokens_out: row.tokens_out,
        cost_usd: row.cost_usd,
        cache_hits: row.cache_hits,
        cache_lookups: row.cache_lookups,
    }
}

/// The API's answer to a stats query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatsReport {
    /// Start of the range covered (ms).
    pub from: u64,
    /// End of the range covered (exclusive).
    pub to: u64,
    /// Bucket width.
    pub bucket_ms: u64,
    /// `route`, `provider`, `model`, `key` or null.
    pub group_by: Option<&'static str>,
    /// The whole range.
    pub totals: Stats,
    /// Per bucket and group, in time order; empty buckets are absent.
    pub points: Vec<Stats>,
}

/// Builds the report from the rows of one stats query.
pub fn report(rows: &[StatsRow], from: u64, to: u64, bucket_ms: u64, group_by: Option<&'static str>) -> StatsReport {
    let mut total = StatsRow::empty(from, None);
    for row in rows {
        total.add(row);
    }
    StatsReport { from, to, bucket_ms, group_by, totals: summary(&total, false), points: rows.iter().map(|r| summary(r, true)).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::histogram::bucket_of;

    fn row(t: u64, group: &str, latencies: &[u64]) -> StatsRow {
        let mut row = StatsRow::empty(t, Some(group.to_owned()));
        row.requests = latencies.len() as u64;
        for &ms in latencies {
            if let Some(slot) = row.latency.get_mut(bucket_of(ms)) {
                *slot += 1;
            }
        }
        row
    }

    #[test]
    fn totals_add_the_points_histograms_included() {
        let rows = [row(0, "a", &[10, 20, 30]), row(0, "b", &[400]), row(60_000, "a", &[500, 600])];
        let report = report(&rows, 0, 120_000, 60_000, Some("route"));
        assert_eq!(report.totals.requests, 6);
        assert_eq!(report.points.len(), 3);
        assert_eq!(report.points[1].group, Some(Some("b".to_owned())));
        // Six values: the p50 (rank 3) is 30, in [30, 40).
        let p50 = report.totals.latency_p50.unwrap();
        assert!((30..=40).contains(&p50), "{p50}");
        assert_eq!(report.totals.ttft_p50, None);
        let json = serde_json::to_value(&report).unwrap();
        assert!(json["totals"].get("t").is_none() && json["points"][0]["t"] == 0);
    }
}
