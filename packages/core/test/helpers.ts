import { startRedis, uniquePrefix, type RedisServer } from '@streamfan/testing';
import { Streamfan, type StreamfanOptions } from '../src';

/** One redis-server per test file; a fresh prefix and client per test; everything closed after. */
export function useRedis(args?: string[]): { server: () => RedisServer; client: (o?: StreamfanOptions) => Streamfan } {
  let server: RedisServer | undefined;
  const clients: Streamfan[] = [];
  beforeAll(async () => { server = await startRedis({ args }); });
  afterEach(async () => { await Promise.all(clients.splice(0).map((c) => c.close())); });
  afterAll(async () => { await server?.stop(); });
  return {
    server: () => server!,
    client: (o = {}) => {
      const c = new Streamfan({ connection: server!.url, prefix: uniquePrefix(), retention: false, ...o });
      clients.push(c);
      return c;
    },
  };
}
