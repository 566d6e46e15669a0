import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { defineTopic, topicKeys } from '@streamfan/core/internal';
import { waitFor } from '@streamfan/testing';
import { createDashboard, startDashboard, type RunningDashboard } from '../src';
import { startFixture, HOSTILE, type Fixture } from './fixture';

jest.setTimeout(60_000);

let f: Fixture;
let rw: RunningDashboard;
let ro: RunningDashboard;

beforeAll(async () => {
  f = await startFixture();
  rw = await startDashboard({ client: f.sf, port: 0, allowActions: true });
  ro = await startDashboard({ client: f.sf, port: 0 });
});
afterAll(async () => {
  await rw?.close();
  await ro?.close();
  await f?.stop();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read whatever the API answered
async function call(base: string, path: string, init: RequestInit = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(new URL(path, base), { redirect: 'manual', ...init });
  const text = await res.text();
  let body: unknown = text;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body, headers: res.headers };
}

async function csrfOf(base: string): Promise<string> {
  return (await call(base, 'api/meta')).body.csrf as string;
}

function post(base: string, path: string, body: unknown, headers: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return call(base, path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
}

test('overview: every topic with its groups, the no-consumer groups, pending, retries and dead letters', async () => {
  const { status, body } = await call(rw.url, 'api/overview');
  expect(status).toBe(200);
  const topics = body.topics.map((t: { topic: string }) => t.topic);
  expect(topics).toEqual(expect.arrayContaining(['orders', HOSTILE.topic]));
  const orders = body.topics.find((t: { topic: string }) => t.topic === 'orders');
  expect(orders).toMatchObject({ length: 6, delayed: 1, partitions: null });
  const g = Object.fromEntries(orders.groups.map((x: { group: string }) => [x.group, x]));
  expect(g.email).toMatchObject({ pending: 0, lag: 0, deadLetters: 0, consumers: 0, settledTotal: 6 });
  expect(g.billing).toMatchObject({ deadLetters: 6, deadTotal: 6 });
  expect(g.retrier).toMatchObject({ retrying: 6 });
  expect(g.audit).toMatchObject({ pending: 5, consumers: 2, lag: 1, oldestPendingId: f.ids[0] });
  expect(g.audit.oldestPendingAgeMs).toBeGreaterThanOrEqual(0);
  expect(g[HOSTILE.group]).toBeDefined();
});

test('rates come from samples: a second overview after more work shows a processed rate', async () => {
  await call(rw.url, 'api/overview');
  await new Promise((r) => setTimeout(r, 300));
  const keys = topicKeys(f.prefix, 'orders');
  await f.sf.redis.xadd(keys.stream, '*', 'payload', '{"order":99}', 'headers', '{}');
  await f.sf.redis.xadd(keys.deadLetters('billing'), '*', 'id', '0-1', 'payload', '{}', 'error', 'x', 'attempts', '1', 'reason', 'handler', 'consumer', 'c', 'deadAt', '1');
  const { body } = await call(rw.url, 'api/overview');
  const orders = body.topics.find((t: { topic: string }) => t.topic === 'orders');
  expect(orders.publishRate.at(-1)).toBeGreaterThan(0);
  expect(orders.groups.find((x: { group: string }) => x.group === 'billing').deadRate.at(-1)).toBeGreaterThan(0);
  // Put things back as the other tests expect them.
  const last = await f.sf.redis.xrevrange(keys.stream, '+', '-', 'COUNT', 1);
  await f.sf.redis.xdel(keys.stream, last[0]![0]);
  const dl = await f.sf.redis.xrevrange(keys.deadLetters('billing'), '+', '-', 'COUNT', 1);
  await f.sf.redis.xdel(keys.deadLetters('billing'), dl[0]![0]);
});

test('topic: groups, recent events with their status in every group, trim floor, delayed events due next', async () => {
  const { status, body } = await call(rw.url, 'api/topics/orders?limit=4');
  expect(status).toBe(200);
  expect(body.recent.map((e: { id: string }) => e.id)).toEqual(f.ids.slice(2).reverse());
  const hostile = body.recent.find((e: { id: string }) => e.id === f.hostileId);
  expect(hostile.status).toMatchObject({ email: { state: 'succeeded' }, billing: { state: 'dead' }, retrier: { state: 'failed' }, audit: { state: 'processing' } });
  expect(body.next).toBe(f.ids[2]);
  const older = await call(rw.url, `api/topics/orders?limit=4&before=${body.next}`);
  expect(older.body.recent.map((e: { id: string }) => e.id)).toEqual(f.ids.slice(0, 2).reverse());
  // audit still holds the first event: nothing can be trimmed safely.
  expect(body.trim).toMatchObject({ firstId: f.ids[0], floor: f.ids[0], trimmable: false });
  expect(body.delayedNext).toEqual([expect.objectContaining({ delayedId: f.delayedId })]);
});

test('group: consumers, pending entries paged, retries with their next attempt, dead letters paged', async () => {
  const { body } = await call(rw.url, 'api/topics/orders/groups/audit?limit=2');
  expect(body.consumers.map((c: { name: string }) => c.name).sort()).toEqual([HOSTILE.consumer, 'crashed-worker'].sort());
  expect(body.pending.entries.map((e: { id: string }) => e.id)).toEqual(f.ids.slice(0, 2));
  const seen = [...body.pending.entries.map((e: { id: string }) => e.id)];
  let next = body.pending.next as string | null;
  while (next) {
    const page = await call(rw.url, `api/topics/orders/groups/audit/pending?limit=2&after=${next}`);
    seen.push(...page.body.entries.map((e: { id: string }) => e.id));
    next = page.body.next;
  }
  expect(seen).toEqual(f.ids.slice(0, 5));
  const retrier = (await call(rw.url, 'api/topics/orders/groups/retrier?limit=4')).body;
  expect(retrier.retries.total).toBe(6);
  expect(retrier.retries.entries).toHaveLength(4);
  expect(retrier.retries.entries[0].nextAttemptAt).toBeGreaterThan(Date.now() + 60_000);
  expect(retrier.retries.next).toBe(4);
  const billing = (await call(rw.url, 'api/topics/orders/groups/billing/dead-letters?limit=4')).body;
  expect(billing.total).toBe(6);
  expect(billing.entries).toHaveLength(4);
  const rest = (await call(rw.url, `api/topics/orders/groups/billing/dead-letters?limit=4&after=${billing.next}`)).body;
  expect(rest.entries).toHaveLength(2);
});

test('event: payload and headers exactly as published, status in every group, its dead letters', async () => {
  const { body } = await call(rw.url, `api/topics/orders/events/${f.hostileId}`);
  expect(body.payload).toEqual(HOSTILE.payload);
  expect(body.headers).toEqual(HOSTILE.headers);
  expect(body.status.billing.state).toBe('dead');
  expect(body.deadLetters).toEqual([expect.objectContaining({ group: 'billing', eventId: f.hostileId })]);
  const delayed = (await call(rw.url, `api/topics/orders/events/${f.delayedId}`)).body;
  expect(delayed).toMatchObject({ payloadFrom: 'delayed', payload: { order: 'later' } });
  expect(delayed.status.email.state).toBe('scheduled');
  const missing = await call(rw.url, 'api/topics/orders/events/1-1');
  expect(missing.status).toBe(404);
  expect(missing.body.code).toBe('NOT_FOUND');
  expect((await call(rw.url, 'api/topics/orders/events/nope')).status).toBe(400);
});

test('search by event id, delayed id and idempotency key; nothing for an unknown text', async () => {
  const hit = async (q: string) => (await call(rw.url, `api/search?q=${encodeURIComponent(q)}`)).body.hits;
  expect(await hit(f.ids[1]!)).toEqual([expect.objectContaining({ topic: 'orders', kind: 'event', eventId: f.ids[1] })]);
  expect(await hit(f.delayedId)).toEqual([expect.objectContaining({ topic: 'orders', kind: 'delayed', eventId: f.delayedId })]);
  expect(await hit('order-42')).toEqual([expect.objectContaining({ topic: 'orders', kind: 'idempotency', eventId: f.idempotentId })]);
  expect(await hit('no-such-thing')).toEqual([]);
});

test('read-only: every action answers 403 and changes nothing', async () => {
  const csrf = await csrfOf(ro.url);
  for (const [path, body] of [
    ['claim', { ids: [f.ids[0]], consumer: 'x' }], ['ack', { ids: [f.ids[0]] }],
    ['dead-letters/replay', { all: true }], ['dead-letters/purge', { all: true }],
  ] as const) {
    const res = await post(ro.url, `api/topics/orders/groups/${path.startsWith('dead') ? 'billing' : 'audit'}/${path}`, body, { 'x-streamfan-csrf': csrf });
    expect([path, res.status, res.body.code]).toEqual([path, 403, 'READ_ONLY']);
  }
  const audit = (await call(ro.url, 'api/topics/orders/groups/audit')).body;
  expect(audit.group.pending).toBe(5);
  expect((await call(ro.url, 'api/topics/orders/groups/billing')).body.group.deadLetters).toBe(6);
});

test('CSRF: an action without the header, with a wrong one, from another origin or not as JSON is refused', async () => {
  const csrf = await csrfOf(rw.url);
  const path = 'api/topics/orders/groups/billing/dead-letters/purge';
  const body = { ids: ['1-1'] };
  expect((await post(rw.url, path, body, {})).body.code).toBe('CSRF');
  expect((await post(rw.url, path, body, { 'x-streamfan-csrf': 'wrong' })).body.code).toBe('CSRF');
  expect((await post(rw.url, path, body, { 'x-streamfan-csrf': csrf, origin: 'http://evil.example' })).body.code).toBe('CSRF');
  expect((await post(rw.url, path, body, { 'x-streamfan-csrf': csrf, 'sec-fetch-site': 'cross-site' })).body.code).toBe('CSRF');
  const form = await call(rw.url, path, { method: 'POST', body: 'ids=1-1', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-streamfan-csrf': csrf } });
  expect(form.status).toBe(415);
  const ok = await post(rw.url, path, body, { 'x-streamfan-csrf': csrf, origin: new URL(rw.url).origin });
  expect(ok).toMatchObject({ status: 200, body: { purged: 0 } });
});

test('actions: claim, ack, replay and purge through the API', async () => {
  const csrf = await csrfOf(rw.url);
  const h = { 'x-streamfan-csrf': csrf };
  const claimed = await post(rw.url, 'api/topics/orders/groups/audit/claim', { ids: [f.ids[0]], consumer: 'rescuer' }, h);
  expect(claimed.status).toBe(200);
  expect(claimed.body.claimed).toEqual([expect.objectContaining({ id: f.ids[0], previousOwner: 'crashed-worker' })]);
  const notPending = await post(rw.url, 'api/topics/orders/groups/audit/ack', { ids: ['1-1'] }, h);
  expect(notPending.status).toBe(404);
  const acked = await post(rw.url, 'api/topics/orders/groups/audit/ack', { ids: [f.ids[0]] }, h);
  expect(acked.body.acked).toEqual([expect.objectContaining({ id: f.ids[0], previousOwner: 'rescuer' })]);
  expect((await call(rw.url, `api/topics/orders/events/${f.ids[0]}`)).body.status.audit.state).toBe('succeeded');
  const dl = (await call(rw.url, 'api/topics/orders/groups/billing/dead-letters?limit=1')).body.entries[0];
  const replayed = await post(rw.url, 'api/topics/orders/groups/billing/dead-letters/replay', { ids: [dl.deadLetterId] }, h);
  expect(replayed.body.replayed).toBe(1);
  const bad = await post(rw.url, 'api/topics/orders/groups/billing/dead-letters/purge', {}, h);
  expect(bad.status).toBe(400);
  const purged = await post(rw.url, 'api/topics/orders/groups/billing/dead-letters/purge', { all: true }, h);
  expect(purged.body.purged).toBe(5);
});

test('names the server cannot take are refused with a clear error, as JSON', async () => {
  const res = await call(rw.url, `api/topics/${encodeURIComponent(HOSTILE.topic)}`);
  expect(res.status).toBe(400);
  expect(res.body.error).toContain('is not valid');
  expect(res.headers.get('content-type')).toContain('application/json');
  expect((await call(rw.url, 'api/nope')).status).toBe(404);
  expect((await call(rw.url, 'api/topics/orders/groups/audit/pending?limit=0')).status).toBe(400);
});

describe('access', () => {
  test('refuses to listen beyond loopback without a token', async () => {
    await expect(startDashboard({ client: f.sf, host: '0.0.0.0', port: 0 })).rejects.toThrow(/without a token/);
  });

  test('a token-less dashboard answers only requests naming a loopback host (DNS rebinding)', async () => {
    // fetch may not set Host: a raw request does, as a rebinding page's browser would.
    const ask = (host: string) => new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: ro.port, path: '/api/meta', headers: { host } }, (res) => { res.resume(); resolve(res.statusCode!); });
      req.on('error', reject);
      req.end();
    });
    expect(await ask('evil.example')).toBe(403);
    expect(await ask(`evil.example:${ro.port}`)).toBe(403);
    expect(await ask(`localhost:${ro.port}`)).toBe(200);
    expect(await ask(`127.0.0.1:${ro.port}`)).toBe(200);
  });

  test('with a token: 401 without it; ?token= trades it for an HttpOnly cookie; Bearer works', async () => {
    const d = await startDashboard({ client: f.sf, host: '0.0.0.0', port: 0, token: 's3cret-token' });
    try {
      const base = `http://127.0.0.1:${d.port}/`;
      expect((await call(base, 'api/meta')).status).toBe(401);
      expect((await call(base, '')).status).toBe(401);
      const swap = await call(base, '?token=s3cret-token');
      expect(swap.status).toBe(303);
      expect(swap.headers.get('location')).toBe('/');
      const cookie = swap.headers.get('set-cookie')!;
      expect(cookie).toMatch(/HttpOnly/);
      expect(cookie).toMatch(/SameSite=Strict/);
      expect((await call(base, 'api/meta', { headers: { cookie: cookie.split(';')[0]! } })).status).toBe(200);
      expect((await call(base, 'api/meta', { headers: { authorization: 'Bearer s3cret-token' } })).status).toBe(200);
      expect((await call(base, 'api/meta', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    } finally {
      await d.close();
    }
  });

  test('an auth hook decides, on every request', async () => {
    const d = await startDashboard({ client: f.sf, port: 0, auth: (req) => req.headers['x-user'] === 'ops' });
    try {
      expect((await call(d.url, 'api/meta')).status).toBe(401);
      expect((await call(d.url, 'api/meta', { headers: { 'x-user': 'ops' } })).status).toBe(200);
    } finally {
      await d.close();
    }
  });
});

describe('mounting', () => {
  let server: Server;
  let base: string;
  const handler = () => createDashboard({ client: f.sf, basePath: '/ops/streamfan' });
  let dash: ReturnType<typeof handler>;
  beforeAll(async () => {
    dash = handler();
    server = createServer((req, res) => dash(req, res, () => { res.statusCode = 404; res.end('app 404'); }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await dash.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  test('in a plain Node server under a path: the app keeps its other routes', async () => {
    expect((await call(base, '/other')).body).toBe('app 404');
    const bare = await call(base, '/ops/streamfan');
    expect(bare.status).toBe(308);
    expect(bare.headers.get('location')).toBe('/ops/streamfan/');
    const page = await call(base, '/ops/streamfan/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect((await call(base, '/ops/streamfan/api/overview')).body.topics.length).toBeGreaterThan(0);
  });

  test('Express-style mounting (the framework strips the path and keeps originalUrl)', async () => {
    const express = createDashboard({ client: f.sf });
    const srv = createServer((req, res) => {
      const original = req.url!;
      if (!original.startsWith('/admin/queues')) { res.statusCode = 404; res.end(); return; }
      Object.assign(req, { originalUrl: original, url: original.slice('/admin/queues'.length) || '/' });
      express(req, res, () => { res.statusCode = 404; res.end('next'); });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const b = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
    try {
      expect((await call(b, '/admin/queues')).headers.get('location')).toBe('/admin/queues/');
      expect((await call(b, '/admin/queues/')).status).toBe(200);
      expect((await call(b, '/admin/queues/api/meta')).body.allowActions).toBe(false);
      expect((await call(b, '/admin/queues/elsewhere')).body).toBe('next');
    } finally {
      await express.close();
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });
});

test('the page script never parses data as HTML', () => {
  const js = readFileSync(join(__dirname, '..', 'public', 'app.js'), 'utf8').replace(/^\s*\/\/.*$/gm, '');
  expect(js).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
});

test('the embedded page (src/assets.generated.ts) is the one in public/', () => {
  expect(() => execFileSync(process.execPath, [join(__dirname, '..', 'tools', 'embed-assets.mjs'), '--check'], { stdio: 'pipe' })).not.toThrow();
});

test('a partitioned topic: summed on the overview, its partitions listed, each partition a topic page', async () => {
  const parted = defineTopic<{ k: string }>('parted', { partitions: 3 });
  const ids: string[] = [];
  for (const k of ['a', 'b', 'c', 'd', 'e', 'f']) ids.push(await f.sf.publish(parted, { k }, { key: k }));
  const sub = f.sf.subscribe(parted, 'indexer', async () => undefined, { blockMs: 100 });
  await sub.ready();
  await sub.close();
  await waitFor(async () => (await call(rw.url, 'api/overview')).body.topics.some((t: { topic: string; partitions: number }) => t.topic === 'parted' && t.partitions === 3), { timeoutMs: 10_000, message: 'parted listed' });
  const t = (await call(rw.url, 'api/overview')).body.topics.find((x: { topic: string }) => x.topic === 'parted');
  expect(t).toMatchObject({ partitions: 3, length: 6 });
  expect(t.parts.map((p: { home: string }) => p.home)).toEqual(['parted#0', 'parted#1', 'parted#2']);
  expect(t.groups.map((g: { group: string }) => g.group)).toEqual(['indexer']);
  const page = (await call(rw.url, 'api/topics/parted')).body;
  expect(page).toMatchObject({ kind: 'partitioned', partitions: 3 });
  const [, partition, local] = /^p(\d+):(.+)$/.exec(ids[0]!)!;
  const home = `parted#${partition}`;
  const stream = (await call(rw.url, `api/topics/${encodeURIComponent(home)}`)).body;
  expect(stream).toMatchObject({ kind: 'stream', topic: 'parted', partition: Number(partition) });
  expect(stream.recent.map((e: { id: string }) => e.id)).toContain(local);
  const ev = (await call(rw.url, `api/topics/${encodeURIComponent(home)}/events/${local}`)).body;
  expect(ev.payload).toEqual({ k: 'a' });
  expect((await call(rw.url, `api/search?q=${encodeURIComponent(ids[0]!)}`)).body.hits).toEqual([expect.objectContaining({ home, eventId: local })]);
  // Actions on partitions: partitions.test.ts.
});
