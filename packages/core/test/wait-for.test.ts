import { sleep, waitFor } from '@streamfan/testing';
import { WaitTimeoutError, defineTopic, topicKeys, type Streamfan } from '../src/internal';
import { useRedis } from './helpers';

const env = useRedis();

async function calls(sf: Streamfan, name: string): Promise<number> {
  const info = await sf.redis.info('commandstats');
  const m = new RegExp(`^cmdstat_${name}:calls=(\\d+)`, 'm').exec(info);
  return m ? Number(m[1]) : 0;
}

describe('waitFor', () => {
  test('does not poll: while nothing happens it reads the status once, and holds the waiters key', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('quiet');
    const sub = sf.subscribe(topic, 'slow', () => new Promise(() => undefined), { startFrom: 'beginning', shutdownGraceMs: 0 });
    await sub.ready();
    const id = await sf.publish(topic, { n: 1 });
    const before = await calls(sf, 'hgetall');
    const waiting = sf.waitFor(topic, id, { timeoutMs: 3500 }).catch((e: unknown) => e);
    await sleep(300);
    expect(await sf.redis.exists(topicKeys(sf.prefix, topic.name).waiters)).toBe(1);
    const err = await waiting;
    expect(err).toBeInstanceOf(WaitTimeoutError);
    // One status read when it starts (two hash reads at most: readStatus re-reads once on a race);
    // the old code re-read the status every second (≥ 3 more in 3.5 s).
    expect((await calls(sf, 'hgetall')) - before).toBeLessThanOrEqual(2);
    await sub.close();
  });

  test('a notice wakes it: it resolves within moments of the ack, without a timer', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('fast');
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const sub = sf.subscribe(topic, 'g', async () => { await gate; return 'ok'; }, { startFrom: 'beginning' });
    await sub.ready();
    const id = await sf.publish(topic, { n: 1 });
    const waiting = sf.waitFor(topic, id, { timeoutMs: 10_000 });
    await sleep(200);
    const t0 = Date.now();
    release();
    const st = await waiting;
    expect(st.groups.g?.state).toBe('succeeded');
    expect(Date.now() - t0).toBeLessThan(900); // the old code could only see it at its next 1 s poll; noisy machines: a loose bound
    await sub.close();
  });

  test('a group another program created on the stream is not waited for unless named', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('mixed');
    const sub = sf.subscribe(topic, 'ours', () => undefined, { startFrom: 'beginning' });
    await sub.ready();
    await sf.redis.xgroup('CREATE', topicKeys(sf.prefix, topic.name).stream, 'foreign-reader', '$');
    const id = await sf.publish(topic, { n: 1 });
    const st = await sf.waitFor(topic, id, { timeoutMs: 5000 });
    expect(st.groups.ours?.state).toBe('succeeded');
    await expect(sf.waitFor(topic, id, { timeoutMs: 300, groups: ['ours', 'foreign-reader'] })).rejects.toBeInstanceOf(WaitTimeoutError);
    await sub.close();
  });

  test('after the waiters key lapsed (a stalled process), the next refresh reads the status again', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('lapsed');
    const keys = topicKeys(sf.prefix, topic.name);
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const sub = sf.subscribe(topic, 'g', async () => { await gate; }, { startFrom: 'beginning' });
    await sub.ready();
    const id = await sf.publish(topic, { n: 1 });
    let resolved = false;
    const waiting = sf.waitFor(topic, id, { timeoutMs: 20_000 }).then((s) => { resolved = true; return s; });
    await waitFor(async () => (await sf.redis.exists(keys.waiters)) === 1);
    await sf.redis.del(keys.waiters); // as if the refresh came too late: no notice is published now
    release();
    await sleep(300);
    expect(resolved).toBe(false); // nothing told it yet
    const st = await waiting; // the refresh (every 5 s) finds the key gone and re-reads
    expect(st.groups.g?.state).toBe('succeeded');
    await sub.close();
  });

  test('a notice lost while its connection was down: after the reconnect it reads the status again', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('reconnect');
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const sub = sf.subscribe(topic, 'g', async () => { await gate; }, { startFrom: 'beginning' });
    await sub.ready();
    const id = await sf.publish(topic, { n: 1 });
    const waiting = sf.waitFor(topic, id, { timeoutMs: 4000 });
    await waitFor(async () => (await sf.redis.exists(topicKeys(sf.prefix, topic.name).waiters)) === 1);
    const admin = env.server().client();
    const clients = String(await admin.client('LIST'));
    const subscriberId = /id=(\d+) [^\n]*name=streamfan:subscriber/.exec(clients)?.[1];
    expect(subscriberId).toBeDefined();
    // The subscriber is cut, and the event finishes while it is away: its notice reaches nobody.
    await admin.client('KILL', 'ID', subscriberId!);
    release();
    const st = await waiting;
    expect(st.groups.g?.state).toBe('succeeded');
    await sub.close();
  });
});
