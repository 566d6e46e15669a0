import { waitFor } from '@streamfan/testing';
import { defineTopic, GroupRetiredError, partitionKeys } from '../src/internal';
import { useCluster } from './cluster-helpers';

// A partitioned topic's partitions are in their own slots, spread over the masters: retireGroup
// lists the group on each, then runs one script per partition, each on its partition's node.
const used = useCluster();

test('on a cluster: retiring a group of a partitioned topic stops its ordered consumer (one GroupRetiredError), leaves the other group working, and unretire lets it subscribe again', async () => {
  const { sf } = used;
  const topic = defineTopic<{ n: number }>('retire.parts', { partitions: 6 });
  const opts = { leaseMs: 1000, blockMs: 100, reclaimIntervalMs: 100 };
  const keep = sf.subscribe(topic, 'keep', () => undefined, opts);
  await keep.ready(); // before gone starts: two partitioned consumers of one client starting together race on its rebalance subscriber
  const gone = sf.subscribe(topic, 'gone', (_p, ctx) => new Promise((r) => ctx.signal.addEventListener('abort', r)), { ...opts, ordering: 'key', handlerTimeoutMs: 60_000 });
  const errors: Error[] = [];
  gone.on('error', (e) => errors.push(e));
  const closed = new Promise((r) => gone.once('closed', r));
  await Promise.all([keep.ready(), gone.ready()]);
  await sf.publishMany(topic, [{ n: 1 }, { n: 2 }, { n: 3 }], { keys: ['a', 'b', 'c'] });
  await waitFor(() => gone.running.length === 3, { timeoutMs: 10_000, message: 'the doomed group runs the events' });

  const report = await sf.retireGroup(topic, 'gone');
  expect(report).toMatchObject({ alreadyRetired: false, consumers: 1, pending: 3 });
  expect(report.partitions).toHaveLength(6);
  await closed;
  expect(errors.map((e) => e.constructor.name)).toEqual(['GroupRetiredError']);
  expect((errors[0] as GroupRetiredError).topic).toBe('retire.parts');
  for (let i = 0; i < 6; i++) expect(await sf.redis.hget(partitionKeys(sf.prefix, 'retire.parts', i).retired, 'gone')).not.toBeNull();
  expect((await sf.groups(topic)).map((g) => [g.group, g.retired ?? false])).toEqual([['gone', true], ['keep', false]]);

  expect(await sf.unretireGroup(topic, 'gone')).toBe(true);
  const back = sf.subscribe(topic, 'gone', () => undefined, { ...opts, ordering: 'key' });
  await back.ready();
  const id = await sf.publish(topic, { n: 4 }, { key: 'd' });
  expect(Object.keys((await sf.waitFor(topic, id, { timeoutMs: 15_000 })).groups).sort()).toEqual(['gone', 'keep']);
  await Promise.all([back.close(), keep.close()]);
}, 90_000);
