import { Streamfan } from '@streamfan/core';
import { startRedis, uniquePrefix, waitFor, type RedisServer } from '@streamfan/testing';
import { buildCli, removeCli, runCli, startCli } from './run-cli';

/** `streamfan dashboard` as a child process against a real redis-server. */
jest.setTimeout(120_000);

let server: RedisServer;
let sf: Streamfan;
const prefix = uniquePrefix();
let base: string[] = [];

beforeAll(async () => {
  buildCli();
  server = await startRedis();
  sf = new Streamfan({ connection: server.url, prefix, retention: false });
  await sf.publish('orders', { n: 1 });
  base = ['--url', server.url, '--prefix', prefix];
});

afterAll(async () => {
  await sf?.close();
  await server?.stop();
  removeCli();
});

/** Start the command, wait for the line with its URL, return it and the running child. */
async function serve(args: string[]) {
  const run = startCli([...base, 'dashboard', '--port', '0', ...args]);
  await waitFor(async () => /on http:\/\/\S+/.test(run.output()), { timeoutMs: 20_000, message: `dashboard started: ${run.output()}` });
  const url = /on (http:\/\/\S+)/.exec(run.output())![1]!;
  return { ...run, url };
}

test('refuses a non-loopback host without a token (exit 2), and a bad port', async () => {
  const open = await runCli([...base, 'dashboard', '--host', '0.0.0.0']);
  expect(open.code).toBe(2);
  expect(open.stderr).toContain('refusing to serve the dashboard on 0.0.0.0 without a token');
  const badPort = await runCli([...base, 'dashboard', '--port', '70000']);
  expect(badPort.code).toBe(2);
});

test('serves a read-only dashboard by default until SIGINT: page, API, 403 on actions', async () => {
  const d = await serve([]);
  expect(d.output()).toContain(`for prefix "${prefix}"`);
  expect(d.output()).toContain('read-only');
  const page = await fetch(d.url);
  expect(page.status).toBe(200);
  expect(await page.text()).toContain('<script src="app.js" defer></script>');
  const overview = (await (await fetch(new URL('api/overview', d.url))).json()) as { topics: Array<{ topic: string; length: number }> };
  expect(overview.topics).toEqual([expect.objectContaining({ topic: 'orders', length: 1 })]);
  const meta = (await (await fetch(new URL('api/meta', d.url))).json()) as { csrf: string; allowActions: boolean };
  expect(meta.allowActions).toBe(false);
  const act = await fetch(new URL('api/topics/orders/groups/g/ack', d.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-streamfan-csrf': meta.csrf },
    body: JSON.stringify({ ids: ['1-1'] }),
  });
  expect(act.status).toBe(403);
  d.child.kill('SIGINT');
  expect((await d.result).code).toBe(0);
});

test('--allow-actions --token: the URL printed carries the token; the API wants it', async () => {
  const d = await serve(['--allow-actions', '--token', 'tok-12345678']);
  expect(d.output()).toContain('actions allowed');
  expect(d.url).toMatch(/\?token=tok-12345678$/);
  const plain = d.url.replace(/\?token=.*$/, '');
  expect((await fetch(new URL('api/meta', plain))).status).toBe(401);
  const meta = await fetch(new URL('api/meta', plain), { headers: { authorization: 'Bearer tok-12345678' } });
  expect(((await meta.json()) as { allowActions: boolean }).allowActions).toBe(true);
  d.child.kill('SIGTERM');
  expect((await d.result).code).toBe(0);
});

test('--trace-url and --discover-every reach the dashboard; bad values are usage errors (exit 2)', async () => {
  const help = await runCli(['dashboard', '--help']);
  expect(help.code).toBe(0);
  expect(help.stdout).toMatch(/--trace-url <url>\s+link an event's trace id/);
  expect(help.stdout).toMatch(/--discover-every <duration>\s+look for new topics/);
  expect(help.stdout).toContain('(default: 5000)');
  const badUrl = await runCli([...base, 'dashboard', '--trace-url', 'ftp://traces.example/{traceId}']);
  expect(badUrl.code).toBe(2);
  expect(badUrl.stderr).toContain('expected an http(s) URL with {traceId}');
  const noId = await runCli([...base, 'dashboard', '--trace-url', 'https://traces.example/trace/']);
  expect(noId.code).toBe(2);
  const badEvery = await runCli([...base, 'dashboard', '--discover-every', 'soon']);
  expect(badEvery.code).toBe(2);
  expect(badEvery.stderr).toContain('expected a duration');

  const topics = async (url: string): Promise<string[]> =>
    ((await (await fetch(new URL('api/overview', url))).json()) as { topics: Array<{ topic: string }> }).topics.map((t) => t.topic);
  // Discovery every 100 ms: a topic created after the first listing shows up at once.
  const quick = await serve(['--trace-url', 'https://traces.example/trace/{traceId}', '--discover-every', '100ms']);
  const meta = (await (await fetch(new URL('api/meta', quick.url))).json()) as { traceUrl: string | null };
  expect(meta.traceUrl).toBe('https://traces.example/trace/{traceId}');
  expect(await topics(quick.url)).toEqual(['orders']);
  await sf.publish('later', { n: 1 });
  await waitFor(async () => (await topics(quick.url)).includes('later'), { timeoutMs: 10_000, message: 'new topic discovered' });
  quick.child.kill('SIGINT');
  expect((await quick.result).code).toBe(0);
  // Discovery every hour: after the first listing, a new topic does not show up (nor does a trace URL without the flag).
  const slow = await serve(['--discover-every', '1h']);
  expect(((await (await fetch(new URL('api/meta', slow.url))).json()) as { traceUrl: string | null }).traceUrl).toBeNull();
  expect((await topics(slow.url)).sort()).toEqual(['later', 'orders']);
  await sf.publish('latest', { n: 1 });
  await new Promise((r) => setTimeout(r, 1500));
  expect(await topics(slow.url)).not.toContain('latest');
  slow.child.kill('SIGINT');
  expect((await slow.result).code).toBe(0);
});
