/**
 * Human durations for tables: `850ms`, `12s`, `3m12s`, `2h05m`, `3d04h`. Two units at most,
 * rounded down, so a column stays short and still tells seconds from hours.
 */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  const neg = ms < 0;
  let v = Math.floor(Math.abs(ms));
  const sign = neg ? '-' : '';
  if (v < 1000) return `${sign}${v}ms`;
  v = Math.floor(v / 1000);
  if (v < 60) return `${sign}${v}s`;
  const pad = (n: number) => String(n).padStart(2, '0');
  const m = Math.floor(v / 60);
  if (m < 60) return `${sign}${m}m${pad(v % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${sign}${h}h${pad(m % 60)}m`;
  return `${sign}${Math.floor(h / 24)}d${pad(h % 24)}h`;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parse a duration given on the command line: `500ms`, `30s`, `5m`, `1h30m`, `2d`, or a bare
 * number of milliseconds. Returns undefined when the text is not a duration.
 */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (/^\d+$/.test(s)) return Number(s);
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(s)) return undefined;
  let total = 0;
  for (const [, n, unit] of s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) total += Number(n) * UNITS[unit!]!;
  return Math.round(total);
}
