import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { sleep, waitFor } from '@streamfan/testing';
import { METRIC_NAMES } from '../src/telemetry/metrics';
import { defineTopic, InvalidOptionError, topicKeys, type Streamfan } from '../src/internal';
import { runScript } from '../src/scripts/runner';
import { Skipper } from '../src/consumer/skipper';
import { recordToken } from '../src/status-records';
import { useRedis } from './helpers';

const env = useRedis();

async function serverMs(sf: Streamfan): Promise<number> {
  const [s, us] = await sf.redis.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

/** Write `n` events into a new topic's stream with ids `ageMs` in the past (as a backlog published then). */
async function oldBacklog(sf: Streamfan, topic: string, n: number, ageMs: number): Promise<string[]> {
  const stream = topicKeys(sf.prefix, topic).stream;
  const at = (await serverMs(sf)) - ageMs;
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(String(await sf.redis.xadd(stream, `${at}-${i}`, 'payload', JSON.stringify({ n: i, old: true }), 'headers', '')));
  return ids;
}

describe('skipOlderThanMs', () => {
  test('a backlog older than the bound is skipped (acked, status skipped, waitFor resolves with it, no handler run) in one call per read; fresh events run', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number; old?: boolean }>('prices');
    const old = await oldBacklog(sf, 'prices', 5, 60_000);
    // waitFor from before the skip: resolved by the skip's notice (the group it waits for is named).
    const waiting = sf.waitFor(topic, old[0]!, { groups: ['ticker'], timeoutMs: 15_000 });
    const seen: Array<{ n: number; old?: boolean }> = [];
    const skippedEvents: string[][] = [];
    const sub = sf.subscribe(topic, 'ticker', (p) => { seen.push(p); }, { startFrom: 'beginning', skipOlderThanMs: 10_000, concurrency: 10 });
    sub.on('skipped', (e) => skippedEvents.push(e.ids));
    await sub.ready();
    const fresh = [await sf.publish(topic, { n: 100 }), await sf.publish(topic, { n: 101 })];
    for (const id of fresh) expect((await sf.waitFor(topic, id, { timeoutMs: 10_000 })).groups.ticker?.state).toBe('succeeded');

    const st = await waiting;
    expect(st.groups.ticker).toMatchObject({ state: 'skipped', attempts: 0 });
    expect(st.groups.ticker?.finishedAt).toBeInstanceOf(Date);
    for (const id of old) expect((await sf.status(topic, id)).groups.ticker).toMatchObject({ state: 'skipped', attempts: 0 });
    expect((await sf.show(topic, old[4]!)).groups.ticker).toMatchObject({ state: 'skipped', attempts: 0 });
    expect(seen).toEqual([{ n: 100 }, { n: 101 }]);
    // The backlog came in one read (5 entries, 10 slots): one skip call, one event with every id.
    expect(skippedEvents).toEqual([old]);
    expect(sub.stats).toMatchObject({ skipped: 5, processed: 2 });
    expect(await sf.pending(topic, 'ticker')).toEqual([]);
  });

  test('trackStatus false: stale events are only acknowledged (no record), the handler never runs', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('untracked');
    const old = await oldBacklog(sf, 'untracked', 3, 60_000);
    let runs = 0;
    const sub = sf.subscribe(topic, 'view', () => { runs++; }, { startFrom: 'beginning', skipOlderThanMs: 10_000, trackStatus: false });
    await sub.ready();
    await waitFor(() => sub.stats.skipped === 3);
    expect(runs).toBe(0);
    expect(await sf.pending(topic, 'view')).toEqual([]);
    expect(await sf.redis.keys(`${sf.prefix}:{untracked}:ok:*`)).toEqual([]);
    expect((await sf.status(topic, old[0]!)).groups.view?.state).toBe('unknown');
  });

  test('unset: the same old backlog is handled as before', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('prices-all');
    const old = await oldBacklog(sf, 'prices-all', 3, 60_000);
    let runs = 0;
    const sub = sf.subscribe(topic, 'ticker', () => { runs++; }, { startFrom: 'beginning' });
    await sub.ready();
    for (const id of old) expect((await sf.waitFor(topic, id, { timeoutMs: 10_000 })).groups.ticker?.state).toBe('succeeded');
    expect(runs).toBe(3);
    expect(sub.stats.skipped).toBe(0);
    expect(sub.options.skipOlderThanMs).toBeUndefined();
  });

  test('a retry whose event went stale during its backoff is skipped, not run; its attempts and last error stay', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('quotes');
    let runs = 0;
    const sub = sf.subscribe(topic, 'push', () => { runs++; throw new Error('gateway down'); },
      { startFrom: 'beginning', skipOlderThanMs: 1000, backoff: { type: 'fixed', delayMs: 1500 }, reclaimIntervalMs: 50 });
    const skipped: string[] = [];
    sub.on('skipped', (e) => skipped.push(...e.ids));
    await sub.ready();
    const id = await sf.publish(topic, { n: 1 });
    const st = await sf.waitFor(topic, id, { timeoutMs: 10_000 });
    expect(st.groups.push).toMatchObject({ state: 'skipped', attempts: 1, error: 'Error: gateway down' });
    expect(st.groups.push?.nextAttemptAt).toBeUndefined();
    expect(runs).toBe(1);
    expect(skipped).toEqual([id]); // the event's id, not the copy's
    expect(await sf.pending(topic, 'push')).toEqual([]);
    expect(await sf.redis.xpending(topicKeys(sf.prefix, 'quotes').redeliver('push'), 'push')).toEqual([0, null, null, null]);
  });

  test('a replay of an old dead letter is judged by its event\'s publish time: skipped', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('alerts');
    const [id] = await oldBacklog(sf, 'alerts', 1, 60_000);
    // Dead-lettered by a group without the bound, then replayed into one with it.
    const first = sf.subscribe(topic, 'notify', (_p, ctx) => ctx.deadLetter('bad'), { startFrom: 'beginning', consumer: 'c1' });
    await first.ready();
    expect((await sf.waitFor(topic, id!, { timeoutMs: 10_000 })).groups.notify?.state).toBe('dead');
    await first.close();
    let runs = 0;
    const sub = sf.subscribe(topic, 'notify', () => { runs++; }, { skipOlderThanMs: 5_000, consumer: 'c2', reclaimIntervalMs: 50 });
    await sub.ready();
    expect(await sf.deadLetters(topic, 'notify').replay({ all: true })).toBeGreaterThanOrEqual(1);
    await waitFor(async () => (await sf.status(topic, id!)).groups.notify?.state === 'skipped', { timeoutMs: 10_000 });
    // The status is written by the script; the consumer counts the skip when its reply arrives.
    await waitFor(() => sub.stats.skipped === 1, { timeoutMs: 5_000, message: 'the skip counted' });
    expect(runs).toBe(0);
  });

  test.each([0, -5, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '1000', 31 * 86_400_000, null])('refuses skipOlderThanMs %p with a typed error saying what to do', (bad) => {
    const sf = env.client();
    expect(() => sf.subscribe('t', 'g', () => undefined, { skipOlderThanMs: bad as unknown as number })).toThrow(InvalidOptionError);
    expect(() => sf.subscribe('t', 'g', () => undefined, { skipOlderThanMs: bad as unknown as number })).toThrow(/skipOlderThanMs must be a whole number of milliseconds from 1 to 2592000000 \(30 days\).*leave it out/);
  });

  test('skipEntries: an entry another consumer holds is refused as stale (nothing written); its holder skips it (a record in the bucket); a resend counts it again', async () => {
    const sf = env.client();
    const keys = topicKeys(sf.prefix, 'held');
    const [id] = await oldBacklog(sf, 'held', 1, 60_000);
    const { second, token } = recordToken(id!);
    await sf.redis.xgroup('CREATE', keys.stream, 'g', '0');
    await sf.redis.xreadgroup('GROUP', 'g', 'b', 'COUNT', 1, 'STREAMS', keys.stream, '>');
    await sf.redis.call('XGROUP', 'CREATECONSUMER', keys.stream, 'g', 'a'); // a member, as a subscription's consumer is
    const call = (consumer: string) => runScript<[string[], string[]]>(sf.redis, 'skipEntries', [keys.stream, keys.waiters, keys.ok('g', second), keys.status(id!)],
      ['g', consumer, 60, keys.done, '1', 'P', 1, second * 1000, id!, id!, 0, 1, token, 1]);
    expect(await call('a')).toEqual([[], [id]]);
    expect(await sf.redis.get(keys.ok('g', second))).toBeNull();
    expect(await sf.redis.xpending(keys.stream, 'g', '-', '+', 10)).toMatchObject([[id, 'b', expect.any(Number), 1]]);
    expect(await call('b')).toEqual([[id], []]);
    expect(await sf.redis.get(keys.ok('g', second))).toMatch(new RegExp(`^@\\d+;~${token};$`));
    expect(await sf.redis.ttl(keys.ok('g', second))).toBeGreaterThan(55);
    expect(await sf.redis.exists(keys.status(id!))).toBe(0); // no status hash: a record of a few bytes
    expect((await sf.status('held', id!)).groups.g).toMatchObject({ state: 'skipped', attempts: 0, finishedAt: expect.any(Date) });
    expect(await sf.redis.xpending(keys.stream, 'g', '-', '+', 10)).toEqual([]);
    expect(await call('b')).toEqual([[id], []]); // resend: proven by the record
    expect(await sf.redis.get(keys.ok('g', second))).toMatch(new RegExp(`^@\\d+;~${token};$`)); // written once
  });

  test('skipEntries validates every argument before its first write', async () => {
    const sf = env.client();
    const keys = topicKeys(sf.prefix, 'bad');
    const [id] = await oldBacklog(sf, 'bad', 1, 60_000);
    const { second, token } = recordToken(id!);
    await sf.redis.xgroup('CREATE', keys.stream, 'g', '0');
    await sf.redis.xreadgroup('GROUP', 'g', 'b', 'COUNT', 1, 'STREAMS', keys.stream, '>');
    const bucket = keys.ok('g', second);
    const run = (args: Array<string | number>, buckets: string[] = [bucket]) =>
      runScript(sf.redis, 'skipEntries', [keys.stream, keys.waiters, ...buckets, keys.status(id!)], ['g', 'b', 60, keys.done, '1', 'P', ...args]);
    await expect(run([1, second * 1000, id!, 'nope', 0, 1, token, 1])).rejects.toThrow(/invalid argument event id/);
    await expect(run([1, second * 1000, id!, id!, -1, 1, token, 1])).rejects.toThrow(/invalid argument base/);
    await expect(run([1, second * 1000, id!, id!, 0, 2, token, 1])).rejects.toThrow(/invalid argument bucket/);
    await expect(run([1, second * 1000, id!, id!, 0, 1, 'A;', 1])).rejects.toThrow(/invalid argument token/);
    await expect(run([1, second * 1000, id!, id!, 0, 1, token, 0])).rejects.toThrow(/invalid argument deliveries/);
    await expect(run([1, second * 1000, id!, id!, 0, 1, token])).rejects.toThrow(/invalid argument entries/);
    await expect(run([1, second * 1000, id!, id!, 0, 1, token, 1], [])).rejects.toThrow(/invalid argument entries/);
    await sf.redis.hset(bucket, 'x', '1');
    await expect(run([1, second * 1000, id!, id!, 0, 1, token, 1])).rejects.toThrow(/WRONGTYPE/);
    expect(await sf.redis.xpending(keys.stream, 'g', '-', '+', 10)).toHaveLength(1); // nothing acked
  });

  test('partitioned topic, unordered: stale events are skipped in every partition, fresh ones run', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('ticks', { partitions: 3 });
    const old: string[] = [];
    for (let i = 0; i < 6; i++) old.push(await sf.publish(topic, { n: i }, { key: `k${i}` }));
    await sleep(1800);
    const seen: number[] = [];
    const sub = sf.subscribe(topic, 'view', (p) => { seen.push(p.n); }, { startFrom: 'beginning', skipOlderThanMs: 1500 });
    const skipped: string[] = [];
    sub.on('skipped', (e) => skipped.push(...e.ids));
    await sub.ready();
    const fresh = await sf.publish(topic, { n: 99 }, { key: 'k0' });
    expect((await sf.waitFor(topic, fresh, { timeoutMs: 10_000 })).groups.view?.state).toBe('succeeded');
    for (const id of old) expect((await sf.waitFor(topic, id, { timeoutMs: 10_000 })).groups.view?.state).toBe('skipped');
    expect(seen).toEqual([99]);
    await waitFor(() => sub.stats.skipped === 6, { timeoutMs: 5_000, message: 'the skips counted (the consumer counts on the reply)' });
    expect(skipped.sort()).toEqual([...old].sort()); // public ids p<i>:…
    expect(sub.stats.skipped).toBe(6);
  });

  test("partitioned topic, ordering 'key': stale events are skipped at their key's turn, key order kept, later events run", async () => {
    const sf = env.client();
    const topic = defineTopic<{ key: string; n: number }>('moves', { partitions: 2 });
    const old: string[] = [];
    for (let i = 0; i < 4; i++) old.push(await sf.publish(topic, { key: 'a', n: i }, { key: 'a' }));
    await sleep(1800);
    const seen: number[] = [];
    const sub = sf.subscribe(topic, 'board', (p) => { seen.push(p.n); }, { startFrom: 'beginning', ordering: 'key', skipOlderThanMs: 1500, leaseMs: 1000 });
    const skipped: string[] = [];
    sub.on('skipped', (e) => skipped.push(...e.ids));
    await sub.ready();
    const fresh = [await sf.publish(topic, { key: 'a', n: 10 }, { key: 'a' }), await sf.publish(topic, { key: 'a', n: 11 }, { key: 'a' })];
    for (const id of fresh) expect((await sf.waitFor(topic, id, { timeoutMs: 15_000 })).groups.board?.state).toBe('succeeded');
    for (const id of old) expect((await sf.status(topic, id)).groups.board).toMatchObject({ state: 'skipped', attempts: 0 });
    expect(seen).toEqual([10, 11]);
    await waitFor(() => sub.stats.skipped === 4, { timeoutMs: 5_000, message: 'the skips counted (the consumer counts on the reply)' });
    expect(skipped).toEqual(old); // in key order
    expect(sub.stats.skipped).toBe(4);
  });

  test("ordering 'key': a retry in place whose event went stale is skipped, and its key's next event runs", async () => {
    const sf = env.client();
    const topic = defineTopic<{ key: string; n: number }>('orders', { partitions: 1 });
    const seen: Array<[number, number]> = [];
    const sub = sf.subscribe(topic, 'ship', (p, ctx) => {
      seen.push([p.n, ctx.attempt]);
      if (p.n === 1) throw new Error('carrier down');
    }, { startFrom: 'beginning', ordering: 'key', skipOlderThanMs: 1000, leaseMs: 1000, backoff: { type: 'fixed', delayMs: 1500 } });
    await sub.ready();
    const first = await sf.publish(topic, { key: 'a', n: 1 }, { key: 'a' });
    await waitFor(() => seen.length === 1);
    const second = await sf.publish(topic, { key: 'a', n: 2 }, { key: 'a' });
    const st = await sf.waitFor(topic, first, { timeoutMs: 10_000 });
    expect(st.groups.ship).toMatchObject({ state: 'skipped', attempts: 1, error: 'Error: carrier down' });
    // The second waited behind the first (key order) for the 1,500 ms backoff: stale by then too.
    expect((await sf.waitFor(topic, second, { timeoutMs: 10_000 })).groups.ship?.state).toBe('skipped');
    expect(seen).toEqual([[1, 1]]);
    const third = await sf.publish(topic, { key: 'a', n: 3 }, { key: 'a' });
    expect((await sf.waitFor(topic, third, { timeoutMs: 10_000 })).groups.ship?.state).toBe('succeeded');
    expect(seen).toEqual([[1, 1], [3, 1]]);
  });

  test('prioritized topic: each lane skips its own stale events; ids are the lanes\' public ids', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('feed', { priorities: ['high', 'low'] });
    const old = [await sf.publish(topic, { n: 1 }, { priority: 'high' }), await sf.publish(topic, { n: 2 }, { priority: 'low' })];
    await sleep(1800);
    const seen: number[] = [];
    const sub = sf.subscribe(topic, 'live', (p) => { seen.push(p.n); }, { startFrom: 'beginning', skipOlderThanMs: 1500 });
    const skipped: string[] = [];
    sub.on('skipped', (e) => skipped.push(...e.ids));
    await sub.ready();
    const fresh = [await sf.publish(topic, { n: 3 }, { priority: 'high' }), await sf.publish(topic, { n: 4 }, { priority: 'low' })];
    for (const id of fresh) expect((await sf.waitFor(topic, id, { timeoutMs: 10_000 })).groups.live?.state).toBe('succeeded');
    for (const id of old) expect((await sf.waitFor(topic, id, { timeoutMs: 10_000 })).groups.live?.state).toBe('skipped');
    expect(seen.sort()).toEqual([3, 4]);
    await waitFor(() => sub.stats.skipped === 2, { timeoutMs: 5_000, message: 'the skips counted (the consumer counts on the reply)' });
    expect(skipped.sort()).toEqual([...old].sort());
    expect(sub.stats.skipped).toBe(2);
  });

  test('telemetry: streamfan.skipped counts the skipped events per topic and group', async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const sf = env.client({ telemetry: { meterProvider: new MeterProvider({ readers: [reader] }) } });
    const topic = defineTopic<{ n: number }>('gauges');
    const old = await oldBacklog(sf, 'gauges', 3, 60_000);
    const sub = sf.subscribe(topic, 'live', () => undefined, { startFrom: 'beginning', skipOlderThanMs: 10_000 });
    await sub.ready();
    for (const id of old) await sf.waitFor(topic, id, { groups: ['live'], timeoutMs: 10_000 });
    const value = await waitFor(async () => {
      exporter.reset();
      await reader.forceFlush();
      const m = exporter.getMetrics().flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics)).find((d) => d.descriptor.name === METRIC_NAMES.skipped);
      const v = m?.dataPoints.filter((p) => p.attributes.group === 'live' && p.attributes.topic === 'gauges').reduce((a, p) => a + (p.value as number), 0);
      return v === 3 ? v : undefined;
    }, { timeoutMs: 5000 });
    expect(value).toBe(3);
  });

  test('Skipper: a retry copy held by another consumer is reported stale under its event id; its holder skips it under the event id', async () => {
    const sf = env.client();
    const keys = topicKeys(sf.prefix, 'copies');
    const [eventId] = await oldBacklog(sf, 'copies', 1, 60_000);
    const copy = String(await sf.redis.xadd(keys.redeliver('g'), '*', 'payload', '{}', 'headers', '', 'orig', eventId!, 'base', '2'));
    await sf.redis.xgroup('CREATE', keys.redeliver('g'), 'g', '0');
    await sf.redis.xgroup('CREATE', keys.stream, 'g', '$'); // the group on the topic, as status() finds groups
    await sf.redis.xreadgroup('GROUP', 'g', 'b', 'COUNT', 1, 'STREAMS', keys.redeliver('g'), '>');
    await sf.redis.call('XGROUP', 'CREATECONSUMER', keys.redeliver('g'), 'g', 'a');
    const seen: Record<string, string[][]> = { skipped: [], stale: [] };
    const skipper = (consumer: string) => new Skipper({
      worker: sf.redis, keys, group: 'g', consumer, statusTtlSeconds: 60, trackStatus: true, publishMode: () => 'P',
      skipped: (ids) => seen.skipped!.push(ids), stale: (ids) => seen.stale!.push(ids), track: () => undefined,
    });
    await skipper('a').skip(keys.redeliver('g'), [{ entryId: copy, eventId: eventId!, base: 2, deliveries: 1 }]);
    expect(seen).toEqual({ skipped: [], stale: [[eventId]] });
    await skipper('b').skip(keys.redeliver('g'), [{ entryId: copy, eventId: eventId!, base: 2, deliveries: 1 }]);
    expect(seen).toEqual({ skipped: [[eventId]], stale: [[eventId]] });
    expect((await sf.status('copies', eventId!)).groups.g).toMatchObject({ state: 'skipped', attempts: 2 });
  });

  test("ordering 'key' with afterDeadLetter 'hold': a stale event of a key parked behind a dead letter stays parked (not skipped) until the block ends; then the stale replay and the event are skipped", async () => {
    const sf = env.client();
    const topic = defineTopic<{ key: string; n: number }>('held-keys', { partitions: 1 });
    const opts = { ordering: 'key' as const, afterDeadLetter: 'hold' as const, startFrom: 'beginning' as const, leaseMs: 1000, blockMs: 100 };
    const first = sf.subscribe(topic, 'g', (p, ctx) => { if (p.n === 1) ctx.deadLetter('poison'); }, { ...opts, consumer: 'c1' });
    await first.ready();
    const [one, two] = await sf.publishMany(topic, [{ key: 'k', n: 1 }, { key: 'k', n: 2 }], { keys: ['k', 'k'] });
    expect((await sf.waitFor(topic, one!, { timeoutMs: 10_000 })).groups.g?.state).toBe('dead');
    await first.close(); // two stays pending, parked behind the dead letter
    await sleep(1700);
    const runs: number[] = [];
    const second = sf.subscribe(topic, 'g', (p) => { runs.push(p.n); }, { ...opts, consumer: 'c2', skipOlderThanMs: 1500 });
    await second.ready();
    await sleep(800);
    expect((await sf.status(topic, two!)).groups.g?.state).not.toBe('skipped');
    expect(second.stats.skipped).toBe(0);
    const [dead] = await sf.deadLetters(topic, 'g').list();
    expect(await sf.deadLetters(topic, 'g').replay({ ids: [dead!.deadLetterId] })).toBe(1);
    expect((await sf.waitFor(topic, two!, { timeoutMs: 10_000 })).groups.g?.state).toBe('skipped');
    expect((await sf.status(topic, one!)).groups.g?.state).toBe('skipped');
    expect(runs).toEqual([]);
  });
});
