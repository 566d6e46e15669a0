/**
 * skipOlderThanMs and status expiry: the skip record lives in the group's success bucket, the
 * failure before it in the event's status hash, which every group writes to (and so keeps alive).
 * Once the bucket expired, a hash kept alive by another group must not bring back the skipped
 * group's old `failed` (a retry that never comes: waitFor would wait for it forever).
 */
import { sleep } from '@streamfan/testing';
import { defineTopic, topicKeys } from '../src/internal';
import { useRedis } from './helpers';

const env = useRedis();

describe('skipOlderThanMs: status expiry', () => {
  test('a retry skipped, its bucket expired, the hash kept alive by another group: never reported failed again', async () => {
    const sf = env.client({ statusTtlSeconds: 2 });
    const topic = defineTopic<{ n: number }>('expiry');
    const keys = topicKeys(sf.prefix, 'expiry');
    let bRuns = 0;
    const a = sf.subscribe(topic, 'a', () => { throw new Error('a down'); },
      { startFrom: 'beginning', skipOlderThanMs: 800, backoff: { type: 'fixed', delayMs: 1200 }, reclaimIntervalMs: 50 });
    // Group b fails the event again and again (a long backoff): each failure writes the hash, refreshing its TTL.
    const b = sf.subscribe(topic, 'b', () => { bRuns++; throw new Error('b down'); },
      { startFrom: 'beginning', backoff: { type: 'fixed', delayMs: 1500 }, maxAttempts: 20, reclaimIntervalMs: 50 });
    await Promise.all([a.ready(), b.ready()]);
    const id = await sf.publish(topic, { n: 1 });
    expect((await sf.waitFor(topic, id, { groups: ['a'], timeoutMs: 10_000 })).groups.a).toMatchObject({ state: 'skipped', attempts: 1 });
    // Past the skip record's life (TTL 2 s + 1), while b keeps the hash alive.
    await sleep(4500);
    expect(bRuns).toBeGreaterThanOrEqual(3);
    expect(await sf.redis.exists(keys.status(id))).toBe(1);
    const st = (await sf.status(topic, id)).groups.a;
    expect(st?.state).not.toBe('failed');
    expect(st?.nextAttemptAt).toBeUndefined();
  }, 30_000);
});
