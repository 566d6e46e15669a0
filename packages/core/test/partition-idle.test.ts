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
