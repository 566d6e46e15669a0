/** Options for {@link waitFor}. */
export interface WaitForOptions {
  /** Give up after this long. @defaultValue 10000 */
  timeoutMs?: number;
  /** Poll interval. @defaultValue 20 */
  intervalMs?: number;
  /** Said in the timeout error. */
  message?: string;
}

/**
 * Poll `check` until it returns a truthy value (which is returned) or the timeout passes.
 * The timeout error says what was awaited and the last value or error seen.
 */
export async function waitFor<T>(check: () => T | Promise<T>, options: WaitForOptions = {}): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`waitFor timed out after ${timeoutMs}ms${options.message ? `: ${options.message}` : ''} (last: ${String(last instanceof Error ? last.message : JSON.stringify(last))})`);
    }
    await sleep(intervalMs);
  }
}

/** Resolve after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

let counter = 0;
/** A key prefix no other test uses, so tests may share one server. */
export function uniquePrefix(label = 't'): string {
  counter += 1;
  return `${label}${process.pid}x${counter}x${Math.random().toString(36).slice(2, 7)}`;
}
