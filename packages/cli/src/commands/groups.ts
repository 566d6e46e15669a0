import type { Command } from 'commander';
import { requireTopic } from '@streamfan/core/internal';
import { examples, type ActionFactory } from '../command-kit';
import { formatDuration } from '../format/duration';
import { formatTable } from '../format/table';
import { idDate } from '../format/time';

/** `streamfan groups <topic>`: the consumer groups of a topic. */
export function registerGroups(program: Command, act: ActionFactory): void {
  program
    .command('groups')
    .argument('<topic>', 'topic name')
    .description('list the groups of a topic: consumers, pending, lag, last-delivered id, oldest pending age, retrying, dead letters')
    .addHelpText('after', examples('streamfan groups user.signup', 'streamfan groups user.signup --json'))
    .action(
      act(async (ctx, topic: string) => {
        const sf = ctx.sf();
        await requireTopic(sf, topic);
        const now = Date.now();
        const groups = (await sf.groups(topic)).map((g) => ({
          ...g,
          oldestPendingAgeMs: g.oldestPendingId ? Math.max(0, now - idDate(g.oldestPendingId).getTime()) : null,
        }));
        ctx.print({ topic, groups }, () =>
          groups.length === 0
            ? `topic "${topic}" has no groups yet (a group is created by its first subscribe)`
            : formatTable(
                [
                  { header: 'GROUP', value: (g) => (g.retired ? `${g.group} (retired)` : g.group) },
                  { header: 'CONSUMERS', value: (g) => String(g.consumers), align: 'right' },
                  { header: 'PENDING', value: (g) => String(g.pending), align: 'right' },
                  {
                    header: 'LAG',
                    value: (g) => (g.retired ? '-' : g.lag === null ? '?' : g.lagIsLowerBound ? `≥${g.lag}` : String(g.lag)),
                    align: 'right',
                  },
                  { header: 'LAST-DELIVERED', value: (g) => g.lastDeliveredId },
                  { header: 'OLDEST-PENDING', value: (g) => formatDuration(g.oldestPendingAgeMs), align: 'right' },
                  { header: 'RETRYING', value: (g) => String(g.retrying), align: 'right' },
                  { header: 'DEAD', value: (g) => String(g.deadLetters), align: 'right' },
                ],
                groups,
              ),
        );
      }),
    );
}
