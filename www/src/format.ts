// How numbers read on the dashboard: one place, so a latency or a cost looks
// the same in a headline, a table cell and a chart axis. Missing values are
// an em dash, never "null" or "NaN".

const DASH = '—';

export function count(n: number | null | undefined): string {
  return n === null || n === undefined ? DASH : n.toLocaleString('en-US');
}

export function ms(n: number | null | undefined): string {
  if (n === null || n === undefined) return DASH;
  return n >= 10_000 ? `${(n / 1000).toFixed(1)} s` : `${Math.round(n).toLocaleString('en-US')} ms`;
}

export function usd(n: number | null | undefined): string {
  if (n === null || n === undefined) return DASH;
  if (n === 0) return '$0';
  if (n >= 1) return `$${n.toFixed(2).replace(/\.00$/, '')}`;
  // Single requests cost fractions of a cent: keep three significant
  // digits, written out (never 1e-7).
  const decimals = Math.min(12, 2 - Math.floor(Math.log10(n)));
  return `$${n.toFixed(decimals).replace(/(\.\d\d\d*?)0+$/, '$1')}`;
}

/** A ratio as a percentage; null when there is nothing to divide by. */
export function percent(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return DASH;
  const p = ratio * 100;
  return `${p === 0 || p === 100 || p >= 10 ? p.toFixed(0) : p.toFixed(1)}%`;
}

export function ratio(part: number, whole: number): number | null {
  return whole > 0 ? part / whole : null;
}

/** A moment as local date and time, to the second. */
export function dateTime(msSinceEpoch: number): string {
  const d = new Date(msSinceEpoch);
  const pad = (v: number) => String(v).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Time of day only, for rows of the last hours. */
export function clock(msSinceEpoch: number): string {
  return dateTime(msSinceEpoch).slice(11);
}

/** A duration in words for windows: 60000 → "1 min". */
export function duration(msDuration: number): string {
  if (msDuration % 86_400_000 === 0) return `${msDuration / 86_400_000} d`;
  if (msDuration % 3_600_000 === 0) return `${msDuration / 3_600_000} h`;
  if (msDuration % 60_000 === 0) return `${msDuration / 60_000} min`;
  return `${msDuration / 1000} s`;
}

export function orDash(text: string | null | undefined): string {
  return text === null || text === undefined || text === '' ? DASH : text;
}
