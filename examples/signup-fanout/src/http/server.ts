import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createDashboard, type DashboardHandler } from '@streamfan/dashboard';
import type { Demo } from '../demo';
import { MethodNotAllowed, NotFound, toHttpError } from './errors';
import { matchPath, routes } from './routes';

/** Options of {@link startServer}. */
export interface ServerOptions {
  /** @defaultValue '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @defaultValue 3000 */
  port?: number;
  /** When `port` is taken, listen on a free port instead of failing. @defaultValue true */
  fallbackToFreePort?: boolean;
  /** How often live snapshots are pushed to the page. @defaultValue 500 */
  pushIntervalMs?: number;
  /**
   * Serve the operations dashboard (`@streamfan/dashboard`) of the demo's own prefix under
   * {@link DASHBOARD_PATH}, with actions on: give the Redis URL. The dashboard answers only
   * loopback requests (it has no token), like the demo is meant to be used.
   */
  dashboardUrl?: string;
}

/** Where the demo serves the operations dashboard of its prefix. */
export const DASHBOARD_PATH = '/dashboard';

/** A running demo server. */
export interface DemoServer {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** True when the asked port was taken and a free one was used. */
  readonly fellBack: boolean;
  /** Close live streams and stop listening. */
  close(): Promise<void>;
}

const PUBLIC_DIR = join(__dirname, '..', '..', 'public');
const STATIC: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/styles.css': { file: 'styles.css', type: 'text/css; charset=utf-8' },
  '/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
};

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) { res.end(); return; }
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** Live snapshots over Server-Sent Events: one computation per tick, shared by every page. */
class SnapshotPush {
  private readonly clients = new Set<ServerResponse>();
  private readonly timer: NodeJS.Timeout;
  private running = false;
  private last: string | undefined;

  constructor(private readonly demo: Demo, intervalMs: number) {
    this.timer = setInterval(() => void this.tick(), intervalMs);
    this.timer.unref();
  }

  add(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write('retry: 1000\n\n');
    if (this.last) res.write(this.last);
    this.clients.add(res);
    req.on('close', () => this.clients.delete(res));
    void this.tick();
  }

  private async tick(): Promise<void> {
    if (this.running || this.clients.size === 0) return;
    this.running = true;
    try {
      const snap = await this.demo.snapshot();
      this.last = `data: ${JSON.stringify(snap)}\n\n`;
    } catch (err) {
      this.last = undefined;
      const e = toHttpError(err);
      this.send(`event: problem\ndata: ${JSON.stringify({ error: e.message })}\n\n`);
      return;
    } finally {
      this.running = false;
    }
    this.send(this.last);
  }

  private send(text: string): void {
    for (const c of this.clients) c.write(text);
  }

  close(): void {
    clearInterval(this.timer);
    for (const c of this.clients) c.end();
    this.clients.clear();
  }
}

async function handle(demo: Demo, push: SnapshotPush, dashboard: DashboardHandler | undefined, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? 'GET';
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname;
  if (path === '/api/info') {
    if (method !== 'GET') throw new MethodNotAllowed(['GET'], method, path);
    sendJson(res, 200, { prefix: demo.prefix, dashboard: dashboard ? `${DASHBOARD_PATH}/` : null });
    return;
  }
  if (dashboard && (path === DASHBOARD_PATH || path.startsWith(`${DASHBOARD_PATH}/`))) {
    dashboard(req, res);
    return;
  }
  const asset = STATIC[path];
  if (asset) {
    if (method !== 'GET' && method !== 'HEAD') throw new MethodNotAllowed(['GET'], method, path);
    const body = await readFile(join(PUBLIC_DIR, asset.file));
    res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'no-cache', 'content-length': body.length });
    res.end(method === 'HEAD' ? undefined : body);
    return;
  }
  if (path === '/api/stream') {
    if (method !== 'GET') throw new MethodNotAllowed(['GET'], method, path);
    push.add(req, res);
    return;
  }
  const allowed: string[] = [];
  for (const route of routes) {
    const params = matchPath(route.path, path);
    if (!params) continue;
    if (route.method !== method) { allowed.push(route.method); continue; }
    const value = await route.handle({ demo, req, params, query: url.searchParams });
    sendJson(res, 200, value);
    return;
  }
  if (allowed.length > 0) throw new MethodNotAllowed(allowed, method, path);
  throw new NotFound(`no route ${method} ${path}: see examples/signup-fanout/README.md for the API`);
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => { server.off('listening', onListening); reject(err); };
    const onListening = (): void => { server.off('error', onError); resolve(); };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/**
 * Serve the page, the JSON API and the live stream. Every failure of a request becomes a JSON
 * `{ error, code }` with a 4xx status (5xx only for the unexpected); nothing crashes the server.
 */
export async function startServer(demo: Demo, options: ServerOptions = {}): Promise<DemoServer> {
  const host = options.host ?? '127.0.0.1';
  const push = new SnapshotPush(demo, options.pushIntervalMs ?? 500);
  const dashboard = options.dashboardUrl
    ? createDashboard({ url: options.dashboardUrl, prefix: demo.prefix, basePath: DASHBOARD_PATH, allowActions: true, intervalMs: 1000 })
    : undefined;
  const server = createServer((req, res) => {
    req.on('error', () => res.destroy());
    handle(demo, push, dashboard, req, res).catch((err: unknown) => {
      const e = toHttpError(err);
      if (e.status >= 500) console.error(`[demo] ${req.method} ${req.url}: ${e.message}`);
      const headers: Record<string, string> = e instanceof MethodNotAllowed ? { allow: e.allow.join(', ') } : {};
      // Drain what the client still sends, so it reads our answer instead of a reset.
      req.resume();
      sendJson(res, e.status, { error: e.message, code: e.code }, { ...headers, ...(e.status === 413 ? { connection: 'close' } : {}) });
    });
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"error":"malformed HTTP request","code":"BAD_REQUEST"}');
    else socket.destroy();
  });
  let fellBack = false;
  const wanted = options.port ?? 3000;
  try {
    await listen(server, host, wanted);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || options.fallbackToFreePort === false || wanted === 0) {
      push.close();
      await dashboard?.close();
      throw err;
    }
    fellBack = true;
    await listen(server, host, 0);
  }
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${port}/`,
    host,
    port,
    fellBack,
    close() {
      closing ??= new Promise<void>((resolve) => {
        push.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }).then(() => dashboard?.close());
      return closing;
    },
  };
}
