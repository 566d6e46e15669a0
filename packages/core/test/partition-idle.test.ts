import { sleep } from '@streamfan/testing';
import { defineTopic, type HandlerContext } from './partition-helpers';
import { useRedis } from './helpers';

const env = useRedis();

/** Every command Redis ran so far (INFO commandstats), by command. */
async function commandCounts(sf: { redis: { info(section: string): Promise<string> } }): Promise<Map<string, number>> {
  const info = await sf.redis.info('commandstats');
  const out = new Map<string, number>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

/**
 * An idle ordered consumer (docs/partitions.md §5.4): its partitions wait for new entries with
 * a blocking XREAD (which takes nothing into a PEL, so a paused consumer cannot take entries),
 * not by polling its fenced read script. Counts the Redis commands it sends per second while
 * nothing is published, and checks that an event published meanwhile is handled at once.
 */
test('an idle ordered consumer waits on a blocking read: few commands per second, new events handled at once', async () => {
  const sf = env.client();
  const P = 4;
  const topic = defineTopic<{ n: number }>('idle', { partitions: P });
  const handled: Array<{ n: number; at: number }> = [];
  const sub = sf.subscribe(topic, 'g', (p: { n: number }, _ctx: HandlerContext) => { handled.push({ n: p.n, at: performance.now() }); }, {
    consumer: 'c1', ordering: 'key', startFrom: 'beginning', leaseMs: 10_000, blockMs: 2000,
  });
  await sub.ready();
  await sleep(1500); // let reads settle into idle
  const before = await commandCounts(sf);
  const WINDOW = 6000;
  await sleep(WINDOW);
  const after = await commandCounts(sf);
  const delta = new Map([...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)]).filter(([, v]) => (v as number) > 0) as Array<[string, number]>);
  delta.set('info', (delta.get('info') ?? 1) - 1); // our own INFO
  const total = [...delta.values()].reduce((a, b) => a + b, 0);
  const perSecond = total / (WINDOW / 1000);
  console.log(`idle ordered consumer, ${P} partitions, leaseMs 10000, blockMs 2000: ${perSecond.toFixed(1)} commands/s (${[...delta].map(([k, v]) => `${k} ${v}`).join(', ')})`);
  // Measured when idle partitions polled their read script every 200 ms: 89 commands/s, of which
  // XREADGROUP (2 per read script) 9.7 per partition per second. With the blocking read: one
  // read script per partition per blockMs (XREADGROUP 1 per partition per second at blockMs 2000).
  const reads = (delta.get('xreadgroup') ?? 0) / (WINDOW / 1000) / P;
  expect(reads).toBeLessThan(2.5);
  expect(perSecond).toBeLessThan(45);

  // A publish while every partition waits is handled without waiting for blockMs.
  const t0 = performance.now();
  const [id] = await sf.publishMany(topic, [{ n: 1 }], { keys: ['k'] });
  await sf.waitFor(topic, id!, { timeoutMs: 5000 });
  expect(handled).toHaveLength(1);
  console.log(`publish to handled while idle: ${Math.round(handled[0]!.at - t0)} ms`);
  expect(handled[0]!.at - t0).toBeLessThan(1500);
  await sub.close();
}, 30_000);

/** Connections named `streamfan:<role>` open on the server now, by role. */
async function connectionsByRole(sf: { redis: { client(sub: 'LIST'): Promise<unknown> } }): Promise<Map<string, number>> {
  const list = String(await sf.redis.client('LIST'));
  const out = new Map<string, number>();
  for (const m of list.matchAll(/ name=(\S*)/g)) out.set(m[1]!, (out.get(m[1]!) ?? 0) + 1);
  return out;
}

/**
 * The idle partitions of an ordered consumer share one blocking XREAD on one connection: with
 * 12 partitions, subscribing opens a small constant number of connections (CLIENT LIST before
 * and after), not one per partition (before: 12 blocking connections, one per idle partition).
 * Events published to several partitions while all are idle are each handled promptly.
 */
test('an ordered consumer with 12 idle partitions opens a constant number of connections (one blocking read for all)', async () => {
  const sf = env.client();
  const P = 12;
  const topic = defineTopic<{ n: number }>('idle-conns', { partitions: P });
  const handled = new Map<number, number>();
  const before = await connectionsByRole(sf);
  const sub = sf.subscribe(topic, 'g', (p: { n: number }) => { handled.set(p.n, performance.now()); }, {
    consumer: 'c1', ordering: 'key', startFrom: 'beginning', leaseMs: 10_000, blockMs: 2000,
  });
  await sub.ready();
  await sleep(1500); // every partition idle
  const after = await connectionsByRole(sf);
  const opened = new Map([...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)] as [string, number]).filter(([, v]) => v > 0));
  const total = [...opened.values()].reduce((a, b) => a + b, 0);
  console.log(`ordered consumer, ${P} idle partitions: ${total} connections opened (${[...opened].map(([k, v]) => `${k} ${v}`).join(', ')})`);
  expect(opened.get('streamfan:blocking') ?? 0).toBe(1);
  expect(total).toBeLessThanOrEqual(3);

  // One event to each of several partitions, while all wait: each handled without waiting for blockMs.
  const keys = Array.from({ length: 24 }, (_, i) => `k${i}`);
  const t0 = performance.now();
  const ids = await sf.publishMany(topic, keys.map((_, n) => ({ n })), { keys });
  for (const id of ids) await sf.waitFor(topic, id, { timeoutMs: 5000 });
  const slowest = Math.max(...[...handled.values()].map((at) => at - t0));
  console.log(`24 events over ${new Set(ids.map((id) => id.split(':')[0])).size} idle partitions: slowest handled ${Math.round(slowest)} ms after publish`);
  expect(handled.size).toBe(24);
  expect(slowest).toBeLessThan(1500);
  // Still one blocking connection after the partitions went idle again.
  await sleep(500);
  const later = await connectionsByRole(sf);
  expect((later.get('streamfan:blocking') ?? 0) - (before.get('streamfan:blocking') ?? 0)).toBe(1);
  await sub.close();
}, 30_000);
