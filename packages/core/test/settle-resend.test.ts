import { createHash } from 'node:crypto';
import { startTcpProxy, waitFor, type TcpProxy } from '@streamfan/testing';
import { defineTopic, topicKeys } from '../src/internal';
import type { Subscription } from '../src';
import { luaSources, type ScriptName } from '../src/scripts/lua.generated';
import { useRedis } from './helpers';

// ioredis re-sends a command that was sent but not answered when the connection drops. A settle
// script (ackBatch, failEntry, deadLetter) whose reply is lost has run once already: the resend
// finds the entry no longer pending for this consumer. That is this consumer's own work done, not
// an entry another consumer took: no `stale`, and the outcome (processed, failed, dead-lettered)
// is reported once. The proxy lets Redis run the script, then cuts the worker connection before
// the reply reaches the client.
const env = useRedis();
let proxy: TcpProxy;
beforeAll(async () => { proxy = await startTcpProxy({ port: env.server().port }); });
afterAll(async () => { await proxy?.close(); });

const shaOf = (name: ScriptName) => createHash('sha1').update(luaSources[name].source).digest('hex');
const calls = (name: ScriptName) => { const sha = shaOf(name); return (chunk: string) => chunk.includes(sha); };

interface Seen { stale: string[]; processed: string[]; failed: string[]; dead: string[]; errors: string[] }
function watch(sub: Subscription<{ n: number }>): Seen {
  const seen: Seen = { stale: [], processed: [], failed: [], dead: [], errors: [] };
  sub.on('stale', ({ ids }) => seen.stale.push(...ids));
  sub.on('processed', ({ id }) => seen.processed.push(id));
  sub.on('failed', ({ id }) => seen.failed.push(id));
  sub.on('deadLettered', ({ id }) => seen.dead.push(id));
  sub.on('error', (e) => seen.errors.push(e.message));
  return seen;
}

describe.each([true, false])('a settle script resent after its reply was lost (trackStatus %s)', (trackStatus) => {
  test('ack: processed once, no stale, nothing left pending', async () => {
    const sf = env.client({ connection: proxy.url });
    const direct = env.server().client();
    const topic = defineTopic<{ n: number }>('acks');
    const sub = sf.subscribe(topic, 'g', async () => 'done', { trackStatus, consumer: 'c1' });
    const seen = watch(sub);
    await sub.ready();
    const cut = proxy.cutAfterReplyTo(calls('ackBatch'));
    const id = await sf.publish(topic, { n: 1 });
    await cut;
    await waitFor(() => seen.processed.length + seen.stale.length > 0, { message: 'the ack settled' });
    await new Promise((r) => setTimeout(r, 200));
    expect(seen.stale).toEqual([]);
    expect(seen.processed).toEqual([id]);
    expect((await direct.xpending(topicKeys(sf.prefix, topic.name).stream, 'g'))[0]).toBe(0);
  });

  test('fail: the retry scheduled once, reported failed, no stale', async () => {
    const sf = env.client({ connection: proxy.url });
    const direct = env.server().client();
    const topic = defineTopic<{ n: number }>('fails');
    const sub = sf.subscribe(topic, 'g', async () => { throw new Error('boom'); },
      { trackStatus, consumer: 'c1', backoff: { type: 'fixed', delayMs: 60_000 } });
    const seen = watch(sub);
    await sub.ready();
    const cut = proxy.cutAfterReplyTo(calls('failEntry'));
    const id = await sf.publish(topic, { n: 1 });
    await cut;
    await waitFor(() => seen.failed.length + seen.stale.length > 0, { message: 'the failure settled' });
    await new Promise((r) => setTimeout(r, 200));
    expect(seen.stale).toEqual([]);
    expect(seen.failed).toEqual([id]);
    expect(await direct.zcard(topicKeys(sf.prefix, topic.name).retry('g'))).toBe(1);
  });

  test('dead letter: dead-lettered once, no stale', async () => {
    const sf = env.client({ connection: proxy.url });
    const direct = env.server().client();
    const topic = defineTopic<{ n: number }>('dead');
    const sub = sf.subscribe(topic, 'g', async (_p, ctx) => ctx.deadLetter('no'), { trackStatus, consumer: 'c1' });
    const seen = watch(sub);
    await sub.ready();
    const cut = proxy.cutAfterReplyTo(calls('deadLetter'));
    const id = await sf.publish(topic, { n: 1 });
    await cut;
    await waitFor(() => seen.dead.length + seen.stale.length > 0, { message: 'the dead letter settled' });
    await new Promise((r) => setTimeout(r, 200));
    expect(seen.stale).toEqual([]);
    expect(seen.dead).toEqual([id]);
    expect(await direct.xlen(topicKeys(sf.prefix, topic.name).deadLetters('g'))).toBe(1);
  });
});

test('fail resent after the retry was already taken by another consumer: still no stale for the first attempt', async () => {
  // Backoff 0: the retry copy goes straight to the redelivery stream, where a second consumer
  // (blocked in XREADGROUP, not behind the proxy) takes it and marks it `processing` before the
  // first consumer's resend runs, so the status no longer says "failed by c1".
  const sf = env.client({ connection: proxy.url });
  const other = env.client({ prefix: sf.prefix });
  const topic = defineTopic<{ n: number }>('fail-taken');
  let open!: () => void;
  const gate = new Promise<void>((r) => { open = r; });
  let release!: () => void;
  const held = new Promise<void>((r) => { release = r; });
  let started = 0;
  const sub = sf.subscribe(topic, 'g', async () => { started++; await gate; throw new Error('first attempt fails'); },
    { consumer: 'c1', backoff: { type: 'fixed', delayMs: 0 }, concurrency: 1 });
  const seen = watch(sub);
  await sub.ready();
  const id = await sf.publish(topic, { n: 1 });
  await waitFor(() => started === 1, { message: 'c1 runs the first attempt' });
  const attempts: number[] = [];
  const sub2 = other.subscribe(topic, 'g', async (_p, ctx) => { attempts.push(ctx.attempt); await held; }, { consumer: 'c2' });
  await sub2.ready();
  await new Promise((r) => setTimeout(r, 100)); // c2 is blocked in its read
  const cut = proxy.cutAfterReplyTo(calls('failEntry'));
  open();
  await cut;
  await waitFor(() => seen.failed.length + seen.stale.length > 0, { message: 'the failure settled' });
  await new Promise((r) => setTimeout(r, 200));
  release();
  expect(attempts).toEqual([2]);
  expect(seen.stale).toEqual([]);
  expect(seen.failed).toEqual([id]);
});
