import { Streamfan } from '@streamfan/core';
import { startRedis, uniquePrefix, waitFor, type RedisServer } from '@streamfan/testing';
import { buildCli, removeCli, runCli } from './run-cli';

/** `streamfan show` of an event a group skipped (subscribe option skipOlderThanMs, issue 16). */
jest.setTimeout(120_000);

let server: RedisServer;
let sf: Streamfan;
const prefix = uniquePrefix();

beforeAll(async () => {
  buildCli();
  server = await startRedis();
  sf = new Streamfan({ connection: server.url, prefix, retention: false });
});
afterAll(async () => {
  await sf?.close();
  await server?.stop();
  removeCli();
});

test('show: a skipped event reads skipped in the group that skipped it, succeeded in the other', async () => {
  const [s, us] = await sf.redis.time();
  const old = `${Number(s) * 1000 + Math.floor(Number(us) / 1000) - 60_000}-0`;
  await sf.redis.xadd(`${prefix}:{prices}:stream`, old, 'payload', '{"p":1}', 'headers', '');
  const live = sf.subscribe('prices', 'ticker', () => undefined, { consumer: 'ticker-1', startFrom: 'beginning', skipOlderThanMs: 10_000 });
  const audit = sf.subscribe('prices', 'audit', () => undefined, { consumer: 'audit-1', startFrom: 'beginning' });
  await Promise.all([live.ready(), audit.ready()]);
  await waitFor(
    async () =>
      (await sf.status('prices', old)).groups.ticker?.state === 'skipped' &&
      (await sf.status('prices', old)).groups.audit?.state === 'succeeded',
  );
  const r = await runCli(['--url', server.url, '--prefix', prefix, 'show', 'prices', old]);
  expect(r.code).toBe(0);
  const rows = r.stdout.split('\n');
  expect(rows.find((l) => l.startsWith('ticker'))).toMatch(/^ticker\s+skipped\s+0\s/);
  expect(rows.find((l) => l.startsWith('audit'))).toMatch(/^audit\s+succeeded\s+1\s/);
  const asJson = JSON.parse((await runCli(['--url', server.url, '--prefix', prefix, 'show', 'prices', old, '--json'])).stdout);
  expect(asJson.groups.ticker).toMatchObject({ state: 'skipped', attempts: 0 });
});
