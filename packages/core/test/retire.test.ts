import { sleep, waitFor } from '@streamfan/testing';
import { GroupRetiredError, InvalidOptionError, NotFoundError, WaitTimeoutError } from '../src';
import { defineTopic, isNoGroup, topicKeys } from '../src/internal';
import { pruneIdleConsumers } from '../src/consumer/pruner';
import { useRedis } from './helpers';
import { expectSubscribeRefused } from './retire-helpers';

const env = useRedis();

const groupNames = async (redis: import('ioredis').default, stream: string): Promise<string[]> =>
  ((await redis.xinfo('GROUPS', stream)) as unknown[][]).map((row) => String(row[1])).sort();

describe('retireGroup', () => {
  test('retiring a group while its consumer runs: the consumer stops (error, aborted handler, close resolves), the group is never recreated, other groups keep delivering', async () => {
    const sf = env.client();
    const topic = defineTopic<string>('retire-running');
    const keys = topicKeys(sf.prefix, topic.name);
    const emailSeen: string[] = [];
    const legacySeen: string[] = [];
    let abortedWith: unknown;
    const email = sf.subscribe(topic, 'email', (p) => { emailSeen.push(p); }, { startFrom: 'beginning', reclaimIntervalMs: 100, blockMs: 200 });
    const legacy = sf.subscribe(topic, 'legacy', async (p, ctx) => {
      legacySeen.push(p);
      if (p === 'slow') await new Promise((r) => ctx.signal.addEventListener('abort', r));
      abortedWith = ctx.signal.reason;
    }, { startFrom: 'beginning', reclaimIntervalMs: 100, blockMs: 200, concurrency: 2 });
    const errors: Error[] = [];
    const recovered: string[] = [];
    let closed = false;
    legacy.on('error', (e) => errors.push(e));
    legacy.on('recovered', (e) => recovered.push(e.reason));
    legacy.on('closed', () => { closed = true; });
    await Promise.all([email.ready(), legacy.ready()]);
    await sf.publishMany(topic, ['a', 'b']);
    await sf.publish(topic, 'slow');
    await waitFor(() => legacySeen.includes('slow') && emailSeen.length === 3, { message: 'both groups read, legacy runs slow' });

    const report = await sf.retireGroup(topic, 'legacy');
    expect(report).toMatchObject({ topic: 'retire-running', group: 'legacy', alreadyRetired: false, consumers: 1, pending: 1, retrying: 0, deadLetters: 0, deadLettersDeleted: false });
    expect(report.retiredAt).toBeInstanceOf(Date);

    await waitFor(() => closed, { timeoutMs: 10_000, message: 'the retired consumer closed by itself' });
    await legacy.close(); // resolves (it already closed)
    expect(errors.map((e) => e.constructor.name)).toEqual(['GroupRetiredError']);
    expect((errors[0] as GroupRetiredError).code).toBe('GROUP_RETIRED');
    expect(errors[0]!.message).toMatch(/unretire/);
    expect(abortedWith).toBeInstanceOf(GroupRetiredError);
    expect(recovered).toEqual([]);

    // Never recreated: not on the topic stream, no redelivery stream, no retry set.
    await sleep(500);
    expect(await groupNames(sf.redis, keys.stream)).toEqual(['email']);
    expect(await sf.redis.exists(keys.redeliver('legacy'), keys.retry('legacy'))).toBe(0);

    // The other group is untouched and keeps delivering; waitFor does not wait for the retired one.
    const fresh = await sf.publish(topic, 'after');
    const status = await sf.waitFor(topic, fresh, { timeoutMs: 10_000 });
    expect(Object.keys(status.groups)).toEqual(['email']);
    expect(status.groups.email?.state).toBe('succeeded');
    expect(emailSeen).toEqual(['a', 'b', 'slow', 'after']);
    expect(legacySeen).toEqual(['a', 'b', 'slow']);

    const groups = await sf.groups(topic);
    expect(groups.map((g) => [g.group, g.retired ?? false])).toEqual([['email', false], ['legacy', true]]);
    expect(groups[1]).toMatchObject({ consumers: 0, pending: 0, lag: null, retrying: 0, deadLetters: 0 });
    expect(groups[1]!.retiredAt?.getTime()).toBe(report.retiredAt.getTime());
    await email.close();
  });

  test('a subscribe to a retired group refuses with GroupRetiredError (ready rejects, the subscription closes); after unretireGroup it subscribes at its startFrom', async () => {
    const sf = env.client();
    const topic = defineTopic<string>('retire-subscribe');
    const keys = topicKeys(sf.prefix, topic.name);
    const first = sf.subscribe(topic, 'g', () => undefined, { startFrom: 'beginning' });
    await first.ready();
    await first.close();
    await sf.publish(topic, 'old');
    await sf.retireGroup(topic, 'g');

    await expectSubscribeRefused(sf, topic, 'g', { startFrom: 'beginning' });
    expect(await groupNames(sf.redis, keys.stream)).toEqual([]);
    expect(await sf.redis.exists(keys.redeliver('g'))).toBe(0);

    expect(await sf.unretireGroup(topic, 'g')).toBe(true);
    expect(await sf.unretireGroup(topic, 'g')).toBe(false);
    const seen: string[] = [];
    const back = sf.subscribe(topic, 'g', (p) => { seen.push(p); }, { startFrom: 'latest' });
    await back.ready();
    const id = await sf.publish(topic, 'new');
    await sf.waitFor(topic, id, { timeoutMs: 10_000 });
    expect(seen).toEqual(['new']); // created at its startFrom ('latest'): the old event is not replayed
    expect((await sf.groups(topic)).map((g) => [g.group, g.retired ?? false])).toEqual([['g', false]]);
    await back.close();
  });

  test('waitFor: a retired group named in groups is refused; one retired while a waitFor waits on it is dropped from the default groups', async () => {
    const sf = env.client();
    const topic = defineTopic<string>('retire-wait');
    const fast = sf.subscribe(topic, 'fast', () => undefined);
    const stuck = sf.subscribe(topic, 'stuck', (_p, ctx) => new Promise((r) => ctx.signal.addEventListener('abort', r)), { reclaimIntervalMs: 100, blockMs: 200 });
    stuck.on('error', () => undefined);
    await Promise.all([fast.ready(), stuck.ready()]);
    const id = await sf.publish(topic, 'x');
    // Default groups: both; the stuck one never finishes, so this waits until the retirement.
    const waiting = sf.waitFor(topic, id, { timeoutMs: 15_000 });
    await waitFor(async () => (await sf.status(topic, id)).groups.fast?.state === 'succeeded');
    await expect(sf.waitFor(topic, id, { timeoutMs: 300 })).rejects.toBeInstanceOf(WaitTimeoutError);
    const named = sf.waitFor(topic, id, { groups: ['fast', 'stuck'], timeoutMs: 15_000 });
    await sleep(200);
    await sf.retireGroup(topic, 'stuck');
    const status = await waiting;
    expect(status.groups.fast?.state).toBe('succeeded');
    await expect(named).rejects.toBeInstanceOf(GroupRetiredError);
    // Named after the retirement: refused at once.
    await expect(sf.waitFor(topic, id, { groups: ['stuck'], timeoutMs: 15_000 })).rejects.toThrow(/retired/);
    // Default groups after the retirement: only 'fast'.
    expect(Object.keys((await sf.waitFor(topic, id, { timeoutMs: 5000 })).groups)).toContain('fast');
    await fast.close();
    await stuck.close();
  });

  test('idempotent; dead letters kept unless asked; an unknown group or a bad option is a clear error and writes nothing', async () => {
    const sf = env.client();
    const topic = defineTopic<string>('retire-idem');
    const keys = topicKeys(sf.prefix, topic.name);
    const sub = sf.subscribe(topic, 'g', (_p, ctx) => ctx.deadLetter('no'), { startFrom: 'beginning' });
    const other = sf.subscribe(topic, 'other', () => undefined, { startFrom: 'beginning' });
    await Promise.all([sub.ready(), other.ready()]);
    await sf.publishMany(topic, ['x', 'y']);
    await waitFor(async () => (await sf.deadLetters(topic, 'g').count()) === 2, { message: 'two dead letters' });
    await sub.close();

    await expect(sf.retireGroup(topic, 'nope')).rejects.toThrow(NotFoundError);
    await expect(sf.retireGroup(topic, 'nope')).rejects.toThrow(/group "nope" not found in topic "retire-idem".*groups: g, other/);
    await expect(sf.retireGroup(topic, 'g', { deleteDeadLetter: true } as never)).rejects.toThrow(InvalidOptionError);
    await expect(sf.retireGroup(topic, 'g', { deleteDeadLetters: 'yes' } as never)).rejects.toThrow(/deleteDeadLetters must be true or false/);
    expect(await sf.redis.exists(keys.retired)).toBe(0);

    const first = await sf.retireGroup(topic, 'g');
    expect(first).toMatchObject({ alreadyRetired: false, deadLetters: 2, deadLettersDeleted: false });
    expect(await sf.deadLetters(topic, 'g').count()).toBe(2);
    const second = await sf.retireGroup(topic, 'g');
    expect(second).toMatchObject({ alreadyRetired: true, consumers: 0, pending: 0, deadLetters: 2, deadLettersDeleted: false });
    expect(second.retiredAt.getTime()).toBe(first.retiredAt.getTime());
    const third = await sf.retireGroup(topic, 'g', { deleteDeadLetters: true });
    expect(third).toMatchObject({ alreadyRetired: true, deadLetters: 2, deadLettersDeleted: true });
    expect(await sf.deadLetters(topic, 'g').count()).toBe(0);
    // A replay to a retired group would feed a stream nobody reads: refused.
    await expect(sf.deadLetters(topic, 'g').replay({ all: true })).rejects.toBeInstanceOf(GroupRetiredError);
    // Still retired (nothing dead-lettered is left, no group, no streams): retiring again is fine.
    expect((await sf.retireGroup(topic, 'g')).alreadyRetired).toBe(true);
    expect(await groupNames(sf.redis, keys.stream)).toEqual(['other']);
    await other.close();
  });

  test('a consumer blocked in its read is woken by the retirement and stops reporting only GroupRetiredError (not the UNBLOCKED reply of its deleted redelivery stream)', async () => {
    const sf = env.client();
    const topic = defineTopic<string>('retire-blocked');
    const sub = sf.subscribe(topic, 'g', () => undefined, { blockMs: 60_000, reclaimIntervalMs: 60_000 });
    const errors: Error[] = [];
    sub.on('error', (e) => errors.push(e));
    const closed = new Promise((r) => sub.once('closed', r));
    await sub.ready();
    await sleep(200); // in its blocking XREADGROUP on both streams
    await sf.retireGroup(topic, 'g');
    await closed; // woken at once: not after blockMs nor a reclaim tick (this test's timeout is shorter)
    expect(errors.map((e) => `${e.constructor.name}: ${e.message.slice(0, 60)}`)).toEqual([expect.stringMatching(/^GroupRetiredError/)]);
  });

  test('a recovery never recreates a retired group, even one destroyed by hand before it was retired', async () => {
    const sf = env.client();
    const topic = defineTopic<string>('retire-race');
    const keys = topicKeys(sf.prefix, topic.name);
    // A consumer that never reads (every slot busy) notices only on its reclaim tick.
    const sub = sf.subscribe(topic, 'g', (_p, ctx) => new Promise((r) => ctx.signal.addEventListener('abort', r)), { startFrom: 'beginning', concurrency: 1, reclaimIntervalMs: 100 });
    const errors: Error[] = [];
    sub.on('error', (e) => errors.push(e));
    const closed = new Promise((r) => sub.once('closed', r));
    await sub.ready();
    await sf.publish(topic, 'busy');
    await waitFor(() => sub.running.length === 1);
    await sf.redis.multi().xgroup('DESTROY', keys.stream, 'g').xgroup('DESTROY', keys.redeliver('g'), 'g').exec();
    const report = await sf.retireGroup(topic, 'g');
    expect(report).toMatchObject({ alreadyRetired: false, consumers: 0, pending: 0 });
    await closed;
    expect(errors.map((e) => e.constructor.name)).toEqual(['GroupRetiredError']);
    expect(await groupNames(sf.redis, keys.stream)).toEqual([]);
  });
});

describe('a deleted stream is a vanished group, whatever the command says', () => {
  test('isNoGroup knows NOGROUP, XINFO\'s "no such key" and a blocked read\'s UNBLOCKED reply', () => {
    for (const m of ['NOGROUP No such key \'s\' or consumer group \'g\'', 'ERR no such key', 'UNBLOCKED the stream key no longer exists',
      'NOGROUP the consumer group this client was blocked on no longer exists']) expect(isNoGroup(new Error(m))).toBe(true);
    for (const m of ['ERR wrong number of arguments', 'BUSYGROUP Consumer Group name already exists', 'OOM command not allowed']) expect(isNoGroup(new Error(m))).toBe(false);
  });

  test('pruning the consumers of a stream deleted meanwhile (a retired group\'s redelivery stream) finds none instead of failing', async () => {
    const sf = env.client();
    const stream = topicKeys(sf.prefix, 'prune-gone').redeliver('g');
    await expect(pruneIdleConsumers(sf.redis, stream, 'g', 'me', 1)).resolves.toEqual([]);
  });
});

describe('retireGroup on a partitioned topic', () => {
  test('retireGroup and unretireGroup work on a partitioned topic (no longer refused; partitions-retire.test.ts tests them): the group is listed retired on every partition, then taken off', async () => {
    const sf = env.client();
    const topic = defineTopic<string>('retire-partitioned', { partitions: 2 });
    const sub = sf.subscribe(topic, 'g', () => undefined, { startFrom: 'beginning', consumer: 'c1' });
    await sub.ready();
    await sub.close();
    const report = await sf.retireGroup('retire-partitioned', 'g');
    expect(report.partitions?.map((p) => p.partition)).toEqual([0, 1]);
    expect(await sf.redis.exists(topicKeys(sf.prefix, topic.name).retired)).toBe(0); // the partitions' lists, not the topic's name
    await expect(sf.unretireGroup(topic, 'g')).resolves.toBe(true);
  });

  test('an unpartitioned topic named like nothing partitioned is unaffected: a missing group is still NotFoundError', async () => {
    const sf = env.client();
    await sf.publish('retire-plain', 'x');
    await expect(sf.retireGroup('retire-plain', 'nope')).rejects.toBeInstanceOf(NotFoundError);
    await expect(sf.unretireGroup('retire-plain', 'nope')).resolves.toBe(false);
  });
});

describe('subscribe registers its consumer', () => {
  test('groups() shows an idle pool\'s consumers before its first entry', async () => {
    const sf = env.client();
    const topic = defineTopic<string>('idle-pool');
    const subs = [1, 2, 3].map((n) => sf.subscribe(topic, 'pool', () => undefined, { consumer: `pool-${n}` }));
    await Promise.all(subs.map((s) => s.ready()));
    const [g] = await sf.groups(topic);
    expect(g).toMatchObject({ group: 'pool', consumers: 3, pending: 0 });
    expect((await sf.consumers(topic, 'pool')).map((c) => c.name).sort()).toEqual(['pool-1', 'pool-2', 'pool-3']);
    await Promise.all(subs.map((s) => s.close()));
    // Closing removes them again (they hold nothing).
    expect((await sf.groups(topic))[0]?.consumers).toBe(0);
  });
});
