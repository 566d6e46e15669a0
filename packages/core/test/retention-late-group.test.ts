import { connect, createServer, type Socket } from 'node:net';
import { sleep, waitFor } from '@streamfan/testing';
import { defineTopic, Streamfan } from '../src';
import { topicKeys } from '../src/keys';
import { resolveRetention, runRetention } from '../src/retention';
import { useRedis } from './helpers';

const env = useRedis();

/** A TCP proxy that holds each new connection `delayMs` before connecting it through: a subscriber whose connection comes up late. */
async function slowConnections(port: number, delayMs: number): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    client.pause();
    setTimeout(() => {
      const upstream = connect({ host: '127.0.0.1', port });
      sockets.add(upstream);
      client.pipe(upstream).pipe(client);
      client.resume();
      const end = () => { client.destroy(); upstream.destroy(); };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    }, delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const addr = server.address();
  return {
    url: `redis://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The late-group race the model test found (`late-group-missed`): a process subscribes with
 * `startFrom: 'latest'`, its connection takes a while to come up, another process publishes right
 * after the call; the other groups handle the event and timed retention trims it before the new
 * group exists. The group starts before the event (its position is bounded by time), but the
 * entry is gone. Timed retention keeps entries younger than `minAgeMs` for such a group.
 */
describe("timed retention and a late startFrom: 'latest' group", () => {
  const DELAY_MS = 1500;

  async function lateSubscriber(owner: Streamfan, topicName: string) {
    const topic = defineTopic<string>(topicName);
    const a = owner.subscribe(topic, 'a', () => undefined, { startFrom: 'beginning' });
    await a.ready();
    await owner.publish(topic, 'before'); // the stream exists, with history
    await sleep(200); // past the 50 ms margin of a late group's start (captureStreamEnd)
    const proxy = await slowConnections(env.server().port, DELAY_MS);
    const late = new Streamfan({ connection: proxy.url, prefix: owner.prefix, retention: false });
    const seen: string[] = [];
    const sub = late.subscribe(topic, 'late', (p) => { seen.push(p); }, { startFrom: 'latest' });
    const after = await owner.publish(topic, 'after');
    await waitFor(async () => (await owner.status(topic, after)).groups.a?.state === 'succeeded', { message: 'group a handled the event' });
    return { topic, seen, sub, after, close: async () => { await sub.close(); await late.close(); await proxy.close(); } };
  }

  test('a run of the default timed retention (approximate off) while the late group is not yet created keeps the event for it', async () => {
    const owner = env.client();
    const t = await lateSubscriber(owner, 'late-default');
    // The new group does not exist yet: its connection is still held by the proxy.
    expect((await owner.redis.xinfo('GROUPS', topicKeys(owner.prefix, t.topic.name).stream) as unknown[]).length).toBe(1);
    const report = await runRetention(owner.redis, owner.prefix, t.topic.name, resolveRetention({ approximate: false })!, 86_400);
    expect(report).toBeDefined(); // it ran (it held the retention lock)
    // Every existing group acknowledged both entries; both are younger than the minimum age (10 s).
    expect(report!.removed).toBe(0);
    expect(await owner.redis.xrange(topicKeys(owner.prefix, t.topic.name).stream, t.after, t.after)).toHaveLength(1);
    await t.sub.ready();
    await waitFor(() => t.seen.includes('after'), { timeoutMs: 10_000, message: 'the late group handled the event published right after its subscribe()' });
    expect(t.seen).toEqual(['after']);
    await t.close();
  });

  test('retention on a short timer with minAgeMs keeps the event until the late group read it', async () => {
    const owner = env.client({ retention: { intervalMs: 50, approximate: false, minAgeMs: 5000 } });
    const t = await lateSubscriber(owner, 'late-timer');
    await t.sub.ready();
    await waitFor(() => t.seen.includes('after'), { timeoutMs: 10_000, message: 'the late group handled the event published right after its subscribe()' });
    expect(t.seen).toEqual(['after']);
    await t.close();
  });

  test('an entry every group acknowledged is trimmed once it is older than minAgeMs', async () => {
    const owner = env.client({ retention: { intervalMs: 50, approximate: false, minAgeMs: 400 } });
    const topic = defineTopic<number>('aged');
    const sub = owner.subscribe(topic, 'g', () => undefined, { startFrom: 'beginning' });
    await sub.ready();
    const stream = topicKeys(owner.prefix, topic.name).stream;
    const t0 = Date.now();
    const id = await owner.publish(topic, 1);
    await waitFor(async () => (await owner.status(topic, id)).groups.g?.state === 'succeeded', { message: 'handled' });
    await waitFor(async () => (await owner.redis.xlen(stream)) === 0, { timeoutMs: 10_000, message: 'trimmed once old enough' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(350); // not before its minimum age (server and test clocks are one machine's)
    await sub.close();
  });
});
