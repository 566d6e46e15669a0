import { waitFor } from '@streamfan/testing';
import { defineTopic, topicKeys } from '../src/internal';
import { useRedis } from './helpers';

const env = useRedis();

describe('reclaim behind a long pending list', () => {
  test("a dead consumer's 10 entries behind 2,000 live ones are reclaimed within about visibilityTimeoutMs + reclaimIntervalMs", async () => {
    const sf = env.client();
    const topic = defineTopic<number>('long-pel');
    const stream = topicKeys(sf.prefix, topic.name).stream;
    const vt = 1000;
    const interval = 500;
    // A live, slow consumer holds 2,000 entries and keeps their leases.
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const live = sf.subscribe(topic, 'g', () => gate, { startFrom: 'beginning', consumer: 'live', concurrency: 2000, visibilityTimeoutMs: vt });
    await live.ready();
    for (let i = 0; i < 2000; i += 500) await sf.publishMany(topic, Array.from({ length: 500 }, (_, j) => i + j));
    await waitFor(() => live.running.length === 2000, { timeoutMs: 20_000, message: 'live consumer holds 2,000' });
    // A consumer that read 10 entries after them, then died.
    const ids = await sf.publishMany(topic, Array.from({ length: 10 }, (_, j) => 10_000 + j));
    const raw = env.server().client();
    const got = (await raw.xreadgroup('GROUP', 'g', 'ghost', 'COUNT', 10, 'STREAMS', stream, '>')) as Array<[string, Array<[string]>]>;
    raw.disconnect();
    const deadAt = Date.now();
    expect(got[0]![1].map((e) => e[0])).toEqual(ids);

    const handledAt = new Map<number, number>();
    const rescuer = sf.subscribe(topic, 'g', (n) => { handledAt.set(n, Date.now()); },
      { consumer: 'rescuer', concurrency: 5, visibilityTimeoutMs: vt, reclaimIntervalMs: interval });
    await waitFor(() => handledAt.size === 10, { timeoutMs: 30_000, message: 'the dead consumer\'s 10 entries handled' });
    const last = Math.max(...handledAt.values()) - deadAt;
    if (process.env.SHOW_MEASURES) console.log(`reclaimed 10 dead entries behind 2,000 live ones in ${last} ms`);
    // About vt + interval (1.5 s); the bound leaves room for a loaded machine. Before the fix it took 40 ticks (≈ 20 s).
    expect(last).toBeLessThan(vt + interval + 3000);
    expect(live.stats.reclaimed).toBe(0);
    expect(rescuer.stats.reclaimed).toBe(10);
    release();
    await Promise.all([live.close(), rescuer.close()]);
  }, 60_000);
});
