import { sleep } from '@streamfan/testing';
import { defineTopic, partitionForKey, partitionKeys, type HandlerContext } from './partition-helpers';
import { releaseHeldKey } from '../src/partitions/admin';
import { useRedis } from './helpers';

const env = useRedis();

type Ev = { key: string; n: number };

/**
 * afterDeadLetter 'hold' (docs/partitions.md §6.2): a dead letter parks its key — the key's later
 * events wait (other keys flow) until the dead letter is replayed (the replay runs first, then the
 * parked events in order), purged, or the key released by hand; through a takeover too.
 */
describe("ordering: 'key' with afterDeadLetter: 'hold'", () => {
  const setup = (name: string) => {
    const sf = env.client();
    const topic = defineTopic<Ev>(name, { partitions: 2 });
    const poison = new Set<string>();
    const log: Array<{ key: string; n: number; ok: boolean; consumer: string }> = [];
    const open = (consumer: string) => {
      const sub = sf.subscribe(topic, 'g', (p: Ev, ctx: HandlerContext) => {
        const bad = poison.has(`${p.key}#${p.n}`);
        log.push({ key: p.key, n: p.n, ok: !bad, consumer });
        if (bad) ctx.deadLetter('poison');
      }, { consumer, ordering: 'key', afterDeadLetter: 'hold', startFrom: 'beginning', leaseMs: 1000, blockMs: 100, maxAttempts: 3 });
      sub.on('error', () => undefined);
      return sub;
    };
    const publish = (key: string, ns: number[]) => sf.publishMany(topic, ns.map((n) => ({ key, n })), { keys: ns.map(() => key) });
    const handled = (key: string) => log.filter((h) => h.key === key).map((h) => (h.ok ? h.n : `${h.n}!`));
    return { sf, topic, poison, log, open, publish, handled };
  };

  test('a dead letter parks its key; other keys flow; a replay runs first, then the parked events in order', async () => {
    const { sf, topic, poison, open, publish, handled } = setup('hold-replay');
    poison.add('k#1');
    const sub = open('c1');
    await sub.ready();
    const kIds = await publish('k', [0, 1, 2, 3]);
    const jIds = await publish('j', [0, 1, 2]);
    for (const id of jIds) expect((await sf.waitFor(topic, id, { timeoutMs: 10_000 })).groups.g?.state).toBe('succeeded');
    await sf.waitFor(topic, kIds[1]!, { timeoutMs: 10_000 });
    await sleep(300);
    expect(handled('k')).toEqual([0, '1!']); // 2 and 3 are parked
    const blocked = partitionKeys(sf.prefix, topic.name, partitionForKey('k', 2)).blocked('g');
    const [dead] = await sf.deadLetters(topic, 'g').list();
    expect(await sf.redis.hget(blocked, 'k')).toBe(dead!.deadLetterId.split(':')[1]);
    expect((await sf.status(topic, kIds[2]!)).groups.g?.state).not.toBe('succeeded');
    const later = await publish('k', [4]); // parked as it comes
    await sleep(300);
    expect(handled('k')).toEqual([0, '1!']);

    poison.delete('k#1');
    expect(await sf.deadLetters(topic, 'g').replay({ ids: [dead!.deadLetterId] })).toBe(1);
    for (const id of [...kIds.slice(2), ...later]) expect((await sf.waitFor(topic, id, { timeoutMs: 10_000 })).groups.g?.state).toBe('succeeded');
    expect(handled('k')).toEqual([0, '1!', 1, 2, 3, 4]);
    expect(await sf.redis.hget(blocked, 'k')).toBeNull();
    await sub.close();
  });

  test('purging the dead letter, or releasing the key by hand, lets the parked events run', async () => {
    const { sf, topic, poison, open, publish, handled } = setup('hold-purge');
    poison.add('a#0');
    poison.add('b#0');
    const sub = open('c1');
    await sub.ready();
    const aIds = await publish('a', [0, 1, 2]);
    const bIds = await publish('b', [0, 1]);
    await sf.waitFor(topic, aIds[0]!, { timeoutMs: 10_000 });
    await sf.waitFor(topic, bIds[0]!, { timeoutMs: 10_000 });
    await sleep(300);
    expect(handled('a')).toEqual(['0!']);
    expect(handled('b')).toEqual(['0!']);
    const letters = await sf.deadLetters(topic, 'g').list();
    const ofA = letters.find((d) => d.id === aIds[0])!;
    expect(await sf.deadLetters(topic, 'g').purge({ ids: [ofA.deadLetterId] })).toBe(1);
    for (const id of aIds.slice(1)) expect((await sf.waitFor(topic, id, { timeoutMs: 10_000 })).groups.g?.state).toBe('succeeded');
    expect(handled('a')).toEqual(['0!', 1, 2]);
    expect(handled('b')).toEqual(['0!']); // b is still parked
    expect(await releaseHeldKey(sf.redis, sf.prefix, topic, 'g', 'b')).toBe(true);
    expect((await sf.waitFor(topic, bIds[1]!, { timeoutMs: 10_000 })).groups.g?.state).toBe('succeeded');
    expect(handled('b')).toEqual(['0!', 1]);
    expect(await releaseHeldKey(sf.redis, sf.prefix, topic, 'g', 'b')).toBe(false);
    await sub.close();
  });

  test('the next owner of a partition keeps a key parked (its block is in Redis) and runs it once replayed', async () => {
    const { sf, topic, poison, open, publish, handled, log } = setup('hold-takeover');
    poison.add('k#0');
    const a = open('a');
    await a.ready();
    const ids = await publish('k', [0, 1, 2]);
    await sf.waitFor(topic, ids[0]!, { timeoutMs: 10_000 });
    await sleep(200);
    await a.close(); // k#1 and k#2 stay pending (parked), the block stays in Redis
    const b = open('b');
    await b.ready();
    await sleep(800);
    expect(handled('k')).toEqual(['0!']);
    poison.delete('k#0');
    const [dead] = await sf.deadLetters(topic, 'g').list();
    await sf.deadLetters(topic, 'g').replay({ ids: [dead!.deadLetterId] });
    for (const id of ids.slice(1)) expect((await sf.waitFor(topic, id, { timeoutMs: 10_000 })).groups.g?.state).toBe('succeeded');
    expect(handled('k')).toEqual(['0!', 0, 1, 2]);
    expect(log.slice(1).every((h) => h.consumer === 'b')).toBe(true);
    await b.close();
  });
});
