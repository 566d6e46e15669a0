/**
 * One lane's consumer inside a {@link LanedSubscription} (docs/priorities.md §5): an ordinary
 * {@link Subscription} on the lane's keys (reads, acks, retries, reclaim, leases, recovery, dead
 * letters unchanged) whose reads are driven by the shared slot pool instead of a fixed read-ahead:
 *
 * - **demand-driven reads**: the lane reads (and reclaims) only what it may hold: its entries
 *   waiting for a slot are at most the lane's allowance (`concurrency + 1` of the laned consumer),
 *   beyond the handlers it runs; each read's COUNT is what is left of that allowance;
 * - **what its reads found**: a read of the lane's stream that came back with every entry it asked
 *   for (full: the lane probably has more in Redis) or with fewer (the lane is drained for now)
 *   is told to the pool ({@link LaneSlots.expectMore}), which holds freed slots for a lane that
 *   probably has more until its next read arrives, instead of granting them to a lower lane.
 *
 * Reads are seen where the reader makes them: its non-blocking reads through `readOnce`, its
 * blocking reads on this subscription's own blocking connection (wrapped here, on this instance).
 */
import type { Topic } from '../topic';
import { Subscription, type SubscriptionSettings } from '../consumer/subscription';
import type { Handler, ResolvedSubscribeOptions } from '../consumer/options';
import type { RawEntry } from '../consumer/entry';

/** What a lane's subscription asks of the laned consumer that owns it. */
export interface LaneControl {
  /** Entries the lane may hold waiting for a slot (beyond its handlers with one). */
  allowance(): number;
  /** The lane's deliveries whose handlers got a slot and whose delivery has not settled. */
  slotted(): number;
  /** A read of the lane's stream asked for `asked` entries and got `got` (0: nothing, or it blocked and timed out). */
  read(asked: number, got: number): void;
}

/** See the file comment. @internal */
export class LaneSubscription<T = unknown> extends Subscription<T> {
  private control: LaneControl | undefined;

  constructor(topicDef: Topic<T>, group: string, handler: Handler<T>, options: ResolvedSubscribeOptions, settings: SubscriptionSettings, control: LaneControl) {
    super(topicDef, group, handler, options, settings);
    this.control = control;
    this.watchBlockingReads();
  }

  /** The lane's allowance grew (an entry of it got a slot): read again if the reader waits for room. */
  wake(): void {
    this.slotFreed();
  }

  /**
   * Room to read: the subscription's own free slots (its `concurrency` bounds what it holds), but
   * no more than the lane's allowance minus its deliveries that have no slot yet. Held entries
   * (delivered past this room by a read and a reclaim that met) are not counted: they start as
   * this room allows (runHeld), and the reader reads nothing while any is held; counted, they
   * would keep the room at 0 for good once they alone filled the allowance.
   */
  protected override free(): number {
    const own = super.free();
    const c = this.control;
    if (!c) return own;
    return Math.min(own, c.allowance() - (this.inFlight.size - c.slotted()));
  }

  protected override async readOnce(stream: string, count: number): Promise<RawEntry[]> {
    const got = await super.readOnce(stream, count);
    if (stream === this.keys.stream) this.control?.read(count, got.length);
    return got;
  }

  /**
   * Wrap this subscription's blocking connection's XREADGROUP (used only by its read loop) to see
   * what each read of the lane stream asked for and got. A reply without the lane stream (null:
   * the read blocked and timed out; or only the redelivery stream had entries) means it was empty.
   */
  private watchBlockingReads(): void {
    const conn = this.blocking as unknown as { xreadgroup: (...args: unknown[]) => Promise<unknown> };
    const original = conn.xreadgroup.bind(conn);
    const stream = this.keys.stream;
    conn.xreadgroup = (...args: unknown[]): Promise<unknown> => {
      const at = args.indexOf('COUNT');
      const asked = at >= 0 ? Number(args[at + 1]) : NaN;
      const streams = args.slice(args.indexOf('STREAMS') + 1);
      const reads = streams.slice(0, streams.length / 2).includes(stream);
      const reply = original(...args);
      if (!reads || !Number.isFinite(asked)) return reply;
      return reply.then((r) => {
        const rows = (r ?? []) as Array<[string, RawEntry[]]>;
        this.control?.read(asked, rows.find((x) => x[0] === stream)?.[1].length ?? 0);
        return r;
      });
    };
  }
}
