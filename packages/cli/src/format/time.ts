import { formatDuration } from './duration';

/** `3m12s ago` / `in 4s` relative to `now`; '-' when there is no date. */
export function formatRelative(date: Date | null | undefined, now: number = Date.now()): string {
  if (!date) return '-';
  const d = now - date.getTime();
  return d >= 0 ? `${formatDuration(d)} ago` : `in ${formatDuration(-d)}`;
}

/** ISO time and how long ago, for detail views: `2026-11-28T00:20:00.000Z (3m12s ago)`. */
export function formatTime(date: Date | null | undefined, now: number = Date.now()): string {
  if (!date) return '-';
  return `${date.toISOString()} (${formatRelative(date, now)})`;
}

/** Milliseconds part of a stream id as a Date. */
export function idDate(id: string): Date {
  // A partition's or a lane's id (`p3:…`, `high:…`) is a stream id after its scope.
  return new Date(Number(id.replace(/^[a-z][a-z0-9_-]*:/, '').split('-')[0]));
}
