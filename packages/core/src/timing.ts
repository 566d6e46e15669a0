/** Resolve after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Settle with `p`, or with undefined after `ms` (the timer is cleared either way). */
export async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<undefined>((r) => { timer = setTimeout(() => r(undefined), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Milliseconds on a monotonic clock (never jumps with NTP or a manual clock change): for the
 * client's own timers, such as lease renewal and shutdown deadlines. Scheduling that other
 * processes see uses Redis server time instead.
 */
export function monotonicMs(): number {
  return performance.now();
}
