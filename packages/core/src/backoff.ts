import { InvalidOptionError } from './errors';

/** Wait between a failed attempt and the next one, chosen per subscription. */
export type BackoffOption =
  | {
      type: 'fixed';
      /** Delay before every retry, in ms: a whole number from 0 to 604800000 (7 days). */
      delayMs: number;
    }
  | {
      type: 'exponential';
      /** First retry delay, 0 to 604800000 (7 days). @defaultValue 1000 */
      baseMs?: number;
      /** Growth per attempt, 1 to 1000. @defaultValue 2 */
      factor?: number;
      /** Upper bound of any delay, 0 to 604800000 (7 days). @defaultValue 300000 (5 min) */
      maxMs?: number;
      /** Random spread as a fraction of the delay (0..1), so retries do not stampede. @defaultValue 0.2 */
      jitter?: number;
    }
  /**
   * Your own: delay in ms for the retry after `attempt` failed (attempt starts at 1). It must
   * return a finite number ≥ 0; a larger one than 7 days is capped. If it
   * returns anything else (undefined, NaN, a negative number, Infinity) or throws, the retry
   * is scheduled with the default backoff (exponential from 1 s, ×2, at most 5 min, 20% jitter) instead and the subscription reports an
   * `InvalidOptionError`: the event is never lost nor parked for ever.
   */
  | ((attempt: number, error: unknown) => number);

/** Longest wait before a retry: 7 days. Longer delays are capped to it. */
export const MAX_BACKOFF_MS = 7 * 86_400_000;

/** Default backoff: exponential from 1 s, doubling, capped at 5 min, 20% jitter. */
export const DEFAULT_BACKOFF: BackoffOption = { type: 'exponential', baseMs: 1000, factor: 2, maxMs: 300_000, jitter: 0.2 };

function isNum(v: unknown, min: number, max: number): boolean {
  return typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max;
}

/** Validate a backoff option early, so a typo fails at subscribe time. @throws InvalidOptionError */
export function validateBackoff(b: BackoffOption): void {
  if (typeof b === 'function') return;
  if (typeof b !== 'object' || b === null) {
    throw new InvalidOptionError(`backoff must be { type: 'fixed', delayMs }, { type: 'exponential', ... } or a function (attempt, error) => ms, got ${String(b)}`);
  }
  if (b.type === 'fixed') {
    if (!isNum(b.delayMs, 0, MAX_BACKOFF_MS)) {
      throw new InvalidOptionError(`backoff.delayMs must be a finite number of ms from 0 to ${MAX_BACKOFF_MS} (7 days), got ${String(b.delayMs)}`);
    }
    return;
  }
  if (b.type !== 'exponential') throw new InvalidOptionError(`backoff.type must be "fixed" or "exponential", got ${JSON.stringify((b as { type: unknown }).type)}`);
  const { baseMs = 1000, factor = 2, maxMs = 300_000, jitter = 0.2 } = b;
  const bad: string[] = [];
  if (!isNum(baseMs, 0, MAX_BACKOFF_MS)) bad.push(`backoff.baseMs must be a finite number from 0 to ${MAX_BACKOFF_MS}, got ${String(baseMs)}`);
  if (!isNum(factor, 1, 1000)) bad.push(`backoff.factor must be a finite number from 1 to 1000, got ${String(factor)}`);
  if (!isNum(maxMs, 0, MAX_BACKOFF_MS)) bad.push(`backoff.maxMs must be a finite number from 0 to ${MAX_BACKOFF_MS}, got ${String(maxMs)}`);
  if (!isNum(jitter, 0, 1)) bad.push(`backoff.jitter must be a fraction from 0 to 1, got ${String(jitter)}`);
  if (bad.length > 0) throw new InvalidOptionError(bad.join('; '));
}

/** A backoff delay and, when a custom function gave an unusable value, why it was replaced. */
export interface BackoffResult {
  delayMs: number;
  /** Set when the custom backoff's result was replaced or capped: report it. */
  problem?: InvalidOptionError;
}

/**
 * Delay before the retry that follows failed attempt `attempt` (1-based). Pure apart from
 * `random`, which tests may pass. Always a whole number from 0 to {@link MAX_BACKOFF_MS}.
 */
export function backoffDelay(b: BackoffOption, attempt: number, error: unknown, random: () => number = Math.random): number {
  return computeBackoff(b, attempt, error, random).delayMs;
}

/** {@link backoffDelay}, saying when a custom function's result could not be used. */
export function computeBackoff(b: BackoffOption, attempt: number, error: unknown, random: () => number = Math.random): BackoffResult {
  if (typeof b === 'function') {
    let value: unknown;
    try {
      value = b(attempt, error);
    } catch (err) {
      const fallback = computeBackoff(DEFAULT_BACKOFF, attempt, error, random).delayMs;
      return { delayMs: fallback, problem: new InvalidOptionError(`the backoff function threw for attempt ${attempt} (${(err as Error)?.message ?? String(err)}): the retry was scheduled with the default backoff (${fallback}ms). Make it return a number of ms ≥ 0 for every attempt`) };
    }
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) {
      if (value > MAX_BACKOFF_MS) {
        return { delayMs: MAX_BACKOFF_MS, problem: new InvalidOptionError(`the backoff function returned ${value}ms for attempt ${attempt}, over the cap of ${MAX_BACKOFF_MS}ms (7 days): capped`) };
      }
      return { delayMs: Math.round(value) };
    }
    const fallback = computeBackoff(DEFAULT_BACKOFF, attempt, error, random).delayMs;
    return { delayMs: fallback, problem: new InvalidOptionError(`the backoff function returned ${typeof value === 'number' ? String(value) : typeof value === 'string' ? JSON.stringify(value) : String(value)} for attempt ${attempt}: it must return a finite number of ms ≥ 0 (a table lookup past its end gives undefined). The retry was scheduled with the default backoff (${fallback}ms) instead`) };
  }
  if (b.type === 'fixed') return { delayMs: Math.round(Math.min(MAX_BACKOFF_MS, Math.max(0, b.delayMs))) };
  const { baseMs = 1000, factor = 2, maxMs = 300_000, jitter = 0.2 } = b;
  const raw = Math.min(maxMs, baseMs * factor ** Math.max(0, attempt - 1));
  const spread = raw * jitter * (random() * 2 - 1);
  return { delayMs: Math.max(0, Math.min(maxMs, MAX_BACKOFF_MS, Math.round(raw + spread))) };
}
