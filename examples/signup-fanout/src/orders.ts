import { defineTopic, partitionKeys, type Streamfan, type Subscription } from '@streamfan/core/internal';

/** The demo's partitioned topic: order updates, keyed by order id, over 4 partitions. */
export const ORDER_PARTITIONS = 4;
export const orderUpdates = defineTopic<{ orderId: string; seq: number; status: string }>('order.updated', { partitions: ORDER_PARTITIONS });
/** The ordered group: events of one order are handled one at a time, in publish order. */
export const ORDER_GROUP = 'shipping';
/** The orders the demo publishes updates for. */
export const ORDER_IDS = ['order-1', 'order-2', 'order-3', 'order-4', 'order-5', 'order-6'];
const STATUSES = ['created', 'paid', 'packed', 'shipped', 'delivered'];
/** The handler fails this share of first attempts (retried with backoff, holding its order's later updates back). */
const FAILURE_RATE = 0.15;

/** One order as the page shows it. */
export interface OrderKeyView {
  orderId: string;
  /** The partition its key hashes to (murmur2, as Kafka). */
  partition: number;
  published: number;
  /** Sequence numbers of its updates, in the order the shipping group handled them successfully. */
  handled: number[];
  /** Failed attempts that were retried. */
  retries: number;
  /** Whether the successful handlings followed publish order (always, by design). */
  inOrder: boolean;
  /** Whether two handlings of this order ever ran at the same time (never, by design). */
  overlapped: boolean;
}

/** The ordered part of the snapshot. */
export interface OrdersView {
  topic: string;
  partitions: number;
  group: string;
  ordering: 'key';
  published: number;
  handled: number;
  /** Entries in each partition's stream (XLEN). */
  partitionLengths: number[];
  keys: OrderKeyView[];
}

/**
 * An `order.updated` topic with {@link ORDER_PARTITIONS} partitions and a `shipping` group with
 * `ordering: 'key'` (two consumers sharing the partitions): each order's updates are handled in
 * publish order, one at a time, through random latency and retried failures; different orders
 * run in parallel. The page shows, per order, the sequence numbers in the order they were handled.
 */
export class OrdersDemo {
  private readonly subs: Subscription<{ orderId: string; seq: number; status: string }>[] = [];
  private readonly keys = new Map<string, { partition: number; published: number; handled: number[]; retries: number; running: number; overlapped: boolean }>();
  private published = 0;

  constructor(private readonly sf: Streamfan) {}

  /** Start the group's two consumers. */
  async start(): Promise<void> {
    for (const consumer of ['shipping-1', 'shipping-2']) {
      const sub = this.sf.subscribe(orderUpdates, ORDER_GROUP, async (p, ctx) => {
        const k = this.keyOf(p.orderId, ctx.partition ?? 0);
        k.running++;
        if (k.running > 1) k.overlapped = true;
        try {
          await new Promise((r) => setTimeout(r, 10 + Math.random() * 60));
          if (ctx.attempt === 1 && Math.random() < FAILURE_RATE) {
            k.retries++;
            throw new Error(`shipping system busy for ${p.orderId} (update ${p.seq}): retried, its later updates wait`);
          }
          k.handled.push(p.seq);
          return { shipped: p.status };
        } finally {
          k.running--;
        }
      }, { consumer, ordering: 'key', startFrom: 'beginning', concurrency: 4, leaseMs: 5000, maxAttempts: 10, backoff: { type: 'fixed', delayMs: 150 } });
      sub.on('error', () => undefined);
      this.subs.push(sub);
    }
    await Promise.all(this.subs.map((s) => s.ready()));
  }

  private keyOf(orderId: string, partition: number) {
    let k = this.keys.get(orderId);
    if (!k) {
      k = { partition, published: 0, handled: [], retries: 0, running: 0, overlapped: false };
      this.keys.set(orderId, k);
    }
    return k;
  }

  /** Publish `rounds` updates to every order (each order's sequence continues), keyed by order id. */
  async publish(rounds: number): Promise<{ ids: string[] }> {
    const events: Array<{ orderId: string; seq: number; status: string }> = [];
    for (let r = 0; r < rounds; r++) {
      for (const orderId of ORDER_IDS) {
        const k = this.keyOf(orderId, 0);
        k.published++;
        events.push({ orderId, seq: k.published, status: STATUSES[(k.published - 1) % STATUSES.length]! });
      }
    }
    const ids = await this.sf.publishMany(orderUpdates, events, { keys: events.map((e) => e.orderId) });
    // The partition is in each id (p<i>:…): the key's partition as publish computed it.
    ids.forEach((id, i) => { this.keys.get(events[i]!.orderId)!.partition = Number(/^p(\d+):/.exec(id)?.[1] ?? 0); });
    this.published += events.length;
    return { ids };
  }

  /** What the page shows. */
  async view(): Promise<OrdersView> {
    const partitionLengths = await Promise.all(Array.from({ length: ORDER_PARTITIONS }, (_, i) => this.sf.redis.xlen(partitionKeys(this.sf.prefix, orderUpdates.name, i).stream)));
    const keys = [...this.keys].sort(([a], [b]) => a.localeCompare(b)).map(([orderId, k]) => ({
      orderId, partition: k.partition, published: k.published, handled: [...k.handled], retries: k.retries,
      inOrder: k.handled.every((s, i) => s === i + 1), overlapped: k.overlapped,
    }));
    return {
      topic: orderUpdates.name, partitions: ORDER_PARTITIONS, group: ORDER_GROUP, ordering: 'key',
      published: this.published, handled: keys.reduce((n, k) => n + k.handled.length, 0), partitionLengths, keys,
    };
  }

  /** Close the consumers. */
  async close(graceMs: number): Promise<void> {
    await Promise.all(this.subs.splice(0).map((s) => s.close(graceMs)));
  }
}
