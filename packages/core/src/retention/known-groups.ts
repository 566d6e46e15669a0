import type Redis from 'ioredis';
import { compareIds } from '../ids';
import { groupInfos } from '../status';

/**
 * Groups that were seen working on a topic, and the lowest entry id each may still need, so that
 * retention can tell a group that is missing for a moment (XGROUP DESTROY, not recreated yet by
 * its consumers' recovery) from one that never was. Without this, while such a group is missing
 * a safe trim removes the entries it had not handled (its floor is not there to hold them), and a
 * hard cap records them `lost` only in the groups that exist: the recreated group never hears of
 * them, and their status stays unknown for good (model seed 10 with `+destroy`).
 *
 * A sorted set beside the topic's stream (`<...>:stream` → `<...>:known-groups`, same hash tag):
 * members `<group>|<floor>|<last-delivered id>` scored by when they were written (ms), where floor
 * is the group's oldest pending entry, or the id after its last-delivered one. Written by the consumers of a
 * group that track status, at start and on every reclaim tick (ZADD, ZREM of the member this
 * consumer wrote before, ZREMRANGEBYSCORE of members older than the window, EXPIRE: commands
 * the consumer's ACL role has); read by retention (ZRANGEBYSCORE). A group not seen for
 * {@link KNOWN_GROUP_WINDOW_MS} (destroyed for good by hand, or its consumers stopped) no longer
 * counts; a retired group (retireGroup) never does.
 * @internal
 */
export const KNOWN_GROUP_WINDOW_MS = 10 * 60_000;

/** Lifetime of the sorted set, refreshed on every write. */
const KNOWN_GROUPS_TTL_S = 2 * KNOWN_GROUP_WINDOW_MS / 1000;

/** The known-groups sorted set of the topic whose stream key is `stream`; undefined for another stream. */
export function knownGroupsKey(stream: string): string | undefined {
  return stream.endsWith(':stream') ? `${stream.slice(0, -':stream'.length)}:known-groups` : undefined;
}

/** The retired hash of the topic whose stream key is `stream` (see keys.ts). */
function retiredKey(stream: string): string {
  return `${stream.slice(0, -':stream'.length)}:retired`;
}

/** The id right after `id` (`ms-seq` + 1). */
export function nextId(id: string): string {
  const [ms = '0', seq = '0'] = id.split('-');
  return `${ms}-${(BigInt(seq) + 1n).toString()}`;
}

/** The member each (stream, group, writer) wrote last, so a writer replaces its own (see {@link noteKnownGroup}). */
const lastWritten = new WeakMap<Redis, Map<string, string>>();

/** Record where `group` is on `stream` (see {@link knownGroupsKey}); never throws. */
export async function noteKnownGroup(redis: Redis, stream: string, group: string, floor: string, lastDelivered = ''): Promise<void> {
  const key = knownGroupsKey(stream);
  if (!key) return;
  const member = `${group}|${floor}|${lastDelivered}`;
  let mine = lastWritten.get(redis);
  if (!mine) lastWritten.set(redis, (mine = new Map()));
  const before = mine.get(`${key}\n${group}`);
  const now = Date.now();
  try {
    const p = redis.pipeline().zadd(key, now, member);
    if (before !== undefined && before !== member) p.zrem(key, before);
    await p.zremrangebyscore(key, '-inf', now - KNOWN_GROUP_WINDOW_MS).expire(key, KNOWN_GROUPS_TTL_S).exec();
    mine.set(`${key}\n${group}`, member);
  } catch { /* best effort: retention then just does not know this group */ }
}

/**
 * Groups recreated after XGROUP DESTROY whose recovery sweep is still due (recovery.ts): the
 * entries that were pending when the group was destroyed, with consumers that will never settle
 * them, are in no pending list and before the new group's position until the sweep takes them
 * back, so the trim scripts take them for acknowledged. Until then retention treats the group as a
 * missing one from where it was: a safe trim keeps them, a hard cap records those not settled
 * `lost` there (model seed 10: a cap 2 s after a recreation left a|9 unknown for good). A sorted
 * set beside the stream (`<...>:recovering`), members `<group>|<floor>` scored by when written,
 * removed when the sweep ran; {@link KNOWN_GROUP_WINDOW_MS} bounds a member whose sweep never ran.
 */
export function recoveringKey(stream: string): string | undefined {
  return stream.endsWith(':stream') ? `${stream.slice(0, -':stream'.length)}:recovering` : undefined;
}

/** Record that `group` was recreated on `stream` and its sweep from `floor` is due (see {@link recoveringKey}); never throws. */
export async function noteRecovering(redis: Redis, stream: string, group: string, floor: string): Promise<void> {
  const key = recoveringKey(stream);
  if (!key || !/^\d+-\d+$/.test(floor)) return;
  const now = Date.now();
  try {
    await redis.pipeline().zadd(key, now, `${group}|${floor}`).zremrangebyscore(key, '-inf', now - KNOWN_GROUP_WINDOW_MS).expire(key, KNOWN_GROUPS_TTL_S).exec();
  } catch { /* best effort */ }
}

/** The sweep of `group` from `floor` ran (see {@link noteRecovering}); never throws. */
export async function doneRecovering(redis: Redis, stream: string, group: string, floor: string): Promise<void> {
  const key = recoveringKey(stream);
  if (!key) return;
  try { await redis.zrem(key, `${group}|${floor}`); } catch { /* best effort */ }
}

/** Per group, the lowest floor of its sweeps still due within the window. */
async function readRecovering(redis: Redis, stream: string): Promise<Map<string, string>> {
  const key = recoveringKey(stream);
  const out = new Map<string, string>();
  if (!key) return out;
  const rows = (await redis.zrangebyscore(key, Date.now() - KNOWN_GROUP_WINDOW_MS, '+inf')) as string[];
  for (const m of rows) {
    const cut = m.lastIndexOf('|');
    const group = m.slice(0, cut);
    const floor = m.slice(cut + 1);
    if (cut <= 0 || !/^\d+-\d+$/.test(floor)) continue;
    const seen = out.get(group);
    if (seen === undefined || compareIds(floor, seen) < 0) out.set(group, floor);
  }
  return out;
}

/** A group retention knew on the stream that is not there now, and the lowest id it may still need. */
export interface MissingGroup {
  group: string;
  floor: string;
}

/**
 * Groups seen on `stream` within the window that are not among its groups now and were not
 * retired: destroyed, and not recreated yet. Two reads (the hash and the retired hash) plus XINFO
 * GROUPS when `present` is not given.
 */
export async function missingGroups(redis: Redis, stream: string, present?: readonly string[]): Promise<MissingGroup[]> {
  const key = knownGroupsKey(stream);
  if (!key) return [];
  const [latest, recovering] = await Promise.all([readKnown(redis, key), readRecovering(redis, stream)]);
  if (latest.size === 0 && recovering.size === 0) return [];
  const here = new Set(present ?? (await groupInfos(redis, stream)).map((g) => String(g.name)));
  const floors = new Map<string, string>();
  for (const [g, k] of latest) if (!here.has(g)) floors.set(g, k.floor);
  // Recreated, its sweep still due: missing from where it was (see recoveringKey).
  for (const [g, floor] of recovering) {
    const seen = floors.get(g);
    if (seen === undefined || compareIds(floor, seen) < 0) floors.set(g, floor);
  }
  const candidates = [...floors.keys()];
  if (candidates.length === 0) return [];
  const retired = await redis.hmget(retiredKey(stream), ...candidates);
  return candidates.filter((_, i) => retired[i] === null).map((group) => ({ group, floor: floors.get(group)! }));
}

/** Per group, what was written last (floor, last-delivered id or '', when). */
async function readKnown(redis: Redis, key: string): Promise<Map<string, { floor: string; last: string; at: number }>> {
  const rows = (await redis.zrangebyscore(key, Date.now() - KNOWN_GROUP_WINDOW_MS, '+inf', 'WITHSCORES')) as string[];
  const latest = new Map<string, { floor: string; last: string; at: number }>();
  for (let i = 0; i + 1 < rows.length; i += 2) {
    const parts = rows[i]!.split('|');
    if (parts.length < 3) continue;
    const last = parts.pop()!;
    const floor = parts.pop()!;
    const group = parts.join('|');
    const at = Number(rows[i + 1]);
    if (!group || !/^\d+-\d+$/.test(floor)) continue;
    const seen = latest.get(group);
    if (!seen || at > seen.at) latest.set(group, { floor, last: /^\d+-\d+$/.test(last) ? last : '', at });
  }
  return latest;
}

/**
 * The furthest last-delivered id of `group` on `stream` that its consumers recorded within the
 * window (each on its reclaim ticks), if any: every entry up to it was delivered to some consumer
 * before. A consumer that recreates a destroyed group resumes from there when it is further than
 * its own view, so entries other consumers still run are not delivered again as new.
 */
export async function knownPosition(redis: Redis, stream: string, group: string): Promise<string | undefined> {
  const key = knownGroupsKey(stream);
  if (!key) return undefined;
  const rows = (await redis.zrangebyscore(key, Date.now() - KNOWN_GROUP_WINDOW_MS, '+inf')) as string[];
  let best: string | undefined;
  for (const m of rows) {
    const parts = m.split('|');
    if (parts.length < 3) continue;
    const last = parts.pop()!;
    parts.pop();
    if (parts.join('|') !== group || !/^\d+-\d+$/.test(last)) continue;
    if (best === undefined || compareIds(last, best) > 0) best = last;
  }
  return best;
}

/** The lowest floor of `groups`, if any. */
export function lowestFloor(groups: readonly MissingGroup[]): string | undefined {
  let low: string | undefined;
  for (const g of groups) if (low === undefined || compareIds(g.floor, low) < 0) low = g.floor;
  return low;
}
