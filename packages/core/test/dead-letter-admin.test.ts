import { sleep, waitFor } from '@streamfan/testing';
import { InvalidOptionError, defineTopic, topicKeys, type Streamfan } from '../src/internal';
import { useRedis } from './helpers';

const env = useRedis();

async function serverMs(sf: Streamfan): Promise<number> {
  const [s, us] = (await sf.redis.time()) as unknown as [string, string];
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

describe('dead-letter administration', () => {
  test('dead letters are listed with payload, headers, original id, attempts, last error, reason and time', async () => {
    const sf = env.client();
    const topic = defineTopic<{ order: string }>('invoices');
    const sub = sf.subscribe(topic, 'pdf', (p, ctx) => { throw new Error(`renderer crashed on ${p.order} (attempt ${ctx.attempt})`); },
      { startFrom: 'beginning', maxAttempts: 2, backoff: { type: 'fixed', delayMs: 20 }, reclaimIntervalMs: 50 });
    await sub.ready();
    const t0 = await serverMs(sf);
    const a = await sf.publish(topic, { order: 'o-1' }, { headers: { tenant: 'acme', traceId: 't-1' } });
    const b = await sf.publish(topic, { order: 'o-2' });
    await sf.waitFor(topic, a, { timeoutMs: 15_000 });
    await sf.waitFor(topic, b, { timeoutMs: 15_000 });
    const t1 = await serverMs(sf);

    const listed = await sf.deadLetters(topic, 'pdf').list();
    // Both fail side by side, so either may reach the dead letters first.
    const letters = [...listed].sort((p, q) => (p.id < q.id ? -1 : 1));
    expect(letters.map((d) => d.id)).toEqual([a, b]);
    expect(letters[0]).toMatchObject({
      id: a, payload: { order: 'o-1' }, headers: { tenant: 'acme', traceId: 't-1' }, attempts: 2,
      error: 'Error: renderer crashed on o-1 (attempt 2)', reason: 'attempts', consumer: sub.consumer,
    });
    expect(letters[1]).toMatchObject({ id: b, payload: { order: 'o-2' }, headers: {}, attempts: 2 });
    for (const d of letters) {
      expect(d.deadAt.getTime()).toBeGreaterThanOrEqual(t0);
      expect(d.deadAt.getTime()).toBeLessThanOrEqual(t1);
      expect(d.raw).toBeUndefined();
    }
    expect(await sf.deadLetters(topic, 'pdf').count()).toBe(2);
    expect((await sf.status(topic, a)).groups.pdf).toMatchObject({ state: 'dead', attempts: 2, deadLetterId: letters[0]!.deadLetterId });
    // Paging: from after the first one.
    expect((await sf.deadLetters(topic, 'pdf').list({ start: `(${listed[0]!.deadLetterId}`, count: 10 })).map((d) => d.id)).toEqual([listed[1]!.id]);
    await sub.close();
  });

  test('replay delivers to that group only, with attempts reset, and removes it from the dead letters', async () => {
    const sf = env.client({ statusTtlSeconds: 0 }); // keep status forever: replay must not add an expiry
    const topic = defineTopic<number>('shipments');
    let broken = true;
    const billingAttempts: number[] = [];
    let emailCalls = 0;
    const billing = sf.subscribe(topic, 'billing', (n, ctx) => {
      billingAttempts.push(ctx.attempt);
      if (broken) throw new Error('ledger offline');
      return { charged: n };
    }, { startFrom: 'beginning', maxAttempts: 2, backoff: { type: 'fixed', delayMs: 20 }, reclaimIntervalMs: 50 });
    const email = sf.subscribe(topic, 'email', () => { emailCalls++; }, { startFrom: 'beginning' });
    await Promise.all([billing.ready(), email.ready()]);
    const [x, y] = await sf.publishMany(topic, [1, 2]);
    await sf.waitFor(topic, x!, { timeoutMs: 15_000 });
    await sf.waitFor(topic, y!, { timeoutMs: 15_000 });
    expect([...billingAttempts].sort()).toEqual([1, 1, 2, 2]);
    expect(emailCalls).toBe(2);
    const dlq = sf.deadLetters(topic, 'billing');
    const letters = await dlq.list();
    expect(letters.map((d) => d.id)).toEqual([x, y]);

    broken = false;
    billingAttempts.length = 0;
    const deadStatus = (await sf.status(topic, x!)).groups.billing!;
    expect(deadStatus).toMatchObject({ state: 'dead', deadLetterId: letters[0]!.deadLetterId });
    const replayedAt = await serverMs(sf);
    expect(await dlq.replay({ ids: [letters[0]!.deadLetterId] })).toBe(1); // only x
    const st = await waitFor(async () => {
      const s = await sf.status(topic, x!);
      return s.groups.billing?.state === 'succeeded' ? s : undefined;
    }, { timeoutMs: 15_000, message: 'replayed event handled' });
    expect(billingAttempts).toEqual([1]);
    expect(st.groups.billing).toMatchObject({ state: 'succeeded', attempts: 1, result: { charged: 1 } });
    // The replay's outcome, not the dead letter's: no stale deadLetterId (that entry is gone), a new finishedAt.
    expect(st.groups.billing!.deadLetterId).toBeUndefined();
    expect(st.groups.billing!.error).toBeUndefined();
    expect(st.groups.billing!.finishedAt!.getTime()).toBeGreaterThanOrEqual(replayedAt);
    expect(st.groups.email).toMatchObject({ state: 'succeeded', attempts: 1 });
    expect((await dlq.list()).map((d) => d.id)).toEqual([y]);
    expect(await sf.redis.ttl(topicKeys(sf.prefix, topic.name).status(x!))).toBe(-1);

    // @ts-expect-error a selection is required
    await expect(dlq.replay()).rejects.toBeInstanceOf(InvalidOptionError); // "all" must be said
    expect(await dlq.replay({ all: true })).toBe(1); // the rest: y
    await sf.waitFor(topic, y!, { groups: ['billing'], timeoutMs: 15_000 });
    await waitFor(async () => (await sf.status(topic, y!)).groups.billing?.state === 'succeeded', { message: 'y handled' });
    await sleep(300);
    expect(billingAttempts).toEqual([1, 1]);
    expect(emailCalls).toBe(2); // the other group was not touched
    expect(await dlq.count()).toBe(0);
    expect(await sf.pending(topic, 'billing')).toEqual([]);
    await Promise.all([billing.close(), email.close()]);
  });

  test('purge deletes chosen dead letters, then all of them', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('spam');
    const sub = sf.subscribe(topic, 'g', (n, ctx) => ctx.deadLetter(`rejected ${n}`), { startFrom: 'beginning' });
    await sub.ready();
    await sf.publishMany(topic, [1, 2, 3, 4]);
    await waitFor(() => sub.stats.deadLettered === 4, { message: 'four dead letters' });
    const dlq = sf.deadLetters(topic, 'g');
    const [first, second] = await dlq.list();
    expect(first).toMatchObject({ error: 'rejected 1', reason: 'handler', attempts: 1 });
    expect(await dlq.purge({ ids: [first!.deadLetterId, second!.deadLetterId] })).toBe(2);
    expect((await dlq.list()).map((d) => d.error)).toEqual(['rejected 3', 'rejected 4']);
    expect(await dlq.purge({ ids: ['1-1'] })).toBe(0); // an id that is not there
    // @ts-expect-error a selection is required
    await expect(dlq.purge()).rejects.toBeInstanceOf(InvalidOptionError);
    // @ts-expect-error an empty selection is not "all"
    await expect(dlq.purge({})).rejects.toBeInstanceOf(InvalidOptionError);
    expect(await dlq.count()).toBe(2);
    expect(await dlq.purge({ all: true })).toBe(2);
    expect(await dlq.count()).toBe(0);
    expect(await dlq.replay({ all: true })).toBe(0);
    await sub.close();
  });

  test('replay of every dead letter reads them page by page (1,200 letters, pages of at most 500)', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('bulk');
    const sub = sf.subscribe(topic, 'g', (n, ctx) => ctx.deadLetter(`no ${n}`), { startFrom: 'beginning', concurrency: 50 });
    await sub.ready();
    for (let i = 0; i < 1200; i += 400) await sf.publishMany(topic, Array.from({ length: 400 }, (_, k) => i + k));
    await waitFor(() => sub.stats.deadLettered === 1200, { timeoutMs: 30_000, message: '1200 dead letters' });
    await sub.close();
    const dlqKey = topicKeys(sf.prefix, topic.name).deadLetters('g');
    const reads: number[] = [];
    const xrange = sf.redis.xrange.bind(sf.redis) as (...a: unknown[]) => Promise<unknown[]>;
    const spy = jest.spyOn(sf.redis, 'xrange').mockImplementation(((...a: unknown[]) => xrange(...a).then((rows) => { reads.push(rows.length); return rows; })) as never);
    expect(await sf.deadLetters(topic, 'g').replay({ all: true })).toBe(1200);
    spy.mockRestore();
    expect(await sf.redis.xlen(dlqKey)).toBe(0);
    expect(Math.max(...reads)).toBeLessThanOrEqual(500); // never the whole dead-letter stream in memory
    expect(await sf.redis.xlen(topicKeys(sf.prefix, topic.name).redeliver('g'))).toBe(1200);
  });

  test('malformed entries written by another program go straight to dead letters with the reason; good entries are handled', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('imports');
    const stream = topicKeys(sf.prefix, topic.name).stream;
    const handled: number[] = [];
    const dead: Array<{ id: string; reason: string }> = [];
    const errors: Error[] = [];
    const sub = sf.subscribe(topic, 'g', (p) => { handled.push(p.n); }, { startFrom: 'beginning', concurrency: 2 });
    sub.on('deadLettered', (e) => dead.push({ id: e.id, reason: e.reason }));
    sub.on('error', (e) => errors.push(e));
    await sub.ready();
    await sf.publish(topic, { n: 1 });
    const noPayload = (await sf.redis.xadd(stream, '*', 'body', 'hello', 'kind', 'legacy'))!;
    await sf.publish(topic, { n: 2 });
    const badJson = (await sf.redis.xadd(stream, '*', 'payload', '{"n": 3,', 'headers', ''))!;
    await sf.publish(topic, { n: 3 });
    const badHeaders = (await sf.redis.xadd(stream, '*', 'payload', '{"n":4}', 'headers', 'tenant=acme'))!;
    await sf.publish(topic, { n: 4 });

    await waitFor(() => handled.length === 4 && dead.length === 3, { timeoutMs: 15_000, message: 'four handled, three dead-lettered' });
    expect(handled.sort()).toEqual([1, 2, 3, 4]);
    expect(dead).toEqual([noPayload, badJson, badHeaders].map((id) => ({ id, reason: 'malformed' })));
    expect(errors).toEqual([]);

    const letters = await sf.deadLetters(topic, 'g').list();
    expect(letters.map((d) => [d.id, d.reason, d.attempts])).toEqual([[noPayload, 'malformed', 1], [badJson, 'malformed', 1], [badHeaders, 'malformed', 1]]);
    expect(letters[0]!.error).toMatch(/no "payload" field \(fields: body, kind\)/);
    expect(JSON.parse(letters[0]!.raw!)).toEqual(['body', 'hello', 'kind', 'legacy']); // kept for inspection
    expect(letters[1]!.error).toMatch(/payload cannot be decoded/);
    expect(letters[1]!.raw).toBe('{"n": 3,');
    expect(letters[2]!.error).toMatch(/headers are not a JSON object/);
    for (const id of [noPayload, badJson, badHeaders]) {
      expect((await sf.status(topic, id)).groups.g).toMatchObject({ state: 'dead', attempts: 1 });
    }
    expect(await sf.pending(topic, 'g')).toEqual([]);
    expect(sub.stats.processed).toBe(4);
    await sub.close();
  });
});
