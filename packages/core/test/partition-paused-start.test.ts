import { sleep, waitFor } from '@streamfan/testing';
import { orderedPartitionFixture } from './partition-helpers';
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
  // The reply of startOrdered comes back after a "pause" during which the lease went stale: the
  // keeper's last renewal is older than two thirds of the lease when the reply is handled.
  const fx = await orderedPartitionFixture(sf, 'paused', {
    aroundStart: async (send, self) => {
      try {
        return await send();
      } finally {
        await sleep(200);
        self.fresh = false;
      }
    },
  });
  const { part, events, keys } = fx;
  try {
    part.start();
    await waitFor(() => fx.slotAsked, { timeoutMs: 5000 });
    await waitFor(() => !fx.fresh, { timeoutMs: 5000, message: 'startOrdered ran' });
    await sleep(500);
    expect(events).not.toContain('handler start'); // not while the lease is stale
    if (then === 'lost') part.lose(); // what the keeper's 'revoked' (lost) does
    else fx.fresh = true; // the keeper's renewal went through
    await sleep(500);
  } finally {
    await part.drain(1000);
    fx.close();
  }
  const pending = Number(((await sf.redis.xpending(keys.stream, 'g')) as [number])[0]);
  if (then === 'lost') {
    expect(events).not.toContain('handler start');
    // Still pending (to the paused consumer, for the next owner to take over), not settled.
    expect(pending).toBe(1);
    expect(['processing', 'pending', undefined]).toContain((await sf.status(fx.topic, fx.id)).groups.g?.state);
  } else {
    expect(events.filter((e) => e === 'handler start')).toHaveLength(1);
    expect(pending).toBe(0);
    expect((await sf.status(fx.topic, fx.id)).groups.g?.state).toBe('succeeded');
  }
}, 20_000);
