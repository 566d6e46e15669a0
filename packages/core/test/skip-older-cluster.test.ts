/**
 * skipOlderThanMs on a 3-master Redis Cluster: skipEntries' keys (the stream, the waiters key,
 * the success buckets) share the topic's hash tag, and waitFor hears the skip's notice there
 * (SSUBSCRIBE / SPUBLISH where the servers have them). Measures: each old event's final status,
 * and that the handler ran only for the fresh one.
 */
import { waitFor } from '@streamfan/testing';
import { defineTopic } from '../src/internal';
import { useCluster } from './cluster-helpers';

const used = useCluster({ client: { promoteIntervalMs: 50 } });

test('a stale backlog on a cluster is skipped (waitFor resolves skipped); a fresh event runs', async () => {
  const { sf } = used;
  const t = defineTopic<{ n: number }>('ticks');
  const old = [await sf.publish(t, { n: 1 }), await sf.publish(t, { n: 2 })];
  await new Promise((r) => setTimeout(r, 1700));
  // Waiting before the skip: resolved by its notice (SPUBLISH where the servers have it).
  const waiting = sf.waitFor(t, old[0]!, { groups: ['live'], timeoutMs: 20_000 });
  await new Promise((r) => setTimeout(r, 200));
  const seen: number[] = [];
  const sub = sf.subscribe(t, 'live', (p) => { seen.push(p.n); }, { startFrom: 'beginning', skipOlderThanMs: 1500, blockMs: 500 });
  await sub.ready();
  const fresh = await sf.publish(t, { n: 3 });
  expect((await waiting).groups.live?.state).toBe('skipped');
  for (const id of old) expect((await sf.waitFor(t, id, { timeoutMs: 20_000 })).groups.live?.state).toBe('skipped');
  expect((await sf.waitFor(t, fresh, { timeoutMs: 20_000 })).groups.live?.state).toBe('succeeded');
  expect(seen).toEqual([3]);
  await waitFor(() => sub.stats.skipped === 2, { timeoutMs: 5_000, message: 'the skips counted (the consumer counts on the reply)' });
  await sub.close();
}, 60_000);
