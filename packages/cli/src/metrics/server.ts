import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Streamfan } from '@streamfan/core';
import { createMetricsCollector, type MetricsCollectorOptions } from './collect';
import { PROMETHEUS_CONTENT_TYPE } from './exposition';

/** Options of {@link startMetricsServer}. */
export interface MetricsServerOptions {
  /** The client whose prefix is read. It is not closed by {@link RunningMetricsServer.close}. */
  client: Streamfan;
  /** Port to listen on (0: any free port). */
  port: number;
  /** @defaultValue '127.0.0.1' */
  host?: string;
  /** Scrapes within this many ms of the last one get its result. @defaultValue 1000 */
  cacheMs?: number;
  /** Discover topics (a SCAN over the prefix) at most this often. @defaultValue 30000 */
  discoverEveryMs?: number;
  /** The memory metrics' reading (see {@link MetricsCollectorOptions.memory}); false: none. @defaultValue {} */
  memory?: MetricsCollectorOptions['memory'];
}

/** A running metrics endpoint. */
export interface RunningMetricsServer {
  /** Base URL, e.g. `http://127.0.0.1:9464/`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Serve `/metrics` (Prometheus text format, see {@link collectMetrics}) and `/healthz` (200 when
 * Redis answers PING, 503 otherwise). A scrape that cannot read Redis gets 503 with the reason,
 * so Prometheus marks the target down (`up == 0`) rather than storing stale values.
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<RunningMetricsServer> {
  const sf = options.client;
  const scrape = createMetricsCollector(sf, {
    cacheMs: options.cacheMs ?? 1000,
    ...(options.discoverEveryMs !== undefined ? { discoverEveryMs: options.discoverEveryMs } : {}),
    ...(options.memory !== undefined ? { memory: options.memory } : {}),
  });
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (path === '/metrics') {
      scrape().then(
        (body) => res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE }).end(req.method === 'HEAD' ? undefined : body),
        (err: unknown) => res.writeHead(503, { 'content-type': 'text/plain' }).end(`cannot read Redis: ${(err as Error).message}\n`),
      );
    } else if (path === '/healthz') {
      sf.redis.ping().then(
        () => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n'),
        (err: unknown) => res.writeHead(503, { 'content-type': 'text/plain' }).end(`redis: ${(err as Error).message}\n`),
      );
    } else if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('streamfan metrics: see /metrics and /healthz\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: see /metrics and /healthz\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}/`,
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
