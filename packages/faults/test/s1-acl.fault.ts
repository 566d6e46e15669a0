import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { Streamfan, defineTopic, topicKeys } from '@streamfan/core/internal';
import { main, type Io } from '@streamfan/cli';
import { sleep, uniquePrefix, waitFor } from '@streamfan/testing';
import { OPTIONAL_COMMANDS, ROLES, aclRules, aclSetUser } from '../src/acl';
import { useFaultServer } from './harness';

const env = useFaultServer();
const P = uniquePrefix('mine');
const Q = uniquePrefix('theirs');
const PASSWORD = 'pw-Faults-1';
let admin: Redis;
const clients: Streamfan[] = [];

const url = (user: string) => `redis://${user}:${PASSWORD}@127.0.0.1:${env.server().port}`;
function client(user: string, prefix: string): Streamfan {
  const sf = new Streamfan({ connection: url(user), prefix, retention: { intervalMs: 200 } });
  sf.on('error', () => undefined);
  clients.push(sf);
  return sf;
}
/** Commands, keys and channels the server refused to `user` since the last reset. */
async function denied(user: string): Promise<string[]> {
  const log = (await admin.call('ACL', 'LOG', '1000')) as unknown[][];
  return log.map((row) => {
    const o: Record<string, unknown> = {};
    for (let i = 0; i + 1 < row.length; i += 2) o[String(row[i])] = row[i + 1];
    return o;
  }).filter((o) => o.username === user).map((o) => `${String(o.reason)} ${String(o.object)}`)
    // The eviction-policy check at subscribe: refused by design (see OPTIONAL_COMMANDS), then skipped.
    .filter((d) => !OPTIONAL_COMMANDS.some((c) => d === `command ${c}`));
}

beforeAll(async () => {
  admin = env.server().client();
  for (const r of ROLES) await admin.call('ACL', 'SETUSER', r.name, 'reset', 'on', `>${PASSWORD}`, ...aclRules(r, P));
});
beforeEach(async () => { await admin.call('ACL', 'LOG', 'RESET'); });
afterEach(async () => { await Promise.all(clients.splice(0).map((c) => c.close())); });
afterAll(() => admin.disconnect());

test('publisher role: publish, publishMany, delayed, idempotent, status and waitFor work with exactly its rules; refused outside its prefix', async () => {
  const topic = defineTopic<{ n: number }>('orders');
  const consumer = client('consumer', P);
  const sub = consumer.subscribe(topic, 'billing', (p) => p.n, { startFrom: 'beginning' });
  await sub.ready();
  const pub = client('publisher', P);
  const id = await pub.publish(topic, { n: 1 }, { headers: { trace: 't1' } });
  await pub.publishMany(topic, [{ n: 2 }, { n: 3 }]);
  const first = await pub.publish(topic, { n: 4 }, { idempotencyKey: 'k1' });
  expect(await pub.publish(topic, { n: 4 }, { idempotencyKey: 'k1' })).toBe(first);
  const delayed = await pub.publish(topic, { n: 5 }, { delayMs: 50 });
  expect((await pub.status(topic, delayed)).groups.billing?.state).toMatch(/scheduled|pending/);
  expect((await pub.waitFor(topic, id, { timeoutMs: 10_000 })).groups.billing).toMatchObject({ state: 'succeeded', result: 1 });
  await waitFor(() => sub.stats.processed === 5, { message: 'all five handled, the delayed one too' });
  expect(await denied('publisher')).toEqual([]);
  expect(await denied('consumer')).toEqual([]);

  const outside = client('publisher', Q);
  await expect(outside.publish(topic, { n: 1 })).rejects.toThrow(/NOPERM/);
  await expect(outside.publishMany(topic, [{ n: 1 }])).rejects.toThrow(/NOPERM|EXECABORT/);
  expect((await denied('publisher')).length).toBeGreaterThan(0);
  expect(await admin.exists(topicKeys(Q, topic.name).stream)).toBe(0);
});

test('consumer role: a worker pool with retries, dead letters, reclaim, retention and a clean close works with exactly its rules; refused outside its prefix', async () => {
  const topic = defineTopic<{ n: number }>('jobs');
  const pub = client('publisher', P);
  const ghost = client('consumer', P);
  // A consumer that dies holding an entry, so the next one must reclaim it.
  const dying = ghost.subscribe(topic, 'mailer', () => new Promise(() => undefined), { startFrom: 'beginning', consumer: 'dying', visibilityTimeoutMs: 300 });
  await dying.ready();
  await pub.publish(topic, { n: 0 });
  await waitFor(() => dying.running.length === 1);
  await dying.close(0);
  const sf = client('consumer', P);
  const seen: number[] = [];
  const sub = sf.subscribe(topic, 'mailer', (p, ctx) => {
    seen.push(p.n);
    if (p.n === 1 && ctx.attempt === 1) throw new Error('transient');
    if (p.n === 2) ctx.deadLetter('poison');
    return p.n;
  }, { startFrom: 'beginning', visibilityTimeoutMs: 300, reclaimIntervalMs: 100, backoff: { type: 'fixed', delayMs: 10 } });
  await sub.ready();
  await pub.publishMany(topic, [{ n: 1 }, { n: 2 }, { n: 3 }]);
  await waitFor(() => sub.stats.processed === 3 && sub.stats.deadLettered === 1, { timeoutMs: 15_000, message: 'retried, dead-lettered, reclaimed' });
  await sleep(300); // a retention run
  await sub.close();
  expect(sub.stats.reclaimed).toBeGreaterThanOrEqual(1);
  expect(await denied('consumer')).toEqual([]);

  const outside = client('consumer', Q);
  const errors: string[] = [];
  const refused = outside.subscribe(topic, 'mailer', () => undefined);
  refused.on('error', (e) => errors.push(e.message));
  await waitFor(() => errors.length > 0, { message: 'the subscription reports the refusal' });
  await refused.close(0);
  expect(errors[0]).toMatch(/NOPERM/);
  expect(await admin.exists(topicKeys(Q, topic.name).stream)).toBe(0);
});

/**
 * Partitioned topics under the consumer role: an unordered and an ordered group (afterDeadLetter
 * 'hold', so the key block, its release and the replay of the dead letter run too), each with two
 * consumers sharing the partitions (leases, heartbeats, rebalance), retries with backoff, dead
 * letters, delayed events promoted by the consumers, idle waits (the ordered group's blocking
 * XREAD, woken by CLIENT UNBLOCK), and a clean close (leases released, members left).
 */
test('consumer role: partitioned topics, unordered and ordered (retries, dead letters, hold and replay, rebalance, idle wait) work with exactly its rules', async () => {
  const topic = defineTopic<{ n: number }>('parted', { partitions: 4 });
  const pub = client('publisher', P);
  const a = client('consumer', P);
  const b = client('consumer', P);
  const handler = (p: { n: number }, ctx: { attempt: number; deadLetter(reason: string): never }) => {
    if (p.n % 5 === 1 && ctx.attempt === 1) throw new Error('transient');
    if (p.n === 7) ctx.deadLetter('poison');
    return p.n;
  };
  const opts = { startFrom: 'beginning' as const, leaseMs: 1000, blockMs: 300, reclaimIntervalMs: 100, visibilityTimeoutMs: 500, backoff: { type: 'fixed' as const, delayMs: 20 } };
  const subs = [
    a.subscribe(topic, 'unordered', handler, { ...opts, consumer: 'u1' }),
    a.subscribe(topic, 'ordered', handler, { ...opts, consumer: 'o1', ordering: 'key', afterDeadLetter: 'hold' }),
  ];
  await Promise.all(subs.map((s) => s.ready()));
  await sleep(700); // idle waits
  const keys = Array.from({ length: 12 }, (_, n) => `k${n % 6}`);
  await pub.publishMany(topic, keys.map((_, n) => ({ n })), { keys });
  await pub.publish(topic, { n: 12 }, { key: 'k0', delayMs: 100 });
  await pub.publish(topic, { n: 13 }, { key: 'k7', idempotencyKey: 'once' });
  // A second consumer per group joins: partitions move (leases released and taken).
  subs.push(b.subscribe(topic, 'unordered', handler, { ...opts, consumer: 'u2' }), b.subscribe(topic, 'ordered', handler, { ...opts, consumer: 'o2', ordering: 'key', afterDeadLetter: 'hold' }));
  await Promise.all(subs.map((s) => s.ready()));
  const done = (group: string) => subs.filter((s) => s.group === group).reduce((n, s) => n + s.stats.processed + s.stats.deadLettered, 0);
  await waitFor(() => done('unordered') >= 14, { timeoutMs: 20_000, message: 'unordered group: every event handled or dead' });
  await waitFor(() => done('ordered') >= 14 - 1, { timeoutMs: 20_000, message: 'ordered group: all but the key held behind the dead letter' });
  // The ordered group's dead letter holds its key (k1): an operator (cli role) replays it.
  const ops = client('cli', P).deadLetters(topic, 'ordered');
  const [dead] = await ops.list();
  expect(dead).toBeDefined();
  expect(await ops.replay({ ids: [dead!.deadLetterId] })).toBe(1);
  await sleep(1500); // the replay runs (dead again: n 7 always dead-letters), idle waits again
  await Promise.all(subs.map((s) => s.close()));
  expect(await denied('consumer')).toEqual([]);
  expect(await denied('publisher')).toEqual([]);
  expect(await denied('cli')).toEqual([]);
}, 60_000);

test('cli role: every streamfan command works with exactly its rules; refused outside its prefix', async () => {
  const topic = 'audit';
  const keys = topicKeys(P, topic);
  const setup = client('consumer', P);
  const pub = client('publisher', P);
  const dl = setup.subscribe<{ n: number }>(topic, 'g', (_p, ctx) => ctx.deadLetter('no'), { startFrom: 'beginning', consumer: 'dl' });
  await dl.ready();
  const dead = await pub.publish(topic, { n: 0 });
  await pub.waitFor(topic, dead, { timeoutMs: 10_000 });
  await dl.close();
  const ids = await pub.publishMany(topic, [{ n: 1 }, { n: 2 }, { n: 3 }]);
  await admin.xreadgroup('GROUP', 'g', 'c1', 'COUNT', 3, 'STREAMS', keys.stream, '>');
  const [dlId] = (await admin.xrange(keys.deadLetters('g'), '-', '+'))[0]!;

  const run = async (user: string, prefix: string, args: string[]): Promise<{ code: number; out: string; err: string }> => {
    let out = '';
    let err = '';
    const io: Io = { out: (t) => { out += `${t}\n`; }, err: (t) => { err += `${t}\n`; }, stdinIsTty: false, readStdin: async () => '', ask: async () => 'y' };
    const code = await main(['node', 'streamfan', '--url', url(user), '--prefix', prefix, '--json', ...args], io);
    return { code, out, err };
  };
  const commands: string[][] = [
    ['topics'], ['groups', topic], ['consumers', topic, 'g'], ['pending', topic, 'g', '--payload'], ['show', topic, ids[0]!],
    ['tail', topic, '--from', '0', '--limit', '2'], ['publish', topic, '{"n":9}'], ['publish', topic, '{"n":10}', '--delay', '1m'],
    ['claim', topic, 'g', ids[0]!, '--to', 'c2', '--yes'], ['ack', topic, 'g', ids[1]!, '--yes'],
    ['dlq', 'list', topic, 'g'], ['dlq', 'show', topic, 'g', dlId], ['dlq', 'replay', topic, 'g', '--all'],
    ['dlq', 'purge', topic, 'g', '--all', '--yes'], ['trim', topic, '--dry-run'], ['trim', topic], ['consumers', 'prune', topic, 'g', '--idle', '1ms'],
    ['memory', topic], ['retire', topic, 'g', '--yes'], ['unretire', topic, 'g'],
  ];
  for (const args of commands) {
    const r = await run('cli', P, args);
    expect({ args, code: r.code, err: r.err }).toEqual({ args, code: 0, err: '' });
  }
  expect(await denied('cli')).toEqual([]);

  const outside = await run('cli', Q, ['groups', topic]);
  expect(outside.code).toBe(1);
  expect(outside.err).toMatch(/NOPERM/);
});

test('ACL.md documents exactly the rules tested here', () => {
  const doc = readFileSync(join(__dirname, '..', 'ACL.md'), 'utf8');
  for (const r of ROLES) expect(doc).toContain(aclSetUser(r, 'myapp', `myapp-${r.name}`, '<password>'));
});
