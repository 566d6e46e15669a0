import type Redis from 'ioredis';
import type { TopicKeys } from '../keys';
import { findRecord, recordToken } from '../status-records';

/**
 * What the status says of a finished delivery whose ack waited for its destroyed group (see
 * AckBatcher's parked acks), before the entry is taken back into the recreated group, which has no
 * record of what happened to it before the destroy:
 * - `stale`: another consumer's outcome is final (succeeded, dead letter, lost, skipped), or a
 *   later attempt of another consumer failed and its retry is scheduled: that consumer reclaimed
 *   the entry while this one stalled, so this run's outcome does not count, as without a destroy
 *   (the old group's pending list refused it). The event reaches its final state without it.
 * - undefined: no one else is known to have finished it (or this consumer's own success is
 *   recorded already: a resent ack whose first run wrote it): taken back and acknowledged. A later
 *   attempt another consumer still runs is not refused here: nothing that survives the destroy
 *   records a reclaim of a topic entry, and refusing a run the status cannot prove superseded left
 *   the event to the recovery sweep alone (a silent loss when a hard cap came first: 47b15f1).
 */
export type ParkedVerdict = 'stale' | undefined;

/** One parked delivery to judge: its event and the attempt number it ran as. */
export interface ParkedRun {
  readonly eventId: string;
  readonly attempt: number;
}

const FINAL = new Set(['succeeded', 'dead', 'lost', 'skipped']);

/**
 * Judge parked runs by their events' status in `group` (see {@link ParkedVerdict}): one HMGET per
 * event and one GET per distinct second of the events (protocol 2's success buckets), pipelined.
 * A status that cannot be read judges nothing (undefined).
 */
export async function judgeParked(redis: Redis, keys: TopicKeys, group: string, consumer: string, runs: readonly ParkedRun[]): Promise<ParkedVerdict[]> {
  return (await judgeRuns(redis, keys, group, consumer, runs)).map((v) => (v === 'stale' ? 'stale' : undefined));
}

/**
 * As {@link judgeParked}, and `own` when the status records this run's own success already (this
 * consumer succeeded in the hash, or a success record of this run's attempt that names no one
 * else): a settle call that ran before (ioredis re-sent it after a dropped connection).
 */
export async function judgeRuns(redis: Redis, keys: TopicKeys, group: string, consumer: string, runs: readonly ParkedRun[]): Promise<Array<'stale' | 'own' | undefined>> {
  if (runs.length === 0) return [];
  const tokens = runs.map((r) => recordToken(r.eventId));
  const seconds = [...new Set(tokens.map((t) => t.second))];
  const p = redis.pipeline();
  for (const r of runs) p.hmget(keys.status(r.eventId), `${group}:state`, `${group}:consumer`, `${group}:attempts`);
  for (const sec of seconds) p.get(keys.ok(group, sec));
  const replies = (await p.exec()) ?? [];
  const buckets = new Map<number, string>();
  seconds.forEach((sec, i) => {
    const [err, v] = replies[runs.length + i] ?? [];
    if (!err && typeof v === 'string') buckets.set(sec, v);
  });
  return runs.map((r, i) => {
    const [err, fields] = replies[i] ?? [new Error('no reply')];
    if (err || !Array.isArray(fields)) return undefined;
    const [state = null, by = null, attemptsText = null] = fields as Array<string | null>;
    const attempts = Number(attemptsText ?? 0);
    const bucket = buckets.get(tokens[i]!.second);
    const record = bucket === undefined ? undefined : findRecord(bucket, tokens[i]!.second, tokens[i]!.token);
    if (state === 'succeeded' && by === consumer) return 'own';
    if (state !== null && FINAL.has(state)) return 'stale';
    if (record?.skipped) return 'stale'; // skipped (skipOlderThanMs) by whoever held it: final, never this run's success
    if (record) {
      // A plain success (no consumer recorded): this run's own when its attempt matches and the
      // hash names no one else.
      return record.attempts === r.attempt && (by === null || by === consumer) ? 'own' : 'stale';
    }
    if (state === 'failed' && by !== null && by !== consumer && attempts >= r.attempt) return 'stale';
    return undefined;
  });
}
