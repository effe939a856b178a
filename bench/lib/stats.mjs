// The few statistics the bench needs, in one place so every figure is
// computed the same way: percentiles by nearest rank on sorted samples, and
// the median of a metric over repeated rounds.

/** Nearest-rank percentile (0–100) of `values`. */
export function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

/** Median; the mean of the middle two for an even count. */
export function median(values) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function sum(values) {
  return values.reduce((a, b) => a + b, 0);
}
