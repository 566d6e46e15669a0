import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Streamfan, type MemoryReport } from '@streamfan/core';
import { freePort, startRedis, uniquePrefix, waitFor, type RedisServer } from '@streamfan/testing';
import { createMemoryReader, createMetricsCollector, METRIC_NAMES, startMetricsServer } from '../src/metrics';
import { buildCli, removeCli, runCli } from './run-cli';

/**
 * The metrics endpoint shows the memory figures of `streamfan memory` (issue 17): by topic and
 * kind, sampled status memory, read at most once per `memory.everyMs`, with bounded work.
 */
jest.setTimeout(120_000);

const PROMETHEUS = '/usr/bin/prometheus';
let server: RedisServer;
let sf: Streamfan;
const prefix = uniquePrefix();
const children: ChildProcess[] = [];
let tmp: string;

/** `name{labels}` → value of a text exposition. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    out.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return out;
}

const commandCalls = async (name: string): Promise<number> =>
  Number(new RegExp(`cmdstat_${name.replace('|', '\\|')}:calls=(\\d+)`).exec(await sf.redis.info('commandstats'))?.[1] ?? 0);

beforeAll(async () => {
  buildCli();
  tmp = mkdtempSync(join(tmpdir(), 'streamfan-metrics-memory-'));
  server = await startRedis();
  sf = new Streamfan({ connection: server.url, prefix, retention: false });
  // "orders": one group that dead-letters every fifth order (status hashes) and succeeds plainly
  // otherwise (success buckets); an idempotent publish.
  const sub = sf.subscribe<{ n: number }>(
    'orders',
    'billing',
    (p, ctx) => {
      if (p.n % 5 === 0) ctx.deadLetter('declined');
    },
    { startFrom: 'beginning', blockMs: 100 },
  );
  await sub.ready();
  await sf.publishMany(
    'orders',
    Array.from({ length: 20 }, (_, i) => ({ n: i + 1 })),
  );
  await sf.publish('orders', { n: 21 }, { idempotencyKey: 'order-21' });
  await waitFor(async () => (await sf.groups('orders'))[0]?.deadLetters === 4 && sub.stats.processed === 17, {
    message: '17 processed, 4 dead letters',
  });
  await sub.close();
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await sf?.close();
  await server?.stop();
  removeCli();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** The memory samples of an exposition, as `{topic,kind}` → bytes / keys. */
function memoryOf(
  m: Map<string, number>,
  topic: string,
  kind: string,
): { bytes?: number; keys?: number; error?: number; sampled?: number } {
  const l = `{topic="${topic}",kind="${kind}"}`;
  return {
    bytes: m.get(`streamfan_memory_bytes${l}`),
    keys: m.get(`streamfan_memory_keys${l}`),
    error: m.get(`streamfan_memory_bytes_error${l}`),
    sampled: m.get(`streamfan_memory_sampled${l}`),
  };
}

test('the endpoint serves the figures of streamfan memory by topic and kind, read once per memory.everyMs', async () => {
  let now = 1_000_000;
  const scrape = createMetricsCollector(sf, { cacheMs: 0, memory: { everyMs: 60_000 }, now: () => now });
  const cli = await runCli(['--url', server.url, '--prefix', prefix, 'memory', '--json']);
  expect(cli.code).toBe(0);
  const truth = JSON.parse(cli.stdout) as MemoryReport;
  const m = parse(await scrape());
  for (const k of m.keys()) expect(METRIC_NAMES).toContain(k.replace(/\{.*$/, ''));
  const orders = truth.topics.find((t) => t.topic === 'orders')!;
  expect(orders).toBeDefined();
  // Nothing changed between the two reads and the scan is complete with few keys: same figures.
  for (const k of orders.kinds) {
    const got = memoryOf(m, 'orders', k.kind);
    expect({ kind: k.kind, bytes: got.bytes, keys: got.keys, sampled: got.sampled }).toEqual({
      kind: k.kind,
      bytes: k.bytes,
      keys: k.keys,
      sampled: k.sampled ? 1 : 0,
    });
  }
  expect(memoryOf(m, 'orders', 'status').keys).toBeGreaterThanOrEqual(5); // 4 hashes + ≥ 1 success bucket
  expect(memoryOf(m, 'orders', 'status').bytes).toBeGreaterThan(0);
  expect(memoryOf(m, 'orders', 'deadLetters').keys).toBe(1);
  expect(memoryOf(m, 'orders', 'idempotency').keys).toBe(1);
  expect(m.get('streamfan_memory_entries{topic="orders",kind="stream"}')).toBe(21);
  expect(m.get('streamfan_memory_scan_fraction')).toBe(1);
  expect(m.get('streamfan_memory_report_age_seconds')).toBe(0);
  expect(m.get('streamfan_redis_used_memory_bytes')).toBeGreaterThan(0);
  expect(m.has('streamfan_redis_maxmemory_bytes')).toBe(true);

  // Within memory.everyMs: no SCAN, no MEMORY USAGE; the served report says how old it is.
  const scans = await commandCalls('scan');
  // MEMORY USAGE: 'memory|usage' on Redis 7+, 'memory' on 6.2.
  const usageCalls = async () => (await commandCalls('memory|usage')) + (await commandCalls('memory'));
  const usages = await usageCalls();
  expect(usages).toBeGreaterThan(0);
  now += 20_000;
  const again = parse(await scrape());
  expect(await commandCalls('scan')).toBe(scans);
  expect(await usageCalls()).toBe(usages);
  expect(again.get('streamfan_memory_report_age_seconds')).toBe(20);
  expect(memoryOf(again, 'orders', 'status')).toEqual(memoryOf(m, 'orders', 'status'));
  // Past it: read again.
  now += 60_000;
  const third = parse(await scrape());
  expect(await commandCalls('scan')).toBeGreaterThan(scans);
  expect(third.get('streamfan_memory_report_age_seconds')).toBe(0);

  // memory: false leaves them out.
  const none = parse(await createMetricsCollector(sf, { cacheMs: 0, memory: false })());
  expect([...none.keys()].some((k) => k.startsWith('streamfan_memory_'))).toBe(false);
  expect(none.get('streamfan_topic_length{topic="orders"}')).toBe(21);
});

test('a big keyspace: one memory reading is bounded (maxScanPages SCAN calls, a sample of MEMORY USAGE), status extrapolated with its error', async () => {
  const big = `${prefix}-big`;
  const bsf = new Streamfan({ connection: server.url, prefix: big, retention: false });
  try {
    await bsf.redis.xadd(`${big}:{big}:stream`, '*', 'payload', '1', 'headers', '');
    await bsf.redis.eval(
      "for i = 1, 30000 do redis.call('HSET', KEYS[1] .. i .. '-0', 'g:state', 'succeeded', 'g:attempts', '1') end",
      1,
      `${big}:{big}:status:17000000`,
    );
    const read = createMemoryReader(bsf, { everyMs: 0, maxScanPages: 5, sampleSize: 50 });
    const scans = await commandCalls('scan');
    const r = await read();
    // The server holds the other tests' keys too: 5 pages can never cover them all.
    expect((await commandCalls('scan')) - scans).toBeLessThanOrEqual(5);
    expect(r.report.scan.complete).toBe(false);
    const status = r.report.topics.find((t) => t.topic === 'big')!.kinds.find((k) => k.kind === 'status')!;
    expect(status.sampled).toBe(true);
    expect(status.measured).toBeLessThanOrEqual(50);
    expect(status.keysError).toBeGreaterThan(0);
    // 30,000 hashes, extrapolated: within the stated error (with slack for the 95%).
    expect(Math.abs(status.keys - 30_000)).toBeLessThanOrEqual(Math.max(2 * status.keysError, 3000));
    const m = parse(await createMetricsCollector(bsf, { cacheMs: 0, memory: { everyMs: 0, maxScanPages: 5, sampleSize: 50 } })());
    expect(memoryOf(m, 'big', 'status').sampled).toBe(1);
    expect(memoryOf(m, 'big', 'status').error).toBeGreaterThan(0);
    expect(m.get('streamfan_memory_scan_fraction')).toBeLessThan(1);
  } finally {
    await bsf.close();
  }
});

test('streamfan metrics: --memory-every and --memory-scan-pages are checked (exit 2)', async () => {
  const bad = await runCli(['--url', server.url, 'metrics', '--port', '0', '--memory-every', 'soon']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('expected a duration');
  const pages = await runCli(['--url', server.url, 'metrics', '--port', '0', '--memory-scan-pages', '0']);
  expect(pages.code).toBe(2);
  const help = await runCli(['metrics', '--help']);
  expect(help.stdout).toContain('--memory-every');
  expect(help.stdout).toContain('--no-memory');
});

test('a real Prometheus stores streamfan_memory_bytes by topic and kind', async () => {
  if (!existsSync(PROMETHEUS)) throw new Error(`${PROMETHEUS} is missing: apt-get install -y prometheus`);
  const running = await startMetricsServer({ client: sf, port: 0, memory: { everyMs: 60_000 } });
  const promPort = await freePort();
  writeFileSync(
    join(tmp, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: streamfan\n    static_configs:\n      - targets: ['${new URL(running.url).host}']\n`,
  );
  const prom = spawn(
    PROMETHEUS,
    [
      `--config.file=${join(tmp, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(tmp, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  children.push(prom);
  let log = '';
  prom.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  try {
    const served = parse(await (await fetch(new URL('metrics', running.url))).text());
    const query = async (q: string) => {
      const r = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`);
      return ((await r.json()) as { data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } }).data.result;
    };
    const stored = await waitFor(
      async () => {
        try {
          const r = await query('streamfan_memory_bytes{topic="orders"}');
          return r.length > 0 ? r : undefined;
        } catch {
          return undefined;
        }
      },
      { timeoutMs: 60_000, intervalMs: 500, message: `Prometheus stored a scrape; its log: ${log.slice(-2000)}` },
    );
    const kinds = new Map(stored.map((s) => [s.metric.kind!, Number(s.value[1])]));
    expect([...kinds.keys()].sort()).toEqual(['deadLetters', 'delayed', 'idempotency', 'other', 'redelivery', 'retry', 'status', 'stream']);
    for (const [kind, v] of kinds) expect(v).toBe(memoryOf(served, 'orders', kind).bytes);
    // What a Grafana panel sums: a topic's total.
    const total = await query('sum by (topic) (streamfan_memory_bytes{topic="orders"})');
    expect(Number(total[0]!.value[1])).toBe([...kinds.values()].reduce((a, b) => a + b, 0));
  } finally {
    prom.kill('SIGTERM');
    await waitFor(() => prom.exitCode !== null || prom.signalCode !== null, { timeoutMs: 10_000 }).catch(() => prom.kill('SIGKILL'));
    await running.close();
  }
});
