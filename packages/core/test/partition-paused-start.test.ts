import { createHash } from 'node:crypto';
import type Redis from 'ioredis';
import { sleep, waitFor } from '@streamfan/testing';
import { defineTopic, partitionKeys, resolveSubscribeOptions } from './partition-helpers';
import { acquireLease, ownerId } from '../src/partitions/leases';
import { OrderedPartition, type OrderedHost } from '../src/partitions/ordered-partition';
import { luaSources } from '../src/scripts/lua.generated';
import { useRedis } from './helpers';

const env = useRedis();

/**
 * An ordered consumer's start script is granted under its lease, then the process pauses
 * (SIGSTOP, a long GC) past the lease before the reply is handled. Another consumer may take the
 * partition and start the same entry meanwhile. Fault 17 (a CI rehearsal under load) saw the
 * woken consumer run attempt 1 after the new owner had started attempt 2: two handlings of one
 * key at once. When it wakes, the consumer must see that its lease was not renewed in time and
 * start no handler until the keeper has renewed the lease (then it is still this consumer's),
 * and none at all if the keeper loses it; the entry stays pending for the partition's owner.
 */
test.each([
  ['the keeper then loses the lease: no handler runs, the entry stays pending for the next owner', 'lost'],
  ['the keeper then renews the lease (its token unchanged, nobody took it): the handler runs', 'renewed'],
] as const)('a start granted before a pause past the lease: %s', async (_what, then) => {
  const sf = env.client();
  const topic = defineTopic<{ n: number }>('paused', { partitions: 1 });
  const [id] = await sf.publishMany(topic, [{ n: 1 }], { keys: ['k'] });
  const keys = partitionKeys(sf.prefix, 'paused', 0);
  await sf.redis.xgroup('CREATE', keys.stream, 'g', '0', 'MKSTREAM');
  await sf.redis.xgroup('CREATE', keys.redeliver('g'), 'g', '0', 'MKSTREAM');
  const lease = await acquireLease(sf.redis, keys, 'g', ownerId('c', 'x1'), 60_000);
  if (!lease.acquired) throw new Error('lease not acquired');

  // The reply of startOrdered comes back after a "pause" during which the lease went stale: the
  // keeper's last renewal is older than two thirds of the lease when the reply is handled.
  let fresh = true;
  const worker = sf.redis.duplicate();
  const sha = createHash('sha1').update(luaSources.startOrdered.source).digest('hex');
  const paused = Object.create(worker, {
    evalsha: { value: async (...args: unknown[]) => {
      // The script's first call may fail with NOSCRIPT (the runner then loads it): the pause
      // follows whichever call ran it.
      try {
        return await (worker.evalsha as (...a: unknown[]) => Promise<unknown>)(...args);
      } finally {
        if (args[0] === sha) { await sleep(200); fresh = false; }
      }
    } },
  }) as Redis;
  const events: string[] = [];
  let started = false;
  const host: OrderedHost<{ n: number }> = {
    redis: paused, topic, group: 'g', consumer: 'c', options: resolveSubscribeOptions({ blockMs: 100 }), statusTtlSeconds: 3600,
    handler: async () => { events.push('handler'); },
    maxHeld: 100, handlerTimeoutMs: 10_000, hold: false,
    publishMode: () => 'P',
    waitForNew: () => sleep(100),
    leaveWait: () => undefined,
    acquireSlot: async () => { started = true; },
    releaseSlot: () => undefined,
    leaseFresh: () => fresh,
    emit: ((event: string) => { events.push(event); }) as OrderedHost<{ n: number }>['emit'],
    report: (err) => { events.push(`error ${(err as Error).message}`); },
    fenced: () => { events.push('fenced'); },
  };
  const part = new OrderedPartition(host, 0, lease.token, keys);
  try {
    part.start();
    await waitFor(() => started, { timeoutMs: 5000 });
    await waitFor(() => !fresh, { timeoutMs: 5000, message: 'startOrdered ran' });
    await sleep(500);
    expect(events).not.toContain('handler'); // not while the lease is stale
    if (then === 'lost') part.lose(); // what the keeper's 'revoked' (lost) does
    else fresh = true; // the keeper's renewal went through
    await sleep(500);
  } finally {
    await part.drain(1000);
    worker.disconnect();
  }
  const pending = Number(((await sf.redis.xpending(keys.stream, 'g')) as [number])[0]);
  if (then === 'lost') {
    expect(events).not.toContain('handler');
    // Still pending (to the paused consumer, for the next owner to take over), not settled.
    expect(pending).toBe(1);
    expect(['processing', 'pending', undefined]).toContain((await sf.status(topic, id!)).groups.g?.state);
  } else {
    expect(events.filter((e) => e === 'handler')).toHaveLength(1);
    expect(pending).toBe(0);
    expect((await sf.status(topic, id!)).groups.g?.state).toBe('succeeded');
  }
}, 20_000);
