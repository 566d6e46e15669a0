import { InvalidOptionError } from './errors';

/** Wait between a failed attempt and the next one, chosen per subscription. */
export type BackoffOption =
  | { type: 'fixed'; delayMs: number }
  | {
      type: 'exponential';
      /** First retry delay. @defaultValue 1000 */
      baseMs?: number;
      /** Growth per attempt. @defaultValue 2 */
      factor?: number;
      /** Upper bound of any delay. @defaultValue 300000 (5 min) */
      maxMs?: number;
      /** Random spread as a fraction of the delay (0..1), so retries do not stampede. @defaultValue 0.2 */
      jitter?: number;
    }
  /** Your own: delay in ms for the retry after `attempt` failed (attempt starts at 1). */
  | ((attempt: number, error: unknown) => number);

/** Default backoff: exponential from 1 s, doubling, capped at 5 min, 20% jitter. */
export const DEFAULT_BACKOFF: BackoffOption = { type: 'exponential', baseMs: 1000, factor: 2, maxMs: 300_000, jitter: 0.2 };

/** Validate a backoff option early, so a typo fails at subscribe time. */
export function validateBackoff(b: BackoffOption): void {
  if (typeof b === 'function') return;
  if (b.type === 'fixed') {
    if (!(b.delayMs >= 0)) throw new InvalidOptionError(`backoff.delayMs must be ≥ 0, got ${String(b.delayMs)}`);
    return;
  }
  if (b.type !== 'exponential') throw new InvalidOptionError(`backoff.type must be "fixed" or "exponential", got ${JSON.stringify((b as { type: unknown }).type)}`);
  const { baseMs = 1000, factor = 2, maxMs = 300_000, jitter = 0.2 } = b;
  if (!(baseMs >= 0) || !(factor >= 1) || !(maxMs >= 0) || !(jitter >= 0 && jitter <= 1)) {
    throw new InvalidOptionError('backoff: baseMs ≥ 0, factor ≥ 1, maxMs ≥ 0 and 0 ≤ jitter ≤ 1 are required');
  }
}

/**
 * Delay before the retry that follows failed attempt `attempt` (1-based). Pure apart from
 * `random`, which tests may pass.
 */
export function backoffDelay(b: BackoffOption, attempt: number, error: unknown, random: () => number = Math.random): number {
  if (typeof b === 'function') return Math.max(0, Math.round(b(attempt, error)));
  if (b.type === 'fixed') return b.delayMs;
  const { baseMs = 1000, factor = 2, maxMs = 300_000, jitter = 0.2 } = b;
  const raw = Math.min(maxMs, baseMs * factor ** Math.max(0, attempt - 1));
  const spread = raw * jitter * (random() * 2 - 1);
  return Math.max(0, Math.min(maxMs, Math.round(raw + spread)));
}
