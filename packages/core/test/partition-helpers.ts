import { createHash } from 'node:crypto';
import type Redis from 'ioredis';
import { sleep } from '@streamfan/testing';
import type { Streamfan, Topic } from '../src';
import { defineTopic, partitionKeys, resolveSubscribeOptions, type PartitionKeys } from '../src/internal';
import { acquireLease, ownerId, readLeases, type LeaseView } from '../src/partitions/leases';
import { OrderedPartition, type OrderedHost } from '../src/partitions/ordered-partition';
import { ServerClock } from '../src/consumer/skipper';
import { luaSources } from '../src/scripts/lua.generated';

export * from '../src/internal';
export type { PartitionContext } from '../src/partitions/partitioned-subscription';
export type { PartitionedGroupInfo, PartitionedTrimReport } from '../src/partitions/admin';

/** Every partition's lease of a group, as Redis holds it now. */
export function readLeasesForTest(sf: Streamfan, topic: string, partitions: number, group: string): Promise<LeaseView[]> {
  return readLeases(sf.redis, Array.from({ length: partitions }, (_, i) => partitionKeys(sf.prefix, topic, i)), group);
}

/** What {@link orderedPartitionFixture} set up: one ordered partition, not started, and what it did. */
export interface OrderedPartitionFixture {
  topic: Topic<{ n: number }>;
  /** The event published (key 'k'). */
  id: string;
  keys: PartitionKeys;
  part: OrderedPartition<{ n: number }>;
  /** What the partition did, in order: 'handler start', 'handler end', its emits, `error <message>`, 'fenced'. */
  events: string[];
  /** A handler slot was asked for: the start script is about to be sent. */
  readonly slotAsked: boolean;
  /** Whether the lease counts as fresh (the host's `leaseFresh`); the test may change it. */
  fresh: boolean;
  /** Close the worker connection. */
  close(): void;
}

/**
 * One OrderedPartition driven directly, without a consumer: a topic `name` of one partition
 * with one event (key 'k'), group 'g' created on its stream and redelivery stream, the lease
 * acquired by consumer 'c', and a host whose every startOrdered call (EVALSHA of its script)
 * goes through `aroundStart` on a connection of its own (to delay or pause the reply). The
 * handler records 'handler start', waits `handlerMs`, records 'handler end'.
 */
export async function orderedPartitionFixture(sf: Streamfan, name: string, o: {
  aroundStart: (send: () => Promise<unknown>, fixture: OrderedPartitionFixture) => Promise<unknown>;
  handlerMs?: number;
}): Promise<OrderedPartitionFixture> {
  const topic = defineTopic<{ n: number }>(name, { partitions: 1 });
  const [id] = await sf.publishMany(topic, [{ n: 1 }], { keys: ['k'] });
  const keys = partitionKeys(sf.prefix, name, 0);
  await sf.redis.xgroup('CREATE', keys.stream, 'g', '0', 'MKSTREAM');
  await sf.redis.xgroup('CREATE', keys.redeliver('g'), 'g', '0', 'MKSTREAM');
  const lease = await acquireLease(sf.redis, keys, 'g', ownerId('c', 'x1'), 60_000);
  if (!lease.acquired) throw new Error('lease not acquired');

  const worker = sf.redis.duplicate();
  const sha = createHash('sha1').update(luaSources.startOrdered.source).digest('hex');
  const evalsha = worker.evalsha.bind(worker) as (...a: unknown[]) => Promise<unknown>;
  const redis = Object.create(worker, {
    // The script's first call may fail with NOSCRIPT (the runner then loads it): each call goes through aroundStart.
    evalsha: { value: (...args: unknown[]) => (args[0] === sha ? o.aroundStart(() => evalsha(...args), fixture) : evalsha(...args)) },
  }) as Redis;
  const events: string[] = [];
  const state = { slotAsked: false, fresh: true };
  const host: OrderedHost<{ n: number }> = {
    redis, topic, group: 'g', consumer: 'c', options: resolveSubscribeOptions({ blockMs: 100 }), statusTtlSeconds: 3600,
    handler: async () => { events.push('handler start'); await sleep(o.handlerMs ?? 0); events.push('handler end'); },
    maxHeld: 100, handlerTimeoutMs: 10_000, hold: false, clock: new ServerClock(worker),
    publishMode: () => 'P',
    waitForNew: () => sleep(100),
    leaveWait: () => undefined,
    acquireSlot: async () => { state.slotAsked = true; },
    releaseSlot: () => undefined,
    leaseFresh: () => state.fresh,
    emit: ((event: string) => { events.push(event); }) as OrderedHost<{ n: number }>['emit'],
    report: (err) => { events.push(`error ${(err as Error).message}`); },
    fenced: () => { events.push('fenced'); },
  };
  const fixture: OrderedPartitionFixture = {
    topic, id: id!, keys, events, part: new OrderedPartition(host, 0, lease.token, keys),
    get slotAsked() { return state.slotAsked; },
    get fresh() { return state.fresh; },
    set fresh(v: boolean) { state.fresh = v; },
    close: () => worker.disconnect(),
  };
  return fixture;
}
