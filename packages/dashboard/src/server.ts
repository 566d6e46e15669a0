import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StreamfanError } from '@streamfan/core/internal';
import { createDashboard, type DashboardHandler, type DashboardOptions } from './dashboard';
import { isLoopbackHost } from './security';

/** Options of {@link startDashboard}: the handler's, and where to listen. */
export interface StartOptions extends DashboardOptions {
  /** @defaultValue '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @defaultValue 7380 */
  port?: number;
}

/** A dashboard listening on its own HTTP server. */
export interface RunningDashboard {
  /** Where to open it (without the token). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly handler: DashboardHandler;
  /** Stop listening, end live updates, close the client the dashboard opened. */
  close(): Promise<void>;
}

/**
 * Serve the dashboard on its own HTTP server (what `streamfan dashboard` runs). Refuses to
 * listen beyond loopback without a token or an auth hook: nothing on the network may read
 * payloads, let alone act, unauthenticated.
 * @throws StreamfanError INVALID_OPTION for a non-loopback host without token or auth
 */
export async function startDashboard(options: StartOptions = {}): Promise<RunningDashboard> {
  const { host = '127.0.0.1', port = 7380, ...rest } = options;
  if (!isLoopbackHost(host) && !rest.token && !rest.auth) {
    throw new StreamfanError('INVALID_OPTION', `refusing to serve the dashboard on ${host} without a token: anyone who can reach it could read every payload. Give a token (--token, or STREAMFAN_DASHBOARD_TOKEN) or listen on 127.0.0.1`);
  }
  const handler = createDashboard(rest);
  const server: Server = createServer((req, res) => handler(req, res));
  server.on('clientError', (_err, socket) => socket.destroy());
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => { server.off('error', reject); resolve(); });
    });
  } catch (err) {
    await handler.close();
    throw err;
  }
  const bound = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shown}:${bound}${rest.basePath ? `/${rest.basePath.replace(/^\/+|\/+$/g, '')}` : ''}/`,
    host,
    port: bound,
    handler,
    close() {
      closing ??= (async () => {
        await handler.close();
        await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
      })();
      return closing;
    },
  };
}
