import { Streamfan, defineTopic } from '@streamfan/core';
import { startRedis, uniquePrefix, type RedisServer } from '@streamfan/testing';
import { createMetricsCollector, METRIC_NAMES } from '../src/metrics';
import { buildCli, removeCli, runCli } from './run-cli';

/**
 * `streamfan memory` and the metrics endpoint on a prioritized topic: the memory by lane
 * (`sf.memory()`'s byLane and laneShared) as a second table, in --json, and as
 * streamfan_memory_lane_bytes{topic,lane,kind} (lane "*": the keys every lane shares).
 * Before, a prioritized topic's memory was reported for the topic only.
 */
jest.setTimeout(120_000);

let server: RedisServer;
let sf: Streamfan;
const prefix = uniquePrefix();
const emails = defineTopic<{ n: number }>('emails', { priorities: ['high', 'normal', 'low'], defaultPriority: 'normal' });

beforeAll(async () => {
  buildCli();
  server = await startRedis();
  sf = new Streamfan({ connection: server.url, prefix, retention: false });
  const sub = sf.subscribe(emails, 'sender', () => undefined, { startFrom: 'beginning', blockMs: 50 });
  await sub.ready();
  const ids = [
    ...(await sf.publishMany(emails, [{ n: 1 }, { n: 2 }, { n: 3 }], { priority: 'high' })),
    await sf.publish(emails, { n: 4 }, { idempotencyKey: 'once' }),
  ];
  for (const id of ids) await sf.waitFor(emails, id, { timeoutMs: 20_000 });
  await sub.close();
  await sf.publish('plain', { n: 0 });
});

afterAll(async () => {
  await sf?.close();
  await server?.stop();
  removeCli();
});

test('memory <prioritized topic>: a table by lane (default marked, shared keys apart) after the table by kind; --json has byLane', async () => {
  const r = await runCli([...base(), 'memory', 'emails']);
  expect(r.code).toBe(0);
  const at = r.stdout.indexOf('\nTOPIC   LANE');
  expect(at).toBeGreaterThan(0);
  const lines = r.stdout.slice(at + 1).split('\n');
  expect(lines[0]).toMatch(/^TOPIC\s+LANE\s+BYTES\s+±95%\s+ENTRIES\s+BY KIND$/);
  expect(lines[1]).toMatch(/^emails\s+high\s+[\d.]+ (B|kB)\s+-\s+3\s+topic stream [\d.]+ (B|kB)/);
  expect(lines[2]).toMatch(/^emails\s+normal\*\s+[\d.]+ (B|kB)\s+-\s+1\s/);
  expect(lines[3]).toMatch(/^emails\s+low\s+[\d.]+ (B|kB)\s+-\s+0\s/);
  expect(lines[4]).toMatch(/^emails\s+\(shared\)\s+[\d.]+ (B|kB)\s+-\s+-\s+.*idempotency keys [\d.]+ B/);
  const doc = JSON.parse((await runCli([...base(), '--json', 'memory', 'emails'])).stdout) as {
    topics: Array<{ bytes: number; byLane: Array<{ lane: string; bytes: number }>; laneShared: { bytes: number } }>;
  };
  const t = doc.topics[0]!;
  expect(t.byLane.map((l) => l.lane)).toEqual(['high', 'normal', 'low']);
  expect(t.byLane.reduce((n, l) => n + l.bytes, 0) + t.laneShared.bytes).toBe(t.bytes);
  // A plain topic: no lane table.
  expect((await runCli([...base(), 'memory', 'plain'])).stdout).not.toMatch(/LANE/);
});

test('metrics: streamfan_memory_lane_bytes per topic, lane and kind; none for a plain topic', async () => {
  const collect = createMetricsCollector(sf, { cacheMs: 0, discoverEveryMs: 60_000 });
  const text = await collect();
  const lane = [...text.matchAll(/^streamfan_memory_lane_bytes\{topic="([^"]+)",lane="([^"]+)",kind="([^"]+)"\} (\S+)$/gm)].map((m) => ({
    topic: m[1],
    lane: m[2],
    kind: m[3],
    v: Number(m[4]),
  }));
  expect(lane.filter((x) => x.topic === 'plain')).toEqual([]);
  expect([...new Set(lane.map((x) => x.lane))]).toEqual(['high', 'normal', 'low', '*']);
  const stream = (l: string) => lane.find((x) => x.lane === l && x.kind === 'stream')!.v;
  expect(stream('high')).toBeGreaterThan(0);
  expect(lane.find((x) => x.lane === '*' && x.kind === 'idempotency')!.v).toBeGreaterThan(0);
  // The lanes add up to the topic's series.
  const topicBytes = [...text.matchAll(/^streamfan_memory_bytes\{topic="emails",kind="([^"]+)"\} (\S+)$/gm)].reduce(
    (n, m) => n + Number(m[2]),
    0,
  );
  expect(lane.reduce((n, x) => n + x.v, 0)).toBe(topicBytes);
  expect(METRIC_NAMES).toContain('streamfan_memory_lane_bytes');
});

function base(): string[] {
  return ['--url', server.url, '--prefix', prefix];
}
