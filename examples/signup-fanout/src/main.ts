/**
 * `pnpm demo`: start (or use) Redis, run the signup fan-out demo and serve its page.
 * Environment: REDIS_URL (use this Redis instead of a private redis-server), PORT (default
 * 3000, a free port when taken), HOST (default 127.0.0.1), DEMO_PREFIX (default sfdemo).
 */
import { Demo } from './demo';
import { DASHBOARD_PATH, startServer, type DemoServer } from './http/server';
import { RedisServerMissingError, startPrivateRedis, type PrivateRedis } from './redis-launcher';

function portFromEnv(): number {
  const raw = process.env.PORT;
  if (raw === undefined || raw === '') return 3000;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    console.error(`PORT must be a whole number from 0 to 65535, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  const port = portFromEnv();
  let redis: PrivateRedis | undefined;
  let demo: Demo | undefined;
  let server: DemoServer | undefined;
  let stoppingSince: number | undefined;
  const stop = async (code: number): Promise<never> => {
    if (stoppingSince !== undefined) {
      // Ctrl-C reaches the demo twice at once (from the terminal, and forwarded by pnpm): only a
      // second Ctrl-C a moment later means "force".
      if (performance.now() - stoppingSince < 1000) return new Promise<never>(() => undefined);
      process.exit(code);
    }
    stoppingSince = performance.now();
    console.log('\nstopping: closing workers, then Redis (Ctrl-C again to force)');
    await server?.close().catch(() => undefined);
    await demo?.close(1000).catch(() => undefined);
    await redis?.stop().catch(() => undefined);
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGHUP', () => void stop(0));
  // A demo keeps serving: report a stray rejection instead of dying on it.
  process.on('unhandledRejection', (err) => console.error(`[demo] unhandled: ${(err as Error)?.message ?? String(err)}`));

  try {
    let url = process.env.REDIS_URL;
    if (url) {
      console.log(`using Redis at ${url.replace(/\/\/[^@/]*@/, '//***@')} (REDIS_URL)`);
    } else {
      redis = await startPrivateRedis();
      url = redis.url;
      console.log(`started a private redis-server on port ${redis.port}, pid ${redis.pid ?? '?'} (stopped on exit; set REDIS_URL to use your own)`);
    }
    demo = new Demo({ connection: url, prefix: process.env.DEMO_PREFIX || 'sfdemo' });
    await demo.start();
    server = await startServer(demo, { host: process.env.HOST || '127.0.0.1', port, dashboardUrl: url });
    if (server.fellBack) console.log(`port ${port} is taken: using ${server.port} instead`);
    console.log(`\n  streamfan signup fan-out demo: ${server.url}`);
    console.log(`  operations dashboard of its prefix: ${new URL(`${DASHBOARD_PATH.slice(1)}/`, server.url).href}\n`);
    console.log(`keys live under the prefix "${demo.prefix}"; inspect them from another shell (after \`pnpm build\` once) with:\n  pnpm streamfan --url ${redis ? url : '$REDIS_URL'} --prefix ${demo.prefix} groups user.signup`);
    console.log('press Ctrl-C to stop');
  } catch (err) {
    if (err instanceof RedisServerMissingError) console.error(err.message);
    else console.error(`the demo could not start: ${(err as Error).message}`);
    await server?.close().catch(() => undefined);
    await demo?.close(0).catch(() => undefined);
    await redis?.stop().catch(() => undefined);
    process.exit(1);
  }
}

void main();
