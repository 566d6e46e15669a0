import { waitFor } from '@streamfan/testing';
import { Cluster } from 'ioredis';
import { defineTopic, topicKeys } from '../src/internal';
import { useCluster } from './cluster-helpers';

// Every key of a topic shares the hash tag {<topic>}: on a cluster each topic lives on one
// node, so every multi-key script (ack, retry, dead-letter, promote, trim) runs there.
const used = useCluster();

test('topics spread over the cluster fan out to every group, with retries, dead letters, delays, status and waitFor', async () => {
  const { sf } = used;
  const names = ['orders', 'users', 'payments', 'emails', 'audit', 'search'];
  const topics = names.map((n) => defineTopic<{ n: number; fail?: boolean }>(n));
  const slots = new Set<string>();
  const probe = sf.redis as unknown as Cluster;
  for (const t of topics) slots.add(String(await probe.call('CLUSTER', 'KEYSLOT', topicKeys(sf.prefix, t.name).stream)));
  const ranges = (await probe.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number]]>;
  const owners = new Set([...slots].map((slot) => ranges.find(([lo, hi]) => Number(slot) >= lo && Number(slot) <= hi)?.[2][1]));
  expect(owners.size).toBeGreaterThan(1); // the topics really live on different nodes
  expect(slots.size).toBe(names.length);

  const handled = new Map<string, number>();
  const subs = topics.flatMap((t) => ['a', 'b'].map((g) => sf.subscribe(t, g, (p, ctx) => {
    if (p.fail && g === 'b' && ctx.attempt < 2) throw new Error('first attempt fails');
    if (p.fail && g === 'a') ctx.deadLetter('a refuses it');
    handled.set(`${t.name}/${g}`, (handled.get(`${t.name}/${g}`) ?? 0) + 1);
    return { g };
  }, { startFrom: 'beginning', backoff: { type: 'fixed', delayMs: 100 }, reclaimIntervalMs: 100, blockMs: 500 })));
  await Promise.all(subs.map((s) => s.ready()));

  const ids: Array<[typeof topics[number], string]> = [];
  for (const t of topics) {
    for (const id of await sf.publishMany(t, [{ n: 1 }, { n: 2 }])) ids.push([t, id]);
    ids.push([t, await sf.publish(t, { n: 3, fail: true })]);
  }
  const delayed = await sf.publish(topics[0]!, { n: 4 }, { delayMs: 300 });
  expect(delayed.startsWith('delayed-')).toBe(true);

  for (const [t, id] of ids) {
    const st = await sf.waitFor(t, id, { timeoutMs: 20_000 });
    expect(st.groups.a?.state).toMatch(/succeeded|dead/);
    expect(st.groups.b?.state).toBe('succeeded');
  }
  const failing = ids.filter((_, i) => i % 3 === 2);
  for (const [t, id] of failing) {
    const st = await sf.status(t, id);
    expect(st.groups.a).toMatchObject({ state: 'dead', attempts: 1 });
    expect(st.groups.b).toMatchObject({ state: 'succeeded', attempts: 2 });
  }
  await waitFor(() => handled.get('orders/a') === 3, { message: 'the delayed event reached orders/a', timeoutMs: 10_000 });
  const listed = await sf.topics();
  expect(listed.map((t) => t.topic).sort()).toEqual([...names].sort());
  const groups = await sf.groups(topics[1]!);
  expect(groups.map((g) => [g.group, g.pending, g.deadLetters])).toEqual([['a', 0, 1], ['b', 0, 0]]);
  const trim = await sf.trim(topics[1]!, { approximate: false });
  expect(trim.removed).toBe(3);
  await Promise.all(subs.map((s) => s.close()));
}, 90_000);
