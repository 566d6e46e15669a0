import { sleep, waitFor } from '@streamfan/testing';
import { defineTopic, topicKeys, type Streamfan } from '../src/internal';
import { runScript } from '../src/scripts/runner';
import { useRedis } from './helpers';

const env = useRedis();

/** Read entries as a consumer that then "crashes": it never acks. */
async function readAsGhost(sf: Streamfan, topic: string, group: string, count: number): Promise<string[]> {
  const raw = env.server().client();
  const stream = topicKeys(sf.prefix, topic).stream;
  const reply = (await raw.xreadgroup('GROUP', group, 'ghost', 'COUNT', count, 'STREAMS', stream, '>')) as Array<[string, Array<[string, string[]]>]>;
  raw.disconnect();
  return reply[0]![1].map(([id]) => id);
}

/**
 * Pending entries deleted from the stream, mixed with live ones. On Redis 6.2 XAUTOCLAIM replies a
 * bare nil for each deleted one (no id): the ids are found by elimination, and only entries the
 * stream no longer holds are recorded lost.
 */
describe('reclaim of deleted pending entries among live ones', () => {
  test('the live entries are handled, the deleted ones recorded lost once, nothing left pending', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('mixed');
    const stream = topicKeys(sf.prefix, topic.name).stream;
    await sf.redis.xgroup('CREATE', stream, 'g', '$', 'MKSTREAM');
    const ids = await sf.publishMany(topic, [1, 2, 3, 4, 5, 6]);
    await readAsGhost(sf, topic.name, 'g', 6);
    await sf.redis.xdel(stream, ids[0]!, ids[2]!, ids[5]!);
    const lost: string[] = [];
    const handled: number[] = [];
    // concurrency 1: XAUTOCLAIM COUNT 1, so the deletions come back over several calls
    const sub = sf.subscribe(topic, 'g', (n) => { handled.push(n); }, { visibilityTimeoutMs: 200, reclaimIntervalMs: 50, concurrency: 1 });
    sub.on('lost', (e) => lost.push(...e.ids));
    await waitFor(() => lost.length >= 3 && handled.length >= 3, { message: 'three lost, three handled' });
    await sleep(500); // more reclaim ticks: no repeat
    expect(lost.sort()).toEqual([ids[0], ids[2], ids[5]].sort());
    expect(handled.sort()).toEqual([2, 4, 5]);
    expect(await sf.pending(topic, 'g')).toEqual([]);
    for (const i of [0, 2, 5]) expect((await sf.status(topic, ids[i]!)).groups.g).toMatchObject({ state: 'lost' });
  });

  test('markLost leaves an entry the stream still holds pending and unrecorded, and says so', async () => {
    const sf = env.client();
    const keys = topicKeys(sf.prefix, 'direct');
    await sf.redis.xgroup('CREATE', keys.stream, 'g', '$', 'MKSTREAM');
    const alive = (await sf.redis.xadd(keys.stream, '*', 'payload', '1'))!;
    const gone = (await sf.redis.xadd(keys.stream, '*', 'payload', '2'))!;
    await sf.redis.xreadgroup('GROUP', 'g', 'c', 'COUNT', 2, 'STREAMS', keys.stream, '>');
    await sf.redis.xdel(keys.stream, gone);
    const reply = await runScript<[number, string[]]>(sf.redis, 'markLost', [keys.stream, keys.waiters, keys.status(alive), keys.status(gone)],
      ['g', 'c', '60', '', 'gone', 'P', alive, alive, gone, gone]);
    expect(reply).toEqual([1, [alive]]);
    const pending = (await sf.redis.xpending(keys.stream, 'g', '-', '+', 10)) as Array<[string]>;
    expect(pending.map((p) => p[0])).toEqual([alive]);
    expect(await sf.redis.exists(keys.status(alive))).toBe(0);
    expect(await sf.redis.hget(keys.status(gone), 'g:state')).toBe('lost');
  });
});
