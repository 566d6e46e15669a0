import { startRedis, uniquePrefix, waitFor, type RedisServer } from '@streamfan/testing';
import { defineTopic, Streamfan, UnsupportedServerError } from '../src';
import { MINIMUM_SERVER } from '../src/capabilities';

/**
 * A server without XAUTOCLAIM (older than Redis 6.2; made here from the server under test with
 * `--rename-command XAUTOCLAIM ""`) is refused when the client connects, before anything is written.
 */
describe('a client on a server without XAUTOCLAIM', () => {
  let server: RedisServer;
  beforeAll(async () => { server = await startRedis({ args: ['--rename-command', 'XAUTOCLAIM', ''] }); });
  afterAll(async () => { await server?.stop(); });

  test('publish, publishMany, waitFor and trim are refused with UnsupportedServerError; nothing is written', async () => {
    const sf = new Streamfan({ connection: server.url, prefix: uniquePrefix(), retention: false });
    try {
      const topic = defineTopic<number>('old');
      const err = await sf.publish(topic, 1).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnsupportedServerError);
      expect(err).toMatchObject({ code: 'UNSUPPORTED_SERVER', missing: 'XAUTOCLAIM' });
      expect((err as Error).message).toContain(MINIMUM_SERVER);
      await expect(sf.publishMany(topic, [1, 2])).rejects.toBeInstanceOf(UnsupportedServerError);
      await expect(sf.waitFor(topic, '1-1', { timeoutMs: 1000 })).rejects.toBeInstanceOf(UnsupportedServerError);
      await expect(sf.trim(topic)).rejects.toBeInstanceOf(UnsupportedServerError);
      expect(() => sf.subscribe(topic, 'g', () => undefined)).toThrow(UnsupportedServerError);
      expect(await sf.redis.dbsize()).toBe(0);
    } finally {
      await sf.close();
    }
  });

  test('a subscription opened before detection answered is closed, reporting why', async () => {
    const sf = new Streamfan({ connection: server.url, prefix: uniquePrefix(), retention: false });
    try {
      const errors: unknown[] = [];
      const sub = sf.subscribe(defineTopic<number>('old'), 'g', () => undefined);
      sub.on('error', (e) => errors.push(e));
      await expect(sub.ready()).rejects.toThrow();
      await waitFor(() => errors.length > 0, { message: 'error reported' });
      expect(errors[0]).toBeInstanceOf(UnsupportedServerError);
    } finally {
      await sf.close();
    }
  });

  test('the same server with XAUTOCLAIM is accepted', async () => {
    const ok = await startRedis();
    const sf = new Streamfan({ connection: ok.url, prefix: uniquePrefix(), retention: false });
    try {
      expect(await sf.publish(defineTopic<number>('new'), 1)).toMatch(/^\d+-\d+$/);
    } finally {
      await sf.close();
      await ok.stop();
    }
  });
});
