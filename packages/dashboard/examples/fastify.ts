/**
 * The dashboard in a Fastify app under /admin/queues, behind the app's own login check (the
 * `auth` hook). Fastify routes every request under the prefix to the dashboard's Node handler
 * (`reply.hijack()`, then the raw request and response). The routes live in their own plugin
 * scope whose body parser leaves the body unread, so the dashboard reads (and size-limits) its
 * own JSON; the rest of the app keeps Fastify's parsers.
 *
 * Run it (after `pnpm build`): `REDIS_URL=redis://127.0.0.1:6379 node --import tsx packages/dashboard/examples/fastify.ts`
 * Tested by packages/dashboard/test/mount.test.ts.
 */
import type { IncomingMessage } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Streamfan } from '@streamfan/core';
import { createDashboard, type DashboardHandler } from '@streamfan/dashboard';
import { isAdmin } from './node-http';

/** A Fastify app with the dashboard mounted under /admin/queues. */
export async function fastifyApp(sf: Streamfan, auth: (req: IncomingMessage) => boolean | Promise<boolean> = isAdmin): Promise<{ app: FastifyInstance; dashboard: DashboardHandler }> {
  const app = Fastify();
  app.get('/', async () => 'the application');
  // Fastify routes keep the full path: tell the dashboard where it lives.
  const dashboard = createDashboard({ client: sf, basePath: '/admin/queues', allowActions: true, auth });
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
    const handle = (req: FastifyRequest, reply: FastifyReply): void => {
      reply.hijack();
      dashboard(req.raw, reply.raw);
    };
    scope.all('/admin/queues', handle);
    scope.all('/admin/queues/*', handle);
  });
  app.addHook('onClose', async () => { await dashboard.close(); });
  return { app, dashboard };
}

if (require.main === module) {
  const sf = new Streamfan({ connection: process.env.REDIS_URL, prefix: process.env.PREFIX ?? 'streamfan' });
  void fastifyApp(sf).then(async ({ app }) => {
    await app.listen({ port: 8080, host: '127.0.0.1' });
    console.log('dashboard: http://127.0.0.1:8080/admin/queues/ (send the cookie session=admin-session)');
    process.on('SIGINT', () => void app.close().then(() => sf.close()));
  });
}
