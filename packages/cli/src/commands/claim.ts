import type { Command } from 'commander';
import { assertEntryIds, lookupTopic, requireGroup, validateConsumerName } from '@streamfan/core/internal';
import { examples, type ActionFactory } from '../command-kit';
import { formatTable } from '../format/table';

/** `streamfan claim <topic> <group> <id...> --to <consumer>`: hand pending entries to a consumer. */
export function registerClaim(program: Command, act: ActionFactory): void {
  program
    .command('claim')
    .argument('<topic>', 'topic name')
    .argument('<group>', 'group name')
    .argument('<id...>', 'pending entry ids (see `streamfan pending`; p3:… on a partitioned topic, high:… in a priority lane)')
    .requiredOption('--to <consumer>', 'the consumer that gets the entries')
    .option('-y, --yes', 'do not ask for confirmation')
    .description(
      'repair by hand: give pending entries to another consumer (e.g. away from a stuck one); all or nothing, attempts are not counted',
    )
    .addHelpText(
      'after',
      examples(
        'streamfan claim user.signup email 1700000000000-0 --to worker-2',
        'streamfan claim user.signup email 1700000000000-0 1700000000001-0 --to worker-2 --yes',
      ),
    )
    .action(
      act(async (ctx, topic: string, group: string, ids: string[], opts: { to: string; yes?: boolean }) => {
        validateConsumerName(opts.to);
        const sf = ctx.sf();
        const t = await lookupTopic(sf, topic);
        if (t.partitions === undefined && t.priorities === undefined) assertEntryIds(ids); // p<i>: and lane ids are checked by claim
        await requireGroup(sf, topic, group);
        await ctx.confirm(
          `claim ${ids.length} entr${ids.length === 1 ? 'y' : 'ies'} of group "${group}" in topic "${topic}" for consumer "${opts.to}"`,
          opts.yes,
        );
        const claimed = await sf.claim(t, group, ids, opts.to);
        ctx.print(
          { topic, group, consumer: opts.to, claimed },
          () =>
            `claimed ${claimed.length} for ${opts.to}\n` +
            formatTable(
              [
                { header: 'ID', value: (c) => c.id },
                { header: 'SOURCE', value: (c) => c.source },
                { header: 'FROM', value: (c) => c.previousOwner },
                { header: 'DELIVERIES', value: (c) => String(c.deliveries), align: 'right' },
              ],
              claimed,
            ),
        );
      }),
    );
}
