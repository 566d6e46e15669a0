import { spawn } from 'node:child_process';
import path from 'node:path';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AlwaysOffSampler, BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { uniquePrefix, waitFor } from '@streamfan/testing';
import { Streamfan, defineTopic } from '../src';
import { useRedis } from './helpers';
import { registerTracing, type SpanSummary } from './telemetry-helpers';

const env = useRedis();
const tracing = registerTracing();
afterAll(() => tracing.unregister());
beforeEach(() => tracing.exporter.reset());

const byName = (spans: SpanSummary[], name: string): SpanSummary[] => spans.filter((s) => s.name === name);

/** Start the child process's group; resolves once it is subscribed, with its spans to come. */
function childGroup(url: string, prefix: string, topic: string, group: string, parent: boolean): { ready: Promise<void>; spans: Promise<SpanSummary[]> } {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'telemetry-child.ts'), url, prefix, topic, group, parent ? '1' : '0'], {
    cwd: path.join(__dirname, '..'), stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let readyResolve!: () => void;
  const ready = new Promise<void>((r) => { readyResolve = r; });
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('ready\n')) readyResolve();
  });
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const spans = new Promise<SpanSummary[]>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill(); reject(new Error(`child timed out; stdout ${out}; stderr ${err}`)); }, 25_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('['));
      if (code !== 0 || !line) reject(new Error(`child exited ${code}; stdout ${out}; stderr ${err}`));
      else resolve(JSON.parse(line) as SpanSummary[]);
    });
  });
  return { ready, spans };
}

describe('tracing (OpenTelemetry SDK, in-memory exporter)', () => {
  test('one publish fanned out to three groups (one in a child process) is one trace with three consumer spans', async () => {
    const prefix = uniquePrefix();
    const sf = env.client({ prefix, telemetry: { parentConsumerSpans: true } });
    const topic = defineTopic<{ n: number }>('user.signup');
    const child = childGroup(env.server().url, prefix, topic.name, 'analytics', true);
    const handled: Record<string, string | undefined> = {};
    for (const g of ['email', 'billing']) {
      sf.subscribe(topic, g, async (p, ctx) => {
        handled[g] = ctx.headers.traceparent;
        // The handler runs inside its delivery span: its own spans nest.
        trace.getTracer('app').startSpan(`work ${g}`).end();
        return { n: p.n };
      }, { startFrom: 'beginning' });
    }
    await Promise.all(sf.activeSubscriptions.map((s) => s.ready()));
    await child.ready;
    // Published inside a request's span: the send span is its child.
    const id = await trace.getTracer('app').startActiveSpan('POST /signup', async (span) => {
      try { return await sf.publish(topic, { n: 1 }); } finally { span.end(); }
    });
    await sf.waitFor(topic, id, { groups: ['email', 'billing', 'analytics'], timeoutMs: 20_000 });
    const childSpans = await child.spans;
    await waitFor(() => byName(tracing.spans(), 'process user.signup').length === 2, { timeoutMs: 5000 });
    const spans = [...tracing.spans(), ...childSpans];

    const [request] = byName(spans, 'POST /signup');
    const [send] = byName(spans, 'send user.signup');
    expect(send).toMatchObject({
      kind: SpanKind.PRODUCER, traceId: request!.traceId, parentSpanId: request!.spanId,
      attributes: { 'messaging.system': 'redis', 'messaging.destination.name': 'user.signup', 'messaging.operation.type': 'send', 'messaging.message.id': id },
    });
    // The event carries the send span's context as W3C traceparent.
    const traceparent = `00-${send!.traceId}-${send!.spanId}-01`;
    expect(handled).toEqual({ email: traceparent, billing: traceparent });
    expect((await sf.show(topic, id)).headers).toMatchObject({ traceparent });

    const consumers = byName(spans, 'process user.signup');
    expect(consumers.map((s) => s.attributes['messaging.consumer.group.name']).sort()).toEqual(['analytics', 'billing', 'email']);
    for (const c of consumers) {
      expect(c).toMatchObject({
        kind: SpanKind.CONSUMER, traceId: send!.traceId, parentSpanId: send!.spanId,
        links: [{ traceId: send!.traceId, spanId: send!.spanId }],
        attributes: {
          'messaging.system': 'redis', 'messaging.destination.name': 'user.signup', 'messaging.message.id': id,
          'messaging.operation.type': 'process', 'streamfan.attempt': 1,
        },
      });
      expect(c.status.code).not.toBe(SpanStatusCode.ERROR);
    }
    // One trace: every span above shares the request's trace id.
    expect(new Set(spans.filter((s) => s.name !== 'POST /signup').map((s) => s.traceId))).toEqual(new Set([request!.traceId]));
    // Handlers' own spans (here and in the child) are children of their delivery span.
    const consumerOf = (g: string) => consumers.find((c) => c.attributes['messaging.consumer.group.name'] === g)!;
    expect(byName(spans, 'work email')[0]!.parentSpanId).toBe(consumerOf('email').spanId);
    expect(byName(spans, 'child work')[0]!.parentSpanId).toBe(consumerOf('analytics').spanId);
  });

  test('by default a delivery starts its own trace, linked to the publish', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('orders');
    sf.subscribe(topic, 'a', async () => undefined, { startFrom: 'beginning' });
    sf.subscribe(topic, 'b', async () => undefined, { startFrom: 'beginning' });
    await Promise.all(sf.activeSubscriptions.map((s) => s.ready()));
    const id = await sf.publish(topic, 1);
    await sf.waitFor(topic, id, { timeoutMs: 10_000 });
    await waitFor(() => byName(tracing.spans(), 'process orders').length === 2, { timeoutMs: 5000 });
    const [send] = byName(tracing.spans(), 'send orders');
    const consumers = byName(tracing.spans(), 'process orders');
    for (const c of consumers) {
      expect(c.parentSpanId).toBeUndefined();
      expect(c.traceId).not.toBe(send!.traceId);
      expect(c.links).toEqual([{ traceId: send!.traceId, spanId: send!.spanId }]);
    }
    expect(consumers[0]!.traceId).not.toBe(consumers[1]!.traceId);
  });

  test('publishMany is one send span for the batch; every event links to it', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('batch');
    sf.subscribe(topic, 'g', async () => undefined, { startFrom: 'beginning' });
    await sf.activeSubscriptions[0]!.ready();
    const ids = await sf.publishMany(topic, [1, 2, 3], { headers: { tenant: 't1' } });
    await Promise.all(ids.map((i) => sf.waitFor(topic, i, { timeoutMs: 10_000 })));
    await waitFor(() => byName(tracing.spans(), 'process batch').length === 3, { timeoutMs: 5000 });
    const sends = byName(tracing.spans(), 'send batch');
    expect(sends).toHaveLength(1);
    expect(sends[0]!.attributes['messaging.batch.message_count']).toBe(3);
    const consumers = byName(tracing.spans(), 'process batch');
    expect(consumers.map((c) => c.attributes['messaging.message.id']).sort()).toEqual([...ids].sort());
    for (const c of consumers) expect(c.links).toEqual([{ traceId: sends[0]!.traceId, spanId: sends[0]!.spanId }]);
    // The application's own headers are kept.
    expect((await sf.show(topic, ids[0]!)).headers).toMatchObject({ tenant: 't1', traceparent: expect.stringMatching(/^00-/) });
  });

  test('a delayed publish: the send span ends when scheduled; the delivery, once due, links to it', async () => {
    const sf = env.client({ promoteIntervalMs: 50 });
    const topic = defineTopic<number>('later');
    const sub = sf.subscribe(topic, 'g', async () => undefined, { startFrom: 'beginning', reclaimIntervalMs: 50 });
    await sub.ready();
    const delayedId = await sf.publish(topic, 1, { delayMs: 200 });
    const [send] = byName(tracing.spans(), 'send later');
    expect(send).toMatchObject({ attributes: { 'streamfan.delayed': true, 'messaging.message.id': delayedId } });
    await sf.waitFor(topic, delayedId, { timeoutMs: 10_000 });
    await waitFor(() => byName(tracing.spans(), 'process later').length === 1, { timeoutMs: 5000 });
    expect(byName(tracing.spans(), 'process later')[0]!.links).toEqual([{ traceId: send!.traceId, spanId: send!.spanId }]);
  });

  test('a failed attempt, its retry, the dead letter and a replay are visible; error.type on failure', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('payments');
    class PaymentDeclined extends Error {}
    let runs = 0;
    const sub = sf.subscribe(topic, 'billing', async () => {
      runs++;
      if (runs <= 2) throw new PaymentDeclined('card declined');
      return 'ok';
    }, { startFrom: 'beginning', maxAttempts: 2, backoff: { type: 'fixed', delayMs: 20 } });
    await sub.ready();
    const id = await sf.publish(topic, 5);
    const st = await sf.waitFor(topic, id, { timeoutMs: 10_000 });
    expect(st.groups.billing!.state).toBe('dead');
    await waitFor(() => byName(tracing.spans(), 'process payments').length === 2, { timeoutMs: 5000 });
    const [first, second] = byName(tracing.spans(), 'process payments').sort((a, b) => Number(a.attributes['streamfan.attempt']) - Number(b.attributes['streamfan.attempt']));
    const [send] = byName(tracing.spans(), 'send payments');
    for (const s of [first!, second!]) {
      expect(s.attributes['error.type']).toBe('PaymentDeclined');
      expect(s.status.code).toBe(SpanStatusCode.ERROR);
      expect(s.links).toEqual([{ traceId: send!.traceId, spanId: send!.spanId }]); // the retry copy keeps the headers
    }
    expect(first!.attributes['streamfan.attempt']).toBe(1);
    expect(first!.events.map((e) => e.name)).toEqual(['exception', 'streamfan.retry_scheduled']);
    expect(first!.events[1]!.attributes).toMatchObject({ 'streamfan.retry_in_ms': 20 });
    expect(second!.events.map((e) => e.name)).toEqual(['exception', 'streamfan.dead_lettered']);
    expect(second!.events[1]!.attributes).toMatchObject({ 'streamfan.reason': 'attempts' });

    // Replay: a span for the operation, and the replayed delivery still links to the publish.
    tracing.exporter.reset();
    expect(await sf.deadLetters(topic, 'billing').replay({ all: true })).toBe(1);
    await waitFor(async () => (await sf.status(topic, id)).groups.billing?.state === 'succeeded', { timeoutMs: 10_000 });
    await waitFor(() => byName(tracing.spans(), 'process payments').length === 1, { timeoutMs: 5000 });
    const [replay] = byName(tracing.spans(), 'replay payments');
    expect(replay).toMatchObject({ kind: SpanKind.INTERNAL, attributes: { 'messaging.consumer.group.name': 'billing', 'messaging.batch.message_count': 1 } });
    const [again] = byName(tracing.spans(), 'process payments');
    expect(again!.links).toEqual([{ traceId: send!.traceId, spanId: send!.spanId }]);
    expect(again!.status.code).not.toBe(SpanStatusCode.ERROR);
  });

  test('an entry taken over from a dead consumer: a reclaim span, and its delivery span says reclaimed', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('jobs');
    // A consumer that reads the entry and dies: its sub closes without handing anything back.
    let release!: () => void;
    const hung = new Promise<void>((r) => { release = r; });
    const dead = sf.subscribe(topic, 'workers', async () => { await hung; }, { startFrom: 'beginning', consumer: 'dead-one', visibilityTimeoutMs: 300, shutdownGraceMs: 0 });
    await dead.ready();
    const id = await sf.publish(topic, 1);
    await waitFor(() => dead.stats.inFlight === 1, { timeoutMs: 5000 });
    await dead.close();
    release();
    tracing.exporter.reset();
    const live = sf.subscribe(topic, 'workers', async () => 'ok', { consumer: 'live-one', visibilityTimeoutMs: 300, reclaimIntervalMs: 100 });
    await live.ready();
    await sf.waitFor(topic, id, { timeoutMs: 10_000 });
    await waitFor(() => byName(tracing.spans(), 'process jobs').length === 1, { timeoutMs: 5000 });
    const [reclaim] = byName(tracing.spans(), 'reclaim jobs');
    expect(reclaim).toMatchObject({ kind: SpanKind.INTERNAL, attributes: { 'messaging.consumer.group.name': 'workers', 'messaging.batch.message_count': 1 } });
    const [delivery] = byName(tracing.spans(), 'process jobs');
    expect(delivery!.attributes['streamfan.attempt']).toBe(2);
    expect(delivery!.events.map((e) => e.name)).toContain('streamfan.reclaimed');
  });

  test('partitioned topic with key ordering: delivery spans name the partition and link to the publish', async () => {
    const sf = env.client();
    const topic = defineTopic<{ k: string }>('order.updated', { partitions: 3 });
    const sub = sf.subscribe(topic, 'shipping', async () => undefined, { ordering: 'key', startFrom: 'beginning' });
    await sub.ready();
    const id = await sf.publish(topic, { k: 'o1' }, { key: 'o1' });
    await sf.waitFor(topic, id, { timeoutMs: 10_000 });
    await waitFor(() => byName(tracing.spans(), 'process order.updated').length === 1, { timeoutMs: 5000 });
    const [send] = byName(tracing.spans(), 'send order.updated');
    const [c] = byName(tracing.spans(), 'process order.updated');
    expect(send!.attributes['messaging.message.id']).toBe(id);
    expect(c).toMatchObject({
      links: [{ traceId: send!.traceId, spanId: send!.spanId }],
      attributes: { 'messaging.message.id': id, 'messaging.destination.partition.id': id.slice(1, id.indexOf(':')) },
    });
  });

  test('an entry another program wrote with a W3C traceparent (any language) is linked to that context; a malformed one is ignored', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('foreign');
    const sub = sf.subscribe(topic, 'g', async () => undefined, { startFrom: 'beginning' });
    await sub.ready();
    const stream = `${sf.prefix}:{foreign}:stream`;
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const spanId = '00f067aa0ba902b7';
    const good = await sf.redis.xadd(stream, '*', 'payload', '1', 'headers', JSON.stringify({ traceparent: `00-${traceId}-${spanId}-01`, tracestate: 'vendor=abc' }));
    const bad = await sf.redis.xadd(stream, '*', 'payload', '2', 'headers', JSON.stringify({ traceparent: `00-${'0'.repeat(32)}-${spanId}-01` }));
    await sf.waitFor(topic, bad!, { timeoutMs: 10_000 });
    await waitFor(() => byName(tracing.spans(), 'process foreign').length === 2, { timeoutMs: 5000 });
    const spans = byName(tracing.spans(), 'process foreign');
    const of = (id: string) => spans.find((x) => x.attributes['messaging.message.id'] === id)!;
    expect(of(good!).links).toEqual([{ traceId, spanId }]);
    expect(of(bad!).links).toEqual([]);
  });

  test('a malformed entry dead-lettered without a handler run gets a dead_letter span', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('raw');
    const sub = sf.subscribe(topic, 'g', async () => undefined, { startFrom: 'beginning' });
    await sub.ready();
    await sf.redis.xadd(`${sf.prefix}:{raw}:stream`, '*', 'something', 'else');
    await waitFor(() => byName(tracing.spans(), 'dead_letter raw').length === 1, { timeoutMs: 10_000 });
    expect(byName(tracing.spans(), 'dead_letter raw')[0]!.attributes).toMatchObject({ 'streamfan.reason': 'malformed', 'messaging.consumer.group.name': 'g' });
  });
});

test('a client given its own tracer provider uses it, not the global one', async () => {
  const own = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(own)] });
  tracing.exporter.reset();
  const sf = new Streamfan({ connection: env.server().url, prefix: uniquePrefix(), retention: false, telemetry: { tracerProvider: provider } });
  try {
    await sf.publish(defineTopic<number>('own'), 1);
    expect(own.getFinishedSpans().map((s) => s.name)).toEqual(['send own']);
    expect(tracing.spans()).toEqual([]);
  } finally {
    await sf.close();
  }
});

test.each([
  ['by default, the handler does not enter the dropped span\'s context (no AsyncLocalStorage cost)', {}, 'none'],
  ['with unsampledContext, the handler runs in the dropped span\'s context', { unsampledContext: true }, 0],
  ['with parentConsumerSpans and a publish context, the handler runs in it (its spans follow the publisher\'s decision)', { parentConsumerSpans: true }, 0],
] as const)('a sampler that drops every span: the trace context still travels (sampled flag 0), no span is kept open; %s', async (_name, options, inside) => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ sampler: new AlwaysOffSampler(), spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const sf = new Streamfan({ connection: env.server().url, prefix: uniquePrefix(), retention: false, telemetry: { tracerProvider: provider, ...options } });
  try {
    const topic = defineTopic<number>('unsampled');
    let seen: string | undefined;
    const sub = sf.subscribe(topic, 'g', async (_p, ctx) => {
      seen = ctx.headers.traceparent;
      const active = trace.getActiveSpan();
      return active === undefined ? 'none' : active.spanContext().traceFlags;
    }, { startFrom: 'beginning' });
    await sub.ready();
    const id = await sf.publish(topic, 1);
    const st = await sf.waitFor(topic, id, { timeoutMs: 10_000 });
    expect(seen).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    expect(st.groups.g).toMatchObject({ state: 'succeeded', result: inside });
    expect(exporter.getFinishedSpans()).toEqual([]);
  } finally {
    await sf.close();
  }
});
