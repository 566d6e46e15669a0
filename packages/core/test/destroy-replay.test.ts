import { waitFor } from '@streamfan/testing';
import { defineTopic, topicKeys } from '../src/internal';
import { useRedis } from './helpers';

const env = useRedis();

/**
 * The model's `destroy-replay` (seeds 10 and 15 with `+destroy`): a consumer that recreates a
 * destroyed group knows the group's position only as of its own last read or reclaim tick, so the
 * entries other consumers finished after that are delivered again. They are settled already: their
 * status in the group is final, and they must not be handled a second time.
 */
describe('after XGROUP DESTROY, entries the group had finished are not handled again', () => {
  test('a consumer that read nothing for a while recreates the group behind what another consumer finished: those entries are acknowledged, not run', async () => {
    const sf = env.client();
    const topic = defineTopic<string>('destroy-replay');
    const stream = topicKeys(sf.prefix, topic.name).stream;
    const runs = new Map<string, number>();
    const count = (p: string) => runs.set(p, (runs.get(p) ?? 0) + 1);
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    // A: one slot, held by 'slow' until released, and no reclaim tick meanwhile: it neither reads
    // nor learns where the group is while B works.
    const a = sf.subscribe(topic, 'g', async (p) => {
      count(p);
      if (p === 'slow') await gate;
    }, { startFrom: 'beginning', consumer: 'a', concurrency: 1, reclaimIntervalMs: 600_000, visibilityTimeoutMs: 600_000 });
    await a.ready();
    await sf.publish(topic, 'slow');
    await waitFor(() => runs.get('slow') === 1, { message: 'a runs slow' });
    const recovered: string[] = [];
    a.on('recovered', (e) => recovered.push(e.reason));

    // B finishes what comes next: plain successes (success records), a result (status hash), a dead letter.
    const b = sf.subscribe(topic, 'g', (p, ctx) => {
      count(p);
      if (p === 'dead') ctx.deadLetter('no');
      if (p === 'result') return { ok: true };
      return undefined;
    }, { consumer: 'b', concurrency: 10, reclaimIntervalMs: 600_000, visibilityTimeoutMs: 600_000 });
    await b.ready();
    const names = [...Array.from({ length: 8 }, (_, i) => `plain-${i}`), 'result', 'dead'];
    const ids = await sf.publishMany(topic, names);
    for (const id of ids) await waitFor(async () => ['succeeded', 'dead'].includes((await sf.status(topic, id)).groups.g?.state ?? ''), { message: `${id} finished by b` });
    await b.close();

    await sf.redis.xgroup('DESTROY', stream, 'g');
    // A notices at its next read, once its slot frees, and recreates the group after its own last read ('slow').
    release();
    await waitFor(() => recovered.length > 0, { timeoutMs: 15_000, message: 'a recovered' });
    const after = await sf.publish(topic, 'after');
    await waitFor(() => runs.get('after') === 1, { timeoutMs: 15_000, message: 'a new event runs' });
    await waitFor(async () => (await sf.status(topic, after)).groups.g?.state === 'succeeded', { message: 'after succeeded' });
    // Nothing finished before the destroy ran again; nothing is left pending; the statuses are unchanged.
    for (const n of names) expect([n, runs.get(n)]).toEqual([n, 1]);
    expect(runs.get('slow')).toBe(1);
    await waitFor(async () => (await sf.pending(topic, 'g')).length === 0, { message: 'nothing pending' });
    const states = await Promise.all(ids.map(async (id) => (await sf.status(topic, id)).groups.g?.state));
    expect(states).toEqual([...Array(9).fill('succeeded'), 'dead']);
    expect((await sf.deadLetters(topic, 'g').list({ count: 10 })).length).toBe(1);
    await a.close();
  });
});
