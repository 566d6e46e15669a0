import { InvalidArgumentError, type Command } from 'commander';
import { duration, examples, positiveInt, type ActionFactory } from '../command-kit';
import { UsageError } from '../errors';
import { startMetricsServer } from '../metrics/server';

interface MetricsOptions {
  port: number;
  host: string;
  discoverEvery: number;
  memoryEvery: number;
  memoryScanPages: number;
  memory: boolean;
}

function port(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isInteger(n) || n > 65535)
    throw new InvalidArgumentError('expected a port from 0 to 65535 (0: any free port).');
  return n;
}

/** `streamfan metrics`: serve Prometheus metrics read from Redis until interrupted. */
export function registerMetrics(program: Command, act: ActionFactory): void {
  program
    .command('metrics')
    .description(
      'serve /metrics (Prometheus text format: lag, pending, oldest pending age, retrying, dead letters, consumers of every group; topic lengths; Redis memory by topic and kind, as `streamfan memory` reports it) and /healthz until interrupted (Ctrl-C). Reads Redis at most once a second, with bounded work per scrape',
    )
    .requiredOption('--port <port>', 'port to listen on (0: any free port)', port)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option(
      '--discover-every <duration>',
      'look for new topics (a SCAN over the prefix, whose cost grows with the number of keys) at most this often; known topics are read on every scrape',
      duration,
      30_000,
    )
    .option(
      '--memory-every <duration>',
      'read the memory figures (streamfan memory: a bounded SCAN, MEMORY USAGE on a sample of keys) at most this often; scrapes in between serve the last figures',
      duration,
      60_000,
    )
    .option(
      '--memory-scan-pages <n>',
      'most SCAN calls (COUNT 1000 each) per server for one memory reading, as streamfan memory --scan-pages',
      positiveInt,
      50,
    )
    .option('--no-memory', 'leave the memory metrics out')
    .addHelpText(
      'after',
      examples(
        'streamfan metrics --port 9464',
        'streamfan metrics --port 9464 --memory-every 5m --memory-scan-pages 200',
        'REDIS_URL=rediss://ops:secret@redis.internal:6380 streamfan --tls-ca ca.pem metrics --port 9464 --host 0.0.0.0',
      ),
    )
    .action(
      act(async (ctx, opts: MetricsOptions) => {
        const sf = ctx.sf();
        // Fail now, with the CLI's explanation, when Redis cannot be reached.
        await sf.redis.ping();
        let running;
        try {
          running = await startMetricsServer({
            client: sf,
            host: opts.host,
            port: opts.port,
            discoverEveryMs: opts.discoverEvery,
            memory: opts.memory ? { everyMs: opts.memoryEvery, maxScanPages: opts.memoryScanPages } : false,
          });
        } catch (err) {
          const e = err as NodeJS.ErrnoException;
          if (e.code === 'EADDRINUSE')
            throw new UsageError(`port ${opts.port} is in use on ${opts.host}: choose another with --port (0: any free port)`);
          throw err;
        }
        ctx.print(
          { url: `${running.url}metrics`, health: `${running.url}healthz`, prefix: sf.prefix },
          () => `streamfan metrics for prefix "${sf.prefix}" on ${running.url}metrics (health: ${running.url}healthz); Ctrl-C to stop`,
        );
        await new Promise<void>((resolve) => {
          process.once('SIGINT', () => resolve());
          process.once('SIGTERM', () => resolve());
        });
        await running.close();
      }),
    );
}
