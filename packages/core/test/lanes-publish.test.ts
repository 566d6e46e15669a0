/**
 * Priority lanes, step 1 (docs/priorities.md §1–§4): topic options and refusals, keys, the meta
 * record, ids, publish / publishMany / delayed / idempotent publish by lane, status by lane id.
 * Measures: which stream each event lands in (XLEN / XRANGE of every lane), what the meta hash
 * holds, and that nothing is written when a publish is refused.
 */
import { sleep } from '@streamfan/testing';
import {
  InvalidIdError, InvalidLaneIdError, InvalidOptionError, LaneMismatchError, PartitionCountMismatchError, UnknownLaneError,
  classifyStreamKey, defineTopic, formatLaneId, isLaneId, laneAwareScanPattern, laneHome, laneKeys, parseLaneHome, parseLaneId,
  readLanes, topicFromStreamKey, topicKeys, topicMetaKeys,
} from '../src/internal';
import { useRedis } from './helpers';

const env = useRedis();
const LANES = ['high', 'normal', 'low'] as const;

describe('defineTopic({ priorities })', () => {
  test('lanes highest first; default normal when declared, else the last lane; none: no fields at all', () => {
    const t = defineTopic('emails', { priorities: [...LANES] });
    expect(t.priorities).toEqual(['high', 'normal', 'low']);
    expect(t.defaultPriority).toBe('normal');
    expect(defineTopic('emails', { priorities: ['urgent', 'bulk'] }).defaultPriority).toBe('bulk');
    expect(defineTopic('emails', { priorities: ['urgent', 'bulk'], defaultPriority: 'urgent' }).defaultPriority).toBe('urgent');
    expect(Object.keys(defineTopic('emails'))).not.toContain('priorities');
    expect(Object.keys(defineTopic('emails'))).not.toContain('defaultPriority');
  });

  test('bad lane sets are refused with a message naming the rule', () => {
    const bad: Array<[unknown, RegExp]> = [
      [['only'], /2 to 8 lane names/],
      [['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'], /2 to 8 lane names/],
      ['high', /2 to 8 lane names/],
      [['high', 'high'], /declared twice/],
      [['high', 'p3'], /looks like a partition id/],
      [['High', 'low'], /not a valid lane name/],
      [['high', 'a'.repeat(17)], /not a valid lane name/],
      [['high', 'lo w'], /not a valid lane name/],
      [['high', 3], /not a valid lane name/],
    ];
    for (const [priorities, msg] of bad) {
      expect(() => defineTopic('emails', { priorities: priorities as string[] })).toThrow(InvalidOptionError);
      expect(() => defineTopic('emails', { priorities: priorities as string[] })).toThrow(msg);
    }
    expect(() => defineTopic('emails', { priorities: ['high', 'low'], defaultPriority: 'normal' })).toThrow(/defaultPriority must be one of the topic's priorities \[high, low\]/);
    expect(() => defineTopic('emails', { defaultPriority: 'high' })).toThrow(/defaultPriority needs priorities/);
  });

  test('priorities with partitions are refused, saying why and what to do', () => {
    expect(() => defineTopic('emails', { priorities: [...LANES], partitions: 4 })).toThrow(InvalidOptionError);
    expect(() => defineTopic('emails', { priorities: [...LANES], partitions: 4 })).toThrow(/cannot be combined with partitions.*separate topics/);
  });
});

describe('lane keys and ids', () => {
  test('the default lane keeps the topic keys; lane L is under {T}:lane:L; idempotency and producer are shared', () => {
    const plain = topicKeys('sf', 'emails');
    expect(plain.stream).toBe('sf:{emails}:stream');
    expect(plain.status('1-0')).toBe('sf:{emails}:status:1-0');
    expect(laneKeys('sf', 'emails', 'normal', 'normal')).toEqual(expect.objectContaining({ stream: 'sf:{emails}:stream', delayed: 'sf:{emails}:delayed' }));
    const high = laneKeys('sf', 'emails', 'high', 'normal');
    expect(high.stream).toBe('sf:{emails}:lane:high:stream');
    expect(high.status('1-0')).toBe('sf:{emails}:lane:high:status:1-0');
    expect(high.ok('g', 5)).toBe('sf:{emails}:lane:high:ok:g:5');
    expect(high.redeliver('g')).toBe('sf:{emails}:lane:high:redeliver:g');
    expect(high.deadLetters('g')).toBe('sf:{emails}:lane:high:dlq:g');
    expect(high.delayed).toBe('sf:{emails}:lane:high:delayed');
    expect(high.done).toBe('sf:{emails}:lane:high:done');
    expect(high.idempotency('k')).toBe('sf:{emails}:idem:k');
    expect(high.producer('p')).toBe('sf:{emails}:producer:p');
    expect(laneHome('emails', 'high', 'normal')).toBe('emails+high');
    expect(laneHome('emails', 'normal', 'normal')).toBe('emails');
    expect(parseLaneHome('emails+high')).toEqual({ topic: 'emails', lane: 'high' });
    expect(parseLaneHome('emails')).toBeUndefined();
    expect(parseLaneHome('emails#3')).toBeUndefined();
  });

  test('stream keys of lanes are classified as { topic, lane }, never as a topic named "T}:lane:L"', () => {
    expect(classifyStreamKey('sf', 'sf:{emails}:lane:high:stream')).toEqual({ topic: 'emails', lane: 'high' });
    expect(classifyStreamKey('sf', 'sf:{a.b:c}:lane:low:stream')).toEqual({ topic: 'a.b:c', lane: 'low' });
    expect(classifyStreamKey('sf', 'sf:{emails}:stream')).toEqual({ topic: 'emails' });
    expect(classifyStreamKey('sf', 'sf:{orders#3}:stream')).toEqual({ topic: 'orders', partition: 3 });
    expect(classifyStreamKey('sf', 'sf:{emails}:redeliver:mystream')).toBeUndefined();
    expect(topicFromStreamKey('sf', 'sf:{emails}:lane:high:stream')).toBe('emails');
    expect(topicFromStreamKey('sf', 'sf:{emails}:stream')).toBe('emails');
    expect(laneAwareScanPattern('sf')).toBe('sf:{*stream');
  });

  test('ids: plain for the default lane, <lane>:<id> otherwise; bad ids are InvalidLaneIdErrors listing the lanes', () => {
    const t = defineTopic('emails', { priorities: [...LANES] });
    expect(formatLaneId('high', '1-0', 'normal')).toBe('high:1-0');
    expect(formatLaneId('normal', '1-0', 'normal')).toBe('1-0');
    expect(parseLaneId('high:1-0', t)).toEqual({ lane: 'high', localId: '1-0' });
    expect(parseLaneId('low:delayed-abc-1', t)).toEqual({ lane: 'low', localId: 'delayed-abc-1' });
    expect(parseLaneId('1-0', t)).toEqual({ lane: 'normal', localId: '1-0' });
    expect(parseLaneId('normal:1-0', t)).toEqual({ lane: 'normal', localId: '1-0' });
    expect(isLaneId('high:1-0')).toBe(true);
    expect(isLaneId('1-0')).toBe(false);
    for (const bad of ['urgent:1-0', 'high:', 'high:x', 'p3:1-0', '', 'high:1-0:2']) {
      expect(() => parseLaneId(bad, t)).toThrow(InvalidLaneIdError);
      expect(() => parseLaneId(bad, t)).toThrow(InvalidIdError);
    }
    expect(() => parseLaneId('urgent:1-0', t)).toThrow(/lanes high, normal, low/);
  });
});

describe('publish on a prioritized topic', () => {
  test('each lane is its own stream; ids name the lane; the default lane uses the topic stream', async () => {
    const sf = env.client();
    const t = defineTopic<{ n: number }>('emails', { priorities: [...LANES] });
    const hi = await sf.publish(t, { n: 1 }, { priority: 'high' });
    const lo = await sf.publish(t, { n: 2 }, { priority: 'low' });
    const def = await sf.publish(t, { n: 3 });
    const norm = await sf.publish(t, { n: 4 }, { priority: 'normal' });
    expect(hi).toMatch(/^high:\d+-\d+$/);
    expect(lo).toMatch(/^low:\d+-\d+$/);
    expect(def).toMatch(/^\d+-\d+$/);
    expect(norm).toMatch(/^\d+-\d+$/);
    const len = (lane: string) => sf.redis.xlen(laneKeys(sf.prefix, 'emails', lane, 'normal').stream);
    expect([await len('high'), await len('normal'), await len('low')]).toEqual([1, 2, 1]);
    const [entry] = await sf.redis.xrange(laneKeys(sf.prefix, 'emails', 'high', 'normal').stream, '-', '+');
    expect(entry![0]).toBe(hi.slice('high:'.length));
    expect(entry![1]).toEqual(['payload', '{"n":1}', 'headers', '']);
    // The lane set is recorded in the topic's meta hash.
    expect(await sf.redis.hgetall(topicMetaKeys(sf.prefix, 'emails').meta)).toEqual(expect.objectContaining({ lanes: 'high,normal,low', defaultLane: 'normal' }));
    expect(await readLanes(sf.redis, sf.prefix, 'emails')).toEqual({ lanes: ['high', 'normal', 'low'], defaultLane: 'normal' });
    expect(await readLanes(sf.redis, sf.prefix, 'other')).toBeUndefined();
    // Status by lane id: the lane's hash and stream, public ids and the lane.
    const st = await sf.status(t, hi);
    expect(st).toEqual(expect.objectContaining({ id: hi, eventId: hi, topic: 'emails', priority: 'high', inStream: true }));
    expect((await sf.status(t, def)).priority).toBe('normal');
    await expect(sf.status(t, 'urgent:1-0')).rejects.toThrow(InvalidLaneIdError);
  });

  test('an unknown lane, or a priority on a topic without lanes, is refused and nothing is written', async () => {
    const sf = env.client();
    const t = defineTopic<{ n: number }>('emails', { priorities: [...LANES] });
    const err = await sf.publish(t, { n: 1 }, { priority: 'urgent' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownLaneError);
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect((err as UnknownLaneError).code).toBe('UNKNOWN_LANE');
    expect((err as Error).message).toMatch(/"urgent" is not a lane of topic "emails": use one of 'high', 'normal', 'low'/);
    await expect(sf.publishMany(t, [{ n: 1 }], { priority: 'urgent' })).rejects.toThrow(UnknownLaneError);
    await expect(sf.publish('plain', { n: 1 }, { priority: 'high' })).rejects.toThrow(/has no priority lanes/);
    expect(await sf.redis.keys(`${sf.prefix}:*emails*`)).toEqual([]);
    expect(await sf.redis.keys(`${sf.prefix}:*plain*`)).toEqual([]);
  });

  test('the lane set is fixed at first use: other lanes, another default, or partitions are refused', async () => {
    const sf = env.client();
    await sf.publish(defineTopic('emails', { priorities: [...LANES] }), {});
    const other = env.client({ prefix: sf.prefix });
    const e1 = await other.publish(defineTopic('emails', { priorities: ['high', 'low'] }), {}).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(LaneMismatchError);
    expect((e1 as LaneMismatchError).code).toBe('LANE_MISMATCH');
    expect((e1 as LaneMismatchError).stored).toEqual(['high', 'normal', 'low']);
    expect((e1 as Error).message).toMatch(/define it with \{ priorities: \['high', 'normal', 'low'\], defaultPriority: 'normal' \}/);
    await expect(other.publish(defineTopic('emails', { priorities: [...LANES], defaultPriority: 'low' }), {})).rejects.toThrow(LaneMismatchError);
    await expect(other.publish(defineTopic('emails', { partitions: 2 }), {})).rejects.toThrow(PartitionCountMismatchError);
    await expect(other.publish(defineTopic('emails', { partitions: 2 }), {})).rejects.toThrow(/has the priority lanes \[high, normal, low\]/);
    expect(await sf.redis.hget(topicMetaKeys(sf.prefix, 'emails').meta, 'partitions')).toBeNull();
    // The reverse: a partitioned topic cannot gain lanes.
    await sf.publish(defineTopic('orders', { partitions: 2 }), {});
    const e2 = await sf.publish(defineTopic('orders', { priorities: [...LANES] }), {}).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(LaneMismatchError);
    expect((e2 as Error).message).toMatch(/is partitioned/);
    expect(await sf.redis.hget(topicMetaKeys(sf.prefix, 'orders').meta, 'lanes')).toBeNull();
  });

  test('a topic that gains lanes keeps its stream as the default lane; an unprioritized client still reaches it', async () => {
    const sf = env.client();
    const before = await sf.publish('emails', { n: 0 });
    const t = defineTopic('emails', { priorities: [...LANES] });
    const after = await sf.publish(t, { n: 1 });
    expect((await sf.status(t, before)).inStream).toBe(true);
    expect(await sf.redis.xlen(topicKeys(sf.prefix, 'emails').stream)).toBe(2);
    expect(after).toMatch(/^\d+-\d+$/);
  });

  test('publishMany: one lane per batch, ids with the lane', async () => {
    const sf = env.client();
    const t = defineTopic<{ n: number }>('emails', { priorities: [...LANES] });
    const ids = await sf.publishMany(t, [{ n: 1 }, { n: 2 }, { n: 3 }], { priority: 'low' });
    expect(ids.every((id) => /^low:\d+-\d+$/.test(id))).toBe(true);
    expect(await sf.redis.xlen(laneKeys(sf.prefix, 'emails', 'low', 'normal').stream)).toBe(3);
    const plain = await sf.publishMany(t, [{ n: 4 }]);
    expect(plain[0]).toMatch(/^\d+-\d+$/);
  });

  test('an idempotency key is one per topic: a repeat in another lane writes nothing and returns the first id', async () => {
    const sf = env.client();
    const t = defineTopic<{ n: number }>('emails', { priorities: [...LANES] });
    const first = await sf.publish(t, { n: 1 }, { priority: 'high', idempotencyKey: 'reset-42' });
    expect(first).toMatch(/^high:/);
    expect(await sf.publish(t, { n: 2 }, { priority: 'low', idempotencyKey: 'reset-42' })).toBe(first);
    expect(await sf.publish(t, { n: 3 }, { idempotencyKey: 'reset-42' })).toBe(first);
    expect(await sf.publish(t, { n: 4 }, { priority: 'high', idempotencyKey: 'reset-42' })).toBe(first);
    // And the other way round: first in the default lane (plain id).
    const plain = await sf.publish(t, { n: 5 }, { idempotencyKey: 'k2' });
    expect(plain).toMatch(/^\d+-\d+$/);
    expect(await sf.publish(t, { n: 6 }, { priority: 'high', idempotencyKey: 'k2' })).toBe(plain);
    const len = (lane: string) => sf.redis.xlen(laneKeys(sf.prefix, 'emails', lane, 'normal').stream);
    expect([await len('high'), await len('normal'), await len('low')]).toEqual([1, 1, 0]);
    // Delayed and idempotent in a lane.
    const d = await sf.publish(t, { n: 7 }, { priority: 'low', idempotencyKey: 'k3', delayMs: 60_000 });
    expect(d).toMatch(/^low:delayed-/);
    expect(await sf.publish(t, { n: 8 }, { priority: 'high', idempotencyKey: 'k3', delayMs: 60_000 })).toBe(d);
    expect(await sf.redis.zcard(laneKeys(sf.prefix, 'emails', 'low', 'normal').delayed)).toBe(1);
    expect(await sf.redis.zcard(laneKeys(sf.prefix, 'emails', 'high', 'normal').delayed)).toBe(0);
  });

  test('a delayed event waits in its lane and is promoted into its lane; status follows the lane delayed id', async () => {
    const sf = env.client({ promoteIntervalMs: 50 });
    const t = defineTopic<{ n: number }>('emails', { priorities: [...LANES] });
    const id = await sf.publish(t, { n: 1 }, { priority: 'high', delayMs: 100 });
    expect(id).toMatch(/^high:delayed-/);
    const ids = await sf.publishMany(t, [{ n: 2 }, { n: 3 }], { priority: 'low', delayMs: 100 });
    expect(ids.every((x) => /^low:delayed-/.test(x))).toBe(true);
    const before = await sf.status(t, id);
    expect(before).toEqual(expect.objectContaining({ id, delayedId: id, priority: 'high', inStream: false }));
    const high = laneKeys(sf.prefix, 'emails', 'high', 'normal').stream;
    const low = laneKeys(sf.prefix, 'emails', 'low', 'normal').stream;
    for (let i = 0; i < 200 && ((await sf.redis.xlen(high)) < 1 || (await sf.redis.xlen(low)) < 2); i++) await sleep(25);
    expect(await sf.redis.xlen(high)).toBe(1);
    expect(await sf.redis.xlen(low)).toBe(2);
    expect(await sf.redis.xlen(topicKeys(sf.prefix, 'emails').stream)).toBe(0);
    const after = await sf.status(t, id);
    expect(after.eventId).toMatch(/^high:\d+-\d+$/);
    expect(after).toEqual(expect.objectContaining({ id, delayedId: id, inStream: true, priority: 'high' }));
    const [entry] = await sf.redis.xrange(high, '-', '+');
    expect(`high:${entry![0]}`).toBe(after.eventId);
  });
});
