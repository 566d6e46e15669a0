import { waitFor } from '@streamfan/testing';
import { defineTopic, InvalidOptionError } from '../src';
import { useRedis } from './helpers';

const env = useRedis();

/** A handler that always fails, with a backoff that returns NaN: each retry reports an error. */
function failing(sf: ReturnType<typeof env.client>, name: string, extra: object = {}) {
  const topic = defineTopic<number>(name);
  const sub = sf.subscribe(topic, 'g', () => { throw new Error('nope'); },
    { startFrom: 'beginning', maxAttempts: 2, backoff: () => NaN, ...extra });
  return { topic, sub };
}

describe('errors nobody listens for', () => {
  test('go to the subscription logger, and are counted in stats.errors', async () => {
    const sf = env.client();
    const logged: Array<[string, unknown]> = [];
    const { topic, sub } = failing(sf, 'logged', { logger: { error: (m: string, e: unknown) => logged.push([m, e]) } });
    await sub.ready();
    await sf.publish(topic, 1);
    await waitFor(() => sub.stats.errors === 1, { message: 'one error counted' });
    expect(logged.length).toBe(1);
    expect(logged[0]![0]).toMatch(/INVALID_OPTION.*g@logged.*backoff function returned NaN/);
    expect(logged[0]![1]).toBeInstanceOf(InvalidOptionError);
    await sub.close();
  });

  test('go to stderr by default', async () => {
    const sf = env.client();
    const written: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => { written.push(String(chunk)); return true; });
    try {
      const { topic, sub } = failing(sf, 'stderr');
      await sub.ready();
      await sf.publish(topic, 1);
      await waitFor(() => sub.stats.errors === 1, { message: 'one error counted' });
      await sub.close();
    } finally {
      spy.mockRestore();
    }
    expect(written.join('')).toMatch(/\[streamfan\] InvalidOptionError \(INVALID_OPTION\).*backoff function returned NaN/);
  });

  test('with an error listener, the listener gets them and the logger does not', async () => {
    const sf = env.client();
    const logged: string[] = [];
    const heard: Error[] = [];
    const { topic, sub } = failing(sf, 'heard', { logger: { error: (m: string) => logged.push(m) } });
    sub.on('error', (e) => heard.push(e));
    await sub.ready();
    await sf.publish(topic, 1);
    await waitFor(() => sub.stats.errors === 1, { message: 'one error counted' });
    expect(heard.length).toBe(1);
    expect(logged).toEqual([]);
    await sub.close();
  });
});
