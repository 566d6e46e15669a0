import { waitFor } from '@streamfan/testing';
import { defineTopic, topicKeys } from '../src/internal';
import { useRedis } from './helpers';

const env = useRedis();

/**
 * Retiring a group drops its scheduled retries; the status of those events must not keep
 * promising one (`nextAttemptAt`), for a retry that can never come.
 */
describe('retireGroup and the status of retries it dropped', () => {
  test('events waiting for a retry keep no nextAttemptAt after the group is retired; other groups keep theirs', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('retire-retries');
    const keys = topicKeys(sf.prefix, topic.name);
    const failing = { startFrom: 'beginning' as const, maxAttempts: 5, backoff: { type: 'fixed' as const, delayMs: 600_000 } };
    const legacy = sf.subscribe(topic, 'legacy', () => { throw new Error('down'); }, failing);
    const other = sf.subscribe(topic, 'other', () => { throw new Error('down too'); }, failing);
    await Promise.all([legacy.ready(), other.ready()]);
    const ids = await sf.publishMany(topic, [1, 2, 3]);
    for (const id of ids) {
      await waitFor(async () => (await sf.redis.hget(keys.status(id), 'legacy:nextAttemptAt')) !== null && (await sf.redis.hget(keys.status(id), 'other:nextAttemptAt')) !== null, { message: `${id} failed once in both groups` });
    }
    const report = await sf.retireGroup(topic, 'legacy');
    expect(report.retrying).toBe(3);
    for (const id of ids) {
      expect(await sf.redis.hget(keys.status(id), 'legacy:nextAttemptAt')).toBeNull();
      expect(await sf.redis.hget(keys.status(id), 'legacy:state')).toBe('failed'); // what happened stays
      expect(await sf.redis.hget(keys.status(id), 'other:nextAttemptAt')).not.toBeNull();
    }
    await Promise.all([legacy.close(), other.close()]);
  });
});
