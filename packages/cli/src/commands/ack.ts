import type { Command } from 'commander';
import { assertEntryIds, lookupTopic, requireGroup } from '@streamfan/core/internal';
import { examples, type ActionFactory } from '../command-kit';
import { formatTable } from '../format/table';

/** `streamfan ack <topic> <group> <id...>`: acknowledge pending entries by hand. */
export function registerAck(program: Command, act: ActionFactory): void {
  program
    .command('ack')
    .argument('<topic>', 'topic name')
    .argument('<group>', 'group name')
    .argument('<id...>', 'pending entry ids (see `streamfan pending`; p3:… on a partitioned topic, high:… in a priority lane)')
    .option('-y, --yes', 'do not ask for confirmation')
    .description(
      'repair by hand: acknowledge pending entries (they will not be handled again by this group); status becomes succeeded, marked ackedByHand; all or nothing',
    )
    .addHelpText(
      'after',
      examples('streamfan ack user.signup email 1700000000000-0', 'streamfan ack user.signup email 1700000000000-0 --yes --json'),
    )
    .action(
      act(async (ctx, topic: string, group: string, ids: string[], opts: { yes?: boolean }) => {
        const sf = ctx.sf();
        const t = await lookupTopic(sf, topic);
        if (t.partitions === undefined && t.priorities === undefined) assertEntryIds(ids); // p<i>: and lane ids are checked by ack
        await requireGroup(sf, topic, group);
        await ctx.confirm(
          `acknowledge ${ids.length} entr${ids.length === 1 ? 'y' : 'ies'} of group "${group}" in topic "${topic}" without handling ${ids.length === 1 ? 'it' : 'them'}`,
          opts.yes,
        );
        const acked = await sf.ack(t, group, ids);
        ctx.print(
          { topic, group, acked },
          () =>
            `acknowledged ${acked.length}\n` +
            formatTable(
              [
                { header: 'ID', value: (a) => a.id },
                { header: 'EVENT-ID', value: (a) => a.eventId },
                { header: 'SOURCE', value: (a) => a.source },
                { header: 'HELD-BY', value: (a) => a.previousOwner },
                { header: 'ATTEMPTS', value: (a) => String(a.attempts), align: 'right' },
              ],
              acked,
            ),
        );
      }),
    );
}
