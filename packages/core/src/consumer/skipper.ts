/**
 * `skipOlderThanMs` (issue 16's answer to LIFO, README "FIFO, priority, and why no LIFO"): a
 * delivery whose event is older than the bound when it is read is acknowledged without running
 * the handler, and recorded `skipped` in the group (script skipEntries, docs/PROTOCOL.md §6.10).
 *
 * The age is judged on the Redis server's clock (event ids are its ms): the client's clock plus
 * the offset measured with TIME ({@link ServerClock}). Deliveries judged stale in one tick (one
 * read's entries are dispatched in one synchronous loop) are skipped in one script call per stream;
 * each skip is a record of a few bytes in its group's success bucket (protocol 2, §5.2).
 */
import type Redis from 'ioredis';
import type { AckTarget } from './ack-batcher';
import { runScript } from '../scripts/runner';
import { FIELD } from '../publisher';
import { BUCKET_MS, recordToken } from '../status-records';
import type { RawEntry } from './entry';

/**
 * The Redis server's clock, estimated from the local one and an offset measured with TIME: at
 * {@link sync}, and again in the background when {@link now} finds the last measure older than a
 * minute (local clocks drift). A failed measure keeps the last offset.
 */
export class ServerClock {
  private offsetMs = 0;
  private syncedAt = -Infinity;
  private syncing = false;

  constructor(private readonly redis: Redis) {}

  /** Measure the offset: TIME, taking the local time halfway through the round trip. */
  async sync(): Promise<void> {
    this.syncing = true;
    try {
      const before = Date.now();
      const [sec, usec] = (await this.redis.time()) as unknown as [string | number, string | number];
      const after = Date.now();
      this.offsetMs = Number(sec) * 1000 + Math.floor(Number(usec) / 1000) - (before + after) / 2;
      this.syncedAt = after;
    } finally {
      this.syncing = false;
    }
  }

  /** The server's time now (ms), as estimated. */
  now(): number {
    const local = Date.now();
    if (!this.syncing && local - this.syncedAt > 60_000) this.sync().catch(() => undefined);
    return local + this.offsetMs;
  }
}

/**
 * The event id of a raw delivery: the entry id for a topic entry; a copy's (retry, replay) `orig`
 * when it is a stream id. Undefined for a deleted entry (its fields are gone): it is not judged here.
 */
export function eventIdOf(raw: RawEntry, fromRedelivery: boolean): { eventId: string; base: number } | undefined {
  const flat = raw[1];
  if (!flat) return undefined;
  if (!fromRedelivery) return { eventId: raw[0], base: 0 };
  let orig: string | undefined;
  let base: string | undefined;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    if (flat[i] === FIELD.orig) orig = flat[i + 1];
    else if (flat[i] === FIELD.base) base = flat[i + 1];
  }
  const b = Number(base ?? '0');
  return { eventId: orig !== undefined && /^\d+-\d+$/.test(orig) ? orig : raw[0], base: Number.isInteger(b) && b >= 0 ? b : 0 };
}

/** One delivery to skip. */
export interface SkipItem {
  entryId: string;
  eventId: string;
  base: number;
  /**
   * Deliveries of the entry when this consumer was handed it (1 when read; the pending count when
   * reclaimed): the record's attempts are base + deliveries − 1, and a resend is told from another
   * consumer's skip (a reclaim counted a delivery more) by them.
   */
  deliveries: number;
}

/** What a {@link Skipper} needs from its subscription: what the ack batcher needs to settle, and where to tell skips. */
export interface SkipperHost extends Pick<AckTarget, 'worker' | 'keys' | 'group' | 'consumer' | 'statusTtlSeconds' | 'trackStatus' | 'publishMode' | 'stale'> {
  /** Entries skipped (event ids). */
  skipped(eventIds: string[]): void;
  /** Run a background task (errors reported). */
  track(p: Promise<unknown>): void;
}

/** Most entries per skipEntries call. */
const CHUNK = 500;

/** Collects the deliveries of one tick judged stale and skips them, one script call per stream (and 500 entries). */
export class Skipper {
  private pending = new Map<string, SkipItem[]>();
  private scheduled = false;
  /** `<stream> <entry id>` of the entries queued or being skipped: a second delivery of one meanwhile (an orphan run after a reconnect) is dropped. */
  private readonly busy = new Set<string>();

  constructor(private readonly host: SkipperHost) {}

  /** Skip this delivery with the others of this tick. */
  add(stream: string, item: SkipItem): void {
    const key = `${stream} ${item.entryId}`;
    if (this.busy.has(key)) return;
    this.busy.add(key);
    let list = this.pending.get(stream);
    if (!list) this.pending.set(stream, (list = []));
    list.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    const batches = this.pending;
    this.pending = new Map();
    for (const [stream, items] of batches) {
      for (let i = 0; i < items.length; i += CHUNK) {
        const chunk = items.slice(i, i + CHUNK);
        this.host.track(this.skip(stream, chunk).finally(() => { for (const it of chunk) this.busy.delete(`${stream} ${it.entryId}`); }));
      }
    }
  }

  /** One skipEntries call: the entries' records go to their events' success buckets (one per second of event ids). */
  async skip(stream: string, items: SkipItem[]): Promise<void> {
    const h = this.host;
    const seconds = new Map<number, number>();
    const perEntry: Array<string | number> = [];
    for (const it of items) {
      const { second, token } = recordToken(it.eventId);
      let b = seconds.get(second);
      if (b === undefined) seconds.set(second, (b = seconds.size + 1));
      perEntry.push(it.entryId, it.eventId, it.base, b, token, Math.max(1, it.deliveries));
    }
    const keys = [stream, h.keys.waiters, ...[...seconds.keys()].map((sec) => h.keys.ok(h.group, sec)), ...items.map((it) => h.keys.status(it.eventId))];
    const args: Array<string | number> = [h.group, h.consumer, h.statusTtlSeconds, h.keys.done, h.trackStatus ? '1' : '0', h.publishMode(),
      seconds.size, ...[...seconds.keys()].map((sec) => sec * BUCKET_MS), ...perEntry];
    const [skipped, refused] = await runScript<[string[], string[]]>(h.worker, 'skipEntries', keys, args);
    const eventOf = new Map(items.map((it) => [it.entryId, it.eventId]));
    if (skipped.length > 0) h.skipped(skipped.map((id) => eventOf.get(id) ?? id));
    if (refused.length > 0) h.stale(refused.map((id) => eventOf.get(id) ?? id));
  }
}
