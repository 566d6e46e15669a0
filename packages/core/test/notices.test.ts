import Redis from 'ioredis';
import { sleep, startCluster, uniquePrefix, waitFor, type RedisCluster } from '@streamfan/testing';
import type { Cluster } from 'ioredis';
import { defineTopic, Streamfan, topicKeys } from '../src/internal';
import { capabilitiesOf } from '../src/capabilities';
import { useRedis } from './helpers';

const env = useRedis();

describe('completion notices are published only while someone waits', () => {
  test('no waiters key: no notice; with it: succeeded, dead and lost notices', async () => {
    const sf = env.client();
    const topic = defineTopic<string>('notices');
    const keys = topicKeys(sf.prefix, topic.name);
    const listener = env.server().client();
    const heard: string[] = [];
    listener.on('message', (_ch: string, m: string) => heard.push(m));
    await listener.subscribe(keys.done);
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const sub = sf.subscribe(topic, 'g', async (p, ctx) => {
      if (p === 'bad') ctx.deadLetter('no');
      if (p === 'gone') { await gate; throw new Error('fails after its entry was deleted'); }
    }, { startFrom: 'beginning' });
    await sub.ready();

    const quiet = await sf.publish(topic, 'ok');
    await waitFor(async () => (await sf.status(topic, quiet)).groups.g?.state === 'succeeded');
    await sleep(100);
    expect(heard).toEqual([]);

    await sf.redis.set(keys.waiters, '1', 'PX', 10_000);
    const ok = await sf.publish(topic, 'ok');
    const bad = await sf.publish(topic, 'bad');
    const gone = await sf.publish(topic, 'gone');
    await waitFor(() => sub.running.length === 1);
    await sf.redis.xdel(keys.stream, gone);
    release();
    await waitFor(() => heard.length === 3, { message: 'three notices' });
    expect(heard.sort()).toEqual([`dead|g|${bad}`, `lost|g|${gone}`, `succeeded|g|${ok}`].sort());
    listener.disconnect();
    await sub.close();
  });
});

describe('on a Redis Cluster: sharded Pub/Sub where the servers have it, else PUBLISH', () => {
  let cluster: RedisCluster;
  beforeAll(async () => { cluster = await startCluster(3); }, 60_000);
  afterAll(async () => { await cluster?.stop(); });

  test('notices go by SPUBLISH to the node that owns the topic when the servers have `spublish`, else by PUBLISH', async () => {
    const sf = new Streamfan({ connection: { cluster: cluster.startupNodes }, prefix: uniquePrefix('n'), retention: false });
    try {
      const topic = defineTopic<number>('sharded');
      const keys = topicKeys(sf.prefix, topic.name);
      const probe = sf.redis as unknown as Cluster;
      const slot = Number(await probe.call('CLUSTER', 'KEYSLOT', keys.done));
      const ranges = (await probe.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number]]>;
      const owner = ranges.find(([lo, hi]) => slot >= lo && slot <= hi)![2][1];
      // Asked of the node that owns the topic's slot (the probe key carries the topic's hash tag).
      const node = new Redis({ port: owner, host: '127.0.0.1' });
      const caps = await capabilitiesOf(node, `${keys.done}:probe`);
      node.disconnect();
      // PUBLISH on a cluster reaches every node: listen on a node that does not own the slot.
      const other = ranges.find(([, , [, port]]) => port !== owner)![2][1];
      const listener = new Redis({ port: caps.spublish ? owner : other, host: '127.0.0.1' });
      const heard: string[] = [];
      listener.on('smessage', (_ch: string, m: string) => heard.push(`S ${m}`));
      listener.on('message', (_ch: string, m: string) => heard.push(`P ${m}`));
      if (caps.spublish) await listener.ssubscribe(keys.done);
      else await listener.subscribe(keys.done);
      const sub = sf.subscribe(topic, 'g', () => undefined, { startFrom: 'beginning', blockMs: 500 });
      await sub.ready();
      await sf.redis.set(keys.waiters, '1', 'PX', 10_000);
      const id = await sf.publish(topic, 1);
      await waitFor(() => heard.length === 1, { message: 'notice heard' });
      expect(heard).toEqual([`${caps.spublish ? 'S' : 'P'} succeeded|g|${id}`]);
      expect((await sf.waitFor(topic, id, { timeoutMs: 5000 })).groups.g).toMatchObject({ state: 'succeeded' });
      listener.disconnect();
      await sub.close();
    } finally {
      await sf.close();
    }
  }, 60_000);
});
