import type { Command } from 'commander';
import type { TopicRow } from '@streamfan/core';
import { examples, type ActionFactory } from '../command-kit';
import { laneSummary } from '../format/lanes';
import { formatTable } from '../format/table';

/** `streamfan topics`: every topic under the prefix. */
export function registerTopics(program: Command, act: ActionFactory): void {
  program
    .command('topics')
    .description(
      "list every topic under the prefix: length, first and last id, groups, delayed events; partitioned topics: their partition count (summed figures), each partition's length with --partitions; prioritized topics: their lanes (highest first, the default lane marked *), each lane's length with --lanes",
    )
    .option('--partitions', "also list each partition of a partitioned topic (its stream's length) under the topic's row")
    .option('--lanes', "also list each lane of a prioritized topic (its stream's length) under the topic's row")
    .addHelpText(
      'after',
      examples('streamfan topics', 'streamfan topics --partitions', 'streamfan topics --lanes', 'streamfan topics --prefix myapp --json'),
    )
    .action(
      act(async (ctx, cmdOpts: { partitions?: boolean; lanes?: boolean }) => {
        const topics = await ctx.sf().topics();
        const partitioned = topics.some((t) => t.partitions !== undefined);
        const prioritized = topics.some((t) => t.lanes !== undefined);
        // With --partitions, one row per partition under its topic (length only; ids stay per topic).
        const sub = (topic: string, length: number) => ({ topic, length, firstId: null, lastId: null, groups: 0, delayed: 0, sub: true });
        const rows: Array<(typeof topics)[number] & { sub?: boolean }> = topics.flatMap((t) => [
          t,
          ...(cmdOpts.partitions ? (t.partitionLengths ?? []).map((length, i) => sub(`  p${i}`, length)) : []),
          ...(cmdOpts.lanes ? laneLengths(t).map(([lane, length]) => sub(`  ${lane}`, length)) : []),
        ]);
        ctx.print({ prefix: ctx.opts.prefix, topics }, () =>
          topics.length === 0
            ? `no topics under prefix "${ctx.opts.prefix}"`
            : formatTable(
                [
                  { header: 'TOPIC', value: (t) => t.topic },
                  // Only when a partitioned topic is listed (the table of unpartitioned topics is unchanged).
                  ...(partitioned
                    ? [
                        {
                          header: 'PARTITIONS',
                          value: (t: (typeof rows)[number]) => (t.sub ? '' : t.partitions === undefined ? '-' : String(t.partitions)),
                          align: 'right' as const,
                        },
                      ]
                    : []),
                  // Only when a prioritized topic is listed: its lanes, highest first, the default lane marked *.
                  ...(prioritized
                    ? [{ header: 'LANES', value: (t: (typeof rows)[number]) => (t.sub ? '' : laneSummary(t.lanes, t.defaultLane)) }]
                    : []),
                  { header: 'LENGTH', value: (t) => String(t.length), align: 'right' },
                  { header: 'FIRST-ID', value: (t) => (t.sub ? '' : (t.firstId ?? '-')) },
                  { header: 'LAST-ID', value: (t) => (t.sub ? '' : (t.lastId ?? '-')) },
                  { header: 'GROUPS', value: (t) => (t.sub ? '' : String(t.groups)), align: 'right' },
                  { header: 'DELAYED', value: (t) => (t.sub ? '' : String(t.delayed)), align: 'right' },
                ],
                rows,
              ),
        );
      }),
    );
}

/** A prioritized topic's lanes with their stream lengths, highest lane first. */
function laneLengths(t: TopicRow): Array<[string, number]> {
  return (t.lanes ?? []).map((lane, i) => [lane, t.laneLengths?.[i] ?? 0]);
}
