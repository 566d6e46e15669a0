import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { defineTopic, topicKeys, Streamfan } from '@streamfan/core/internal';
import { startRedis, uniquePrefix, waitFor, type RedisServer } from '@streamfan/testing';
import { createDashboard, startDashboard, type RunningDashboard } from '../src';
import { LAG_COUNT_CAP } from '../src/queries';

/**
 * The event page's trace (the W3C traceparent header core's tracing writes) and a group's lag
 * where the server does not report it: Redis 6.2 (no lag in XINFO GROUPS; run when its binary
 * is there, as compat/build-servers.sh builds it) and Redis 7.x after a deletion in the unread
 * range (lag nil), counted by the dashboard up to LAG_COUNT_CAP per stream.
 */
jest.setTimeout(60_000);

const REDIS_62 = process.env.STREAMFAN_REDIS_62 ?? join(homedir(), '.cache', 'streamfan', 'redis', 'redis-6.2.16', 'bin', 'redis-server');
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read whatever the API answered
async function call(base: string, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(new URL(path, base));
  return { status: res.status, body: await res.json() };
}

interface Env { redis: RedisServer; sf: Streamfan; d: RunningDashboard; stop(): Promise<void> }
async function env(bin?: string): Promise<Env> {
  const redis = await startRedis(bin ? { bin } : {});
  const sf = new Streamfan({ connection: redis.url, prefix: uniquePrefix('dasht'), retention: false });
  const d = await startDashboard({ client: sf, port: 0, traceUrl: 'https://traces.example/trace/{traceId}', discoverEveryMs: 50 });
  return { redis, sf, d, async stop() { await d.close(); await sf.close(); await redis.stop(); } };
}

/** A group `slow` that read 2 of 5 entries; `extra` more entries after them. */
async function lagging(e: Env, topic: string, extra = 0): Promise<string[]> {
  const k = topicKeys(e.sf.prefix, topic);
  const ids: string[] = [];
  for (let i = 0; i < 5 + extra; i++) ids.push((await e.sf.redis.xadd(k.stream, '*', 'payload', `{"n":${i}}`, 'headers', '{}'))!);
  await e.sf.redis.xgroup('CREATE', k.stream, 'slow', '0');
  await e.sf.redis.xreadgroup('GROUP', 'slow', 'w1', 'COUNT', 2, 'STREAMS', k.stream, '>');
  return ids;
}

async function group(e: Env, topic: string, name: string): Promise<Record<string, unknown>> {
  const t = (await call(e.d.url, 'api/overview')).body.topics.find((x: { topic: string }) => x.topic === topic);
  return t.groups.find((g: { group: string }) => g.group === name);
}

describe('trace id from the traceparent header', () => {
  let e: Env;
  beforeAll(async () => { e = await env(); });
  afterAll(async () => { await e?.stop(); });

  test('a valid traceparent gives the trace id, publish span, sampled flag and tracestate; a malformed one is reported; none gives none', async () => {
    const t = defineTopic('traced');
    const good = await e.sf.publish(t, { a: 1 }, { headers: { traceparent: `00-${TRACE_ID}-${SPAN_ID}-01`, tracestate: 'congo=t61rcWkgMzE' } });
    const unsampled = await e.sf.publish(t, { a: 2 }, { headers: { TraceParent: `00-${TRACE_ID}-${SPAN_ID}-00` } });
    const bad = await e.sf.publish(t, { a: 3 }, { headers: { traceparent: '00-<script>-x-01' } });
    const zeros = await e.sf.publish(t, { a: 4 }, { headers: { traceparent: `00-${'0'.repeat(32)}-${SPAN_ID}-01` } });
    const none = await e.sf.publish(t, { a: 5 });
    expect((await call(e.d.url, `api/topics/traced/events/${good}`)).body.trace).toEqual({ traceId: TRACE_ID, spanId: SPAN_ID, sampled: true, version: '00', traceState: 'congo=t61rcWkgMzE' });
    expect((await call(e.d.url, `api/topics/traced/events/${unsampled}`)).body.trace).toMatchObject({ traceId: TRACE_ID, sampled: false });
    expect((await call(e.d.url, `api/topics/traced/events/${bad}`)).body.trace).toEqual({ invalid: expect.stringContaining('lowercase hex'), raw: '00-<script>-x-01' });
    expect((await call(e.d.url, `api/topics/traced/events/${zeros}`)).body.trace.invalid).toMatch(/all zeros/);
    expect((await call(e.d.url, `api/topics/traced/events/${none}`)).body.trace).toBeUndefined();
    expect((await call(e.d.url, 'api/meta')).body.traceUrl).toBe('https://traces.example/trace/{traceId}');
  });

  test("an event published with core's own tracer (the OpenTelemetry SDK registered): its page shows that publish's trace id and span", async () => {
    // The real SDK, as core's tests use it (core's devDependency and dependency, loaded from there).
    const fromCore = createRequire(require.resolve('../../core/package.json'));
    const { trace } = fromCore('@opentelemetry/api') as { trace: { setGlobalTracerProvider(p: unknown): boolean; disable(): void } };
    const sdk = fromCore('@opentelemetry/sdk-trace-base') as {
      BasicTracerProvider: new (o: object) => { shutdown(): Promise<void> };
      InMemorySpanExporter: new () => { getFinishedSpans(): Array<{ name: string; spanContext(): { traceId: string; spanId: string } }> };
      SimpleSpanProcessor: new (exporter: unknown) => object;
    };
    const exporter = new sdk.InMemorySpanExporter();
    const provider = new sdk.BasicTracerProvider({ spanProcessors: [new sdk.SimpleSpanProcessor(exporter)] });
    trace.setGlobalTracerProvider(provider);
    const sf = new Streamfan({ connection: e.redis.url, prefix: e.sf.prefix, retention: false });
    try {
      const id = await sf.publish(defineTopic('sdk.traced'), { a: 1 });
      const [send] = exporter.getFinishedSpans().filter((x) => x.name === 'send sdk.traced');
      expect(send).toBeDefined();
      const { traceId, spanId } = send!.spanContext();
      const page = (await call(e.d.url, `api/topics/sdk.traced/events/${id}`)).body;
      expect(page.headers).toMatchObject({ traceparent: `00-${traceId}-${spanId}-01` });
      expect(page.trace).toEqual({ traceId, spanId, sampled: true, version: '00' });
      // The page links it through traceUrl.
      expect((await call(e.d.url, 'api/meta')).body.traceUrl.replace('{traceId}', page.trace.traceId)).toBe(`https://traces.example/trace/${traceId}`);
    } finally {
      trace.disable();
      await sf.close();
      await provider.shutdown();
    }
  });

  test('traceUrl must be an http(s) URL with {traceId}', () => {
    for (const traceUrl of ['javascript:alert(1)//{traceId}', 'https://traces.example/', 'ftp://x/{traceId}']) {
      expect(() => createDashboard({ client: e.sf, traceUrl })).toThrow(/traceUrl must be an http\(s\) URL with \{traceId\}/);
    }
  });
});

describe('lag the server does not report is counted', () => {
  let e: Env;
  beforeAll(async () => { e = await env(); });
  afterAll(async () => { await e?.stop(); });

  test('Redis 7 after a deletion in the unread range (XINFO lag nil): counted exactly, then "at least" past the cap', async () => {
    const ids = await lagging(e, 'holes');
    const k = topicKeys(e.sf.prefix, 'holes');
    await e.sf.redis.xdel(k.stream, ids[3]!);
    const info = await e.sf.redis.xinfo('GROUPS', k.stream) as unknown[][];
    const lagField = info[0]!.indexOf('lag');
    if (lagField >= 0) expect(info[0]![lagField + 1]).toBeNull(); // the server no longer says it
    expect(await group(e, 'holes', 'slow')).toMatchObject({ lag: 2, lagCounted: true, pending: 2 });
    const p = e.sf.redis.pipeline();
    for (let i = 0; i < LAG_COUNT_CAP + 50; i++) p.xadd(k.stream, '*', 'payload', '{}', 'headers', '{}');
    await p.exec();
    const g = await group(e, 'holes', 'slow');
    expect(g).toMatchObject({ lag: LAG_COUNT_CAP, lagAtLeast: true, lagCounted: true });
    expect(g.lagAgeMs).toEqual(expect.any(Number));
  });
});

const on62 = existsSync(REDIS_62) ? describe : describe.skip;
if (!existsSync(REDIS_62)) console.warn(`Redis 6.2 not found at ${REDIS_62} (compat/build-servers.sh builds it; or set STREAMFAN_REDIS_62): its lag test is skipped`);
on62('Redis 6.2 (no lag, no entries-read in XINFO)', () => {
  let e: Env;
  beforeAll(async () => { e = await env(REDIS_62); });
  afterAll(async () => { await e?.stop(); });

  test('lag counted (exact, all-unread from XLEN, caught up 0), processed rate unknown; the pages work', async () => {
    expect((await e.sf.redis.info('server'))).toMatch(/redis_version:6\.2\./);
    await lagging(e, 'old');
    expect(await group(e, 'old', 'slow')).toMatchObject({ lag: 3, lagCounted: true, pending: 2, settledTotal: null });
    const k = topicKeys(e.sf.prefix, 'old');
    await e.sf.redis.xgroup('CREATE', k.stream, 'fresh', '0'); // nothing read: all 5 unread
    await e.sf.redis.xgroup('CREATE', k.stream, 'done', '$'); // caught up
    expect(await group(e, 'old', 'fresh')).toMatchObject({ lag: 5, lagCounted: true });
    expect(await group(e, 'old', 'done')).toMatchObject({ lag: 0 });
    expect((await call(e.d.url, 'api/topics/old')).status).toBe(200);
    expect((await call(e.d.url, 'api/topics/old/groups/slow')).body.group).toMatchObject({ lag: 3, lagCounted: true });
  });

  test("past 100 the lag is still exact (core's countLag: counts only, no entries read back), up to 10,000, then \"at least\"", async () => {
    await lagging(e, 'deep', 2_500);
    const stats = async (): Promise<Record<string, number>> => {
      const out: Record<string, number> = {};
      for (const m of (await e.sf.redis.info('commandstats')).matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) out[m[1]!] = Number(m[2]);
      return out;
    };
    const before = await stats();
    await waitFor(async () => (await call(e.d.url, 'api/overview')).body.topics.some((x: { topic: string }) => x.topic === 'deep'), { timeoutMs: 10_000, message: 'topic deep listed' });
    const g = await group(e, 'deep', 'slow');
    const after = await stats();
    expect(g).toMatchObject({ lag: 2_503, lagCounted: true, pending: 2 });
    expect(g.lagAtLeast).toBeUndefined();
    expect(g.lagAgeMs).toEqual(expect.any(Number));
    // Counted by the script (3 calls of up to 1,000 entries), not by reading entries: the only
    // XRANGE of the overview for this stream is the oldest unread entry's (COUNT 1).
    const scripts = (x: Record<string, number>): number => (x.evalsha ?? 0) + (x.eval ?? 0);
    expect(scripts(after) - scripts(before)).toBeGreaterThanOrEqual(3);
    // Nothing changed: the next pages reuse the count (no script call).
    expect(await group(e, 'deep', 'slow')).toMatchObject({ lag: 2_503 });
    expect((await call(e.d.url, 'api/topics/deep/groups/slow')).body.group).toMatchObject({ lag: 2_503, lagCounted: true });
    expect(scripts(await stats())).toBe(scripts(after));
    const k = topicKeys(e.sf.prefix, 'deep');
    const p = e.sf.redis.pipeline();
    for (let i = 0; i < LAG_COUNT_CAP; i++) p.xadd(k.stream, '*', 'payload', '{}', 'headers', '{}');
    await p.exec();
    expect(await group(e, 'deep', 'slow')).toMatchObject({ lag: LAG_COUNT_CAP, lagAtLeast: true, lagCounted: true });
  });
});
