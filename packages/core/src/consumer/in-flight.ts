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
 * The {@link InFlight} of a delivery the consumer dispatched: every field set in the constructor
 * (one shape for all), and its {@link LazyAbort} made only when something reads or aborts it.
 */
export class Delivery implements InFlight {
  leaseLost = false;
  lost = false;
  abandoned = false;
  ran = false;
  timedOut = false;
  timer: NodeJS.Timeout | undefined = undefined;
  deadReason: string | undefined = undefined;
  deadLetter: ((reason: string) => never) | undefined = undefined;
  publishedAt: Date | undefined = undefined;
  private lazyAbort: LazyAbort | undefined = undefined;

  constructor(
    readonly entryId: string,
    readonly eventId: string,
    readonly stream: string,
    readonly base: number,
    readonly attempt: number,
    public startedAt: number,
    public leasedAt: number,
  ) {}

  get abort(): LazyAbort {
    return (this.lazyAbort ??= new LazyAbort());
  }
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
  /** The map of the stream used last (a consumer's deliveries come mostly from one stream). */
  private lastStream: string | undefined;
  private lastMap: Map<string, V> | undefined;
  get size(): number { return this.count; }
  private mapOf(stream: string): Map<string, V> | undefined {
    if (stream === this.lastStream) return this.lastMap;
    const m = this.byStream.get(stream);
    if (m) { this.lastStream = stream; this.lastMap = m; }
    return m;
  }
  get(stream: string, id: string): V | undefined { return this.mapOf(stream)?.get(id); }
  has(stream: string, id: string): boolean { return this.mapOf(stream)?.has(id) ?? false; }
  set(stream: string, id: string, v: V): void {
    let m = this.mapOf(stream);
    if (!m) {
      this.byStream.set(stream, (m = new Map()));
      this.lastStream = stream;
      this.lastMap = m;
    }
    // One lookup, not has() then set(): the size says whether the id was new.
    const before = m.size;
    m.set(id, v);
    this.count += m.size - before;
  }
  delete(stream: string, id: string): boolean {
    const done = this.mapOf(stream)?.delete(id) ?? false;
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
