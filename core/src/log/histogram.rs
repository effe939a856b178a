//! Latency histograms: how the logs keep durations so that percentiles can
//! be read from aggregates instead of from every request.
//!
//! Durations fall into [`BUCKETS`] buckets whose upper bounds run roughly
//! 1-1.25-1.5-2-2.5-3-4-5-6-8 per decade, from 1 ms to a minute, plus one
//! for anything longer. Counts per bucket add up across requests, time and
//! groups, so a day's percentiles read a few thousand pre-added rows
//! (`request_rollups`) rather than every request. A percentile is read by
//! nearest rank — the bucket holding the ⌈p·n⌉-th value — and placed within
//! that bucket by linear interpolation, as Prometheus does: within a
//! bucket's width of the exact value, and usually far closer.

/// Number of buckets (columns `l0..` and `t0..` in the logs schema).
pub const BUCKETS: usize = 40;

/// Exclusive upper bound of each bucket but the last, in ms.
pub const UPPER_BOUNDS_MS: [u64; BUCKETS - 1] = [
    1, 2, 3, 5, 7, 10, 15, 20, 25, 30, 40, 50, 60, 80, 100, 125, 150, 200, 250, 300, 400, 500, 600, 800, 1_000, 1_250,
    1_500, 2_000, 2_500, 3_000, 4_000, 5_000, 6_000, 8_000, 10_000, 15_000, 20_000, 30_000, 60_000,
];

/// Where the last bucket is taken to end, for interpolation.
const LAST_BUCKET_END_MS: u64 = 120_000;

/// The bucket a duration falls in.
pub fn bucket_of(ms: u64) -> usize {
    UPPER_BOUNDS_MS.iter().position(|&upper| ms < upper).unwrap_or(BUCKETS - 1)
}

/// A SQL expression for the bucket of `value` (NULL stays NULL), the same
/// as [`bucket_of`].
pub fn sql_bucket_of(value: &str) -> String {
    let mut sql = format!("CASE WHEN {value} IS NULL THEN NULL");
    for (index, upper) in UPPER_BOUNDS_MS.iter().enumerate() {
        sql.push_str(&format!(" WHEN {value} < {upper} THEN {index}"));
    }
    sql.push_str(&format!(" ELSE {} END", BUCKETS - 1));
    sql
}

/// Where bucket `index` starts and ends (ms).
fn bounds(index: usize) -> (u64, u64) {
    let lower = index.checked_sub(1).and_then(|i| UPPER_BOUNDS_MS.get(i)).copied().unwrap_or(0);
    let upper = UPPER_BOUNDS_MS.get(index).copied().unwrap_or(LAST_BUCKET_END_MS);
    (lower, upper)
}

/// The `p`-th percentile (0 < p ≤ 100) of the durations counted in
/// `counts`, or None when there are none.
pub fn percentile(counts: &[u64; BUCKETS], p: u64) -> Option<u64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    // Nearest rank: the smallest rank r with r ≥ p·n/100.
    let rank = (p * total).div_ceil(100).max(1);
    let mut below = 0;
    for (index, &count) in counts.iter().enumerate() {
        if count > 0 && below + count >= rank {
            let (lower, upper) = bounds(index);
            let within = (rank - below) as f64 / count as f64;
            return Some(lower + ((upper - lower) as f64 * within).round() as u64);
        }
        below += count;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn histogram(values: &[u64]) -> [u64; BUCKETS] {
        let mut counts = [0; BUCKETS];
        for &v in values {
            if let Some(slot) = counts.get_mut(bucket_of(v)) {
                *slot += 1;
            }
        }
        counts
    }

    #[test]
    fn buckets_cover_every_duration_in_order() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(1), 1);
        assert_eq!(bucket_of(999), 24);
        assert_eq!(bucket_of(1_000), 25);
        assert_eq!(bucket_of(60_000), BUCKETS - 1);
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
        assert!(UPPER_BOUNDS_MS.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(sql_bucket_of("x").matches(" WHEN ").count(), BUCKETS);
    }

    #[test]
    fn percentiles_interpolate_within_the_nearest_rank_bucket() {
        assert_eq!(percentile(&[0; BUCKETS], 50), None);
        // One value: every percentile is in its bucket, at the bucket's end.
        assert_eq!(percentile(&histogram(&[120]), 50), Some(125));
        // 100 values 100..=199 share buckets [100,125), [125,150), [150,200).
        let values: Vec<u64> = (100..200).collect();
        let counts = histogram(&values);
        assert_eq!(percentile(&counts, 50), Some(150), "rank 50 is the last of the 50 values below 150");
        assert_eq!(percentile(&counts, 95), Some(195), "rank 95 is 45/50 of the way through [150, 200)");
    }

    proptest! {
        #[test]
        fn a_percentile_lies_in_the_bucket_of_the_exact_one(mut values in prop::collection::vec(0u64..100_000, 1..300), p in 1u64..=100) {
            let counts = histogram(&values);
            values.sort_unstable();
            let rank = usize::try_from((p * values.len() as u64).div_ceil(100)).unwrap();
            let exact = values[rank - 1];
            let estimate = percentile(&counts, p).unwrap();
            let (lower, upper) = bounds(bucket_of(exact));
            prop_assert!(lower <= estimate && estimate <= upper, "{estimate} outside [{lower}, {upper}] of exact {exact}");
        }
    }
}
