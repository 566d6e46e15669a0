import { waitFor } from '@streamfan/testing';
import { defineTopic, GroupRetiredError } from '../src/internal';
import { useCluster } from './cluster-helpers';

// retireGroup's and createGroup's keys share the topic's hash tag: both run on a cluster, and the
// `retired` notice to a waiting waitFor goes by SPUBLISH where the servers have it.
const used = useCluster();

test('on a cluster: retiring a group stops its consumer, a waitFor waiting on it resolves with the other group, groups() lists it retired', async () => {
  const { sf } = used;
  const topic = defineTopic<string>('retire.cluster');
  const keep = sf.subscribe(topic, 'keep', () => undefined, { blockMs: 200 });
  const gone = sf.subscribe(topic, 'gone', (_p, ctx) => new Promise((r) => ctx.signal.addEventListener('abort', r)), { blockMs: 200, reclaimIntervalMs: 100 });
  const errors: Error[] = [];
  gone.on('error', (e) => errors.push(e));
  const closed = new Promise((r) => gone.once('closed', r));
  await Promise.all([keep.ready(), gone.ready()]);
  expect((await sf.groups(topic)).map((g) => [g.group, g.consumers])).toEqual([['gone', 1], ['keep', 1]]);
  const id = await sf.publish(topic, 'x');
  const waiting = sf.waitFor(topic, id, { timeoutMs: 15_000 });
  await waitFor(() => gone.running.length === 1, { message: 'the doomed group runs the event' });
  const report = await sf.retireGroup(topic, 'gone');
  expect(report).toMatchObject({ alreadyRetired: false, consumers: 1, pending: 1 });
  expect(Object.keys((await waiting).groups)).toEqual(['keep']);
  await closed;
  // Only the retirement: not a prune's or a blocked read's reply about the deleted redelivery stream.
  expect(errors.map((e) => e.constructor.name)).toEqual(['GroupRetiredError']);
  expect(errors[0]).toBeInstanceOf(GroupRetiredError);
  expect((await sf.groups(topic)).map((g) => [g.group, g.retired ?? false])).toEqual([['keep', false], ['gone', true]]);
  await keep.close();
});
