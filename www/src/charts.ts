// Time-series charts, drawn with uPlot: small (~50 KB), canvas-based, and
// fast enough to redraw every refresh without a framework. A chart fits its
// container's width and follows it when the window resizes; refreshing with
// the same lines only swaps the data, so the chart does not flicker.

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { h } from './dom';
import * as format from './format';
import type { Aligned } from './series';

export type Unit = 'count' | 'ms' | 'percent' | 'usd';

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777'];
const HEIGHT = 180;

function formatValue(unit: Unit, value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  switch (unit) {
    case 'ms':
      // An empty chart's axis runs 0 to 1: show its ticks, not "1 ms" twice.
      return value < 10 && !Number.isInteger(value) ? `${value.toFixed(1)} ms` : format.ms(value);
    case 'percent':
      return format.percent(value);
    case 'usd':
      return format.usd(value);
    case 'count':
      // Axis ticks can fall between whole numbers.
      return Number.isInteger(value) ? format.count(value) : value.toFixed(1);
  }
}

export class TimeChart {
  readonly element: HTMLElement;
  #plot: uPlot | null = null;
  #labels = '';
  #body: HTMLElement;
  #resize: ResizeObserver;

  constructor(readonly title: string, readonly unit: Unit) {
    this.#body = h('div', { class: 'chart-body' });
    this.element = h('figure', { class: 'chart' }, h('figcaption', {}, title), this.#body);
    this.#resize = new ResizeObserver(() => this.#fit());
    this.#resize.observe(this.#body);
  }

  /** Draws `data`; rebuilds the chart only when its lines changed. */
  draw({ xs, lines }: Aligned): void {
    const data: uPlot.AlignedData = [xs, ...lines.map((l) => l.values)];
    const labels = lines.map((l) => l.label).join('\u0000');
    if (this.#plot && labels === this.#labels) {
      this.#plot.setData(data);
      return;
    }
    this.#plot?.destroy();
    this.#labels = labels;
    this.#plot = new uPlot(this.#options(lines.map((l) => l.label)), data, this.#body);
  }

  destroy(): void {
    this.#resize.disconnect();
    this.#plot?.destroy();
    this.#plot = null;
  }

  #width(): number {
    // Never zero: a chart made while its page is still hidden would
    // otherwise be drawn with no width and stay that way.
    return Math.max(this.#body.clientWidth, 200);
  }

  #fit(): void {
    if (this.#plot && this.#plot.width !== this.#width()) this.#plot.setSize({ width: this.#width(), height: HEIGHT });
  }

  #options(labels: string[]): uPlot.Options {
    const unit = this.unit;
    return {
      width: this.#width(),
      height: HEIGHT,
      // The stats endpoint speaks milliseconds.
      ms: 1,
      cursor: { drag: { x: false, y: false } },
      scales: { y: { range: (_u, min, max) => [Math.min(0, min ?? 0), max && max > 0 ? max * 1.1 : 1] } },
      axes: [
        { stroke: '#64748b', grid: { stroke: '#e2e8f0' }, ticks: { stroke: '#e2e8f0' } },
        {
          stroke: '#64748b',
          grid: { stroke: '#e2e8f0' },
          ticks: { stroke: '#e2e8f0' },
          values: (_u, splits) => splits.map((v) => formatValue(unit, v)),
          // As wide as the longest label ("$0.00006"), so none is cut off.
          size: (_u, values) => (values?.length ? Math.max(...values.map((v) => v.length)) * 7 + 20 : 40),
        },
      ],
      series: [
        {},
        ...labels.map((label, i) => ({
          label,
          stroke: COLORS[i % COLORS.length],
          width: 1.5,
          // uPlot hides points when they are dense, and a lone bucket between
          // gaps (one request in an hour) has no line: draw those as dots.
          points: { show: true, size: 5, fill: COLORS[i % COLORS.length], filter: (u: uPlot, seriesIdx: number) => isolated(u.data[seriesIdx]) },
          value: (_u: uPlot, v: number | null) => formatValue(unit, v),
        })),
      ],
    };
  }
}

/** Indices of values with no neighbour to draw a line to. */
function isolated(values: uPlot.AlignedData[number]): number[] {
  const present = (i: number) => values[i] !== null && values[i] !== undefined;
  const out: number[] = [];
  for (let i = 0; i < values.length; i++) if (present(i) && !present(i - 1) && !present(i + 1)) out.push(i);
  return out;
}
