import { sleep, waitFor } from '@streamfan/testing';
import { defineTopic, partitionForKey, partitionKeys, type HandlerContext } from './partition-helpers';
import { acquireLease, ownerId } from '../src/partitions/leases';
import { runScript } from '../src/scripts/runner';
import type { Subscription } from '../src';
import { useRedis } from './helpers';

const env = useRedis();

interface Handling { key: string; seq: number; consumer: string; start: number; end: number; ok: boolean; attempt: number }

describe("ordering: 'key'", () => {
  test('per key: successes in publish order, no overlap, every event ends succeeded or dead — with random latency, 10 % failures, consumers joining and leaving', async () => {
    const sf = env.client();
    const topic = defineTopic<{ key: string; seq: number }>('orders', { partitions: 4 });
    const log: Handling[] = [];
    let rnd = 12345;
    const random = () => { rnd = (rnd * 1103515245 + 12345) % 2147483648; return rnd / 2147483648; };
    const make = (name: string) => sf.subscribe(topic, 'billing', async (p, ctx: HandlerContext) => {
      const h: Handling = { key: p.key, seq: p.seq, consumer: name, start: performance.now(), end: 0, ok: false, attempt: ctx.attempt };
      log.push(h);
      try {
        await sleep(Math.floor(random() * 6));
        if (random() < 0.1) throw new Error('transient');
        h.ok = true;
      } finally {
        h.end = performance.now();
      }
    }, {
      consumer: name, ordering: 'key', startFrom: 'beginning', leaseMs: 1000, concurrency: 8, blockMs: 50,
      backoff: { type: 'fixed', delayMs: 5 }, maxAttempts: 8, shutdownGraceMs: 5000,
    });
    const subs = new Map<string, Subscription<{ key: string; seq: number }>>();
    const open = async (name: string) => { const s = make(name); subs.set(name, s); await s.ready(); };
    const closeOne = async (name: string) => { await subs.get(name)!.close(); subs.delete(name); };

    const KEYS = 30;
    const seqOf = new Map<string, number>();
    const ids: string[] = [];
    const publish = async (n: number) => {
      const payloads = Array.from({ length: n }, () => {
        const key = `order-${Math.floor(random() * KEYS)}`;
        const seq = seqOf.get(key) ?? 0;
        seqOf.set(key, seq + 1);
        return { key, seq };
      });
      ids.push(...await sf.publishMany(topic, payloads, { keys: payloads.map((x) => x.key) }));
    };

    await open('c1');
    await publish(150);
    await open('c2');
    await publish(150);
    await sleep(300);
    await open('c3');
    await publish(100);
    await closeOne('c1'); // graceful leave while work is running
    await publish(100);
    await open('c4');
    await publish(100);
    await sleep(200);
    await closeOne('c2');
    await publish(50);

    const finals = await Promise.all(ids.map((id) => sf.waitFor(topic, id, { groups: ['billing'], timeoutMs: 60_000 })));
    for (const f of finals) expect(['succeeded', 'dead']).toContain(f.groups.billing!.state);
    for (const s of [...subs.keys()]) await closeOne(s);

    const byKey = new Map<string, Handling[]>();
    for (const h of log) byKey.set(h.key, [...(byKey.get(h.key) ?? []), h]);
    let failures = 0;
    const consumersSeen = new Set(log.map((h) => h.consumer));
    for (const [key, hs] of byKey) {
      hs.sort((a, b) => a.start - b.start);
      // No two handlings of one key overlap in time (failed attempts included).
      for (let i = 1; i < hs.length; i++) {
        if (hs[i]!.start < hs[i - 1]!.end) throw new Error(`key ${key}: handling of seq ${hs[i]!.seq} started before seq ${hs[i - 1]!.seq} ended`);
      }
      // Successful handlings follow publish order.
      const ok = hs.filter((h) => h.ok).map((h) => h.seq);
      for (let i = 1; i < ok.length; i++) {
        if (ok[i]! < ok[i - 1]!) throw new Error(`key ${key}: seq ${ok[i]} succeeded after seq ${ok[i - 1]}`);
      }
      failures += hs.filter((h) => !h.ok).length;
      const all = [...new Set(hs.map((h) => h.seq))].sort((a, b) => a - b);
      expect(all).toEqual(Array.from({ length: seqOf.get(key)! }, (_, i) => i)); // every event handled
    }
    expect(failures).toBeGreaterThan(0); // the 10 % failures did happen
    expect(consumersSeen.size).toBeGreaterThanOrEqual(3);
    // Figures for the commit message.
    console.log(`ordering: ${ids.length} events, ${byKey.size} keys, ${log.length} handlings, ${failures} failed attempts, consumers ${[...consumersSeen].sort().join(',')}`);
  }, 90_000);

  test('takeover of a consumer cut off from Redis (no drain, no release): the next owner adopts its pending entries and retries, in key order', async () => {
    const sf = env.client();
    const topic = defineTopic<{ key: string; seq: number }>('cutoff', { partitions: 2 });
    const log: Handling[] = [];
    let rnd = 777;
    const random = () => { rnd = (rnd * 1103515245 + 12345) % 2147483648; return rnd / 2147483648; };
    const make = (name: string) => {
      const sub = sf.subscribe(topic, 'g', async (p, ctx: HandlerContext) => {
        const h: Handling = { key: p.key, seq: p.seq, consumer: name, start: performance.now(), end: 0, ok: false, attempt: ctx.attempt };
        log.push(h);
        try {
          await sleep(1 + Math.floor(random() * 3));
          if (random() < 0.2) throw new Error('transient');
          h.ok = true;
        } finally {
          h.end = performance.now();
        }
      }, { consumer: name, ordering: 'key', startFrom: 'beginning', leaseMs: 1000, concurrency: 4, backoff: { type: 'fixed', delayMs: 20 }, maxAttempts: 10 });
      sub.on('error', () => undefined); // the cut-off consumer's failed commands
      return sub;
    };
    const a = make('a');
    await a.ready();
    const payloads = Array.from({ length: 200 }, (_, i) => ({ key: `k${i % 10}`, seq: Math.floor(i / 10) }));
    const ids = await sf.publishMany(topic, payloads, { keys: payloads.map((x) => x.key) });
    await waitFor(() => log.filter((h) => h.ok).length >= 40, { timeoutMs: 10_000 });
    // Cut a off: its connection (reads, settles, lease renewals) drops for good. It neither
    // drains nor releases; its leases expire and its pending entries wait for the next owner.
    (a as unknown as { redis: { disconnect(): void } }).redis.disconnect();
    const cutAt = performance.now();
    const heldByA = async () => {
      let n = 0;
      for (const i of [0, 1]) {
        const rows = (await sf.redis.xpending(partitionKeys(sf.prefix, 'cutoff', i).stream, 'g', '-', '+', 1000, 'a')) as unknown[];
        n += rows.length;
      }
      return n;
    };
    expect(await heldByA()).toBeGreaterThan(0); // read by a, not settled: only a takeover can finish them
    const b = make('b');
    await b.ready();
    const finals = await Promise.all(ids.map((id) => sf.waitFor(topic, id, { timeoutMs: 30_000 })));
    for (const f of finals) expect(['succeeded', 'dead']).toContain(f.groups.g!.state);
    expect(log.some((h) => h.consumer === 'b' && h.start > cutAt)).toBe(true);
    expect(await heldByA()).toBe(0);
    for (let k = 0; k < 10; k++) {
      const hs = log.filter((h) => h.key === `k${k}`).sort((x, y) => x.start - y.start);
      for (let i = 1; i < hs.length; i++) expect(hs[i]!.start).toBeGreaterThanOrEqual(hs[i - 1]!.end);
      const ok = hs.filter((h) => h.ok).map((h) => h.seq);
      for (let i = 1; i < ok.length; i++) expect(ok[i]!).toBeGreaterThanOrEqual(ok[i - 1]!);
      expect(new Set(hs.filter((h) => h.ok).map((h) => h.seq)).size).toBe(20);
    }
    await b.close();
    await a.close(0);
  }, 60_000);

  test('a failing event holds back its key (not others) until it succeeds; after a dead letter the key goes on', async () => {
    const sf = env.client();
    const topic = defineTopic<{ key: string; seq: number; fail?: number; dead?: boolean }>('ord', { partitions: 1 });
    const order: string[] = [];
    const sub = sf.subscribe(topic, 'g', (p, ctx) => {
      if (p.dead) ctx.deadLetter('poison');
      if (p.fail !== undefined && ctx.attempt <= p.fail) throw new Error('again');
      order.push(`${p.key}${p.seq}`);
    }, { ordering: 'key', startFrom: 'beginning', leaseMs: 1000, blockMs: 20, backoff: { type: 'fixed', delayMs: 150 }, concurrency: 4 });
    await sub.ready();
    const events = [
      { key: 'a', seq: 0, fail: 2 }, { key: 'a', seq: 1 }, { key: 'b', seq: 0 }, { key: 'b', seq: 1, dead: true }, { key: 'b', seq: 2 }, { key: 'a', seq: 2 },
    ];
    const ids = await sf.publishMany(topic, events, { keys: events.map((e) => e.key) });
    const finals = await Promise.all(ids.map((id) => sf.waitFor(topic, id, { timeoutMs: 10_000 })));
    expect(finals.map((f) => f.groups.g!.state)).toEqual(['succeeded', 'succeeded', 'succeeded', 'dead', 'succeeded', 'succeeded']);
    expect(finals[0]!.groups.g!.attempts).toBe(3);
    expect(order.filter((x) => x.startsWith('a'))).toEqual(['a0', 'a1', 'a2']);
    expect(order.filter((x) => x.startsWith('b'))).toEqual(['b0', 'b2']);
    // b went on while a waited for its retries.
    expect(order.indexOf('b2')).toBeLessThan(order.indexOf('a0'));
    const dlq = await sf.redis.xrange(partitionKeys(sf.prefix, 'ord', 0).deadLetters('g'), '-', '+');
    expect(dlq[0]![1]).toEqual(expect.arrayContaining(['key', 'b', 'reason', 'handler']));
    await sub.close();
  });

  test('an ordered consumer promotes delayed events of its partitions (the publisher is gone), and its handler gets ctx.key', async () => {
    const publisher = env.client();
    const topic = defineTopic<{ n: number }>('later', { partitions: 2 });
    const id = await publisher.publish(topic, { n: 1 }, { key: 'k1', delayMs: 200 });
    await publisher.close(); // its promotion timer stops with it
    const sf = env.client({ prefix: publisher.prefix });
    const keys: Array<string | undefined> = [];
    const sub = sf.subscribe(topic, 'g', (_p, ctx) => { keys.push(ctx.key); }, { ordering: 'key', startFrom: 'beginning', leaseMs: 1000, reclaimIntervalMs: 50 });
    await sub.ready();
    expect((await sf.waitFor(topic, id, { timeoutMs: 10_000 })).groups.g!.state).toBe('succeeded');
    expect(keys).toEqual(['k1']);
    await sub.close();
  });

  test('fenced: a consumer whose lease was taken over cannot read, start, retry or settle', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('fence', { partitions: 1 });
    const [id] = await sf.publishMany(topic, [{ n: 1 }], { key: 'k' });
    expect(partitionForKey('k', 1)).toBe(0);
    const keys = partitionKeys(sf.prefix, 'fence', 0);
    await sf.redis.xgroup('CREATE', keys.stream, 'g', '0');
    await sf.redis.xgroup('CREATE', keys.redeliver('g'), 'g', '0', 'MKSTREAM');
    const a = await acquireLease(sf.redis, keys, 'g', ownerId('a', 'x1'), 50);
    if (!a.acquired) throw new Error('not acquired');
    const read = await runScript<unknown[]>(sf.redis, 'readOwned', [keys.lease('g'), keys.redeliver('g'), keys.stream], ['g', 'a', a.token, 10]);
    expect(read[0]).toBe('ok');
    await sleep(80);
    const b = await acquireLease(sf.redis, keys, 'g', ownerId('b', 'x2'), 5000);
    expect(b.acquired).toBe(true);
    const local = id!.split(':')[1]!;
    // The success bucket of the event's second (protocol 2); record '' writes the status hash.
    const bucket = Math.floor(Number(local.split('-')[0]) / 1000);
    const settle = await runScript<string[]>(sf.redis, 'settleOrdered',
      [keys.lease('g'), keys.stream, keys.backoff('g'), keys.status(local), keys.waiters, keys.deadLetters('g'), keys.ok('g', bucket)],
      ['g', 'a', a.token, local, local, 'succeeded', 1, '', '', 0, 0, keys.done, '1', 'P', bucket * 1000, '']);
    expect(settle).toEqual(['fenced']);
    const start = await runScript<string[]>(sf.redis, 'startOrdered', [keys.lease('g'), keys.stream, keys.status(local)], ['g', 'a', a.token, local, 0, '1']);
    expect(start).toEqual(['fenced']);
    expect(await sf.redis.xpending(keys.stream, 'g')).toEqual([1, local, local, [['a', '1']]]); // still pending, not acked
    expect(await sf.redis.exists(keys.status(local))).toBe(0); // no status written by the zombie
    // With the current token the settle goes through (after the owner takes the entry: adoptPending).
    if (!b.acquired) throw new Error('not acquired');
    await runScript(sf.redis, 'adoptPending', [keys.lease('g'), keys.stream], ['g', 'b', b.token, '-', 10]);
    const ok = await runScript<string[]>(sf.redis, 'settleOrdered',
      [keys.lease('g'), keys.stream, keys.backoff('g'), keys.status(local), keys.waiters, keys.deadLetters('g'), keys.ok('g', bucket)],
      ['g', 'b', b.token, local, local, 'succeeded', 1, '', '', 0, 0, keys.done, '1', 'P', bucket * 1000, '']);
    expect(ok).toEqual(['succeeded']);
    expect(await sf.status(topic, id!)).toMatchObject({ groups: { g: { state: 'succeeded', consumer: 'b' } } });
  });
});
