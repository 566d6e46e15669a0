import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import { topicKeys } from './keys';

/**
 * How long a producer's hash of unanswered calls lives after its last publish. A resend by
 * ioredis comes within a few reconnect attempts of the drop (seconds); a resend later than
 * this after the last publish of the client would not be recognised.
 */
export const PRODUCER_TTL_MS = 600_000;

/** Answered call numbers sent with one publish call (the rest go with the next, or the idle flush). */
const FORGET_PER_CALL = 1000;
/** After a burst, the answered numbers no publish carried are deleted this long after the last answer. */
const IDLE_FLUSH_MS = 250;

/**
 * The publishing side of "one publish call, at most one entry". Every publish call of a client
 * gets a number; the publish script records the ids it wrote under that number in the
 * producer's hash (one per client and topic), so a resend of the same call returns them and
 * writes nothing. Numbers whose reply came back are sent with the next call (or an idle flush)
 * to be deleted, so the hash holds only calls in flight: memory is bounded by the client's
 * concurrency, not by its publish rate.
 */
export class ProducerLedger {
  /** Random per client: two clients never share call numbers. */
  readonly id = randomBytes(9).toString('base64url');
  private seq = 0;
  private readonly answered = new Map<string, string[]>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly redis: Redis, readonly prefix: string) {}

  /** A new call number. */
  next(): string {
    this.seq += 1;
    return this.seq.toString(36);
  }

  /** Answered numbers of `topic` to forget with the next call (removed from the queue). */
  take(topic: string): string[] {
    const list = this.answered.get(topic);
    if (!list || list.length === 0) return [];
    const out = list.splice(0, FORGET_PER_CALL);
    if (list.length === 0) this.answered.delete(topic);
    return out;
  }

  /** Give back numbers that were taken by a call that failed without an answer. */
  giveBack(topic: string, calls: string[]): void {
    if (calls.length === 0) return;
    const list = this.answered.get(topic) ?? [];
    list.push(...calls);
    this.answered.set(topic, list);
    this.scheduleFlush();
  }

  /** Redis answered this call (with ids or with an error): no resend can follow. */
  done(topic: string, call: string): void {
    const list = this.answered.get(topic) ?? [];
    list.push(call);
    this.answered.set(topic, list);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.timer) this.timer.refresh();
    else {
      this.timer = setTimeout(() => { this.timer = undefined; void this.flush(); }, IDLE_FLUSH_MS);
      this.timer.unref();
    }
  }

  /** Delete every answered number not yet carried by a publish (one HDEL per topic). */
  async flush(): Promise<void> {
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
    const work = [...this.answered.entries()];
    this.answered.clear();
    await Promise.all(work.map(async ([topic, calls]) => {
      const key = topicKeys(this.prefix, topic).producer(this.id);
      for (let i = 0; i < calls.length; i += FORGET_PER_CALL) {
        // Best effort: the hash expires anyway (PRODUCER_TTL_MS).
        await this.redis.hdel(key, ...calls.slice(i, i + FORGET_PER_CALL)).catch(() => undefined);
      }
    }));
  }

  /** Stop the idle flush timer (close). */
  stop(): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
  }
}
