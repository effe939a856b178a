// Overview: how the gateway is doing over a range — headline numbers and a
// chart per metric, optionally one line per route, provider, model or key.
// Refreshes every 10 s while open.

import { api, type GroupBy, type StatsResponse } from '../api';
import { TimeChart, type Unit } from '../charts';
import { fill, h, labelled, select } from '../dom';
import * as format from '../format';
import type { PageView } from '../navigation';
import { poll } from '../poll';
import { RANGES, bounds, rangeById } from '../ranges';
import { align, timeGrid, topGroups, type Metric } from '../series';
import { empty, failure, loading } from '../states';
import { queryParam, setQuery } from '../url-state';

const GROUPS: [string, string][] = [
  ['', 'No grouping'],
  ['route', 'By route'],
  ['provider', 'By provider'],
  ['model', 'By model'],
  ['key', 'By key'],
];

const REFRESH_MS = 10_000;

const errorRate: Metric = { label: 'error rate', pick: (s) => format.ratio(s.errors, s.requests), whenEmpty: null };
const cacheHitRate: Metric = { label: 'hit rate', pick: (s) => format.ratio(s.cache_hits, s.cache_lookups), whenEmpty: null };

/**
 * The charts: each is one or more metrics when not grouped, and its first
 * metric per group when grouped (three percentiles times eight groups would
 * be a tangle; p95 is what an operator watches).
 */
const CHARTS: { title: string; groupedTitle: string; unit: Unit; metrics: Metric[] }[] = [
  { title: 'Requests', groupedTitle: 'Requests', unit: 'count', metrics: [{ label: 'requests', pick: (s) => s.requests, whenEmpty: 0 }] },
  { title: 'Error rate', groupedTitle: 'Error rate', unit: 'percent', metrics: [errorRate] },
  {
    title: 'Latency',
    groupedTitle: 'Latency p95',
    unit: 'ms',
    metrics: [
      { label: 'p95', pick: (s) => s.latency_p95, whenEmpty: null },
      { label: 'p50', pick: (s) => s.latency_p50, whenEmpty: null },
      { label: 'p99', pick: (s) => s.latency_p99, whenEmpty: null },
    ],
  },
  {
    title: 'Time to first token',
    groupedTitle: 'Time to first token p95',
    unit: 'ms',
    metrics: [
      { label: 'p95', pick: (s) => s.ttft_p95, whenEmpty: null },
      { label: 'p50', pick: (s) => s.ttft_p50, whenEmpty: null },
    ],
  },
  { title: 'Cache hit rate', groupedTitle: 'Cache hit rate', unit: 'percent', metrics: [cacheHitRate] },
  { title: 'Cost', groupedTitle: 'Cost', unit: 'usd', metrics: [{ label: 'cost', pick: (s) => s.cost_usd, whenEmpty: 0 }] },
];

export const overview: PageView = (root) => {
  let range = rangeById(queryParam('range'));
  let groupBy = (queryParam('group') ?? '') as GroupBy | '';

  const rangeSelect = select('range', RANGES.map((r) => [r.id, r.label]), range.id);
  const groupSelect = select('group', GROUPS, groupBy);
  const updated = h('span', { class: 'muted', 'aria-live': 'polite' });
  const problem = h('div');
  const headline = h('section', { class: 'headline', 'aria-label': 'Totals for the range' });
  const note = h('p', { class: 'muted' });
  const chartGrid = h('section', { class: 'charts' });
  const body = h('div', {}, loading());

  fill(
    root,
    h('div', { class: 'page-head' }, h('h1', {}, 'Overview'), updated),
    h('form', { class: 'toolbar', onsubmit: (e: Event) => e.preventDefault() }, labelled('Range', rangeSelect), labelled('Group by', groupSelect)),
    problem,
    body,
  );

  let charts: TimeChart[] = [];
  let chartsGrouped: boolean | null = null;

  /** The chart objects for this grouping (titles differ when grouped). */
  const chartsFor = (grouped: boolean): TimeChart[] => {
    if (chartsGrouped === grouped) return charts;
    for (const c of charts) c.destroy();
    charts = CHARTS.map((c) => new TimeChart(grouped ? c.groupedTitle : c.title, c.unit));
    chartsGrouped = grouped;
    fill(chartGrid, ...charts.map((c) => c.element));
    return charts;
  };

  const show = (stats: StatsResponse) => {
    fill(headline, ...headlineCards(stats));
    if (stats.totals.requests === 0) {
      fill(body, headline, empty('No requests in this range yet.'));
      return;
    }
    const grouped = Boolean(stats.group_by);
    const { shown, hidden } = topGroups(stats.points);
    note.textContent = hidden ? `Showing the ${shown.length} busiest groups; ${hidden} more are not drawn.` : '';
    // Attach before drawing, so each chart measures its real width.
    if (!body.contains(chartGrid)) fill(body, headline, note, chartGrid);
    const xs = timeGrid(stats.from, stats.to, stats.bucket_ms, stats.points);
    chartsFor(grouped).forEach((chart, i) => {
      chart.draw({ xs, lines: align(xs, stats.points, CHARTS[i].metrics, grouped ? shown : null) });
    });
  };

  const refresh = async () => {
    try {
      // Buckets start at `from`: a `from` on the bucket grid keeps them in
      // place from one refresh to the next, so the lines do not shift.
      const { from, to } = bounds(range);
      const aligned = Math.floor(from / range.bucketMs) * range.bucketMs;
      const stats = await api.stats({ from: aligned, to, bucket_ms: range.bucketMs, group_by: groupBy || null });
      fill(problem);
      show(stats);
      updated.textContent = `Updated ${format.clock(Date.now())} · refreshes every ${REFRESH_MS / 1000} s`;
    } catch (error) {
      // Keep the last numbers on screen; say that they are stale.
      fill(problem, failure(error, 'Could not load the stats'));
      if (!body.contains(headline)) fill(body);
    }
  };

  const onChange = () => {
    range = rangeById(rangeSelect.value);
    groupBy = groupSelect.value as GroupBy | '';
    setQuery({ range: range.id === '1h' ? null : range.id, group: groupBy || null });
    void refresh();
  };
  rangeSelect.addEventListener('change', onChange);
  groupSelect.addEventListener('change', onChange);

  void refresh();
  const stop = poll(refresh, REFRESH_MS);
  return () => {
    stop();
    for (const c of charts) c.destroy();
  };
};

function headlineCards({ totals }: StatsResponse): HTMLElement[] {
  const card = (label: string, value: string, detail?: string) =>
    h('div', { class: 'stat' }, h('div', { class: 'stat-label' }, label), h('div', { class: 'stat-value' }, value), detail ? h('div', { class: 'stat-detail' }, detail) : null);
  return [
    card('Requests', format.count(totals.requests)),
    card('Error rate', format.percent(format.ratio(totals.errors, totals.requests)), `${format.count(totals.errors)} errors`),
    card('Latency p50', format.ms(totals.latency_p50)),
    card('Latency p95', format.ms(totals.latency_p95)),
    card('TTFT p50', format.ms(totals.ttft_p50)),
    card('Cache hit rate', format.percent(format.ratio(totals.cache_hits, totals.cache_lookups)), `${format.count(totals.cache_hits)} of ${format.count(totals.cache_lookups)} lookups`),
    card('Tokens', format.count(totals.tokens_in + totals.tokens_out), `${format.count(totals.tokens_in)} in · ${format.count(totals.tokens_out)} out`),
    card('Cost', format.usd(totals.cost_usd)),
  ];
}
