import { Streamfan, defineTopic } from '@streamfan/core';
import { startRedis, uniquePrefix, type RedisServer } from '@streamfan/testing';
import { collectMetrics, createMetricsCollector, METRIC_NAMES } from '../src/metrics';

/**
 * `streamfan metrics` on a prioritized topic (docs/priorities.md §7, docs/observability.md):
 * the group and topic series summed over lanes, and streamfan_lane_lag{topic,group,lane} /
 * streamfan_lane_length{topic,lane} per lane; a plain topic has no lane series. Both the
 * discovering collection and the one over known topics (between discoveries).
 */
jest.setTimeout(60_000);

let server: RedisServer;
let sf: Streamfan;
const prefix = uniquePrefix();
const emails = defineTopic<{ n: number }>('emails', { priorities: ['high', 'normal', 'low'], defaultPriority: 'normal' });

beforeAll(async () => {
  server = await startRedis();
  sf = new Streamfan({ connection: server.url, prefix, retention: false });
  // The group exists before the events and reads nothing: each lane's lag is what was published to it.
  const sub = sf.subscribe(emails, 'sender', () => undefined, { startFrom: 'beginning', blockMs: 50 });
  await sub.ready();
  await sub.close();
  await sf.publishMany(emails, [{ n: 1 }, { n: 2 }], { priority: 'high' });
  await sf.publishMany(emails, [{ n: 3 }, { n: 4 }, { n: 5 }], { priority: 'low' });
  await sf.publish(emails, { n: 6 });
  await sf.publish('plain', { n: 0 });
});

afterAll(async () => {
  await sf?.close();
  await server?.stop();
});

function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(streamfan_[a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m) out.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return out;
}

test('per-lane lag and length beside the summed series; none for a plain topic', async () => {
  const collect = createMetricsCollector(sf, { cacheMs: 0, discoverEveryMs: 60_000, memory: false });
  for (const round of ['discovery', 'known topics']) {
    const m = samples(await collect());
    expect([round, m.get('streamfan_group_lag{topic="emails",group="sender"}')]).toEqual([round, 6]);
    expect(m.get('streamfan_topic_length{topic="emails"}')).toBe(6);
    expect(m.get('streamfan_lane_lag{topic="emails",group="sender",lane="high"}')).toBe(2);
    expect(m.get('streamfan_lane_lag{topic="emails",group="sender",lane="normal"}')).toBe(1);
    expect(m.get('streamfan_lane_lag{topic="emails",group="sender",lane="low"}')).toBe(3);
    expect(m.get('streamfan_lane_length{topic="emails",lane="high"}')).toBe(2);
    expect(m.get('streamfan_lane_length{topic="emails",lane="normal"}')).toBe(1);
    expect(m.get('streamfan_lane_length{topic="emails",lane="low"}')).toBe(3);
    expect(m.get('streamfan_topic_length{topic="plain"}')).toBe(1);
    expect([...m.keys()].filter((k) => k.startsWith('streamfan_lane_') && k.includes('topic="plain"'))).toEqual([]);
    for (const k of m.keys()) expect(METRIC_NAMES).toContain(k.replace(/\{.*$/, ''));
  }
  // Without a prioritized topic, no lane families at all.
  const plainOnly = await collectMetrics(sf, { topics: [{ topic: 'plain' }] });
  expect(plainOnly.map((f) => f.name)).not.toContain('streamfan_lane_lag');
});
