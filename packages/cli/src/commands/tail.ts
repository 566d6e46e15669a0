import type { Command } from 'commander';
import { lookupTopic, requireTopic, topicTail } from '@streamfan/core/internal';
import { examples, positiveInt, type ActionFactory } from '../command-kit';
import { truncate } from '../format/table';

interface TailOptions {
  from: string;
  limit?: number;
}

/** `streamfan tail <topic>`: print new events until interrupted. */
export function registerTail(program: Command, act: ActionFactory): void {
  program
    .command('tail')
    .argument('<topic>', 'topic name')
    .description(
      'print events as they arrive until interrupted (Ctrl-C); reads only, changes nothing. With --json, one JSON object per line',
    )
    .option(
      '--from <id>',
      'start after this id: $ for new events only, 0 for the whole stream (on a partitioned topic it applies to every partition)',
      '$',
    )
    .option('--limit <n>', 'stop after this many events', positiveInt)
    .addHelpText('after', examples('streamfan tail user.signup', 'streamfan tail user.signup --from 0 --limit 10 --json'))
    .action(
      act(async (ctx, topic: string, opts: TailOptions) => {
        const sf = ctx.sf();
        await requireTopic(sf, topic);
        const t = await lookupTopic(sf, topic);
        const blocking = sf.redis.duplicate();
        blocking.on('error', () => undefined);
        ctx.extraConnections.push(blocking);
        const stop = new AbortController();
        const onSignal = () => {
          stop.abort();
          blocking.disconnect();
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          let n = 0;
          // A partitioned topic: every partition, merged by id; ids p<i>:…, with each event's key.
          for await (const ev of topicTail(blocking, sf.prefix, t, { from: opts.from, signal: stop.signal })) {
            if (ctx.opts.json) ctx.io.out(JSON.stringify(ev));
            else
              ctx.io.out(
                `${ev.id}  ${ev.publishedAt.toISOString()}  ${ev.key !== undefined ? `key=${JSON.stringify(ev.key)}  ` : ''}${truncate(JSON.stringify(ev.payload) ?? 'null', 200)}${Object.keys(ev.headers).length > 0 ? `  headers=${JSON.stringify(ev.headers)}` : ''}`,
              );
            if (opts.limit !== undefined && ++n >= opts.limit) break;
          }
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      }),
    );
}
