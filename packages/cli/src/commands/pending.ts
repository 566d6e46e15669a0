import type { Command } from 'commander';
import { lookupTopic, requireGroup, type PendingRow } from '@streamfan/core/internal';
import { duration, examples, positiveInt, type ActionFactory } from '../command-kit';
import { formatDuration } from '../format/duration';
import { laneEntryId, laneOf } from '../format/ids';
import { formatTable, truncate, type Column } from '../format/table';

interface PendingOptions {
  consumer?: string;
  minIdle?: number;
  limit: number;
  after?: string;
  payload?: boolean;
}

/** `streamfan pending <topic> <group>`: one page of a group's pending entries. */
export function registerPending(program: Command, act: ActionFactory): void {
  program
    .command('pending')
    .argument('<topic>', 'topic name')
    .argument('<group>', 'group name')
    .description(
      'list the pending entries of a group (delivered, not acknowledged): id, consumer, idle time, deliveries; pages, never loads them all',
    )
    .option('--consumer <name>', 'only entries held by this consumer')
    .option('--min-idle <duration>', 'only entries idle at least this long (e.g. 30s, 5m)', duration)
    .option('--limit <n>', 'entries per page', positiveInt, 100)
    .option(
      '--after <id>',
      'start after this entry id (the next page; p3:… on a partitioned topic, high:… on a prioritized one)',
      laneEntryId,
    )
    .option('--payload', "show each entry's payload")
    .addHelpText(
      'after',
      examples(
        'streamfan pending user.signup email',
        'streamfan pending user.signup email --min-idle 5m --consumer worker-1 --payload',
        'streamfan pending user.signup email --limit 1000 --after 1700000000000-0',
      ),
    )
    .action(
      act(async (ctx, topic: string, group: string, opts: PendingOptions) => {
        const sf = ctx.sf();
        await requireGroup(sf, topic, group);
        // A partitioned topic: every partition merged, ids p<i>:…; a prioritized one: every lane, ids <lane>:… outside the default lane.
        const t = await lookupTopic(sf, topic);
        const page = await sf.pendingPage(t, group, {
          consumer: opts.consumer,
          minIdleMs: opts.minIdle,
          limit: opts.limit,
          after: opts.after,
          payload: opts.payload,
        });
        ctx.print({ topic, group, entries: page.entries, next: page.next }, () => {
          if (page.entries.length === 0)
            return `no pending entries in group "${group}" of topic "${topic}"${opts.consumer || opts.minIdle || opts.after ? ' that match' : ''}`;
          const columns: Array<Column<PendingRow>> = [
            { header: 'ID', value: (e) => e.id },
            ...(t.priorities
              ? [
                  {
                    header: 'LANE',
                    value: (e: PendingRow) => (e as { priority?: string }).priority ?? laneOf(e.id) ?? t.defaultPriority ?? '-',
                  },
                ]
              : []),
            { header: 'CONSUMER', value: (e) => e.consumer },
            { header: 'IDLE', value: (e) => formatDuration(e.idleMs), align: 'right' },
            { header: 'DELIVERIES', value: (e) => String(e.deliveries), align: 'right' },
            { header: 'SOURCE', value: (e) => e.source },
          ];
          if (page.entries.some((e) => e.eventId !== e.id)) columns.push({ header: 'EVENT-ID', value: (e) => e.eventId });
          if (opts.payload) columns.push({ header: 'PAYLOAD', value: (e) => truncate(JSON.stringify(e.payload) ?? 'null', 80) });
          const more = page.next
            ? `\nmore: streamfan pending ${topic} ${group} --after ${page.next}${opts.limit !== 100 ? ` --limit ${opts.limit}` : ''}`
            : '';
          return formatTable(columns, page.entries) + more;
        });
      }),
    );
}
