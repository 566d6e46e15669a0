import { connect, type Socket } from 'node:net';
import type Redis from 'ioredis';
import { uniquePrefix, waitFor } from '@streamfan/testing';
import { useRedis } from './helpers';

const env = useRedis();

/**
 * The premise behind docs/partitions.md §5.2 ("why ordered groups do not use a blocking
 * XREADGROUP"): Redis serves a blocked XREADGROUP as soon as an entry arrives, whether or not
 * the client is alive enough to read the reply. A consumer paused (GC, SIGSTOP) inside such a
 * read takes new entries into its PEL and moves the group's last-delivered id past them, so a
 * new owner's '>' read skips them. Here the "paused" consumer is a raw socket that sends the
 * command and never reads.
 */
test('a blocked XREADGROUP whose client never reads still takes the next entry into its PEL', async () => {
  const redis: Redis = env.server().client();
  const stream = `${uniquePrefix()}:{t#0}:stream`;
  await redis.xgroup('CREATE', stream, 'g', '$', 'MKSTREAM');
  const resp = (...args: string[]) => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
  const paused: Socket = connect(env.server().port, '127.0.0.1');
  await new Promise<void>((resolve) => paused.once('connect', () => resolve()));
  paused.pause(); // never read what Redis answers
  paused.write(resp('XREADGROUP', 'GROUP', 'g', 'zombie', 'COUNT', '10', 'BLOCK', '0', 'STREAMS', stream, '>'));
  await waitFor(async () => /blocked_clients:1/.test(await redis.info('clients')), { message: 'the zombie read is blocked' });

  const first = await redis.xadd(stream, '*', 'key', 'k', 'seq', '1');
  const second = await redis.xadd(stream, '*', 'key', 'k', 'seq', '2');
  // The new owner reads '>' and sees only the second entry: the first went to the zombie.
  const read = (await redis.xreadgroup('GROUP', 'g', 'owner', 'COUNT', 10, 'STREAMS', stream, '>')) as Array<[string, Array<[string, string[]]>]>;
  expect(read[0]![1].map(([id]) => id)).toEqual([second]);
  const pel = (await redis.xpending(stream, 'g', '-', '+', 10)) as Array<[string, string, number, number]>;
  expect(pel.map(([id, owner]) => [id, owner])).toEqual([[first, 'zombie'], [second, 'owner']]);
  paused.destroy();
  redis.disconnect();
});
