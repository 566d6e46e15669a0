import { waitFor } from '@streamfan/testing';
import { defineTopic, topicKeys } from '../src/internal';
import { useRedis } from './helpers';

// Retention while a group is destroyed (XGROUP DESTROY) and not recreated yet: the trim scripts
// see only the groups on the stream. A safe trim removed what the missing group had not handled,
// and a hard cap recorded its removals `lost` only in the groups that existed: the missing group's
// status of those events stayed unknown for good (model seed 10 with `+destroy`: a cap ran while
// every consumer of group b stalled after its destroy). The group's consumers now leave where it
// was (known-groups.ts); retention holds its entries back, and the cap records them lost there.
const env = useRedis();

async function setup(name: string) {
  const sf = env.client();
  const topic = defineTopic<string>(name);
  const stream = topicKeys(sf.prefix, topic.name).stream;
  const seen: Record<string, string[]> = { a: [], b: [] };
  const subs = (['a', 'b'] as const).map((g) => sf.subscribe(topic, g, (p) => { seen[g]!.push(p); }, { startFrom: 'beginning', reclaimIntervalMs: 100 }));
  for (const s of subs) await s.ready();
  const first = await sf.publish(topic, 'first');
  await waitFor(() => seen.a!.includes('first') && seen.b!.includes('first'), { message: 'first handled by both' });
  // b's consumer has recorded where b is (a reclaim tick after its ack), then stops for good.
  const known = `${stream.slice(0, -':stream'.length)}:known-groups`;
  const [ms, seq] = first.split('-');
  await waitFor(async () => ((await sf.redis.zrange(known, 0, -1)) as string[]).some((m) => m.startsWith(`b|${ms}-${Number(seq) + 1}|`)), { message: 'b recorded past first' });
  await subs[1]!.close();
  await sf.redis.xgroup('DESTROY', stream, 'b');
  const later = await sf.publishMany(topic, ['e1', 'e2', 'e3', 'e4', 'e5']);
  for (const id of later) await waitFor(async () => (await sf.status(topic, id)).groups.a?.state === 'succeeded', { message: `${id} done in a` });
  return { sf, topic, stream, first, later, subs };
}

test('a safe trim keeps what a destroyed group had not handled yet', async () => {
  const { sf, topic, stream, later, subs } = await setup('destroyed-trim');
  const r = await sf.trim(topic, { approximate: false });
  expect(r.lostToCap).toBe(0);
  const left = (await sf.redis.xrange(stream, '-', '+')).map((e) => e[0]);
  for (const id of later) expect(left).toContain(id);
  await subs[0]!.close();
});

test('a hard cap while a group is destroyed records the entries it removed lost in that group, once, and leaves what it had finished', async () => {
  const { sf, topic, first, later, subs } = await setup('destroyed-cap');
  const r = await sf.trim(topic, { maxLen: 1 });
  const capped = [first, ...later.slice(0, 4)];
  expect(r.lostByGroup).toEqual({ b: 4 });
  expect(r.lostToCap).toBe(4);
  expect(r.lostIds).toEqual(later.slice(0, 4));
  // status() shows the groups on the stream only: read b's field of each status hash.
  const keys = topicKeys(sf.prefix, topic.name);
  expect(await sf.redis.hget(keys.status(first), 'b:state')).toBeNull(); // finished before: not lost
  for (const id of later.slice(0, 4)) {
    expect([id, (await sf.status(topic, id)).groups.a?.state, await sf.redis.hget(keys.status(id), 'b:state')]).toEqual([id, 'succeeded', 'lost']);
  }
  expect(capped.length).toBe(5);
  // A second cap finds nothing more to record.
  await sf.publish(topic, 'e6');
  const again = await sf.trim(topic, { maxLen: 1 });
  expect(again.lostByGroup).toEqual({ b: 1 });
  await subs[0]!.close();
});
