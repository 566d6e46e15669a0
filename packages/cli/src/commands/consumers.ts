import type { Command } from 'commander';
import { lookupTopic, requireGroup } from '@streamfan/core/internal';
import { duration, examples, type ActionFactory } from '../command-kit';
import { formatDuration } from '../format/duration';
import { formatTable } from '../format/table';

/** `streamfan consumers <topic> <group>` and `streamfan consumers prune <topic> <group> --idle <d>`. */
export function registerConsumers(program: Command, act: ActionFactory): void {
  const consumers = program
    .command('consumers')
    .argument('<topic>', 'topic name')
    .argument('<group>', 'group name')
    .description(
      'list the consumers of a group: pending entries, idle time, inactive time (Redis 7.2+); `consumers prune` removes idle ones',
    )
    .addHelpText('after', examples('streamfan consumers user.signup email', 'streamfan consumers prune user.signup email --idle 1h'))
    .action(
      act(async (ctx, topic: string, group: string) => {
        const sf = ctx.sf();
        await requireGroup(sf, topic, group);
        const rows = await sf.consumers(await lookupTopic(sf, topic), group);
        ctx.print({ topic, group, consumers: rows }, () =>
          rows.length === 0
            ? `group "${group}" of topic "${topic}" has no consumers`
            : formatTable(
                [
                  { header: 'CONSUMER', value: (c) => c.name },
                  { header: 'PENDING', value: (c) => String(c.pending), align: 'right' },
                  { header: 'IDLE', value: (c) => formatDuration(c.idleMs), align: 'right' },
                  { header: 'INACTIVE', value: (c) => formatDuration(c.inactiveMs), align: 'right' },
                ],
                rows,
              ),
        );
      }),
    );

  consumers
    .command('prune')
    .argument('<topic>', 'topic name')
    .argument('<group>', 'group name')
    .requiredOption('--idle <duration>', 'remove consumers idle at least this long (e.g. 30m, 1h)', duration)
    .description('remove consumers that hold no pending entries and have been idle at least --idle (never one that holds entries)')
    .addHelpText('after', examples('streamfan consumers prune user.signup email --idle 1h'))
    .action(
      act(async (ctx, topic: string, group: string, opts: { idle: number }) => {
        const sf = ctx.sf();
        await requireGroup(sf, topic, group);
        const removed = await sf.pruneConsumers(await lookupTopic(sf, topic), group, opts.idle);
        ctx.print({ topic, group, idleMs: opts.idle, removed }, () =>
          removed.length === 0
            ? `no consumer of group "${group}" is idle ${formatDuration(opts.idle)} with nothing pending; nothing removed`
            : `removed ${removed.length} consumer${removed.length === 1 ? '' : 's'}: ${removed.join(', ')}`,
        );
      }),
    );
}
