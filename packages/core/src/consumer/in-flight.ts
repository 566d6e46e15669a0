/** One delivery this consumer is handling, keyed by (stream, entry id): see {@link DeliveryMap}. */
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
  /** The handler returned, threw or ran out of time: settled once (settler.ts handlerDone). */
  ran?: boolean;
  /** Its handlerTimeoutMs ran out: failed, while the handler still holds its slot until it returns. */
  timedOut?: boolean;
  /** The handlerTimeoutMs timer, while it runs. */
  timer?: NodeJS.Timeout;
  /** The handler called ctx.deadLetter(reason). */
  deadReason?: string;
  /** ctx.deadLetter and ctx.publishedAt, made on first use. */
  deadLetter?: (reason: string) => never;
  publishedAt?: Date;
}

/**
 * Values keyed by delivery: (stream, entry id). Each stream numbers its ids on its own, so a
 * topic entry and a retry copy in the redelivery stream can share an id: every table of
 * deliveries must include the stream. One map per stream (a consumer reads two), so no key
 * string is built per delivery.
 */
export class DeliveryMap<V> {
  private readonly byStream = new Map<string, Map<string, V>>();
  private count = 0;
  get size(): number { return this.count; }
  get(stream: string, id: string): V | undefined { return this.byStream.get(stream)?.get(id); }
  has(stream: string, id: string): boolean { return this.byStream.get(stream)?.has(id) ?? false; }
  set(stream: string, id: string, v: V): void {
    let m = this.byStream.get(stream);
    if (!m) this.byStream.set(stream, (m = new Map()));
    if (!m.has(id)) this.count++;
    m.set(id, v);
  }
  delete(stream: string, id: string): boolean {
    const done = this.byStream.get(stream)?.delete(id) ?? false;
    if (done) this.count--;
    return done;
  }
  *values(): IterableIterator<V> {
    for (const m of this.byStream.values()) yield* m.values();
  }
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
