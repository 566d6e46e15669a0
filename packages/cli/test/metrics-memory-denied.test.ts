import { Streamfan } from '@streamfan/core';
import { startRedis, uniquePrefix, type RedisServer } from '@streamfan/testing';
import { createMetricsCollector } from '../src/metrics';

/**
 * A memory report that cannot be read (here: a Redis user refused MEMORY) must not take the
 * rest of the scrape down: lag, pending and the other group metrics are served without the
 * memory gauges, and `streamfan_memory_read_failures_total` counts the failed reads.
 */
jest.setTimeout(60_000);

let server: RedisServer;
let admin: Streamfan;
let limited: Streamfan;
const prefix = uniquePrefix();

beforeAll(async () => {
  server = await startRedis();
  admin = new Streamfan({ connection: server.url, prefix, retention: false });
  await admin.publish('orders', { n: 1 });
  await admin.redis.xgroup('CREATE', `${prefix}:{orders}:stream`, 'billing', '0');
  await admin.redis.call('ACL', 'SETUSER', 'nomem', 'on', '>nomem-secret', '~*', '&*', '+@all', '-memory');
  const url = new URL(server.url);
  url.username = 'nomem';
  url.password = 'nomem-secret';
  limited = new Streamfan({ connection: url.toString(), prefix, retention: false });
});

afterAll(async () => {
  await limited?.close();
  await admin?.close();
  await server?.stop();
});

test('a failed memory read leaves the memory gauges out and serves every other metric', async () => {
  await expect(limited.memory()).rejects.toThrow(/NOPERM|memory/i);
  const scrape = createMetricsCollector(limited, { cacheMs: 0, memory: { everyMs: 0 } });
  const text = await scrape();
  expect(text).toMatch(/^streamfan_group_lag\{topic="orders",group="billing"\} 1$/m);
  expect(text).not.toMatch(/^streamfan_memory_bytes\{/m);
  expect(text).toMatch(/^streamfan_memory_read_failures_total 1$/m);
  const again = await scrape();
  expect(again).toMatch(/^streamfan_memory_read_failures_total 2$/m);
});
