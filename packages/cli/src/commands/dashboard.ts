import { InvalidArgumentError, type Command } from 'commander';
import { isLoopbackHost, startDashboard } from '@streamfan/dashboard';
import { duration, examples, type ActionFactory } from '../command-kit';
import { UsageError } from '../errors';

interface DashboardOptions {
  port: number;
  host: string;
  allowActions?: boolean;
  token?: string;
  traceUrl?: string;
  discoverEvery: number;
}

function port(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isInteger(n) || n > 65535)
    throw new InvalidArgumentError('expected a port from 0 to 65535 (0: any free port).');
  return n;
}

/** `--trace-url`: an http(s) URL with `{traceId}` where the trace id goes (as the dashboard requires). */
function traceUrl(text: string): string {
  if (!/^https?:\/\/\S+$/.test(text) || !text.includes('{traceId}'))
    throw new InvalidArgumentError(
      'expected an http(s) URL with {traceId} where the trace id goes, e.g. https://jaeger.example/trace/{traceId}.',
    );
  return text;
}

/** `streamfan dashboard`: serve the operations dashboard until interrupted. */
export function registerDashboard(program: Command, act: ActionFactory): void {
  program
    .command('dashboard')
    .description(
      'serve the operations dashboard in the browser until interrupted (Ctrl-C): topics, groups, pending entries, retries, dead letters, events, search. Read-only unless --allow-actions',
    )
    .option('--port <port>', 'port to listen on (0: any free port)', port, 7380)
    .option('--host <host>', 'address to listen on; beyond loopback it needs --token', '127.0.0.1')
    .option('--allow-actions', 'allow claim, ack, replay and purge from the page (each asks for confirmation)')
    .option('--token <token>', 'secret the page is opened with (?token=…); default $STREAMFAN_DASHBOARD_TOKEN')
    .option(
      '--trace-url <url>',
      "link an event's trace id (from its traceparent header) to your tracing UI: an http(s) URL with {traceId}, e.g. https://jaeger.example/trace/{traceId}",
      traceUrl,
    )
    .option(
      '--discover-every <duration>',
      'look for new topics (a SCAN over the prefix, in the background, whose cost grows with the number of keys) this often; known topics are read on every page',
      duration,
      5000,
    )
    .addHelpText(
      'after',
      examples(
        'streamfan dashboard',
        'streamfan dashboard --port 8080 --allow-actions',
        "streamfan dashboard --trace-url 'https://jaeger.example/trace/{traceId}' --discover-every 30s",
        'STREAMFAN_DASHBOARD_TOKEN=$(openssl rand -hex 16) streamfan dashboard --host 0.0.0.0',
      ),
    )
    .action(
      act(async (ctx, opts: DashboardOptions) => {
        const token = opts.token ?? (process.env.STREAMFAN_DASHBOARD_TOKEN || undefined);
        if (!isLoopbackHost(opts.host) && !token) {
          throw new UsageError(
            `refusing to serve the dashboard on ${opts.host} without a token: anyone who can reach it could read every payload. Give --token (or STREAMFAN_DASHBOARD_TOKEN), or listen on 127.0.0.1`,
          );
        }
        if (token !== undefined && token.length < 8)
          throw new UsageError('--token must be at least 8 characters (e.g. openssl rand -hex 16)');
        const sf = ctx.sf();
        // Fail now, with the CLI's explanation, when Redis cannot be reached.
        await sf.redis.ping();
        let running;
        try {
          running = await startDashboard({
            client: sf,
            host: opts.host,
            port: opts.port,
            allowActions: opts.allowActions === true,
            discoverEveryMs: opts.discoverEvery,
            ...(opts.traceUrl !== undefined ? { traceUrl: opts.traceUrl } : {}),
            ...(token ? { token } : {}),
          });
        } catch (err) {
          const e = err as NodeJS.ErrnoException;
          if (e.code === 'EADDRINUSE')
            throw new UsageError(`port ${opts.port} is in use on ${opts.host}: choose another with --port (0: any free port)`);
          throw err;
        }
        const open = token ? `${running.url}?token=${encodeURIComponent(token)}` : running.url;
        ctx.print(
          { url: running.url, prefix: sf.prefix, allowActions: opts.allowActions === true, token: token !== undefined },
          () =>
            `streamfan dashboard for prefix "${sf.prefix}" on ${open} (${opts.allowActions ? 'actions allowed' : 'read-only'}); Ctrl-C to stop`,
        );
        await new Promise<void>((resolve) => {
          process.once('SIGINT', () => resolve());
          process.once('SIGTERM', () => resolve());
        });
        await running.close();
      }),
    );
}
