/**
 * The partition keeper of one consumer in one group (docs/partitions.md §5.3): it heartbeats
 * in the group's member set, renews its leases, and every `leaseMs / 3` gives up its surplus
 * and takes free partitions up to its quota. With `notices`, it also runs that round at once
 * when another keeper of the group says it released partitions or joined (a rebalance notice),
 * and says so itself. It knows nothing about reading or handling:
 * the subscription asks it which partitions (and tokens) it owns, tells it which partitions
 * are busy, and drains a partition when asked to before it is given up.
 * Used by PartitionedSubscription (partitioned-subscription.ts).
 */
import { randomBytes } from 'node:crypto';
import EventEmitter from 'eventemitter3';
import type Redis from 'ioredis';
import { InvalidOptionError } from '../errors';
import { monotonicMs } from '../timing';
import { acquireLease, heartbeat, leaveGroup, ownerId, readLeases, rebalanceChannel, releaseLease, renewLease } from './leases';
import { partitionKeys, topicMetaKeys, validatePartitionCount, type PartitionKeys } from './partitionKeys';
import { planShares } from './quotas';
import { sendRebalance } from './rebalance-notice';

/** Events of a {@link PartitionKeeper}. */
export interface KeeperEvents {
  /** This consumer now owns `partition` with fencing token `token`. */
  assigned: (e: { partition: number; token: number }) => void;
  /** This consumer no longer owns `partition`: given up (rebalance, close), or lost (taken over, or not renewed in time). */
  revoked: (e: { partition: number; token: number; reason: 'rebalance' | 'close' | 'lost' }) => void;
  /** A tick failed (Redis unreachable...); the keeper goes on ticking. */
  error: (err: unknown) => void;
}

/** Options of a {@link PartitionKeeper}. */
export interface KeeperOptions {
  redis: Redis;
  prefix: string;
  topic: string;
  group: string;
  partitions: number;
  consumer: string;
  /** Random per process by default; a restarted process is a new owner. */
  incarnation?: string;
  /** Lease length; the keeper ticks every third of it. @defaultValue 10000 */
  leaseMs?: number;
  /** The group's ordering, kept in each lease it takes (hand repairs read it). */
  ordering?: 'key' | 'none';
  /** Partitions with handlers running: given up last. */
  busy?: () => ReadonlySet<number>;
  /** Called before a partition is given up (rebalance or close): stop reading it and let its handlers settle. */
  drain?: (partition: number) => Promise<void>;
  /**
   * Rebalance notices on the group's channel ({@link rebalanceChannel}). The keeper sends one
   * (PUBLISH, or SPUBLISH in mode `S`) after it released partitions (a rebalance, or close after
   * leaving the member set) and after a first round that left it below its quota (a join), and
   * runs a round at once when another keeper's notice comes. A notice only wakes: one lost (or
   * `listen` failing) costs at most a tick. Without this, changes are seen at the next tick.
   */
  notices?: KeeperNotices;
}

/** How a {@link PartitionKeeper} sends and hears rebalance notices (see {@link KeeperOptions.notices}). */
export interface KeeperNotices {
  /** `P` (PUBLISH) or `S` (SPUBLISH), as the completion notices (notice.ts); read at {@link PartitionKeeper.start}. */
  mode: () => 'P' | 'S';
  /** Listen to `channel`: `subscribed` resolves once the subscribe is in effect (rejects when refused); `stop` stops at once. */
  listen: (channel: string, mode: 'P' | 'S', onNotice: (message: string) => void) => { subscribed: Promise<void>; stop(): void };
}

/** Keeps one consumer's share of a group's partitions. */
export class PartitionKeeper extends EventEmitter<KeeperEvents> {
  readonly owner: string;
  readonly leaseMs: number;
  private readonly keys: PartitionKeys[];
  private readonly owned = new Map<number, { token: number; renewedAt: number }>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closed = false;
  /** Partitions being drained before their release (rebalance). */
  private readonly releasing = new Map<number, Promise<void>>();
  /** Short re-ticks left while below quota (see {@link round}). */
  private retries = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  /** A notice came while a round ran: run another one after it (it may have read the leases before the release). */
  private again = false;
  /** Rebalance notices: the mode fixed at start, and how to stop listening. */
  private noticeMode: 'P' | 'S' | undefined;
  /** Settles once this keeper's subscribe is in effect or failed (never rejects). */
  private listening: Promise<void> | undefined;
  private stopListening: (() => void) | undefined;
  private rounds = 0;
  /** The group's rebalance notice channel. */
  readonly channel: string;

  constructor(private readonly options: KeeperOptions) {
    super();
    validatePartitionCount(options.partitions);
    this.leaseMs = options.leaseMs ?? 10_000;
    if (!Number.isInteger(this.leaseMs) || this.leaseMs < 30) throw new InvalidOptionError(`leaseMs must be a whole number ≥ 30, got ${String(options.leaseMs)}`);
    this.owner = ownerId(options.consumer, options.incarnation ?? randomBytes(6).toString('hex'));
    this.keys = Array.from({ length: options.partitions }, (_, i) => partitionKeys(options.prefix, options.topic, i));
    this.channel = rebalanceChannel(topicMetaKeys(options.prefix, options.topic), options.group);
  }

  /** Partitions owned now, with their fencing tokens. */
  get partitions(): ReadonlyMap<number, number> {
    return new Map([...this.owned].map(([p, o]) => [p, o.token]));
  }

  /** Tick now, then every `leaseMs / 3` (and at once on another keeper's rebalance notice). */
  start(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => void this.tick(), Math.max(10, Math.floor(this.leaseMs / 3)));
    const notices = this.options.notices;
    if (notices) {
      const mode = notices.mode();
      this.noticeMode = mode;
      // Not awaited: until the subscribe is in effect, changes are seen at the ticks, as without notices.
      const listener = notices.listen(this.channel, mode, (from) => { if (from !== this.owner) this.wake(); });
      this.stopListening = () => listener.stop();
      this.listening = listener.subscribed.catch((err: unknown) => { if (!this.closed) this.emit('error', err); });
    }
    void this.tick();
  }

  /** Another keeper released partitions or joined: run a round now, or right after the one running. */
  private wake(): void {
    if (this.closed || !this.timer) return;
    if (this.running) this.again = true;
    else void this.tick();
  }

  /**
   * Send a rebalance notice (when notices are on); a failure is reported, never thrown. Refused
   * by an ACL (NOPERM): reported once, and no more are sent (the others then see changes at their ticks).
   */
  private async notify(): Promise<void> {
    const mode = this.noticeMode;
    if (!mode) return;
    try {
      await sendRebalance(this.options.redis, this.channel, mode, this.owner);
    } catch (err) {
      if (/NOPERM/.test(String((err as Error)?.message))) {
        if (this.noticeMode === undefined) return;
        this.noticeMode = undefined;
      }
      this.emit('error', err);
    }
  }

  /**
   * Whether this consumer still holds `partition` with a lease renewed recently enough to start
   * work under it (within two thirds of `leaseMs`, as {@link PartitionKeeper.tick} requires). A
   * process paused past its lease (SIGSTOP, a long GC, a frozen VM) sees false at once when it
   * wakes, before the keeper's next round has dropped the partition.
   */
  isFresh(partition: number): boolean {
    const o = this.owned.get(partition);
    return o !== undefined && monotonicMs() - o.renewedAt <= (this.leaseMs * 2) / 3;
  }

  /** One round: heartbeat, renew, release the surplus, acquire up to the quota. Never overlaps itself. */
  tick(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (!this.running) {
      this.running = this.round().catch((err: unknown) => { this.emit('error', err); }).finally(() => {
        this.running = undefined;
        if (this.again) { this.again = false; void this.tick(); }
      });
    }
    return this.running;
  }

  private async round(): Promise<void> {
    const { redis, group } = this.options;
    // A lease not renewed within two thirds of its length may be lost: stop using it before
    // another consumer may take it (the settle scripts' fence is the hard guarantee).
    for (const [p, o] of this.owned) {
      if (monotonicMs() - o.renewedAt > (this.leaseMs * 2) / 3) this.drop(p, 'lost');
    }
    const members = await heartbeat(redis, topicMetaKeys(this.options.prefix, this.options.topic), group, this.owner, this.leaseMs);
    // Every renewal sent at once (separate commands: on a cluster the leases are on every node),
    // not one round trip after another: with many partitions the last ones were renewed late.
    const sentAt = monotonicMs();
    const renewals = await Promise.all([...this.owned].map(async ([p, o]) => [p, o, await renewLease(redis, this.keys[p]!, group, this.owner, o.token, this.leaseMs)] as const));
    for (const [p, o, r] of renewals) {
      if (this.owned.get(p) !== o) continue; // dropped meanwhile
      if (r.renewed) o.renewedAt = sentAt;
      else this.drop(p, 'lost');
    }
    if (this.closed) return;
    const leases = await readLeases(redis, this.keys, group);
    const plan = planShares({
      partitions: this.options.partitions, members: members.members.map((m) => m.owner), leases, me: this.owner, now: members.now,
      busy: this.options.busy?.() ?? new Set(),
    });
    // Given up in the background: draining a partition may take up to the handlers' grace, and
    // meanwhile this keeper must go on renewing its other leases (and this one, still held).
    for (const p of plan.release) {
      if (this.releasing.has(p)) continue;
      const r = this.giveUp(p, 'rebalance').catch((err: unknown) => { this.emit('error', err); }).finally(() => this.releasing.delete(p));
      this.releasing.set(p, r);
    }
    let got = 0;
    for (const p of plan.acquire) {
      if (got >= plan.wanted || this.closed) break;
      const sentAt = monotonicMs();
      const r = await acquireLease(redis, this.keys[p]!, group, this.owner, this.leaseMs, this.options.ordering);
      if (!r.acquired) continue;
      got++;
      this.owned.set(p, { token: r.token, renewedAt: sentAt });
      this.emit('assigned', { partition: p, token: r.token });
    }
    // A newcomer below its quota after its first round: tell the others, so they give up their
    // surplus now rather than at their next tick. Sent once its own subscribe is in effect (or
    // failed): their release notices, which wake it in turn, would be lost before that.
    if (this.rounds++ === 0 && got < plan.wanted && !this.closed) {
      void Promise.resolve(this.listening).then(() => (this.closed ? undefined : this.notify()));
    }
    // Below quota (a newcomer waiting for others to give up their surplus): look again soon,
    // every 100 ms for at most one tick, so a partition released by its previous owner is taken
    // within about 100 ms instead of at the next tick (it is not worked meanwhile).
    if (got < plan.wanted && !this.closed) {
      if (this.retries === 0) this.retries = Math.max(1, Math.floor(this.leaseMs / 3 / 100));
      if (--this.retries > 0 && !this.retryTimer) {
        this.retryTimer = setTimeout(() => { this.retryTimer = undefined; void this.tick(); }, 100);
      }
    } else {
      this.retries = 0;
    }
  }

  private drop(p: number, reason: 'rebalance' | 'close' | 'lost'): void {
    const o = this.owned.get(p);
    if (!o) return;
    this.owned.delete(p);
    this.emit('revoked', { partition: p, token: o.token, reason });
  }

  private async giveUp(p: number, reason: 'rebalance' | 'close'): Promise<void> {
    const o = this.owned.get(p);
    if (!o) return;
    await this.options.drain?.(p);
    this.drop(p, reason);
    const released = await releaseLease(this.options.redis, this.keys[p]!, this.options.group, this.owner, o.token);
    // A rebalance: the consumer below its quota can take it now. (close() notifies once, after leaving.)
    if (released && reason === 'rebalance') await this.notify();
  }

  /**
   * Stop ticking, give every partition up (after draining it), leave the member set, and (with
   * `notices`) tell the group's other keepers, so they take the partitions now. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.running;
    await Promise.all(this.releasing.values());
    const errors: unknown[] = [];
    // Drained and released side by side (on a cluster the leases are on every node).
    await Promise.all([...this.owned.keys()].map((p) => this.giveUp(p, 'close').catch((e: unknown) => { errors.push(e); })));
    const left = await leaveGroup(this.options.redis, topicMetaKeys(this.options.prefix, this.options.topic), this.options.group, this.owner)
      .then(() => true, (e: unknown) => { errors.push(e); return false; });
    // Only once out of the member set: a keeper woken earlier would still count this one and
    // leave its share alone. (Without the notice, they see it at their next tick.)
    if (left) await this.notify();
    this.stopListening?.();
    for (const e of errors) this.emit('error', e);
  }

  /** @internal tests: stop as a crashed process would (no release, no leave, nothing kept). */
  halt(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.owned.clear();
    this.stopListening?.();
  }
}
