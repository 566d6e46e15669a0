import { InvalidOptionError } from '../errors';

/** Retention run on a timer for each subscribed topic (see {@link StreamfanOptions.retention}). */
export interface RetentionOptions {
  /** How often retention runs per topic (one run per interval across every subscription and process). @defaultValue 60000 */
  intervalMs?: number;
  /** Hard cap on the stream length: entries over it are removed even if a group still needs them, and recorded as `lost` there. */
  maxLen?: number;
  /** Trim the safe part by whole stream nodes (`~`): cheaper, keeps at most one node more. @defaultValue true */
  approximate?: boolean;
  /**
   * Never trim an entry younger than this many ms (by the Redis server's clock), even when every
   * group has acknowledged it. It is what lets a group created late still find the events
   * published after its `subscribe()` call: a process that subscribes with `startFrom: 'latest'`
   * starts its new group where the topic was when `subscribe()` was called, and when its
   * connection comes up only some time later (a process just started, a busy machine), the other
   * groups may have handled those events meanwhile. A group created up to `minAgeMs` after its
   * `subscribe()` call misses nothing; one created later may miss events retention trimmed
   * before it existed. Entries are kept this much longer, so the stream holds about
   * `intervalMs + minAgeMs` of publishing at most. A hard `maxLen` ignores it. A whole number
   * of ms, 0…24.8 days.
   * @defaultValue a quarter of `intervalMs`, at most 10000 (10 s with the default interval)
   */
  minAgeMs?: number;
}

/** Retention options with defaults filled in and every value checked. */
export interface ResolvedRetention {
  intervalMs: number;
  maxLen: number | undefined;
  approximate: boolean;
  minAgeMs: number;
}

/** Largest delay Node's timers accept; past it setInterval fires every millisecond. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const MIN_INTERVAL_MS = 10;
/** The default minimum age's upper bound (see {@link RetentionOptions.minAgeMs}). */
const DEFAULT_MAX_MIN_AGE_MS = 10_000;

/** @internal */
export function checkMinAge(value: unknown, where: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > MAX_TIMER_MS) {
    throw new InvalidOptionError(`${where}.minAgeMs must be a whole number of milliseconds in 0..${MAX_TIMER_MS} (entries younger than that are kept), got ${describe(value)}`);
  }
  return value;
}

/** The default minimum age for an interval: a quarter of it, at most 10 s. */
export function defaultMinAgeMs(intervalMs: number): number {
  return Math.min(DEFAULT_MAX_MIN_AGE_MS, Math.floor(intervalMs / 4));
}

/** @internal */
export function checkMaxLen(value: unknown, where: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidOptionError(`${where}.maxLen must be a whole number ≥ 1 (the most entries to keep), got ${describe(value)}`);
  }
  return value;
}

/** @internal */
export function checkBoolean(value: unknown, name: string, where: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new InvalidOptionError(`${where}.${name} must be true or false, got ${describe(value)}`);
  return value;
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/**
 * Check the client's `retention` option and fill in defaults.
 * @returns undefined when retention is off (`false`)
 * @throws InvalidOptionError naming the bad field
 */
export function resolveRetention(value: unknown): ResolvedRetention | undefined {
  if (value === false) return undefined;
  if (value === undefined) return { intervalMs: 60_000, maxLen: undefined, approximate: true, minAgeMs: defaultMinAgeMs(60_000) };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidOptionError(`retention must be false or an object { intervalMs?, maxLen?, approximate?, minAgeMs? }, got ${describe(value)}`);
  }
  const r = value as Record<string, unknown>;
  for (const key of Object.keys(r)) {
    if (key !== 'intervalMs' && key !== 'maxLen' && key !== 'approximate' && key !== 'minAgeMs') {
      throw new InvalidOptionError(`retention.${key} is not an option (known: intervalMs, maxLen, approximate, minAgeMs)`);
    }
  }
  const intervalMs = r.intervalMs ?? 60_000;
  if (typeof intervalMs !== 'number' || !Number.isInteger(intervalMs) || intervalMs < MIN_INTERVAL_MS || intervalMs > MAX_TIMER_MS) {
    throw new InvalidOptionError(`retention.intervalMs must be a whole number of milliseconds in ${MIN_INTERVAL_MS}..${MAX_TIMER_MS}, got ${describe(r.intervalMs)}`);
  }
  return {
    intervalMs,
    maxLen: checkMaxLen(r.maxLen, 'retention'),
    approximate: checkBoolean(r.approximate, 'approximate', 'retention') ?? true,
    minAgeMs: checkMinAge(r.minAgeMs, 'retention') ?? defaultMinAgeMs(intervalMs),
  };
}
