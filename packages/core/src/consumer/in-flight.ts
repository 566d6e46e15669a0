/** One delivery this consumer is handling, keyed by (stream, entry id): see {@link deliveryKey}. */
export interface InFlight {
  entryId: string;
  eventId: string;
  stream: string;
  base: number;
  attempt: number;
  /** Monotonic ms (performance.now) when the handler started. */
  startedAt: number;
  /** Monotonic ms of the last lease renewal. */
  leasedAt: number;
  abort: LazyAbort;
  leaseLost: boolean;
  /** Its entry was deleted from the stream while the handler ran: recorded lost, never settled. */
  lost?: boolean;
  /** Still running when shutdown's grace period ended: left pending for reclaim, never settled here. */
  abandoned?: boolean;
}

/**
 * The key of one delivery. Each stream numbers its ids on its own, so a topic entry and a
 * retry copy in the redelivery stream can share an id: every map keyed by entry id must
 * include the stream.
 */
export function deliveryKey(stream: string, entryId: string): string {
  return `${stream}\n${entryId}`;
}

/**
 * An AbortController made only when a handler reads its signal or its delivery is aborted.
 * Most deliveries never need one, and constructing it was the largest single cost of a
 * delivery in the consumer (about a tenth of its CPU in the fan-out benchmark).
 */
export class LazyAbort {
  private controller: AbortController | undefined;
  get signal(): AbortSignal {
    return (this.controller ??= new AbortController()).signal;
  }
  abort(reason?: unknown): void {
    (this.controller ??= new AbortController()).abort(reason);
  }
}
