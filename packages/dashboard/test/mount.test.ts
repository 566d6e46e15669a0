import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DashboardHandler } from '../src';
import { expressApp } from '../examples/express';
import { fastifyApp } from '../examples/fastify';
import { nodeApp } from '../examples/node-http';
import { startFixture, type Fixture } from './fixture';

/**
 * The documented mounting examples (packages/dashboard/examples), each run as written: a plain
 * Node server, an Express app and a Fastify app, each with the dashboard under a path and the
 * application's login check as the `auth` hook. Through each: the app keeps its own routes, the
 * page and the API answer under the path, the hook decides (also for a non-loopback Host, which
 * a token-less dashboard without a hook refuses), live updates stream, and an action (claim)
 * passes the CSRF checks with its JSON body read.
 */
jest.setTimeout(60_000);

const SESSION = { cookie: 'session=admin-session' };

let f: Fixture;
beforeAll(async () => { f = await startFixture(); });
afterAll(async () => { await f?.stop(); });

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read whatever the API answered
async function call(url: string, init: RequestInit = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url, { redirect: 'manual', ...init });
  const text = await res.text();
  let body: unknown = text;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body, headers: res.headers };
}

interface Mounted { base: string; mount: string; close(): Promise<void>; dashboard: DashboardHandler }
const hooked: string[] = [];
const auth = (req: IncomingMessage): boolean => { hooked.push(req.url ?? ''); return /(?:^|;\s*)session=admin-session(?:;|$)/.test(req.headers.cookie ?? ''); };

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const frameworks: Array<[string, () => Promise<Mounted>]> = [
  ['plain Node http', async () => {
    const { server, dashboard } = nodeApp(f.sf, auth);
    const base = await listen(server);
    return { base, mount: '/ops/streamfan', dashboard, close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }) };
  }],
  ['Express', async () => {
    const { app, dashboard } = expressApp(f.sf, auth);
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((r) => server.once('listening', () => r()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { base, mount: '/admin/queues', dashboard, close: async () => { await new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }); await dashboard.close(); } };
  }],
  ['Fastify', async () => {
    const { app, dashboard } = await fastifyApp(f.sf, auth);
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    return { base, mount: '/admin/queues', dashboard, close: async () => { app.server.closeAllConnections(); await app.close(); } };
  }],
];

describe.each(frameworks)('%s', (_name, start) => {
  let m: Mounted;
  beforeAll(async () => { m = await start(); });
  afterAll(async () => { await m?.close(); });
  const at = (p: string) => `${m.base}${m.mount}${p}`;

  test('the app keeps its routes; the page and API answer under the path with the session, 401 without', async () => {
    expect((await call(`${m.base}/`)).body).toBe('the application');
    const bare = await call(`${m.base}${m.mount}`, { headers: SESSION });
    expect([bare.status, bare.headers.get('location')]).toEqual([308, `${m.mount}/`]);
    const page = await call(at('/'), { headers: SESSION });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.body).toContain('<script src="app.js"');
    expect((await call(at('/app.js'), { headers: SESSION })).status).toBe(200);
    const overview = await call(at('/api/overview'), { headers: SESSION });
    expect(overview.status).toBe(200);
    expect(overview.body.topics.map((t: { topic: string }) => t.topic)).toContain('orders');
    hooked.length = 0;
    const refused = await call(at('/api/overview'));
    expect([refused.status, refused.body.code]).toEqual([401, 'UNAUTHORIZED']);
    expect((await call(at('/'))).status).toBe(401);
    expect(hooked.length).toBeGreaterThan(0); // the hook was asked
  });

  test('the auth hook, not the loopback rule, decides: a request naming another host is served with the session', async () => {
    const host = { host: 'ops.example.com' };
    expect((await call(at('/api/meta'), { headers: { ...host, ...SESSION } })).status).toBe(200);
    expect((await call(at('/api/meta'), { headers: host })).status).toBe(401);
  });

  test('live updates stream through the framework', async () => {
    const ctl = new AbortController();
    const res = await fetch(at('/api/live'), { headers: SESSION, signal: ctl.signal });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('event: overview')) text += new TextDecoder().decode((await reader.read()).value);
    ctl.abort();
    expect(text).toContain('"orders"');
  });

  test('an action passes CSRF with its JSON body read, and is refused without the session', async () => {
    const meta = (await call(at('/api/meta'), { headers: SESSION })).body;
    expect(meta.allowActions).toBe(true);
    const pending = (await call(at('/api/topics/orders/groups/audit/pending?limit=1'), { headers: SESSION })).body.entries;
    const id = pending[0].id as string;
    const body = JSON.stringify({ ids: [id], consumer: 'ops-operator' });
    const headers = { 'content-type': 'application/json', 'x-streamfan-csrf': meta.csrf, origin: m.base };
    const refused = await call(at('/api/topics/orders/groups/audit/claim'), { method: 'POST', body, headers });
    expect(refused.status).toBe(401);
    const noCsrf = await call(at('/api/topics/orders/groups/audit/claim'), { method: 'POST', body, headers: { ...headers, ...SESSION, 'x-streamfan-csrf': 'wrong' } });
    expect([noCsrf.status, noCsrf.body.code]).toEqual([403, 'CSRF']);
    const claimed = await call(at('/api/topics/orders/groups/audit/claim'), { method: 'POST', body, headers: { ...headers, ...SESSION } });
    expect([claimed.status, claimed.body.claimed?.map((c: { id: string }) => c.id)]).toEqual([200, [id]]);
    const after = (await call(at('/api/topics/orders/groups/audit/pending?limit=200'), { headers: SESSION })).body.entries;
    expect(after.find((e: { id: string }) => e.id === id).consumer).toBe('ops-operator');
    // Put it back for the next framework's test.
    await f.sf.claim('orders', 'audit', [id], 'crashed-worker');
  });
});
