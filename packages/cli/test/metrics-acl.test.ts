import { defineTopic, Streamfan } from '@streamfan/core/internal';
import { startRedis, uniquePrefix, waitFor, type RedisServer } from '@streamfan/testing';
// The least-privilege roles the ACL fault test proves and ACL.md documents.
import { ROLES, aclRulesForServer } from '../../faults/src/acl';
import { buildCli, removeCli, startCli } from './run-cli';

/** `streamfan metrics` run as a real Redis ACL user with exactly the cli role's rules. */
jest.setTimeout(120_000);

const PASSWORD = 'metrics-acl-secret';
let server: RedisServer;
const prefix = uniquePrefix();
const stops: Array<() => unknown> = [];

beforeAll(async () => {
  buildCli();
  server = await startRedis();
  const admin = server.client();
  const cli = ROLES.find((r) => r.name === 'cli')!;
  await admin.call('ACL', 'SETUSER', 'sf-cli', 'reset', 'on', `>${PASSWORD}`, ...(await aclRulesForServer(admin, cli, prefix)));
});

afterAll(async () => {
  for (const stop of stops.splice(0)) await stop();
  await server?.stop();
  removeCli();
});

test('every metric is served under the cli role: no NOPERM, every count as expected', async () => {
  // Data with every kind of count: lag, pending (topic and redelivery streams), retries, dead
  // letters, delayed events, a partitioned topic.
  const sf = new Streamfan({ connection: server.url, prefix, retention: false });
  stops.push(() => sf.close());
  const orders = defineTopic<{ n: number }>('orders');
  const parts = defineTopic<{ n: number }>('order.parts', { partitions: 2 });
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  stops.push(() => release());
  const busy = sf.subscribe(
    orders,
    'busy',
    async () => {
      await gate;
    },
    { concurrency: 1, startFrom: 'beginning' },
  );
  const failing = sf.subscribe(
    orders,
    'failing',
    async (p, ctx) => {
      if (p.n === 0) ctx.deadLetter('bad order');
      throw new Error('try later');
    },
    { startFrom: 'beginning', backoff: { type: 'fixed', delayMs: 3_600_000 } },
  );
  const partSub = sf.subscribe(parts, 'packer', async () => undefined, { startFrom: 'beginning' });
  await Promise.all([busy.ready(), failing.ready(), partSub.ready()]);
  await sf.publishMany(orders, [{ n: 0 }, { n: 1 }, { n: 2 }]);
  await sf.publish(orders, { n: 3 }, { delayMs: 3_600_000 });
  await sf.publishMany(parts, [{ n: 1 }, { n: 2 }], { keys: ['a', 'b'] });
  await waitFor(
    async () => {
      const g = await sf.groups(orders);
      const f = g.find((x) => x.group === 'failing');
      return f && f.retrying === 2 && f.deadLetters === 1;
    },
    { timeoutMs: 10_000 },
  );

  const url = server.url.replace('redis://', `redis://sf-cli:${PASSWORD}@`);
  const run = startCli(['--url', url, '--prefix', prefix, 'metrics', '--port', '0']);
  stops.push(() => run.child.kill());
  await waitFor(() => /on http:\/\/\S+\/metrics/.test(run.output()), { timeoutMs: 20_000, message: `metrics started: ${run.output()}` });
  const base = /on (http:\/\/\S+\/)metrics/.exec(run.output())![1]!;
  const res = await fetch(new URL('metrics', base));
  const body = await res.text();
  expect({ status: res.status, body: res.status === 200 ? '' : body }).toEqual({ status: 200, body: '' });
  expect(body).not.toMatch(/NOPERM/);
  const value = (line: string): number | undefined => {
    const m = new RegExp(`^${line.replace(/[{}"=.]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(body);
    return m ? Number(m[1]) : undefined;
  };
  expect(value('streamfan_topic_length{topic="orders"}')).toBe(3);
  expect(value('streamfan_topic_delayed{topic="orders"}')).toBe(1);
  expect(value('streamfan_topic_groups{topic="orders"}')).toBe(2);
  expect(value('streamfan_group_pending{topic="orders",group="busy"}')).toBe(1);
  expect(value('streamfan_group_lag{topic="orders",group="busy"}')).toBe(2);
  expect(value('streamfan_group_retrying{topic="orders",group="failing"}')).toBe(2);
  expect(value('streamfan_group_dead_letters{topic="orders",group="failing"}')).toBe(1);
  expect(value('streamfan_group_consumers{topic="orders",group="busy"}')).toBe(1);
  expect(value('streamfan_topic_length{topic="order.parts"}')).toBe(2);
  expect(value('streamfan_group_lag{topic="order.parts",group="packer"}')).toBe(0);
  expect(value('streamfan_group_oldest_pending_age_seconds{topic="orders",group="busy"}')).toBeGreaterThanOrEqual(0);
  // /healthz answers under the role too.
  const health = await fetch(new URL('healthz', base));
  expect(health.status).toBe(200);
  // Nothing was refused: Redis' ACL log has no entry for the user.
  const log = (await server.client().call('ACL', 'LOG')) as unknown[][];
  const refused = log
    .map((e) => Object.fromEntries(Array.from({ length: e.length / 2 }, (_, i) => [String(e[2 * i]), e[2 * i + 1]])))
    .filter((e) => e.username === 'sf-cli')
    .map((e) => `${String(e.reason)} ${String(e.object)}`);
  expect(refused).toEqual([]);
});

test('outside its prefix the same user is refused: /metrics answers 503 with the NOPERM reason', async () => {
  // A topic under another prefix: SCAN (keyless) finds it, reading it is refused.
  const other = new Streamfan({ connection: server.url, prefix: `${prefix}x`, retention: false });
  stops.push(() => other.close());
  await other.publish('elsewhere', { n: 1 });
  const url = server.url.replace('redis://', `redis://sf-cli:${PASSWORD}@`);
  const run = startCli(['--url', url, '--prefix', `${prefix}x`, 'metrics', '--port', '0']);
  stops.push(() => run.child.kill());
  await waitFor(() => /on http:\/\/\S+\/metrics/.test(run.output()), { timeoutMs: 20_000, message: `metrics started: ${run.output()}` });
  const base = /on (http:\/\/\S+\/)metrics/.exec(run.output())![1]!;
  const res = await fetch(new URL('metrics', base));
  expect(res.status).toBe(503);
  expect(await res.text()).toMatch(/NOPERM|no permissions/i);
});
