import { readFileSync, rmSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { RedisUnavailableError, Streamfan, defineTopic } from '@streamfan/core';
import { main, type Io } from '@streamfan/cli';
import { uniquePrefix } from '@streamfan/testing';
import { REPO_ROOT } from '../src/fleet';
import { makeCerts, startTlsRedis, type TestCerts, type TlsRedis } from '../src/tls';

let certs: TestCerts;
let server: TlsRedis;
const clients: Streamfan[] = [];

beforeAll(async () => {
  certs = makeCerts();
  server = await startTlsRedis(certs);
});
afterEach(async () => { await Promise.all(clients.splice(0).map((c) => c.close())); });
afterAll(async () => {
  await server?.stop();
  if (certs) rmSync(certs.dir, { recursive: true, force: true });
});

function client(ca: string): Streamfan {
  const sf = new Streamfan({ connection: server.url, prefix: uniquePrefix('tls'), retention: false, redisOptions: { tls: { ca: readFileSync(ca) } } });
  sf.on('error', () => undefined);
  clients.push(sf);
  return sf;
}

test('TLS: the library publishes, consumes and waits over rediss:// with the test CA (the server listens on TLS only)', async () => {
  const sf = client(certs.ca);
  const topic = defineTopic<{ n: number }>('secure');
  const sub = sf.subscribe(topic, 'g', (p) => p.n * 2, { startFrom: 'beginning' });
  await sub.ready();
  const id = await sf.publish(topic, { n: 21 });
  expect((await sf.waitFor(topic, id, { timeoutMs: 10_000 })).groups.g).toMatchObject({ state: 'succeeded', result: 42 });
});

test('TLS: a wrong CA is refused with a clear, typed error that names the certificate problem', async () => {
  const sf = client(certs.otherCa);
  const err = await sf.publish('secure', { n: 1 }).then(() => undefined, (e: Error) => e);
  expect(err).toBeInstanceOf(RedisUnavailableError);
  expect(err!.message).toMatch(/certificate/i);
});

const cliBuilt = existsSync(join(REPO_ROOT, 'packages/cli/src/bin.ts'));
(cliBuilt ? test : test.skip)('TLS: the CLI connects with rediss:// and --tls-ca, and refuses a wrong CA clearly', async () => {
  const run = async (ca: string): Promise<{ code: number; err: string }> => {
    let err = '';
    const io: Io = { out: () => undefined, err: (t) => { err += t; }, stdinIsTty: false, readStdin: async () => '', ask: async () => 'n' };
    const code = await main(['node', 'streamfan', '--url', server.url, '--tls-ca', ca, '--prefix', uniquePrefix('tls'), 'topics'], io);
    return { code, err };
  };
  expect(await run(certs.ca)).toEqual({ code: 0, err: '' });
  const wrong = await run(certs.otherCa);
  expect(wrong.code).toBe(1);
  expect(wrong.err).toMatch(/certificate/i);
});
