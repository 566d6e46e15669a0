import { waitFor } from '@streamfan/testing';
import { defineTopic, InvalidOptionError, type BackoffOption, type SubscribeOptions } from '../src';
import { computeBackoff, MAX_BACKOFF_MS } from '../src/backoff';
import { resolveSubscribeOptions } from '../src/consumer/options';
import { useRedis } from './helpers';

const env = useRedis();

describe('option validation', () => {
  const bad: Array<[string, SubscribeOptions]> = [];
  for (const name of ['concurrency', 'visibilityTimeoutMs', 'maxAttempts', 'handlerTimeoutMs', 'shutdownGraceMs', 'reclaimIntervalMs', 'blockMs', 'maxResultBytes', 'deadLetterMaxLen', 'pruneIdleConsumersMs'] as const) {
    for (const v of [NaN, Infinity, -1, 1.5, '10' as unknown as number, 1e12]) bad.push([name, { [name]: v }]);
  }
  bad.push(['recoverFrom', { recoverFrom: 'start' as 'latest' }]);
  bad.push(['startFrom', { startFrom: 'now' as 'latest' }]);
  bad.push(['startFrom.id', { startFrom: { id: 5 as unknown as string } }]);
  bad.push(['trackStatus', { trackStatus: 'yes' as unknown as boolean }]);
  bad.push(['logger', { logger: {} as never }]);
  bad.push(['concurency', { concurency: 5 } as SubscribeOptions]);
  const backoffs: BackoffOption[] = [
    { type: 'fixed', delayMs: Infinity }, { type: 'fixed', delayMs: NaN }, { type: 'fixed', delayMs: -1 },
    { type: 'fixed', delayMs: undefined as unknown as number },
    { type: 'exponential', baseMs: Infinity }, { type: 'exponential', factor: NaN }, { type: 'exponential', maxMs: -5 },
    { type: 'exponential', jitter: 2 }, { type: 'exponential', factor: 1e9 }, { type: 'linear' } as unknown as BackoffOption,
  ];
  for (const b of backoffs) bad.push(['backoff', { backoff: b }]);

  test.each(bad)('%s: %p is refused with an InvalidOptionError naming it', (name, o) => {
    let err: unknown;
    try { resolveSubscribeOptions(o); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect((err as Error).message).toContain(name.replace(/\.id$/, ''));
  });

  test('a custom backoff result that is not a finite number ≥ 0 falls back to the default backoff and says why; a huge one is capped', () => {
    for (const v of [undefined, NaN, -1, Infinity, '5']) {
      const r = computeBackoff(() => v as number, 3, null, () => 0.5);
      expect(r.delayMs).toBe(4000); // the default: 1000 × 2² with no jitter at random() = 0.5
      expect(r.problem).toBeInstanceOf(InvalidOptionError);
      expect(r.problem!.message).toMatch(/backoff function returned/);
    }
    const thrown = computeBackoff(() => { throw new Error('boom'); }, 1, null, () => 0.5);
    expect(thrown.delayMs).toBe(1000);
    expect(thrown.problem!.message).toMatch(/threw.*boom/);
    const huge = computeBackoff(() => 1e15, 1, null);
    expect(huge.delayMs).toBe(MAX_BACKOFF_MS);
    expect(huge.problem!.message).toMatch(/capped/);
    expect(computeBackoff(() => 20.4, 1, null)).toEqual({ delayMs: 20 });
  });
});

describe('a bad backoff result at run time', () => {
  const cases: Array<[string, (a: number) => number]> = [
    ['undefined past the end of a table', (a) => [30][a - 1]!],
    ['NaN', () => NaN],
    ['Infinity', () => Infinity],
    ['negative', () => -100],
  ];
  test.each(cases)('%s: the event is retried with the default backoff and ends dead after maxAttempts; an error is reported', async (label, backoff) => {
    const sf = env.client();
    const topic = defineTopic<number>(`bad-backoff-${label.split(' ')[0]}`);
    const errors: Error[] = [];
    let calls = 0;
    const sub = sf.subscribe(topic, 'g', () => { calls++; throw new Error('always'); },
      { startFrom: 'beginning', maxAttempts: 3, backoff, reclaimIntervalMs: 100 });
    sub.on('error', (e) => errors.push(e));
    await sub.ready();
    const id = await sf.publish(topic, 1);
    await waitFor(async () => (await sf.status(topic, id)).groups.g?.state === 'dead', { timeoutMs: 15_000, message: 'dead after 3 attempts' });
    const st = await sf.status(topic, id);
    expect(st.groups.g).toMatchObject({ state: 'dead', attempts: 3 });
    expect(calls).toBe(3);
    expect(errors.length).toBe(label.startsWith('undefined') ? 1 : 2); // one per retry scheduled with a bad value
    for (const e of errors) expect(e).toBeInstanceOf(InvalidOptionError);
    expect(await sf.deadLetters(topic, 'g').count()).toBe(1);
    await sub.close();
  });
});
