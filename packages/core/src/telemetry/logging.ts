/**
 * Warnings that nobody listens for go to the logger: the library never keeps an error or a
 * warning to itself. A logger with `warn` (console, pino, winston) gets warnings there; one with
 * only `error` gets them as `warning: …` errors.
 */
import type { Logger, SubscriptionEvents } from '../consumer/options';
import { InvalidOptionError } from '../errors';

/** Log a warning: `logger.warn` when it has one, else `logger.error('warning: …')`. Never throws. */
export function logWarning(logger: Logger, message: string, detail?: unknown): void {
  try {
    if (typeof logger.warn === 'function') logger.warn(message, detail);
    else logger.error(`warning: ${message}`, detail);
  } catch { /* a logger that throws must not break the caller */ }
}

/** Refuse a logger that could not take errors (checked when the client is made, not at the first error). */
export function checkLogger(logger: unknown, where: string): void {
  if (logger === undefined) return;
  const l = logger as Partial<Logger> | null;
  if (typeof l !== 'object' || l === null || typeof l.error !== 'function') {
    throw new InvalidOptionError(`${where} must be an object with an error(message, error) method (console and pino work)`);
  }
  if (l.warn !== undefined && typeof l.warn !== 'function') throw new InvalidOptionError(`${where}.warn must be a function when given`);
}

interface Emitter {
  on<E extends keyof SubscriptionEvents>(event: E, fn: (...args: SubscriptionEvents[E]) => void): unknown;
  listenerCount(event: keyof SubscriptionEvents): number;
}

function sample(ids: readonly string[]): string {
  return ids.length <= 5 ? ids.join(', ') : `${ids.slice(0, 5).join(', ')} and ${ids.length - 5} more`;
}

/**
 * A subscription's events that mean something went wrong without being an error: entries lost
 * (deleted from the stream before the group settled them) and a group or stream that vanished
 * and was recreated. With no listener of the application's, they are logged as warnings.
 */
export function warnWhenUnobserved(sub: Emitter, logger: Logger, topic: string, group: string): void {
  sub.on('lost', (e) => {
    if (sub.listenerCount('lost') > lostBase) return;
    logWarning(logger, `${e.ids.length} event(s) lost in subscription ${group}@${topic} (${sample(e.ids)}): ${e.reason}. Their status says lost.`);
  });
  const lostBase = sub.listenerCount('lost');
  sub.on('recovered', (e) => {
    if (sub.listenerCount('recovered') > recoveredBase) return;
    logWarning(logger, `subscription ${group}@${topic} recovered: ${e.reason} (started at ${e.startedAt})`);
  });
  const recoveredBase = sub.listenerCount('recovered');
}
