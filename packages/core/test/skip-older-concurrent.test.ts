/**
 * skipOlderThanMs with two of everything: two consumers of one group skipping one stale backlog
 * at once (reclaims racing the skips: a short visibility timeout), two groups with different
 * bounds, and a group where one consumer has the option and the other does not.
 */
import { sleep, waitFor } from '@streamfan/testing';
import { defineTopic, topicKeys, type Streamfan } from '../src/internal';
import { useRedis } from './helpers';

const env = useRedis();

async function serverMs(sf: Streamfan): Promise<number> {
  const [s, us] = await sf.redis.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

async function backlog(sf: Streamfan, name: string, n: number, ageMs: number): Promise<string[]> {
  const keys = topicKeys(sf.prefix, name);
  const at = (await serverMs(sf)) - ageMs;
  const p = sf.redis.pipeline();
  const ids: string[] = [];
  for (let j = 0; j < n; j++) { ids.push(`${at + j}-0`); p.xadd(keys.stream, `${at + j}-0`, 'payload', JSON.stringify({ n: j }), 'headers', ''); }
  await p.exec();
  return ids;
}

describe('skipOlderThanMs: two of everything', () => {
  test('two consumers of one group skip one backlog together: each event skipped once in all (counts, events, records)', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('pair');
    const ids = await backlog(sf, 'pair', 3000, 3_600_000);
    const seen = new Map<string, number>();
    const opts = { startFrom: 'beginning' as const, skipOlderThanMs: 60_000, concurrency: 50, visibilityTimeoutMs: 200, reclaimIntervalMs: 20 };
    const subs = ['a', 'b'].map((c) => {
      const s = sf.subscribe(topic, 'g', () => { throw new Error('never run'); }, { ...opts, consumer: c });
      s.on('skipped', (e) => { for (const id of e.ids) seen.set(id, (seen.get(id) ?? 0) + 1); });
      return s;
    });
    await Promise.all(subs.map((s) => s.ready()));
    await waitFor(async () => (await sf.redis.xinfo('GROUPS', topicKeys(sf.prefix, 'pair').stream) as unknown[][])
      .some((g) => g[g.indexOf('last-delivered-id') + 1] === ids[ids.length - 1]), { timeoutMs: 60_000 });
    await waitFor(async () => (await sf.redis.xpending(topicKeys(sf.prefix, 'pair').stream, 'g'))[0] === 0, { timeoutMs: 30_000 });
    await sleep(300);
    expect(subs[0]!.stats.skipped + subs[1]!.stats.skipped).toBe(3000);
    expect(seen.size).toBe(3000);
    expect([...seen.values()].every((c) => c === 1)).toBe(true);
    expect(subs.every((s) => s.stats.processed === 0)).toBe(true);
  }, 120_000);

  test('two groups with different bounds: each judges by its own', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('bounds');
    const [id] = await backlog(sf, 'bounds', 1, 30_000); // 30 s old
    const runs: string[] = [];
    const tight = sf.subscribe(topic, 'tight', () => { runs.push('tight'); }, { startFrom: 'beginning', skipOlderThanMs: 10_000 });
    const loose = sf.subscribe(topic, 'loose', () => { runs.push('loose'); }, { startFrom: 'beginning', skipOlderThanMs: 600_000 });
    await Promise.all([tight.ready(), loose.ready()]);
    const st = await sf.waitFor(topic, id!, { timeoutMs: 10_000 });
    expect(st.groups.tight?.state).toBe('skipped');
    expect(st.groups.loose?.state).toBe('succeeded');
    expect(runs).toEqual(['loose']);
  });

  test('one group, one consumer with the bound and one without: every event is handled or skipped once, never both', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('mixed');
    const ids = await backlog(sf, 'mixed', 400, 3_600_000);
    const ran: string[] = [];
    const skipped: string[] = [];
    const a = sf.subscribe(topic, 'g', (_p, ctx) => { ran.push(ctx.id); }, { startFrom: 'beginning', consumer: 'plain', concurrency: 5 });
    const b = sf.subscribe(topic, 'g', () => { throw new Error('never run'); }, { startFrom: 'beginning', consumer: 'bounded', skipOlderThanMs: 60_000, concurrency: 5 });
    b.on('skipped', (e) => skipped.push(...e.ids));
    await Promise.all([a.ready(), b.ready()]);
    await waitFor(() => ran.length + skipped.length >= 400, { timeoutMs: 60_000 });
    await sleep(300);
    expect(ran.length + skipped.length).toBe(400);
    expect(new Set([...ran, ...skipped]).size).toBe(400);
    const st = await sf.status(topic, skipped[0] ?? ids[0]!);
    expect(['skipped', 'succeeded']).toContain(st.groups.g?.state);
  }, 90_000);
});
