import { waitFor } from '@streamfan/testing';
import { defineTopic } from '../src';
import { useRedis } from './helpers';

// A server whose eviction policy may drop streams: the client warns about it once, at subscribe.
const env = useRedis(['--maxmemory-policy', 'allkeys-lru']);

describe("the client's own warnings and errors are never silent", () => {
  test('with no warning listener, the eviction warning reaches the client logger', async () => {
    const logged: string[] = [];
    const sf = env.client({ logger: { error: (m: string) => logged.push(m) } });
    const sub = sf.subscribe(defineTopic<number>('warned'), 'g', () => undefined);
    await sub.ready();
    await waitFor(() => logged.length > 0, { message: 'the warning logged' });
    expect(logged[0]).toMatch(/^warning: Redis maxmemory-policy is allkeys-lru/);
    await sub.close();
  });

  test('with a warning listener, the listener gets it and the logger does not', async () => {
    const logged: string[] = [];
    const heard: string[] = [];
    const sf = env.client({ logger: { error: (m: string) => logged.push(m) } });
    sf.on('warning', (w) => heard.push(w.message));
    const sub = sf.subscribe(defineTopic<number>('heard'), 'g', () => undefined);
    await sub.ready();
    await waitFor(() => heard.length > 0, { message: 'the warning heard' });
    expect(heard[0]).toMatch(/allkeys-lru/);
    expect(logged).toEqual([]);
    await sub.close();
  });
});
