import { Command, Option } from 'commander';
import { actionFactory } from './command-kit';
import type { Io } from './context';
import { registerAck } from './commands/ack';
import { registerClaim } from './commands/claim';
import { registerConsumers } from './commands/consumers';
import { registerDashboard } from './commands/dashboard';
import { registerDlq } from './commands/dlq';
import { registerGroups } from './commands/groups';
import { registerMemory } from './commands/memory';
import { registerMetrics } from './commands/metrics';
import { registerPending } from './commands/pending';
import { registerPublish } from './commands/publish';
import { registerRetire } from './commands/retire';
import { registerShow } from './commands/show';
import { registerTail } from './commands/tail';
import { registerTopics } from './commands/topics';
import { registerTrim } from './commands/trim';

/** Version printed by `streamfan --version`: the package's own (src/ and dist/ both sit one level below it). */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a JSON import would pull package.json into tsc's rootDir
export const VERSION: string = (require('../package.json') as { version: string }).version;

/**
 * The `streamfan` program. Errors are not printed or exited on by commander's defaults for
 * our own failures: {@link main} maps them to messages and exit codes.
 */
export function buildProgram(io: Io): Command {
  const program = new Command('streamfan');
  program
    .description('Inspect and repair streamfan topics on Redis Streams: groups, pending entries, dead letters')
    .version(VERSION)
    // The default's description never shows the URL itself: it may hold a password.
    .addOption(
      new Option('--url <url>', 'Redis URL (redis://, rediss:// for TLS; user:password@ for ACL)').default(
        process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
        '$REDIS_URL or redis://127.0.0.1:6379',
      ),
    )
    .addOption(
      new Option('--prefix <prefix>', 'key prefix of the application').default(
        process.env.STREAMFAN_PREFIX ?? 'streamfan',
        '$STREAMFAN_PREFIX or streamfan',
      ),
    )
    .option('--tls-ca <file>', 'CA certificate (PEM) to trust for rediss:// URLs')
    .option('--json', 'print one JSON document (stable field names) instead of tables')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s.replace(/\n$/, '')),
      writeErr: (s) => io.err(s.replace(/\n$/, '')),
      // A usage error is one line, like every other error, with the pointer to --help on it.
      outputError: (s, write) => write(`streamfan: ${s.trim()} (see --help for usage and examples)\n`),
    })
    .addHelpText(
      'after',
      `
Exit codes: 0 success, 1 failed operation (Redis unreachable, not found, not pending), 2 wrong usage.

Examples:
  $ streamfan topics
  $ streamfan groups user.signup
  $ streamfan pending user.signup email --min-idle 5m
  $ REDIS_URL=rediss://ops:secret@redis.internal:6380 streamfan --tls-ca ca.pem topics`,
    );
  const act = actionFactory(io);
  registerTopics(program, act);
  registerMemory(program, act);
  registerGroups(program, act);
  registerConsumers(program, act);
  registerPending(program, act);
  registerShow(program, act);
  registerTail(program, act);
  registerPublish(program, act);
  registerClaim(program, act);
  registerAck(program, act);
  registerDlq(program, act);
  registerTrim(program, act);
  registerRetire(program, act);
  registerDashboard(program, act);
  registerMetrics(program, act);
  return program;
}
