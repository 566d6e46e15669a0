import { Streamfan, laneKeys, type EventDetails, type GroupInfo, type TrimReport } from '@streamfan/core/internal';
import { Activity } from './activity';
import { DEFAULT_PRIORITY, DEFAULT_SETTINGS, DEMO_VISIBILITY_TIMEOUT_MS, GROUPS, PRIORITIES, signups, type GroupName, type GroupSettings, type Priority, type SignupKind } from './config';
import { fakeSignup } from './simulation';
import { GroupPool } from './worker-pool';
import { OrdersDemo } from './orders';
import type { DeadLetterView, EventRow, EventView, GroupView, PendingView, Snapshot } from './snapshot';
import { NotFound, Conflict } from './http/errors';

/** Options of a {@link Demo}. */
export interface DemoOptions {
  /** Redis URL. */
  connection: string;
  /** Every key the demo writes starts with this; the demo clears them on start and reset. @defaultValue 'sfdemo' */
  prefix?: string;
  /** @defaultValue 3000 */
  visibilityTimeoutMs?: number;
  /** Starting knobs per group. @defaultValue {@link DEFAULT_SETTINGS} */
  settings?: Partial<Record<GroupName, Partial<GroupSettings>>>;
}

/** What the demo remembers of a publish: an events-table row without its per-group states. */
type Published = Omit<EventRow, 'groups'>;

const RECENT = 200;
const TABLE_ROWS = 25;
const PANEL_ROWS = 15;

/**
 * The demo's model: one Streamfan client, the `user.signup` topic and three groups with
 * their worker pools, plus what the page shows. Uses only the public API of @streamfan/core.
 */
export class Demo {
  readonly prefix: string;
  readonly visibilityTimeoutMs: number;
  readonly activity = new Activity();
  private sf: Streamfan | undefined;
  private pools = new Map<GroupName, GroupPool>();
  /** The partitioned topic `order.updated` and its ordered group `shipping`. */
  private orders: OrdersDemo | undefined;
  private recent: Published[] = [];
  private readonly bySignup = new Map<string, Published>();
  private seq = 0;
  private published = 0;
  private busy: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly options: DemoOptions) {
    this.prefix = options.prefix ?? 'sfdemo';
    this.visibilityTimeoutMs = options.visibilityTimeoutMs ?? DEMO_VISIBILITY_TIMEOUT_MS;
  }

  /** Connect, clear the demo's keys and start every group's workers. */
  async start(): Promise<void> {
    await this.exclusive(() => this.boot(this.options.settings ?? {}));
  }

  private client(): Streamfan {
    if (!this.sf) throw new Conflict('the demo is not running (starting, resetting or closed)');
    return this.sf;
  }

  private pool(name: GroupName): GroupPool {
    const p = this.pools.get(name);
    if (!p) throw new NotFound(`no group "${name}"`);
    return p;
  }

  /** Run `fn` alone: start and reset must not interleave with other calls. */
  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.busy) await this.busy;
    let done!: () => void;
    this.busy = new Promise<void>((r) => { done = r; });
    try {
      return await fn();
    } finally {
      this.busy = undefined;
      done();
    }
  }

  /** Wait while a start or reset runs. */
  private async settled(): Promise<void> {
    while (this.busy) await this.busy;
    if (this.closed) throw new Conflict('the demo is shutting down');
  }

  private async boot(settings: Partial<Record<GroupName, Partial<GroupSettings>>>): Promise<void> {
    const sf = new Streamfan({ connection: this.options.connection, prefix: this.prefix, retention: false, statusTtlSeconds: 3600 });
    sf.on('error', (err) => this.activity.add('error', err.message, null, 'client-error'));
    try {
      const hint = `cannot reach Redis at ${sf.url}: check REDIS_URL, or unset it to let the demo start its own redis-server`;
      await withTimeout(sf.redis.ping(), 5000, hint).catch((err: Error) => {
        throw err.message === hint ? err : new Error(`${hint} (${err.message})`);
      });
      await this.clearKeys(sf);
    } catch (err) {
      await sf.close();
      throw err;
    }
    this.sf = sf;
    for (const g of GROUPS) {
      const pool = new GroupPool(g, { ...DEFAULT_SETTINGS[g], ...settings[g] }, {
        sf, activity: this.activity, visibilityTimeoutMs: this.visibilityTimeoutMs,
        onSeen: (signupId, eventId) => this.seen(signupId, eventId),
      });
      this.pools.set(g, pool);
    }
    this.orders = new OrdersDemo(sf);
    await Promise.all([...[...this.pools.values()].map((p) => p.start()), this.orders.start()]);
  }

  /** Delete every key under the demo's prefix (SCAN + UNLINK, never KEYS). */
  private async clearKeys(sf: Streamfan): Promise<number> {
    let cursor = '0';
    let n = 0;
    do {
      const [next, keys] = await sf.redis.scan(cursor, 'MATCH', `${this.prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) n += await sf.redis.unlink(...keys);
    } while (cursor !== '0');
    return n;
  }

  private seen(signupId: string, eventId: string): void {
    const p = this.bySignup.get(signupId);
    if (p && p.eventId === null) p.eventId = eventId;
  }

  /** Publish `count` signups of one kind in one batch to one priority lane, now or after `delaySeconds`. */
  async publish(count: number, kind: SignupKind, delaySeconds = 0, priority: Priority = DEFAULT_PRIORITY): Promise<{ ids: string[]; delayed: boolean }> {
    await this.settled();
    const sf = this.client();
    const payloads = Array.from({ length: count }, () => fakeSignup(++this.seq, kind));
    const ids = await sf.publishMany(signups, payloads, { priority, ...(delaySeconds > 0 ? { delayMs: delaySeconds * 1000 } : {}) });
    const now = Date.now();
    payloads.forEach((p, i) => {
      const id = ids[i]!;
      const delayed = delaySeconds > 0;
      const row: Published = { signupId: p.signupId, kind, priority, publishedAt: now, eventId: delayed ? null : id, delayedId: delayed ? id : null, dueAt: delayed ? now + delaySeconds * 1000 : null };
      this.recent.push(row);
      this.bySignup.set(p.signupId, row);
    });
    for (const old of this.recent.splice(0, Math.max(0, this.recent.length - RECENT))) this.bySignup.delete(old.signupId);
    this.published += count;
    this.activity.add('publish', `published ${count} ${kind} signup${count === 1 ? '' : 's'} to the ${priority} lane${delaySeconds > 0 ? `, due in ${delaySeconds} s` : ''} (one XADD each, ${GROUPS.length} groups read each)`);
    return { ids, delayed: delaySeconds > 0 };
  }

  /**
   * Publish `rounds` updates to each demo order on the partitioned topic `order.updated` (keyed
   * by order id, so each order stays in one partition and the `shipping` group handles its
   * updates in publish order).
   */
  async publishOrders(rounds: number): Promise<{ ids: string[] }> {
    await this.settled();
    this.client();
    const orders = this.orders;
    if (!orders) throw new Conflict('the demo is not running (starting, resetting or closed)');
    const r = await orders.publish(rounds);
    this.activity.add('publish', `published ${r.ids.length} order update${r.ids.length === 1 ? '' : 's'} to order.updated (keyed by order id: each order in one partition, handled in order by shipping)`);
    return r;
  }

  /** Change a group's knobs (validated by the caller). */
  async updateGroup(name: GroupName, patch: Partial<GroupSettings>): Promise<GroupSettings> {
    await this.settled();
    const pool = this.pool(name);
    await pool.update(patch);
    return { ...pool.settings };
  }

  /** Crash the next `n` deliveries of a group. */
  async crashNext(name: GroupName, n: number): Promise<number> {
    await this.settled();
    const pool = this.pool(name);
    pool.crash(n);
    return pool.crashNext;
  }

  /** A page of a group's pending entries (both streams), with whether each owner is alive. */
  async pending(name: GroupName, limit = PANEL_ROWS): Promise<PendingView[]> {
    await this.settled();
    const pool = this.pool(name);
    const page = await this.client().pendingPage(signups, name, { limit }); // every lane, lane ids
    const live = pool.liveConsumers();
    const crashed = pool.crashedConsumers();
    return page.entries.map((e) => ({
      id: e.id, eventId: e.eventId, consumer: e.consumer, idleMs: e.idleMs, deliveries: e.deliveries, source: e.source,
      owner: live.has(e.consumer) ? 'live' : crashed.has(e.consumer) ? 'crashed' : 'gone',
      reclaimInMs: Math.max(0, this.visibilityTimeoutMs - e.idleMs),
    }));
  }

  /**
   * Reclaim now: mark pending entries as expired (XCLAIM … IDLE, owner and delivery count
   * unchanged), so the next reclaim sweep of any live worker (within a second) takes them
   * with XAUTOCLAIM, the same path as the automatic reclaim without waiting for the
   * visibility timeout. Without `ids`: every entry held by a crashed or vanished worker.
   * Reclaiming an entry a live worker still runs shows ownership: that worker's ack is refused.
   */
  async reclaim(name: GroupName, ids?: string[]): Promise<{ reclaimed: string[] }> {
    await this.settled();
    const sf = this.client();
    const pool = this.pool(name);
    const all = (await sf.pendingPage(signups, name, { limit: 1000 })).entries;
    let chosen: typeof all;
    if (ids) {
      const known = new Set(all.map((e) => e.id));
      const missing = ids.filter((id) => !known.has(id));
      if (missing.length > 0) throw new NotFound(`not pending in group "${name}": ${missing.join(', ')} (finished meanwhile, or never delivered)`);
      chosen = all.filter((e) => ids.includes(e.id));
    } else {
      const live = pool.liveConsumers();
      chosen = all.filter((e) => !live.has(e.consumer));
    }
    for (const e of chosen) {
      // A priority lane's entry (`high:1700000000000-0`) lives in that lane's streams.
      const { lane, entry } = splitLane(e.id);
      const keys = laneKeys(sf.prefix, signups.name, lane, DEFAULT_PRIORITY);
      const stream = e.source === 'topic' ? keys.stream : keys.redeliver(name);
      await sf.redis.xclaim(stream, name, e.consumer, 0, entry, 'IDLE', 86_400_000, 'JUSTID');
    }
    if (chosen.length > 0) this.activity.add('reclaim', `${name}: ${chosen.length} entr${chosen.length === 1 ? 'y' : 'ies'} released for reclaim now (${chosen.map((e) => `${e.eventId} from ${e.consumer}`).slice(0, 3).join(', ')}${chosen.length > 3 ? ', …' : ''})`, name);
    return { reclaimed: chosen.map((e) => e.id) };
  }

  /** Oldest dead letters of a group. */
  async deadLetters(name: GroupName, count = PANEL_ROWS): Promise<DeadLetterView[]> {
    await this.settled();
    this.pool(name);
    const rows = await this.client().deadLetters(signups, name).list({ count });
    return rows.map((d) => ({
      deadLetterId: d.deadLetterId, id: d.id, attempts: d.attempts, error: d.error, reason: d.reason,
      consumer: d.consumer, deadAt: d.deadAt.getTime(), signupId: d.payload?.signupId ?? null, plan: d.payload?.plan ?? null,
    }));
  }

  /** Replay dead letters (all, or the given dead-letter ids) to their group only. */
  async replay(name: GroupName, ids?: string[]): Promise<number> {
    await this.settled();
    this.pool(name);
    const n = await this.client().deadLetters(signups, name).replay(ids ? { ids } : { all: true });
    this.activity.add('replay', `${name}: replayed ${n} dead letter${n === 1 ? '' : 's'} to ${name} only (the other groups are untouched)`, name);
    return n;
  }

  /** Delete dead letters (all, or the given dead-letter ids). */
  async purge(name: GroupName, ids?: string[]): Promise<number> {
    await this.settled();
    this.pool(name);
    const n = await this.client().deadLetters(signups, name).purge(ids ? { ids } : { all: true });
    this.activity.add('purge', `${name}: purged ${n} dead letter${n === 1 ? '' : 's'}`, name);
    return n;
  }

  /** One event: payload and its status in every group; plus whether a crashed worker holds it. */
  async event(id: string): Promise<EventView> {
    await this.settled();
    const d: EventDetails = await this.client().show(signups, id); // lane ids too
    const crashed = new Set<string>();
    for (const p of this.pools.values()) for (const c of p.crashedConsumers()) crashed.add(c);
    const groups: EventView['groups'] = {};
    for (const [g, s] of Object.entries(d.groups)) {
      groups[g] = {
        state: s.state, attempts: s.attempts, result: s.result ?? null, error: s.error ?? null, consumer: s.consumer ?? null,
        updatedAt: s.updatedAt?.getTime() ?? null, finishedAt: s.finishedAt?.getTime() ?? null, nextAttemptAt: s.nextAttemptAt?.getTime() ?? null,
        deadLetterId: s.deadLetterId ?? null, deliveries: s.deliveries ?? null, idleMs: s.idleMs ?? null,
        heldByCrashedWorker: s.state === 'processing' && s.consumer !== undefined && crashed.has(s.consumer),
      };
    }
    return {
      id: d.id, publishedAt: d.publishedAt?.getTime() ?? null, inStream: d.inStream, payloadFrom: d.payloadFrom,
      payload: d.payload, headers: d.headers, dueAt: d.dueAt?.getTime() ?? null, groups,
    };
  }

  /** Trim what every group has acknowledged (never undelivered work). */
  async trim(): Promise<TrimReport> {
    await this.settled();
    const r = await this.client().trim(signups, { approximate: false });
    this.activity.add('trim', `trimmed ${r.removed} entr${r.removed === 1 ? 'y' : 'ies'} every group had acknowledged (+${r.redeliveryRemoved} from redelivery streams); ${r.length} left`);
    return r;
  }

  /** Stop everything, delete the demo's keys, restore the default knobs and start again. */
  async reset(): Promise<void> {
    await this.exclusive(async () => {
      if (this.closed) throw new Conflict('the demo is shutting down');
      await this.shutdownClient(0);
      this.recent = [];
      this.bySignup.clear();
      this.published = 0;
      this.seq = 0;
      this.activity.clear();
      await this.boot({});
      this.activity.add('reset', 'reset: streams, status, dead letters and counters cleared; default settings restored');
    });
  }

  private async shutdownClient(graceMs: number): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools = new Map();
    const orders = this.orders;
    this.orders = undefined;
    await Promise.all([...pools.map((p) => p.close(graceMs)), orders?.close(graceMs)]);
    const sf = this.sf;
    this.sf = undefined;
    await sf?.close();
  }

  /** Everything the page shows, read from Redis (groups, pending, dead letters, statuses) and the pools. */
  async snapshot(): Promise<Snapshot> {
    await this.settled();
    const sf = this.client();
    // Each lane has its own stream and delayed set (docs/priorities.md §2).
    const lanes = PRIORITIES.map((lane) => laneKeys(sf.prefix, signups.name, lane, DEFAULT_PRIORITY));
    const [infos, laneLengths, delayed, events, panels, orders] = await Promise.all([
      sf.groups(signups),
      Promise.all(lanes.map((k) => sf.redis.xlen(k.stream))),
      Promise.all(lanes.map((k) => sf.redis.zcard(k.delayed))).then((n) => n.reduce((a, b) => a + b, 0)),
      this.eventRows(sf),
      Promise.all(GROUPS.map(async (g) => [await this.pending(g), await this.deadLetters(g)] as const)),
      this.orders ? this.orders.view() : Promise.resolve(null),
    ]);
    const byName = new Map<string, GroupInfo>(infos.map((i) => [i.group, i]));
    const groups: GroupView[] = GROUPS.map((g, i) => {
      const pool = this.pool(g);
      const info = byName.get(g);
      const c = pool.counts();
      return {
        name: g, description: pool.description, settings: { ...pool.settings }, crashNext: pool.crashNext,
        stats: {
          processed: c.processed, redeliveries: c.redeliveries, retries: c.retries, deadLettered: c.deadLettered, reclaimed: c.reclaimed, crashes: c.crashes,
          takeovers: c.takeovers, stale: c.stale, errors: c.errors,
          lag: info?.lag ?? null, pending: info?.pending ?? 0, consumers: info?.consumers ?? 0, retrying: info?.retrying ?? 0,
          deadLetters: info?.deadLetters ?? 0, oldestPendingIdleMs: info?.oldestPendingIdleMs ?? null,
          lanes: PRIORITIES.map((lane) => {
            const l = info?.lanes?.find((x) => x.lane === lane);
            return { lane, lag: l ? l.lag : null, pending: l?.pending ?? 0, backlog: l && l.lag !== null ? l.lag + l.pending : null };
          }),
          throughput: Math.round(pool.throughput.rate() * 10) / 10,
        },
        series: pool.throughput.series(60),
        workers: pool.workers(),
        pending: panels[i]![0],
        deadLetters: panels[i]![1],
      };
    });
    return {
      at: Date.now(), prefix: this.prefix, topic: signups.name, redis: sf.url, visibilityTimeoutMs: this.visibilityTimeoutMs,
      totals: {
        published: this.published, streamLength: laneLengths.reduce((a, n) => a + n, 0), delayed,
        lanes: PRIORITIES.map((lane, i) => ({ lane, length: laneLengths[i]! })),
      },
      groups, events, activity: this.activity.list(), orders,
    };
  }

  private async eventRows(sf: Streamfan): Promise<EventRow[]> {
    const rows = this.recent.slice(-TABLE_ROWS).reverse();
    return Promise.all(rows.map(async (r) => {
      const states: EventRow['groups'] = {};
      if (r.eventId) {
        const s = await sf.status(signups, r.eventId);
        for (const [g, gs] of Object.entries(s.groups)) states[g] = { state: gs.state, attempts: gs.attempts };
      } else {
        for (const g of GROUPS) states[g] = { state: 'scheduled', attempts: 0 };
      }
      return { signupId: r.signupId, kind: r.kind, priority: r.priority, publishedAt: r.publishedAt, eventId: r.eventId, delayedId: r.delayedId, dueAt: r.dueAt, groups: states };
    }));
  }

  /** Stop the workers (graceful, `graceMs`) and close the client; the keys stay for inspection. */
  async close(graceMs = 1000): Promise<void> {
    if (this.closed) return;
    await this.exclusive(async () => {
      this.closed = true;
      await this.shutdownClient(graceMs);
    });
  }
}

/** `high:1700000000000-0` → lane high, entry 1700000000000-0; a plain id is the default lane's. */
function splitLane(id: string): { lane: Priority; entry: string } {
  const cut = id.indexOf(':');
  const lane = id.slice(0, cut);
  return cut > 0 && (PRIORITIES as readonly string[]).includes(lane) ? { lane: lane as Priority, entry: id.slice(cut + 1) } : { lane: DEFAULT_PRIORITY, entry: id };
}

async function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}
