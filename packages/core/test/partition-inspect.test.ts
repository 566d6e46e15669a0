import { sleep, waitFor } from '@streamfan/testing';
import { defineTopic, partitionForKey, partitionKeys, type HandlerContext, type Streamfan } from './partition-helpers';
import { InvalidOptionError, NotPendingError, type Subscription } from '../src';
import type { PartitionedConsumerInfo } from '../src/partitions/admin-ops';
import { useRedis } from './helpers';

const env = useRedis();

/** A group whose handlers wait until released, so entries stay pending. */
function holding(sf: Streamfan, topic: ReturnType<typeof defineTopic<{ n: number }>>, group: string, options: Record<string, unknown> = {}) {
  let release = false;
  const seen: string[] = [];
  const sub = sf.subscribe(topic, group, async (_p, ctx: HandlerContext) => {
    seen.push(ctx.id);
    await waitFor(() => release || ctx.signal.aborted, { timeoutMs: 30_000 });
  }, { consumer: 'c1', startFrom: 'beginning', leaseMs: 1000, blockMs: 50, concurrency: 20, ...options });
  sub.on('error', () => undefined);
  return { sub, seen, release: () => { release = true; } };
}

describe('inspection and hand repair of a partitioned topic', () => {
  test('pendingPage pages over partitions with p<i>: ids; show, consumers, claim and ack by p<i>: id', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('orders', { partitions: 3 });
    const h = holding(sf, topic, 'billing');
    await h.sub.ready();
    const keys = Array.from({ length: 12 }, (_, i) => `k${i}`);
    const ids = await sf.publishMany(topic, keys.map((_, n) => ({ n })), { keys });
    await waitFor(() => h.seen.length === 12);

    // Pages of 5, 5, 2: every id once, ordered by (entry id, partition), `next` pages on.
    const got: string[] = [];
    let after: string | undefined;
    for (let n = 0; n < 5; n++) {
      const page = await sf.pendingPage(topic, 'billing', { limit: 5, ...(after ? { after } : {}), payload: true });
      got.push(...page.entries.map((e) => e.id));
      for (const e of page.entries) {
        expect(e.id).toMatch(/^p[0-2]:\d+-\d+$/);
        expect(e.eventId).toBe(e.id);
        expect(e.consumer).toBe('c1');
        expect(e.payload).toEqual({ n: ids.indexOf(e.id) });
      }
      if (!page.next) break;
      after = page.next;
    }
    expect([...got].sort()).toEqual([...ids].sort());
    expect(new Set(got).size).toBe(12);
    await expect(sf.pendingPage(topic, 'billing', { after: '1700000000000-0' })).rejects.toThrow(/p3:1700000000000-0/);

    // show: payload, key's partition, status with public ids.
    const shown = await sf.show(topic, ids[4]!);
    expect(shown).toMatchObject({ id: ids[4], topic: 'orders', inStream: true, payload: { n: 4 }, partition: partitionForKey('k4', 3) });
    expect(shown.groups.billing?.state).toBe('processing');
    await expect(sf.show(topic, '1700000000000-0')).rejects.toThrow(/p3:1700000000000-0/);

    // consumers: one consumer, pending summed over the partitions it holds.
    const consumers = (await sf.consumers(topic, 'billing')) as PartitionedConsumerInfo[];
    expect(consumers).toHaveLength(1);
    expect(consumers[0]).toMatchObject({ name: 'c1', pending: 12 });
    expect(consumers[0]!.partitions.sort()).toEqual([0, 1, 2]);

    // claim: an unknown id refuses the whole call; then two ids move to 'surgeon'.
    const bogus = `p${partitionForKey('k0', 3)}:1-0`;
    await expect(sf.claim(topic, 'billing', [ids[0]!, bogus], 'surgeon')).rejects.toBeInstanceOf(NotPendingError);
    const claimed = await sf.claim(topic, 'billing', [ids[0]!, ids[1]!], 'surgeon');
    expect(claimed.map((c) => c.id)).toEqual([ids[0], ids[1]]);
    expect(claimed.every((c) => c.previousOwner === 'c1')).toBe(true);

    // ack: status succeeded by hand; the entries leave the pending list.
    const acked = await sf.ack(topic, 'billing', [ids[0]!, ids[2]!]);
    expect(acked.map((a) => a.eventId)).toEqual([ids[0], ids[2]]);
    expect((await sf.status(topic, ids[2]!)).groups.billing?.state).toBe('succeeded');
    const left = await sf.pendingPage(topic, 'billing', { limit: 100 });
    expect(left.entries.map((e) => e.id).sort()).toEqual(ids.filter((id) => id !== ids[0] && id !== ids[2]).sort());
    await expect(sf.ack(topic, 'billing', [ids[0]!])).rejects.toThrow(new RegExp(`${ids[0]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not pending`));

    h.release();
    await h.sub.close();
  });

  test('ordered group: claim by hand is refused; ack by hand settles a waiting retry and its key moves on', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('ledger', { partitions: 2 });
    const runs: Array<{ n: number; attempt: number }> = [];
    const sub = sf.subscribe(topic, 'books', (p: { n: number }, ctx: HandlerContext) => {
      runs.push({ n: p.n, attempt: ctx.attempt });
      if (p.n === 0) throw new Error('always fails'); // held back for a retry, in place
    }, { consumer: 'c1', ordering: 'key', startFrom: 'beginning', leaseMs: 1000, blockMs: 50, backoff: { type: 'fixed', delayMs: 60_000 }, maxAttempts: 5 });
    sub.on('error', () => undefined);
    await sub.ready();
    const ids = await sf.publishMany(topic, [{ n: 0 }, { n: 1 }], { keys: ['acct', 'acct'] });
    await waitFor(() => runs.length === 1);
    await sleep(200);
    expect(runs).toEqual([{ n: 0, attempt: 1 }]); // n=1 is held behind n=0's retry
    const local = ids[0]!.split(':')[1]!;
    const backoff = partitionKeys(sf.prefix, 'ledger', partitionForKey('acct', 2)).backoff('books');
    expect(await sf.redis.zscore(backoff, local)).not.toBeNull();

    await expect(sf.claim(topic, 'books', [ids[0]!], 'surgeon')).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(sf.claim(topic, 'books', [ids[0]!], 'surgeon')).rejects.toThrow(/orders by key/);

    const [a] = await sf.ack(topic, 'books', [ids[0]!]);
    expect(a).toMatchObject({ id: ids[0], previousOwner: 'c1' });
    expect(await sf.redis.zscore(backoff, local)).toBeNull();
    expect((await sf.status(topic, ids[0]!)).groups.books?.state).toBe('succeeded');
    // The owner learns at its retry (60 s away); a restart adopts without the acked entry: n=1 runs.
    await sub.close();
    const again = sf.subscribe(topic, 'books', (p: { n: number }, ctx: HandlerContext) => { runs.push({ n: p.n, attempt: ctx.attempt }); },
      { consumer: 'c2', ordering: 'key', startFrom: 'beginning', leaseMs: 1000, blockMs: 50 });
    await again.ready();
    const final = await sf.waitFor(topic, ids[1]!, { timeoutMs: 10_000 });
    expect(final.groups.books?.state).toBe('succeeded');
    expect(runs.filter((r) => r.n === 0)).toHaveLength(1);
    await again.close();
  });

  test('delayed() lists every partition soonest first; tail() merges partitions with p<i>: ids and keys', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('mail', { partitions: 4 });
    const delayedIds = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((key, n) => sf.publish(topic, { n }, { key, delayMs: 60_000 + n * 1000 })));
    const listed = await sf.delayed(topic, { limit: 10 });
    expect(listed.map((d) => d.id)).toEqual(delayedIds);
    expect(listed.map((d) => d.payload)).toEqual([0, 1, 2, 3, 4].map((n) => ({ n })));
    expect((await sf.delayed(topic, { limit: 2 })).map((d) => d.id)).toEqual(delayedIds.slice(0, 2));
    const shown = await sf.show(topic, delayedIds[2]!);
    expect(shown).toMatchObject({ id: delayedIds[2], payloadFrom: 'delayed', payload: { n: 2 }, delayedId: delayedIds[2] });

    const ac = new AbortController();
    const seen: Array<{ id: string; key?: string; partition?: number }> = [];
    const tail = (async () => {
      for await (const e of sf.tail(topic, { signal: ac.signal, blockMs: 100 })) {
        seen.push({ id: e.id, ...(e.key !== undefined ? { key: e.key } : {}), ...(e.partition !== undefined ? { partition: e.partition } : {}) });
        if (seen.length === 8) ac.abort();
      }
    })();
    await sleep(300);
    const keys = ['k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8'];
    const ids = await sf.publishMany(topic, keys.map((_, n) => ({ n })), { keys });
    await tail;
    expect(seen.map((s) => s.id).sort()).toEqual([...ids].sort());
    for (const s of seen) {
      const i = ids.indexOf(s.id);
      expect(s.key).toBe(keys[i]);
      expect(s.partition).toBe(partitionForKey(keys[i]!, 4));
    }
  });

  test('pruneConsumers() prunes idle consumers that hold nothing, in every partition', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('prune', { partitions: 2 });
    const sub: Subscription<{ n: number }> = sf.subscribe(topic, 'g', () => undefined, { consumer: 'live', startFrom: 'beginning', leaseMs: 1000, blockMs: 50 });
    await sub.ready();
    const ids = await sf.publishMany(topic, [{ n: 1 }, { n: 2 }, { n: 3 }], { keys: ['a', 'b', 'c'] });
    for (const id of ids) await sf.waitFor(topic, id, { timeoutMs: 10_000 });
    await sub.close(); // a graceful close removes its own consumer; 'old' is one a crash left behind
    for (const i of [0, 1]) await sf.redis.xgroup('CREATECONSUMER', partitionKeys(sf.prefix, 'prune', i).stream, 'g', 'old');
    await sleep(50);
    const before = await sf.consumers(topic, 'g');
    expect(before.map((c) => c.name)).toContain('old');
    expect(await sf.pruneConsumers(topic, 'g', 10)).toEqual(['old']);
    expect(await sf.consumers(topic, 'g')).toEqual([]);
  });
});
