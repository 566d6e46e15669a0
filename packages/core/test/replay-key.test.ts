import { waitFor } from '@streamfan/testing';
import { defineTopic, partitionKeys } from '../src/internal';
import { useRedis } from './helpers';

const env = useRedis();

function fields(flat: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) m.set(flat[i]!, flat[i + 1]!);
  return m;
}

/**
 * A partitioned topic's entries carry their partition key (`key`). A dead letter of such an event,
 * and its replay, keep it: a replayed event is still its key's event (ordering, what the owner
 * and the operator see).
 */
describe('dead-letter replay on a partitioned topic keeps the event key', () => {
  test('a dead letter (first attempt, and after a retry) holds the key; the replay in the redelivery stream too', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number; retry: boolean }>('keyed-replay', { partitions: 2 });
    const sub = sf.subscribe(topic, 'g', (p, ctx) => {
      if (p.retry && ctx.attempt === 1) throw new Error('once');
      ctx.deadLetter(`bad ${p.n}`);
    }, { startFrom: 'beginning', leaseMs: 1000, blockMs: 50, backoff: { type: 'fixed', delayMs: 10 } });
    await sub.ready();
    const keys = ['alpha', 'beta'];
    const ids = await sf.publishMany(topic, [{ n: 0, retry: false }, { n: 1, retry: true }], { keys });
    for (const id of ids) expect((await sf.waitFor(topic, id, { timeoutMs: 10_000 })).groups.g!.state).toBe('dead');
    await sub.close();

    const dl = sf.deadLetters(topic, 'g');
    const list = await dl.list();
    expect(list).toHaveLength(2);
    const byKey = new Map<string, string>();
    for (const d of list) {
      const p = Number(d.deadLetterId.slice(1, d.deadLetterId.indexOf(':')));
      const dlId = d.deadLetterId.slice(d.deadLetterId.indexOf(':') + 1);
      const [row] = await sf.redis.xrange(partitionKeys(sf.prefix, topic.name, p).deadLetters('g'), dlId, dlId);
      const key = fields(row![1]).get('key');
      expect(key).toBeDefined();
      byKey.set(key!, d.deadLetterId);
    }
    expect([...byKey.keys()].sort()).toEqual(keys);

    expect(await dl.replay({ ids: list.map((d) => d.deadLetterId) })).toBe(2);
    const copies: string[] = [];
    for (let p = 0; p < 2; p++) {
      for (const [, flat] of await sf.redis.xrange(partitionKeys(sf.prefix, topic.name, p).redeliver('g'), '-', '+')) {
        const f = fields(flat);
        if (f.get('base') === '0') copies.push(f.get('key') ?? '(none)'); // the replays
      }
    }
    expect(copies.sort()).toEqual(keys);
    await waitFor(async () => (await dl.count()) === 0, { message: 'dead letters replayed' });
  });
});
