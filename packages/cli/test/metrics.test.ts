import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineTopic, partitionKeys, Streamfan, topicKeys } from '@streamfan/core/internal';
import { freePort, sleep, startRedis, uniquePrefix, waitFor, type RedisServer } from '@streamfan/testing';
import {
  cachedCollector,
  collectMetrics,
  createMetricsCollector,
  escapeLabelValue,
  formatPrometheus,
  METRIC_NAMES,
  startMetricsServer,
} from '../src/metrics';
import { buildCli, removeCli, ROOT, runCli, startCli } from './run-cli';

/** `streamfan metrics` against a real redis-server, scraped by a real Prometheus server. */
jest.setTimeout(120_000);

const PROMETHEUS = '/usr/bin/prometheus';
const PROMTOOL = '/usr/bin/promtool';

let server: RedisServer;
let sf: Streamfan;
const prefix = uniquePrefix();
const keys = topicKeys(prefix, 'orders');
let tmp: string;
const children: ChildProcess[] = [];

/** Sample lines of a text exposition, by `name{labels}`; checks every line's syntax and that HELP/TYPE precede samples. */
function parseExposition(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const typed = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (meta) {
      if (meta[1] === 'TYPE') {
        expect(['gauge', 'counter']).toContain(meta[3]);
        typed.add(meta[2]!);
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    expect(typed).toContain(m[1]);
    out.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return out;
}

beforeAll(async () => {
  buildCli();
  tmp = mkdtempSync(join(tmpdir(), 'streamfan-metrics-'));
  server = await startRedis();
  sf = new Streamfan({ connection: server.url, prefix, retention: false });
  for (let i = 0; i < 10; i++) await sf.publish('orders', { n: i });
  // "fast" reads everything and acknowledges it; "slow" was read 2 entries by c1 who acked none.
  await sf.redis.xgroup('CREATE', keys.stream, 'fast', '0');
  const read = (await sf.redis.xreadgroup('GROUP', 'fast', 'f1', 'STREAMS', keys.stream, '>')) as Array<
    [string, Array<[string, string[]]>]
  >;
  const ids = read[0]![1].map(([id]) => id);
  expect(ids).toHaveLength(10);
  await sf.redis.xack(keys.stream, 'fast', ...ids);
  // One retry of "fast" delivered from its redelivery stream and not acknowledged, idle ≥ 1 s.
  await sf.redis.xadd(keys.redeliver('fast'), '*', 'id', ids[0]!);
  await sf.redis.xgroup('CREATE', keys.redeliver('fast'), 'fast', '0');
  await sf.redis.xreadgroup('GROUP', 'fast', 'f1', 'STREAMS', keys.redeliver('fast'), '>');
  await sleep(1100);
  await sf.redis.xgroup('CREATE', keys.stream, 'slow', '0');
  await sf.redis.xreadgroup('GROUP', 'slow', 'c1', 'COUNT', 2, 'STREAMS', keys.stream, '>');
  await sf.redis.xadd(keys.deadLetters('slow'), '*', 'id', '1-0', 'error', 'boom');
  await sf.redis.zadd(keys.retry('slow'), Date.now() + 60_000, 'x');
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await sf?.close();
  await server?.stop();
  removeCli();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('formats HELP/TYPE lines and escapes label values', () => {
  expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
  const text = formatPrometheus([
    { name: 'x_total', help: 'line\none', type: 'counter', samples: [{ labels: { k: 'q"' }, value: NaN }] },
    { name: 'y', help: 'h', type: 'gauge', samples: [{ labels: {}, value: 2.5 }] },
  ]);
  expect(text).toBe('# HELP x_total line\\none\n# TYPE x_total counter\nx_total{k="q\\""} NaN\n# HELP y h\n# TYPE y gauge\ny 2.5\n');
  expect(parseExposition(text).get('y')).toBe(2.5);
});

test('cachedCollector: concurrent calls share one run; a call within the TTL reuses it; a failure is not cached', async () => {
  let now = 0;
  let runs = 0;
  let fail = false;
  const c = cachedCollector(
    async () => {
      runs++;
      if (fail) throw new Error('down');
      return runs;
    },
    1000,
    () => now,
  );
  expect(await Promise.all([c(), c(), c()])).toEqual([1, 1, 1]);
  now = 999;
  expect(await c()).toBe(1);
  now = 1000;
  fail = true;
  await expect(c()).rejects.toThrow('down');
  fail = false;
  expect(await c()).toBe(3);
  expect(runs).toBe(3);
});

test('the number of Redis commands per collection does not grow with the stream length', async () => {
  const commands = async () => Number(/total_commands_processed:(\d+)/.exec(await sf.redis.info('stats'))![1]);
  const measure = async () => {
    const before = await commands();
    await collectMetrics(sf);
    return (await commands()) - before;
  };
  const small = await measure();
  const big = new Streamfan({ connection: server.url, prefix: `${prefix}-big`, retention: false });
  try {
    await big.publishMany(
      'orders',
      Array.from({ length: 5000 }, (_, n) => ({ payload: { n } })),
    );
    await big.redis.xgroup('CREATE', topicKeys(`${prefix}-big`, 'orders').stream, 'g', '0');
    const bigCollect = async () => {
      const before = await commands();
      await collectMetrics(big);
      return (await commands()) - before;
    };
    const bigCount = await bigCollect();
    // Same shape (one topic; the small one has 2 groups, the big one 1): no command per entry.
    expect(bigCount).toBeLessThanOrEqual(small);
    const fam = await collectMetrics(big);
    expect(fam.find((f) => f.name === 'streamfan_group_lag')!.samples).toEqual([{ labels: { topic: 'orders', group: 'g' }, value: 5000 }]);
  } finally {
    await big.close();
  }
});

test('a partitioned topic is one topic label, its counts summed over partitions; known topics are re-read without SCAN until rediscovery', async () => {
  const p = `${prefix}-parts`;
  const psf = new Streamfan({ connection: server.url, prefix: p, retention: false });
  try {
    const parts = defineTopic<{ n: number }>('parts', { partitions: 3 });
    for (let n = 0; n < 9; n++) await psf.publish(parts, { n }, { key: `k${n}` });
    for (let i = 0; i < 3; i++) await psf.redis.xgroup('CREATE', partitionKeys(p, 'parts', i).stream, 'g', '0');
    let now = 0;
    const scrape = createMetricsCollector(psf, { cacheMs: 0, discoverEveryMs: 30_000, now: () => now });
    const scans = async () => Number(/cmdstat_scan:calls=(\d+)/.exec(await psf.redis.info('commandstats'))?.[1] ?? 0);
    const s0 = await scans();
    const first = parseExposition(await scrape());
    expect(await scans()).toBeGreaterThan(s0);
    expect(first.get('streamfan_topic_length{topic="parts"}')).toBe(9);
    expect(first.get('streamfan_group_lag{topic="parts",group="g"}')).toBe(9);
    expect([...first.keys()].filter((k) => k.startsWith('streamfan_topic_length'))).toEqual(['streamfan_topic_length{topic="parts"}']);
    // A new topic and new entries: the entries count at once, the topic after rediscovery.
    await psf.publish(parts, { n: 9 }, { key: 'k9' });
    await psf.publish('late', { n: 0 });
    now = 1000;
    const s1 = await scans();
    const second = parseExposition(await scrape());
    expect(await scans()).toBe(s1);
    expect(second.get('streamfan_topic_length{topic="parts"}')).toBe(10);
    expect(second.get('streamfan_group_lag{topic="parts",group="g"}')).toBe(10);
    expect(second.has('streamfan_topic_length{topic="late"}')).toBe(false);
    now = 30_000;
    const third = parseExposition(await scrape());
    expect(third.get('streamfan_topic_length{topic="late"}')).toBe(1);
    expect(third.get('streamfan_topic_length{topic="parts"}')).toBe(10);
  } finally {
    await psf.close();
  }
});

test('streamfan metrics: a missing --port or a bad --discover-every is a usage error (exit 2)', async () => {
  const noPort = await runCli(['--url', server.url, 'metrics']);
  expect(noPort.code).toBe(2);
  expect(noPort.stderr).toContain("required option '--port <port>' not specified");
  const bad = await runCli(['--url', server.url, 'metrics', '--port', '0', '--discover-every', 'soon']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('expected a duration');
});

test('Redis unreachable: /metrics and /healthz answer 503 with the reason (Prometheus then records up == 0)', async () => {
  const down = new Streamfan({
    connection: `redis://127.0.0.1:${await freePort()}`,
    prefix,
    retention: false,
    redisOptions: { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true },
  });
  down.redis.on('error', () => {});
  const running = await startMetricsServer({ client: down, port: 0 });
  try {
    const m = await fetch(new URL('metrics', running.url));
    expect(m.status).toBe(503);
    expect(await m.text()).toMatch(/^cannot read Redis: /);
    const h = await fetch(new URL('healthz', running.url));
    expect(h.status).toBe(503);
    expect((await fetch(new URL('metrics', running.url), { method: 'POST' })).status).toBe(405);
  } finally {
    await running.close();
    await down.close().catch(() => {});
  }
});

test('streamfan metrics serves right values, /healthz, and a real Prometheus stores the lag', async () => {
  const run = startCli(['--url', server.url, '--prefix', prefix, 'metrics', '--port', '0']);
  children.push(run.child);
  await waitFor(async () => /on http:\/\/\S+\/metrics/.test(run.output()), {
    timeoutMs: 20_000,
    message: `metrics started: ${run.output()}`,
  });
  const url = /on (http:\/\/\S+\/)metrics/.exec(run.output())![1]!;
  const res = await fetch(new URL('metrics', url));
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
  const m = parseExposition(await res.text());
  const slow = '{topic="orders",group="slow"}';
  const fast = '{topic="orders",group="fast"}';
  expect(m.get(`streamfan_group_lag${slow}`)).toBe(8);
  expect(m.get(`streamfan_group_lag${fast}`)).toBe(0);
  expect(m.get(`streamfan_group_pending${slow}`)).toBe(2);
  expect(m.get(`streamfan_group_pending${fast}`)).toBe(1);
  expect(m.get(`streamfan_group_oldest_pending_age_seconds${fast}`)).toBeGreaterThanOrEqual(1);
  expect(m.get(`streamfan_group_consumers${slow}`)).toBe(1);
  expect(m.get(`streamfan_group_dead_letters${slow}`)).toBe(1);
  expect(m.get(`streamfan_group_dead_letters${fast}`)).toBe(0);
  expect(m.get(`streamfan_group_retrying${slow}`)).toBe(1);
  expect(m.get(`streamfan_group_oldest_pending_age_seconds${slow}`)).toBeGreaterThanOrEqual(0);
  expect(m.get(`streamfan_group_oldest_pending_age_seconds${slow}`)).toBeLessThan(120);
  expect(m.get('streamfan_topic_length{topic="orders"}')).toBe(10);
  for (const k of m.keys()) expect(METRIC_NAMES).toContain(k.replace(/\{.*$/, ''));
  const health = await fetch(new URL('healthz', url));
  expect([health.status, await health.text()]).toEqual([200, 'ok\n']);
  expect((await fetch(new URL('nope', url))).status).toBe(404);

  // A real Prometheus server scraping every second, on its own free port and storage.
  if (!existsSync(PROMETHEUS)) throw new Error(`${PROMETHEUS} is missing: apt-get install -y prometheus`);
  const promPort = await freePort();
  const target = new URL(url).host;
  writeFileSync(
    join(tmp, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: streamfan\n    static_configs:\n      - targets: ['${target}']\n`,
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
  let promLog = '';
  prom.stderr!.on('data', (d: Buffer) => (promLog += d.toString()));
  try {
    const query = async (q: string) => {
      const r = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`);
      const body = (await r.json()) as {
        status: string;
        data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
      };
      return body.data.result;
    };
    const stored = await waitFor(
      async () => {
        try {
          const r = await query('streamfan_group_lag{group="slow"}');
          return r.length > 0 ? r : undefined;
        } catch {
          return undefined; // not listening yet
        }
      },
      { timeoutMs: 60_000, intervalMs: 500, message: `Prometheus stored a scrape; its log: ${promLog.slice(-2000)}` },
    );
    expect(stored).toHaveLength(1);
    expect(stored[0]!.metric).toMatchObject({ __name__: 'streamfan_group_lag', topic: 'orders', group: 'slow', job: 'streamfan' });
    expect(stored[0]!.value[1]).toBe('8');
    expect((await query('up{job="streamfan"}'))[0]!.value[1]).toBe('1');
  } finally {
    prom.kill('SIGTERM');
    await waitFor(() => prom.exitCode !== null || prom.signalCode !== null, { timeoutMs: 10_000 }).catch(() => prom.kill('SIGKILL'));
    run.child.kill('SIGINT');
    expect((await run.result).code).toBe(0);
  }
});

/** Metric names an expression uses: every streamfan_* name, and no other name that is not PromQL. */
function streamfanNames(expr: string): string[] {
  return [...expr.matchAll(/\bstreamfan_[a-zA-Z0-9_]*/g)].map((m) => m[0]);
}

test('docs/alerts: promtool checks the rules and their unit tests pass; they use only exported metric names', () => {
  const dir = join(ROOT, 'docs/alerts');
  const check = execFileSync(PROMTOOL, ['check', 'rules', 'streamfan.rules.yml'], { cwd: dir, encoding: 'utf8' });
  expect(check).toContain('SUCCESS: 5 rules found');
  const unit = execFileSync(PROMTOOL, ['test', 'rules', 'streamfan.rules.test.yml'], { cwd: dir, encoding: 'utf8' });
  expect(unit).toContain('SUCCESS');
  const rules = readFileSync(join(dir, 'streamfan.rules.yml'), 'utf8');
  for (const a of ['StreamfanGroupLagGrowing', 'StreamfanOldestPendingStuck', 'StreamfanDeadLettersRising', 'StreamfanNoConsumers'])
    expect(rules).toContain(`alert: ${a}`);
  const exprs = [...rules.matchAll(/^\s*expr: (.+)$/gm)].map((m) => m[1]!);
  expect(exprs).toHaveLength(5);
  for (const e of exprs) for (const n of streamfanNames(e)) expect(METRIC_NAMES).toContain(n);
});

test('docs/grafana: every query of the dashboard uses only exported metric names', () => {
  const dash = JSON.parse(readFileSync(join(ROOT, 'docs/grafana/streamfan.json'), 'utf8')) as {
    panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
    templating: { list: Array<{ type: string; definition?: string }> };
  };
  const exprs = [
    ...dash.panels.flatMap((p) => p.targets.map((t) => t.expr)),
    ...dash.templating.list.filter((v) => v.type === 'query').map((v) => v.definition!),
  ];
  expect(exprs.length).toBeGreaterThanOrEqual(8);
  for (const e of exprs) {
    const names = streamfanNames(e);
    expect(names.length).toBeGreaterThan(0);
    for (const n of names) expect(METRIC_NAMES).toContain(n);
  }
  // Every metric the issue asks for is on the dashboard.
  const used = new Set(exprs.flatMap(streamfanNames));
  for (const n of [
    'streamfan_group_lag',
    'streamfan_group_pending',
    'streamfan_group_oldest_pending_age_seconds',
    'streamfan_group_retrying',
    'streamfan_group_dead_letters',
    'streamfan_group_consumers',
    'streamfan_topic_length',
  ])
    expect(used).toContain(n);
});
