import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Streamfan, topicKeys } from '@streamfan/core/internal';
import { freePort, startRedis, uniquePrefix, type RedisServer } from '@streamfan/testing';
import { buildCli, removeCli, runAll, type CliResult } from './run-cli';

/**
 * The CLI over TLS with an ACL user in the URL, on a group with 100,000 pending entries (it
 * pages), and on retries or replays pending in a group's redelivery stream.
 */
jest.setTimeout(120_000);

let server: RedisServer;
let sf: Streamfan;
let certs: string;
let tlsPort: number;
const prefix = uniquePrefix();
const BULK = 100_000;
const bulkIds: string[] = [];

const json = <T = any>(r: CliResult): T => JSON.parse(r.stdout) as T; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A throwaway CA and a server certificate for 127.0.0.1 signed by it. */
function makeCerts(dir: string): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=streamfan test CA',
  );
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
  );
}

beforeAll(async () => {
  buildCli();
  certs = mkdtempSync(join(tmpdir(), 'streamfan-tls-'));
  makeCerts(certs);
  tlsPort = await freePort();
  server = await startRedis({
    args: [
      '--tls-port',
      String(tlsPort),
      '--tls-cert-file',
      join(certs, 'server.pem'),
      '--tls-key-file',
      join(certs, 'server.key'),
      '--tls-ca-cert-file',
      join(certs, 'ca.pem'),
      '--tls-auth-clients',
      'no',
    ],
  });
  const admin = server.client();
  await admin.call('ACL', 'SETUSER', 'ops', 'on', '>s3cret', '~*', '&*', '+@all');
  await admin.quit();

  sf = new Streamfan({ connection: server.url, prefix, retention: false });
  // 100,000 entries delivered to one consumer and never acknowledged.
  for (let i = 0; i < BULK; i += 5000) {
    bulkIds.push(
      ...(await sf.publishMany(
        'bulk',
        Array.from({ length: 5000 }, (_, j) => ({ i: i + j })),
      )),
    );
  }
  const stream = topicKeys(prefix, 'bulk').stream;
  await sf.redis.xgroup('CREATE', stream, 'indexer', '0');
  for (let i = 0; i < BULK; i += 20_000) await sf.redis.xreadgroup('GROUP', 'indexer', 'slow-1', 'COUNT', 20_000, 'STREAMS', stream, '>');

  // A dead letter replayed to its group and read again: pending in the redelivery stream.
  const sub = sf.subscribe<{ n: number }>('jobs', 'mailer', (_p, ctx) => ctx.deadLetter('smtp down'), {
    consumer: 'mailer-1',
    startFrom: 'beginning',
  });
  await sub.ready();
  const jobId = await sf.publish('jobs', { n: 1 });
  await sf.waitFor('jobs', jobId, { timeoutMs: 10_000 });
  await sub.close();
  expect(await sf.deadLetters('jobs', 'mailer').replay({ all: true })).toBe(1);
  const k = topicKeys(prefix, 'jobs');
  await sf.redis.xreadgroup('GROUP', 'mailer', 'mailer-2', 'COUNT', 10, 'STREAMS', k.redeliver('mailer'), '>');
});

afterAll(async () => {
  await sf?.close();
  await server?.stop();
  if (certs) rmSync(certs, { recursive: true, force: true });
  removeCli();
});

test('rediss:// with an ACL user in the URL and --tls-ca; a wrong password or an untrusted certificate fail clearly', async () => {
  const url = `rediss://ops:s3cret@127.0.0.1:${tlsPort}`;
  const ca = join(certs, 'ca.pem');
  const [ok, wrongPassword, untrusted, noCaFile] = await runAll([
    [['--url', url, '--tls-ca', ca, '--prefix', prefix, 'groups', 'bulk', '--json']],
    [['--url', `rediss://ops:nope@127.0.0.1:${tlsPort}`, '--tls-ca', ca, 'topics']],
    [['topics'], { env: { REDIS_URL: url } }],
    [['--url', url, '--tls-ca', join(certs, 'missing.pem'), 'topics']],
  ]);
  expect(ok.code).toBe(0);
  expect(json(ok).groups).toEqual([
    expect.objectContaining({ group: 'indexer', consumers: 1, pending: BULK, lag: 0, oldestPendingId: bulkIds[0] }),
  ]);
  expect(wrongPassword.code).toBe(1);
  expect(wrongPassword.stderr).toBe(
    `streamfan: error: cannot reach Redis at rediss://ops:***@127.0.0.1:${tlsPort}: WRONGPASS invalid username-password pair or user is disabled. Check that it runs and that the URL (--url or REDIS_URL), user, password and TLS settings (rediss://, --tls-ca) are right.\n`,
  );
  expect(untrusted.code).toBe(1);
  expect(untrusted.stderr).toContain(
    `cannot reach Redis at rediss://ops:***@127.0.0.1:${tlsPort}: self-signed certificate in certificate chain`,
  );
  expect(noCaFile.code).toBe(2);
  expect(noCaFile.stderr).toContain(`cannot read the CA certificate file ${join(certs, 'missing.pem')} given to --tls-ca`);
});

test('pending on 100,000 entries pages with --limit and --after', async () => {
  const base = ['--url', server.url, '--prefix', prefix];
  const [first, last, filtered, table] = await runAll([
    [[...base, 'pending', 'bulk', 'indexer', '--limit', '3', '--json']],
    [[...base, 'pending', 'bulk', 'indexer', '--after', bulkIds[BULK - 3]!, '--json']],
    [[...base, 'pending', 'bulk', 'indexer', '--consumer', 'slow-1', '--min-idle', '1ms', '--limit', '2', '--json']],
    [[...base, 'pending', 'bulk', 'indexer', '--limit', '2']],
  ]);
  expect(json(first)).toEqual({
    topic: 'bulk',
    group: 'indexer',
    next: bulkIds[2],
    entries: bulkIds
      .slice(0, 3)
      .map((id) => ({ id, eventId: id, consumer: 'slow-1', idleMs: expect.any(Number), deliveries: 1, source: 'topic' })),
  });
  expect(json(last)).toMatchObject({ entries: bulkIds.slice(BULK - 2).map((id) => ({ id })), next: null });
  expect(json(filtered)).toMatchObject({ entries: bulkIds.slice(0, 2).map((id) => ({ id })), next: bulkIds[1] });
  expect(table.stdout.trimEnd().split('\n').at(-1)).toBe(`more: streamfan pending bulk indexer --after ${bulkIds[1]} --limit 2`);
});

test('a replay pending in the redelivery stream: pending shows its event id; ack by hand settles that event', async () => {
  const base = ['--url', server.url, '--prefix', prefix];
  const [list, table] = await runAll([
    [[...base, 'pending', 'jobs', 'mailer', '--payload', '--json']],
    [[...base, 'pending', 'jobs', 'mailer']],
  ]);
  const entries = json(list).entries as Array<{ id: string; eventId: string; source: string; consumer: string; payload: unknown }>;
  expect(entries).toHaveLength(1);
  const [entry] = entries;
  expect(entry).toMatchObject({ source: 'redelivery', consumer: 'mailer-2', payload: { n: 1 } });
  expect(entry!.eventId).not.toBe(entry!.id);
  const [ack] = await runAll([[[...base, 'ack', 'jobs', 'mailer', entry!.id, '--yes', '--json']]]);
  expect(table.stdout.split('\n')).toEqual([
    expect.stringMatching(/^ID\s+CONSUMER\s+IDLE\s+DELIVERIES\s+SOURCE\s+EVENT-ID$/),
    expect.stringMatching(new RegExp(`^${entry!.id}\\s+mailer-2\\s+\\S+\\s+1\\s+redelivery\\s+${entry!.eventId}$`)),
    '',
  ]);
  expect(json(ack).acked).toEqual([
    { id: entry!.id, eventId: entry!.eventId, source: 'redelivery', previousOwner: 'mailer-2', attempts: 1 },
  ]);
  const status = await sf.status('jobs', entry!.eventId);
  expect(status.groups.mailer).toMatchObject({ state: 'succeeded', attempts: 1, consumer: 'mailer-2' });
  expect(await sf.pending('jobs', 'mailer', { source: 'redelivery' })).toEqual([]);
});
