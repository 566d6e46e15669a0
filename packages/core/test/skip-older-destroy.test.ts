/**
 * skipOlderThanMs while the group is destroyed (XGROUP DESTROY) mid-backlog: the consumer
 * recovers, and every stale event ends skipped (none run, none left pending or unaccounted).
 */
import { sleep, waitFor } from '@streamfan/testing';
import { defineTopic, topicKeys, type Streamfan } from '../src/internal';
import { useRedis } from './helpers';
import { recordToken } from '../src/status-records';

const env = useRedis();

async function serverMs(sf: Streamfan): Promise<number> {
  const [s, us] = await sf.redis.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

test('a group destroyed while it skips a stale backlog: every event ends skipped, none run', async () => {
  const sf = env.client();
  const name = 'destroyed';
  const keys = topicKeys(sf.prefix, name);
  const at = (await serverMs(sf)) - 3_600_000;
  const n = 20_000;
  for (let i = 0; i < n; i += 2000) {
    const p = sf.redis.pipeline();
    for (let j = i; j < i + 2000; j++) p.xadd(keys.stream, `${at + j}-0`, 'payload', '{}', 'headers', '');
    await p.exec();
  }
  const topic = defineTopic(name);
  let runs = 0;
  const sub = sf.subscribe(topic, 'g', () => { runs++; }, { startFrom: 'beginning', skipOlderThanMs: 60_000, concurrency: 20 });
  sub.on('error', () => undefined);
  await sub.ready();
  await waitFor(() => sub.stats.skipped > 2000, { timeoutMs: 30_000 });
  await sf.redis.xgroup('DESTROY', keys.stream, 'g');
  await waitFor(async () => {
    const g = ((await sf.redis.xinfo('GROUPS', keys.stream)) as unknown[][]).find((r) => r[1] === 'g');
    return g !== undefined && g[g.indexOf('last-delivered-id') + 1] === `${at + n - 1}-0` && g[g.indexOf('pending') + 1] === 0;
  }, { timeoutMs: 60_000 });
  await sleep(500);
  expect(runs).toBe(0);
  const unaccounted: string[] = [];
  for (const j of [0, 1000, 2500, 5000, 10_000, 15_000, n - 1]) {
    const st = (await sf.status(topic, `${at + j}-0`)).groups.g;
    if (st?.state !== 'skipped') unaccounted.push(`${j}:${st?.state}`);
  }
  expect(unaccounted).toEqual([]);
  // Every event has its skip record, and the consumer counted each once.
  const tokens = new Map<string, number>();
  for (const b of await sf.redis.keys(`${sf.prefix}:{${name}}:ok:g:*`)) {
    const sec = b.slice(b.lastIndexOf(':') + 1);
    for (const item of ((await sf.redis.get(b)) ?? '').split(';')) {
      if (item.startsWith('~')) tokens.set(`${sec}/${item}`, (tokens.get(`${sec}/${item}`) ?? 0) + 1);
    }
  }
  const missing: string[] = [];
  for (let j = 0; j < n; j++) {
    const t = recordToken(`${at + j}-0`);
    if (!tokens.has(`${t.second}/~${t.token}`)) missing.push(`${at + j}-0`);
  }
  expect(missing).toEqual([]); // before: the one read whose skip call met NOGROUP (20 events, status unknown)
  expect(tokens.size).toBe(n);
  expect([...tokens.values()].filter((c) => c > 1)).toEqual([]);
  expect(sub.stats.skipped).toBe(n);
}, 120_000);
