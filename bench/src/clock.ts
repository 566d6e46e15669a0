/**
 * Wall-clock milliseconds with sub-millisecond resolution. `performance.timeOrigin` is the
 * wall-clock start of this process, so values from different processes on one machine can
 * be subtracted (publisher in one process, handler in another).
 */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

/** Resolve after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
