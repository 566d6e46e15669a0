/**
 * skipOlderThanMs and a reconnect at the worst moment: the connection is cut after Redis ran
 * skipEntries and before its reply arrived (a TCP proxy drops the reply); ioredis sends it again
 * on the new connection. Each stale event is counted and emitted skipped once, never stale.
 */
import { createHash } from 'node:crypto';
import { sleep, startTcpProxy, waitFor, type TcpProxy } from '@streamfan/testing';
import { defineTopic, topicKeys, type Streamfan } from '../src/internal';
import { luaSources } from '../src/scripts/lua.generated';
import { useRedis } from './helpers';

const env = useRedis();
let proxy: TcpProxy;
beforeAll(async () => { proxy = await startTcpProxy({ port: env.server().port }); });
afterAll(async () => { await proxy.close(); });

const sha = createHash('sha1').update(luaSources.skipEntries.source).digest('hex');

async function serverMs(sf: Streamfan): Promise<number> {
  const [s, us] = await sf.redis.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

test('the reply of a skipEntries call is lost to a cut connection: the resend counts each skip once, no stale', async () => {
  const sf = env.client({ connection: proxy.url });
  const name = 'resend';
  const keys = topicKeys(sf.prefix, name);
  const topic = defineTopic<{ n: number }>(name);
  const cut = proxy.cutAfterReplyTo((chunk) => chunk.includes(sha));
  const at = (await serverMs(sf)) - 60_000;
  const ids: string[] = [];
  for (let j = 0; j < 30; j++) ids.push(String(await sf.redis.xadd(keys.stream, `${at + j}-0`, 'payload', JSON.stringify({ n: j }), 'headers', '')));
  const seen = new Map<string, number>();
  const stale: string[] = [];
  let runs = 0;
  const sub = sf.subscribe(topic, 'g', () => { runs++; }, { startFrom: 'beginning', skipOlderThanMs: 10_000, concurrency: 10 });
  sub.on('skipped', (e) => { for (const id of e.ids) seen.set(id, (seen.get(id) ?? 0) + 1); });
  sub.on('stale', (e) => stale.push(...e.ids));
  sub.on('error', () => undefined);
  await sub.ready();
  await cut; // Redis ran it; its reply (with whatever else came in that chunk) was dropped
  await waitFor(() => seen.size === 30, { timeoutMs: 20_000 });
  await sleep(500);
  expect(stale).toEqual([]);
  expect([...seen.values()].every((c) => c === 1)).toBe(true);
  expect(sub.stats.skipped).toBe(30);
  expect(runs).toBe(0);
  for (const id of ids) expect((await sf.status(topic, id)).groups.g?.state).toBe('skipped');
  expect((await sf.redis.xpending(keys.stream, 'g'))[0]).toBe(0);
}, 60_000);
