/**
 * The dashboard in a plain Node HTTP server, under /ops/streamfan, next to the application's
 * own routes, behind the application's own login check (the `auth` hook).
 *
 * Run it (after `pnpm build`): `REDIS_URL=redis://127.0.0.1:6379 node --import tsx packages/dashboard/examples/node-http.ts`
 * Tested by packages/dashboard/test/mount.test.ts.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { Streamfan } from '@streamfan/core';
import { createDashboard, type DashboardHandler } from '@streamfan/dashboard';

/** The application's login check: here a session cookie; use your own. */
export function isAdmin(req: IncomingMessage): boolean {
  return /(?:^|;\s*)session=admin-session(?:;|$)/.test(req.headers.cookie ?? '');
}

/** The application's server, with the dashboard mounted under /ops/streamfan. */
export function nodeApp(sf: Streamfan, auth: (req: IncomingMessage) => boolean | Promise<boolean> = isAdmin): { server: Server; dashboard: DashboardHandler } {
  // Plain Node does not strip the mount path: tell the dashboard where it lives.
  const dashboard = createDashboard({ client: sf, basePath: '/ops/streamfan', allowActions: true, auth });
  const server = createServer((req, res) => {
    // The dashboard answers under its basePath and calls next() for anything else.
    dashboard(req, res, () => {
      res.writeHead(req.url === '/' ? 200 : 404, { 'content-type': 'text/plain' });
      res.end(req.url === '/' ? 'the application' : 'not found');
    });
  });
  server.on('close', () => void dashboard.close());
  return { server, dashboard };
}

if (require.main === module) {
  const sf = new Streamfan({ connection: process.env.REDIS_URL, prefix: process.env.PREFIX ?? 'streamfan' });
  const { server } = nodeApp(sf);
  server.listen(8080, '127.0.0.1', () => console.log('dashboard: http://127.0.0.1:8080/ops/streamfan/ (send the cookie session=admin-session)'));
  process.on('SIGINT', () => server.close(() => void sf.close()));
}
