import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from '@streamfan/testing';
import { defineTopic, InvalidOptionError } from '../src';
import { useRedis } from './helpers';

// Redis persists (appendonly) so a restart keeps the groups, as a production Redis would.
const env = useRedis(['--appendonly', 'yes', '--appendfsync', 'always']);

describe('health() for readiness probes', () => {
  test('a reading subscription is healthy: connected, reading, its lag; sf.health() sums it up', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('signup');
    const sub = sf.subscribe(topic, 'email', async () => undefined, { startFrom: 'beginning' });
    expect((await sub.health()).healthy).toBe(false); // not started yet: not ready for traffic
    await sub.ready();
    const h = await sub.health();
    expect(h).toEqual({
      healthy: true, topic: 'signup', group: 'email', consumer: sub.consumer,
      connected: true, reading: true, lastError: null, lag: 0, pending: 0, problems: [],
    });
    const all = await sf.health();
    expect(all).toMatchObject({ healthy: true, connected: true, problems: [] });
    expect(all.subscriptions.map((s) => s.group)).toEqual(['email']);
  });

  test('maxLag: a group falling behind is unhealthy, with the lag in the problem', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('jobs');
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const sub = sf.subscribe(topic, 'slow', async () => { await gate; }, { concurrency: 1, startFrom: 'beginning' });
    await sub.ready();
    await sf.publishMany(topic, [1, 2, 3, 4, 5]);
    await waitFor(() => sub.stats.inFlight === 1, { timeoutMs: 5000 });
    const behind = await sub.health({ maxLag: 2 });
    expect(behind).toMatchObject({ healthy: false, connected: true, reading: true, lag: 4, pending: 1 });
    expect(behind.problems).toEqual(['lag 4 is above maxLag 2']);
    expect((await sub.health()).healthy).toBe(true); // no limit given: lag alone is not a failure
    const all = await sf.health({ maxLag: 2 });
    expect(all.healthy).toBe(false);
    expect(all.problems).toEqual(['slow@jobs: lag 4 is above maxLag 2']);
    release();
    await waitFor(async () => (await sub.health({ maxLag: 0 })).healthy, { timeoutMs: 10_000 });
  });

  test('Redis stopped: unhealthy within the timeout; Redis back: healthy again and working', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('orders');
    const sub = sf.subscribe(topic, 'billing', async () => undefined, { startFrom: 'beginning', blockMs: 200 });
    sub.on('error', () => undefined); // expected while Redis is down
    await sub.ready();
    expect((await sf.health()).healthy).toBe(true);
    await env.server().kill('SIGKILL');
    try {
      const down = await waitFor(async () => {
        const h = await sub.health({ timeoutMs: 500 });
        return h.connected ? undefined : h;
      }, { timeoutMs: 10_000 });
      expect(down).toMatchObject({ healthy: false, connected: false, reading: false, lag: null, pending: null });
      expect(down.problems[0]).toMatch(/^not connected to Redis/);
      const started = Date.now();
      const client = await sf.health({ timeoutMs: 500 });
      expect(Date.now() - started).toBeLessThan(5000); // a probe never hangs on a dead Redis
      expect(client).toMatchObject({ healthy: false, connected: false });
      expect(client.problems).toContain('the client is not connected to Redis');
    } finally {
      await env.server().start();
    }
    const back = await waitFor(async () => {
      const h = await sf.health();
      return h.healthy ? h : undefined;
    }, { timeoutMs: 15_000 });
    expect(back.subscriptions[0]).toMatchObject({ healthy: true, connected: true, reading: true, lag: 0 });
    // And it works again, not just answers.
    const id = await sf.publish(topic, 1);
    await sf.waitFor(topic, id, { timeoutMs: 10_000 });
  });

  test('the last error reported is in health, with its time', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('bad');
    const errors: Error[] = [];
    const before = Date.now();
    // An unusable backoff result: the retry uses the default backoff and an error is reported.
    const failing = sf.subscribe(topic, 'h', async () => { throw new Error('nope'); }, { startFrom: 'beginning', backoff: () => Number.NaN, maxAttempts: 2 });
    failing.on('error', (e) => errors.push(e));
    await failing.ready();
    await sf.publish(topic, 1);
    await waitFor(() => errors.length > 0, { timeoutMs: 10_000 });
    const h = await failing.health();
    expect(h.healthy).toBe(true); // an error in the past does not make it unready
    expect(h.lastError).toMatchObject({ code: 'INVALID_OPTION', name: 'InvalidOptionError' });
    expect(h.lastError!.at.getTime()).toBeGreaterThanOrEqual(before);
  });

  test('closed subscriptions and partitioned ones', async () => {
    const sf = env.client();
    const orders = defineTopic<{ k: string }>('order.updated', { partitions: 3 });
    const sub = sf.subscribe(orders, 'shipping', async () => undefined, { ordering: 'key', startFrom: 'beginning' });
    await sub.ready();
    const h = await sub.health();
    expect(h).toMatchObject({ healthy: true, connected: true, reading: true, lag: 0, group: 'shipping', topic: 'order.updated' });
    await sub.close();
    expect(await sub.health()).toMatchObject({ healthy: false, reading: false, problems: ['closed (or closing)'] });
    const plain = sf.subscribe(defineTopic<number>('p'), 'g', async () => undefined);
    await plain.ready();
    await plain.close();
    const closed = await plain.health();
    expect(closed.healthy).toBe(false);
    expect(closed.problems[0]).toBe('closed (or closing)');
  });

  test('the readiness endpoint of docs/observability.md: 200 while healthy, 503 with the reasons when not', async () => {
    const sf = env.client();
    const sub = sf.subscribe(defineTopic<number>('probe'), 'g', async () => undefined);
    await sub.ready();
    // As in the docs:
    const server = createServer(async (req, res) => {
      if (req.url !== '/ready') { res.writeHead(404).end(); return; }
      const h = await sf.health({ timeoutMs: 1000 });
      res.writeHead(h.healthy ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(h));
    }).listen(0);
    try {
      await new Promise((r) => server.once('listening', r));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ready`;
      const ok = await fetch(url);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ healthy: true, subscriptions: [{ group: 'g', lag: 0 }] });
      sub.on('error', () => undefined);
      await env.server().kill('SIGKILL');
      try {
        const down = await fetch(url);
        expect(down.status).toBe(503);
        const body = (await down.json()) as { healthy: boolean; problems: string[] };
        expect(body.healthy).toBe(false);
        expect(body.problems).toContain('the client is not connected to Redis');
      } finally {
        await env.server().start();
      }
      await waitFor(async () => (await fetch(url)).status === 200, { timeoutMs: 15_000 });
    } finally {
      server.close();
    }
  });

  test('bad options are refused', async () => {
    const sf = env.client();
    await expect(sf.health({ timeoutMs: 0 })).rejects.toThrow(InvalidOptionError);
    await expect(sf.health({ maxLag: -1 })).rejects.toThrow(/maxLag must be a whole number/);
  });
});
