import { InvalidOptionError } from '../errors';

/** Retention run on a timer for each subscribed topic (see {@link StreamfanOptions.retention}). */
export interface RetentionOptions {
  /** How often retention runs per topic (one run per interval across every subscription and process). @defaultValue 60000 */
  intervalMs?: number;
  /** Hard cap on the stream length: entries over it are removed even if a group still needs them, and recorded as `lost` there. */
  maxLen?: number;
  /** Trim the safe part by whole stream nodes (`~`): cheaper, keeps at most one node more. @defaultValue true */
  approximate?: boolean;
}

/** Retention options with defaults filled in and every value checked. */
export interface ResolvedRetention {
  intervalMs: number;
  maxLen: number | undefined;
  approximate: boolean;
}

/** Largest delay Node's timers accept; past it setInterval fires every millisecond. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const MIN_INTERVAL_MS = 10;

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
  if (value === undefined) return { intervalMs: 60_000, maxLen: undefined, approximate: true };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidOptionError(`retention must be false or an object { intervalMs?, maxLen?, approximate? }, got ${describe(value)}`);
  }
  const r = value as Record<string, unknown>;
  for (const key of Object.keys(r)) {
    if (key !== 'intervalMs' && key !== 'maxLen' && key !== 'approximate') {
      throw new InvalidOptionError(`retention.${key} is not an option (known: intervalMs, maxLen, approximate)`);
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
  };
}
