import { connect } from 'node:net';
import { waitFor } from '@streamfan/testing';
import { defineTopic } from '../src';
import { topicKeys } from '../src/internal';
import { REDELIVERY_QUIET_MS } from '../src/consumer/reader';
import { useRedis } from './helpers';

const env = useRedis();

/**
 * perf-notes §3 step 4: after a read of the redelivery stream came back empty, the read loop
 * reads only the topic stream for REDELIVERY_QUIET_MS, so a busy consumer makes one read per
 * batch instead of two; a retry written meanwhile is still read within that time.
 */
describe('one read per batch while the redelivery stream is quiet', () => {
  test('a backlog is read mostly with topic-only reads (MONITOR), every event handled once', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('backlog');
    const keys = topicKeys(sf.prefix, topic.name);
    let handled = 0;
    const sub = sf.subscribe(topic, 'g', () => { handled++; }, { startFrom: 'beginning', concurrency: 50 });
    await sub.ready();
    // MONITOR on a raw socket: ioredis' monitor() connection failed with 'Command queue state
    // error' on a loaded machine (compat run on Redis 6.2 and 7.2), its ready check racing the feed.
    const reads: string[] = [];
    const monitor = connect(env.server().port, '127.0.0.1');
    let buffered = '';
    monitor.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      for (let i = buffered.indexOf('\r\n'); i >= 0; i = buffered.indexOf('\r\n')) {
        const line = buffered.slice(0, i);
        buffered = buffered.slice(i + 2);
        if (/ "xreadgroup" /i.test(line)) reads.push(line);
      }
    });
    await new Promise<void>((resolve, reject) => {
      monitor.once('error', reject);
      monitor.write('MONITOR\r\n');
      const ok = (chunk: Buffer) => { if (chunk.toString('utf8').startsWith('+OK')) { monitor.off('data', ok); resolve(); } };
      monitor.on('data', ok);
    });
    for (let i = 0; i < 2000; i += 500) await sf.publishMany(topic, Array.from({ length: 500 }, (_, j) => ({ n: i + j })));
    await waitFor(() => handled === 2000, { timeoutMs: 20_000, message: 'all 2000 handled' });
    monitor.destroy();
    const topicOnly = reads.filter((r) => r.includes(`"${keys.stream}"`) && !r.includes(`"${keys.redeliver('g')}"`)).length;
    const withRedelivery = reads.length - topicOnly;
    // 2000 entries at 50 a batch: at least 40 batches. Structural, not a speed: some reads skip
    // the redelivery stream (they come within REDELIVERY_QUIET_MS of an empty one).
    expect(topicOnly).toBeGreaterThan(0);
    expect(reads.length).toBeGreaterThanOrEqual(40);
    expect(withRedelivery).toBeGreaterThan(0);
    expect(handled).toBe(2000);
  });

  test('a retry due while the consumer reads only the topic stream is still run soon (within the quiet time plus its backoff)', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('retry-soon');
    const runs: Array<{ n: number; attempt: number; at: number }> = [];
    const sub = sf.subscribe(topic, 'g', (p, ctx) => {
      runs.push({ n: p.n, attempt: ctx.attempt, at: Date.now() });
      if (p.n === 0 && ctx.attempt === 1) throw new Error('once');
    }, { startFrom: 'beginning', backoff: { type: 'fixed', delayMs: 0 }, blockMs: 5000 });
    await sub.ready();
    await sf.publish(topic, { n: 0 });
    const id = (await sf.redis.xrange(topicKeys(sf.prefix, topic.name).stream, '-', '+'))[0]![0];
    const st = await sf.waitFor(topic, id, { timeoutMs: 5000 });
    expect(st.groups.g).toMatchObject({ state: 'succeeded', attempts: 2 });
    const [first, second] = runs;
    // Far under blockMs (5 s): the quiet window bounds the wait, not the blocking read.
    expect(second!.at - first!.at).toBeLessThan(REDELIVERY_QUIET_MS + 2000);
  });
});
