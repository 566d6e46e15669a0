/**
 * Who should hold how many partitions of a group, computed by every consumer alike from the
 * live members and the lease table (no coordinator). See docs/partitions.md §5.3. Pure: no
 * Redis, tested alone.
 */
import { murmur2 } from './hash';
import { consumerOf, type LeaseView } from './leases';

/**
 * Quotas that sum to exactly `partitions`: each member gets floor(P / members), and the
 * P mod members extra partitions go to the members that hold the most now (ties by id), so
 * nothing moves that need not. (ceil(P / members) is only an upper bound: with 12 partitions
 * held 3 each by 4 consumers, a fifth would get nothing from a ceil target of 3.)
 */
export function quotas(partitions: number, members: readonly string[], held: ReadonlyMap<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  if (members.length === 0) return out;
  const unique = [...new Set(members)];
  const base = Math.floor(partitions / unique.length);
  const extra = partitions % unique.length;
  const ranked = [...unique].sort((a, b) => (held.get(b) ?? 0) - (held.get(a) ?? 0) || (a < b ? -1 : a > b ? 1 : 0));
  ranked.forEach((m, i) => out.set(m, base + (i < extra ? 1 : 0)));
  return out;
}

/**
 * A consumer's rendezvous order over the partitions: by murmur2(utf8(`<consumer>#<i>`))
 * descending, ties by index. Different consumers prefer different partitions (fewer races
 * when several acquire at once), and a consumer that restarts under its name prefers the
 * same ones again.
 */
export function preferenceOrder(consumer: string, partitions: number): number[] {
  const score = (i: number) => murmur2(Buffer.from(`${consumer}#${i}`, 'utf8')) >>> 0;
  return Array.from({ length: partitions }, (_, i) => [i, score(i)] as const)
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .map(([i]) => i);
}

/** True when a lease is held by someone at `now` (not released, not expired). */
export function isHeld(lease: LeaseView, now: number): boolean {
  return lease.owner !== undefined && lease.until !== 0 && lease.until >= now;
}

/** What one consumer should do at this tick. */
export interface SharePlan {
  /** This consumer's quota. */
  quota: number;
  /** Partitions it holds now. */
  held: number[];
  /** Partitions to give up (surplus), in the order to give them up. */
  release: number[];
  /** Free partitions to try to acquire, in order of preference (more than needed: races may lose some). */
  acquire: number[];
  /** How many of `acquire` it needs. */
  wanted: number;
}

/**
 * Plan one tick for consumer `me` (an owner id). `members` are the live owner ids (the
 * heartbeat's reply; `me` is counted even if missing), `leases` the whole lease table, `now`
 * server time, `busy` partitions of `me` with handlers running (given up last).
 */
export function planShares(input: { partitions: number; members: readonly string[]; leases: readonly LeaseView[]; me: string; now: number; busy?: ReadonlySet<number> }): SharePlan {
  const { partitions, leases, me, now } = input;
  const members = input.members.includes(me) ? input.members : [...input.members, me];
  const live = new Set(members);
  const held = new Map<string, number>();
  for (const l of leases) if (isHeld(l, now) && live.has(l.owner!)) held.set(l.owner!, (held.get(l.owner!) ?? 0) + 1);
  const quota = quotas(partitions, members, held).get(me) ?? 0;
  const prefer = preferenceOrder(consumerOf(me), partitions);
  const rank = new Map(prefer.map((p, i) => [p, i]));
  const mine = leases.filter((l) => isHeld(l, now) && l.owner === me).map((l) => l.partition);
  const busy = input.busy ?? new Set<number>();
  const release = mine.length > quota
    ? [...mine].sort((a, b) => Number(busy.has(a)) - Number(busy.has(b)) || rank.get(b)! - rank.get(a)!).slice(0, mine.length - quota)
    : [];
  const wanted = Math.max(0, quota - mine.length);
  const free = new Set(leases.filter((l) => !isHeld(l, now)).map((l) => l.partition));
  const acquire = wanted > 0 ? prefer.filter((p) => free.has(p)) : [];
  return { quota, held: mine.sort((a, b) => a - b), release, acquire, wanted };
}
