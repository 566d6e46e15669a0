import { waitFor } from '@streamfan/testing';
import { NotPendingError, defineTopic, type TailedEvent } from '../src';
import { useRedis } from './helpers';

// One admin style: every repair and inspection is a method of the client.
const env = useRedis();

test('pendingPage, claim, ack, show and tail are methods of Streamfan', async () => {
  const sf = env.client();
  const topic = defineTopic<{ n: number }>('repairs');
  const sub = sf.subscribe(topic, 'g', () => new Promise(() => undefined), { startFrom: 'beginning', shutdownGraceMs: 0, visibilityTimeoutMs: 60_000 });
  await sub.ready();
  const id = await sf.publish(topic, { n: 1 }, { headers: { who: 'ops' } });
  await waitFor(async () => (await sf.pendingPage(topic, 'g')).entries.length === 1, { message: 'held by the consumer' });
  const page = await sf.pendingPage(topic, 'g', { payload: true });
  expect(page.entries[0]).toMatchObject({ id, eventId: id, consumer: sub.consumer, payload: { n: 1 } });

  const claimed = await sf.claim(topic, 'g', [id], 'operator');
  expect(claimed).toEqual([expect.objectContaining({ id, previousOwner: sub.consumer })]);
  await expect(sf.claim(topic, 'g', ['1-1'], 'operator')).rejects.toBeInstanceOf(NotPendingError);

  const acked = await sf.ack(topic, 'g', [id]);
  expect(acked).toEqual([expect.objectContaining({ id, eventId: id, previousOwner: 'operator' })]);
  const shown = await sf.show(topic, id);
  expect(shown).toMatchObject({ id, payload: { n: 1 }, headers: { who: 'ops' }, groups: { g: { state: 'succeeded' } } });

  const ac = new AbortController();
  const seen: TailedEvent[] = [];
  const tailing = (async () => {
    for await (const e of sf.tail(topic, { from: id, signal: ac.signal, blockMs: 100 })) {
      seen.push(e);
      ac.abort();
    }
  })();
  const next = await sf.publish(topic, { n: 2 });
  await tailing;
  expect(seen.map((e) => e.id)).toEqual([next]);
  await sub.close();
});
