/**
 * The dashboard in an Express app under /admin/queues, behind the app's own login check (the
 * `auth` hook), beside the app's JSON routes (`express.json()` runs before the dashboard: the
 * dashboard then takes the body Express parsed).
 *
 * Run it (after `pnpm build`): `REDIS_URL=redis://127.0.0.1:6379 node --import tsx packages/dashboard/examples/express.ts`
 * Tested by packages/dashboard/test/mount.test.ts.
 */
import type { IncomingMessage } from 'node:http';
import express, { type Express } from 'express';
import { Streamfan } from '@streamfan/core';
import { createDashboard, type DashboardHandler } from '@streamfan/dashboard';
import { isAdmin } from './node-http';

/** An Express app with the dashboard mounted under /admin/queues. */
export function expressApp(sf: Streamfan, auth: (req: IncomingMessage) => boolean | Promise<boolean> = isAdmin): { app: Express; dashboard: DashboardHandler } {
  const app = express();
  app.use(express.json());
  app.get('/', (_req, res) => { res.type('text').send('the application'); });
  // Express strips '/admin/queues' from req.url itself (and keeps req.originalUrl): no basePath.
  const dashboard = createDashboard({ client: sf, allowActions: true, auth });
  app.use('/admin/queues', dashboard);
  return { app, dashboard };
}

if (require.main === module) {
  const sf = new Streamfan({ connection: process.env.REDIS_URL, prefix: process.env.PREFIX ?? 'streamfan' });
  const { app, dashboard } = expressApp(sf);
  const server = app.listen(8080, '127.0.0.1', () => console.log('dashboard: http://127.0.0.1:8080/admin/queues/ (send the cookie session=admin-session)'));
  process.on('SIGINT', () => server.close(() => void dashboard.close().then(() => sf.close())));
}
