import { uniquePrefix, waitFor } from '@streamfan/testing';
import { defineTopic, ProtocolVersionError, Streamfan, topicKeys } from '../src/internal';
import { PROTOCOL_VERSION, protocolKey, recordProtocol } from '../src/protocol';
import { luaSources } from '../src/scripts/lua.generated';
import { useRedis } from './helpers';

const env = useRedis();

/** A client on a prefix an admin connection prepared first (the client connects after). */
function clientOn(prefix: string): Streamfan {
  return env.client({ prefix });
}

async function refusal(p: Promise<unknown>): Promise<ProtocolVersionError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ProtocolVersionError);
  return err as ProtocolVersionError;
}

describe('wire protocol version (docs/PROTOCOL.md)', () => {
  test('the first write records version 2 in <prefix>:protocol; connecting and reading write nothing', async () => {
    const sf = env.client();
    const admin = env.server().client();
    const topic = defineTopic<{ n: number }>('proto');
    // Connect, read a status: nothing written (the connect-time check only reads).
    await sf.status(topic, '1-0');
    await sf.groups(topic);
    expect(await admin.exists(protocolKey(sf.prefix))).toBe(0);
    await sf.publish(topic, { n: 1 });
    const hash = await admin.hgetall(protocolKey(sf.prefix));
    expect(hash.version).toBe(String(PROTOCOL_VERSION));
    expect(Number(hash.createdAt)).toBeGreaterThan(1_600_000_000_000);
    // Never a TTL: the record lives as long as the data it describes.
    expect(await admin.pttl(protocolKey(sf.prefix))).toBe(-1);
    // A second client on the same prefix finds it and writes nothing more.
    const created = Number(hash.createdAt);
    const other = clientOn(sf.prefix);
    await other.publish(topic, { n: 2 });
    expect(Number(await admin.hget(protocolKey(sf.prefix), 'createdAt'))).toBe(created);
    admin.disconnect();
  });

  test('a subscriber records it too (before its group exists)', async () => {
    const sf = env.client();
    const admin = env.server().client();
    const sub = sf.subscribe(defineTopic('sub-first'), 'g', () => undefined);
    await sub.ready();
    await waitFor(async () => (await admin.hget(protocolKey(sf.prefix), 'version')) === '2', { message: 'version recorded' });
    admin.disconnect();
  });

  test('data in a newer protocol version: every write is refused with PROTOCOL_VERSION, saying which versions and what to do; nothing is written', async () => {
    const prefix = uniquePrefix();
    const admin = env.server().client();
    await admin.hset(protocolKey(prefix), 'version', '3', 'createdAt', '1');
    const sf = clientOn(prefix);
    const topic = defineTopic<{ n: number }>('newer');
    const err = await refusal(sf.publish(topic, { n: 1 }));
    expect(err.code).toBe('PROTOCOL_VERSION');
    expect(err).toMatchObject({ key: `${prefix}:protocol`, found: '3', supported: [2] });
    expect(err.message).toMatch(/protocol version 3/);
    expect(err.message).toMatch(/speaks version 2 only/);
    expect(err.message).toMatch(/upgrade @streamfan\/core/);
    await refusal(sf.publishMany(topic, [{ n: 1 }]));
    await refusal(sf.waitFor(topic, '1-0', { timeoutMs: 500 }));
    await refusal(sf.trim(topic));
    // Detection is over by now: subscribe refuses at once.
    expect(() => sf.subscribe(topic, 'g', () => undefined)).toThrow(ProtocolVersionError);
    expect(await admin.exists(topicKeys(prefix, topic.name).stream)).toBe(0);
    expect(await admin.hget(protocolKey(prefix), 'version')).toBe('3');
    admin.disconnect();
  });

  test('a version 1 prefix: status, groups and the CLI keep reading it (hash statuses included); every write is refused naming the upgrade step; after it, writes work', async () => {
    const prefix = uniquePrefix();
    const admin = env.server().client();
    const topic = defineTopic<{ n: number }>('old');
    const keys = topicKeys(prefix, topic.name);
    const id = await admin.xadd(keys.stream, '*', 'payload', '{"n":1}', 'headers', '');
    await admin.xgroup('CREATE', keys.stream, 'g', '0');
    await admin.hset(keys.status(id!), 'g:state', 'succeeded', 'g:attempts', '1', 'g:consumer', 'c1', 'g:updatedAt', '1700000000000');
    await admin.hset(protocolKey(prefix), 'version', '1', 'createdAt', '1');
    const sf = clientOn(prefix);
    expect((await sf.status(topic, id!)).groups.g).toMatchObject({ state: 'succeeded', attempts: 1, consumer: 'c1' });
    const err = await refusal(sf.publish(topic, { n: 2 }));
    expect(err).toMatchObject({ found: '1', supported: [2] });
    expect(err.message).toMatch(/reads it but writes version 2 only/);
    expect(err.message).toContain(`HSET ${prefix}:protocol version 2`);
    expect(await admin.xlen(keys.stream)).toBe(1);
    await admin.hset(protocolKey(prefix), 'version', '2');
    const after = clientOn(prefix);
    await after.publish(topic, { n: 3 });
    expect(await admin.xlen(keys.stream)).toBe(2);
    admin.disconnect();
  });

  test('a subscription opened while the connect-time check still runs is closed, reporting the error', async () => {
    const prefix = uniquePrefix();
    const admin = env.server().client();
    await admin.hset(protocolKey(prefix), 'version', '7');
    const sf = clientOn(prefix);
    const errors: unknown[] = [];
    const sub = sf.subscribe(defineTopic('early'), 'g', () => undefined);
    sub.on('error', (e) => errors.push(e));
    const closed = new Promise((r) => sub.once('closed', r));
    await closed;
    expect(errors.some((e) => e instanceof ProtocolVersionError)).toBe(true);
    admin.disconnect();
  });

  test('a version written after this client connected is found by its first write', async () => {
    const sf = env.client();
    const admin = env.server().client();
    await sf.status('later', '1-0'); // connected, checked: no version recorded yet
    await admin.hset(protocolKey(sf.prefix), 'version', '3');
    const err = await refusal(sf.publish('later', { n: 1 }));
    expect(err.found).toBe('3');
    admin.disconnect();
  });

  test('a protocol key something else wrote (not a version, not a hash) is refused with what to do', async () => {
    const a = uniquePrefix();
    const b = uniquePrefix();
    const admin = env.server().client();
    await admin.hset(protocolKey(a), 'version', 'v1.0');
    await admin.set(protocolKey(b), 'hello');
    const ea = await refusal(clientOn(a).publish('x', 1));
    expect(ea.message).toMatch(/"v1\.0", which is no streamfan protocol version/);
    expect(ea.message).toMatch(/Delete it if nothing else uses it/);
    const eb = await refusal(clientOn(b).publish('x', 1));
    expect(eb.message).toMatch(/not a hash/);
    // The script refuses a wrong type before it writes.
    await expect(recordProtocol(admin, b)).rejects.toBeInstanceOf(ProtocolVersionError);
    expect(await admin.get(protocolKey(b))).toBe('hello');
    admin.disconnect();
  });

  test('ensureProtocol: the first caller records its version, later callers get the stored one', async () => {
    const admin = env.server().client();
    const prefix = uniquePrefix();
    expect(await recordProtocol(admin, prefix)).toBe(true);
    expect(await recordProtocol(admin, prefix)).toBe(false);
    await expect(admin.eval(luaSources.ensureProtocol.source, 1, protocolKey(prefix), '0'))
      .rejects.toThrow(/invalid argument version/);
    admin.disconnect();
  });
});
