import { sleep, waitFor } from '@streamfan/testing';
import { readLogs } from '../src/checker';
import type { DeliveryRecord } from '../src/protocol';
import { expectClean, useFaultServer } from './harness';

const env = useFaultServer();

test('3. SIGSTOP a worker beyond the visibility timeout, another reclaims, SIGCONT: the stale ack and status write are refused', async () => {
  const s = env.scenario({ groups: ['billing'], worker: { concurrency: 4, visibilityTimeoutMs: 1000, reclaimIntervalMs: 200, workMs: 400 }, publisher: { batch: 4 } });
  const a = s.fleet.spawn('stale');
  await a.ready();
  await s.publisher.publishN(12);
  const deliveries = () => readLogs(s.runDir).filter((r): r is DeliveryRecord => r.k === 'd');
  await waitFor(() => deliveries().filter((d) => d.consumer === a.consumer && d.o === 'start').length >= 4, { message: 'the first worker holds entries' });
  a.signal('SIGSTOP');
  const held = deliveries().filter((d) => d.consumer === a.consumer && d.o === 'start' && !deliveries().some((x) => x.o === 'ok' && x.id === d.id));
  const b = s.fleet.spawn('fresh');
  await b.ready();
  // Beyond the visibility timeout: b reclaims what the stopped worker holds and finishes it.
  await waitFor(() => held.every((h) => deliveries().some((d) => d.consumer === b.consumer && d.o === 'ok' && d.id === h.id)), { timeoutMs: 30_000, message: 'the fresh worker handled every held entry' });
  await sleep(300);
  a.signal('SIGCONT');
  await waitFor(() => {
    const refused = new Set(a.events.filter((e) => e.type === 'stale' || e.type === 'leaseLost').flatMap((e) => (e.data as { ids?: string[]; id?: string }).ids ?? [(e.data as { id: string }).id]));
    return held.every((h) => refused.has(h.id));
  }, { timeoutMs: 20_000, message: 'the stale worker reported every late ack as refused' });
  const reports = await s.finish('3. SIGSTOP past the visibility timeout, reclaim, SIGCONT', {
    notes: () => [`entries held by the stopped worker: ${held.length}; its late acks refused: ${a.seen('stale').flatMap((e) => (e.data as { ids: string[] }).ids).length}, leases lost: ${a.seen('leaseLost').length}`],
  });
  expectClean(reports);
  expect(held.length).toBeGreaterThanOrEqual(4);
  for (const h of held) {
    const st = await s.sf.status(s.topic, h.id);
    expect({ id: h.id, consumer: st.groups.billing?.consumer, state: st.groups.billing?.state }).toEqual({ id: h.id, consumer: b.consumer, state: 'succeeded' });
  }
  await s.fleet.stopAll();
});
