import { createHash } from 'node:crypto';
import type Redis from 'ioredis';
import { sleep, waitFor } from '@streamfan/testing';
import { defineTopic, topicKeys, type Streamfan } from '../src/internal';
import { luaSources } from '../src/scripts/lua.generated';
import { capabilitiesOf } from '../src/capabilities';
import { capabilityProbeKey } from '../src/keys';
import { useRedis } from './helpers';

const env = useRedis();
// Each test writes, reads and acknowledges tens of thousands of entries: on a busy 2-core machine
// (load 13, CI rehearsal at 4ff8282) the 40,000-entry case needed more than jest's default 30 s.
jest.setTimeout(120_000);

/** Append `n` small entries with big pipelines (much faster than publishing them one by one). */
async function fill(redis: Redis, stream: string, n: number): Promise<void> {
  for (let done = 0; done < n; done += 5000) {
    const p = redis.pipeline();
    for (let i = done; i < Math.min(n, done + 5000); i++) p.xadd(stream, '*', 'p', String(i));
    await p.exec();
  }
}

/** Read everything in `group` and acknowledge it, in chunks. */
async function readAndAck(redis: Redis, stream: string, group: string): Promise<void> {
  for (;;) {
    const res = (await redis.xreadgroup('GROUP', group, 'c', 'COUNT', 5000, 'STREAMS', stream, '>')) as [string, [string, string[]][]][] | null;
    const rows = res?.[0]?.[1] ?? [];
    if (rows.length === 0) return;
    await redis.xack(stream, group, ...rows.map((r) => r[0]));
  }
}

async function nodeSize(sf: Streamfan): Promise<number> {
  const [, v] = (await sf.redis.config('GET', 'stream-node-max-entries')) as [string, string];
  return Number(v);
}

describe('retention keeps up with a backlog', () => {
  test('one default trim brings 40,000 acknowledged entries down to the safe floor (within one stream node)', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('backlog');
    const stream = topicKeys(sf.prefix, topic.name).stream;
    await sf.redis.xgroup('CREATE', stream, 'a', '0', 'MKSTREAM');
    await sf.redis.xgroup('CREATE', stream, 'b', '0');
    await fill(sf.redis, stream, 40_000);
    await readAndAck(sf.redis, stream, 'a');
    await readAndAck(sf.redis, stream, 'b');
    // 30 more that group b has not read: the floor is the first of them.
    await fill(sf.redis, stream, 30);
    await readAndAck(sf.redis, stream, 'a');
    const lastAcked = (await sf.redis.xrevrange(stream, '+', '-', 'COUNT', 31)).slice(-1)[0]![0];

    const report = await sf.trim(topic); // the defaults: approximate, no cap
    // The floor: the id right after group b's last-delivered one.
    expect(report.safeMinId).toBe(lastAcked.replace(/-(\d+)$/, (_m, seq: string) => `-${Number(seq) + 1}`));
    expect(report.lostToCap).toBe(0);
    const left = await sf.redis.xlen(stream);
    const belowFloor = left - 30;
    // Approximate trimming keeps the node that holds the floor, no more.
    expect(belowFloor).toBeGreaterThanOrEqual(0);
    expect(belowFloor).toBeLessThan(await nodeSize(sf));
    expect(report.removed).toBe(40_030 - left);
    expect(report.length).toBe(left);
    // Nothing a group still needs was touched.
    expect((await sf.redis.xrange(stream, report.safeMinId, '+')).length).toBe(30);
  });

  test('an exact trim over a backlog removes everything below the floor, in bounded steps', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('exact');
    const stream = topicKeys(sf.prefix, topic.name).stream;
    await sf.redis.xgroup('CREATE', stream, 'a', '0', 'MKSTREAM');
    await fill(sf.redis, stream, 25_000);
    await readAndAck(sf.redis, stream, 'a');
    await fill(sf.redis, stream, 7);
    const report = await sf.trim(topic, { approximate: false });
    expect(report).toMatchObject({ removed: 25_000, length: 7, lostToCap: 0 });
    expect(await sf.redis.xlen(stream)).toBe(7);
  });

  test('with nodes larger than one step, an exact trim still gets to the floor (1000 entries per call inside the node)', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('bignodes');
    const stream = topicKeys(sf.prefix, topic.name).stream;
    const before = await nodeSize(sf);
    await sf.redis.config('SET', 'stream-node-max-entries', '5000');
    try {
      await sf.redis.xgroup('CREATE', stream, 'a', '0', 'MKSTREAM');
      await fill(sf.redis, stream, 12_000);
      await readAndAck(sf.redis, stream, 'a');
      await fill(sf.redis, stream, 30); // the floor sits inside the third node, 2000 entries in
      const approx = await sf.trim(topic);
      expect(approx.length - 30).toBeLessThan(5000);
      const exact = await sf.trim(topic, { approximate: false });
      expect(exact.length).toBe(30);
      expect(approx.removed + exact.removed).toBe(12_000);
    } finally {
      await sf.redis.config('SET', 'stream-node-max-entries', String(before));
    }
  });

  test('a dry run over a backlog counts exactly and removes nothing', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('dry');
    const stream = topicKeys(sf.prefix, topic.name).stream;
    await sf.redis.xgroup('CREATE', stream, 'a', '0', 'MKSTREAM');
    await fill(sf.redis, stream, 12_345);
    await readAndAck(sf.redis, stream, 'a');
    await fill(sf.redis, stream, 5);
    const dry = await sf.trim(topic, { dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, removed: 12_345, length: 5, lostToCap: 0 });
    const capped = await sf.trim(topic, { dryRun: true, maxLen: 2 });
    expect(capped).toMatchObject({ removed: 12_345, length: 2, lostToCap: 3 });
    expect(await sf.redis.xlen(stream)).toBe(12_350);
  });

  test('two subscriptions of one topic run retention once per interval between them, not once each', async () => {
    const intervalMs = 250;
    const sf = env.client({ retention: { intervalMs } });
    const topic = defineTopic<number>('locked');
    const stream = topicKeys(sf.prefix, topic.name).stream;
    const sha = createHash('sha1').update(luaSources.trimSafe.source).digest('hex');
    // The client detects capabilities as it connects: let that finish first, since a command
    // answered while ioredis enters MONITOR mode breaks its reply queue ("Command queue state error").
    await capabilitiesOf(sf.redis, capabilityProbeKey(sf.prefix));
    const monitor = await sf.redis.duplicate().monitor();
    const runs: number[] = [];
    // Each run calls trimSafe on the topic stream once when there is nothing to trim.
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (String(args[0]).toLowerCase() === 'evalsha' && args[1] === sha && args[3] === stream) runs.push(Date.now());
    });
    try {
      const a = sf.subscribe(topic, 'a', () => undefined);
      const b = sf.subscribe(topic, 'b', () => undefined);
      await Promise.all([a.ready(), b.ready()]);
      await waitFor(() => runs.length >= 1, { message: 'a first retention run' });
      const from = runs[0]!;
      await sleep(10 * intervalMs);
      const windowMs = Date.now() - from;
      const seen = runs.length;
      await Promise.all([a.close(), b.close()]);
      // One run per interval (a timer may fire a little late or early: allow two extra).
      expect(seen).toBeLessThanOrEqual(Math.floor(windowMs / intervalMs) + 2);
      expect(seen).toBeGreaterThanOrEqual(3); // and the lock does not stop retention altogether
    } finally {
      monitor.disconnect();
    }
  });
});
