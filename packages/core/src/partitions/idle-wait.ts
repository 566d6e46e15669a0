/**
 * The idle wait of an ordered consumer's partitions (docs/partitions.md §5.4, "As built"):
 * every idle partition of the consumer waits in ONE blocking `XREAD … STREAMS <redeliver₁>
 * <stream₁> <redeliver₂> <stream₂> … <ids>` on one connection, instead of one blocking
 * connection per partition.
 *
 * - A partition that becomes idle while the read is blocked is added by waking the read with
 *   `CLIENT UNBLOCK <id>` (sent on the worker connection; several additions within 2 ms share
 *   one unblock) and reading again over the new set. The ids a partition waits from do not
 *   change while it waits, so an entry that arrived meanwhile is returned at once by the next read.
 * - A reply wakes the partitions whose streams it names; the others keep waiting. A partition is
 *   also woken once `blockMs` passed since it began to wait (its fenced read runs again, as
 *   before: about one read script per partition per `blockMs`).
 * - A partition that stops (given up, lease lost) just leaves the set. The connection stays open
 *   (opened at the first idle moment) until the subscription closes.
 * - On a Redis Cluster, Redis refuses a multi-key command over keys of different slots
 *   (CROSSSLOT), and each partition has its own hash tag, so its own slot: there one wait per
 *   partition (its own blocking connection) remains.
 */
import type Redis from 'ioredis';
import { isCluster } from '../connection';

/** What the idle wait needs from its subscription. */
export interface IdleWaitHost {
  /** The consumer's worker connection (sends CLIENT UNBLOCK). */
  readonly redis: Redis;
  /** Open a connection for the blocking read. */
  openBlocking(): Redis;
  readonly blockMs: number;
  report(err: unknown, context: string): void;
}

interface Waiter {
  streams: string[];
  ids: string[];
  since: number;
  resolve: () => void;
}

/** One blocking connection and the partitions waiting on it. */
interface Group {
  conn?: Redis;
  clientId?: number;
  waiters: Map<number, Waiter>;
  /** The read loop runs. */
  running: boolean;
  /** A read is blocked now. */
  inFlight: boolean;
  unblockTimer?: NodeJS.Timeout;
  unblockSent: boolean;
}

/** See the file comment. */
export class IdleWait {
  private readonly groups = new Map<string, Group>();
  private closed = false;
  private readonly cluster: boolean;

  constructor(private readonly host: IdleWaitHost) {
    this.cluster = isCluster(host.redis);
  }

  /** Blocking connections open now (for tests and stats). */
  get connections(): number {
    let n = 0;
    for (const g of this.groups.values()) if (g.conn) n++;
    return n;
  }

  /**
   * Wait until an entry newer than `ids[i]` arrives in `streams[i]` (any of them), `blockMs`
   * passes, or the partition leaves ({@link leave}). Never rejects: a failed read is reported and
   * the partition is woken after a second.
   */
  wait(partition: number, streams: string[], ids: string[]): Promise<void> {
    if (this.closed) return Promise.resolve();
    const key = this.cluster ? `p${partition}` : '';
    let g = this.groups.get(key);
    if (!g) {
      g = { waiters: new Map(), running: false, inFlight: false, unblockSent: false };
      this.groups.set(key, g);
    }
    const group = g;
    return new Promise<void>((resolve) => {
      group.waiters.get(partition)?.resolve();
      group.waiters.set(partition, { streams, ids, since: performance.now(), resolve });
      if (!group.running) void this.run(key, group);
      else if (group.inFlight) this.scheduleUnblock(group);
    });
  }

  /** Partition `p` stops waiting (its wait resolves now). */
  leave(partition: number): void {
    for (const [key, g] of this.groups) {
      const w = g.waiters.get(partition);
      if (!w) continue;
      g.waiters.delete(partition);
      w.resolve();
      // On a cluster a wait serves one partition: a partition given up closes its connection.
      if (this.cluster && g.waiters.size === 0) this.closeGroup(key, g);
    }
  }

  /** Close every connection; every wait resolves. */
  close(): void {
    this.closed = true;
    for (const [key, g] of this.groups) {
      for (const w of g.waiters.values()) w.resolve();
      g.waiters.clear();
      this.closeGroup(key, g);
    }
  }

  private closeGroup(key: string, g: Group): void {
    if (g.unblockTimer) clearTimeout(g.unblockTimer);
    g.unblockTimer = undefined;
    const c = g.conn;
    g.conn = undefined;
    g.clientId = undefined;
    c?.disconnect();
    if (this.groups.get(key) === g && !g.running) this.groups.delete(key);
  }

  /** Wake the blocked read so it reads again over the new set (one unblock per burst of additions). */
  private scheduleUnblock(g: Group): void {
    if (g.unblockTimer || g.unblockSent || g.clientId === undefined) return;
    g.unblockTimer = setTimeout(() => {
      g.unblockTimer = undefined;
      if (!g.inFlight || g.unblockSent || g.clientId === undefined) return;
      g.unblockSent = true;
      this.host.redis.client('UNBLOCK', g.clientId).catch((err: unknown) => this.host.report(err, 'wake the idle wait'));
    }, 2);
  }

  private async run(key: string, g: Group): Promise<void> {
    g.running = true;
    try {
      while (!this.closed && g.waiters.size > 0) {
        const list = [...g.waiters];
        const now = performance.now();
        const blockMs = this.host.blockMs;
        // Block until the soonest waiter's blockMs is over (at least 1 ms: BLOCK 0 is forever).
        const remaining = Math.max(1, Math.ceil(Math.min(...list.map(([, w]) => w.since + blockMs - now))));
        let reply: Array<[string, unknown]> | null = null;
        let used: Redis | undefined;
        try {
          if (!g.conn) {
            const conn = this.host.openBlocking();
            conn.on('error', () => { /* the read reports its own failure */ });
            // A reconnect would give the connection a new id (CLIENT UNBLOCK would miss it): drop
            // it instead; the read fails and runs again on a new connection.
            conn.on('close', () => {
              if (g.conn !== conn) return;
              g.conn = undefined;
              g.clientId = undefined;
              conn.disconnect();
            });
            g.conn = conn;
            // CLIENT UNBLOCK needs the connection's id (one server only: on a cluster each wait has one partition).
            if (!this.cluster) g.clientId = Number(await conn.client('ID'));
          }
          const conn = g.conn;
          if (!conn) continue;
          used = conn;
          g.unblockSent = false;
          g.inFlight = true;
          if (g.waiters.size > list.length || [...g.waiters].some(([p, w], i) => list[i]?.[0] !== p || list[i]?.[1] !== w)) {
            // the set changed while the connection opened
            g.inFlight = false;
            continue;
          }
          reply = await conn.xread('COUNT', 1, 'BLOCK', remaining, 'STREAMS', ...list.flatMap(([, w]) => w.streams), ...list.flatMap(([, w]) => w.ids)) as Array<[string, unknown]> | null;
        } catch (err) {
          g.inFlight = false;
          if (this.closed || g.waiters.size === 0) break;
          // Its connection was closed when every partition had left, and one came back since: read again on a new one.
          if (used !== undefined && g.conn !== used) { await new Promise((r) => setTimeout(r, 50)); continue; }
          this.host.report(err, `wait for new entries of partition${list.length > 1 ? 's' : ''} ${list.map(([p]) => p).join(', ')}`);
          await new Promise((r) => setTimeout(r, 1000));
          for (const [p, w] of list) if (g.waiters.get(p) === w) { g.waiters.delete(p); w.resolve(); }
          continue;
        }
        g.inFlight = false;
        const hit = new Set((reply ?? []).map(([s]) => s));
        const end = performance.now();
        for (const [p, w] of list) {
          if (g.waiters.get(p) !== w) continue;
          if (w.streams.some((s) => hit.has(s)) || end - w.since >= blockMs - 1) {
            g.waiters.delete(p);
            w.resolve();
          }
        }
      }
    } finally {
      g.running = false;
      g.inFlight = false;
      if (this.closed) this.closeGroup(key, g);
      else if (g.waiters.size > 0) void this.run(key, g);
    }
  }
}
