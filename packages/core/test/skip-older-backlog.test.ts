/**
 * skipOlderThanMs under a backlog much larger than one read: every stale entry is skipped exactly
 * once (counted once, one record each, acked: nothing left pending), whatever the read size
 * (concurrency 10: many small calls; 1,200: reads split into calls of at most 500).
 */
import { defineTopic, topicKeys, type Streamfan } from '../src/internal';
import { recordToken } from '../src/status-records';
import { useRedis } from './helpers';
import { waitFor } from '@streamfan/testing';

const env = useRedis();

async function serverMs(sf: Streamfan): Promise<number> {
  const [s, us] = await sf.redis.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

describe('skipOlderThanMs: a large stale backlog', () => {
  test.each([10, 1200])('concurrency %i: 6,000 stale entries skipped once each, none run, none left pending', async (concurrency) => {
    const sf = env.client();
    const name = `backlog-${concurrency}`;
    const keys = topicKeys(sf.prefix, name);
    const at = (await serverMs(sf)) - 3_600_000; // an hour old, 3 ms apart over 6 s of ids (7 buckets)
    const n = 6000;
    for (let i = 0; i < n; i += 1000) {
      const p = sf.redis.pipeline();
      for (let j = i; j < i + 1000; j++) p.xadd(keys.stream, `${at + Math.floor(j / 2)}-${j % 2}`, 'payload', '{}', 'headers', '');
      await p.exec();
    }
    const calls: number[] = [];
    const ids = new Set<string>();
    let runs = 0;
    const sub = sf.subscribe(defineTopic(name), 'g', () => { runs++; }, { startFrom: 'beginning', skipOlderThanMs: 60_000, concurrency });
    sub.on('skipped', (e) => { calls.push(e.ids.length); for (const id of e.ids) ids.add(id); });
    await sub.ready();
    await waitFor(() => sub.stats.skipped >= n, { timeoutMs: 120_000 });
    await waitFor(async () => (await sf.redis.xpending(keys.stream, 'g'))[0] === 0, { timeoutMs: 10_000 });
    expect(sub.stats.skipped).toBe(n);
    expect(ids.size).toBe(n);
    expect(runs).toBe(0);
    expect(Math.max(...calls)).toBeLessThanOrEqual(500);
    // One record per event in the buckets.
    const buckets = await sf.redis.keys(`${sf.prefix}:{${name}}:ok:g:*`);
    let records = 0;
    for (const b of buckets) records += ((await sf.redis.get(b)) ?? '').split(';').filter((x) => x.startsWith('~')).length;
    expect(records).toBe(n);
    const last = `${at + (n - 1) / 2 - 0.5}-1`;
    expect((await sf.status(defineTopic(name), last)).groups.g).toMatchObject({ state: 'skipped', attempts: 0 });
    expect(recordToken(last).second).toBeGreaterThan(0);
  }, 180_000);
});
