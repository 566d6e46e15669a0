import { defineTopic, InvalidOptionError, Streamfan } from '../src';
import { resolveRetention } from '../src/retention';
import { useRedis } from './helpers';

const env = useRedis();

describe('retention options are validated', () => {
  test.each([
    [{ intervalMs: 0 }, /intervalMs/],
    [{ intervalMs: -5 }, /intervalMs/],
    [{ intervalMs: Number.NaN }, /intervalMs/],
    [{ intervalMs: Number.POSITIVE_INFINITY }, /intervalMs/],
    [{ intervalMs: 1.5 }, /intervalMs/],
    [{ intervalMs: 2 ** 31 }, /intervalMs/], // setInterval would fire every millisecond
    [{ intervalMs: '1000' }, /intervalMs/],
    [{ maxLen: 0 }, /maxLen/],
    [{ maxLen: -1 }, /maxLen/],
    [{ maxLen: 10.5 }, /maxLen/],
    [{ maxLen: Number.NaN }, /maxLen/],
    [{ maxLen: Number.POSITIVE_INFINITY }, /maxLen/],
    [{ approximate: 'yes' }, /approximate/],
    [{ minAgeMs: -1 }, /minAgeMs/],
    [{ minAgeMs: 1.5 }, /minAgeMs/],
    [{ minAgeMs: Number.NaN }, /minAgeMs/],
    [{ minAgeMs: 2 ** 31 }, /minAgeMs/],
    [{ minAgeMs: '1000' }, /minAgeMs/],
    [{ intervalMs: 1000, every: 5 }, /every/],
  ])('retention %p is refused with a typed error', (retention, why) => {
    const make = () => new Streamfan({ connection: env.server().url, retention: retention as never });
    expect(make).toThrow(InvalidOptionError);
    expect(make).toThrow(why);
  });

  test.each([
    [{ maxLen: 0 }, /maxLen/],
    [{ maxLen: Number.NaN }, /maxLen/],
    [{ approximate: 1 }, /approximate/],
    [{ dryRun: 'no' }, /dryRun/],
    [{ minAgeMs: -1 }, /minAgeMs/],
    [{ minAgeMs: Number.POSITIVE_INFINITY }, /minAgeMs/],
  ])('trim options %p are refused before anything is removed', async (options, why) => {
    const sf = env.client();
    const topic = defineTopic<number>('t');
    await sf.publish(topic, 1);
    await expect(sf.trim(topic, options as never)).rejects.toThrow(InvalidOptionError);
    await expect(sf.trim(topic, options as never)).rejects.toThrow(why);
  });

  test('good values pass', async () => {
    const sf = env.client({ retention: { intervalMs: 10, maxLen: 1, approximate: false } });
    expect(sf).toBeInstanceOf(Streamfan);
    expect(env.client({ retention: false })).toBeInstanceOf(Streamfan);
    expect(env.client({ retention: {} })).toBeInstanceOf(Streamfan);
    expect(env.client({ retention: { minAgeMs: 0 } })).toBeInstanceOf(Streamfan);
  });

  test('the default minimum age is a quarter of the interval, at most 10 s', () => {
    expect(resolveRetention(undefined)?.minAgeMs).toBe(10_000);
    expect(resolveRetention({ intervalMs: 1000 })?.minAgeMs).toBe(250);
    expect(resolveRetention({ intervalMs: 600_000 })?.minAgeMs).toBe(10_000);
    expect(resolveRetention({ intervalMs: 1000, minAgeMs: 0 })?.minAgeMs).toBe(0);
  });
});
