import type { Command } from 'commander';
import { lookupTopic, parseLaneId, requireTopic, topicTail, type Topic } from '@streamfan/core/internal';
import { examples, positiveInt, type ActionFactory } from '../command-kit';
import { UsageError } from '../errors';
import { laneOf } from '../format/ids';
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
      'start after this id: $ for new events only, 0 for the whole stream (on a partitioned topic it applies to every partition; on a prioritized topic a lane id such as high:1700000000000-0, as tail prints them, starts every lane after that event: ids are times)',
      '$',
    )
    .option('--limit <n>', 'stop after this many events', positiveInt)
    .addHelpText(
      'after',
      examples(
        'streamfan tail user.signup',
        'streamfan tail user.signup --from 0 --limit 10 --json',
        'streamfan tail emails --from high:1700000000000-0',
      ),
    )
    .action(
      act(async (ctx, topic: string, opts: TailOptions) => {
        const sf = ctx.sf();
        await requireTopic(sf, topic);
        const t = await lookupTopic(sf, topic);
        const from = startPosition(t, opts.from);
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
          for await (const ev of topicTail(blocking, sf.prefix, t, { from, signal: stop.signal })) {
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

/**
 * Where `--from` starts. On a prioritized topic a lane id (`high:<id>`, `<default lane>:<id>`, as
 * tail prints them) is that event's position: every lane resumes after its stream id, since
 * stream ids are times and tail prints events in id order over the lanes. A lane the topic lacks,
 * or a lane id on a topic without lanes, is a usage error.
 */
export function startPosition(t: Topic<unknown>, from: string): string {
  if (from === '$' || /^\d+(-\d+)?$/.test(from)) return from;
  const lane = laneOf(from);
  if (lane === undefined) {
    if (/^p\d+:/.test(from))
      throw new UsageError(
        `--from ${JSON.stringify(from)}: give a stream id such as 1700000000000-0, 0 or $ (it applies to every partition)`,
      );
    throw new UsageError(
      `--from ${JSON.stringify(from)} is not a position: give $ (new events only), 0 (the whole stream) or an id such as 1700000000000-0${t.priorities ? ' or high:1700000000000-0' : ''}`,
    );
  }
  if (t.priorities === undefined)
    throw new UsageError(
      `--from ${JSON.stringify(from)}: topic "${t.name}" has no priority lanes; give a stream id such as 1700000000000-0, 0 or $`,
    );
  let local: string;
  try {
    local = parseLaneId(from, t).localId;
  } catch {
    throw new UsageError(
      `--from ${JSON.stringify(from)}: topic "${t.name}" has no lane "${lane}"; its lanes: ${t.priorities.join(', ')} (ids like ${t.priorities[0]!}:1700000000000-0)`,
    );
  }
  if (!/^\d+-\d+$/.test(local))
    throw new UsageError(
      `--from ${JSON.stringify(from)}: a delayed id has no position in a stream; give the event's id once delivered (streamfan show ${t.name} ${from})`,
    );
  return local;
}
