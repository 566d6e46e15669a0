import type Redis from 'ioredis';
import { uniquePrefix, waitFor } from '@streamfan/testing';
import { InvalidNameError, InvalidOptionError } from '../src/errors';
import { acquireLease, consumerOf, heartbeat, leaveGroup, ownerId, readLeases, releaseLease, renewLease } from '../src/partitions/leases';
import { partitionKeys, topicMetaKeys } from '../src/partitions/partitionKeys';
import { runScript } from '../src/scripts/runner';
import { useRedis } from './helpers';

const env = useRedis();

/** Leases of one group on one partition: who may work it, and the fencing token that proves it. */
describe('partition leases', () => {
  let redis: Redis;
  beforeAll(() => { redis = env.server().client(); });
  afterAll(() => { redis.disconnect(); });

  test('acquire only when free; the token grows with every new owner; a resend returns the same token', async () => {
    const k = partitionKeys(uniquePrefix(), 'orders', 3);
    const a = ownerId('billing-a', 'i1');
    const b = ownerId('billing-b', 'i1');
    const first = await acquireLease(redis, k, 'billing', a, 60_000);
    expect(first).toMatchObject({ acquired: true, token: 1, previousOwner: '' });
    // A resend (reply lost, ioredis sends again): the same token, nothing bumped.
    expect(await acquireLease(redis, k, 'billing', a, 60_000)).toMatchObject({ acquired: true, token: 1 });
    const refused = await acquireLease(redis, k, 'billing', b, 60_000);
    expect(refused).toMatchObject({ acquired: false, owner: a });
    // Released: the next owner takes it at once, with a larger token.
    expect(await releaseLease(redis, k, 'billing', a, 1)).toBe(true);
    expect(await acquireLease(redis, k, 'billing', b, 60_000)).toMatchObject({ acquired: true, token: 2, previousOwner: a });
    // The old owner can neither renew nor release any more.
    expect(await renewLease(redis, k, 'billing', a, 1, 60_000)).toEqual({ renewed: false, owner: b, token: 2 });
    expect(await releaseLease(redis, k, 'billing', a, 1)).toBe(false);
    expect(await redis.hgetall(k.lease('billing'))).toMatchObject({ owner: b, token: '2' });
    // Other groups have their own leases on the same partition.
    expect(await acquireLease(redis, k, 'search', a, 60_000)).toMatchObject({ acquired: true, token: 1 });
  });

  test('an expired lease is taken over by another owner (server time); renewing it then fails, and renewing an expired one nobody took succeeds', async () => {
    const k = partitionKeys(uniquePrefix(), 'orders', 0);
    const a = ownerId('c-a', 'x');
    const b = ownerId('c-b', 'x');
    const got = await acquireLease(redis, k, 'g', a, 50);
    expect(got.acquired).toBe(true);
    // Expired but nobody took it: the token is still a's, so a may renew (nobody else worked it).
    await waitFor(async () => Number(await redis.hget(k.lease('g'), 'until')) < Number((await redis.time())[0]) * 1000, { message: 'the lease expired' });
    expect(await renewLease(redis, k, 'g', a, 1, 50)).toMatchObject({ renewed: true });
    const taken = await waitFor(async () => { const r = await acquireLease(redis, k, 'g', b, 60_000); return r.acquired ? r : undefined; }, { message: 'b takes the expired lease' });
    expect(taken).toMatchObject({ token: 2, previousOwner: a });
    expect(await renewLease(redis, k, 'g', a, 1, 60_000)).toMatchObject({ renewed: false, token: 2 });
    // A restarted process under a's name is a new incarnation: it waits like anyone else.
    expect(await acquireLease(redis, k, 'g', ownerId('c-a', 'y'), 60_000)).toMatchObject({ acquired: false, owner: b });
  });

  test('a released lease is not renewed (the consumer gave it up); the table reads back for every partition', async () => {
    const prefix = uniquePrefix();
    const parts = Array.from({ length: 4 }, (_, i) => partitionKeys(prefix, 'orders', i));
    const a = ownerId('c', 'z');
    await acquireLease(redis, parts[1]!, 'g', a, 60_000);
    await acquireLease(redis, parts[2]!, 'g', a, 60_000);
    await releaseLease(redis, parts[2]!, 'g', a, 1);
    expect(await renewLease(redis, parts[2]!, 'g', a, 1, 60_000)).toMatchObject({ renewed: false });
    const table = await readLeases(redis, parts, 'g');
    expect(table.map((l) => [l.partition, l.owner ?? null, l.token, l.until > 0])).toEqual([[0, null, 0, false], [1, a, 1, true], [2, a, 1, false], [3, null, 0, false]]);
  });

  test('bad arguments are refused before anything is written', async () => {
    const k = partitionKeys(uniquePrefix(), 'orders', 0);
    await expect(acquireLease(redis, k, 'g', 'o/1', 0)).rejects.toThrow(InvalidOptionError);
    await expect(runScript(redis, 'acquireLease', [k.lease('g')], ['', 1000])).rejects.toThrow(/invalid argument owner/);
    await expect(runScript(redis, 'renewLease', [k.lease('g')], ['o/1', '-1', 1000])).rejects.toThrow(/invalid argument token/);
    await expect(runScript(redis, 'renewLease', [k.lease('g')], ['o/1', '1', 'nan'])).rejects.toThrow(/invalid argument lease ms/);
    await expect(runScript(redis, 'releaseLease', [k.lease('g')], ['o/1', '1.5'])).rejects.toThrow(/invalid argument token/);
    expect(await redis.exists(k.lease('g'))).toBe(0);
    await redis.set(k.lease('g'), 'x');
    await expect(acquireLease(redis, k, 'g', 'o/1', 1000)).rejects.toThrow(/WRONGTYPE streamfan key .*lease:g holds a string/);
    expect(() => ownerId('bad/name', 'i')).toThrow(InvalidNameError);
    expect(() => ownerId('ok', 'bad/inc')).toThrow(InvalidOptionError);
    expect(consumerOf(ownerId('billing-1', 'abc'))).toBe('billing-1');
  });
});

describe('group members', () => {
  let redis: Redis;
  beforeAll(() => { redis = env.server().client(); });
  afterAll(() => { redis.disconnect(); });

  test('heartbeats list the live members; an expired one is dropped; leave removes at once; the set has a TTL', async () => {
    const meta = topicMetaKeys(uniquePrefix(), 'orders');
    await heartbeat(redis, meta, 'g', 'a/1', 60_000);
    await heartbeat(redis, meta, 'g', 'short/1', 30);
    const seen = await heartbeat(redis, meta, 'g', 'b/1', 60_000);
    expect(seen.members.map((m) => m.owner)).toEqual(expect.arrayContaining(['a/1', 'b/1']));
    await waitFor(async () => !(await heartbeat(redis, meta, 'g', 'b/1', 60_000)).members.some((m) => m.owner === 'short/1'), { message: 'the short heartbeat expired and was dropped' });
    await leaveGroup(redis, meta, 'g', 'a/1');
    const after = await heartbeat(redis, meta, 'g', 'b/1', 60_000);
    expect(after.members.map((m) => m.owner)).toEqual(['b/1']);
    expect(after.members[0]!.expires).toBeGreaterThan(after.now);
    const ttl = await redis.pttl(meta.consumers('g'));
    expect(ttl).toBeGreaterThan(60_000);
    expect(ttl).toBeLessThanOrEqual(600_000);
  });

  test('a group refuses members beyond its limit, and nothing is written for the refused one', async () => {
    const key = topicMetaKeys(uniquePrefix(), 'orders').consumers('g');
    await runScript(redis, 'heartbeatMember', [key], ['m/1', 60_000, 2, 600_000]);
    await runScript(redis, 'heartbeatMember', [key], ['m/2', 60_000, 2, 600_000]);
    await expect(runScript(redis, 'heartbeatMember', [key], ['m/3', 60_000, 2, 600_000])).rejects.toThrow(/already has 2 live consumers/);
    expect(await redis.zrange(key, 0, -1)).toEqual(['m/1', 'm/2']);
    // A member already in the set may still heartbeat at the limit.
    await expect(runScript(redis, 'heartbeatMember', [key], ['m/2', 60_000, 2, 600_000])).resolves.toBeDefined();
    await expect(runScript(redis, 'heartbeatMember', [key], ['m/4', 60_000, 2, 10])).rejects.toThrow(/invalid argument ttl/);
  });
});
