import { waitFor } from '@streamfan/testing';
import { defineTopic, InvalidOptionError, Streamfan, type Logger } from '../src';
import { useRedis } from './helpers';

const env = useRedis();

function recording(): { logger: Logger; warnings: string[]; errors: string[] } {
  const warnings: string[] = [];
  const errors: string[] = [];
  return { logger: { error: (m) => errors.push(m), warn: (m) => warnings.push(m) }, warnings, errors };
}

/** A group whose consumer 'ghost' read two entries and died; one of them is then deleted from the stream. */
async function lostSetup(sf: Streamfan, name: string): Promise<{ topic: ReturnType<typeof defineTopic<number>>; gone: string }> {
  const topic = defineTopic<number>(name);
  const first = sf.subscribe(topic, 'g', async () => undefined, { startFrom: 'beginning' });
  await first.ready();
  await first.close();
  const [, gone] = await sf.publishMany(topic, [1, 2]);
  const stream = `${sf.prefix}:{${name}}:stream`;
  await sf.redis.xreadgroup('GROUP', 'g', 'ghost', 'COUNT', 2, 'STREAMS', stream, '>');
  await sf.redis.xdel(stream, gone!);
  return { topic, gone: gone! };
}

describe('warnings nobody listens for reach the logger (logger.warn)', () => {
  test('events lost (deleted from the stream while pending), with no lost listener', async () => {
    const log = recording();
    const sf = env.client({ logger: log.logger });
    const { topic, gone } = await lostSetup(sf, 'lost.unheard');
    const sub = sf.subscribe(topic, 'g', async () => undefined, { visibilityTimeoutMs: 100, reclaimIntervalMs: 50 });
    await waitFor(() => log.warnings.length > 0, { timeoutMs: 10_000 });
    expect(log.warnings[0]).toMatch(new RegExp(`^1 event\\(s\\) lost in subscription g@lost\\.unheard \\(${gone}\\): entry deleted from the stream while pending`));
    expect(log.errors).toEqual([]);
    await sub.close();
  });

  test('with a lost listener, the listener gets it and the logger does not', async () => {
    const log = recording();
    const sf = env.client({ logger: log.logger });
    const { topic } = await lostSetup(sf, 'lost.heard');
    const heard: string[][] = [];
    const sub = sf.subscribe(topic, 'g', async () => undefined, { visibilityTimeoutMs: 100, reclaimIntervalMs: 50 });
    sub.on('lost', (e) => heard.push(e.ids));
    await waitFor(() => heard.length > 0, { timeoutMs: 10_000 });
    expect(log.warnings).toEqual([]);
    await sub.close();
  });

  test('a group whose stream vanished and was recreated', async () => {
    const log = recording();
    const sf = env.client({ logger: log.logger });
    const topic = defineTopic<number>('vanish');
    const sub = sf.subscribe(topic, 'g', async () => undefined, { startFrom: 'beginning', blockMs: 100 });
    await sub.ready();
    await sf.redis.del(`${sf.prefix}:{vanish}:stream`);
    await waitFor(() => log.warnings.length > 0, { timeoutMs: 10_000 });
    expect(log.warnings[0]).toMatch(/^subscription g@vanish recovered: /);
    await sub.close();
  });

  test("retention's hard cap dropping unacknowledged entries, with no capLoss listener", async () => {
    const log = recording();
    const sf = env.client({ logger: log.logger, retention: { intervalMs: 50, maxLen: 2 } });
    const topic = defineTopic<number>('capped');
    const sub = sf.subscribe(topic, 'slow', () => new Promise<void>(() => undefined), { concurrency: 1, startFrom: 'beginning' });
    sub.on('lost', () => undefined); // the group's own report of the loss is heard: only the client's is left
    await sub.ready();
    await sf.publishMany(topic, Array.from({ length: 20 }, (_, i) => i));
    await waitFor(() => log.warnings.some((w) => w.startsWith("retention's maxLen cap removed")), { timeoutMs: 10_000 });
    expect(log.warnings.find((w) => w.startsWith('retention'))).toMatch(/entries of "capped" that some group had not acknowledged: they are recorded lost \(\{"slow":\d+\}\)/);
    await sub.close(0);
  });

  test('a logger with error only gets warnings as "warning: …" errors', async () => {
    const errors: string[] = [];
    const sf = env.client({ logger: { error: (m: string) => errors.push(m) } });
    const { topic } = await lostSetup(sf, 'lost.erroronly');
    const sub = sf.subscribe(topic, 'g', async () => undefined, { visibilityTimeoutMs: 100, reclaimIntervalMs: 50 });
    await waitFor(() => errors.length > 0, { timeoutMs: 10_000 });
    expect(errors[0]).toMatch(/^warning: 1 event\(s\) lost in subscription g@lost\.erroronly/);
    await sub.close();
  });

  test('a logger that cannot log is refused when the client is made', () => {
    expect(() => new Streamfan({ logger: {} as never })).toThrow(InvalidOptionError);
    expect(() => new Streamfan({ logger: { error: () => undefined, warn: 'loud' } as never })).toThrow(/logger.warn must be a function/);
  });
});
