import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { NotFoundError, lookupTopic, requireTopic, type PublishOptions } from '@streamfan/core/internal';
import { collect, duration, examples, type ActionFactory } from '../command-kit';
import { UsageError } from '../errors';
import { parseJsonInput } from '../format/json-input';

interface PublishCliOptions {
  file?: string;
  header?: string[];
  delay?: number;
  key?: string;
  priority?: string;
  create?: boolean;
}

/** `streamfan publish <topic> [json]`: publish one event from an argument, a file or stdin. */
export function registerPublish(program: Command, act: ActionFactory): void {
  program
    .command('publish')
    .argument('<topic>', 'topic name')
    .argument('[json]', 'the payload as JSON (or use --file, or pipe it on stdin)')
    .description('publish one event (JSON payload from the argument, --file or stdin)')
    .option('--file <path>', 'read the JSON payload from this file')
    .option('--header <key=value>', 'a header (repeatable)', collect)
    .option('--delay <duration>', 'deliver after this long (e.g. 30s, 5m)', duration)
    .option('--key <idempotencyKey>', 'idempotency key: a repeat publish with it returns the first id')
    .option('--priority <lane>', "a prioritized topic's lane (e.g. high); without it the topic's default lane (see `streamfan topics`)")
    .option('--create', 'publish even if the topic does not exist yet (creates it); without it a misspelt topic is refused')
    .addHelpText(
      'after',
      examples(
        `streamfan publish user.signup '{"userId":"u1"}'`,
        `streamfan publish user.signup.v2 '{"userId":"u1"}' --create`,
        'streamfan publish user.signup --file event.json --header traceId=abc',
        `echo '{"userId":"u2"}' | streamfan publish user.signup --delay 30s`,
        `streamfan publish emails '{"to":"ada@example.com"}' --priority high`,
      ),
    )
    .action(
      act(async (ctx, topic: string, json: string | undefined, opts: PublishCliOptions) => {
        if (json !== undefined && opts.file)
          throw new UsageError('give the payload either as the <json> argument or with --file, not both');
        let text: string;
        let source: string;
        if (json !== undefined) {
          text = json;
          source = 'the <json> argument';
        } else if (opts.file) {
          try {
            text = readFileSync(opts.file, 'utf8');
          } catch (err) {
            throw new UsageError(`cannot read --file ${opts.file}: ${(err as Error).message}`);
          }
          source = `file ${opts.file}`;
        } else if (!ctx.io.stdinIsTty) {
          text = await ctx.io.readStdin();
          source = 'stdin';
        } else {
          throw new UsageError('no payload: give it as the <json> argument, with --file <path>, or pipe it on stdin');
        }
        const payload = parseJsonInput(text, source);
        const options: PublishOptions = {};
        if (opts.header) {
          options.headers = {};
          for (const h of opts.header) {
            const cut = h.indexOf('=');
            if (cut <= 0) throw new UsageError(`--header ${JSON.stringify(h)} is not key=value, e.g. --header traceId=abc`);
            options.headers[h.slice(0, cut)] = h.slice(cut + 1);
          }
        }
        if (opts.delay !== undefined) options.delayMs = opts.delay;
        if (opts.key !== undefined) options.idempotencyKey = opts.key;
        if (opts.priority !== undefined) {
          if (!/^[a-z][a-z0-9_-]{0,15}$/.test(opts.priority) || /^p\d+$/.test(opts.priority))
            throw new UsageError(
              `--priority ${JSON.stringify(opts.priority)} is not a lane name: lanes are 1-16 of a-z 0-9 _ -, starting with a letter (see \`streamfan topics\` for a topic's lanes)`,
            );
          options.priority = opts.priority;
        }
        const sf = ctx.sf();
        if (!opts.create) {
          // A typo would otherwise create a topic nobody reads: only --create may make a new one.
          try {
            await requireTopic(sf, topic);
          } catch (err) {
            if (err instanceof NotFoundError)
              throw new NotFoundError(`${err.message}. Nothing was published: pass --create to publish to a new topic.`);
            throw err;
          }
        }
        // The topic as recorded (its lanes or partitions), so --priority is checked against its lanes.
        const id = await sf.publish(await lookupTopic(sf, topic), payload, options);
        ctx.print({ topic, id }, () => id);
      }),
    );
}
