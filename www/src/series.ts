// Turns the stats endpoint's points into what a time-series chart draws: one
// x axis of bucket starts covering the whole range, and one y array per line.
// The endpoint leaves out buckets with no requests; left out, a chart would
// draw a straight line across a quiet hour as if traffic had been steady, so
// every bucket of the range is put back: counts as 0, rates and percentiles
// as null (a gap: there is no latency of zero requests).

import type { Stats, StatsPoint } from './api';

export interface Line {
  label: string;
  values: (number | null)[];
}

export interface Aligned {
  xs: number[];
  lines: Line[];
}

/** How many groups get a line of their own; more would be unreadable. */
export const MAX_GROUPS = 8;

/**
 * Bucket starts from `from` to `to`, on the endpoint's grid. The grid's
 * phase is taken from the points themselves when there are any (the
 * gateway may align buckets to the epoch or to `from`), and every point's
 * own start is kept even if it falls off the grid.
 */
export function timeGrid(from: number, to: number, bucketMs: number, points: StatsPoint[]): number[] {
  const times = new Set(points.map((p) => p.t));
  if (bucketMs > 0) {
    const phase = points.length ? mod(points[0].t, bucketMs) : mod(from, bucketMs);
    const first = from - mod(from - phase, bucketMs);
    for (let t = first; t <= to; t += bucketMs) times.add(t);
  }
  return [...times].sort((a, b) => a - b);
}

function mod(a: number, b: number): number {
  return ((a % b) + b) % b;
}

/** Groups by total requests, busiest first, at most MAX_GROUPS. */
export function topGroups(points: StatsPoint[]): { shown: string[]; hidden: number } {
  const totals = new Map<string, number>();
  for (const p of points) totals.set(p.group ?? '(none)', (totals.get(p.group ?? '(none)') ?? 0) + p.requests);
  const ordered = [...totals.entries()].sort((a, b) => b[1] - a[1]).map(([group]) => group);
  return { shown: ordered.slice(0, MAX_GROUPS), hidden: Math.max(0, ordered.length - MAX_GROUPS) };
}

/** One metric of the points, read per bucket. `whenEmpty` fills missing buckets. */
export interface Metric {
  label: string;
  pick: (s: Stats) => number | null;
  whenEmpty: number | null;
}

/**
 * Lines for a chart: each metric as one line when not grouped, or one
 * metric as a line per group.
 */
export function align(xs: number[], points: StatsPoint[], metrics: Metric[], groups: string[] | null): Line[] {
  const key = (t: number, group: string) => `${t}\u0000${group}`;
  const byKey = new Map(points.map((p) => [key(p.t, p.group ?? '(none)'), p]));
  const line = (label: string, group: string, metric: Metric): Line => ({
    label,
    values: xs.map((t) => {
      const point = byKey.get(key(t, group));
      return point ? metric.pick(point) : metric.whenEmpty;
    }),
  });
  if (!groups) return metrics.map((m) => line(m.label, '(none)', m));
  return groups.map((g) => line(g, g, metrics[0]));
}
