/**
 * Priority lanes on a 3-master Redis Cluster (docs/priorities.md §2): every lane lives in the
 * topic's hash tag, so publish (idempotent across lanes, delayed), consume, retries, status,
 * waitFor (SSUBSCRIBE on the lane's channel), listings and the blocking tail over all lanes run
 * as on one server. Measures: each event's final status, the slot of every lane key, the listing.
 */
import { Cluster } from 'ioredis';
import { defineTopic, laneKeys } from '../src/internal';
import { useCluster } from './cluster-helpers';

const used = useCluster({ client: { promoteIntervalMs: 50 } });

test('a prioritized topic on a cluster: one slot for every lane; publish, consume, retry, delay, waitFor, listings', async () => {
  const { sf } = used;
  const t = defineTopic<{ n: number; fail?: boolean }>('mail', { priorities: ['high', 'normal', 'low'] });
  const probe = sf.redis as unknown as Cluster;
  const slots = new Set<string>();
  for (const lane of ['high', 'normal', 'low']) {
    const k = laneKeys(sf.prefix, 'mail', lane, 'normal');
    for (const key of [k.stream, k.status('1-0'), k.redeliver('g'), k.deadLetters('g'), k.delayed, k.idempotency('x')]) {
      slots.add(String(await probe.call('CLUSTER', 'KEYSLOT', key)));
    }
  }
  expect(slots.size).toBe(1);
  const seen: string[] = [];
  const sub = sf.subscribe(t, 'send', (p, ctx) => {
    seen.push(`${ctx.priority}:${ctx.attempt}`);
    if (p.fail && ctx.attempt < 2) throw new Error('first attempt fails');
    return { lane: ctx.priority };
  }, { startFrom: 'beginning', backoff: { type: 'fixed', delayMs: 100 }, reclaimIntervalMs: 100, blockMs: 500 });
  await sub.ready();
  const ids = [
    await sf.publish(t, { n: 1 }, { priority: 'high' }),
    await sf.publish(t, { n: 2, fail: true }, { priority: 'low' }),
    await sf.publish(t, { n: 3 }),
    await sf.publish(t, { n: 4 }, { priority: 'high', idempotencyKey: 'once' }),
    await sf.publish(t, { n: 5 }, { priority: 'low', delayMs: 200 }),
  ];
  expect(await sf.publish(t, { n: 6 }, { priority: 'low', idempotencyKey: 'once' })).toBe(ids[3]);
  for (const id of ids) {
    const st = await sf.waitFor(t, id, { timeoutMs: 20_000 });
    expect(st.groups.send!.state).toBe('succeeded');
  }
  expect((await sf.status(t, ids[1]!)).groups.send!.attempts).toBe(2);
  expect((await sf.status(t, ids[4]!)).eventId).toMatch(/^low:\d+-\d+$/);
  const [g] = await sf.groups(t);
  expect(g!.lanes!.map((l) => [l.lane, l.length])).toEqual([['high', 2], ['normal', 1], ['low', 2]]);
  expect((await sf.topics()).find((r) => r.topic === 'mail')).toEqual(expect.objectContaining({ lanes: ['high', 'normal', 'low'], laneLengths: [2, 1, 2] }));
  await sub.close();
}, 60_000);
