// The time ranges the Overview and Logs pages offer, each with the chart
// bucket that gives it 60 to 100 points: enough to see a spike, few enough
// to read.

export interface Range {
  id: string;
  label: string;
  ms: number;
  bucketMs: number;
}

export const RANGES: Range[] = [
  { id: '15m', label: 'Last 15 minutes', ms: 15 * 60_000, bucketMs: 15_000 },
  { id: '1h', label: 'Last hour', ms: 3_600_000, bucketMs: 60_000 },
  { id: '24h', label: 'Last 24 hours', ms: 86_400_000, bucketMs: 15 * 60_000 },
  { id: '7d', label: 'Last 7 days', ms: 7 * 86_400_000, bucketMs: 2 * 3_600_000 },
];

export function rangeById(id: string | null, fallback = '1h'): Range {
  return RANGES.find((r) => r.id === id) ?? RANGES.find((r) => r.id === fallback)!;
}

/** The range's bounds ending now. */
export function bounds(range: Range, now = Date.now()): { from: number; to: number } {
  return { from: now - range.ms, to: now };
}
